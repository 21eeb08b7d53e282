#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time (default 20 s each) and
# prints TAP; exits non-zero if any target finds a crash, or none ran.
# Corpus: $FUZZ_BUILD/corpus-<target>/ (grows, written by libFuzzer) plus
# fuzz/seeds/<target>/ (read-only seeds from fuzz/make_seeds.sh and
# regression inputs). A crashing input is saved as
# $FUZZ_BUILD/<target>-crash-<sha1>; replay it with `$FUZZ_BUILD/<target> FILE`.
# Usage: scripts/fuzz.sh [SECONDS]     (ONLY=pattern runs a subset)
set -u
cd "$(dirname "$0")/.." || exit 2
secs=${1:-20}
dir=${FUZZ_BUILD:-build-fuzz}
only=${ONLY:-}
fail=0; pass=0; n=0
for f in "$dir"/fuzz_*; do
  if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
  name=$(basename "$f")
  if [ -n "$only" ] && [[ "$name" != *$only* ]]; then continue; fi
  n=$((n + 1))
  corpus="$dir/corpus-$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$name" ] && seeds=("fuzz/seeds/$name")
  # The first corpus dir receives new inputs; the seeds dir is only read.
  if timeout -k 10 $((secs + 60)) "$f" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 \
       -timeout=25 -print_final_stats=1 -artifact_prefix="$dir/$name-" "$corpus" "${seeds[@]}" \
       >"$dir/$name.log" 2>&1; then
    pass=$((pass + 1))
    runs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$dir/$name.log" | awk '{print $2}')
    cov=$(grep -Eo 'cov: [0-9]+' "$dir/$name.log" | tail -1 | awk '{print $2}')
    echo "ok $n - $name (${runs:-?} runs, cov ${cov:-?}${seeds:+, seeded})"
  else
    fail=$((fail + 1)); echo "not ok $n - $name (log: $dir/$name.log)"; tail -40 "$dir/$name.log"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$n" -gt 0 ]
