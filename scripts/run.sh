#!/usr/bin/env bash
# `make run`: a local 4-organisation consortium under ./devnet/ (created the
# first time, resumed afterwards). The binary does the work:
#   danshari devnet --nodes 4 --dir ./devnet
# Ctrl-C stops every node cleanly. Env: DEVNET_DIR (default ./devnet),
# DEVNET_NODES (default 4, used when the directory is created),
# DEVNET_BASE_PORT (default: the one `danshari init` picks).
set -eu
build=${1:-build}
bin="$build/danshari"
dir=${DEVNET_DIR:-./devnet}
nodes=${DEVNET_NODES:-4}
if [ ! -x "$bin" ]; then
  echo "run.sh: $bin is not built (run 'make' first)" >&2
  exit 1
fi
args=(devnet --dir "$dir")
# An existing devnet keeps its own size; --nodes only matters the first time.
[ -f "$dir/genesis.json" ] || args+=(--nodes "$nodes")
[ -n "${DEVNET_BASE_PORT:-}" ] && args+=(--base-port "$DEVNET_BASE_PORT")
exec "$bin" "${args[@]}"
