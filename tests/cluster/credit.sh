#!/usr/bin/env bash
# End-to-end credit records on a real 4-node loopback cluster (issue 6,
# docs/PRIVACY.md "On the running consortium"). Organisations: city_a (a
# city credit bureau, node0), province_b (a provincial market regulator,
# node1), bank_c (node2), court_d (node3). Court D issues a judgment about
# subject S and stores the details on its node; bank C reads S's profile
# with a verified state proof, is refused details without a grant (audited),
# gets S's signed consent, is granted, and receives the details from D's
# node over the node channel (verified against the on-chain commitment);
# B without a grant is refused (audited); bad inputs change nothing; the
# record is corrected, then erased while C's node is down; a third record
# is granted to C while C's node is down (delivered from D's outbox when it
# is back, then acknowledged) and erased while C's node is down, C's node
# restarting on a store copied from A's that already holds the erase block
# (erased by the start-up catch-up); after all this no node's files or logs
# hold the subject's name or national id and verify-chain passes everywhere.
# TAP output. Needs $DANSHARI_BIN, curl and jq; loopback only; bounded
# waits; every process is killed by PID and every file removed on exit.
set -u
TAG=credit
DS_TIMEOUT_S=30 # one ds call (init of a consortium, tx build/sign)
. "$(dirname "$0")/../lib/cluster.sh"

for tool in curl jq od; do
	command -v $tool >/dev/null || { echo "1..1"; echo "not ok 1 - $tool is needed by this test"; exit 1; }
done
[ -x "$BIN" ] || { echo "1..1"; echo "not ok 1 - no danshari binary at $BIN"; exit 1; }

# Eight free consecutive ports (p2p, api per node), outside the ephemeral range.
P=$(pick_ports 8)
[ "$P" = 0 ] && { echo "1..1"; echo "not ok 1 - no free ports"; exit 1; }
url() { echo "http://127.0.0.1:$((P + 2 * $1 + 1))"; }
echo "# ports $P-$((P + 7)), dir $T"

# The test subject's personal data: must never reach a block, a state value,
# a log line or (after erasure) any node file.
S_NAME="Qiaoyun Testsubject-Linwood"
S_NATID="11010519491231002X"

# ---------------------------------------------------------------- helpers
get() { # get NODE PATH [curl args...]: body on stdout, status in $T/status
	local n=$1 p=$2; shift 2
	curl -s --max-time 5 -o "$T/body" -w '%{http_code}' "$@" "$(url "$n")$p" >"$T/status"
	cat "$T/body" 2>/dev/null
}
status() { cat "$T/status"; }
has_shape() { jq -e "$1" "$T/body" >/dev/null 2>&1; }
height() { get "$1" /v1/status | jq -r '.height // empty' 2>/dev/null; }
above() { local h; h=$(height "$1"); [ -n "$h" ] && [ "$h" -ge "$2" ]; }
metric() { # metric NODE NAME: counter value (0 when absent)
	local v
	v=$(curl -s --max-time 5 "$(url "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}')
	echo "${v:-0}"
}

# stop_i I / start_i I: SIGTERM node I and wait until it is gone (bounded);
# start it again on the same home and ports once they are free.
stop_i() {
	local p=${PIDS[$1]} k
	kill -TERM "$p" 2>/dev/null
	for k in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$p" 2>/dev/null && return 1
	wait "$p" 2>/dev/null
	return 0
}
start_i() {
	wait_until 20 ports_free $((P + 2 * $1)) $((P + 2 * $1 + 1)) || echo "# node$1: ports still in use"
	"$BIN" node --home "$T/net/node$1" --log-level info >>"$T/net/node$1/node.log" 2>&1 &
	PIDS[$1]=$!
	wait_until 30 above "$1" 0
}

