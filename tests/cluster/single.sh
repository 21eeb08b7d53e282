#!/usr/bin/env bash
# A one-validator consortium (the README's first walkthrough) survives
# restarts: the node commits, stops on SIGTERM, restarts and commits again,
# three times. Regression: a restarted sole leader whose high QC certified a
# block it had persisted but not committed could not fetch that block from
# any peer and stalled for ever. TAP output. Needs $DANSHARI_BIN, curl, jq.
set -u
TAG=single
. "$(dirname "$0")/../lib/cluster.sh"

if [ ! -x "$BIN" ] || ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
	echo "1..1"
	echo "not ok 1 - danshari binary ($BIN), curl or jq missing"
	exit 1
fi
BASE=$(pick_ports 2)
[ "$BASE" != 0 ] || { echo "1..1"; echo "not ok 1 - no free port range found"; exit 1; }
echo "# base port $BASE, dir $T"
API="http://127.0.0.1:$((BASE + 1))"
height() { curl -s --max-time 3 "$API/v1/status" | jq -r '.height // empty' 2>/dev/null; }
at_least() { local h; h=$(height); [ -n "$h" ] && [ "$h" -ge "$1" ]; }
start() {
	"$BIN" node --home "$T/c/node0" >>"$T/log" 2>&1 &
	PIDS[0]=$!
}
stop() {
	kill -TERM "${PIDS[0]}" 2>/dev/null
	timeout 20 tail --pid="${PIDS[0]}" -f /dev/null 2>/dev/null || return 1
	wait "${PIDS[0]}" 2>/dev/null
	local rc=$?
	PIDS[0]=""
	return $rc
}

echo "1..7"
ds init --nodes 1 --dir "$T/c" --base-port "$BASE" --chain-id single-test >"$T/init.out" 2>&1
check "init --nodes 1" [ -f "$T/c/genesis.json" ]
start
check "the sole validator commits (height >= 3)" wait_until 30 at_least 3
for r in 1 2 3; do
	sleep 0.$((RANDOM % 9 + 1))
	h=$(height)
	if stop && [ -n "$h" ]; then
		start
		if wait_until 30 at_least $((h + 3)); then
			ok "restart $r: commits again after the stop at height $h"
		else
			nok "restart $r: stuck after the stop at height $h (now $(height))"
			log_tail "$T/log" 15
		fi
	else
		nok "restart $r: the node did not stop cleanly"
	fi
done
stop
rc=$?
ds verify-chain --home "$T/c/node0" >"$T/verify.out" 2>&1
vrc=$?
check "it stops cleanly and verify-chain accepts the chain ($(tail -1 "$T/verify.out"))" [ $rc = 0 ] && [ $vrc = 0 ]
check "no stall was logged as a refused block" sh -c "! grep -q 'block refused' '$T/log'"

[ $fails = 0 ]
