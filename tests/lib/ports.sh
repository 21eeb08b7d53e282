# Port helpers for tests that start nodes (sourced, not run): cluster.sh
# and tests/e2e/browser.sh share them.

# Sockets that would stop a restarted node from binding PORT...: any that
# listens on it, or a live connection whose local end uses it (an outgoing
# connection given it as its ephemeral port, or a connection to itself made
# by a client that dialled it while nothing listened there). Sockets that
# only wind down (FIN-WAIT, TIME-WAIT, LAST-ACK, CLOSING) are left out: the
# node binds with SO_REUSEADDR (libuv for p2p, libmicrohttpd for the API),
# which the kernel lets past those.
ports_in_use() { # PORT... -> the ss lines, none when every port is free
	if command -v ss >/dev/null; then
		ss -Htan 2>/dev/null | awk -v ports=" $* " '
			$1 == "LISTEN" || $1 == "ESTAB" || $1 ~ /^SYN-/ || $1 == "CLOSE-WAIT" {
				p = $4; sub(/.*:/, "", p); if (index(ports, " " p " ")) print }'
	else
		local p
		for p in "$@"; do
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && echo "port $p answers"
		done
	fi
	return 0
}
ports_free() { [ -z "$(ports_in_use "$@")" ]; }

# pick_ports COUNT: a random even base port with COUNT consecutive ports
# free, outside the kernel's ephemeral range (ip_local_port_range). Outside
# matters: while a node is down its ports are unbound, and an outgoing
# connection (curl, the load generator, a peer redialling) may be given one
# of them as its local port, or a client dialling the dead port may connect
# to itself, so the node cannot bind it when it is restarted. Prints 0 when
# no such range is found.
pick_ports() {
	local count=$1 lo=32768 hi=60999 r a b base k
	r=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) && read -r lo hi <<<"$r"
	if [ $((lo - 20000)) -ge $((count + 1000)) ]; then
		a=20000; b=$((lo - count))
	elif [ $((65000 - hi)) -ge $((count + 1000)) ]; then
		a=$((hi + 1)); b=$((65000 - count))
	else
		a=20000; b=$((60000 - count)) # no room outside it: the old behaviour
		echo "# no port range outside the ephemeral range $lo-$hi" >&2
	fi
	for _ in $(seq 1 50); do
		base=$((a + (RANDOM * 32768 + RANDOM) % (b - a)))
		base=$((base - base % 2))
		local ports=()
		for k in $(seq 0 $((count - 1))); do ports+=($((base + k))); done
		if ports_free "${ports[@]}"; then echo "$base"; return 0; fi
	done
	echo 0
}