# call NODE KEYFILE CREDIT-SUBCOMMAND ARGS...: builds, signs and submits a
# credit.lua call through NODE's API and waits until it is committed. The
# tx JSON ends up in $T/tx.json; returns 1 when it did not commit.
call() {
	local n=$1 key=$2; shift 2
	local h
	h=$(height "$n")
	rm -f "$T/u.bin" "$T/s.bin"
	ds credit "$@" --chain-id "$CHAIN" --key "$key" --expiry-height $((h + 100)) \
		--out "$T/u.bin" >"$T/call.err" 2>&1 || return 1
	ds tx sign --key "$key" --in "$T/u.bin" --out "$T/s.bin" >>"$T/call.err" 2>&1 || return 1
	get "$n" /v1/tx --data-binary "@$T/s.bin" -H 'Content-Type: application/octet-stream' >/dev/null
	[ "$(status)" = 202 ] || return 1
	local id
	id=$(jq -r .id "$T/body")
	committed() { get "$n" "/v1/tx/$id" >/dev/null && has_shape '.status == "committed" and .receipt != null'; }
	wait_until 30 committed || return 1
	cp "$T/body" "$T/tx.json"
}
rstatus() { jq -r .receipt.status "$T/tx.json"; }
rerror() { jq -r .receipt.error "$T/tx.json"; }
rret() { jq -c .receipt.return "$T/tx.json"; }

# ---------------------------------------------------------------- consortium
ds init --nodes 4 --dir "$T/net" --base-port "$P" >"$T/init.log" 2>&1 ||
	bail "danshari init failed: $(head -c 300 "$T/init.log")"
G=$T/net/genesis.json
jq -e '.governance.contracts | map(.name) | index("credit") != null' "$G" >/dev/null 2>&1 ||
	bail "genesis does not deploy contracts/credit.lua"
# One organisation per node; each has an operator account (its own key,
# not the node key) holding the roles of its office.
mkdir -m 700 "$T/keys"
for o in a b c d; do
	ds keygen --out "$T/keys/$o.key" >"$T/keys/$o.pk" 2>/dev/null || bail "keygen"
done
jq --arg a "$(cat "$T/keys/a.pk")" --arg b "$(cat "$T/keys/b.pk")" \
	--arg c "$(cat "$T/keys/c.pk")" --arg d "$(cat "$T/keys/d.pk")" '
	def org(i; id; roles): .organisations[i].name = id | .organisations[i].roles = roles |
		.validators[i].org = id;
	org(0; "city_a"; ["contract.call", "identity:register", "issuer:tax.overdue"]) |
	org(1; "province_b"; ["contract.call", "issuer:licence.revoked"]) |
	org(2; "bank_c"; ["contract.call"]) |
	org(3; "court_d"; ["contract.call", "identity:register", "issuer:court.judgment", "legal:erase"]) |
	.governance.contracts |= map(.org = "court_d") |
	.governance.accounts = [
		{public_key: $a, org: "city_a", roles: .organisations[0].roles},
		{public_key: $b, org: "province_b", roles: .organisations[1].roles},
		{public_key: $c, org: "bank_c", roles: .organisations[2].roles},
		{public_key: $d, org: "court_d", roles: .organisations[3].roles}]
' "$G" >"$G.new" && mv "$G.new" "$G" || bail "cannot edit genesis.json"
CHAIN=$(jq -r .chain_id "$G")
KA=$T/keys/a.key
KB=$T/keys/b.key
KC=$T/keys/c.key
KD=$T/keys/d.key
for i in 0 1 2 3; do
	"$BIN" node --home "$T/net/node$i" --log-level info >"$T/net/node$i/node.log" 2>&1 &
	PIDS+=($!)
done
up() { for i in 0 1 2 3; do above "$i" 2 || return 1; done; }
wait_until 60 up || bail "4-node cluster did not reach height 2: $(tail -3 "$T/net/node0/node.log")"
ok "4-node cluster with city_a, province_b, bank_c, court_d runs"
get 3 /v1/contracts >/dev/null
check "credit contract deployed at genesis" has_shape '.contracts | map(.name) | index("credit") != null'

# ---------------------------------------------------------------- subject S
C=$T/client # the client side: never inside a node's directory
mkdir -m 700 "$C"
ds credit subject-key --out "$C/subject.key" >/dev/null 2>&1 || bail "subject-key"
S=$(ds credit subject-id --key "$C/subject.key" --kind person --id "$S_NATID" 2>/dev/null)
[[ "$S" =~ ^[0-9a-f]{64}$ ]] || bail "subject-id gave '$S'"
SPK=$(ds keygen --out "$C/s.key" 2>/dev/null)
call 0 "$KA" bind-subject --subject "$S" --pk "$SPK" --kind person --key-id 1 && [ "$(rstatus)" = ok ]
check "city_a binds S's public key (identity:register)" [ $? = 0 ]

