/* store: put/get/del, cursors and prefix scans, range deletes, atomicity,
 * map growth, snapshots, concurrency with growth, disk full, corrupt files,
 * reopen, backup. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "util/util.h"

enum { T_A = 0, T_B = 1, T_C = 2 };
static const char *const tables3[] = {"alpha", "beta", "gamma"};

static struct ds_store_opts opts_fast(void)
{
	struct ds_store_opts o = {0};
	o.tables = tables3;
	o.tables_len = 3;
	o.no_sync = true;
	return o;
}

static struct ds_store *open_ok(const char *dir, const struct ds_store_opts *o)
{
	struct ds_store *s = NULL;
	int rc = ds_store_open(&s, dir, o);
	assert_int_equal(rc, 0);
	assert_non_null(s);
	return s;
}

static char *path_in(const char *dir, const char *name)
{
	char *p = malloc(4200);
	assert_non_null(p);
	snprintf(p, 4200, "%s/%s", dir, name);
	return p;
}

/* ---- simple write callbacks ---------------------------------------------- */

struct kv_arg {
	unsigned table;
	const char *key;
	const char *val;
	unsigned flags;
	int put_rc;
};

static int put_one_fn(struct ds_wtxn *tx, void *arg)
{
	struct kv_arg *a = arg;
	a->put_rc = ds_store_put(tx, a->table, a->key, strlen(a->key), a->val, strlen(a->val), a->flags);
	return a->put_rc;
}

static int put_str(struct ds_store *s, unsigned table, const char *k, const char *v)
{
	struct kv_arg a = {table, k, v, 0, 0};
	return ds_store_write(s, put_one_fn, &a);
}

static int del_one_fn(struct ds_wtxn *tx, void *arg)
{
	struct kv_arg *a = arg;
	return ds_store_del(tx, a->table, a->key, strlen(a->key));
}

/* Returns 0 and copies the value into buf (NUL-terminated), or the error. */
static int get_str(struct ds_store *s, unsigned table, const char *k, char *buf, size_t cap)
{
	struct ds_rtxn *tx;
	int rc = ds_store_read_begin(&tx, s);
	if (rc != 0)
		return rc;
	const uint8_t *v;
	size_t n;
	rc = ds_store_get(tx, table, k, strlen(k), &v, &n);
	if (rc == 0) {
		assert_true(n < cap);
		memcpy(buf, v, n);
		buf[n] = '\0';
	}
	ds_store_read_end(tx);
	return rc;
}

/* ---- open validation, modes, double open ---------------------------------- */

static void test_open_validation(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	char *sub = path_in(dir, "db");
	struct ds_store *s = NULL;
	struct ds_store_opts o = opts_fast();

	o.tables_len = 0;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	o.tables_len = DS_STORE_TABLES_MAX + 1;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	const char *bad1[] = {"ok", "Bad"};
	o.tables = bad1;
	o.tables_len = 2;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	const char *bad2[] = {"dup", "dup"};
	o.tables = bad2;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	const char *bad3[] = {""};
	o.tables = bad3;
	o.tables_len = 1;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	o = opts_fast();
	o.map_size_init_bytes = 1024;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	o.map_size_init_bytes = 1 << 20;
	o.map_size_max_bytes = 1 << 19;
	assert_int_equal(ds_store_open(&s, sub, &o), DS_EINVAL);
	assert_null(s);

	/* A regular file where the directory should be. */
	char *file = path_in(dir, "plainfile");
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	o = opts_fast();
	assert_int_equal(ds_store_open(&s, file, &o), DS_EINVAL);

	/* Directory created 0700, files 0600, second open refused. */
	s = open_ok(sub, &o);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	char *data = path_in(sub, "data.mdb");
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	struct ds_store *s2 = NULL;
	assert_int_equal(ds_store_open(&s2, sub, &o), DS_ESTATE);
	assert_null(s2);
	ds_store_close(s);
	/* After close it opens again. */
	s = open_ok(sub, &o);
	ds_store_close(s);

	/* A world-readable existing directory is tightened. */
	assert_int_equal(chmod(sub, 0755), 0);
	s = open_ok(sub, &o);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	ds_store_close(s);

	free(data);
	free(file);
	free(sub);
	tu_rmrf(dir);
	free(dir);
}

/* ---- put/get/del ---------------------------------------------------------- */

struct mix_arg {
	int step;
};

