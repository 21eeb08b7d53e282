#!/usr/bin/env bash
# HTTP API against a real 1-node chain: every endpoint answers with its
# documented shape (docs/API.md), bad inputs get their 4xx and change
# nothing, `danshari query` verifies a real transaction, state value, block
# and history proof, and refuses tampered responses. TAP output.
# Needs $DANSHARI_BIN, curl and jq; loopback only; every wait is bounded and
# every process and file it creates is removed on exit.
set -u
TAG=api
DS_TIMEOUT_S=30 # one ds call (init of a consortium, tx build/sign)
. "$(dirname "$0")/../lib/cluster.sh"

for tool in curl jq; do
	if ! command -v $tool >/dev/null; then
		echo "1..1"
		echo "not ok 1 - $tool is needed by this test"
		exit 1
	fi
done
if [ ! -x "$BIN" ]; then
	echo "1..1"
	echo "not ok 1 - no danshari binary at $BIN"
	exit 1
fi

# Two free consecutive ports (p2p, api), outside the ephemeral range.
P=$(pick_ports 2)
[ "$P" = 0 ] && { echo "1..1"; echo "not ok 1 - no free ports"; exit 1; }
URL="http://127.0.0.1:$((P + 1))"
echo "# ports $P-$((P + 1)), dir $T"

# ---------------------------------------------------------------- helpers
# get PATH [curl args...]: body on stdout; the status goes to $T/status.
get() {
	local p=$1; shift
	curl -s --max-time 5 -o "$T/body" -w '%{http_code}' "$@" "$URL$p" >"$T/status"
	cat "$T/body"
}
status() { cat "$T/status"; }
# has_shape JQ_FILTER: the last body satisfies the jq expression.
has_shape() { jq -e "$1" "$T/body" >/dev/null 2>&1; }
# err_is STATUS CODE: the last response is a JSON error with that code.
err_is() { [ "$(status)" = "$1" ] && has_shape ".error.code == \"$2\" and (.error.message | type) == \"string\""; }
height() { get /v1/status | jq -r '.height // empty' 2>/dev/null; }
txs_total() { get /v1/status | jq -r '.txs_total // empty' 2>/dev/null; }
above() { local h; h=$(height); [ -n "$h" ] && [ "$h" -ge "$1" ]; }

# ---------------------------------------------------------------- a chain
if ! ds init --nodes 1 --dir "$T/net" --base-port "$P" >"$T/init.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - danshari init failed: $(head -c 300 "$T/init.log")"
	exit 1
fi
"$BIN" node --home "$T/net/node0" --log-level warn >"$T/node.log" 2>&1 &
PIDS[0]=$!
check "node answers /healthz" wait_until 20 sh -c "curl -s --max-time 2 $URL/healthz | grep -q '\"ok\":true'"
check "chain advances past height 2" wait_until 30 above 2
CHAIN=$(jq -r .chain_id "$T/net/nodes.json")
PK=$(jq -r '.nodes[0].public_key' "$T/net/nodes.json")
KEY=$T/net/node0/node.key

# ---------------------------------------------------------------- shapes
get /healthz >/dev/null
check "GET /healthz shape" has_shape '.ok == true and (.height | type) == "number"'
get /v1/status >/dev/null
check "GET /v1/status shape" has_shape '
	(.chain_id | type) == "string" and (.node_id | type) == "string" and
	(.version | type) == "string" and (.height | type) == "number" and
	(.last_block_hash | test("^[0-9a-f]{64}$")) and (.round | type) == "number" and
	(.epoch | type) == "number" and (.mempool_size | type) == "number" and
	(.peers_connected | type) == "number" and (.validators | length) == 1 and
	(.validators[0] | (.index == 0) and (.public_key | test("^[0-9a-f]{64}$")) and
	 (.p2p | type) == "string" and (.connected | type) == "boolean" and
	 (.last_seen_ms | type) == "number")'
get /v1/validators >/dev/null
check "GET /v1/validators shape" has_shape '(.epoch | type) == "number" and
	(.valset_hash | test("^[0-9a-f]{64}$")) and (.validators[0].public_key | length) == 64'
