#!/usr/bin/env bash
# CLI end to end: keygen, key file checks, tx build/sign/inspect, corruption,
# usage errors. TAP output. Needs $DANSHARI_BIN (default build/danshari).
set -u
BIN=${DANSHARI_BIN:-$PWD/build/danshari}
T=$(mktemp -d "${TMPDIR:-/tmp}/ds-cli-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # description, then a command whose success means the test passed
	local what=$1; shift
	if "$@"; then ok "$what"; else nok "$what"; fi
}
# Every danshari call is bounded in time.
ds() { timeout -k 2 20 "$BIN" "$@"; }
lines() { wc -l <"$1" | tr -d ' '; }

if [ ! -x "$BIN" ]; then
	echo "1..1"
	echo "not ok 1 - danshari binary not found at $BIN"
	exit 1
fi
cd "$T" || exit 1
umask 022

# --- keygen ------------------------------------------------------------------
ds keygen --out k1 >pk1 2>err; rc=$?
check "keygen exits 0" [ $rc -eq 0 ]
check "keygen prints one 64-hex public key" grep -qxE '[0-9a-f]{64}' pk1
check "keygen output is one line" [ "$(lines pk1)" = 1 ]
check "key file mode is 0600 despite umask 022" [ "$(stat -c %a k1)" = 600 ]
check "key file records the printed public key" grep -qx "public $(cat pk1)" k1
cp k1 k1.orig
ds keygen --out k1 >out 2>err; rc=$?
check "keygen refuses to overwrite (exit 1)" [ $rc -eq 1 ]
check "overwrite refusal is one line on stderr" [ "$(lines err)" = 1 ]
check "overwrite refusal leaves the file unchanged" cmp -s k1 k1.orig
check "overwrite refusal prints nothing on stdout" [ ! -s out ]
ds keygen >out 2>err; rc=$?
check "keygen without --out is a usage error (exit 2)" [ $rc -eq 2 ]
check "keygen usage error is one line" [ "$(lines err)" = 1 ]
ds keygen --help >out 2>&1; rc=$?
check "keygen --help exits 0 and prints usage" bash -c "[ $rc -eq 0 ] && grep -q '^usage: danshari keygen' out"
ds keygen --out k2 >pk2 2>/dev/null
PK1=$(cat pk1)
PK2=$(cat pk2)
check "two keys differ" [ "$PK1" != "$PK2" ]

# --- bad key files -------------------------------------------------------------
build_args=(tx build --chain-id test-1 --sender "$PK1" --target kv --method put
	--args '{"k":"v","n":[1,-2,{"$bytes":"00ff"}]}' --nonce 42 --expiry-height 100)
ds "${build_args[@]}" --out u.bin 2>err
check "tx build writes an unsigned tx" [ -s u.bin ]
badkey() { # name, expected stderr pattern
	ds tx sign --key "$1" --in u.bin --out s.bad >out 2>err; local rc=$?
	check "sign with $1 fails with exit 1" [ $rc -eq 1 ]
	check "sign with $1: one-line error mentioning '$2'" \
		bash -c "[ \$(wc -l <err) = 1 ] && grep -q -- '$2' err"
	check "sign with $1 writes no output" [ ! -e s.bad ]
}
cp k1 k_0640; chmod 640 k_0640
badkey k_0640 "mode 0640"
cp k1 k_0604; chmod 604 k_0604
badkey k_0604 "mode 0604"
head -c 100 k1 >k_trunc; chmod 600 k_trunc
badkey k_trunc "truncated"
python3 - <<'EOF'
d = bytearray(open("k1", "rb").read())
i = d.index(b"seed ") + 10
d[i] = ord("0") if d[i] != ord("0") else ord("1")
open("k_flip", "wb").write(d)
EOF
chmod 600 k_flip
badkey k_flip "checksum"
sed 's/^danshari-key v1$/danshari-key v9/' k1 >k_ver; chmod 600 k_ver
badkey k_ver "version"
printf 'hello world\n' >k_notkey; chmod 600 k_notkey
badkey k_notkey "not a danshari key file"
badkey k_missing "cannot open"

# --- build / sign / inspect round trip ----------------------------------------
ds tx sign --key k1 --in u.bin --out s.bin 2>err; rc=$?
check "tx sign exits 0" [ $rc -eq 0 ]
ubytes=$(stat -c %s u.bin)
check "signed tx is the body plus 64 bytes" [ "$(stat -c %s s.bin)" -eq $((ubytes + 64)) ]
ds tx inspect --in s.bin >insp.json 2>err; rc=$?
check "inspect of a signed tx exits 0" [ $rc -eq 0 ]
check "inspect prints valid JSON with every field" python3 - "$PK1" <<'EOF'
import json, sys
j = json.load(open("insp.json"))
pk = sys.argv[1]
assert j["version"] == 1 and j["chain_id"] == "test-1" and j["sender"] == pk
assert j["nonce"] == "42" and j["expiry_height"] == "100"
assert j["target"] == "kv" and j["method"] == "put"
assert j["args"] == {"k": "v", "n": [1, -2, {"$bytes": "00ff"}]}, j["args"]
assert j["signature"] == "valid" and len(j["sig"]) == 128
assert len(j["id"]) == 64
EOF
ds tx inspect --in u.bin >uinsp.json 2>err; rc=$?
check "inspect of an unsigned tx exits 0 and says missing" \
	bash -c "[ $rc -eq 0 ] && grep -q '\"signature\": \"missing\"' uinsp.json"
check "tx id is the same signed and unsigned" \
	[ "$(grep '"id"' insp.json)" = "$(grep '"id"' uinsp.json)" ]
