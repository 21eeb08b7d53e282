#!/usr/bin/env bash
# Validator-set changes through governance, on real processes: 4 validators
# and 1 observer (init --observers 1) on loopback. The observer follows the
# chain; org0 proposes add_validator for it, orgs 0-2 approve; every
# node moves to epoch 1 with 5 validators and the new validator signs QCs.
# Then node3 is removed the same way; in epoch 2 node3 is stopped and the
# chain goes on without it (blocks, a transaction, QCs by the 4 left). The
# survivors restart into epoch 2, and verify-chain accepts the multi-epoch
# chain. TAP output. Needs $DANSHARI_BIN, curl and jq.
set -u
TAG=epochs
. "$(dirname "$0")/../lib/cluster.sh"
N=5

pick_base $((2 * N))

CHAIN=epochs-test
base_port_api

# pass KIND PAYLOAD: org0 proposes, org1, org2 and org0 approve (3 of 4 passes)
pass() {
	send 0 "$K0" gov propose --kind "$1" --payload "$2" && receipt_ok ||
		{ echo "# propose $1: $(receipt status) $(receipt error)"; return 1; }
	local id
	id=$(receipt 'return.id')
	send 1 "$K1" gov vote --id "$id" --approve && receipt_ok &&
		send 1 "$K2" gov vote --id "$id" --approve && receipt_ok &&
		send 0 "$K0" gov vote --id "$id" --approve && receipt_ok ||
		{ echo "# vote on $1: $(receipt status) $(receipt error)"; return 1; }
	get 0 "/v1/proposals" | jq -e --argjson id "$id" '.proposals[] | select(.id == $id) | .status == "executed"' >/dev/null ||
		{ echo "# proposal $id: $(get 0 /v1/proposals | jq -c --argjson id "$id" '.proposals[] | select(.id == $id) | [.status, .history]')"; return 1; }
}
# epoch_is NODE EPOCH COUNT: the node's current set is that epoch, COUNT keys
epoch_is() {
	get "$1" /v1/validators | jq -e --argjson e "$2" --argjson c "$3" '.epoch == $e and (.validators | length) == $c' >/dev/null
}
all_epoch() {
	local e=$1 c=$2; shift 2
	for i in "$@"; do epoch_is "$i" "$e" "$c" || return 1; done
}
# signer_seen NODE INDEX EPOCH: a QC of one of the last 30 blocks, of that
# epoch, is signed by validator INDEX
signer_seen() {
	local h k
	h=$(height "$1")
	[ -n "$h" ] || return 1
	for k in $(seq "$h" -1 $((h > 30 ? h - 30 : 1))); do
		get "$1" "/v1/blocks/$k" | jq -e --argjson i "$2" --argjson e "$3" \
			'.qc.epoch == $e and (.qc.signers | index($i)) != null' >/dev/null && return 0
	done
	return 1
}
# qcs_only_by NODE EPOCH MAXINDEX FROM: every block from FROM to the tip with
# a QC of EPOCH has signers below MAXINDEX+1, and there is at least one
qcs_only_by() {
	local h k seen=0
	h=$(height "$1")
	[ -n "$h" ] || return 1
	for k in $(seq "$4" "$h"); do
		local q
		q=$(get "$1" "/v1/blocks/$k" | jq -c '.qc')
		[ "$(echo "$q" | jq -r .epoch)" = "$2" ] || continue
		echo "$q" | jq -e --argjson m "$3" '[.signers[] | select(. > $m)] | length == 0' >/dev/null || return 1
		seen=1
	done
	[ $seen = 1 ]
}
votes_sent() {
	get "$1" /metrics | awk '$1 == "danshari_votes_sent_total" {print $2}'
}

echo "1..24"

ds init --nodes 4 --observers 1 --dir "$T/c" --base-port "$BASE" --chain-id $CHAIN >"$T/init.out" 2>&1
check "init --observers 1 writes 4 validators and observer node4" \
	jq -e '(.validators | length) == 4 and (.observers | length) == 1 and .observers[0].name == "node4"' "$T/c/genesis.json"
for i in $(seq 0 $((N - 1))); do start "$i"; done
if ! wait_until 60 all_at_least 2 0 1 2 3 4; then
	nok "validators commit and the observer follows to height 2"
	dump_logs 0 1 2 3 4
	echo "1..$n"
	exit 1
