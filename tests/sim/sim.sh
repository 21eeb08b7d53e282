#!/usr/bin/env bash
# Consensus simulator suite: 1,000 seeds x 200 rounds (800 with n=4, 200 with
# n=7), a few seeds with real Ed25519, 400 seeds with epoch changes (end
# block, suffix blocks, a new core per epoch, block sync across epochs), and
# mutation checks showing that the checker catches deliberately broken cores
# and a broken epoch rule. TAP: one line per batch; a failing batch names its
# first failing seed and the replay command.
set -u
sim="${DS_BUILD:-build}/sim"
if [ ! -x "$sim" ]; then
  echo "1..1"
  echo "not ok 1 - simulator binary $sim missing (make $sim)"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-sim-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
fails=0
batch() { # description expect(pass|fail) sim-args...
  local what=$1 expect=$2; shift 2
  n=$((n + 1))
  local out="$tmp/out.$n"
  timeout -k 5 600 "$sim" "$@" >"$out" 2>&1
  local rc=$?
  local summary first
  summary=$(grep '^seeds=' "$out" | tail -1)
  first=$(grep -m1 '^FAIL' "$out")
  if [ "$expect" = pass ]; then
    if [ $rc -eq 0 ]; then
      echo "ok $n - $what: $summary"
    else
      echo "not ok $n - $what (rc=$rc): ${first:-no summary} ${summary}"
      fails=$((fails + 1))
    fi
  else
    # --expect-fail: exit 0 means the checker caught the mutation.
    if [ $rc -eq 0 ] && [ -n "$first" ]; then
      echo "ok $n - $what caught: $first"
    else
      echo "not ok $n - $what not caught (rc=$rc): $summary"
      fails=$((fails + 1))
    fi
  fi
}
echo "1..20"
for b in 0 1 2 3 4 5 6 7; do
  f=$((1 + b * 100))
  batch "n=4 seeds $f..$((f + 99)) x 200 rounds" pass --nodes 4 --rounds 200 --seeds 100 --first $f
done
for b in 0 1; do
  f=$((1 + b * 100))
  batch "n=7 seeds $f..$((f + 99)) x 200 rounds" pass --nodes 7 --rounds 200 --seeds 100 --first $f
done
batch "n=4 Ed25519 seeds 1..4 x 200 rounds" pass --nodes 4 --rounds 200 --seeds 4 --first 1 --ed25519
batch "n=7 Ed25519 seed 1 x 100 rounds" pass --nodes 7 --rounds 100 --seeds 1 --first 1 --ed25519
batch "mutation commit-1chain (n=4)" fail --nodes 4 --rounds 200 --seeds 1000 --mutate commit-1chain --expect-fail
batch "mutation commit-1chain, agreement check only (n=4)" fail --nodes 4 --rounds 200 --seeds 1000 --mutate commit-1chain --no-proof-check --expect-fail
batch "mutation no-persist (n=4)" fail --nodes 4 --rounds 200 --seeds 1000 --mutate no-persist --expect-fail
batch "n=4 epoch every 15, seeds 1..200 x 200 rounds" pass --nodes 4 --rounds 200 --seeds 200 --first 1 --epoch-every 15
batch "n=7 epoch every 10, seeds 1..100 x 200 rounds" pass --nodes 7 --rounds 200 --seeds 100 --first 1 --epoch-every 10
batch "n=4 epoch every 2, seeds 1001..1100 x 200 rounds" pass --nodes 4 --rounds 200 --seeds 100 --first 1001 --epoch-every 2
batch "mutation epoch-no-suffix (n=4, epoch every 15)" fail --nodes 4 --rounds 200 --seeds 1000 --epoch-every 15 --mutate epoch-no-suffix --expect-fail
batch "mutation epoch-no-suffix, agreement check only (n=4)" fail --nodes 4 --rounds 200 --seeds 1000 --epoch-every 15 --mutate epoch-no-suffix --no-epoch-check --catch "two honest nodes committed different blocks" --expect-fail
[ $fails -eq 0 ]