# stdin/stdout and hex
ds "${build_args[@]}" --hex 2>/dev/null | ds tx sign --key k1 --hex 2>/dev/null >s.hex
check "hex pipeline produces one hex line" grep -qxE '[0-9a-f]+' s.hex
ds tx inspect <s.hex >hinsp.json 2>err; rc=$?
check "inspect reads hex from stdin" [ $rc -eq 0 ]
check "hex and binary paths give the same tx" \
	[ "$(grep '"id"' hinsp.json)" = "$(grep '"id"' insp.json)" ]
ds tx build --chain-id test-1 --key k2 --target kv --method get --expiry-height 5 2>/dev/null |
	ds tx sign --key k2 2>/dev/null | ds tx inspect >k2.json 2>err; rc=$?
check "build --key, default args null, binary pipeline" \
	bash -c "[ $rc -eq 0 ] && grep -q '\"args\": null' k2.json && grep -q '$PK2' k2.json"
ds tx sign --key k2 --in u.bin --out s_wrong.bin >out 2>err; rc=$?
check "sign refuses a key that is not the sender (exit 1)" [ $rc -eq 1 ]
check "wrong-key refusal is one line naming the sender" \
	bash -c "[ \$(wc -l <err) = 1 ] && grep -q 'sender' err"
check "wrong-key refusal writes nothing" [ ! -e s_wrong.bin ]

# --- every single-byte corruption of a signed tx is refused ---------------------
len=$(stat -c %s s.bin)
bad=0
multi=0
mkdir corrupt
python3 - <<'EOF2'
d = open("s.bin", "rb").read()
for i in range(len(d)):
    c = bytearray(d)
    c[i] ^= 0x5a
    open("corrupt/%d" % i, "wb").write(c)
EOF2
for ((i = 0; i < len; i++)); do
	if ds tx inspect --in "corrupt/$i" >/dev/null 2>err; then
		bad=$((bad + 1))
		echo "# corruption at byte $i accepted"
	elif [ "$(lines err)" != 1 ]; then
		multi=$((multi + 1))
	fi
done
check "all $len single-byte corruptions make inspect fail" [ $bad -eq 0 ]
check "each corruption error is one line" [ $multi -eq 0 ]
cp s.bin c.bin
printf '\x02' | dd of=c.bin bs=1 seek=0 conv=notrunc status=none
ds tx inspect --in c.bin >/dev/null 2>err
check "a bad version byte is named" grep -q 'version' err
cp s.bin c.bin
printf '\x00' >>c.bin
ds tx inspect --in c.bin >/dev/null 2>err; rc=$?
check "a trailing byte is refused and named" bash -c "[ $rc -eq 1 ] && grep -q 'trailing' err"
head -c $((len - 1)) s.bin >c.bin
ds tx inspect --in c.bin >/dev/null 2>err; rc=$?
check "a truncated tx is refused" [ $rc -eq 1 ]
: >empty
ds tx inspect --in empty >/dev/null 2>err; rc=$?
check "an empty input is refused" [ $rc -eq 1 ]

# --- usage errors: exit 2, one line ---------------------------------------------
usage() { # description, args...
	local what=$1; shift
	ds "$@" >out 2>err </dev/null; local rc=$?
	if [ $rc -eq 2 ] && [ "$(lines err)" = 1 ] && [ ! -s out ]; then
		ok "usage error: $what"
	else
		nok "usage error: $what (rc=$rc, $(lines err) lines)"
		sed 's/^/# /' err
	fi
}
usage "tx without subcommand" tx
usage "unknown tx subcommand" tx frobnicate
usage "unknown option" tx build --frob 1
usage "missing chain id" tx build --sender "$PK1" --target kv --method put --expiry-height 1
usage "bad chain id" tx build --chain-id 'Bad!' --sender "$PK1" --target kv --method put --expiry-height 1
usage "bad sender hex" tx build --chain-id c --sender abc --target kv --method put --expiry-height 1
usage "both sender and key" tx build --chain-id c --sender "$PK1" --key k1 --target kv --method put --expiry-height 1
usage "bad method name" tx build --chain-id c --sender "$PK1" --target kv --method Put --expiry-height 1
usage "non-numeric expiry" tx build --chain-id c --sender "$PK1" --target kv --method put --expiry-height 1x
usage "negative nonce" tx build --chain-id c --sender "$PK1" --target kv --method put --expiry-height 1 --nonce -1
usage "nonce overflow" tx build --chain-id c --sender "$PK1" --target kv --method put --expiry-height 1 --nonce 18446744073709551616
usage "float args" tx build --chain-id c --sender "$PK1" --target kv --method put --expiry-height 1 --args '{"x":1.5}'
usage "invalid JSON args" tx build --chain-id c --sender "$PK1" --target kv --method put --expiry-height 1 --args '{'
usage "bad \$bytes" tx build --chain-id c --sender "$PK1" --target kv --method put --expiry-height 1 --args '{"$bytes":"0g"}'
usage "option value missing" tx build --chain-id
usage "option twice" tx inspect --in a --in b
usage "sign without key" tx sign --in u.bin
usage "stray argument" tx inspect extra
for sub in build sign inspect; do
	ds tx $sub --help >out 2>&1; rc=$?
	check "tx $sub --help exits 0 with usage" bash -c "[ $rc -eq 0 ] && grep -q '^usage: danshari tx $sub' out"
done
ds tx --help >out 2>&1; rc=$?
check "tx --help exits 0" [ $rc -eq 0 ]

echo "1..$n"
[ $fails -eq 0 ]
