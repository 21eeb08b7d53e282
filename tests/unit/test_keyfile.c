/* keyfile: write/load, modes, truncation, corruption, wrong type, overwrite. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile/keyfile.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tu_tmpdir("keyfile");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmrf(dir);
	free(dir);
	return 0;
}

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Writes raw bytes with a given mode (no atomic helper: tests want any content). */
static void write_raw(const char *path, const void *p, size_t n, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void fixed_key(struct ds_key *k)
{
	uint8_t seed[DS_SEED_LEN];
	for (int i = 0; i < DS_SEED_LEN; i++)
		seed[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(ds_keyfile_from_seed(k, seed), 0);
}

static void test_write_load_roundtrip(void **state)
{
	(void)state;
	char p[4200], err[DS_KEYFILE_ERR_MAX];
	struct ds_key k, back;
	assert_int_equal(ds_keyfile_generate(&k), 0);
	path_of(p, sizeof(p), "a.key");
	assert_int_equal(ds_keyfile_write(p, &k, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ds_keyfile_load(&back, p, err, sizeof(err)), 0);
	assert_memory_equal(back.pk, k.pk, DS_PK_LEN);
	assert_memory_equal(back.sk, k.sk, DS_SK_LEN);
	/* Overwrite refused, content unchanged. */
	struct ds_key other;
	assert_int_equal(ds_keyfile_generate(&other), 0);
	assert_int_equal(ds_keyfile_write(p, &other, err, sizeof(err)), DS_EEXIST);
	assert_non_null(strstr(err, "refusing to overwrite"));
	assert_int_equal(ds_keyfile_load(&back, p, err, sizeof(err)), 0);
	assert_memory_equal(back.pk, k.pk, DS_PK_LEN);
	/* Missing file. */
	path_of(p, sizeof(p), "missing.key");
	assert_int_equal(ds_keyfile_load(&back, p, err, sizeof(err)), DS_ENOTFOUND);
	ds_keyfile_wipe(&k);
	ds_keyfile_wipe(&other);
	ds_keyfile_wipe(&back);
}

static void test_modes_refused(void **state)
{
	(void)state;
	char p[4200], err[DS_KEYFILE_ERR_MAX], text[DS_KEYFILE_MAX];
	size_t n;
	struct ds_key k, back;
	fixed_key(&k);
	assert_int_equal(ds_keyfile_format(text, sizeof(text), &n, &k), 0);
	path_of(p, sizeof(p), "mode.key");
	const mode_t bad[] = {0640, 0604, 0644, 0660, 0606, 0610};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		write_raw(p, text, n, bad[i]);
		assert_int_equal(ds_keyfile_load(&back, p, err, sizeof(err)), DS_EPERM);
		char want[16];
		snprintf(want, sizeof(want), "mode %04o", (unsigned)bad[i]);
		assert_non_null(strstr(err, want));
		for (size_t b = 0; b < sizeof(back); b++)
			assert_int_equal(((uint8_t *)&back)[b], 0);
	}
	write_raw(p, text, n, 0400);
	assert_int_equal(ds_keyfile_load(&back, p, err, sizeof(err)), 0);
	assert_memory_equal(back.pk, k.pk, DS_PK_LEN);
}

static int parse(const char *text, size_t n, char *err, size_t cap)
{
	struct ds_key k;
	return ds_keyfile_parse(&k, (const uint8_t *)text, n, err, cap);
}

static void test_truncated_and_corrupt(void **state)
{
	(void)state;
	char text[DS_KEYFILE_MAX], buf[DS_KEYFILE_MAX + 8], err[DS_KEYFILE_ERR_MAX];
	size_t n;
	struct ds_key k;
	fixed_key(&k);
	assert_int_equal(ds_keyfile_format(text, sizeof(text), &n, &k), 0);
	assert_int_equal(parse(text, n, err, sizeof(err)), 0);
	/* Every truncation is an error, and a prefix is reported as truncated. */
	for (size_t len = 0; len < n; len++) {
		assert_int_equal(parse(text, len, err, sizeof(err)), DS_ETRUNC);
	}
	/* Every flipped byte is an error. */
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(buf, text, n);
			buf[i] ^= (char)(1u << bit);
			assert_int_not_equal(parse(buf, n, err, sizeof(err)), 0);
		}
	}
	/* A changed seed digit with a recomputed checksum is still caught: the
	 * public key no longer matches. Done by editing and re-checksumming. */
	memcpy(buf, text, n);
	char *seed = strstr(buf, "seed ") + 5;
	seed[0] = seed[0] == '0' ? '1' : '0';
	{
		uint8_t h[DS_HASH_LEN];
		char *check = strstr(buf, "check ");
		ds_sha256(h, buf, (size_t)(check - buf));
		char hex[17];
		ds_hex_encode(hex, h, 8);
		memcpy(check + 6, hex, 16);
	}
	assert_int_equal(parse(buf, n, err, sizeof(err)), DS_ECORRUPT);
	assert_non_null(strstr(err, "does not match"));
	/* Checksum mismatch is named. */
	memcpy(buf, text, n);
	buf[strstr(buf, "public ") - buf + 7] ^= 1;
	assert_int_equal(parse(buf, n, err, sizeof(err)), DS_ECORRUPT);
	assert_non_null(strstr(err, "checksum"));
	/* Trailing data. */
	memcpy(buf, text, n);
	memcpy(buf + n, "x\n", 2);
	assert_int_equal(parse(buf, n + 2, err, sizeof(err)), DS_ECORRUPT);
	/* Truncated message names truncation. */
	assert_int_equal(parse(text, n / 2, err, sizeof(err)), DS_ETRUNC);
	assert_non_null(strstr(err, "truncated"));
}

