/* privstore: round trips, file modes, tamper detection, and crypto-shredding
 * checked by scanning every file under HOME for the plaintext and the key. */
#include "testutil.h"

#include <ftw.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "privstore/privstore.h"

static const char secret_text[] =
	"name=Zhang San;national_id=110101199003077777;court=Haidian;case=2024-J-0042";

/* ---- scanning every file under a directory ------------------------------ */
static const uint8_t *scan_needle;
static size_t scan_needle_len;
static int scan_hits;
static int scan_files;

static int scan_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	uint8_t *p;
	size_t n;
	assert_int_equal(ds_file_read(&p, &n, path, 64u << 20), 0);
	scan_files++;
	if (n >= scan_needle_len && memmem(p, n, scan_needle, scan_needle_len)) {
		fprintf(stderr, "# found in %s\n", path);
		scan_hits++;
	}
	free(p);
	return 0;
}

static int scan_dir(const char *dir, const void *needle, size_t len)
{
	scan_needle = needle;
	scan_needle_len = len;
	scan_hits = 0;
	scan_files = 0;
	assert_int_equal(nftw(dir, scan_one, 16, FTW_PHYS), 0);
	return scan_hits;
}

/* ---- helpers reading the documented on-disk format directly ------------- */
static void rec_name(char out[65], const char *id)
{
	uint8_t h[DS_HASH_LEN];
	const struct ds_iov parts[] = {{"danshari/privstore/name/v1", 26}, {id, strlen(id)}};
	ds_sha256_v(h, parts, 2);
	ds_hex_encode(out, h, sizeof(h));
}

static size_t ad_of(uint8_t *ad, const char *tag, const char *id)
{
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, ad, 256);
	ds_enc_fixed(&e, tag, strlen(tag));
	ds_enc_str(&e, id);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	return n;
}

/* Unwraps the record key with the master key, as an independent reader of
 * the format in docs/PRIVACY.md would. */
static void read_record_key(uint8_t rk[32], const char *home, const char *id)
{
	char path[4200], name[65];
	uint8_t *mk, *kf, master[32], ad[256];
	size_t mkl, kfl;
	snprintf(path, sizeof(path), "%s/private/master.key", home);
	assert_int_equal(ds_file_read(&mk, &mkl, path, 256), 0);
	assert_int_equal(mkl, 31 + 64 + 1);
	assert_memory_equal(mk, "danshari-private-master v1\nkey ", 31);
	assert_int_equal(ds_hex_decode(master, 32, (char *)mk + 31, 64), 0);
	free(mk);
	rec_name(name, id);
	snprintf(path, sizeof(path), "%s/private/keys/%s.key", home, name);
	assert_int_equal(ds_file_read(&kf, &kfl, path, 256), 0);
	assert_int_equal(kfl, 4 + 1 + 24 + 32 + 16);
	assert_memory_equal(kf, "DSPK\x01", 5);
	size_t adl = ad_of(ad, "danshari/privstore/key/v1", id);
	assert_int_equal(ds_xaead_decrypt(rk, kf + 29, kfl - 29, ad, adl, kf + 5, master), 0);
	free(kf);
}

