#!/usr/bin/env bash
# Cluster smoke test: 4 real node processes on loopback. init, start, submit
# kv transactions over HTTP, commits on every node, kill -9 one node and keep
# committing, restart it and catch up (same block hashes everywhere), SIGTERM
# all with exit status 0. TAP output. Needs $DANSHARI_BIN and curl.
set -u
TAG=cluster
. "$(dirname "$0")/../lib/cluster.sh"

if [ ! -x "$BIN" ] || ! command -v curl >/dev/null; then
	echo "1..1"
	echo "not ok 1 - danshari binary ($BIN) or curl missing"
	exit 1
fi

# A base port whose 2N ports are all free, outside the ephemeral range.
BASE=$(pick_ports $((2 * N)))
if [ $BASE = 0 ]; then
	echo "1..1"
	echo "not ok 1 - no free port range found"
	exit 1
fi
echo "# base port $BASE, dir $T"

api() { echo "http://127.0.0.1:$((BASE + 2 * $1 + 1))"; }
get() { curl -s --max-time 3 "$(api "$1")$2"; }
num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" | head -1; }
height() { get "$1" /v1/status | num height; }
txs_total() { get "$1" /v1/status | num txs_total; }
block_hash() { get "$1" "/v1/blocks/$2" | grep -o '"hash":"[0-9a-f]*"' | head -1; }

start_node() {
	"$BIN" node --home "$T/c/node$1" >>"$T/log$1" 2>&1 &
	PIDS[$1]=$!
}

# wait_until SECONDS command...: polls every 0.2 s, bounded.
wait_until() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

all_at_least() { # height on every listed node >= h
	local h=$1; shift
	for i in "$@"; do
		local x
		x=$(height "$i")
		[ -n "$x" ] && [ "$x" -ge "$h" ] || return 1
	done
	return 0
}

txs_at_least() {
	local want=$1; shift
	for i in "$@"; do
		local x
		x=$(txs_total "$i")
		[ -n "$x" ] && [ "$x" -ge "$want" ] || return 1
	done
	return 0
}

same_hash_at() { # height, nodes...: the same non-empty block hash on all
	local h=$1; shift
	local first=""
	for i in "$@"; do
		local x
		x=$(block_hash "$i" "$h")
		[ -n "$x" ] || return 1
		if [ -z "$first" ]; then first=$x; elif [ "$x" != "$first" ]; then return 1; fi
	done
	return 0
}

submit() { # node, nonce -> 0 if accepted (202)
	local i=$1 k=$2 h
	h=$(height "$i")
	[ -n "$h" ] || return 1
	ds tx build --chain-id cluster-test --key "$T/c/node$i/node.key" --target kv --method put \
		--args "{\"key\":\"k$k\",\"value\":\"v$k\"}" --nonce "$k" --expiry-height $((h + 500)) \
		--out "$T/tx$k.body" 2>>"$T/err" || return 1
	ds tx sign --key "$T/c/node$i/node.key" --in "$T/tx$k.body" --hex --out "$T/tx$k.hex" 2>>"$T/err" || return 1
	local code
	code=$(curl -s --max-time 10 -o "$T/resp$k" -w '%{http_code}' -XPOST \
		-H 'Content-Type: application/json' \
		-d "{\"tx_hex\":\"$(cat "$T/tx$k.hex")\"}" "$(api "$i")/v1/tx")
	[ "$code" = 202 ]
}

echo "1..14"

ds init --nodes $N --dir "$T/c" --base-port $BASE --chain-id cluster-test >"$T/init.out" 2>&1
check "init writes a 4-node consortium" [ -f "$T/c/genesis.json" -a -f "$T/c/nodes.json" -a -f "$T/c/node3/node.key" ]
ds init --nodes $N --dir "$T/c" --base-port $BASE >/dev/null 2>&1; rc=$?
check "init refuses to overwrite an existing genesis" [ $rc -ne 0 ]

for i in $(seq 0 $((N - 1))); do start_node "$i"; done
check "all nodes commit blocks (height >= 3 everywhere)" wait_until 30 all_at_least 3 0 1 2 3

accepted=0
for k in $(seq 1 20); do
	submit $((k % N)) "$k" && accepted=$((accepted + 1))
done
check "20 transactions accepted over HTTP" [ $accepted = 20 ]
check "every node committed the 20 transactions" wait_until 30 txs_at_least 20 0 1 2 3

# Replay: the same signed tx again is refused.
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' \
	-d "{\"tx_hex\":\"$(cat "$T/tx1.hex")\"}" "$(api 0)/v1/tx")
check "a committed transaction submitted again is refused ($code)" [ "$code" != 202 -a -n "$code" ]

kill -9 "${PIDS[2]}" 2>/dev/null
wait "${PIDS[2]}" 2>/dev/null
PIDS[2]=""
h0=$(height 0)
check "commits continue with node2 killed (from $h0)" wait_until 45 all_at_least $((h0 + 3)) 0 1 3
for k in $(seq 21 25); do submit 0 "$k"; done
check "transactions commit with node2 down" wait_until 45 txs_at_least 25 0 1 3

start_node 2
htop=$(height 0)
check "restarted node2 catches up to height $htop" wait_until 45 all_at_least "$htop" 2
check "node2 has the 25 transactions" wait_until 30 txs_at_least 25 2
check "all nodes agree on the block hash at height $htop" same_hash_at "$htop" 0 1 2 3
check "all nodes agree on the block hash at height 2" same_hash_at 2 0 1 2 3

for i in $(seq 0 $((N - 1))); do kill -TERM "${PIDS[$i]}" 2>/dev/null; done
clean=0
for i in $(seq 0 $((N - 1))); do
	# bounded: a node that ignores SIGTERM is killed after 15 s
	end=$((SECONDS + 15))
	while [ $SECONDS -lt $end ]; do
		st=$(ps -o stat= -p "${PIDS[$i]}" 2>/dev/null)
		case "$st" in "" | Z*) break ;; esac
		sleep 0.1
	done
	kill -9 "${PIDS[$i]}" 2>/dev/null
	wait "${PIDS[$i]}"; rc=$?
	[ $rc = 0 ] && clean=$((clean + 1))
	PIDS[$i]=""
done
check "SIGTERM stops all 4 nodes with exit status 0 ($clean/4)" [ $clean = 4 ]
check "shutdown was logged by every node" [ "$(grep -l 'msg="node stopped"' "$T"/log* | wc -l)" -ge 4 ]

if [ $fails -gt 0 ]; then
	for i in $(seq 0 $((N - 1))); do
		echo "# --- log$i (last lines) ---"
		grep -v 'mod=net' "$T/log$i" | tail -15 | sed 's/^/# /'
	done
fi
[ $fails = 0 ]