static void test_wrong_type_and_magic(void **state)
{
	(void)state;
	char err[DS_KEYFILE_ERR_MAX];
	const char *not_key = "{\"hello\": 1}\n";
	assert_int_equal(parse(not_key, strlen(not_key), err, sizeof(err)), DS_ETAG);
	assert_non_null(strstr(err, "not a danshari key file"));
	const char *wrong_magic = "danshari-kez v1\ntype ed25519\n";
	assert_int_equal(parse(wrong_magic, strlen(wrong_magic), err, sizeof(err)), DS_ETAG);
	const char *v2 = "danshari-key v2\ntype ed25519\n";
	assert_int_equal(parse(v2, strlen(v2), err, sizeof(err)), DS_EVERSION);
	const char *sm2 =
		"danshari-key v1\ntype sm2\nseed 00\npublic 00\ncheck 0000000000000000\n";
	assert_int_equal(parse(sm2, strlen(sm2), err, sizeof(err)), DS_ETAG);
	assert_non_null(strstr(err, "unsupported key type"));
	/* A signed transaction (binary) is not a key file. */
	const char bin[] = "\x01\x0d" "danshari-test";
	assert_int_equal(parse(bin, sizeof(bin) - 1, err, sizeof(err)), DS_ETAG);
	/* Too big. */
	static char big[DS_KEYFILE_MAX + 1];
	memset(big, 'a', sizeof(big));
	assert_int_equal(parse(big, sizeof(big), err, sizeof(err)), DS_ETOOBIG);
	/* Not a regular file. */
	struct ds_key k;
	assert_int_equal(ds_keyfile_load(&k, dir, err, sizeof(err)), DS_EIO);
}

static void test_pk_hex(void **state)
{
	(void)state;
	uint8_t pk[DS_PK_LEN];
	char hex[2 * DS_PK_LEN + 1];
	for (int i = 0; i < DS_PK_LEN; i++)
		pk[i] = (uint8_t)(0xa0 + i);
	ds_keyfile_pk_to_hex(hex, pk);
	assert_int_equal(strlen(hex), 64);
	uint8_t back[DS_PK_LEN];
	assert_int_equal(ds_keyfile_pk_from_hex(back, hex), 0);
	assert_memory_equal(back, pk, DS_PK_LEN);
	hex[63] = 0;
	assert_int_equal(ds_keyfile_pk_from_hex(back, hex), DS_EINVAL);
	char longer[80];
	snprintf(longer, sizeof(longer), "%s00", "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
	assert_int_equal(ds_keyfile_pk_from_hex(back, longer), DS_EINVAL);
	longer[64] = 0;
	assert_int_equal(ds_keyfile_pk_from_hex(back, longer), 0);
	longer[10] = 'g';
	assert_int_equal(ds_keyfile_pk_from_hex(back, longer), DS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_load_roundtrip),
		cmocka_unit_test(test_modes_refused),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_wrong_type_and_magic),
		cmocka_unit_test(test_pk_hex),
	};
	if (ds_crypto_init() != 0)
		return 1;
	return cmocka_run_group_tests_name("keyfile", tests, setup, teardown);
}
