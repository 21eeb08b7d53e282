#!/usr/bin/env bash
# Crash safety: a real process commits signed blocks in a loop and is killed
# with SIGKILL at random moments; after each kill the store is reopened and
# checked: every block reported committed is there with the reported state
# root, the tip is whole (nothing half-applied), and every few kills (and at
# the end) verify-chain replays the whole chain from genesis.
# Env: DANSHARI_BIN (required), DS_SEED, CRASH_KILLS (default 50).
set -u
BIN=${DANSHARI_BIN:?set DANSHARI_BIN to the danshari binary}
KILLS=${CRASH_KILLS:-50}
SEED=${DS_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
echo "# seed DS_SEED=$SEED kills=$KILLS"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-crash.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
home=$tmp/node
n=0
fail=0
maxh=0
reported=()
echo "1..$((KILLS + KILLS / 10 + 2))"
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }

t_end=$((SECONDS + 600)) # hard bound on the whole run
for i in $(seq 1 "$KILLS"); do
  out=$tmp/out.$i
  "$BIN" debug commit-loop --home "$home" --blocks 1000000 --txs $((1 + RANDOM % 40)) \
    --keys 500 --seed $((SEED * 1000 + i)) --retain 4 >"$out" 2>"$tmp/err" &
  pid=$!
  # 20..420 ms: sometimes during open, mostly mid-commit.
  sleep "$(printf '0.%03d' $((20 + RANDOM % 400)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
  last=$(grep '^committed ' "$out" | tail -1)
  h=0; root=
  if [ -n "$last" ]; then
    h=$(echo "$last" | cut -d' ' -f2)
    root=$(echo "$last" | cut -d' ' -f3)
    reported+=("$h:$root")
    [ "$h" -gt "$maxh" ] && maxh=$h
  fi
  args=(--home "$home" --min-height "$maxh")
  [ -n "$root" ] && args+=(--root "$h:$root")
  if msg=$(timeout 60 "$BIN" debug check "${args[@]}" 2>&1); then
    ok "kill $i: reported $h, reopened: $msg"
  else
    notok "kill $i: reported $h: $msg"
  fi
  if [ $((i % 10)) -eq 0 ]; then
    if msg=$(timeout 120 "$BIN" verify-chain --home "$home" 2>&1); then
      ok "verify-chain after kill $i: $msg"
    else
      notok "verify-chain after kill $i: $msg"
    fi
  fi
  if [ $SECONDS -gt $t_end ]; then
    echo "# time bound reached after $i kills"
    break
  fi
done

bad=
for r in "${reported[@]}"; do
  if ! timeout 60 "$BIN" debug check --home "$home" --root "$r" >/dev/null 2>&1; then bad="$bad $r"; fi
done
if [ -z "$bad" ]; then ok "all ${#reported[@]} reported roots still stored"; else notok "reported roots lost:$bad"; fi
if msg=$(timeout 120 "$BIN" verify-chain --home "$home" 2>&1); then
  ok "final verify-chain: $msg (highest reported $maxh)"
else
  notok "final verify-chain: $msg"
fi
exit $fail
