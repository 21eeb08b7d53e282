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

pick_base $((2 * N))

CHAIN=gov-test
base_port_api

jqe() { jq -e "$@" >/dev/null; }
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