# ---------------------------------------------------------------- D issues
jq -n --arg n "$S_NAME" --arg id "$S_NATID" \
	'{name: $n, national_id: $id, case_no: "2026-civ-0042", judgment: "repay 48000 CNY", closed: "no"}' \
	>"$C/fields.json"
ds credit commit --fields "$C/fields.json" --out "$C/details.json" >"$C/commit.out" 2>&1
COMMIT=$(jq -r .commitment "$C/details.json")
EXP=$(( $(date +%s) * 1000 + 3600 * 1000 ))
call 3 "$KD" issue --subject "$S" --category court.judgment --severity 4 --region prov-b.city-a \
	--expiry-ms "$EXP" --details "$C/details.json"
check "court_d issues a court.judgment about S" [ "$(rstatus)" = ok ]
REC=$(jq -r .receipt.return "$T/tx.json")
check "record id is court_d:1" [ "$REC" = "court_d:1" ]

# Bad issues: each is a failed receipt and changes nothing.
# Lagged execution: a proof is served for the newest certified state, so
# comparisons of the newest state ask for it without a proof (prove=0).
get 2 "/v1/subjects/$S/profile?prove=0" >/dev/null
P0=$(jq -c .value "$T/body")
call 2 "$KC" issue --subject "$S" --category court.judgment --severity 1 --region x \
	--expiry-ms "$EXP" --commitment "$COMMIT"
check "bank_c without issuer:court.judgment is refused" \
	bash -c "[ '$(rstatus)' = failed ] && grep -q 'lacks role issuer:court.judgment' <<<'$(rerror)'"
UNKNOWN=$(printf '%064d' 7)
call 3 "$KD" issue --subject "$UNKNOWN" --category court.judgment --severity 1 --region x \
	--expiry-ms "$EXP" --commitment "$COMMIT"
check "an unknown subject is refused" bash -c "[ '$(rstatus)' = failed ] && grep -q 'unknown subject' <<<'$(rerror)'"
get 2 "/v1/subjects/$S/profile?prove=0" >/dev/null
check "refused issues changed nothing" [ "$(jq -c .value "$T/body")" = "$P0" ]

# ---------------------------------------------------------------- details on D
rec_url() { echo "/v1/records/$REC/details"; }
get 3 "$(rec_url)" -H 'Content-Type: application/json' --data "@$C/details.json" >/dev/null
check "D stores the details: 201" bash -c "[ '$(status)' = 201 ] && jq -e '.stored == true' '$T/body' >/dev/null"
get 3 "$(rec_url)" >/dev/null
check "D's node serves them, verified against the chain" has_shape \
	".verified == true and .commitment == \"$COMMIT\" and (.fields | length) == 5"
jq '.fields[0].value = "tampered"' "$C/details.json" >"$C/tampered.json"
jq 'del(.commitment)' "$C/tampered.json" >"$C/tampered2.json"
get 3 "$(rec_url)" -H 'Content-Type: application/json' --data "@$C/tampered2.json" >/dev/null
check "tampered details refused: 409 COMMITMENT_MISMATCH" bash -c \
	"[ '$(status)' = 409 ] && jq -e '.error.code == \"COMMITMENT_MISMATCH\"' '$T/body' >/dev/null"
get 2 "$(rec_url)" -H 'Content-Type: application/json' --data "@$C/details.json" >/dev/null
check "another organisation's node cannot store them: 403" [ "$(status)" = 403 ]
get 2 "$(rec_url)" >/dev/null
check "bank_c's node holds no details yet: 404" [ "$(status)" = 404 ]