fi
ok "validators commit and the observer follows to height 2"
observer_idle() { # node4 is outside epoch 0's set and has sent no vote
	get 4 /v1/validators | jq -e '.epoch == 0 and (.validators | length) == 4' >/dev/null &&
		get 4 /v1/status | jq -e '.role == "observer" and (has("validator_index") | not)' >/dev/null &&
		[ "$(votes_sent 4)" = 0 ]
}
check "the observer is not in epoch 0's set and sends no votes" observer_idle

K0=$T/c/node0/node.key K1=$T/c/node1/node.key K2=$T/c/node2/node.key
PK3=$(pk_of "$T/c/node3/node.key")
PK4=$(pk_of "$T/c/node4/node.key")
P2P4=$(jq -r '.observers[0].p2p' "$T/c/genesis.json")

# ---- add node4 ------------------------------------------------------------
# node2 is down while the epoch changes: it must catch up by block sync
# (the end block comes with its suffix headers) and restart into epoch 1.
stop 2
check "node2 stops cleanly before the change" [ $? = 0 ]
pass add_validator "{\"pk\":{\"\$bytes\":\"$PK4\"},\"addr\":\"$P2P4\",\"org\":\"org0\"}"
check "governance passes add_validator for node4" [ $? = 0 ]
get 0 "/v1/state?key_str=sys/valset/next" >"$T/next.json"
check "the pending set (epoch 1, 5 keys) or its promotion is in the state" \
	sh -c "jq -e '.value.epoch == 1 and (.value.validators | length) == 5' '$T/next.json' >/dev/null ||
		curl -s --max-time 3 '$(api 0)/v1/state?key_str=sys/valset' | jq -e '.value.epoch == 1' >/dev/null"
if wait_until 60 all_epoch 1 5 0 1 3 4; then ok "the 4 running nodes switch to epoch 1 with 5 validators"; else
	nok "the 4 running nodes switch to epoch 1 with 5 validators"; dump_logs 0 4; fi
HS=$(max_height 0 1 3 4)
start 2
if wait_until 60 all_epoch 1 5 2 && wait_until 30 all_at_least "$HS" 2; then
	ok "node2, restarted after the change, syncs past the end block into epoch 1 (height >= $HS)"
else
	nok "node2, restarted after the change, syncs past the end block into epoch 1"; dump_logs 2
fi
if wait_until 60 all_epoch 1 5 0 1 2 3 4; then ok "all 5 nodes switch to epoch 1 with 5 validators"; else
	nok "all 5 nodes switch to epoch 1 with 5 validators"; dump_logs 0 4; fi
H1=$(max_height 0 1 2 3 4)
check "the chain goes on in epoch 1 on every node (height > $H1 + 3)" wait_until 30 all_at_least $((H1 + 4)) 0 1 2 3 4
node4_voted() {
	local v
	v=$(votes_sent 4)
	[ -n "$v" ] && [ "$v" -gt 0 ] &&
		get 4 /v1/status | jq -e '.role == "validator" and .validator_index == 4' >/dev/null
}
check "node4 votes now" wait_until 20 node4_voted
check "a committed QC of epoch 1 carries node4's signature (index 4)" wait_until 30 signer_seen 0 4 1
promoted() { # sys/valset is epoch 1 and holds node4; nothing is pending
	get 0 "/v1/state?key_str=sys/valset" | jq -e --arg pk "$PK4" \
		'.value.epoch == 1 and ([.value.validators[].pk["$bytes"]] | index($pk)) != null' >/dev/null &&
		! get 0 "/v1/state?key_str=sys/valset/next" | jq -e '.value' >/dev/null
}
check "sys/valset is epoch 1 with node4, and nothing is pending" promoted

# ---- remove node3 -----------------------------------------------------------
pass remove_validator "{\"pk\":{\"\$bytes\":\"$PK3\"}}"
check "governance passes remove_validator for node3" [ $? = 0 ]
if wait_until 60 all_epoch 2 4 0 1 2 4; then ok "nodes 0, 1, 2, 4 switch to epoch 2 with 4 validators"; else
	nok "nodes 0, 1, 2, 4 switch to epoch 2 with 4 validators"; dump_logs 0 3 4; fi