static void test_roundtrip_and_modes(void **state)
{
	(void)state;
	char *home = tu_tmpdir("privstore");
	struct ds_privstore *ps;
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_put(ps, "court-d:1", (const uint8_t *)secret_text,
					  sizeof(secret_text)), 0);
	assert_int_equal(ds_privstore_has(ps, "court-d:1"), 1);
	assert_int_equal(ds_privstore_has(ps, "court-d:2"), 0);
	uint8_t *out;
	size_t len;
	assert_int_equal(ds_privstore_get(ps, &out, &len, "court-d:1"), 0);
	assert_int_equal(len, sizeof(secret_text));
	assert_memory_equal(out, secret_text, len);
	ds_privstore_free(out, len);
	assert_int_equal(ds_privstore_get(ps, &out, &len, "court-d:2"), DS_ENOTFOUND);
	assert_null(out);
	assert_int_equal(ds_privstore_put(ps, "court-d:1", (const uint8_t *)"x", 1), DS_EEXIST);
	assert_int_equal(ds_privstore_put(ps, "", (const uint8_t *)"x", 1), DS_EINVAL);
	assert_int_equal(ds_privstore_put(ps, "a", (const uint8_t *)"x", 0), DS_EINVAL);
	assert_int_equal(ds_privstore_put(ps, "bad\xff", (const uint8_t *)"x", 1), DS_EINVAL);

	char path[4200], name[65];
	struct stat st;
	snprintf(path, sizeof(path), "%s/private", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/private/master.key", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	rec_name(name, "court-d:1");
	snprintf(path, sizeof(path), "%s/private/data/%s.dat", home, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Neither the plaintext nor the record id appears in any file. */
	assert_int_equal(scan_dir(home, secret_text, sizeof(secret_text) - 1), 0);
	assert_int_equal(scan_dir(home, "court-d:1", 9), 0);
	ds_privstore_close(ps);

	/* Reopening reads the same master key. */
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_get(ps, &out, &len, "court-d:1"), 0);
	assert_memory_equal(out, secret_text, len);
	ds_privstore_free(out, len);
	ds_privstore_close(ps);

	/* A master key that others can read is refused. */
	snprintf(path, sizeof(path), "%s/private/master.key", home);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ds_privstore_open(&ps, home), DS_EPERM);
	assert_null(ps);
	assert_int_equal(chmod(path, 0600), 0);
	tu_rmrf(home);
	free(home);
}

static void flip_byte(const char *path, size_t at)
{
	uint8_t *p;
	size_t n;
	assert_int_equal(ds_file_read(&p, &n, path, 1 << 20), 0);
	assert_true(at < n);
	p[at] ^= 0x01;
	assert_int_equal(ds_file_write_atomic(path, p, n, 0600, 0), 0);
	free(p);
}

static void test_tamper(void **state)
{
	(void)state;
	char *home = tu_tmpdir("privstore");
	struct ds_privstore *ps;
	uint8_t *out;
	size_t len;
	char a[4200], b[4200], name[65];
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_put(ps, "r1", (const uint8_t *)"details one", 11), 0);
	assert_int_equal(ds_privstore_put(ps, "r2", (const uint8_t *)"details two", 11), 0);

	/* Every byte of the data file is authenticated (header and body). */
	rec_name(name, "r1");
	snprintf(a, sizeof(a), "%s/private/data/%s.dat", home, name);
	for (size_t at = 0; at < 4 + 1 + 24 + 11 + 16; at += 7) {
		flip_byte(a, at);
		assert_int_equal(ds_privstore_get(ps, &out, &len, "r1"), DS_ECORRUPT);
		flip_byte(a, at);
	}
	assert_int_equal(ds_privstore_get(ps, &out, &len, "r1"), 0);
	ds_privstore_free(out, len);
	snprintf(a, sizeof(a), "%s/private/keys/%s.key", home, name);
	flip_byte(a, 40);
	assert_int_equal(ds_privstore_get(ps, &out, &len, "r1"), DS_ECORRUPT);
	flip_byte(a, 40);

	/* Another record's files under this record's name do not decrypt. */
	rec_name(name, "r2");
	snprintf(b, sizeof(b), "%s/private/keys/%s.key", home, name);
	uint8_t *p;
	size_t n;
	assert_int_equal(ds_file_read(&p, &n, b, 256), 0);
	assert_int_equal(ds_file_write_atomic(a, p, n, 0600, 0), 0);
	free(p);
	assert_int_equal(ds_privstore_get(ps, &out, &len, "r1"), DS_ECORRUPT);
	assert_int_equal(ds_privstore_get(ps, &out, &len, "r2"), 0);
	assert_memory_equal(out, "details two", 11);
	ds_privstore_free(out, len);
	ds_privstore_close(ps);
	tu_rmrf(home);
	free(home);
}