# ---------------------------------------------------------------- C reads the profile
prof_has() {
	get 2 "/v1/subjects/$S/profile" >/dev/null && has_shape \
		".found == true and (.value.records | map(.id) | index(\"$REC\") != null) and (.proof_hex | type) == \"string\" and (.header.header_hex | type) == \"string\""
}
check "C reads S's profile with a proof" wait_until 20 prof_has
PKEY=$(printf 'contract/credit/profile/%s' "$S" | od -An -v -tx1 | tr -d ' \n')
prof_ok() { "$BIN" query --node "$(url 2)" --trust "$G" state "$PKEY" >"$T/q.out" 2>&1 && grep -q '^verified' "$T/q.out"; }
check "danshari query verifies the profile against the trusted validators" wait_until 20 prof_ok
get 2 "/v1/records/$REC" >/dev/null
check "GET /v1/records/{id}: record with history" has_shape \
	'.found == true and .value.status == "active" and (.value.history | length) == 1 and .value.org == "court_d"'

# ---------------------------------------------------------------- access without a grant
call 2 "$KC" access --record "$REC" --purpose loan-review
check "C's access without a grant is refused (audited)" bash -c \
	"[ '$(rstatus)' = ok ] && [ '$(jq -r .receipt.return.granted "$T/tx.json")' = false ] && [ '$(jq -r .receipt.return.reason "$T/tx.json")' = 'no grant' ]"
sleep 1
get 2 "$(rec_url)" >/dev/null
check "no details sent on a refused access" [ "$(status)" = 404 ]

# ---------------------------------------------------------------- consent
CEXP=$(( $(date +%s) * 1000 + 1800 * 1000 ))
ds credit consent --key "$C/s.key" --subject "$S" --record "$REC" --grantee bank_c \
	--expiry-ms "$CEXP" --chain-id "$CHAIN" --purpose loan-review --out "$C/consent.json" >/dev/null 2>&1
jq '.sig = (.sig[0:10] + (if .sig[10:11] == "0" then "1" else "0" end) + .sig[11:])' "$C/consent.json" >"$C/forged.json"
check "a forged consent is refused by the CLI" bash -c \
	"! '$BIN' credit grant --consent '$C/forged.json' --chain-id $CHAIN --key '$C/s.key' --expiry-height 999999 --out '$T/f.bin' 2>'$T/f.err' && grep -q 'forged consent' '$T/f.err'"
check "an expired consent is refused by the CLI" bash -c \
	"! '$BIN' credit grant --consent '$C/consent.json' --now-ms $((CEXP + 1)) --chain-id $CHAIN --key '$C/s.key' --expiry-height 999999 --out '$T/f2.bin' 2>'$T/f.err' && grep -q 'expired consent' '$T/f.err'"
# The same forged consent sent to the chain anyway (built by hand) fails there too.
H=$(height 2)
jq -c '{record, grantee, expiry_ms, purpose, basis: "consent", chain_id, sig: {"$bytes": .sig}}' \
	"$C/forged.json" >"$T/forged.args"
ds tx build --chain-id "$CHAIN" --key "$C/s.key" --target credit --method grant \
	--args "$(cat "$T/forged.args")" --expiry-height $((H + 100)) --out "$T/fu.bin" >/dev/null 2>&1
ds tx sign --key "$C/s.key" --in "$T/fu.bin" --out "$T/fs.bin" >/dev/null 2>&1
get 2 /v1/tx --data-binary "@$T/fs.bin" -H 'Content-Type: application/octet-stream' >/dev/null
FID=$(jq -r .id "$T/body")
fdone() { get 2 "/v1/tx/$FID" >/dev/null && has_shape '.status == "committed" and .receipt != null'; }
wait_until 30 fdone
check "a forged consent fails on chain" bash -c \
	"jq -e '.receipt.status == \"failed\" and (.receipt.error | test(\"does not verify\"))' '$T/body' >/dev/null"
call 2 "$C/s.key" grant --consent "$C/consent.json"
check "S's signed consent for bank_c is recorded" [ "$(rstatus)" = ok ]

