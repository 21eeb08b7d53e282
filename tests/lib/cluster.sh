# Shared preamble for cluster tests (sourced, not run): the binary, a temp
# dir, every started PID killed and reaped on exit (even on failure), TAP
# helpers. Set TAG before sourcing; KEEP=1 keeps the temp dir. A script may
# define on_exit (run after every process is reaped, before the temp dir is
# removed) and set DS_TIMEOUT_S (the bound of one ds call, default 20 s).
BIN=${DANSHARI_BIN:-$PWD/build/danshari}
N=4
T=$(mktemp -d "${TMPDIR:-/tmp}/ds-${TAG:-cluster}-XXXXXX") || exit 1
declare -a PIDS
cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	if declare -F on_exit >/dev/null; then on_exit; fi
	if [ "${KEEP:-}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else nok "$what"; fi
}
ds() { timeout -k 2 "${DS_TIMEOUT_S:-20}" "$BIN" "$@"; }

# ---- shared helpers (added for faults/restart/api/credit; basic.sh defines
# its own wait_until, which takes precedence)
bail() { nok "$1"; echo "1..$n"; echo "Bail out! $1"; exit 1; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# wait_until SECONDS command...: polls every 0.2 s, then tries once more at
# the deadline; bounded by SECONDS plus one run of the command.
wait_until() {
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt "$end" ]; do "$@" && return 0; sleep 0.2; done
	"$@"
}

. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# max_height NODE...: the highest height the nodes report (0 if none
# answers), through whichever height NODE the script has.
max_height() {
	local m=0 x i
	for i in "$@"; do
		x=$(height "$i")
		[ -n "$x" ] && [ "$x" -gt "$m" ] && m=$x
	done
	echo "$m"
}