BLOCK_SHAPE='(.height | type) == "number" and (.hash | test("^[0-9a-f]{64}$")) and
	(.parent_hash | length) == 64 and (.round | type) == "number" and
	(.epoch | type) == "number" and (.proposer | length) == 64 and
	(.time_ms | type) == "number" and (.tx_count | type) == "number" and
	(.tx_root | length) == 64 and (.exec_height | type) == "number" and
	(.state_root | length) == 64 and (.results_root | length) == 64 and
	(.history_root | length) == 64 and (.valset_hash | length) == 64 and
	(.header_hex | test("^[0-9a-f]+$")) and (.txs | type) == "array"'
QC_SHAPE='(.qc.hex | test("^[0-9a-f]+$")) and (.qc.round | type) == "number" and
	(.qc.block_hash | length) == 64 and (.qc.commit_height | type) == "number" and
	(.qc.commit_hash | length) == 64 and (.qc.signers | type) == "array"'
get /v1/blocks/latest >/dev/null
check "GET /v1/blocks/latest shape" has_shape "$BLOCK_SHAPE and $QC_SHAPE"
get /v1/blocks/1 >/dev/null
check "GET /v1/blocks/1 shape" has_shape "$BLOCK_SHAPE and $QC_SHAPE and .height == 1"
get /v1/blocks/0 >/dev/null
check "GET /v1/blocks/0 has qc null" has_shape "$BLOCK_SHAPE and .qc == null"
get '/v1/blocks?limit=2' >/dev/null
check "GET /v1/blocks?limit=2 newest first" has_shape '(.blocks | length) == 2 and
	.blocks[0].height > .blocks[1].height and
	(.blocks[0] | (.hash | length) == 64 and (.time_ms | type) == "number" and
	 (.tx_count | type) == "number" and (.proposer | length) == 64)'
get /v1/contracts >/dev/null
check "GET /v1/contracts shape" has_shape '(.contracts | type) == "array"'
get /v1/proposals >/dev/null
check "GET /v1/proposals shape" has_shape '(.proposals | type) == "array"'
get /metrics >"$T/metrics.txt"
check "GET /metrics is Prometheus text" grep -q '^# TYPE ds_api_requests_total counter' "$T/metrics.txt"
if command -v promtool >/dev/null; then
	check "promtool check metrics" sh -c "promtool check metrics <'$T/metrics.txt' >/dev/null 2>&1"
fi

# ---------------------------------------------------------------- a transaction
H=$(height)
ds tx build --chain-id "$CHAIN" --key "$KEY" --target kv --method put \
	--args '{"key":"greeting","value":"hello"}' --expiry-height $((H + 50)) --out "$T/tx.unsigned" \
	>/dev/null 2>&1
ds tx sign --key "$KEY" --in "$T/tx.unsigned" --out "$T/tx.bin" >/dev/null 2>&1
get /v1/tx --data-binary "@$T/tx.bin" -H 'Content-Type: application/octet-stream' >/dev/null
check "POST /v1/tx (binary) is 202 pending" sh -c "[ \"$(status)\" = 202 ] && jq -e '.status == \"pending\" and (.id | length) == 64' '$T/body' >/dev/null"
ID=$(jq -r .id "$T/body")
committed() { get "/v1/tx/$ID" >/dev/null; has_shape '.status == "committed"'; }
check "tx commits" wait_until 30 committed
check "GET /v1/tx/ID shape" has_shape '.id == "'"$ID"'" and (.height | type) == "number" and
	(.index | type) == "number" and .tx.target == "kv" and .tx.method == "put" and
	(.tx.nonce | type) == "string" and (.tx.expiry_height | type) == "string" and
	(.tx.sender | length) == 64 and (.tx_hex | type) == "string" and
	(.receipt.status == "ok") and (.receipt.gas_used | type) == "number" and
	(.receipt.events | type) == "array" and .proof.leaf == "'"$ID"'" and
	(.proof.tree_size | type) == "number" and (.proof.path | type) == "array" and
	.proof.tx_root == .block.tx_root and (.block.header_hex | type) == "string"'