# ---------------------------------------------------------------- granted access
R0=$(metric 2 danshari_credit_details_received_total)
call 2 "$KC" access --record "$REC" --purpose loan-review
check "C's access is granted" bash -c "[ '$(jq -r .receipt.return.granted "$T/tx.json")' = true ]"
have_c() { get 2 "$(rec_url)" >/dev/null && [ "$(status)" = 200 ]; }
check "D's node sends the details; C's node verifies and stores them" wait_until 20 have_c
check "C's copy matches the on-chain commitment" has_shape ".verified == true and .onchain_commitment == \"$COMMIT\""
check "C's node counted one received details" [ "$(metric 2 danshari_credit_details_received_total)" = $((R0 + 1)) ]
check "D's node counted one sent details" [ "$(metric 3 danshari_credit_details_sent_total)" -ge 1 ]
get 0 "$(rec_url)" >/dev/null
check "city_a's node did not get them" [ "$(status)" = 404 ]

# ---------------------------------------------------------------- B has no grant
call 1 "$KB" access --record "$REC" --purpose curiosity
check "province_b without a grant is refused" bash -c "[ '$(jq -r .receipt.return.granted "$T/tx.json")' = false ]"
sleep 1
get 1 "$(rec_url)" >/dev/null
check "province_b's node holds no details" [ "$(status)" = 404 ]

# ---------------------------------------------------------------- audit
get 2 "/v1/subjects/$S/accesses" >/dev/null
check "S's audit lists exactly the three attempts, newest first" has_shape '
	.total == 3 and (.entries | length) == 3 and
	(.entries[0] | .who == "province_b" and .granted == false and .reason == "no grant") and
	(.entries[1] | .who == "bank_c" and .granted == true and .grant == "consent") and
	(.entries[2] | .who == "bank_c" and .granted == false and .reason == "no grant") and
	(.entries | all(.record == "'"$REC"'"))'
get 2 "/v1/subjects/$S/accesses?limit=1&before=3" >/dev/null
check "audit pages with before/limit" has_shape '(.entries | length) == 1 and .entries[0].n == 2'
get 2 "/v1/subjects/NOTHEX/accesses" >/dev/null
check "a malformed subject id: 400" [ "$(status)" = 400 ]

# ---------------------------------------------------------------- an expired grant
GEXP=$(( $(date +%s) * 1000 + 8000 ))
ds credit consent --key "$C/s.key" --subject "$S" --record "$REC" --grantee province_b \
	--expiry-ms "$GEXP" --chain-id "$CHAIN" --out "$C/consent_b.json" >/dev/null 2>&1
call 1 "$C/s.key" grant --consent "$C/consent_b.json"
check "S grants province_b a short consent" [ "$(rstatus)" = ok ]
while [ $(( $(date +%s) * 1000 )) -le $((GEXP + 1500)) ]; do sleep 0.5; done
call 1 "$KB" access --record "$REC"
check "access under an expired grant is refused" bash -c \
	"[ '$(jq -r .receipt.return.granted "$T/tx.json")' = false ] && [ '$(jq -r .receipt.return.reason "$T/tx.json")' = 'grant expired' ]"
get 1 "$(rec_url)" >/dev/null
check "province_b's node still holds no details" [ "$(status)" = 404 ]

# ---------------------------------------------------------------- correct, then erase
call 3 "$KD" correct --record "$REC" --reason "amount corrected on appeal" --severity 3
check "court_d corrects the record (version 2)" bash -c "[ '$(rstatus)' = ok ] && [ '$(rret)' = 2 ]"
get 3 "/v1/records/$REC?prove=0" >/dev/null
check "the record's history keeps the correction" has_shape \
	'.value.version == 2 and (.value.history | map(.event)) == ["issue", "correct"]'
# bank_c's node, which holds a copy, is down while the record is erased: it
# erases its copy when it comes back (block sync runs the erase event).
check "bank_c's node stops (SIGTERM) before the erasure" stop_i 2
call 1 "$KB" erase --record "$REC" --reason "not mine"
check "province_b cannot erase court_d's record" [ "$(rstatus)" = failed ]
call 3 "$KD" erase --record "$REC" --reason "court order 2026-17"
check "court_d erases the record" [ "$(rstatus)" = ok ]
check "bank_c's node starts again" start_i 2
gone() { for i in 2 3; do get "$i" "$(rec_url)" >/dev/null; [ "$(status)" = 404 ] || return 1; done; }
check "details are gone from C's and D's nodes" wait_until 20 gone
get 2 "/v1/subjects/$S/profile?prove=0" >/dev/null
check "the profile no longer lists the record" has_shape ".value.records | map(.id) | index(\"$REC\") == null"
call 2 "$KC" access --record "$REC"
check "access after erasure is refused" bash -c "[ '$(jq -r .receipt.return.reason "$T/tx.json")' = 'record is erased' ]"
get 3 "$(rec_url)" -H 'Content-Type: application/json' --data "@$C/details.json" >/dev/null
check "erased details cannot be stored again: 409" [ "$(status)" = 409 ]

