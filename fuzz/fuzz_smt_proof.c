/* libFuzzer: state-proof decoder and verifier. An accepted proof re-encodes
 * to identical bytes; verifying it against a fixed root (and against the
 * root it would itself imply) never crashes, whatever it claims. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merkle/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	static struct ds_smt_proof p;
	static uint8_t out[DS_SMT_PROOF_ENC_MAX];
	size_t n;
	if (ds_smt_proof_decode(&p, data, size) != 0)
		return 0;
	if (ds_smt_proof_encode(out, sizeof(out), &n, &p) != 0 || n != size ||
	    memcmp(out, data, size) != 0)
		abort();

	/* A fixed root and key: the answer is almost always "no", but every
	 * branch of the walk runs on attacker-chosen depth and siblings. */
	uint8_t root[DS_HASH_LEN], kh[DS_HASH_LEN];
	ds_sha256(root, "fuzz-root", 9);
	static const uint8_t key[] = "fuzz-key";
	static const uint8_t val[] = "fuzz-value";
	(void)!ds_smt_verify(root, key, sizeof(key) - 1, val, sizeof(val) - 1, &p);
	(void)!ds_smt_verify(root, key, sizeof(key) - 1, NULL, 0, &p);
	/* The proof's own leaf, claimed present and absent under the empty root. */
	ds_smt_empty_hash(root);
	memcpy(kh, p.leaf_kh, DS_HASH_LEN);
	(void)!ds_smt_verify_hashed(root, kh, p.has_leaf ? p.leaf_vh : NULL, &p);
	(void)!ds_smt_verify_hashed(root, kh, NULL, &p);
	return 0;
}