cp "$T/body" "$T/tx.json"

# The same tx again is a replay; submitted as JSON it is the same id.
HEX=$(od -An -v -tx1 "$T/tx.bin" | tr -d ' \n')
get /v1/tx -H 'Content-Type: application/json' --data "{\"tx_hex\":\"$HEX\"}" >/dev/null
check "POST a committed tx again: 409 REPLAY" err_is 409 REPLAY

# ---------------------------------------------------------------- query verifies
check "query tx verifies (trust nodes.json)" sh -c \
	"'$BIN' query --node $URL --trust '$T/net/nodes.json' tx $ID >'$T/q.out' 2>&1 && grep -q '^verified' '$T/q.out'"
check "query tx verifies (trust genesis.json)" sh -c \
	"'$BIN' query --node $URL --trust '$T/net/genesis.json' tx $ID 2>&1 | grep -q '^verified'"
check "query tx verifies (--validators)" sh -c \
	"'$BIN' query --node $URL --validators $PK --chain-id $CHAIN tx $ID 2>&1 | grep -q '^verified'"
# The receipt, proven under the results root of the first header that
# executes the tx's block (PROTOCOL §14.7): a block or a few later. When
# that header executes several blocks (exec_height jumped: a proposer that
# caught up), the proof adds the block's path under its range root (§5.3).
# 20 txs are sent so that usually some land in such a range; every one of
# them must be proven.
rproof_object() { get "/v1/tx/$1" >/dev/null && has_shape '(.receipt_proof | type) == "object"'; }
RIDS=("$ID")
for k in $(seq 1 19); do
	H=$(height)
	ds tx build --chain-id "$CHAIN" --key "$KEY" --target kv --method put \
		--args "{\"key\":\"receipt$k\",\"value\":\"hello\"}" --expiry-height $((H + 50)) \
		--out "$T/rtx.unsigned" >/dev/null 2>&1
	ds tx sign --key "$KEY" --in "$T/rtx.unsigned" --out "$T/rtx.bin" >/dev/null 2>&1
	get /v1/tx --data-binary "@$T/rtx.bin" -H 'Content-Type: application/octet-stream' >/dev/null
	[ "$(status)" = 202 ] && RIDS+=("$(jq -r .id "$T/body")")
	sleep 0.$((RANDOM % 3))
done
PROVEN=0
RANGED=0
for rid in "${RIDS[@]}"; do
	wait_until 30 rproof_object "$rid" || { echo "# $rid: no receipt proof"; continue; }
	if [ "$rid" = "$ID" ]; then cp "$T/body" "$T/rcpt.json"; fi
	if has_shape '.receipt_proof.range != null'; then
		RANGED=$((RANGED + 1))
		[ -f "$T/range.json" ] || { cp "$T/body" "$T/range.json"; RANGE_ID=$rid; }
	fi
	"$BIN" query --node "$URL" --trust "$T/net/nodes.json" tx "$rid" >"$T/q.out" 2>&1 &&
		grep -q '^receipt status ok, .*(proven: leaf' "$T/q.out" && PROVEN=$((PROVEN + 1))
done
RID=$ID
echo "# receipts proven: $PROVEN of ${#RIDS[@]}; through a range root: $RANGED"
check "20 txs accepted" [ "${#RIDS[@]}" = 20 ]
check "every receipt proven by query (none left in no header)" [ "$PROVEN" = "${#RIDS[@]}" ]
check "GET /v1/tx receipt_proof shape" jq -e '.receipt_proof.header.exec_height >= .height and
	.receipt_proof.header.height > .height and .receipt_proof.receipt_hex == .receipt_hex and
	.receipt_proof.index == .index and .receipt_proof.tree_size == .block.tx_count and
	(.receipt_proof.path | type) == "array" and (.receipt_proof.leaf | length) == 64 and
	(.receipt_proof.header.header_hex | type) == "string" and (.receipt_proof.header.qc.hex | type) == "string" and
	(if .receipt_proof.range == null then .receipt_proof.header.exec_height == .height and
		.receipt_proof.results_root == .receipt_proof.header.results_root
	 else .receipt_proof.range.last == .receipt_proof.header.exec_height and
		.receipt_proof.range.first <= .height and .receipt_proof.range.first < .receipt_proof.range.last and
		.receipt_proof.range.index == .height - .receipt_proof.range.first and
		.receipt_proof.range.tree_size == .receipt_proof.range.last - .receipt_proof.range.first + 1 and
		(.receipt_proof.range.parent_header_hex | type) == "string" end)' "$T/rcpt.json"
