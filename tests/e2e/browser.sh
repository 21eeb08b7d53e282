#!/usr/bin/env bash
# Browser end-to-end test of the web explorer (TAP). Runs, in order:
#  1. node --test tests/e2e/verify.test.mjs: the in-browser verifier against
#     vectors made by the C code;
#  2. the explorer against tests/e2e/mock_server.mjs (fast, always);
#  3. the explorer against a real 4-node devnet ($DANSHARI_BIN init + node),
#     when the binary has those commands.
# Headless chromium is driven over the DevTools protocol by browser.mjs.
# Screenshots go to $DS_BUILD (default build/): explorer*.png.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shots=${DS_BUILD:-$root/build}
bin=${DANSHARI_BIN:-$root/build/danshari}
chromium=${CHROMIUM:-/usr/bin/chromium}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-e2e.XXXXXX")
pids=()
n=0
failed=0

cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tap() { # status description
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# Renumbers the TAP lines of a sub-run into ours; prints its diagnostics.
relay() { # prefix
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok "*) n=$((n + 1)); echo "ok $n - $1${line#ok * - }" ;;
      "not ok "*) n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1${line#not ok * - }" ;;
      "#"*) echo "$line" ;;
    esac
  done
}

if ! command -v node >/dev/null 2>&1; then
  skip "explorer browser test" "node (Node.js 20) is not installed"
  echo "1..$n"; exit 0
fi

# 1. verifier unit tests (top-level TAP lines only).
node --test --test-reporter=tap "$here/verify.test.mjs" 2>&1 >"$tmp/unit.tap"
grep -E '^(ok|not ok) [0-9]+ - |^# .*seed [0-9]+' "$tmp/unit.tap" | sed -E 's/^# \\?# ?/# /' > "$tmp/unit.lines"
before=$n
relay "verify.js: " < "$tmp/unit.lines"
[ "$n" -gt "$before" ] || { tap 1 "verify.js unit tests ran"; sed 's/^/# /' "$tmp/unit.tap" | tail -20; }

if [ ! -x "$chromium" ]; then
  skip "explorer in chromium" "$chromium not found (apt-get install chromium)"
  echo "1..$n"; [ "$failed" -eq 0 ]; exit
fi

# The WebSocket client for the DevTools protocol, pinned by package-lock.json.
if [ ! -f "$here/node_modules/ws/package.json" ]; then
  (cd "$here" && timeout 180 npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1)
  rc=$?
  tap $rc "npm ci installs the ws client into tests/e2e/node_modules"
  if [ $rc -ne 0 ]; then sed 's/^/# /' "$tmp/npm.log" | tail -20; echo "1..$n"; exit 1; fi
fi

# Waits (bounded) for a line "listening PORT" in a log; prints PORT.
wait_listen() { # log seconds
  local i
  for i in $(seq $(($2 * 10))); do
    if grep -qE '^listening [0-9]+' "$1" 2>/dev/null; then
      sed -nE 's/^listening ([0-9]+).*/\1/p' "$1" | head -1; return 0
    fi
    sleep 0.1
  done
  return 1
}

run_browser() { # label base-url shots-subdir [extra args...]
  local label=$1 base=$2 out=$3; shift 3
  mkdir -p "$out"
  timeout -k 5 280 node "$here/browser.mjs" --base "$base" --profile "$tmp/chrome-$label" \
    --shots "$out" --label "$label" --chromium "$chromium" "$@" >"$tmp/browser-$label.tap" 2>&1
  local rc=$?
  relay "" < "$tmp/browser-$label.tap"
  if [ $rc -ne 0 ] && ! grep -q '^not ok' "$tmp/browser-$label.tap"; then
    tap 1 "$label: browser driver exited with status $rc"
    tail -20 "$tmp/browser-$label.tap" | sed 's/^/# /'
  fi
}

# 2. against the mock node.
node "$here/mock_server.mjs" --port 0 --web "$root/web" >"$tmp/mock.log" 2>&1 &
pids+=($!)
if port=$(wait_listen "$tmp/mock.log" 15); then
  run_browser mock "http://127.0.0.1:$port" "$shots"
else
  tap 1 "mock server starts"; sed 's/^/# /' "$tmp/mock.log" | tail -20
fi

# 4. (inside 3) across a validator change: governance removes node3 (orgs
# 0, 1, 2 approve), the chain moves to epoch 1 with 3 validators, a kv put
# commits in epoch 1, and the explorer, trusting only genesis.json's epoch-0
# keys, verifies it by walking the 0 -> 1 handoff (end block + suffix
# headers from qc.chain, sys/valset/next state proof).
send_tx() { # KEYFILE danshari-words...: build, sign, POST to node0, wait for the commit ($tmp/last.json)
  local key=$1 h resp id; shift
  h=$(curl -s -m 2 "$api/v1/status" | jq -r '.height // empty')
  [ -n "$h" ] || return 1
  "$bin" "$@" --chain-id "$chain" --key "$key" --expiry-height $((h + 200)) 2>>"$tmp/gov.err" |
    "$bin" tx sign --key "$key" --hex --out "$tmp/tx.hex" 2>>"$tmp/gov.err" || return 1
  resp=$(curl -s -m 10 -X POST -H 'Content-Type: application/json' -d "{\"tx_hex\":\"$(cat "$tmp/tx.hex")\"}" "$api/v1/tx")
  id=$(echo "$resp" | jq -r '.id // empty')
  [ -n "$id" ] || { echo "# submit refused: $resp"; return 1; }
  for _ in $(seq 300); do
    curl -s -m 2 "$api/v1/tx/$id" >"$tmp/last.json" 2>/dev/null
    [ "$(jq -r '.status // empty' "$tmp/last.json" 2>/dev/null)" = committed ] && return 0
    sleep 0.1
  done
  echo "# tx $id not committed within 30 s"; return 1
}
receipt_ok() { [ "$(jq -r '.receipt.status // empty' "$tmp/last.json")" = ok ] || { echo "# receipt: $(jq -c .receipt "$tmp/last.json")"; return 1; }; }
epoch_stage() {
  if ! command -v jq >/dev/null 2>&1; then skip "explorer across an epoch change" "jq is not installed"; return; fi
  chain=$(jq -r .chain_id "$dev/genesis.json")
  local k0=$dev/node0/node.key k1=$dev/node1/node.key k2=$dev/node2/node.key pid rc=1
  local pk3; pk3=$(sed -n 's/^public //p' "$dev/node3/node.key")
  if send_tx "$k0" gov propose --kind remove_validator --payload "{\"pk\":{\"\$bytes\":\"$pk3\"}}" && receipt_ok; then
    pid=$(jq -r '.receipt.return.id' "$tmp/last.json")
    send_tx "$k1" gov vote --id "$pid" --approve && receipt_ok &&
      send_tx "$k2" gov vote --id "$pid" --approve && receipt_ok &&
      send_tx "$k0" gov vote --id "$pid" --approve && receipt_ok && rc=0
  fi
  tap $rc "devnet: governance passes remove_validator for node3 (orgs 0, 1, 2 approve)"
  [ $rc -eq 0 ] || { sed 's/^/# /' "$tmp/gov.err" | tail -5; return; }
  rc=1
  for _ in $(seq 600); do
    curl -s -m 2 "$api/v1/validators" | jq -e '.epoch == 1 and (.validators | length) == 3' >/dev/null 2>&1 && { rc=0; break; }
    sleep 0.1
  done
  tap $rc "devnet: the chain moves to epoch 1 with 3 validators"
  [ $rc -eq 0 ] || return
  send_tx "$k0" tx build --target kv --method put --args '{"key":"epoch1","value":"after the change"}' && receipt_ok &&
    [ "$(jq -r '.block.qc.epoch' "$tmp/last.json")" = 1 ]
  rc=$?
  tap $rc "devnet: a kv put commits in epoch 1 (its QC is of epoch 1)"
  [ $rc -eq 0 ] || return
  local txid keys
  txid=$(jq -r .id "$tmp/last.json")
  keys=$(jq -r '[.validators[].public_key] | join(",")' "$dev/genesis.json")
  run_browser devnet-epochs "$api" "$shots/devnet" --handoff-tx "$txid" --trust-keys "$keys" \
    --trust-epoch 0 --trust-chain "$chain" --handoffs 1 --state-key sys/valset
}

# 3. against a real devnet, when the binary can run one.
. "$root/tests/lib/ports.sh"
if [ -x "$bin" ] && "$bin" init --help >/dev/null 2>&1 && "$bin" node --help >/dev/null 2>&1; then
  base=$(pick_ports 8)   # outside the ephemeral range: see ports.sh
  dev="$tmp/devnet"
  if [ $base -eq 0 ]; then
    tap 1 "devnet: found 8 free ports"
  elif ! "$bin" init --nodes 4 --dir "$dev" --base-port "$base" >"$tmp/init.log" 2>&1; then
    tap 1 "devnet: danshari init --nodes 4"; sed 's/^/# /' "$tmp/init.log" | tail -20
  else
    tap 0 "devnet: danshari init --nodes 4 --base-port $base"
    for i in 0 1 2 3; do
      "$bin" node --home "$dev/node$i" >"$tmp/node$i.log" 2>&1 &
      pids+=($!)
    done
    api="http://127.0.0.1:$((base + 1))"
    up=1
    for _ in $(seq 600); do   # 60 s for the first committed block
      h=$(curl -s -m 2 "$api/healthz" 2>/dev/null | sed -nE 's/.*"height": *([0-9]+).*/\1/p')
      if [ -n "$h" ] && [ "$h" -ge 1 ]; then up=0; break; fi
      sleep 0.1
    done
    tap $up "devnet: node0 serves /healthz and commits blocks"
    if [ $up -eq 0 ]; then
      seed=$(sed -nE 's/^seed ([0-9a-f]{64})$/\1/p' "$dev/node0/node.key" 2>/dev/null)
      run_browser devnet "$api" "$shots/devnet" ${seed:+--key-seed "$seed"}
      epoch_stage
    else
      for i in 0 1 2 3; do echo "# node$i:"; tail -5 "$tmp/node$i.log" | sed 's/^/#   /'; done
    fi
  fi
else
  skip "explorer against a real devnet" "$bin has no init/node commands yet"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
