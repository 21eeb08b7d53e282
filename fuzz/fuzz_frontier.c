/* libFuzzer: history frontier decoder. An accepted frontier re-encodes to
 * identical bytes, its root is computable, and appending to it either works
 * or reports DS_ERANGE at the 2^64 - 1 edge. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merkle/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	static struct ds_merkle_frontier f;
	static uint8_t out[DS_MERKLE_FRONTIER_ENC_MAX];
	size_t n;
	if (ds_merkle_frontier_decode(&f, data, size) != 0)
		return 0;
	if (ds_merkle_frontier_encode(out, sizeof(out), &n, &f) != 0 || n != size ||
	    memcmp(out, data, size) != 0)
		abort();
	uint8_t root[DS_HASH_LEN], leaf[DS_HASH_LEN] = {0};
	ds_merkle_frontier_root(root, &f);
	uint64_t before = f.size;
	int rc = ds_merkle_frontier_append(&f, leaf);
	if (rc == 0 ? f.size != before + 1 : (rc != DS_ERANGE || before != UINT64_MAX))
		abort();
	/* The grown frontier survives its own encoding with the same root. */
	if (rc == 0) {
		static struct ds_merkle_frontier g;
		uint8_t r1[DS_HASH_LEN], r2[DS_HASH_LEN];
		if (ds_merkle_frontier_encode(out, sizeof(out), &n, &f) != 0 ||
		    ds_merkle_frontier_decode(&g, out, n) != 0 || g.size != f.size)
			abort();
		ds_merkle_frontier_root(r1, &f);
		ds_merkle_frontier_root(r2, &g);
		if (memcmp(r1, r2, DS_HASH_LEN) != 0)
			abort();
	}
	return 0;
}
