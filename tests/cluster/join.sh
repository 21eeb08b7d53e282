#!/usr/bin/env bash
# A node that was not in genesis.json joins a running consortium, following
# docs/OPERATIONS.md "Adding and removing a validator": 4 validators run;
# node4's key is appended to every node's genesis.json "observers"; the
# validators restart one at a time (the chain goes on: at most one down);
# node4 starts, follows as an observer, is added by governance and becomes
# a validator that votes. The chain's genesis is unchanged (the observer
# list is not hashed). TAP output. Needs $DANSHARI_BIN, curl and jq.
set -u
TAG=join
. "$(dirname "$0")/../lib/cluster.sh"
N=5
pick_base $((2 * N)) || exit 1
base_port_api
CHAIN=join-test

genesis_hash() { get "$1" /v1/status | jq -r '.genesis_hash // empty'; }
epoch_is() {
	get "$1" /v1/validators | jq -e --argjson e "$2" --argjson c "$3" '.epoch == $e and (.validators | length) == $c' >/dev/null
}
votes_sent() { get "$1" /metrics | awk '$1 == "danshari_votes_sent_total" {print $2}'; }
node4_voted() { local v; v=$(votes_sent 4); [ -n "$v" ] && [ "$v" -gt 0 ]; }

echo "1..9"
ds init --nodes 4 --dir "$T/c" --base-port "$BASE" --chain-id $CHAIN >"$T/init.out" 2>&1
for i in 0 1 2 3; do start "$i"; done
if ! wait_until 60 all_at_least 2 0 1 2 3; then
	nok "4 validators reach height 2"
	for i in 0 1 2 3; do log_tail "$T/log$i" 5; done
	exit 1
fi
ok "4 validators reach height 2"
GH=$(genesis_hash 0)

# ---- node4: key, config, and its entry in every genesis.json ---------------
mkdir -p "$T/c/node4"
ds keygen --out "$T/c/node4/node.key" >/dev/null 2>&1
PK4=$(pk_of "$T/c/node4/node.key")
P2P4="127.0.0.1:$((BASE + 8))"
jq --arg h "$T/c/node4" --arg p "$P2P4" --arg a "127.0.0.1:$((BASE + 9))" \
	'.node_id = "node4" | .home = $h | .p2p_listen = $p | .api_listen = $a' \
	"$T/c/node3/config.json" >"$T/c/node4/config.json"
jq --arg pk "$PK4" --arg p "$P2P4" '.observers = [{"name": "node4", "public_key": $pk, "p2p": $p}]' \
	"$T/c/genesis.json" >"$T/genesis.new" && mv "$T/genesis.new" "$T/c/genesis.json"
check "node4's key is appended to genesis.json observers" jq -e '.observers[0].name == "node4"' "$T/c/genesis.json"

# ---- rolling restart: one validator down at a time, the chain goes on ------
rolled=0
for i in 0 1 2 3; do
	h=$(max_height 0 1 2 3)
	stop "$i" || break
	start "$i"
	wait_until 30 all_at_least $((h + 2)) 0 1 2 3 || { log_tail "$T/log$i" 10; break; }
	rolled=$((rolled + 1))
done
check "the validators restart one at a time with the new node list and keep committing ($rolled/4)" [ $rolled = 4 ]
check "the genesis hash is unchanged ($GH)" [ "$(genesis_hash 0)" = "$GH" ] && [ -n "$GH" ]

start 4
H=$(max_height 0 1 2 3)
if wait_until 60 all_at_least "$H" 4; then ok "node4 starts as an observer and syncs to height $H"; else
	nok "node4 starts as an observer and syncs to height $H"; log_tail "$T/log4" 15; fi
check "node4 is an observer (not in epoch 0's set, no votes)" sh -c "[ \"$(votes_sent 4)\" = 0 ]"

# ---- governance adds it --------------------------------------------------
K0=$T/c/node0/node.key K1=$T/c/node1/node.key K2=$T/c/node2/node.key
ADD="{\"pk\":{\"\$bytes\":\"$PK4\"},\"addr\":\"$P2P4\",\"org\":\"org0\"}"
pass_add() {
	send 0 "$K0" gov propose --kind add_validator --payload "$ADD" && receipt_ok || return 1
	local id
	id=$(receipt 'return.id')
	send 1 "$K1" gov vote --id "$id" --approve && receipt_ok &&
		send 1 "$K2" gov vote --id "$id" --approve && receipt_ok &&
		send 0 "$K0" gov vote --id "$id" --approve && receipt_ok
}
check "governance passes add_validator for node4" pass_add
all_epoch1() { for i in 0 1 2 3 4; do epoch_is "$i" 1 5 || return 1; done; }
if wait_until 60 all_epoch1; then ok "all 5 nodes move to epoch 1 with 5 validators"; else
	nok "all 5 nodes move to epoch 1 with 5 validators"; log_tail "$T/log4" 15; fi
check "node4 votes" wait_until 30 node4_voted

[ $fails = 0 ]