static int mix_fn(struct ds_wtxn *tx, void *arg)
{
	(void)arg;
	uint8_t big[DS_STORE_KEY_MAX + 1];
	memset(big, 'k', sizeof(big));
	/* Bad arguments are refused and leave the txn usable. */
	assert_int_equal(ds_store_put(tx, 3, "k", 1, "v", 1, 0), DS_EINVAL);
	assert_int_equal(ds_store_put(tx, T_A, "", 0, "v", 1, 0), DS_EINVAL);
	assert_int_equal(ds_store_put(tx, T_A, big, sizeof(big), "v", 1, 0), DS_EINVAL);
	assert_int_equal(ds_store_put(tx, T_A, "k", 1, "v", 1, 0x80), DS_EINVAL);
	assert_int_equal(ds_store_put(tx, T_A, big, DS_STORE_KEY_MAX, "max", 3, 0), 0);
	assert_int_equal(ds_store_put(tx, T_A, "k1", 2, "v1", 2, 0), 0);
	assert_int_equal(ds_store_put(tx, T_A, "k1", 2, "v1b", 3, 0), 0); /* overwrite */
	assert_int_equal(ds_store_put(tx, T_A, "k1", 2, "zz", 2, DS_STORE_NOOVERWRITE), DS_EEXIST);
	assert_int_equal(ds_store_put(tx, T_B, "k1", 2, "other", 5, DS_STORE_NOOVERWRITE), 0);
	/* Append: only a key that sorts last; a refusal leaves the txn usable. */
	assert_int_equal(ds_store_put(tx, T_B, "k2", 2, "app", 3, DS_STORE_APPEND), 0);
	assert_int_equal(ds_store_put(tx, T_B, "k0", 2, "no", 2, DS_STORE_APPEND), DS_EEXIST);
	assert_int_equal(ds_store_put(tx, T_B, "k2", 2, "no", 2, DS_STORE_APPEND), DS_EEXIST);
	assert_int_equal(ds_store_put(tx, T_B, "k0", 2, "yes", 3, 0), 0);
	{
		const uint8_t *av;
		size_t an;
		struct ds_rtxn *ar = ds_store_wview(tx);
		assert_int_equal(ds_store_get(ar, T_B, "k2", 2, &av, &an), 0);
		assert_int_equal(an, 3);
		assert_memory_equal(av, "app", 3);
		assert_int_equal(ds_store_get(ar, T_B, "k0", 2, &av, &an), 0);
		assert_memory_equal(av, "yes", 3);
	}
	assert_int_equal(ds_store_put(tx, T_A, "empty", 5, NULL, 0, 0), 0);
	assert_int_equal(ds_store_del(tx, T_A, "nope", 4), DS_ENOTFOUND);
	assert_int_equal(ds_store_put(tx, T_A, "gone", 4, "x", 1, 0), 0);
	assert_int_equal(ds_store_del(tx, T_A, "gone", 4), 0);
	/* The write view sees the txn's own writes. */
	const uint8_t *v;
	size_t n;
	struct ds_rtxn *r = ds_store_wview(tx);
	assert_int_equal(ds_store_get(r, T_A, "k1", 2, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "v1b", 3);
	assert_int_equal(ds_store_get(r, T_A, "gone", 4, &v, &n), DS_ENOTFOUND);
	return 0;
}

static void test_put_get_del(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(ds_store_write(s, mix_fn, NULL), 0);

	char buf[64];
	assert_int_equal(get_str(s, T_A, "k1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v1b");
	assert_int_equal(get_str(s, T_B, "k1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "other");
	assert_int_equal(get_str(s, T_C, "k1", buf, sizeof(buf)), DS_ENOTFOUND);
	assert_int_equal(get_str(s, T_A, "gone", buf, sizeof(buf)), DS_ENOTFOUND);
	assert_int_equal(get_str(s, T_A, "empty", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	struct ds_rtxn *r;
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	const uint8_t *v;
	size_t n;
	assert_int_equal(ds_store_get(r, 7, "k1", 2, &v, &n), DS_EINVAL);
	assert_int_equal(ds_store_get(r, T_A, "", 0, &v, &n), DS_EINVAL);
	ds_store_read_end(r);

	/* NOOVERWRITE error surfaces from the write; nothing changes. */
	struct kv_arg a = {T_A, "k1", "new", DS_STORE_NOOVERWRITE, 0};
	assert_int_equal(ds_store_write(s, put_one_fn, &a), DS_EEXIST);
	assert_int_equal(get_str(s, T_A, "k1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v1b");
	struct kv_arg d = {T_B, "k1", NULL, 0, 0};
	assert_int_equal(ds_store_write(s, del_one_fn, &d), 0);
	assert_int_equal(get_str(s, T_B, "k1", buf, sizeof(buf)), DS_ENOTFOUND);
	assert_int_equal(ds_store_write(s, del_one_fn, &d), DS_ENOTFOUND);

	/* u64 keys order numerically. */
	uint8_t k1[8], k2[8];
	ds_store_key_u64(k1, 255);
	ds_store_key_u64(k2, 256);
	assert_true(memcmp(k1, k2, 8) < 0);
	uint64_t x;
	assert_int_equal(ds_store_key_u64_get(&x, k2, 8), 0);
	assert_true(x == 256);
	assert_int_equal(ds_store_key_u64_get(&x, k2, 7), DS_EINVAL);

	assert_false(ds_store_failed(s));
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- cursors against a sorted model ---------------------------------------- */

#define MODEL_N 3000
struct model {
	uint8_t key[MODEL_N][6];
	size_t len[MODEL_N];
	size_t n;
};

static int key_cmp_t(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	int c = memcmp(a, b, m);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static struct model *model_make(uint64_t *rng)
{
	struct model *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	/* Random keys of 1..6 bytes over a small alphabet (including 0x00 and
	 * 0xff) so prefixes repeat and edge bytes occur. */
	static const uint8_t alpha[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
	while (m->n < MODEL_N) {
		uint8_t k[6];
		size_t len = 1 + tu_rand(rng) % 6;
		for (size_t i = 0; i < len; i++)
			k[i] = alpha[tu_rand(rng) % sizeof(alpha)];
		bool dup = false;
		for (size_t i = 0; i < m->n && !dup; i++)
			dup = key_cmp_t(m->key[i], m->len[i], k, len) == 0;
		if (dup)
			continue;
		memcpy(m->key[m->n], k, len);
		m->len[m->n] = len;
		m->n++;
		if (m->n > 1500 && tu_rand(rng) % 50 == 0)
			break; /* 6-ary keys of <=6 bytes: plenty, but stop somewhere */
	}
	/* Insertion sort into LMDB order. */
	for (size_t i = 1; i < m->n; i++) {
		uint8_t k[6];
		size_t len = m->len[i];
		memcpy(k, m->key[i], len);
		size_t j = i;
		while (j > 0 && key_cmp_t(m->key[j - 1], m->len[j - 1], k, len) > 0) {
			memcpy(m->key[j], m->key[j - 1], 6);
			m->len[j] = m->len[j - 1];
			j--;
		}
		memcpy(m->key[j], k, len);
		m->len[j] = len;
	}
	return m;
}

static int model_put_fn(struct ds_wtxn *tx, void *arg)
{
	struct model *m = arg;
	for (size_t i = 0; i < m->n; i++) {
		uint8_t v[8];
		ds_put_u64be(v, i);
		int rc = ds_store_put(tx, T_A, m->key[i], m->len[i], v, 8, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static bool has_prefix(const uint8_t *k, size_t kl, const uint8_t *p, size_t pl)
{
	return kl >= pl && memcmp(k, p, pl) == 0;
}

static void check_prefix_scan(struct ds_rtxn *r, const struct model *m, const uint8_t *p, size_t pl)
{
	struct ds_store_cursor *c;
	assert_int_equal(ds_store_cursor_open(&c, r, T_A, p, pl), 0);
	struct ds_store_kv kv;
	size_t want_first = SIZE_MAX, want_last = SIZE_MAX, count = 0;
	for (size_t i = 0; i < m->n; i++)
		if (has_prefix(m->key[i], m->len[i], p, pl)) {
			if (want_first == SIZE_MAX)
				want_first = i;
			want_last = i;
			count++;
		}
	/* Forward. */
	size_t seen = 0, i = want_first;
	int rc = ds_store_cursor_first(c, &kv);
	while (rc == 0) {
		assert_true(seen < count);
		assert_int_equal(kv.key_len, m->len[i]);
		assert_memory_equal(kv.key, m->key[i], kv.key_len);
		assert_true(ds_get_u64be(kv.val) == i);
		seen++;
		do
			i++;
		while (i < m->n && !has_prefix(m->key[i], m->len[i], p, pl));
		rc = ds_store_cursor_next(c, &kv);
	}
	assert_int_equal(rc, DS_ENOTFOUND);
	assert_int_equal(seen, count);
	/* Backward from last. */
	rc = ds_store_cursor_last(c, &kv);
	if (count == 0) {
		assert_int_equal(rc, DS_ENOTFOUND);
	} else {
		assert_int_equal(rc, 0);
		assert_true(ds_get_u64be(kv.val) == want_last);
		seen = 1;
		while ((rc = ds_store_cursor_prev(c, &kv)) == 0)
			seen++;
		assert_int_equal(rc, DS_ENOTFOUND);
		assert_int_equal(seen, count);
	}
	ds_store_cursor_close(c);
}

static void test_cursor_model(void **state)
{
	(void)state;
	uint64_t rng = tu_seed() ^ 0x1234;
	struct model *m = model_make(&rng);
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(ds_store_write(s, model_put_fn, m), 0);

	struct ds_rtxn *r;
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	struct ds_store_cursor *c;
	assert_int_equal(ds_store_cursor_open(&c, r, T_A, NULL, 0), 0);
	struct ds_store_kv kv;
	/* Full forward and backward scans equal the model. */
	size_t i = 0;
	int rc;
	while ((rc = ds_store_cursor_next(c, &kv)) == 0) {
		assert_true(i < m->n);
		assert_int_equal(kv.key_len, m->len[i]);
		assert_memory_equal(kv.key, m->key[i], kv.key_len);
		i++;
	}
	assert_int_equal(rc, DS_ENOTFOUND);
	assert_int_equal(i, m->n);
	i = m->n;
	while ((rc = ds_store_cursor_prev(c, &kv)) == 0) {
		assert_true(i > 0);
		i--;
		assert_true(ds_get_u64be(kv.val) == i);
	}
	assert_int_equal(i, 0);
	/* Seek lands on the first key >= target, for random targets. */
	for (int t = 0; t < 500; t++) {
		uint8_t k[7];
		size_t len = 1 + tu_rand(&rng) % 7;
		for (size_t j = 0; j < len; j++)
			k[j] = (uint8_t)tu_rand(&rng);
		size_t want = 0;
		while (want < m->n && key_cmp_t(m->key[want], m->len[want], k, len) < 0)
			want++;
		rc = ds_store_cursor_seek(c, k, len, &kv);
		if (want == m->n) {
			assert_int_equal(rc, DS_ENOTFOUND);
		} else {
			assert_int_equal(rc, 0);
			assert_true(ds_get_u64be(kv.val) == want);
		}
	}
	/* Prefix scans, including prefixes of 0xff bytes (no successor key). */
	const uint8_t p1[] = {0x00}, p2[] = {0xff}, p3[] = {0xff, 0xff}, p4[] = {0x7f, 0x80},
		      p5[] = {0x42};
	check_prefix_scan(r, m, p1, 1);
	check_prefix_scan(r, m, p2, 1);
	check_prefix_scan(r, m, p3, 2);
	check_prefix_scan(r, m, p4, 2);
	check_prefix_scan(r, m, p5, 1);
	for (int t = 0; t < 50; t++) {
		size_t pick = tu_rand(&rng) % m->n;
		size_t pl = 1 + tu_rand(&rng) % m->len[pick];
		check_prefix_scan(r, m, m->key[pick], pl);
	}
	/* Seek below a prefix goes to the prefix's first key. */
	struct ds_store_cursor *pc;
	assert_int_equal(ds_store_cursor_open(&pc, r, T_A, p2, 1), 0);
	assert_int_equal(ds_store_cursor_seek(pc, p1, 1, &kv), 0);
	assert_true(kv.key[0] == 0xff);
	/* Cursor limit; a read cursor cannot delete. */
	assert_int_equal(ds_store_cursor_del(pc), DS_EPERM);
	struct ds_store_cursor *more[DS_STORE_CURSORS_MAX];
	size_t opened = 0;
	while (opened < DS_STORE_CURSORS_MAX &&
	       ds_store_cursor_open(&more[opened], r, T_B, NULL, 0) == 0)
		opened++;
	assert_int_equal(opened, DS_STORE_CURSORS_MAX - 2);
	struct ds_store_cursor *extra;
	assert_int_equal(ds_store_cursor_open(&extra, r, T_B, NULL, 0), DS_ELIMIT);
	assert_int_equal(ds_store_cursor_first(more[0], &kv), DS_ENOTFOUND); /* empty table */
	ds_store_cursor_close(more[0]);
	assert_int_equal(ds_store_cursor_open(&extra, r, T_B, NULL, 0), 0);
	/* Cursors left open are closed by read_end (ASan checks the leak). */
	ds_store_read_end(r);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
	free(m);
}

/* ---- range delete and cursor delete ---------------------------------------- */

static int fill_heights_fn(struct ds_wtxn *tx, void *arg)
{
	uint64_t n = *(uint64_t *)arg;
	for (uint64_t h = 0; h < n; h++) {
		uint8_t k[8], v[200];
		ds_store_key_u64(k, h);
		memset(v, (int)(h & 0xff), sizeof(v));
		int rc = ds_store_put(tx, T_A, k, 8, v, sizeof(v), 0);
		if (rc)
			return rc;
	}
	return 0;
}

struct range_arg {
	uint64_t lo, hi; /* hi == UINT64_MAX: open end */
	size_t max;
	size_t deleted;
};

static int range_fn(struct ds_wtxn *tx, void *arg)
{
	struct range_arg *a = arg;
	uint8_t lo[8], hi[8];
	ds_store_key_u64(lo, a->lo);
	ds_store_key_u64(hi, a->hi);
	return ds_store_del_range(tx, T_A, lo, 8, a->hi == UINT64_MAX ? NULL : hi, 8, a->max,
				  &a->deleted);
}

static int odd_del_fn(struct ds_wtxn *tx, void *arg)
{
	size_t *deleted = arg;
	*deleted = 0; /* reset: the callback may run more than once */
	struct ds_store_cursor *c;
	int rc = ds_store_cursor_open(&c, ds_store_wview(tx), T_A, NULL, 0);
	if (rc)
		return rc;
	struct ds_store_kv kv;
	while ((rc = ds_store_cursor_next(c, &kv)) == 0) {
		uint64_t h = 0;
		assert_int_equal(ds_store_key_u64_get(&h, kv.key, kv.key_len), 0);
		if (h % 2 == 1) {
			rc = ds_store_cursor_del(c);
			if (rc)
				return rc;
			(*deleted)++;
		}
	}
	return rc == DS_ENOTFOUND ? 0 : rc;
}

static uint64_t count_table(struct ds_store *s, unsigned table)
{
	struct ds_store_stats st;
	assert_int_equal(ds_store_stats(s, &st), 0);
	return st.entries[table];
}

static void test_del_range(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	struct ds_store *s = open_ok(dir, &o);
	uint64_t n = 5000;
	assert_int_equal(ds_store_write(s, fill_heights_fn, &n), 0);
	assert_true(count_table(s, T_A) == 5000);

	/* [100, 1100) in bounded steps of 300. */
	size_t total = 0;
	for (int step = 0; step < 10; step++) {
		struct range_arg a = {100, 1100, 300, 0};
		assert_int_equal(ds_store_write(s, range_fn, &a), 0);
		total += a.deleted;
		if (a.deleted < a.max)
			break;
	}
	assert_int_equal(total, 1000);
	assert_true(count_table(s, T_A) == 4000);
	char buf[8];
	(void)buf;
	struct ds_rtxn *r;
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	const uint8_t *v;
	size_t vl;
	uint8_t k[8];
	ds_store_key_u64(k, 99);
	assert_int_equal(ds_store_get(r, T_A, k, 8, &v, &vl), 0);
	ds_store_key_u64(k, 100);
	assert_int_equal(ds_store_get(r, T_A, k, 8, &v, &vl), DS_ENOTFOUND);
	ds_store_key_u64(k, 1099);
	assert_int_equal(ds_store_get(r, T_A, k, 8, &v, &vl), DS_ENOTFOUND);
	ds_store_key_u64(k, 1100);
	assert_int_equal(ds_store_get(r, T_A, k, 8, &v, &vl), 0);
	assert_int_equal(vl, 200);
	assert_true(v[0] == (1100 & 0xff));
	ds_store_read_end(r);

	/* Open end: [4500, end). */
	struct range_arg a = {4500, UINT64_MAX, 100000, 0};
	assert_int_equal(ds_store_write(s, range_fn, &a), 0);
	assert_int_equal(a.deleted, 500);
	/* Cursor delete of every odd height: half of the rest. */
	size_t deleted = 0;
	assert_int_equal(ds_store_write(s, odd_del_fn, &deleted), 0);
	assert_int_equal(deleted, 1750);
	assert_true(count_table(s, T_A) == 1750);
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	struct ds_store_cursor *c;
	assert_int_equal(ds_store_cursor_open(&c, r, T_A, NULL, 0), 0);
	struct ds_store_kv kv;
	int rc;
	uint64_t prev = 0;
	size_t seen = 0;
	while ((rc = ds_store_cursor_next(c, &kv)) == 0) {
		uint64_t h = ds_get_u64be(kv.key);
		assert_true(h % 2 == 0);
		assert_true(h < 100 || (h >= 1100 && h < 4500));
		assert_true(seen == 0 || h > prev);
		prev = h;
		seen++;
	}
	assert_int_equal(seen, 1750);
	ds_store_read_end(r);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- atomicity ------------------------------------------------------------- */

static int fail_after_puts_fn(struct ds_wtxn *tx, void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof(k), "x%03d", i);
		int rc = ds_store_put(tx, T_A, k, strlen(k), "v", 1, 0);
		if (rc)
			return rc;
	}
	assert_int_equal(ds_store_del(tx, T_A, "keep", 4), 0);
	return DS_ECONTRACT;
}

static void test_atomicity(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(put_str(s, T_A, "keep", "yes"), 0);
	assert_int_equal(ds_store_write(s, fail_after_puts_fn, NULL), DS_ECONTRACT);
	char buf[16];
	assert_int_equal(get_str(s, T_A, "keep", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "yes");
	assert_int_equal(get_str(s, T_A, "x000", buf, sizeof(buf)), DS_ENOTFOUND);
	assert_true(count_table(s, T_A) == 1);
	assert_false(ds_store_failed(s));
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- map growth -------------------------------------------------------------- */

struct grow_arg {
	uint64_t first; /* first record id of this txn */
	uint64_t count; /* records in this txn */
	unsigned runs;  /* how often fn ran */
};

static void grow_val(uint8_t *v, size_t n, uint64_t id)
{
	uint64_t x = id * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (uint8_t)x;
	}
}

static size_t grow_len(uint64_t id)
{
	return 200 + (size_t)(id * 7919 % 1800);
}

static int grow_fn(struct ds_wtxn *tx, void *arg)
{
	struct grow_arg *a = arg;
	a->runs++;
	uint8_t v[2000];
	for (uint64_t id = a->first; id < a->first + a->count; id++) {
		uint8_t k[8];
		/* Scatter keys so pages split everywhere, not only at the end. */
		ds_store_key_u64(k, id * 0x9E3779B97F4A7C15ULL);
		size_t n = grow_len(id);
		grow_val(v, n, id);
		int rc = ds_store_put(tx, T_B, k, 8, v, n, DS_STORE_NOOVERWRITE);
		if (rc)
			return rc;
	}
	return 0;
}

static void test_map_growth(void **state)
{
	(void)state;
	uint64_t rng = tu_seed() ^ 0x5678;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	o.map_size_init_bytes = 64 << 10;
	o.map_size_max_bytes = 1ull << 30;
	struct ds_store *s = open_ok(dir, &o);
	struct ds_store_stats st;
	assert_int_equal(ds_store_stats(s, &st), 0);
	assert_true(st.map_size_bytes == 64 << 10);

	uint64_t id = 0, bytes = 0;
	unsigned txns = 0, runs = 0;
	while (bytes < (20u << 20)) {
		struct grow_arg a = {id, 1 + tu_rand(&rng) % (txns % 3 == 0 ? 3000 : 100), 0};
		assert_int_equal(ds_store_write(s, grow_fn, &a), 0);
		for (uint64_t i = id; i < id + a.count; i++)
			bytes += grow_len(i);
		id += a.count;
		txns++;
		runs += a.runs;
	}
	assert_int_equal(ds_store_stats(s, &st), 0);
	assert_true(st.map_grow_count > 0);
	assert_true(runs > txns); /* some callbacks were re-run after growth */
	assert_true(st.map_size_bytes >= st.used_bytes);
	assert_true(st.used_bytes >= bytes);
	assert_true(st.entries[T_B] == id);
	fprintf(stderr, "# growth: %u txns, %u runs, %llu records, %llu bytes, map %llu, grown %llu times\n",
		txns, runs, (unsigned long long)id, (unsigned long long)bytes,
		(unsigned long long)st.map_size_bytes, (unsigned long long)st.map_grow_count);
	ds_store_close(s);

	/* Everything present and intact after reopening with the tiny setting. */
	s = open_ok(dir, &o);
	struct ds_rtxn *r;
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	uint8_t want[2000];
	for (uint64_t i = 0; i < id; i++) {
		uint8_t k[8];
		ds_store_key_u64(k, i * 0x9E3779B97F4A7C15ULL);
		const uint8_t *v;
		size_t n;
		assert_int_equal(ds_store_get(r, T_B, k, 8, &v, &n), 0);
		assert_int_equal(n, grow_len(i));
		grow_val(want, n, i);
		assert_memory_equal(v, want, n);
	}
	ds_store_read_end(r);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* A map at its maximum: DS_EFULL, nothing written, store still usable; an
 * error ignored by the callback still aborts. */
static int ignore_errors_fn(struct ds_wtxn *tx, void *arg)
{
	(void)arg;
	uint8_t v[1000];
	memset(v, 7, sizeof(v));
	for (uint64_t i = 0; i < 2000; i++) {
		uint8_t k[8];
		ds_store_key_u64(k, i);
		int rc = ds_store_put(tx, T_C, k, 8, v, sizeof(v), 0);
		(void)rc; /* deliberately ignored: the store must still abort */
	}
	return 0;
}

static void test_map_max(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	o.map_size_init_bytes = 64 << 10;
	o.map_size_max_bytes = 256 << 10;
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(put_str(s, T_A, "before", "1"), 0);
	assert_int_equal(ds_store_write(s, ignore_errors_fn, NULL), DS_EFULL);
	assert_false(ds_store_failed(s));
	assert_true(count_table(s, T_C) == 0);
	assert_int_equal(put_str(s, T_A, "after", "2"), 0);
	char buf[8];
	assert_int_equal(get_str(s, T_A, "before", buf, sizeof(buf)), 0);
	assert_int_equal(get_str(s, T_A, "after", buf, sizeof(buf)), 0);
	struct ds_store_stats st;
	assert_int_equal(ds_store_stats(s, &st), 0);
	assert_true(st.map_size_bytes == 256 << 10);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- snapshots, misuse guards, readers during growth ------------------------ */

struct nested_arg {
	struct ds_store *s;
	int inner_rc;
};

static int nested_fn(struct ds_wtxn *tx, void *arg)
{
	struct nested_arg *a = arg;
	struct kv_arg k = {T_A, "n", "n", 0, 0};
	a->inner_rc = ds_store_write(a->s, put_one_fn, &k);
	return ds_store_put(tx, T_A, "outer", 5, "o", 1, 0);
}

static void test_write_guards(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(put_str(s, T_A, "k", "old"), 0);
	struct ds_rtxn *old;
	assert_int_equal(ds_store_read_begin(&old, s), 0);
	/* A write from a thread holding a read txn is refused (it could
	 * deadlock with map growth). */
	assert_int_equal(put_str(s, T_A, "k", "refused"), DS_ESTATE);
	ds_store_read_end(old);
	assert_false(ds_store_failed(s));
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);

	/* Nested writes are refused; the outer write still commits. */
	dir = tu_tmpdir("store");
	s = open_ok(dir, &o);
	struct nested_arg na = {s, 0};
	assert_int_equal(ds_store_write(s, nested_fn, &na), 0);
	assert_int_equal(na.inner_rc, DS_ESTATE);
	char buf[16];
	assert_int_equal(get_str(s, T_A, "outer", buf, sizeof(buf)), 0);
	assert_int_equal(get_str(s, T_A, "n", buf, sizeof(buf)), DS_ENOTFOUND);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* A reader thread holds a snapshot while the main thread commits. */
struct snap_thread {
	struct ds_store *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int phase; /* 1: snapshot taken, 2: main committed, 3: checked */
	char seen_old[16], seen_new[16];
	int rc;
};

static void phase_set(struct snap_thread *t, int p)
{
	pthread_mutex_lock(&t->mu);
	t->phase = p;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static void phase_wait(struct snap_thread *t, int p)
{
	pthread_mutex_lock(&t->mu);
	while (t->phase < p)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

static void *snap_reader(void *arg)
{
	struct snap_thread *t = arg;
	struct ds_rtxn *r;
	t->rc = ds_store_read_begin(&r, t->s);
	if (t->rc) {
		phase_set(t, 1);
		return NULL;
	}
	phase_set(t, 1);
	phase_wait(t, 2);
	const uint8_t *v;
	size_t n;
	t->rc = ds_store_get(r, T_A, "k", 1, &v, &n);
	if (t->rc == 0 && n < sizeof(t->seen_old)) {
		memcpy(t->seen_old, v, n);
		t->seen_old[n] = 0;
	}
	ds_store_read_end(r);
	t->rc |= get_str(t->s, T_A, "k", t->seen_new, sizeof(t->seen_new));
	phase_set(t, 3);
	return NULL;
}

static void test_snapshot_thread(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(put_str(s, T_A, "k", "old"), 0);
	struct snap_thread t = {.s = s};
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, snap_reader, &t), 0);
	phase_wait(&t, 1);
	assert_int_equal(put_str(s, T_A, "k", "new"), 0);
	phase_set(&t, 2);
	pthread_join(th, NULL);
	assert_int_equal(t.rc, 0);
	assert_string_equal(t.seen_old, "old");
	assert_string_equal(t.seen_new, "new");
	pthread_mutex_destroy(&t.mu);
	pthread_cond_destroy(&t.cv);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* A reader held past resize_wait_ms makes growth time out cleanly. */
static void test_growth_waits_for_reader(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	o.map_size_init_bytes = 64 << 10;
	o.resize_wait_ms = 200;
	struct ds_store *s = open_ok(dir, &o);
	struct snap_thread t = {.s = s};
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	assert_int_equal(put_str(s, T_A, "k", "v0"), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, snap_reader, &t), 0);
	phase_wait(&t, 1);
	struct grow_arg a = {0, 500, 0}; /* ~500 KiB: needs growth */
	assert_int_equal(ds_store_write(s, grow_fn, &a), DS_ETIMEOUT);
	assert_false(ds_store_failed(s));
	phase_set(&t, 2);
	pthread_join(th, NULL);
	assert_int_equal(t.rc, 0);
	assert_true(count_table(s, T_B) == 0);
	/* Reader gone: the same write now grows the map and commits. */
	a.runs = 0;
	assert_int_equal(ds_store_write(s, grow_fn, &a), 0);
	assert_true(a.runs > 1);
	assert_true(count_table(s, T_B) == 500);
	pthread_mutex_destroy(&t.mu);
	pthread_cond_destroy(&t.cv);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* Readers on other threads run continuously while the writer grows the map
 * many times: every read sees a consistent, complete prefix of the writes. */
struct stress_arg {
	struct ds_store *s;
	atomic_int stop;
	atomic_uint reads;
	atomic_int bad;
};

static void *stress_reader(void *arg)
{
	struct stress_arg *a = arg;
	while (!a->stop) {
		struct ds_rtxn *r;
		int rc = ds_store_read_begin(&r, a->s);
		if (rc) {
			a->bad = rc;
			return NULL;
		}
		/* Records are written in id order: count must equal the last
		 * id + 1 within one snapshot. */
		struct ds_store_cursor *c;
		if (ds_store_cursor_open(&c, r, T_C, NULL, 0) != 0) {
			a->bad = -100;
			ds_store_read_end(r);
			return NULL;
		}
		struct ds_store_kv kv;
		uint64_t n = 0, last = 0;
		while (ds_store_cursor_next(c, &kv) == 0) {
			last = ds_get_u64be(kv.key);
			if (last != n || kv.val_len != 300 || kv.val[299] != (uint8_t)last)
				a->bad = -101;
			n++;
			if (n > 10000)
				break;
		}
		ds_store_read_end(r);
		a->reads++;
	}
	return NULL;
}

struct seq_arg {
	uint64_t first, count;
};

static int seq_fn(struct ds_wtxn *tx, void *arg)
{
	struct seq_arg *a = arg;
	uint8_t v[300];
	for (uint64_t i = a->first; i < a->first + a->count; i++) {
		uint8_t k[8];
		ds_store_key_u64(k, i);
		memset(v, (int)(i & 0xff), sizeof(v));
		int rc = ds_store_put(tx, T_C, k, 8, v, sizeof(v), 0);
		if (rc)
			return rc;
	}
	return 0;
}

static void test_readers_during_growth(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	o.map_size_init_bytes = 64 << 10;
	struct ds_store *s = open_ok(dir, &o);
	struct stress_arg a = {.s = s};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, stress_reader, &a), 0);
	uint64_t id = 0;
	for (int t = 0; t < 60; t++) {
		struct seq_arg sa = {id, 1 + (uint64_t)t * 5};
		assert_int_equal(ds_store_write(s, seq_fn, &sa), 0);
		id += sa.count;
	}
	a.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&a.bad), 0);
	assert_true(atomic_load(&a.reads) > 0);
	struct ds_store_stats st;
	assert_int_equal(ds_store_stats(s, &st), 0);
	assert_true(st.map_grow_count > 0);
	assert_true(st.entries[T_C] == id);
	fprintf(stderr, "# readers during growth: %u snapshots, %llu grows\n", atomic_load(&a.reads),
		(unsigned long long)st.map_grow_count);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- disk full ---------------------------------------------------------------- */

static int big_fn(struct ds_wtxn *tx, void *arg)
{
	(void)arg;
	uint8_t v[4000];
	for (int i = 0; i < 2000; i++) { /* ~8 MiB */
		char k[16];
		snprintf(k, sizeof(k), "big/%05d", i);
		memset(v, i & 0xff, sizeof(v));
		int rc = ds_store_put(tx, T_A, k, strlen(k), v, sizeof(v), 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int old_fn(struct ds_wtxn *tx, void *arg)
{
	(void)arg;
	for (int i = 0; i < 300; i++) {
		char k[16], v[32];
		snprintf(k, sizeof(k), "old/%03d", i);
		snprintf(v, sizeof(v), "value-%d", i * 7);
		int rc = ds_store_put(tx, T_A, k, strlen(k), v, strlen(v), 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* Child: no cmocka asserts (they longjmp); exit codes say what failed. */
static void disk_full_child(const char *dir)
{
	signal(SIGXFSZ, SIG_IGN);
	ds_log_set_level(DS_LOG_ERROR);
	struct ds_store_opts o = opts_fast();
	o.no_sync = false; /* the real, durable path */
	struct ds_store *s;
	if (ds_store_open(&s, dir, &o) != 0)
		_exit(10);
	char data[4200];
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	struct stat st;
	if (stat(data, &st) != 0)
		_exit(11);
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
		_exit(12);
	struct rlimit small = {(rlim_t)st.st_size + (64 << 10), rl.rlim_max};
	if (setrlimit(RLIMIT_FSIZE, &small) != 0)
		_exit(13);
	int rc = ds_store_write(s, big_fn, NULL);
	if (rc != DS_EFULL) {
		fprintf(stderr, "# child: big write returned %d, want DS_EFULL\n", rc);
		_exit(14);
	}
	if (ds_store_failed(s))
		_exit(15);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		_exit(16);
	/* Space is back: the store keeps working. */
	struct kv_arg a = {T_A, "after", "1", 0, 0};
	rc = ds_store_write(s, put_one_fn, &a);
	if (rc != 0) {
		fprintf(stderr, "# child: write after disk full returned %d\n", rc);
		_exit(17);
	}
	ds_store_close(s);
	_exit(0);
}

static void test_disk_full(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	struct ds_store_opts o = opts_fast();
	o.no_sync = false;
	struct ds_store *s = open_ok(dir, &o);
	assert_int_equal(ds_store_write(s, old_fn, NULL), 0);
	ds_store_close(s); /* LMDB must not be open across fork */

	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		disk_full_child(dir);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	s = open_ok(dir, &o);
	struct ds_rtxn *r;
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	for (int i = 0; i < 300; i++) {
		char k[16], v[32];
		snprintf(k, sizeof(k), "old/%03d", i);
		snprintf(v, sizeof(v), "value-%d", i * 7);
		const uint8_t *got;
		size_t n;
		assert_int_equal(ds_store_get(r, T_A, k, strlen(k), &got, &n), 0);
		assert_int_equal(n, strlen(v));
		assert_memory_equal(got, v, n);
	}
	struct ds_store_cursor *c;
	assert_int_equal(ds_store_cursor_open(&c, r, T_A, "big/", 4), 0);
	struct ds_store_kv kv;
	assert_int_equal(ds_store_cursor_first(c, &kv), DS_ENOTFOUND);
	const uint8_t *got;
	size_t n;
	assert_int_equal(ds_store_get(r, T_A, "after", 5, &got, &n), 0);
	ds_store_read_end(r);
	assert_true(count_table(s, T_A) == 301);
	ds_store_close(s);
	tu_rmrf(dir);
	free(dir);
}

/* ---- corrupt or foreign files --------------------------------------------------- */

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void test_corrupt_files(void **state)
{
	(void)state;
	uint64_t rng = tu_seed() ^ 0x9abc;
	struct ds_store_opts o = opts_fast();
	const size_t sizes[] = {100, 8192, 1 << 20};
	for (size_t t = 0; t < DS_ARRAY_LEN(sizes); t++) {
		char *dir = tu_tmpdir("store");
		char *data = path_in(dir, "data.mdb");
		uint8_t *junk = malloc(sizes[t]);
		assert_non_null(junk);
		for (size_t i = 0; i < sizes[t]; i++)
			junk[i] = (uint8_t)tu_rand(&rng);
		write_file(data, junk, sizes[t]);
		struct ds_store *s = NULL;
		assert_int_equal(ds_store_open(&s, dir, &o), DS_ECORRUPT);
		assert_null(s);
		/* The failed open released the directory lock and left the file. */
		struct stat st;
		assert_int_equal(stat(data, &st), 0);
		assert_true((size_t)st.st_size == sizes[t]);
		free(junk);
		free(data);
		tu_rmrf(dir);
		free(dir);
	}
	/* data.mdb that is a directory. */
	char *dir = tu_tmpdir("store");
	char *data = path_in(dir, "data.mdb");
	assert_int_equal(mkdir(data, 0700), 0);
	struct ds_store *s = NULL;
	int rc = ds_store_open(&s, dir, &o);
	assert_true(rc < 0);
	assert_null(s);
	free(data);
	tu_rmrf(dir);
	free(dir);
}

/* ---- reopen, backup, stats -------------------------------------------------------- */

static void test_reopen_backup(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("store");
	char *db = path_in(dir, "db");
	char *bk = path_in(dir, "backup");
	struct ds_store_opts o = opts_fast();
	o.no_sync = false;
	struct ds_store *s = open_ok(db, &o);
	uint64_t n = 3000;
	assert_int_equal(ds_store_write(s, fill_heights_fn, &n), 0);
	assert_int_equal(put_str(s, T_B, "b", "bee"), 0);
	/* Free pages that compaction drops. */
	struct range_arg a = {0, 2000, 100000, 0};
	assert_int_equal(ds_store_write(s, range_fn, &a), 0);
	assert_int_equal(a.deleted, 2000);
	assert_int_equal(ds_store_sync(s), 0);
	struct ds_store_stats st;
	assert_int_equal(ds_store_stats(s, &st), 0);
	assert_int_equal(st.tables_len, 3);
	assert_true(st.entries[T_A] == 1000 && st.entries[T_B] == 1 && st.entries[T_C] == 0);
	assert_true(st.page_size >= 4096);
	assert_true(st.used_bytes > 1000 * 200);

	assert_int_equal(ds_store_backup(s, bk), 0);
	assert_int_equal(ds_store_backup(s, bk), DS_EEXIST);
	/* Writes after the backup are not in it. */
	assert_int_equal(put_str(s, T_B, "later", "x"), 0);
	ds_store_close(s);

	struct stat fst;
	char *bkdata = path_in(bk, "data.mdb");
	assert_int_equal(stat(bkdata, &fst), 0);
	assert_int_equal(fst.st_mode & 0777, 0600);
	assert_int_equal(stat(bk, &fst), 0);
	assert_int_equal(fst.st_mode & 0777, 0700);
	char *partial = path_in(dir, "backup.partial");
	assert_int_not_equal(stat(partial, &fst), 0);

	/* Reopen the original (with only two tables listed) and the backup. */
	struct ds_store_opts o2 = o;
	o2.tables_len = 2;
	s = open_ok(db, &o2);
	char buf[16];
	assert_int_equal(get_str(s, T_B, "later", buf, sizeof(buf)), 0);
	assert_true(count_table(s, T_A) == 1000);
	ds_store_close(s);

	s = open_ok(bk, &o);
	assert_int_equal(get_str(s, T_B, "b", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "bee");
	assert_int_equal(get_str(s, T_B, "later", buf, sizeof(buf)), DS_ENOTFOUND);
	struct ds_store_stats bst;
	assert_int_equal(ds_store_stats(s, &bst), 0);
	assert_true(bst.entries[T_A] == 1000);
	assert_true(bst.used_bytes < st.used_bytes); /* compacted */
	struct ds_rtxn *r;
	assert_int_equal(ds_store_read_begin(&r, s), 0);
	for (uint64_t h = 2000; h < 3000; h++) {
		uint8_t k[8];
		ds_store_key_u64(k, h);
		const uint8_t *v;
		size_t vl;
		assert_int_equal(ds_store_get(r, T_A, k, 8, &v, &vl), 0);
		assert_int_equal(vl, 200);
		assert_true(v[199] == (uint8_t)h);
	}
	ds_store_read_end(r);
	ds_store_close(s);
	free(partial);
	free(bkdata);
	free(bk);
	free(db);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	tu_seed();
	ds_log_set_level(DS_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_validation),
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_cursor_model),
		cmocka_unit_test(test_del_range),
		cmocka_unit_test(test_atomicity),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_map_max),
		cmocka_unit_test(test_write_guards),
		cmocka_unit_test(test_snapshot_thread),
		cmocka_unit_test(test_growth_waits_for_reader),
		cmocka_unit_test(test_readers_during_growth),
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_corrupt_files),
		cmocka_unit_test(test_reopen_backup),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