# ---------------------------------------------------------------- expiry
# A second record that expires in seconds: once block time passes its
# expiry anyone may call expire, and every holder erases the details.
jq -n --arg n "$S_NAME" '{name: $n, fine: "200 CNY"}' >"$C/fields2.json"
ds credit commit --fields "$C/fields2.json" --out "$C/details2.json" >/dev/null 2>&1
EXP2=$(( $(date +%s) * 1000 + 8000 ))
call 3 "$KD" issue --subject "$S" --category court.judgment --severity 1 --region prov-b.city-a \
	--expiry-ms "$EXP2" --details "$C/details2.json"
REC2=$(jq -r .receipt.return "$T/tx.json")
check "court_d issues a short-lived record" [ "$REC2" = "court_d:2" ]
get 3 "/v1/records/$REC2/details" -H 'Content-Type: application/json' --data "@$C/details2.json" >/dev/null
check "its details are stored on D's node" [ "$(status)" = 201 ]
call 0 "$KA" expire --record "$REC2"
check "expire before the expiry time is refused" bash -c "[ '$(rstatus)' = failed ] && grep -q 'has not expired' <<<'$(rerror)'"
while [ $(( $(date +%s) * 1000 )) -le $((EXP2 + 1500)) ]; do sleep 0.5; done
call 0 "$KA" expire --record "$REC2"
check "after its expiry anyone expires it" [ "$(rstatus)" = ok ]
gone2() { get 3 "/v1/records/$REC2/details" >/dev/null; [ "$(status)" = 404 ]; }
check "the expired record's details are erased on D's node" wait_until 20 gone2

# ---------------------------------------------------------------- delivery to a node that was down
# A third record; bank_c is granted it, but its node is down when the
# access commits. D's node keeps the delivery in its durable outbox and
# sends it when C's node connects again; C's node acknowledges it.
jq -n '{case_no: "2026-civ-0077", judgment: "repay 9100 CNY"}' >"$C/fields3.json"
ds credit commit --fields "$C/fields3.json" --out "$C/details3.json" >/dev/null 2>&1
COMMIT3=$(jq -r .commitment "$C/details3.json")
call 3 "$KD" issue --subject "$S" --category court.judgment --severity 2 --region prov-b.city-a \
	--expiry-ms "$EXP" --details "$C/details3.json"
REC3=$(jq -r .receipt.return "$T/tx.json")
check "court_d issues a third record" [ "$REC3" = "court_d:3" ]
get 3 "/v1/records/$REC3/details" -H 'Content-Type: application/json' --data "@$C/details3.json" >/dev/null
check "its details are stored on D's node" [ "$(status)" = 201 ]
ds credit consent --key "$C/s.key" --subject "$S" --record "$REC3" --grantee bank_c \
	--expiry-ms "$CEXP" --chain-id "$CHAIN" --purpose loan-review --out "$C/consent3.json" >/dev/null 2>&1
call 3 "$C/s.key" grant --consent "$C/consent3.json"
check "S consents to bank_c reading the third record" [ "$(rstatus)" = ok ]
check "bank_c's node stops (SIGTERM)" stop_i 2
call 0 "$KC" access --record "$REC3" --purpose loan-review
check "bank_c's access, sent through city_a's node, is granted" bash -c \
	"[ '$(jq -r .receipt.return.granted "$T/tx.json")' = true ]"
