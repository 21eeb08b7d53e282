#!/usr/bin/env bash
# Crash and restart on real processes: kill -9 all four nodes mid-load and
# start them again: they resume from disk, nothing committed before the
# crash is lost or changed, commits resume, `verify-chain` passes on every
# node and all four agree on every block hash. Then: a node started with
# another genesis, or with a key outside the validator set, is refused and
# says why. TAP output. Needs $DANSHARI_BIN and curl. Every wait is bounded;
# every process started here is killed by PID on exit.
set -u
TAG=restart
. "$(dirname "$0")/../lib/cluster.sh"
NET=$T/net
PIDS=("" "" "" "" "") # nodes 0..3, then the load generator
LOAD=4
on_exit() { on_exit_net_logs; }

# --- helpers (the node-process ones, and why restarts wait for free ports,
# are in tests/lib/cluster.sh and faults.sh) ------------------------------------
all_height_ge() { local i; for i in 0 1 2 3; do height_ge "$i" "$1" || return 1; done; }
hashes() { curl -s -m 60 "${APIS[$1]}/v1/blocks/[1-$2]" | grep -o '"hash": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{64\}'; }
txs_in() { curl -s -m 30 "${APIS[$1]}/v1/blocks/[$2-$3]" | grep -o '"tx_count": *[0-9]*' |
	grep -o '[0-9]*$' | awk '{s += $1} END {print s + 0}'; }
min_height() { local m="" h i; for i in "$@"; do h=$(height "$i"); [ -z "$h" ] && { echo 0; return; }
	if [ -z "$m" ] || [ "$h" -lt "$m" ]; then m=$h; fi; done; echo "${m:-0}"; }
# Runs a node that must be refused: exit status and stderr into $T/ref.*
refused_run() { # home
	timeout -k 2 20 "$BIN" node --home "$1" >"$T/ref.out" 2>"$T/ref.err"
	echo $? >"$T/ref.rc"
}
refused() { # pattern: exited non-zero (not by timeout) and said why
	local rc; rc=$(cat "$T/ref.rc")
	echo "# exit $rc: $(head -c 300 "$T/ref.err" | tr '\n' ' ')"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] && grep -qiE "$1" "$T/ref.err"
}

# --- setup ----------------------------------------------------------------------
[ -x "$BIN" ] || { echo "1..1"; echo "not ok 1 - danshari binary not found at $BIN"; exit 1; }
if ! "$BIN" --help 2>/dev/null | grep -q '^  node '; then
	echo "ok 1 # SKIP this build has no 'node' command"; echo "1..1"
	exit 0
fi
command -v curl >/dev/null || { echo "ok 1 # SKIP curl is not installed"; echo "1..1"; exit 0; }
BASE=$(pick_ports 100) # the second consortium below takes BASE + 50
[ "$BASE" != 0 ] || bail "no free block of ports on loopback"
echo "# base port $BASE, dir $T"
timeout 60 "$BIN" init --nodes 4 --dir "$NET" --base-port "$BASE" >"$T/init.out" 2>&1 ||
	{ sed 's/^/# /' "$T/init.out"; bail "danshari init --nodes 4"; }
