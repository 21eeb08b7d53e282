#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, when missing.
# Only Debian's own archive is used; nothing is downloaded from anywhere else.
# Usage: scripts/deps.sh [build|test|all]
set -eu
want=${1:-build}

# pkg-config module -> Debian package
build_pkgs=(
  "libsodium:libsodium-dev"
  "libcrypto:libssl-dev"
  "lmdb:liblmdb-dev"
  "libuv:libuv1-dev"
  "lua5.4:liblua5.4-dev"
  "jansson:libjansson-dev"
  "libmicrohttpd:libmicrohttpd-dev"
  "cmocka:libcmocka-dev"
)
# command -> Debian package (tests only)
test_cmds=(
  "promtool:prometheus"
  "chromium:chromium"
  "curl:curl"
  "jq:jq"
)

missing=()
for entry in "${build_pkgs[@]}"; do
  mod=${entry%%:*}; pkg=${entry#*:}
  pkg-config --exists "$mod" 2>/dev/null || missing+=("$pkg")
done
if [ "$want" != build ]; then
  for entry in "${test_cmds[@]}"; do
    cmd=${entry%%:*}; pkg=${entry#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  # clang's sanitizer and fuzzer runtimes
  [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
    missing+=("libclang-rt-14-dev")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "danshari: missing Debian packages: ${missing[*]}" >&2
  echo "danshari: install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "danshari: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] ||
   ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq >&2 || true
  apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