pending() { [ "$(metric 3 danshari_credit_outbox_entries)" = 1 ]; }
check "D's node keeps one pending delivery while C's node is down" wait_until 20 pending
check "the outbox is a file in D's private store" [ -s "$T/net/node3/private/outbox" ]
sleep 3 # at least one failed attempt and a back-off on D's side
check "bank_c's node starts again" start_i 2
have_c3() { get 2 "/v1/records/$REC3/details" >/dev/null && [ "$(status)" = 200 ]; }
check "the details reach C's node after it is back" wait_until 40 have_c3
check "C's copy of the third record matches the chain" has_shape \
	".verified == true and .onchain_commitment == \"$COMMIT3\""
delivered() { [ "$(metric 3 danshari_credit_outbox_entries)" = 0 ] && [ "$(metric 3 danshari_credit_details_acked_total)" -ge 1 ]; }
check "C's node acknowledged them: D's outbox is empty" wait_until 20 delivered
get 0 "/v1/records/$REC3/details" >/dev/null
check "city_a's node did not get them" [ "$(status)" = 404 ]

# ---------------------------------------------------------------- erase applied at start
# C's node is down while the third record is erased, and comes back on a
# store that already holds the erase block (copied from A's node, as a
# restore from a peer's backup would): no commit hook ever sees that
# block on C's node, so only the start-up catch-up from its credit cursor
# can erase the copy.
check "bank_c's node stops (SIGTERM)" stop_i 2
call 3 "$KD" erase --record "$REC3" --reason "court order 2026-18"
check "court_d erases the third record" [ "$(rstatus)" = ok ]
EH=$(jq -r .height "$T/tx.json")
check "city_a's node has committed the erase block" wait_until 20 above 0 "$EH"
check "city_a's node stops (SIGTERM)" stop_i 0
rm -rf "$T/net/node2/data" && cp -a "$T/net/node0/data" "$T/net/node2/data"
check "C's store replaced by a copy of A's (which holds the erase block)" [ $? = 0 ]
check "city_a's node starts again" start_i 0
check "bank_c's node starts again" start_i 2
gone3() { get 2 "/v1/records/$REC3/details" >/dev/null; [ "$(status)" = 404 ]; }
check "C's node erased its copy at start" wait_until 20 gone3
check "C's node logged the erasure of the third record" grep -q "details erased.*record=$REC3" "$T/net/node2/node.log"
gone3d() { get 3 "/v1/records/$REC3/details" >/dev/null; [ "$(status)" = 404 ]; }
check "and D's node erased its own" wait_until 20 gone3d

# ---------------------------------------------------------------- stop, verify, scan
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
stopped() { for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
wait_until 20 stopped || nok "nodes stop on SIGTERM"
for i in 0 1 2 3; do
	timeout 60 "$BIN" verify-chain --home "$T/net/node$i" >"$T/v$i.out" 2>&1
	vrc=$?
	check "verify-chain passes on node$i" [ "$vrc" = 0 ]
	[ "$vrc" = 0 ] || { echo "#   exit $vrc"; tail -5 "$T/v$i.out" | sed 's/^/#   /'; }
done
check "no node file or log holds S's name" bash -c "[ -z \"\$(grep -rlaF -- '$S_NAME' '$T/net')\" ]"
check "no node file or log holds S's national id" bash -c "[ -z \"\$(grep -rlaF -- '$S_NATID' '$T/net')\" ]"
check "no node file holds other detail values" bash -c "[ -z \"\$(grep -rlaF -- 'repay 48000 CNY' '$T/net')\" ]"
check "private stores hold no record files after erasure" bash -c \
	"[ -z \"\$(find '$T/net' \( -path '*/private/keys/*' -o -path '*/private/data/*' \) -type f)\" ]"
check "private stores hold nothing but the master key, the cursor and an empty outbox" bash -c \
	"[ -z \"\$(find '$T/net' -path '*/private/*' -type f ! -name master.key ! -name cursor ! -name outbox)\" ]"
check "no outbox holds a pending delivery" bash -c \
	"for f in '$T'/net/node*/private/outbox; do [ ! -e \"\$f\" ] || [ \"\$(od -An -tx1 \"\$f\" | tr -d ' \\n')\" = 4453504f0100 ] || exit 1; done"
# Every block and state value through the API was already covered by the
# grep of the data directories (LMDB stores them uncompressed).
echo "1..$n"
[ $fails = 0 ]
