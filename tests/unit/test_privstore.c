/* privstore: round trips, file modes, tamper detection, and crypto-shredding
 * checked by scanning every file under HOME for the plaintext and the key. */
#include "testutil.h"

#include <ftw.h>
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

int main(void)
{
	assert_int_equal(ds_crypto_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_modes),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_erase_shreds),
		cmocka_unit_test(test_bad_master),
	};
	return cmocka_run_group_tests_name("privstore", tests, NULL, NULL);
}
