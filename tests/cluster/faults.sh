#!/usr/bin/env bash
# Cluster faults on real processes: 4 nodes on loopback commit under a
# steady load; kill -9 one: commits continue; kill a second: commits stop
# and the survivors never disagree on a block; restart both: they catch up
# and commits resume; all four then agree on every block hash.
# TAP output. Needs $DANSHARI_BIN and curl. Every wait is bounded; every
# process started here is killed by PID on exit, whatever happens.
set -u
TAG=faults
. "$(dirname "$0")/../lib/cluster.sh"
NET=$T/net
PIDS=("" "" "" "" "") # nodes 0..3, then the load generator
LOAD=4
on_exit() { on_exit_net_logs; }

# Why the restarts below are careful (a run once saw both restarted nodes
# stay silent and node3's restarted process exit 1): a killed node's ports
# are unbound while it is down, and the load generator, the peers and curl
# keep dialling them. With ports inside the ephemeral range one of those
# connections can be given the dead node's port as its own local port (or
# connect to itself), and the node cannot bind it on restart. So the ports
# come from outside that range (pick_ports), a restart waits until the old
# process is gone and its ports are free, logs are appended with a marker
# per start, a node that exits on its own is reported with its status and
# log at once, and stop_node still reports that status.

# --- helpers ----------------------------------------------------------------
all_height_ge() { local i; for i in ${NODESET}; do height_ge "$i" "$1" || return 1; done; }
# Block hashes at heights 1..H of node i, one per line (curl reuses one connection).
hashes() { curl -s -m 60 "${APIS[$1]}/v1/blocks/[1-$2]" | grep -o '"hash": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{64\}'; }
# Transactions in blocks from..to of node i.
txs_in() { curl -s -m 30 "${APIS[$1]}/v1/blocks/[$2-$3]" | grep -o '"tx_count": *[0-9]*' |
	grep -o '[0-9]*$' | awk '{s += $1} END {print s + 0}'; }
agree() { # H node... : every node has the same H hashes at 1..H
	local H=$1 first="" i; shift
	[ "$H" -ge 1 ] || return 1
	for i in "$@"; do
		hashes "$i" "$H" >"$T/h$i"
		[ "$(wc -l <"$T/h$i")" -eq "$H" ] || { echo "# node$i returned $(wc -l <"$T/h$i") of $H hashes"; return 1; }
		if [ -z "$first" ]; then first=$i; elif ! cmp -s "$T/h$first" "$T/h$i"; then
			echo "# node$i disagrees with node$first"; return 1; fi
	done
}
min_height() { local m="" h i; for i in "$@"; do h=$(height "$i"); [ -z "$h" ] && { echo 0; return; }
	if [ -z "$m" ] || [ "$h" -lt "$m" ]; then m=$h; fi; done; echo "${m:-0}"; }

# --- setup ------------------------------------------------------------------
[ -x "$BIN" ] || { echo "1..1"; echo "not ok 1 - danshari binary not found at $BIN"; exit 1; }
if ! "$BIN" --help 2>/dev/null | grep -q '^  node '; then
	echo "ok 1 # SKIP this build has no 'node' command"; echo "1..1"
	exit 0
fi
command -v curl >/dev/null || { echo "ok 1 # SKIP curl is not installed"; echo "1..1"; exit 0; }
BASE=$(pick_ports 8)
[ "$BASE" != 0 ] || bail "no free block of ports on loopback"
echo "# base port $BASE, dir $T"
timeout 60 "$BIN" init --nodes 4 --dir "$NET" --base-port "$BASE" >"$T/init.out" 2>&1 ||
	{ sed 's/^/# /' "$T/init.out"; bail "danshari init --nodes 4"; }
nodes_from_json
[ ${#APIS[@]} -eq 4 ] && [ ${#IDS[@]} -eq 4 ] && [ ${#P2P_PORTS[@]} -eq 4 ] || bail "nodes.json lists 4 nodes with their APIs"
for i in 0 1 2 3; do start_node $i; done
NODESET="0 1 2 3"
check "4 nodes serve /v1/status" wait_serving 30 0 1 2 3
h0=$(min_height 0 1 2 3)
"$BIN" load --nodes "$NET/nodes.json" --tps 40 --seconds 200 --timeout-s 3 >"$T/load.json" 2>"$T/load.err" &
PIDS[LOAD]=$!
check "4 nodes commit blocks" wait_until 30 all_height_ge $((h0 + 5))
committed_txs() { local h; h=$(height 0); [ -n "$h" ] && [ "$(txs_in 0 $((h0 + 1)) "$h")" -gt 0 ]; }
check "load transactions are committed" wait_until 30 committed_txs

# --- one node down: commits continue ---------------------------------------------
kill9 3
NODESET="0 1 2"
h1=$(min_height 0 1 2)
check "kill -9 node3: the other three keep committing" wait_until 40 all_height_ge $((h1 + 5))
txs_after_kill1() { local h; h=$(height 0); [ "$h" -gt "$h1" ] && [ "$(txs_in 0 $((h1 + 1)) "$h")" -gt 0 ]; }
check "kill -9 node3: transactions still commit" wait_until 30 txs_after_kill1

# --- two nodes down: no quorum, commits stop, no conflict ---------------------------
kill9 2
NODESET="0 1"
sleep 3 # a block certified just before the kill may still commit
s0=$(height 0); s1=$(height 1)
sleep 6
e0=$(height 0); e1=$(height 1)
echo "# heights with two nodes down: node0 $s0 -> $e0, node1 $s1 -> $e1"
stopped() { [ -n "$s0" ] && [ -n "$s1" ] && [ "$s0" = "$e0" ] && [ "$s1" = "$e1" ]; }
check "kill -9 node2: commits stop (no quorum)" stopped
check "the two survivors agree on every block hash" agree "$(min_height 0 1)" 0 1

# --- restart both: catch-up and commits resume -----------------------------------
restart_node 2
restart_node 3
check "restarted nodes serve /v1/status" wait_serving 30 2 3
hs=$(( e0 > e1 ? e0 : e1 ))
NODESET="0 1 2 3"
check_logs "commits resume after restarting both" "0 1 2 3" wait_until 60 all_height_ge $((hs + 5))
txs_resumed() { local h; h=$(height 0); [ "$h" -gt "$hs" ] && [ "$(txs_in 0 $((hs + 1)) "$h")" -gt 0 ]; }
check_logs "load transactions commit again" "0" wait_until 30 txs_resumed
check_logs "restarted nodes catch up with the others" "2 3" wait_until 60 all_height_ge "$(height 0)"

# --- the load generator's view ------------------------------------------------------
kill -INT "${PIDS[LOAD]}" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "${PIDS[LOAD]}" 2>/dev/null || break; sleep 0.2; done
kill -9 "${PIDS[LOAD]}" 2>/dev/null
wait "${PIDS[LOAD]}" 2>/dev/null
PIDS[LOAD]=""
echo "# load: $(cat "$T/load.json")"
lc=$(grep -o '"committed": *[0-9]*' "$T/load.json" | grep -o '[0-9]*$')
check "load reports committed transactions through the faults" [ "${lc:-0}" -gt 0 ]

# --- agreement and clean stop ---------------------------------------------------------
check "all four agree on every block hash" agree "$(min_height 0 1 2 3)" 0 1 2 3
for i in 0 1 2 3; do
	stop_node $i; rc=$?
	check "${IDS[$i]} stops cleanly on SIGTERM (exit $rc)" [ $rc -eq 0 ]
done
echo "1..$n"
[ $fails -eq 0 ]
