/* bench_store — LMDB store throughput on the local disk ($TMPDIR, else /tmp).
 * Every figure is the median of REPS runs, each on a fresh environment, with
 * durable commits (fsync at every commit, the node's default):
 *   store_commit_small_per_s   one 8-byte key + 32-byte value per commit
 *   store_put_random_per_s     batches of 10,000 puts of random 32-byte keys
 *                              and 100-byte values, one commit per batch
 *   store_put_seq_per_s        the same with sequential (big-endian) keys
 *   store_get_random_per_s     random point reads of the keys just written
 * Figures only; nothing here passes or fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/util.h"

#define REPS 3
#define BATCH 10000
#define BATCHES 10
#define SMALL_COMMITS_MAX 3000
#define SMALL_SECONDS_MAX 2.0

static const char *const tables[] = {"bench"};

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
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

static char base_dir[4096];

static struct ds_store *fresh_store(int rep, const char *tag)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/%s-%d", base_dir, tag, rep);
	struct ds_store_opts o = {0};
	o.tables = tables;
	o.tables_len = 1;
	o.map_size_init_bytes = (uint64_t)256 << 20;
	struct ds_store *s;
	if (ds_store_open(&s, dir, &o) != 0) {
		fprintf(stderr, "bench_store: cannot open %s\n", dir);
		exit(1);
	}
	return s;
}

static void drop_store(struct ds_store *s, int rep, const char *tag)
{
	ds_store_close(s);
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s-%d'", base_dir, tag, rep);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_store: cleanup failed\n");
}

struct small_arg {
	uint64_t i;
};

static int small_fn(struct ds_wtxn *tx, void *arg)
{
	struct small_arg *a = arg;
	uint8_t k[8], v[32];
	ds_store_key_u64(k, a->i);
	memset(v, 0x5a, sizeof(v));
	return ds_store_put(tx, 0, k, 8, v, sizeof(v), 0);
}

struct batch_arg {
	const uint8_t (*keys)[32];
	size_t n;
};

static int batch_fn(struct ds_wtxn *tx, void *arg)
{
	struct batch_arg *a = arg;
	uint8_t v[100];
	memset(v, 0xa5, sizeof(v));
	for (size_t i = 0; i < a->n; i++) {
		memcpy(v, a->keys[i], 8);
		int rc = ds_store_put(tx, 0, a->keys[i], 32, v, sizeof(v), 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes BATCHES batches; returns puts per second. Leaves the keys in keys. */
static double run_batches(struct ds_store *s, uint8_t (*keys)[32], int sequential)
{
	uint64_t seq = 0;
	uint64_t ns = 0;
	for (int b = 0; b < BATCHES; b++) {
		uint8_t (*bk)[32] = keys + (size_t)b * BATCH;
		for (size_t i = 0; i < BATCH; i++) {
			if (sequential) {
				memset(bk[i], 0, 32);
				ds_put_u64be(bk[i], seq++);
			} else {
				for (int j = 0; j < 4; j++)
					ds_put_u64be(bk[i] + 8 * j, rnd());
			}
		}
		struct batch_arg a = {(const uint8_t (*)[32])bk, BATCH};
		uint64_t t0 = ds_mono_ns();
		if (ds_store_write(s, batch_fn, &a) != 0) {
			fprintf(stderr, "bench_store: batch write failed\n");
			exit(1);
		}
		ns += ds_mono_ns() - t0;
	}
	return (double)BATCH * BATCHES / ((double)ns / 1e9);
}

int main(void)
{
	ds_log_set_level(DS_LOG_WARN);
	const char *tmp = getenv("TMPDIR");
	snprintf(base_dir, sizeof(base_dir), "%s/ds-bench-store-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(base_dir)) {
		fprintf(stderr, "bench_store: mkdtemp failed\n");
		return 1;
	}
	uint8_t (*keys)[32] = malloc((size_t)BATCH * BATCHES * 32);
	if (!keys)
		return 1;
	double small[REPS], rnd_put[REPS], seq_put[REPS], rnd_get[REPS];
	double small_fsync_ms[REPS];
	for (int r = 0; r < REPS; r++) {
		/* Small durable commits: as many as fit the time budget. */
		struct ds_store *s = fresh_store(r, "small");
		struct small_arg a = {0};
		uint64_t t0 = ds_mono_ns(), t = t0;
		while (a.i < SMALL_COMMITS_MAX && (double)(t - t0) / 1e9 < SMALL_SECONDS_MAX) {
			if (ds_store_write(s, small_fn, &a) != 0) {
				fprintf(stderr, "bench_store: small write failed\n");
				return 1;
			}
			a.i++;
			t = ds_mono_ns();
		}
		small[r] = (double)a.i / ((double)(t - t0) / 1e9);
		small_fsync_ms[r] = (double)(t - t0) / 1e6 / (double)a.i;
		drop_store(s, r, "small");

		s = fresh_store(r, "rand");
		rnd_put[r] = run_batches(s, keys, 0);
		/* Random point reads of the keys just written, one read txn. */
		struct ds_rtxn *tx;
		if (ds_store_read_begin(&tx, s) != 0)
			return 1;
		const size_t nget = (size_t)BATCH * BATCHES;
		t0 = ds_mono_ns();
		for (size_t i = 0; i < nget; i++) {
			const uint8_t *v;
			size_t vl;
			size_t pick = rnd() % nget;
			if (ds_store_get(tx, 0, keys[pick], 32, &v, &vl) != 0 || vl != 100) {
				fprintf(stderr, "bench_store: get failed\n");
				return 1;
			}
		}
		rnd_get[r] = (double)nget / ((double)(ds_mono_ns() - t0) / 1e9);
		ds_store_read_end(tx);
		drop_store(s, r, "rand");

		s = fresh_store(r, "seq");
		seq_put[r] = run_batches(s, keys, 1);
		drop_store(s, r, "seq");
	}
	rmdir(base_dir);
	free(keys);
	printf("store_commit_small_per_s: %.0f commits/s\n", median(small, REPS));
	printf("store_commit_small_latency: %.3f ms\n", median(small_fsync_ms, REPS));
	printf("store_put_random_per_s: %.0f puts/s\n", median(rnd_put, REPS));
	printf("store_put_seq_per_s: %.0f puts/s\n", median(seq_put, REPS));
	printf("store_get_random_per_s: %.0f gets/s\n", median(rnd_get, REPS));
	return 0;
}
