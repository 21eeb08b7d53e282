# Shared preamble for cluster tests (sourced, not run): the binary, a temp
# dir, every started PID killed and reaped on exit (even on failure), TAP
# helpers. Set TAG before sourcing; KEEP=1 keeps the temp dir.
BIN=${DANSHARI_BIN:-$PWD/build/danshari}
N=4
T=$(mktemp -d "${TMPDIR:-/tmp}/ds-${TAG:-cluster}-XXXXXX") || exit 1
declare -a PIDS
cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	if [ "${KEEP:-}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else nok "$what"; fi
}
ds() { timeout -k 2 20 "$BIN" "$@"; }
