#!/usr/bin/env bash
# Governance through real nodes: 4 node processes on loopback; the genesis
# written by init (organisations, roles, kv.open, credit.lua and identity.lua
# pre-deployed). org0 proposes set_param, org1..org3 vote, the proposal
# passes and executes (GET /v1/proposals, GET /v1/state); accounts without
# a role are refused with a clear receipt error; credit.issue from an org
# admin without issuer:<category> fails, with the role it succeeds. TAP
# output. Needs $DANSHARI_BIN, curl and jq.
set -u
TAG=gov
. "$(dirname "$0")/../lib/cluster.sh"

if [ ! -x "$BIN" ] || ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
	echo "1..1"
	echo "not ok 1 - danshari binary ($BIN), curl or jq missing"
	exit 1
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=0
for _ in $(seq 1 50); do
	b=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
	b=$((b - b % 2))
	free=1
	for k in $(seq 0 $((2 * N - 1))); do port_free $((b + k)) || { free=0; break; }; done
	if [ $free = 1 ]; then BASE=$b; break; fi
done
if [ $BASE = 0 ]; then
	echo "1..1"
	echo "not ok 1 - no free port range found"
	exit 1
fi
echo "# base port $BASE, dir $T"

CHAIN=gov-test
api() { echo "http://127.0.0.1:$((BASE + 2 * $1 + 1))"; }
get() { curl -s --max-time 3 "$(api "$1")$2"; }
height() { get "$1" /v1/status | jq -r '.height // empty' 2>/dev/null; }
pk_of() { sed -n 's/^public //p' "$1"; }

wait_until() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
all_at_least() {
	local h=$1; shift
	for i in "$@"; do
		local x
		x=$(height "$i")
		[ -n "$x" ] && [ "$x" -ge "$h" ] || return 1
	done
}

# send NODE KEYFILE UNSIGNED-BUILDER-ARGS...: builds with the given 'danshari'
# subcommand words (tx build ... / gov ...), signs with KEYFILE, POSTs to
# NODE, waits (bounded) for the commit; the tx JSON is left in $T/last.json.
seq_no=0
send() {
	local node=$1 key=$2; shift 2
	seq_no=$((seq_no + 1))
	local h
	h=$(height "$node")
	[ -n "$h" ] || return 1
	rm -f "$T/last.json"
	ds "$@" --chain-id $CHAIN --key "$key" --expiry-height $((h + 200)) 2>>"$T/err" |
		ds tx sign --key "$key" --hex --out "$T/s$seq_no.hex" 2>>"$T/err" || return 1
	local resp id
	resp=$(curl -s --max-time 10 -XPOST -H 'Content-Type: application/json' \
		-d "{\"tx_hex\":\"$(cat "$T/s$seq_no.hex")\"}" "$(api "$node")/v1/tx")
	id=$(echo "$resp" | jq -r '.id // empty' 2>/dev/null)
	[ -n "$id" ] || { echo "# submit refused: $resp"; return 1; }
	committed() { get "$node" "/v1/tx/$id" >"$T/last.json" && [ "$(jq -r .status "$T/last.json")" = committed ]; }
	wait_until 30 committed
}
jqe() { jq -e "$@" >/dev/null; }
receipt() { jq -r ".receipt.$1" "$T/last.json" 2>/dev/null; }
receipt_ok() { [ "$(receipt status)" = ok ]; }
receipt_error_has() { [ "$(receipt status)" = failed ] && receipt error | grep -q -- "$1"; }

echo "1..18"

ds init --nodes $N --dir "$T/c" --base-port $BASE --chain-id $CHAIN >"$T/init.out" 2>&1
check "init writes a consortium with a governance genesis" \
	jqe '.governance.params["kv.open"] == 1 and (.organisations[1].roles | index("writer")) != null and .validators[2].org == "org2"' "$T/c/genesis.json"
for i in $(seq 0 $((N - 1))); do
	"$BIN" node --home "$T/c/node$i" >>"$T/log$i" 2>&1 &
	PIDS[$i]=$!
done
if ! wait_until 60 all_at_least 2 0 1 2 3; then
	nok "cluster reaches height 2"
	for i in 0 1 2 3; do echo "# node$i:"; tail -5 "$T/log$i" | sed 's/^/#   /'; done
	exit 1
fi
ok "cluster reaches height 2"

get 0 /v1/contracts >"$T/contracts.json"
check "GET /v1/contracts lists credit and identity, version 1, deployed at genesis" \
	jqe '[.contracts[] | select(.version == 1 and .deployed_height == 0 and .org == "org0") | .name] == ["credit", "identity"] and
		(.contracts[0].code_hash | test("^[0-9a-f]{64}$")) and .contracts[0].roles.appeal == ""' "$T/contracts.json"

K0=$T/c/node0/node.key K1=$T/c/node1/node.key K2=$T/c/node2/node.key K3=$T/c/node3/node.key
PK1=$(pk_of "$K1")

# ---- proposal lifecycle ------------------------------------------------
send 0 "$K0" gov propose --kind set_param --payload '{"name":"gov.lifetime","value":777}' &&
	receipt_ok