check "query tx proves the receipt" sh -c \
	"'$BIN' query --node $URL --trust '$T/net/nodes.json' tx $RID >'$T/q.out' 2>&1 && grep -q '^verified' '$T/q.out' &&
	grep -q '^receipt status ok, .*(proven: leaf' '$T/q.out'"
SKEY=$(printf 'kv/' | od -An -v -tx1 | tr -d ' \n')$PK$(printf '/greeting' | od -An -v -tx1 | tr -d ' \n')
state_ok() { "$BIN" query --node "$URL" --trust "$T/net/nodes.json" state "$SKEY" >"$T/s.out" 2>&1 &&
	grep -q '"hello"' "$T/s.out"; }
check "query state verifies the written value" wait_until 20 state_ok
get "/v1/state?key=$SKEY&prove=1" >/dev/null
check "GET /v1/state shape" has_shape '.found == true and .value == "hello" and
	(.value_hex | type) == "string" and (.version | type) == "number" and
	(.root | length) == 64 and (.proof_hex | type) == "string" and (.header.header_hex | type) == "string"'
cp "$T/body" "$T/state.json"
check "query state verifies an absent key" sh -c \
	"'$BIN' query --node $URL --trust '$T/net/nodes.json' --key-str state nothing/here 2>&1 | grep -q 'absent'"
check "query block 1 verifies" sh -c \
	"'$BIN' query --node $URL --trust '$T/net/nodes.json' block 1 2>&1 | grep -q '^verified'"
check "query history 1 verifies" sh -c \
	"'$BIN' query --node $URL --trust '$T/net/nodes.json' history 1 2>&1 | grep -q '^verified'"
get /v1/history/1 >/dev/null
check "GET /v1/history/1 shape" has_shape '.height == 1 and (.hash | length) == 64 and
	(.newest | type) == "number" and (.history_root | length) == 64 and
	.tree_size == .newest and (.path | type) == "array" and .header.height == .newest'
cp "$T/body" "$T/hist.json"

# ---------------------------------------------------------------- query refuses
# flip CHAR_INDEX of the first match of a jq path's string in a saved response
tamper() { # tamper IN OUT JQ_PATH
	jq -c "$3 |= (.[0:10] + (if .[10:11] == \"0\" then \"1\" else \"0\" end) + .[11:])" "$1" >"$2"
}
refuses() { # refuses FILE what...
	local f=$1; shift
	! "$BIN" query --trust "$T/net/nodes.json" --from-file "$f" "$@" >"$T/r.out" 2>&1 &&
		grep -q 'NOT verified' "$T/r.out"
}
check "saved tx response verifies" sh -c "'$BIN' query --trust '$T/net/nodes.json' --from-file '$T/tx.json' tx $ID | grep -q ^verified"
tamper "$T/tx.json" "$T/t1.json" '.tx_hex'
check "tampered tx bytes refused" refuses "$T/t1.json" tx "$ID"
tamper "$T/tx.json" "$T/t2.json" '.block.header_hex'
check "tampered header refused" refuses "$T/t2.json" tx "$ID"
tamper "$T/tx.json" "$T/t3.json" '.block.qc.hex'
check "tampered QC refused" refuses "$T/t3.json" tx "$ID"
jq -c '.proof.index += 1' "$T/tx.json" >"$T/t4.json"
check "wrong leaf index refused" refuses "$T/t4.json" tx "$ID"
check "saved response with receipt proof verifies" sh -c \
	"'$BIN' query --trust '$T/net/nodes.json' --from-file '$T/rcpt.json' tx $RID | grep -q '(proven: leaf'"
