#!/usr/bin/env bash
# Cluster faults on real processes: 4 nodes on loopback commit under a
# steady load; kill -9 one: commits continue; kill a second: commits stop
# and the survivors never disagree on a block; restart both: they catch up
# and commits resume; all four then agree on every block hash.
# TAP output. Needs $DANSHARI_BIN and curl. Every wait is bounded; every
# process started here is killed by PID on exit, whatever happens.
set -u
BIN=${DANSHARI_BIN:-$PWD/build/danshari}
T=$(mktemp -d "${TMPDIR:-/tmp}/ds-faults-XXXXXX") || exit 1
NET=$T/net
PIDS=("" "" "" "")
LOADPID=""
cleanup() {
	for p in "${PIDS[@]}" $LOADPID; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${fails:-0}" -gt 0 ] && [ -d "$NET" ]; then
		for l in "$NET"/*/node.log; do
			[ -f "$l" ] && { echo "# --- tail of $l"; tail -n 15 "$l" | sed 's/^/# /'; }
		done
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
bail() { nok "$1"; echo "Bail out! $1"; exit 1; }

# --- helpers ----------------------------------------------------------------
wait_until() { # timeout_s, command...: polls every 0.2 s
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt "$end" ]; do "$@" && return 0; sleep 0.2; done
	"$@"
}
pick_base_port() { # a random block of 100 ports with nothing bound in it
	local used b clash p
	used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -un)
	for _ in $(seq 1 50); do
		b=$((20000 + (RANDOM % 350) * 100)); clash=0
		for p in $used; do
			if [ "$p" -ge "$b" ] && [ "$p" -lt $((b + 100)) ]; then clash=1; break; fi
		done
		[ $clash = 0 ] && { echo $b; return; }
	done
	echo 0
}
get() { curl -s -m 3 "${APIS[$1]}$2"; }
up() { [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "${APIS[$1]}/v1/status")" = 200 ]; }
height() { get "$1" /v1/status | grep -o '"height": *[0-9]*' | head -1 | grep -o '[0-9]*$'; }
height_ge() { local h; h=$(height "$1"); [ -n "$h" ] && [ "$h" -ge "$2" ]; }
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
start_node() { # i
	"$BIN" node --home "$NET/${IDS[$1]}" >>"$NET/${IDS[$1]}/node.log" 2>&1 &
	PIDS[$1]=$!
}
kill9() { kill -9 "${PIDS[$1]}" 2>/dev/null; wait "${PIDS[$1]}" 2>/dev/null; PIDS[$1]=""; }
stop_node() { # i: SIGTERM, wait at most 15 s; returns the exit status (or 124)
	local p=${PIDS[$1]} k
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	for k in $(seq 1 75); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	if kill -0 "$p" 2>/dev/null; then kill -9 "$p"; wait "$p" 2>/dev/null; PIDS[$1]=""; return 124; fi
	wait "$p"; local rc=$?; PIDS[$1]=""; return $rc
}

# --- setup ------------------------------------------------------------------
[ -x "$BIN" ] || { echo "1..1"; echo "not ok 1 - danshari binary not found at $BIN"; exit 1; }
if ! "$BIN" --help 2>/dev/null | grep -q '^  node '; then
	echo "ok 1 # SKIP this build has no 'node' command"; echo "1..1"
	exit 0
fi
command -v curl >/dev/null || { echo "ok 1 # SKIP curl is not installed"; echo "1..1"; exit 0; }
BASE=$(pick_base_port)
[ "$BASE" != 0 ] || bail "no free block of ports on loopback"
timeout 60 "$BIN" init --nodes 4 --dir "$NET" --base-port "$BASE" >"$T/init.out" 2>&1 ||
	{ sed 's/^/# /' "$T/init.out"; bail "danshari init --nodes 4"; }
mapfile -t APIS < <(grep -o '"api": *"[^"]*"' "$NET/nodes.json" | sed 's/.*"\(http[^"]*\)"/\1/')
mapfile -t IDS < <(grep -o '"id": *"[^"]*"' "$NET/nodes.json" | sed 's/.*: *"\([^"]*\)"/\1/')
[ ${#APIS[@]} -eq 4 ] && [ ${#IDS[@]} -eq 4 ] || bail "nodes.json lists 4 nodes with their APIs"
for i in 0 1 2 3; do start_node $i; done
NODESET="0 1 2 3"
check "4 nodes serve /v1/status" wait_until 30 all_height_ge 0
h0=$(min_height 0 1 2 3)
"$BIN" load --nodes "$NET/nodes.json" --tps 40 --seconds 200 --timeout-s 3 >"$T/load.json" 2>"$T/load.err" &
LOADPID=$!
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
start_node 2
start_node 3
NODESET="2 3"
check "restarted nodes serve /v1/status" wait_until 30 all_height_ge 0
hs=$(( e0 > e1 ? e0 : e1 ))
NODESET="0 1 2 3"
check "commits resume after restarting both" wait_until 60 all_height_ge $((hs + 5))
txs_resumed() { local h; h=$(height 0); [ "$h" -gt "$hs" ] && [ "$(txs_in 0 $((hs + 1)) "$h")" -gt 0 ]; }
check "load transactions commit again" wait_until 30 txs_resumed
check "restarted nodes catch up with the others" wait_until 60 all_height_ge "$(height 0)"

# --- the load generator's view ------------------------------------------------------
kill -INT "$LOADPID" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$LOADPID" 2>/dev/null || break; sleep 0.2; done
kill -9 "$LOADPID" 2>/dev/null
wait "$LOADPID" 2>/dev/null
LOADPID=""
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
