#!/usr/bin/env bash
# Runs every benchmark binary and prints its figures. Figures only: nothing
# here passes or fails on time. Output is also kept in BUILD/bench.txt.
set -u
build=${1:-build}
out="$build/bench.txt"
: >"$out"
echo "# danshari benchmarks — $(date -u +%Y-%m-%dT%H:%M:%SZ) — $(nproc) cores — $(uname -r)" | tee -a "$out"
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "## $(basename "$b")" | tee -a "$out"
  timeout 900 "$b" 2>&1 | tee -a "$out"
done
for s in bench/*.sh; do
  [ -f "$s" ] || continue
  echo "## $(basename "$s" .sh)" | tee -a "$out"
  DANSHARI_BIN="$PWD/$build/danshari" timeout 900 bash "$s" 2>&1 | tee -a "$out"
done
echo "# figures saved in $out"
