/* Merkle log and state tree figures. Prints "metric: value unit" lines;
 * timed figures are medians of REPS runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "merkle/merkle.h"
#include "util/util.h"

#define REPS 3

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

static double secs(uint64_t t0)
{
	return (double)(ds_mono_ns() - t0) / 1e9;
}

static void bench_log(void)
{
	const uint64_t n = 1000000;
	uint8_t(*leaves)[DS_HASH_LEN] = malloc(n * DS_HASH_LEN);
	uint8_t(*lvbuf)[DS_HASH_LEN] = malloc(2 * n * DS_HASH_LEN);
	DS_ASSERT(leaves && lvbuf);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t in[8];
		ds_put_u64be(in, i);
		ds_merkle_leaf_hash(leaves[i], in, sizeof(in));
	}
	const uint8_t(*cl)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])leaves;
	double t[REPS];
	uint8_t root[DS_HASH_LEN];
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = ds_mono_ns();
		ds_merkle_root_array(root, cl, n);
		t[r] = secs(t0);
	}
	printf("log_root_1m_leaves: %.1f ms\n", median(t, REPS) * 1e3);

	struct ds_merkle_levels lv;
	uint64_t t0 = ds_mono_ns();
	ds_merkle_levels_build(&lv, lvbuf, cl, n);
	printf("log_level_cache_build_1m: %.1f ms\n", secs(t0) * 1e3);
	struct ds_merkle_src src = ds_merkle_levels_src(&lv);

	enum { NP = 100000 };
	static uint8_t paths[64][DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	static size_t plen[64];
	static uint64_t pidx[64];
	double gen[REPS], ver[REPS];
	for (int r = 0; r < REPS; r++) {
		t0 = ds_mono_ns();
		for (int i = 0; i < NP; i++) {
			uint64_t idx = rnd() % n;
			int rc = ds_merkle_inclusion_proof(paths[i % 64], &plen[i % 64], &src, idx, n);
			DS_ASSERT(rc == 0);
			pidx[i % 64] = idx;
		}
		gen[r] = NP / secs(t0);
		t0 = ds_mono_ns();
		for (int i = 0; i < NP; i++) {
			int k = i % 64;
			int rc = ds_merkle_verify_inclusion(root, n, pidx[k], leaves[pidx[k]],
							    (const uint8_t(*)[DS_HASH_LEN])paths[k], plen[k]);
			DS_ASSERT(rc == 0);
		}
		ver[r] = NP / secs(t0);
	}
	printf("log_inclusion_proofs_generated_1m: %.0f proofs/s\n", median(gen, REPS));
	printf("log_inclusion_proofs_verified_1m: %.0f proofs/s\n", median(ver, REPS));

	/* Leaf-only source (no cache): O(n) per proof, what a store without
	 * subtree hashes would see. */
	struct ds_merkle_src arr = ds_merkle_src_array(cl);
	t0 = ds_mono_ns();
	for (int i = 0; i < 3; i++) {
		int rc = ds_merkle_inclusion_proof(paths[0], &plen[0], &arr, rnd() % n, n);
		DS_ASSERT(rc == 0);
	}
	printf("log_inclusion_proof_uncached_1m: %.1f ms/proof\n", secs(t0) / 3 * 1e3);

	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	t0 = ds_mono_ns();
	for (uint64_t i = 0; i < n; i++) {
		int rc = ds_merkle_frontier_append(&f, leaves[i]);
		DS_ASSERT(rc == 0);
	}
	printf("log_frontier_appends: %.0f leaves/s\n", n / secs(t0));
	free(leaves);
	free(lvbuf);
}

struct batch {
	struct ds_smt_op ops[10000];
	uint8_t kbuf[10000][24];
	uint8_t vbuf[10000][24];
};

static void fill(struct batch *b, size_t i, uint64_t id, uint64_t seed)
{
	b->ops[i].key = b->kbuf[i];
	b->ops[i].key_len = (size_t)snprintf((char *)b->kbuf[i], 24, "k%llu", (unsigned long long)id);
	b->ops[i].value = b->vbuf[i];
	b->ops[i].value_len = (size_t)snprintf((char *)b->vbuf[i], 24, "v%llu", (unsigned long long)seed);
}