node3_observer() { get 3 /v1/status | jq -e '.role == "observer" and .epoch == 2' >/dev/null; }
check "node3, removed, reports itself an observer of epoch 2" wait_until 20 node3_observer
stop 3
check "node3, removed, stops cleanly" [ $? = 0 ]
H2=$(max_height 0 1 2 4)
check "the chain goes on without node3 (height > $H2 + 4 on the other four)" wait_until 40 all_at_least $((H2 + 5)) 0 1 2 4
check "epoch 2's QCs are signed by its 4 validators only (indexes 0..3)" qcs_only_by 0 2 3 $((H2 + 1))
send 4 "$K0" tx build --target kv --method put --args '{"key":"after","value":"removal"}' && receipt_ok
check "a transaction submitted to node4 commits in epoch 2" [ $? = 0 ]

# ---- a light client follows the validator changes (danshari query) ----------
# The client trusts only genesis.json (epoch 0's 4 keys); the tx's block is of
# epoch 2, so `danshari query` walks 0 -> 1 -> 2, each handoff proven by the
# previous epoch's end block and its sys/valset/next state proof.
TXID=$(jq -r '.id // empty' "$T/last.json" 2>/dev/null)
# query_via URL OUT: query the epoch-2 tx through URL, trusting genesis.json
query_via() {
	ds query --node "$1" --trust "$T/c/genesis.json" tx "$TXID" >"$2" 2>&1
}
walked_two() {
	query_via "$(api 0)" "$T/query.out" && grep -qx verified "$T/query.out" &&
		grep -q '^walked epochs 0 -> 2 (2 handoffs' "$T/query.out" &&
		[ "$(grep -c '^epoch handoff: ' "$T/query.out")" = 2 ] &&
		sed -n 's/^\(epoch handoff\|walked\)/# &/p' "$T/query.out" ||
		{ sed 's/^/# /' "$T/query.out"; return 1; }
}
check "query verifies the epoch-2 tx from the genesis set through 2 epoch handoffs" walked_two
# A lying node: a proxy in front of node 0 that alters one byte of the
# sys/valset/next value it serves. The handoff must be refused.
tamper_refused() {
	rm -f "$T/proxy.port"
	python3 - "$(api 0)" "$T/proxy.port" <<'EOF' &
import json, sys, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
up, port_file = sys.argv[1], sys.argv[2]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        with urllib.request.urlopen(up + self.path, timeout=5) as r:
            body = r.read()
        if self.path.startswith("/v1/state") and "sys/valset/next" in self.path:
            j = json.loads(body)
            v = j.get("value_hex") or ""
            if v:
                j["value_hex"] = v[:-1] + ("0" if v[-1] != "0" else "1")
            body = json.dumps(j).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = HTTPServer(("127.0.0.1", 0), H)
s.timeout = 20
open(port_file, "w").write(str(s.server_address[1]))
for _ in range(8):
    s.handle_request()
EOF
	local pp=$! port=""
	for _ in $(seq 50); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
	port=$(cat "$T/proxy.port" 2>/dev/null)
	local rc=1
	if [ -n "$port" ] && ! query_via "http://127.0.0.1:$port" "$T/query-bad.out" &&
		grep -q 'NOT verified: epoch 0 handoff: sys/valset/next at block' "$T/query-bad.out"; then
		rc=0
	else
		sed 's/^/# /' "$T/query-bad.out" 2>/dev/null
	fi
	kill "$pp" 2>/dev/null
	wait "$pp" 2>/dev/null
	return $rc
}
check "query refuses a handoff whose sys/valset/next value was altered" tamper_refused

# ---- restart into epoch 2, then verify the whole chain -------------------------
HR=$(max_height 0 1 2 4)
stopped=0
for i in 0 1 2 4; do stop "$i" && stopped=$((stopped + 1)); done
for i in 0 1 2 4; do start "$i"; done
if [ $stopped = 4 ] && wait_until 60 all_at_least $((HR + 3)) 0 1 2 4 && all_epoch 2 4 0 1 2 4; then
	ok "the four restart in epoch 2 and go on (height > $HR + 2)"
else
	nok "the four restart in epoch 2 and go on ($stopped stopped cleanly)"
	dump_logs 0 1 2 4
fi
stopped=0
for i in 0 1 2 4; do stop "$i" && stopped=$((stopped + 1)); done
ds verify-chain --home "$T/c/node0" >"$T/verify.out" 2>&1
rc=$?
ds verify-chain --home "$T/c/node2" >"$T/verify2.out" 2>&1
rc2=$?
check "verify-chain accepts the multi-epoch chain of node0 and of node2, which synced the first end block ($(tail -1 "$T/verify.out"))" \
	[ $rc = 0 ] && [ $rc2 = 0 ] && [ $stopped = 4 ]

[ $fails = 0 ]
