#!/usr/bin/env bash
# Regenerates the seed corpora fuzz/seeds/<target>/ with the real encoders
# (fuzz/gen_seeds.c), so each fuzz target starts from valid inputs.
# Deterministic: rerunning changes nothing unless an encoding changed.
# Files already in fuzz/seeds/ that gen_seeds does not write (regression
# inputs, named regress-*) are kept.
# Usage: fuzz/make_seeds.sh            (BUILD=dir picks the build dir, default build-seeds)
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build-seeds}
mods="util codec crypto merkle ledger keyfile consensus net privacy"
pkgs="libsodium libcrypto lmdb libuv lua5.4 jansson libmicrohttpd"
# Re-archived every time: a module added to $mods must land in it.
rm -f "$build/libds.a"
make -s BUILD="$build" MODULES="$mods" "$build/libds.a"
# shellcheck disable=SC2046,SC2086 # pkg-config output is meant to split
${CC:-cc} -std=c11 -D_GNU_SOURCE -Isrc -Ifuzz -O1 -g $(pkg-config --cflags $pkgs) \
	-o "$build/gen_seeds" fuzz/gen_seeds.c "$build/libds.a" $(pkg-config --libs $pkgs) -lpthread -lm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/gen_seeds" "$tmp"
for d in "$tmp"/*/; do
	t=$(basename "$d")
	mkdir -p "fuzz/seeds/$t"
	cp "$d"* "fuzz/seeds/$t/"
done
echo "seeds: $(find fuzz/seeds -type f | wc -l) files under fuzz/seeds/"
