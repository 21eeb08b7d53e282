#!/usr/bin/env bash
# A one-validator consortium (the README's first walkthrough) survives
# restarts: the node commits, stops on SIGTERM, restarts and commits again,
# three times. Regression: a restarted sole leader whose high QC certified a
# block it had persisted but not committed could not fetch that block from
# any peer and stalled for ever. TAP output. Needs $DANSHARI_BIN, curl, jq.
set -u
TAG=single
. "$(dirname "$0")/../lib/cluster.sh"

pick_base 2 || exit 1
base_port_api
at_least() { all_at_least "$1" 0; }
echo "1..7"
ds init --nodes 1 --dir "$T/c" --base-port "$BASE" --chain-id single-test >"$T/init.out" 2>&1
check "init --nodes 1" [ -f "$T/c/genesis.json" ]
start 0
check "the sole validator commits (height >= 3)" wait_until 30 at_least 3
for r in 1 2 3; do
	sleep 0.$((RANDOM % 9 + 1))
	h=$(height 0)
	if stop 0 && [ -n "$h" ]; then
		start 0
		if wait_until 30 at_least $((h + 3)); then
			ok "restart $r: commits again after the stop at height $h"
		else
			nok "restart $r: stuck after the stop at height $h (now $(height 0))"
			log_tail "$T/log0" 15
		fi
	else
		nok "restart $r: the node did not stop cleanly"
	fi
done
stop 0
rc=$?
ds verify-chain --home "$T/c/node0" >"$T/verify.out" 2>&1
vrc=$?
check "it stops cleanly and verify-chain accepts the chain ($(tail -1 "$T/verify.out"))" [ $rc = 0 ] && [ $vrc = 0 ]
check "no stall was logged as a refused block" sh -c "! grep -q 'block refused' '$T/log0'"

[ $fails = 0 ]
