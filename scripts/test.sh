#!/usr/bin/env bash
# Runs danshari's test suites and prints one closing line "N passed, N failed, N skipped".
# Every suite prints TAP ("ok", "not ok", "# SKIP"); cmocka binaries are told to.
# A suite that exits non-zero without reporting a failing test counts as one failure
# (a crash, a sanitizer report or a timeout must never pass silently).
# Usage: scripts/test.sh unit|all BUILD_DIR        (ONLY=pattern runs a subset)
set -u
mode=${1:-all}
build=${2:-build}
only=${ONLY:-}
pass=0; fail=0; skip=0
failed_suites=()
logdir="$build/test-logs"
mkdir -p "$logdir"

run_suite() { # name timeout_s command...
  local name=$1 tmo=$2; shift 2
  if [ -n "$only" ] && [[ "$name" != *$only* ]]; then return; fi
  local log="$logdir/${name//\//_}.log"
  local t0=$SECONDS
  CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 10 "$tmo" "$@" >"$log" 2>&1
  local rc=$?
  local p f s
  p=$(grep -cE '^ok ' "$log" | tr -d ' ')
  s=$(grep -cE '^ok .*# ?(SKIP|skip)' "$log" | tr -d ' ')
  f=$(grep -cE '^not ok ' "$log" | tr -d ' ')
  p=$((p - s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
    echo "not ok - $name exited with status $rc$([ $rc -eq 124 ] && echo ' (timeout)')" >>"$log"
  fi
  if [ $((p + f + s)) -eq 0 ]; then
    f=1
    echo "not ok - $name ran no test" >>"$log"
  fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  printf '%-28s %4d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
  if [ "$f" -gt 0 ]; then
    failed_suites+=("$name")
    echo "----- $name (log: $log) -----"
    grep -E '^not ok|^# |ERROR|error|Assert|assert|Sanitizer|runtime error' "$log" | head -40
    echo "-----"
  fi
}

for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  run_suite "unit/$(basename "$t")" 900 "$t"
done

if [ "$mode" = all ]; then
  export DANSHARI_BIN="$PWD/$build/danshari" DS_BUILD="$PWD/$build"
  for s in tests/cli/*.sh tests/sim/*.sh tests/chain/*.sh tests/cluster/*.sh tests/e2e/*.sh; do
    [ -f "$s" ] || continue
    run_suite "$(basename "$(dirname "$s")")/$(basename "$s" .sh)" 1500 bash "$s"
  done
  # Docs stay true: links resolve, every command they show exists.
  run_suite "docs/check_docs" 120 bash scripts/check_docs.sh
fi

[ ${#failed_suites[@]} -gt 0 ] && echo "failed suites: ${failed_suites[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