# on_exit_net_logs: for a script's on_exit: after a failure, the end of every
# node's log under $NET.
on_exit_net_logs() {
	local l
	[ "$fails" -gt 0 ] && [ -d "$NET" ] || return 0
	for l in "$NET"/*/node.log; do [ -f "$l" ] && log_tail "$l" 30; done
}

# pid_gone PID: the process no longer exists (reaped, or never ours).
pid_gone() { ! kill -0 "$1" 2>/dev/null && [ ! -d "/proc/$1" ]; }

# log_tail FILE [LINES]: the end of a log as TAP comments.
log_tail() {
	[ -f "$1" ] || { echo "# (no log at $1)"; return 0; }
	echo "# --- tail of $1"
	tail -n "${2:-20}" "$1" | sed 's/^/# /'
}

# ---- node processes of a consortium written by `danshari init --dir $NET`
# (faults.sh, restart.sh). nodes_from_json fills IDS, APIS and P2P_PORTS
# (index i = the i-th node of nodes.json); PIDS[i] is node i's process.
# Each node's stdout and stderr go to $NET/<id>/node.log, appended across
# restarts, with a marker line per start. A node that exits on its own has
# its status kept in EXITED[i], so stop_node still reports it.
declare -a IDS APIS P2P_PORTS EXITED STARTS
nodes_from_json() {
	mapfile -t APIS < <(grep -o '"api": *"[^"]*"' "$NET/nodes.json" | sed 's/.*"\(http[^"]*\)"/\1/')
	mapfile -t IDS < <(grep -o '"id": *"[^"]*"' "$NET/nodes.json" | sed 's/.*: *"\([^"]*\)"/\1/')
	mapfile -t P2P_PORTS < <(grep -o '"p2p": *"[^"]*"' "$NET/nodes.json" | sed 's/.*:\([0-9]*\)"$/\1/')
}
node_log() { echo "$NET/${IDS[$1]}/node.log"; }
get() { curl -s -m 3 "${APIS[$1]}$2"; }
height() { get "$1" /v1/status | grep -o '"height": *[0-9]*' | head -1 | grep -o '[0-9]*$'; }
height_ge() { local h; h=$(height "$1"); [ -n "$h" ] && [ "$h" -ge "$2" ]; }
node_ports() { echo "${P2P_PORTS[$1]} ${APIS[$1]##*:}"; }
start_node() { # i
	STARTS[$1]=$((${STARTS[$1]:-0} + 1))
	echo "=== test: start ${STARTS[$1]} of ${IDS[$1]} at $(date '+%F %T')" >>"$(node_log "$1")"
	"$BIN" node --home "$NET/${IDS[$1]}" >>"$(node_log "$1")" 2>&1 &
	PIDS[$1]=$!
	EXITED[$1]=""
	echo "# ${IDS[$1]} started (pid ${PIDS[$1]}, start ${STARTS[$1]})"
}
# check_logs WHAT "NODES" command...: check, plus the nodes' log tails on failure.
check_logs() {
	local what=$1 nodes=$2 i; shift 2
	if "$@"; then ok "$what"; else nok "$what"; for i in $nodes; do log_tail "$(node_log "$i")" 25; done; fi
}
# kill9 i: SIGKILL node i and wait until its process is gone (bounded).
kill9() {
	local p=${PIDS[$1]}
	[ -n "$p" ] || return 0
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	PIDS[$1]=""
	wait_until 10 pid_gone "$p" || echo "# ${IDS[$1]}: pid $p still exists 10 s after SIGKILL"
}
# restart_node i: start node i again once its old process is gone and
# nothing holds its ports (bounded; if they stay taken it starts anyway and
# says who holds them, so the failure that follows is explained).
restart_node() {
	local ports
	ports=$(node_ports "$1")
	# shellcheck disable=SC2086
	if ! wait_until 20 ports_free $ports; then
		echo "# ${IDS[$1]}: ports $ports still in use after 20 s:"
		# shellcheck disable=SC2086
		ports_in_use $ports | sed 's/^/#   /'
	fi
	start_node "$1"
}
# node_exited i: node i's process has ended on its own; its status goes
# to EXITED[i] (reaped here, so stop_node reads it from there).
node_exited() {
	local p=${PIDS[$1]}
	[ -n "$p" ] || return 1
	kill -0 "$p" 2>/dev/null && return 1
	wait "$p" 2>/dev/null
	EXITED[$1]=$?
	PIDS[$1]=""
	echo "# ${IDS[$1]} (pid $p) exited on its own with status ${EXITED[$1]}"
	return 0
}
# wait_serving SECONDS i...: every listed node answers GET /v1/status with a
# height. Gives up early when one of them has exited; on failure prints the
# tail of the log of each node that does not answer.
wait_serving() {
	local end=$((SECONDS + $1)) i all dead; shift
	while :; do
		all=1 dead=0
		for i in "$@"; do
			height_ge "$i" 0 && continue
			all=0
			if [ -z "${PIDS[$i]}" ] || node_exited "$i"; then dead=1; fi
		done
		[ $all = 1 ] && return 0
		[ $dead = 1 ] || [ $SECONDS -ge "$end" ] && break
		sleep 0.2
	done
	for i in "$@"; do
		height_ge "$i" 0 && continue
		echo "# ${IDS[$i]} does not serve /v1/status (pid ${PIDS[$i]:-none}, exit status ${EXITED[$i]:-none})"
		log_tail "$(node_log "$i")" 25
	done
	return 1
}
# stop_node i: SIGTERM, wait at most 15 s; returns the exit status (124 when
# it had to be killed). A node that had already exited returns that status.
stop_node() {
	local p=${PIDS[$1]} k rc
	if [ -z "$p" ]; then
		[ -n "${EXITED[$1]:-}" ] || return 0
		echo "# ${IDS[$1]} had exited (status ${EXITED[$1]}) before SIGTERM"
		return "${EXITED[$1]}"
	fi
	kill -TERM "$p" 2>/dev/null
	for k in $(seq 1 75); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	if kill -0 "$p" 2>/dev/null; then kill -9 "$p"; wait "$p" 2>/dev/null; PIDS[$1]=""; return 124; fi
	wait "$p"; rc=$?; PIDS[$1]=""
	[ $rc -eq 0 ] || log_tail "$(node_log "$1")" 25
	return $rc
}

# ---- a consortium written by `danshari init --base-port $BASE` (gov.sh,
# epochs.sh). pick_base COUNT: a TAP failure and exit 1 when the binary,
# curl or jq is missing or no COUNT free ports are found, else sets BASE.
pick_base() {
	if [ ! -x "$BIN" ] || ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
		echo "1..1"
		echo "not ok 1 - danshari binary ($BIN), curl or jq missing"
		exit 1
	fi
	BASE=$(pick_ports "$1")
	if [ "$BASE" = 0 ]; then
		echo "1..1"
		echo "not ok 1 - no free port range found"
		exit 1
	fi
	echo "# base port $BASE, dir $T"
}
# base_port_api defines api NODE (node NODE's API URL, port
# BASE + 2 NODE + 1), get NODE PATH and height NODE (replacing the get and
# height above), pk_of KEYFILE and all_at_least HEIGHT NODE...; call it
# once BASE is set. For a consortium written by
# 'danshari init --dir $T/c' it also defines start I (node I in the
# background, log appended to $T/logI, PID in PIDS[I]), stop I (SIGTERM,
# bounded wait; 0 if it exited with status 0) and dump_logs I... (their
# tails as TAP comments).
base_port_api() {
	api() { echo "http://127.0.0.1:$((BASE + 2 * $1 + 1))"; }
	get() { curl -s --max-time 3 "$(api "$1")$2"; }
	height() { get "$1" /v1/status | jq -r '.height // empty' 2>/dev/null; }
	pk_of() { sed -n 's/^public //p' "$1"; }
	all_at_least() {
		local h=$1 i x; shift
		for i in "$@"; do
			x=$(height "$i")
			[ -n "$x" ] && [ "$x" -ge "$h" ] || return 1
		done
	}
	start() {
		"$BIN" node --home "$T/c/node$1" >>"$T/log$1" 2>&1 &
		PIDS[$1]=$!
	}
	stop() {
		local p=${PIDS[$1]}
		[ -n "$p" ] || return 1
		kill -TERM "$p" 2>/dev/null
		timeout 20 tail --pid="$p" -f /dev/null 2>/dev/null || return 1
		wait "$p" 2>/dev/null
		local rc=$?
		PIDS[$1]=""
		return $rc
	}
	dump_logs() { local i; for i in "$@"; do log_tail "$T/log$i" 15; done; }
}

# Transactions through the API. These use the sourcing script's CHAIN (the
# chain id), T, wait_until, and api, get and height (base_port_api's, or the
# script's own with the same meaning).
# send NODE KEYFILE WORDS...: builds with 'danshari WORDS...' (tx build ... /
# gov ...), signs with KEYFILE, POSTs to NODE, waits (bounded) for the
# commit; the tx JSON is left in $T/last.json.
seq_no=0
send() {
	local node=$1 key=$2; shift 2
	seq_no=$((seq_no + 1))
	local h
	h=$(height "$node")
	[ -n "$h" ] || return 1
	rm -f "$T/last.json"
	ds "$@" --chain-id "$CHAIN" --key "$key" --expiry-height $((h + 200)) 2>>"$T/err" |
		ds tx sign --key "$key" --hex --out "$T/s$seq_no.hex" 2>>"$T/err" || return 1
	local resp id
	resp=$(curl -s --max-time 10 -XPOST -H 'Content-Type: application/json' \
		-d "{\"tx_hex\":\"$(cat "$T/s$seq_no.hex")\"}" "$(api "$node")/v1/tx")
	id=$(echo "$resp" | jq -r '.id // empty' 2>/dev/null)
	[ -n "$id" ] || { echo "# submit refused: $resp"; return 1; }
	committed() { get "$node" "/v1/tx/$id" >"$T/last.json" && [ "$(jq -r .status "$T/last.json")" = committed ]; }
	wait_until 30 committed
}
# receipt FIELD: a field of the last sent tx's receipt (jq path after .receipt.)
receipt() { jq -r ".receipt.$1" "$T/last.json" 2>/dev/null; }
receipt_ok() { [ "$(receipt status)" = ok ]; }