jq -c '.receipt_proof.receipt_hex |= (.[0:70] + (if .[70:71] == "0" then "1" else "0" end) + .[71:]) |
	.receipt_hex = .receipt_proof.receipt_hex' "$T/rcpt.json" >"$T/r1.json"
check "tampered receipt refused" refuses "$T/r1.json" tx "$RID"
jq -c '.receipt_proof.receipt_hex |= (.[0:70] + (if .[70:71] == "0" then "1" else "0" end) + .[71:])' \
	"$T/rcpt.json" >"$T/r2.json"
check "receipt other than the one proven refused" refuses "$T/r2.json" tx "$RID"
jq -c '.receipt_proof.path += ["'"$(printf '%064d' 0)"'"]' "$T/rcpt.json" >"$T/r3.json"
check "tampered receipt proof refused" refuses "$T/r3.json" tx "$RID"
tamper "$T/rcpt.json" "$T/r4.json" '.receipt_proof.header.header_hex'
check "tampered receipt header refused" refuses "$T/r4.json" tx "$RID"
tamper "$T/rcpt.json" "$T/r5.json" '.receipt_proof.header.qc.hex'
check "tampered receipt header QC refused" refuses "$T/r5.json" tx "$RID"
jq -c '.receipt_proof.header = .block' "$T/rcpt.json" >"$T/r6.json"
check "receipt under a header of the wrong exec height refused" refuses "$T/r6.json" tx "$RID"
jq -c '.receipt_proof = "pending"' "$T/rcpt.json" >"$T/r7.json"
check "pending receipt proof: tx verified, receipt not yet provable" sh -c \
	"'$BIN' query --trust '$T/net/nodes.json' --from-file '$T/r7.json' tx $RID | grep -q 'receipt not yet provable'"
if [ -f "$T/range.json" ]; then
	check "saved response with a range receipt proof verifies" sh -c \
		"'$BIN' query --trust '$T/net/nodes.json' --from-file '$T/range.json' tx $RANGE_ID | grep -q 'under the range results_root'"
	jq -c 'del(.receipt_proof.range)' "$T/range.json" >"$T/g1.json"
	check "range receipt proof without its range refused" refuses "$T/g1.json" tx "$RANGE_ID"
	tamper "$T/range.json" "$T/g2.json" '.receipt_proof.range.parent_header_hex'
	check "range receipt proof with a tampered parent header refused" refuses "$T/g2.json" tx "$RANGE_ID"
	tamper "$T/range.json" "$T/g3.json" '.receipt_proof.range.path[0]'
	check "range receipt proof with a tampered range path refused" refuses "$T/g3.json" tx "$RANGE_ID"
else
	for w in "range receipt proof verifies" "without its range refused" "tampered parent header refused" \
		"tampered range path refused"; do
		skip "$w: none of the 20 blocks was executed in a range this run"
	done
fi
jq -c '.value_hex = "0403626f6f"' "$T/state.json" >"$T/t5.json"
check "tampered state value refused" refuses "$T/t5.json" state "$SKEY"
tamper "$T/hist.json" "$T/t6.json" '.hash'
check "tampered history hash refused" refuses "$T/t6.json" history 1
OTHER=$(printf '%064d' 0 | tr 0 1)
check "untrusted validator set refused" sh -c \
	"! '$BIN' query --validators $OTHER --from-file '$T/tx.json' tx $ID >/dev/null 2>&1"