static void test_erase_shreds(void **state)
{
	(void)state;
	char *home = tu_tmpdir("privstore");
	struct ds_privstore *ps;
	uint8_t rk[32], *out;
	size_t len;
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_put(ps, "court-d:7", (const uint8_t *)secret_text,
					  sizeof(secret_text)), 0);
	assert_int_equal(ds_privstore_put(ps, "bank-c:1", (const uint8_t *)"keep me", 7), 0);
	read_record_key(rk, home, "court-d:7");

	/* The unwrapped key really is the record key: it opens the data file. */
	char path[4200], name[65];
	uint8_t *df, ad[256], plain[sizeof(secret_text)];
	size_t dfl;
	rec_name(name, "court-d:7");
	snprintf(path, sizeof(path), "%s/private/data/%s.dat", home, name);
	assert_int_equal(ds_file_read(&df, &dfl, path, 1 << 20), 0);
	size_t adl = ad_of(ad, "danshari/privstore/data/v1", "court-d:7");
	assert_int_equal(ds_xaead_decrypt(plain, df + 29, dfl - 29, ad, adl, df + 5, rk), 0);
	assert_memory_equal(plain, secret_text, sizeof(secret_text));
	/* Keep a piece of the ciphertext to look for after erasure. */
	uint8_t ct[32];
	memcpy(ct, df + 29, sizeof(ct));
	free(df);

	assert_int_equal(scan_dir(home, rk, sizeof(rk)), 0); /* only ever stored wrapped */
	assert_int_equal(ds_privstore_erase(ps, "court-d:7"), 0);
	assert_int_equal(ds_privstore_get(ps, &out, &len, "court-d:7"), DS_ENOTFOUND);
	assert_int_equal(ds_privstore_has(ps, "court-d:7"), 0);
	assert_int_equal(ds_privstore_erase(ps, "court-d:7"), DS_ENOTFOUND);

	assert_int_equal(scan_dir(home, secret_text, sizeof(secret_text) - 1), 0);
	assert_int_equal(scan_dir(home, "Zhang San", 9), 0);
	assert_int_equal(scan_dir(home, "110101199003077777", 18), 0);
	assert_int_equal(scan_dir(home, rk, sizeof(rk)), 0);
	assert_int_equal(scan_dir(home, ct, sizeof(ct)), 0);
	assert_true(scan_files >= 2); /* the scan did look at the remaining files */

	/* Other records are untouched. */
	assert_int_equal(ds_privstore_get(ps, &out, &len, "bank-c:1"), 0);
	assert_memory_equal(out, "keep me", 7);
	ds_privstore_free(out, len);
	/* The id can be reused after erasure. */
	assert_int_equal(ds_privstore_put(ps, "court-d:7", (const uint8_t *)"new", 3), 0);
	ds_privstore_close(ps);
	ds_memzero(rk, sizeof(rk));
	tu_rmrf(home);
	free(home);
}

static void test_bad_master(void **state)
{
	(void)state;
	char *home = tu_tmpdir("privstore");
	char path[4200];
	struct ds_privstore *ps;
	snprintf(path, sizeof(path), "%s/private", home);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/private/master.key", home);
	assert_int_equal(ds_file_write_atomic(path, "danshari-private-master v1\nkey 00\n", 34, 0600, 1), 0);
	assert_int_equal(ds_privstore_open(&ps, home), DS_ECORRUPT);
	assert_null(ps);
	/* A private directory others can enter is refused. */
	snprintf(path, sizeof(path), "%s/private", home);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(ds_privstore_open(&ps, home), DS_EPERM);
	tu_rmrf(home);
	free(home);
}