nodes_from_json
[ ${#APIS[@]} -eq 4 ] && [ ${#IDS[@]} -eq 4 ] && [ ${#P2P_PORTS[@]} -eq 4 ] || bail "nodes.json lists 4 nodes with their APIs"
for i in 0 1 2 3; do start_node $i; done
check "4 nodes serve /v1/status" wait_serving 30 0 1 2 3
h0=$(min_height 0 1 2 3)
"$BIN" load --nodes "$NET/nodes.json" --tps 100 --seconds 200 --timeout-s 3 >"$T/load.json" 2>"$T/load.err" &
PIDS[LOAD]=$!
check "commits under load" wait_until 30 all_height_ge $((h0 + 5))
committed_txs() { local h; h=$(height 0); [ -n "$h" ] && [ "$(txs_in 0 $((h0 + 1)) "$h")" -ge 50 ]; }
check "at least 50 load transactions committed" wait_until 30 committed_txs

# --- kill -9 all four mid-load --------------------------------------------------
H=$(max_height 0 1 2 3)
best=0
for i in 0 1 2 3; do [ "$(height $i)" = "$H" ] && best=$i; done
hashes $best "$H" >"$T/before.hashes"
# Ids of transactions committed before the crash (at most 40, for spot checks).
curl -s -m 30 "${APIS[$best]}/v1/blocks/[$((h0 + 1))-$H]" | grep -o '"txs": *\[[^]]*\]' |
	grep -o '[0-9a-f]\{64\}' | head -40 >"$T/before.txs"
for i in 0 1 2 3; do kill -9 "${PIDS[$i]}" 2>/dev/null; done
for i in 0 1 2 3; do kill9 $i; done
echo "# killed all four at height $H (node $best), $(wc -l <"$T/before.txs") tx ids noted"
check "snapshot before the crash holds $H block hashes" [ "$(wc -l <"$T/before.hashes")" -eq "$H" ]

for i in 0 1 2 3; do restart_node $i; done
check "all four restart from disk and serve /v1/status" wait_serving 30 0 1 2 3
check_logs "every node is back at or past height $H" "0 1 2 3" wait_until 60 all_height_ge "$H"
same_prefix() { local i; for i in 0 1 2 3; do hashes $i "$H" | cmp -s - "$T/before.hashes" || return 1; done; }
check "no block committed before the crash is lost or changed (all four)" same_prefix
tx_committed_everywhere() {
	local id i
	[ -s "$T/before.txs" ] || return 1
	while read -r id; do
		for i in 0 1 2 3; do
			get $i "/v1/tx/$id" | grep -q '"status": *"committed"' || { echo "# $id not committed on node$i"; return 1; }
		done
	done <"$T/before.txs"
}
check "transactions committed before the crash are committed on every node" tx_committed_everywhere
commits_resume() { local h; h=$(height 0); [ "$h" -gt $((H + 3)) ] && [ "$(txs_in 0 $((H + 1)) "$h")" -gt 0 ]; }
check_logs "commits resume under load after the restart" "0 1 2 3" wait_until 60 commits_resume

kill -INT "${PIDS[LOAD]}" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "${PIDS[LOAD]}" 2>/dev/null || break; sleep 0.2; done
kill -9 "${PIDS[LOAD]}" 2>/dev/null
wait "${PIDS[LOAD]}" 2>/dev/null
PIDS[LOAD]=""
echo "# load: $(cat "$T/load.json")"
lc=$(grep -o '"committed": *[0-9]*' "$T/load.json" | grep -o '[0-9]*$')
hend=$(min_height 0 1 2 3)
total=$(txs_in 0 1 "$hend")
echo "# load saw ${lc:-?} of its transactions committed; the chain holds $total up to height $hend"
load_consistent() { [ "${lc:-0}" -gt 0 ] && [ "$total" -ge "$lc" ]; }
check "every transaction load saw committed is in the chain (count)" load_consistent
all_agree() {
	local i
	hashes 0 "$hend" >"$T/h0"
	[ "$(wc -l <"$T/h0")" -eq "$hend" ] || return 1
	for i in 1 2 3; do hashes $i "$hend" | cmp -s - "$T/h0" || { echo "# node$i differs"; return 1; }; done
}
check "all four agree on every block hash (1..$hend)" all_agree

for i in 0 1 2 3; do
	stop_node $i; rc=$?
	check "${IDS[$i]} stops cleanly on SIGTERM (exit $rc)" [ $rc -eq 0 ]
done

# --- verify-chain on every node's store ------------------------------------------
if "$BIN" --help 2>/dev/null | grep -q '^  verify-chain '; then
	for i in 0 1 2 3; do
		timeout -k 2 120 "$BIN" verify-chain --home "$NET/${IDS[$i]}" >"$T/vc.out" 2>&1; rc=$?
		[ $rc -eq 0 ] || sed 's/^/# /' "$T/vc.out" | tail -5
		check "verify-chain passes on ${IDS[$i]}" [ $rc -eq 0 ]
	done
else
	skip "verify-chain: not in this build"
fi

# --- refusals ----------------------------------------------------------------------
# Another genesis: a node of a second consortium (its key is a validator
# there) opened on the first consortium's data.
timeout 60 "$BIN" init --nodes 4 --dir "$T/other" --base-port $((BASE + 50)) >/dev/null 2>&1 ||
	bail "danshari init of a second consortium"
rm -rf "$T/other/${IDS[0]}/data"
cp -a "$NET/${IDS[0]}/data" "$T/other/${IDS[0]}/data"
refused_run "$T/other/${IDS[0]}"
check "a node whose data belongs to another genesis is refused and says why" refused 'another genesis'
# A key outside the validator set.
mkdir -p "$T/mixk"
cp -a "$NET/${IDS[1]}" "$T/mixk/"
cp "$NET/genesis.json" "$T/mixk/genesis.json"
keyf=$(grep -o '"key_file": *"[^"]*"' "$T/mixk/${IDS[1]}/config.json" | sed 's/.*: *"\([^"]*\)"/\1/')
case "$keyf" in /*) ;; "") keyf="$T/mixk/${IDS[1]}/node.key" ;; *) keyf="$T/mixk/${IDS[1]}/$keyf" ;; esac
rm -f "$keyf"
"$BIN" keygen --out "$keyf" >/dev/null 2>&1 || bail "keygen for the unknown-key node"
refused_run "$T/mixk/${IDS[1]}"
check "a node with a key outside the validator set is refused and says why" refused 'not in the genesis validator set|neither a validator nor an observer|unknown key'
echo "1..$n"
[ $fails -eq 0 ]