check "org0 proposes set_param gov.lifetime = 777" [ $? = 0 ]
PID_=$(receipt 'return.id')
get 1 "/v1/proposals?status=open" >"$T/p1.json"
check "GET /v1/proposals shows it open, proposed by org0" \
	jqe --argjson id "${PID_:-0}" '.proposals[0] | .id == $id and .status == "open" and .proposer_org == "org0" and .kind == "set_param" and .payload.value == 777' "$T/p1.json"
send 1 "$K1" gov vote --id "${PID_:-0}" --approve && receipt_ok &&
	send 2 "$K2" gov vote --id "${PID_:-0}" --approve && receipt_ok
check "org1 and org2 approve" [ $? = 0 ]
get 0 /v1/proposals >"$T/p2.json"
check "two approvals of four organisations do not pass it yet (votes_for 2)" \
	jqe '.proposals[0] | .status == "open" and .votes_for == 2 and ([.votes[].org] | sort) == ["org1", "org2"]' "$T/p2.json"
send 3 "$K3" gov vote --id "${PID_:-0}" --approve && receipt_ok
check "org3 approves" [ $? = 0 ]
get 2 /v1/proposals >"$T/p3.json"
check "the third approval passes and executes it" \
	jqe '.proposals[0] | .status == "executed" and .votes_for == 3 and .votes_against == 0 and ([.history[].status] | index("passed")) != null' "$T/p3.json"
state_param() { get "$1" "/v1/state?key_str=sys/params" | jq -e '.value["gov.lifetime"] == 777' >/dev/null; }
all_params() { state_param 0 && state_param 1 && state_param 2 && state_param 3; }
check "GET /v1/state shows gov.lifetime = 777 on every node" wait_until 10 all_params
send 0 "$K0" gov vote --id "${PID_:-0}" --approve
check "a vote on an executed proposal fails: $(receipt error)" receipt_error_has "is executed"

# ---- refusals ----------------------------------------------------------
ds keygen --out "$T/stranger.key" >/dev/null 2>&1
send 1 "$T/stranger.key" gov propose --kind set_param --payload '{"name":"kv.open","value":0}'
check "a key without an account cannot propose: $(receipt error)" receipt_error_has "lacks role admin"
send 1 "$T/stranger.key" tx build --target credit --method record --args '{"record":"org1:1"}'
check "nor call credit.lua: $(receipt error)" receipt_error_has "lacks role contract.call"

# ---- credit.lua with and without the issuer role -----------------------
SUBJ=$(printf 'subject-1' | sha256sum | cut -c1-64)
SPK=$(printf 'subject-1-key' | sha256sum | cut -c1-64)
CM=$(printf 'details' | sha256sum | cut -c1-64)
EXP=$(($(date +%s) * 1000 + 86400000 * 365))
ISSUE="{\"subject\":\"$SUBJ\",\"category\":\"tax.overdue\",\"severity\":2,\"region\":\"north\",\"expiry_ms\":$EXP,\"commitment\":\"$CM\"}"
send 1 "$K1" tx build --target account --method set_roles \
	--args "{\"pk\":\"$PK1\",\"roles\":[\"admin\",\"contract.call\",\"identity:register\"]}" && receipt_ok &&
	send 1 "$K1" tx build --target credit --method bind_subject \
		--args "{\"subject\":\"$SUBJ\",\"pk\":\"$SPK\",\"kind\":\"person\",\"key_id\":1}" && receipt_ok
check "org1's admin takes contract.call and identity:register and binds a subject" [ $? = 0 ]
send 1 "$K1" tx build --target credit --method issue --args "$ISSUE"
check "credit.issue without issuer:tax.overdue fails: $(receipt error)" \
	receipt_error_has "lacks role issuer:tax.overdue"
send 1 "$K1" tx build --target account --method set_roles \
	--args "{\"pk\":\"$PK1\",\"roles\":[\"admin\",\"contract.call\",\"identity:register\",\"issuer:tax.overdue\"]}" &&
	receipt_ok && send 1 "$K1" tx build --target credit --method issue --args "$ISSUE" && receipt_ok
check "with issuer:tax.overdue it succeeds: record $(receipt return)" [ "$(receipt return)" = "org1:1" ]
check "the record is in the contract's state" \
	sh -c "curl -s --max-time 3 '$(api 0)/v1/state?key_str=contract/credit/rec/org1:1' | jq -e '.value.org == \"org1\" and .value.category == \"tax.overdue\"' >/dev/null"

# ---- clean stop ----------------------------------------------------------
for i in $(seq 0 $((N - 1))); do kill -TERM "${PIDS[$i]}" 2>/dev/null; done
stopped=0
for i in $(seq 0 $((N - 1))); do
	if timeout 20 tail --pid="${PIDS[$i]}" -f /dev/null 2>/dev/null; then
		wait "${PIDS[$i]}" 2>/dev/null && stopped=$((stopped + 1))
		PIDS[$i]=""
	fi
done
check "SIGTERM stops all nodes with status 0 ($stopped/$N)" [ $stopped = $N ]

[ $fails = 0 ]
