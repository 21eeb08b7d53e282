/* Key files (keyfile.h). */
#include "keyfile/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KF_VERSION_LINE DS_KEYFILE_MAGIC " v1"
#define KF_LINES 5
#define KF_CHECK_LEN 8 /* bytes of SHA-256 kept as the checksum */

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
	if (err && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int ds_keyfile_from_seed(struct ds_key *key, const uint8_t seed[DS_SEED_LEN])
{
	int rc = ds_ed25519_seed_keypair(key->pk, key->sk, seed);
	if (rc)
		ds_keyfile_wipe(key);
	return rc;
}

int ds_keyfile_generate(struct ds_key *key)
{
	int rc = ds_ed25519_keypair(key->pk, key->sk);
	if (rc)
		ds_keyfile_wipe(key);
	return rc;
}

void ds_keyfile_wipe(struct ds_key *key)
{
	ds_memzero(key, sizeof(*key));
}

int ds_keyfile_pk_from_hex(uint8_t pk[DS_PK_LEN], const char *hex)
{
	size_t n = strnlen(hex, 2 * DS_PK_LEN + 1);
	int rc = ds_hex_decode(pk, DS_PK_LEN, hex, n);
	if (rc)
		memset(pk, 0, DS_PK_LEN);
	return rc;
}

void ds_keyfile_pk_to_hex(char out[2 * DS_PK_LEN + 1], const uint8_t pk[DS_PK_LEN])
{
	ds_hex_encode(out, pk, DS_PK_LEN);
}

static void checksum(char out[2 * KF_CHECK_LEN + 1], const void *text, size_t len)
{
	uint8_t h[DS_HASH_LEN];
	ds_sha256(h, text, len);
	ds_hex_encode(out, h, KF_CHECK_LEN);
}

int ds_keyfile_format(char *out, size_t cap, size_t *out_len, const struct ds_key *key)
{
	char seed_hex[2 * DS_SEED_LEN + 1], pk_hex[2 * DS_PK_LEN + 1], check[2 * KF_CHECK_LEN + 1];
	*out_len = 0;
	ds_hex_encode(seed_hex, key->sk, DS_SEED_LEN);
	ds_hex_encode(pk_hex, key->pk, DS_PK_LEN);
	int n = snprintf(out, cap, "%s\ntype ed25519\nseed %s\npublic %s\n", KF_VERSION_LINE,
			 seed_hex, pk_hex);
	ds_memzero(seed_hex, sizeof(seed_hex));
	if (n < 0 || (size_t)n >= cap) {
		ds_memzero(out, cap);
		return DS_ETOOBIG;
	}
	checksum(check, out, (size_t)n);
	int m = snprintf(out + n, cap - (size_t)n, "check %s\n", check);
	if (m < 0 || (size_t)m >= cap - (size_t)n) {
		ds_memzero(out, cap);
		return DS_ETOOBIG;
	}
	*out_len = (size_t)n + (size_t)m;
	return 0;
}

/* Field "<name> <hex of n bytes>" of one line (without its newline). */
static bool hex_field(uint8_t *out, size_t n, const char *line, size_t line_len, const char *name)
{
	size_t k = strlen(name);
	if (line_len != k + 1 + 2 * n || memcmp(line, name, k) != 0 || line[k] != ' ')
		return false;
	for (size_t i = k + 1; i < line_len; i++) /* the file is written lowercase */
		if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f')))
			return false;
	return ds_hex_decode(out, n, line + k + 1, 2 * n) == 0;
}

int ds_keyfile_parse(struct ds_key *key, const uint8_t *text, size_t len, char *err, size_t err_cap)
{
	const char *t = (const char *)text;
	const char *line[KF_LINES];
	size_t line_len[KF_LINES];
	size_t nlines = 0, pos = 0;
	uint8_t seed[DS_SEED_LEN];
	struct ds_key derived;
	int rc;

	memset(key, 0, sizeof(*key));
	if (err && err_cap)
		err[0] = '\0';
	if (len == 0)
		return fail(err, err_cap, DS_ETRUNC, "key file is empty");
	if (len > DS_KEYFILE_MAX)
		return fail(err, err_cap, DS_ETOOBIG, "key file is larger than %d bytes", DS_KEYFILE_MAX);
	while (pos < len && nlines < KF_LINES) {
		const char *nl = memchr(t + pos, '\n', len - pos);
		if (!nl)
			break;
		line[nlines] = t + pos;
		line_len[nlines] = (size_t)(nl - (t + pos));
		nlines++;
		pos = (size_t)(nl - t) + 1;
	}
	/* The first line decides what kind of file this is, even if cut short. */
	size_t first_len = nlines ? line_len[0] : len;
	size_t magic_len = sizeof(DS_KEYFILE_MAGIC) - 1;
	if (first_len < magic_len + 1 || memcmp(t, DS_KEYFILE_MAGIC " ", magic_len + 1) != 0) {
		if (nlines == 0 && len < sizeof(KF_VERSION_LINE) && memcmp(t, KF_VERSION_LINE, len) == 0)
			return fail(err, err_cap, DS_ETRUNC, "key file is truncated (in its first line)");
		return fail(err, err_cap, DS_ETAG, "not a danshari key file (first line is not '%s')",
			    KF_VERSION_LINE);
	}
	if (first_len != sizeof(KF_VERSION_LINE) - 1 || memcmp(t, KF_VERSION_LINE, first_len) != 0) {
		if (nlines == 0 && len < sizeof(KF_VERSION_LINE) &&
		    memcmp(t, KF_VERSION_LINE, len) == 0)
			return fail(err, err_cap, DS_ETRUNC, "key file is truncated (in its first line)");
		return fail(err, err_cap, DS_EVERSION,
			    "unsupported key file version (this build reads '%s')", KF_VERSION_LINE);
	}
	if (nlines < KF_LINES)
		return fail(err, err_cap, DS_ETRUNC, "key file is truncated (%zu of %d lines complete)",
			    nlines, KF_LINES);
	if (pos != len)
		return fail(err, err_cap, DS_ECORRUPT, "key file is corrupt (data after the check line)");
	if (line_len[1] < 5 || memcmp(line[1], "type ", 5) != 0)
		return fail(err, err_cap, DS_ECORRUPT, "key file is corrupt (line 2 is not 'type ...')");
	if (line_len[1] != 12 || memcmp(line[1], "type ed25519", 12) != 0)
		return fail(err, err_cap, DS_ETAG, "unsupported key type (only ed25519 is supported)");
	uint8_t check[KF_CHECK_LEN];
	if (!hex_field(check, KF_CHECK_LEN, line[4], line_len[4], "check"))
		return fail(err, err_cap, DS_ECORRUPT, "key file is corrupt (malformed check line)");
	char want[2 * KF_CHECK_LEN + 1];
	checksum(want, t, (size_t)(line[4] - t));
	if (memcmp(want, line[4] + 6, 2 * KF_CHECK_LEN) != 0)
		return fail(err, err_cap, DS_ECORRUPT, "key file is corrupt (checksum mismatch)");
	if (!hex_field(seed, DS_SEED_LEN, line[2], line_len[2], "seed")) {
		rc = fail(err, err_cap, DS_ECORRUPT, "key file is corrupt (malformed seed line)");
		goto fail;
	}
	if (!hex_field(key->pk, DS_PK_LEN, line[3], line_len[3], "public")) {
		rc = fail(err, err_cap, DS_ECORRUPT, "key file is corrupt (malformed public line)");
		goto fail;
	}
	rc = ds_keyfile_from_seed(&derived, seed);
	if (rc) {
		rc = fail(err, err_cap, rc, "cannot derive the key pair: %s", ds_strerror(rc));
		goto fail;
	}
	if (memcmp(derived.pk, key->pk, DS_PK_LEN) != 0) {
		rc = fail(err, err_cap, DS_ECORRUPT,
			  "key file is corrupt (public key does not match the seed)");
		goto fail;
	}
	*key = derived;
	ds_keyfile_wipe(&derived);
	ds_memzero(seed, sizeof(seed));
	return 0;
fail:
	ds_keyfile_wipe(&derived);
	ds_keyfile_wipe(key);
	ds_memzero(seed, sizeof(seed));
	return rc;
}

int ds_keyfile_write(const char *path, const struct ds_key *key, char *err, size_t err_cap)
{
	char text[DS_KEYFILE_MAX];
	size_t n;
	int rc = ds_keyfile_format(text, sizeof(text), &n, key);
	if (rc)
		return fail(err, err_cap, rc, "cannot format key file: %s", ds_strerror(rc));
	rc = ds_file_write_atomic(path, text, n, 0600, 1);
	ds_memzero(text, sizeof(text));
	if (rc == DS_EEXIST)
		return fail(err, err_cap, rc, "%s already exists; refusing to overwrite a key file", path);
	if (rc)
		return fail(err, err_cap, rc, "cannot write %s: %s", path, ds_strerror(rc));
	return 0;
}

int ds_keyfile_load(struct ds_key *key, const char *path, char *err, size_t err_cap)
{
	uint8_t buf[DS_KEYFILE_MAX + 1];
	size_t got = 0;
	int rc;
	memset(key, 0, sizeof(*key));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return fail(err, err_cap, e == ENOENT ? DS_ENOTFOUND : DS_EIO, "cannot open key file %s: %s",
			    path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = fail(err, err_cap, DS_EIO, "key file %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = fail(err, err_cap, DS_EPERM,
			  "key file %s has mode %04o: group or others may access it (run: chmod 600 %s)",
			  path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	/* Bounded read: a file that keeps growing stops at the cap. */
	while (got < sizeof(buf)) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = fail(err, err_cap, DS_EIO, "cannot read key file %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = ds_keyfile_parse(key, buf, got, err, err_cap);
	if (rc && err && err_cap) {
		/* Name the file: the same message may come from several keys. */
		char tmp[DS_KEYFILE_ERR_MAX];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, err_cap, "%s: %s", path, tmp);
	}
out:
	ds_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