static void bench_smt(void)
{
	const uint64_t nkeys = 1000000, bsz = 10000, keep = 4;
	struct ds_smt_mem *mem;
	DS_ASSERT(ds_smt_mem_new(&mem) == 0);
	struct ds_smt_store st = ds_smt_mem_store(mem);
	static struct batch b;
	uint64_t version = 0, base = DS_SMT_VERSION_NONE;
	uint8_t root[DS_HASH_LEN];

	uint64_t t0 = ds_mono_ns();
	for (uint64_t k = 0; k < nkeys; k += bsz) {
		for (uint64_t i = 0; i < bsz; i++)
			fill(&b, i, k + i, 1);
		struct ds_smt_changeset cs;
		int rc = ds_smt_update(&cs, &st, base, ++version, b.ops, bsz);
		DS_ASSERT(rc == 0);
		DS_ASSERT(ds_smt_mem_apply(mem, &cs) == 0);
		memcpy(root, cs.root, DS_HASH_LEN);
		ds_smt_changeset_free(&cs);
		base = version;
		if (version > keep)
			ds_smt_mem_prune(mem, version - keep + 1, NULL);
	}
	printf("smt_load_1m_keys: %.0f keys/s\n", nkeys / secs(t0));

	/* Updates of existing keys, batches of 10,000 over the 1M-key tree. */
	enum { NB = 9 };
	double ups[NB], upd_only[NB], nodes[NB], leaves[NB], bytes[NB], stale[NB];
	for (int r = 0; r < NB; r++) {
		for (uint64_t i = 0; i < bsz; i++)
			fill(&b, i, (rnd() % (nkeys / bsz)) * bsz + i, 2 + (uint64_t)r);
		/* ids drawn per slot i are distinct: i differs mod bsz */
		t0 = ds_mono_ns();
		struct ds_smt_changeset cs;
		int rc = ds_smt_update(&cs, &st, base, ++version, b.ops, bsz);
		DS_ASSERT(rc == 0);
		upd_only[r] = bsz / secs(t0);
		DS_ASSERT(ds_smt_mem_apply(mem, &cs) == 0);
		ups[r] = bsz / secs(t0);
		size_t by = 0;
		for (size_t i = 0; i < cs.n_nodes; i++)
			by += cs.nodes[i].key_len + cs.nodes[i].val_len;
		nodes[r] = (double)cs.n_nodes;
		leaves[r] = (double)cs.n_leaves_written;
		bytes[r] = (double)by;
		stale[r] = (double)cs.n_stale;
		memcpy(root, cs.root, DS_HASH_LEN);
		ds_smt_changeset_free(&cs);
		base = version;
		ds_smt_mem_prune(mem, version - keep + 1, NULL);
	}
	printf("smt_updates_1m_batch10k: %.0f updates/s\n", median(upd_only, NB));
	printf("smt_updates_1m_batch10k_with_mem_apply: %.0f updates/s\n", median(ups, NB));
	printf("smt_nodes_written_per_batch10k: %.0f nodes\n", median(nodes, NB));
	printf("smt_leaves_written_per_batch10k: %.0f nodes\n", median(leaves, NB));
	printf("smt_internal_written_per_batch10k: %.0f nodes\n", median(nodes, NB) - median(leaves, NB));
	printf("smt_bytes_written_per_batch10k: %.0f bytes\n", median(bytes, NB));
	printf("smt_stale_per_batch10k: %.0f nodes\n", median(stale, NB));
	printf("smt_mem_nodes_retained_keep%llu: %zu nodes\n", (unsigned long long)keep, ds_smt_mem_count(mem));

	enum { NP = 50000 };
	static struct ds_smt_proof pr[64];
	static uint8_t kb[64][24];
	static size_t kl[64];
	double gen[REPS], ver[REPS];
	size_t *sizes = malloc(NP * sizeof(size_t));
	DS_ASSERT(sizes);
	for (int r = 0; r < REPS; r++) {
		t0 = ds_mono_ns();
		for (int i = 0; i < NP; i++) {
			int k = i % 64;
			uint8_t kh[DS_HASH_LEN];
			kl[k] = (size_t)snprintf((char *)kb[k], 24, "k%llu", (unsigned long long)(rnd() % nkeys));
			ds_sha256(kh, kb[k], kl[k]);
			int rc = ds_smt_prove(&pr[k], &st, version, kh);
			DS_ASSERT(rc == 0);
		}
		gen[r] = NP / secs(t0);
		/* Verify the last 64 proofs repeatedly (values: whatever the key holds). */
		uint8_t vh[64][DS_HASH_LEN];
		for (int k = 0; k < 64; k++) {
			DS_ASSERT(pr[k].has_leaf);
			memcpy(vh[k], pr[k].leaf_vh, DS_HASH_LEN);
		}
		t0 = ds_mono_ns();
		for (int i = 0; i < NP; i++) {
			int k = i % 64;
			uint8_t kh[DS_HASH_LEN];
			ds_sha256(kh, kb[k], kl[k]);
			int rc = ds_smt_verify_hashed(root, kh, vh[k], &pr[k]);
			DS_ASSERT(rc == 0);
		}
		ver[r] = NP / secs(t0);
	}
	printf("smt_proofs_generated_1m: %.0f proofs/s\n", median(gen, REPS));
	printf("smt_proofs_verified_1m: %.0f proofs/s\n", median(ver, REPS));

	/* Proof sizes: inclusion for present keys, non-inclusion for absent. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < NP; i++) {
			uint8_t k[24], kh[DS_HASH_LEN], enc[DS_SMT_PROOF_ENC_MAX];
			size_t n = (size_t)snprintf((char *)k, 24, "%s%llu", pass ? "absent" : "k",
						    (unsigned long long)(rnd() % nkeys));
			ds_sha256(kh, k, n);
			int rc = ds_smt_prove(&pr[0], &st, version, kh);
			DS_ASSERT(rc == 0);
			rc = ds_smt_proof_encode(enc, sizeof(enc), &sizes[i], &pr[0]);
			DS_ASSERT(rc == 0);
		}
		qsort(sizes, NP, sizeof(size_t), cmp_size);
		const char *what = pass ? "non_inclusion" : "inclusion";
		printf("smt_%s_proof_size_1m_median: %zu bytes\n", what, sizes[NP / 2]);
		printf("smt_%s_proof_size_1m_max: %zu bytes\n", what, sizes[NP - 1]);
	}
	free(sizes);
	ds_smt_mem_free(mem);
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	uint64_t t0 = ds_mono_ns();
	uint8_t h[DS_HASH_LEN], buf[84] = {0};
	for (int i = 0; i < 1000000; i++)
		ds_sha256(h, buf, sizeof(buf));
	printf("sha256_84_bytes: %.0f hashes/s\n", 1e6 / secs(t0));
	bench_log();
	bench_smt();
	return 0;
}
