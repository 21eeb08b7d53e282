#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time (default 20 s each) and
# prints TAP; exits non-zero if any target finds a crash.
set -u
secs=${1:-20}
dir=${FUZZ_BUILD:-build-fuzz}
fail=0; pass=0; n=0
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  n=$((n + 1))
  name=$(basename "$f")
  corpus="$dir/corpus-$name"
  mkdir -p "$corpus"
  if timeout -k 10 $((secs + 60)) "$f" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$dir/$name-" "$corpus" >"$dir/$name.log" 2>&1; then
    pass=$((pass + 1)); echo "ok $n - $name ($(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$dir/$name.log" | awk '{print $2}') runs)"
  else
    fail=$((fail + 1)); echo "not ok $n - $name (log: $dir/$name.log)"; tail -30 "$dir/$name.log"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$n" -gt 0 ]