# ---------------------------------------------------------------- bad inputs change nothing
T0=$(txs_total)
S0=$(get "/v1/state?key=$SKEY" | jq -r .value_hex)
post_json() { get /v1/tx -H 'Content-Type: application/json' --data "$1" >/dev/null; }
post_json '{"tx_hex": '
check "malformed JSON: 400 BAD_JSON" err_is 400 BAD_JSON
post_json '{"tx_hex":"00","extra":1}'
check "unknown field: 400 UNKNOWN_FIELD" err_is 400 UNKNOWN_FIELD
post_json '{"tx_hex":5}'
check "wrong type: 400 BAD_FIELD" err_is 400 BAD_FIELD
post_json '{"tx_hex":"zz"}'
check "bad hex: 400 BAD_FIELD" err_is 400 BAD_FIELD
post_json '{"tx_hex":"0102"}'
check "undecodable tx: 422 BAD_TX" err_is 422 BAD_TX
head -c 2000000 /dev/zero >"$T/big.bin"
get /v1/tx --data-binary "@$T/big.bin" -H 'Content-Type: application/octet-stream' >/dev/null
check "oversize body: 413 PAYLOAD_TOO_LARGE" err_is 413 PAYLOAD_TOO_LARGE
get /v1/tx --data-binary "@$T/tx.bin" -H 'Content-Type: text/plain' >/dev/null
check "wrong media type: 415" err_is 415 UNSUPPORTED_MEDIA_TYPE
get /v1/tx -X PUT --data-binary "@$T/tx.bin" -H 'Content-Type: application/octet-stream' >/dev/null
check "wrong method: 405" err_is 405 METHOD_NOT_ALLOWED
get /v1/nope >/dev/null
check "bad path: 404 NOT_FOUND" err_is 404 NOT_FOUND
get /v1/tx/nothex >/dev/null
check "bad tx id: 400 BAD_PARAM" err_is 400 BAD_PARAM
get "/v1/tx/$OTHER" >/dev/null
check "unknown tx: 404 NOT_FOUND" err_is 404 NOT_FOUND
get /v1/blocks/999999999 >/dev/null
check "future block: 404" err_is 404 NOT_FOUND
get '/v1/blocks?limit=1000' >/dev/null
check "limit over 100: 400 BAD_PARAM" err_is 400 BAD_PARAM
get '/v1/state?key=abc' >/dev/null
check "odd hex key: 400 BAD_PARAM" err_is 400 BAD_PARAM
get '/v1/history/999999999' >/dev/null
check "history past the tip: 400 BAD_PARAM" err_is 400 BAD_PARAM
sleep 1
check "bad inputs committed nothing" sh -c "[ '$(txs_total)' = '$T0' ]"
check "state unchanged" sh -c "[ '$(get "/v1/state?key=$SKEY" | jq -r .value_hex)' = '$S0' ]"

# ---------------------------------------------------------------- events
curl -s -N --max-time 3 "$URL/v1/events?from=0" >"$T/sse.txt" 2>/dev/null
check "SSE replays from genesis" grep -q '^id: 0$' "$T/sse.txt"
check "SSE has block events" grep -q '^event: block$' "$T/sse.txt"
check "SSE has the tx event" grep -q "\"id\":\"$ID\"" "$T/sse.txt"
check "SSE ids strictly increase" sh -c "grep '^id: ' '$T/sse.txt' | cut -c5- | awk 'NR>1 && \$1<=p {exit 1} {p=\$1}'"
curl -s -N --max-time 3 -H 'Last-Event-ID: 1000000' "$URL/v1/events?types=block" >"$T/sse2.txt" 2>/dev/null
check "SSE resumes after Last-Event-ID" sh -c "[ \"\$(grep '^id: ' '$T/sse2.txt' | head -1)\" = 'id: 2000000' ]"

# ---------------------------------------------------------------- clean stop
kill -TERM "${PIDS[0]}"
rc=0
for _ in $(seq 1 100); do kill -0 "${PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
if kill -0 "${PIDS[0]}" 2>/dev/null; then
	nok "node stops on SIGTERM within 10 s"
else
	wait "${PIDS[0]}"; rc=$?
	PIDS[0]=""
	check "node exits 0 on SIGTERM" [ "$rc" = 0 ]
fi

echo "1..$n"
[ $fails = 0 ]