/* The cursor file: exact format, strict parse, survives a reopen. */
static void test_cursor(void **state)
{
	(void)state;
	char *home = tu_tmpdir("privstore");
	char path[4200];
	struct ds_privstore *ps;
	uint64_t h = 7;
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_cursor_get(ps, &h), DS_ENOTFOUND);
	assert_int_equal(h, 0);
	const uint64_t vals[] = {0, 1, 10, 4242, UINT64_MAX};
	for (size_t i = 0; i < DS_ARRAY_LEN(vals); i++) {
		assert_int_equal(ds_privstore_cursor_set(ps, vals[i]), 0);
		assert_int_equal(ds_privstore_cursor_get(ps, &h), 0);
		assert_true(h == vals[i]);
	}
	assert_int_equal(ds_privstore_cursor_set(ps, 4242), 0);
	ds_privstore_close(ps);
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_cursor_get(ps, &h), 0);
	assert_int_equal(h, 4242);
	/* The documented bytes, and the file's mode. */
	snprintf(path, sizeof(path), "%s/private/cursor", home);
	uint8_t *t;
	size_t tl;
	assert_int_equal(ds_file_read(&t, &tl, path, 256), 0);
	assert_int_equal(tl, strlen("danshari-private-cursor v1\nheight 4242\n"));
	assert_memory_equal(t, "danshari-private-cursor v1\nheight 4242\n", tl);
	free(t);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	static const char *const bad[] = {
		"",
		"danshari-private-cursor v1\nheight \n",
		"danshari-private-cursor v1\nheight 12",
		"danshari-private-cursor v1\nheight 012\n",
		"danshari-private-cursor v1\nheight 1x\n",
		"danshari-private-cursor v1\nheight -1\n",
		"danshari-private-cursor v1\nheight 18446744073709551616\n",
		"danshari-private-cursor v2\nheight 12\n",
		"danshari-private-cursor v1\nheight 12\n\n",
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		assert_int_equal(unlink(path), 0);
		assert_int_equal(ds_file_write_atomic(path, bad[i], strlen(bad[i]), 0600, 1), 0);
		h = 9;
		int rc = ds_privstore_cursor_get(ps, &h);
		if (rc != DS_ECORRUPT)
			fail_msg("cursor file %zu: got %d, want DS_ECORRUPT", i, rc);
		assert_int_equal(h, 0);
	}
	ds_privstore_close(ps);
	tu_rmrf(home);
	free(home);
}

static void delivery(struct ds_privstore_delivery *e, const char *record, const char *org)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->record, sizeof(e->record), "%s", record);
	snprintf(e->org, sizeof(e->org), "%s", org);
}

/* The outbox file: round trip, bounds, strict decoding of every prefix and
 * of single-byte changes. */
static void test_outbox(void **state)
{
	(void)state;
	char *home = tu_tmpdir("privstore");
	char path[4200];
	struct ds_privstore *ps;
	struct ds_privstore_delivery in[3], out[4];
	size_t n = 99;
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_outbox_load(ps, out, 4, &n), 0);
	assert_int_equal(n, 0);
	delivery(&in[0], "court_d:1", "bank_c");
	delivery(&in[1], "court_d:1", "province_b");
	delivery(&in[2], "city_a:77", "bank_c");
	assert_int_equal(ds_privstore_outbox_save(ps, in, 3), 0);
	ds_privstore_close(ps);
	assert_int_equal(ds_privstore_open(&ps, home), 0);
	assert_int_equal(ds_privstore_outbox_load(ps, out, 4, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(out[i].record, in[i].record);
		assert_string_equal(out[i].org, in[i].org);
	}
	assert_int_equal(ds_privstore_outbox_load(ps, out, 2, &n), DS_ETOOBIG);
	assert_int_equal(n, 0);
	/* The documented encoding. */
	snprintf(path, sizeof(path), "%s/private/outbox", home);
	uint8_t *t;
	size_t tl;
	assert_int_equal(ds_file_read(&t, &tl, path, 1 << 20), 0);
	static const uint8_t want[] = "DSPO\x01\x03"
				      "\x09" "court_d:1" "\x06" "bank_c"
				      "\x09" "court_d:1" "\x0a" "province_b"
				      "\x09" "city_a:77" "\x06" "bank_c";
	assert_int_equal(tl, sizeof(want) - 1);
	assert_memory_equal(t, want, tl);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Every proper prefix, a trailing byte, and each byte changed: either
	 * refused, or (a changed character inside a name) still well-formed. */
	for (size_t k = 0; k < tl; k++) {
		assert_int_equal(unlink(path), 0);
		assert_int_equal(ds_file_write_atomic(path, t, k, 0600, 1), 0);
		int rc = ds_privstore_outbox_load(ps, out, 4, &n);
		if (rc != DS_ECORRUPT)
			fail_msg("outbox prefix %zu: got %d, want DS_ECORRUPT", k, rc);
	}
	uint8_t *u = malloc(tl + 1);
	assert_non_null(u);
	memcpy(u, t, tl);
	u[tl] = 0;
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ds_file_write_atomic(path, u, tl + 1, 0600, 1), 0);
	assert_int_equal(ds_privstore_outbox_load(ps, out, 4, &n), DS_ECORRUPT);
	const size_t structural[] = {0, 3, 4, 5, 6, 16};
	const uint8_t flips[] = {0x01, 0x80, 0xff};
	for (size_t i = 0; i < DS_ARRAY_LEN(structural); i++) {
		for (size_t f = 0; f < DS_ARRAY_LEN(flips); f++) {
			memcpy(u, t, tl);
			u[structural[i]] ^= flips[f];
			assert_int_equal(unlink(path), 0);
			assert_int_equal(ds_file_write_atomic(path, u, tl, 0600, 1), 0);
			int rc = ds_privstore_outbox_load(ps, out, 4, &n);
			if (rc != DS_ECORRUPT)
				fail_msg("outbox byte %zu ^ %02x: got %d", structural[i], flips[f], rc);
			assert_int_equal(n, 0);
		}
	}
	/* A NUL inside a record id. */
	memcpy(u, t, tl);
	u[8] = 0;
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ds_file_write_atomic(path, u, tl, 0600, 1), 0);
	assert_int_equal(ds_privstore_outbox_load(ps, out, 4, &n), DS_ECORRUPT);
	free(u);
	free(t);
	/* Saving: bad entries and the bound; an empty outbox loads as empty. */
	delivery(&in[1], "", "bank_c");
	assert_int_equal(ds_privstore_outbox_save(ps, in, 3), DS_EINVAL);
	delivery(&in[1], "court_d:1", "");
	assert_int_equal(ds_privstore_outbox_save(ps, in, 3), DS_EINVAL);
	delivery(&in[1], "bad\xff", "bank_c");
	assert_int_equal(ds_privstore_outbox_save(ps, in, 3), DS_EINVAL);
	assert_int_equal(ds_privstore_outbox_save(ps, in, DS_PRIVSTORE_OUTBOX_MAX + 1), DS_ETOOBIG);
	assert_int_equal(ds_privstore_outbox_save(ps, in, 0), 0);
	assert_int_equal(ds_privstore_outbox_load(ps, out, 4, &n), 0);
	assert_int_equal(n, 0);
	/* The full bound round-trips, with the longest record ids and orgs. */
	struct ds_privstore_delivery *big = calloc(DS_PRIVSTORE_OUTBOX_MAX, sizeof(*big));
	assert_non_null(big);
	for (size_t i = 0; i < DS_PRIVSTORE_OUTBOX_MAX; i++) {
		memset(big[i].record, 'r', DS_PRIVSTORE_ID_MAX);
		snprintf(big[i].record, 12, "%010zu", i);
		big[i].record[10] = ':';
		memset(big[i].org, 'o', DS_PRIVSTORE_ORG_MAX);
	}
	assert_int_equal(ds_privstore_outbox_save(ps, big, DS_PRIVSTORE_OUTBOX_MAX), 0);
	struct ds_privstore_delivery *back = calloc(DS_PRIVSTORE_OUTBOX_MAX, sizeof(*back));
	assert_non_null(back);
	assert_int_equal(ds_privstore_outbox_load(ps, back, DS_PRIVSTORE_OUTBOX_MAX, &n), 0);
	assert_int_equal(n, DS_PRIVSTORE_OUTBOX_MAX);
	assert_memory_equal(back, big, DS_PRIVSTORE_OUTBOX_MAX * sizeof(*big));
	free(big);
	free(back);
	ds_privstore_close(ps);
	tu_rmrf(home);
	free(home);
}

int main(void)
{
	assert_int_equal(ds_crypto_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_modes),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_erase_shreds),
		cmocka_unit_test(test_bad_master),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_outbox),
	};
	return cmocka_run_group_tests_name("privstore", tests, NULL, NULL);
}
