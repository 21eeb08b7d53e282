/* Encrypted private store of record details, with crypto-shredding. */
#include "privstore/privstore.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

#define PATH_MAX_LEN 4096
#define DIR_MAX 3900 /* leaves room for "/keys/" + 64 hex + ".key" */
#define MASTER_HEAD "danshari-private-master v1\nkey "
#define NAME_TAG "danshari/privstore/name/v1"
#define WRAP_AD "danshari/privstore/key/v1"
#define DATA_AD "danshari/privstore/data/v1"
#define KEY_MAGIC "DSPK"
#define DATA_MAGIC "DSPD"
#define FILE_VERSION 1
#define HDR_LEN (4 + 1 + DS_XAEAD_NONCE_LEN)
#define KEYFILE_LEN (HDR_LEN + DS_AEAD_KEY_LEN + DS_AEAD_TAG_LEN)
#define AD_MAX (32 + DS_PRIVSTORE_ID_MAX)

struct ds_privstore {
	char dir[DIR_MAX]; /* HOME/private */
	uint8_t master[DS_AEAD_KEY_LEN];
};

static int id_ok(const char *id)
{
	size_t n = strnlen(id, DS_PRIVSTORE_ID_MAX + 1);
	return n > 0 && n <= DS_PRIVSTORE_ID_MAX && ds_utf8_valid((const uint8_t *)id, n);
}

/* Creates dir with mode 0700, or checks that an existing one is private. */
static int private_dir(const char *path)
{
	struct stat st;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return DS_EIO;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return DS_EIO;
	if (st.st_mode & 077)
		return DS_EPERM;
	return 0;
}

static int load_master(struct ds_privstore *ps, const char *path)
{
	struct stat st;
	uint8_t *text = NULL;
	size_t len = 0, hl = strlen(MASTER_HEAD);
	int rc;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? DS_ENOTFOUND : DS_EIO;
	if (st.st_mode & 077)
		return DS_EPERM;
	rc = ds_file_read(&text, &len, path, 256);
	if (rc)
		return rc;
	if (len != hl + 2 * DS_AEAD_KEY_LEN + 1 || memcmp(text, MASTER_HEAD, hl) != 0 ||
	    text[len - 1] != '\n' ||
	    ds_hex_decode(ps->master, DS_AEAD_KEY_LEN, (const char *)text + hl, 2 * DS_AEAD_KEY_LEN) != 0)
		rc = DS_ECORRUPT;
	ds_memzero(text, len);
	free(text);
	return rc;
}

static int create_master(struct ds_privstore *ps, const char *path)
{
	char text[sizeof(MASTER_HEAD) + 2 * DS_AEAD_KEY_LEN + 2];
	size_t hl = strlen(MASTER_HEAD);
	ds_random(ps->master, DS_AEAD_KEY_LEN);
	memcpy(text, MASTER_HEAD, hl);
	ds_hex_encode(text + hl, ps->master, DS_AEAD_KEY_LEN);
	text[hl + 2 * DS_AEAD_KEY_LEN] = '\n';
	int rc = ds_file_write_atomic(path, text, hl + 2 * DS_AEAD_KEY_LEN + 1, 0600, 1);
	ds_memzero(text, sizeof(text));
	return rc;
}

int ds_privstore_open(struct ds_privstore **out, const char *home)
{
	char path[PATH_MAX_LEN];
	int rc;
	*out = NULL;
	struct ds_privstore *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return DS_ENOMEM;
	int w = snprintf(ps->dir, sizeof(ps->dir), "%s/private", home);
	if (w < 0 || (size_t)w >= sizeof(ps->dir)) {
		rc = DS_EINVAL;
		goto fail;
	}
	if ((rc = private_dir(ps->dir)) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/keys", ps->dir);
	if ((rc = private_dir(path)) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/data", ps->dir);
	if ((rc = private_dir(path)) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/master.key", ps->dir);
	rc = load_master(ps, path);
	if (rc == DS_ENOTFOUND)
		rc = create_master(ps, path);
	if (rc)
		goto fail;
	*out = ps;
	return 0;
fail:
	ds_privstore_close(ps);
	return rc;
}

void ds_privstore_close(struct ds_privstore *ps)
{
	if (!ps)
		return;
	ds_memzero(ps, sizeof(*ps));
	free(ps);
}

void ds_privstore_free(uint8_t *p, size_t len)
{
	if (!p)
		return;
	ds_memzero(p, len);
	free(p);
}

/* Paths of the key and data files of id. */
static void rec_paths(const struct ds_privstore *ps, const char *id, char key[PATH_MAX_LEN],
		      char data[PATH_MAX_LEN])
{
	uint8_t h[DS_HASH_LEN];
	char hex[2 * DS_HASH_LEN + 1];
	const struct ds_iov parts[] = {{NAME_TAG, strlen(NAME_TAG)}, {id, strlen(id)}};
	ds_sha256_v(h, parts, DS_ARRAY_LEN(parts));
	ds_hex_encode(hex, h, sizeof(h));
	snprintf(key, PATH_MAX_LEN, "%s/keys/%s.key", ps->dir, hex);
	snprintf(data, PATH_MAX_LEN, "%s/data/%s.dat", ps->dir, hex);
}

/* Associated data: domain tag || str(record id), so a file moved to another
 * record's name fails authentication. */
static size_t make_ad(uint8_t ad[AD_MAX], const char *tag, const char *id)
{
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, ad, AD_MAX);
	ds_enc_fixed(&e, tag, strlen(tag));
	ds_enc_str(&e, id);
	DS_ASSERT(ds_enc_finish(&e, &n) == 0);
	return n;
}

int ds_privstore_has(struct ds_privstore *ps, const char *record_id)
{
	char kp[PATH_MAX_LEN], dp[PATH_MAX_LEN];
	if (!id_ok(record_id))
		return DS_EINVAL;
	rec_paths(ps, record_id, kp, dp);
	return access(kp, F_OK) == 0;
}

int ds_privstore_put(struct ds_privstore *ps, const char *record_id, const uint8_t *details,
		     size_t len)
{
	char kp[PATH_MAX_LEN], dp[PATH_MAX_LEN];
	uint8_t rk[DS_AEAD_KEY_LEN], ad[AD_MAX], kbuf[KEYFILE_LEN];
	uint8_t *dbuf = NULL;
	size_t adl;
	int rc;
	if (!id_ok(record_id) || len == 0)
		return DS_EINVAL;
	if (len > DS_PRIVSTORE_DETAILS_MAX)
		return DS_ETOOBIG;
	rec_paths(ps, record_id, kp, dp);
	if (access(kp, F_OK) == 0)
		return DS_EEXIST;
	dbuf = malloc(HDR_LEN + len + DS_AEAD_TAG_LEN);
	if (!dbuf)
		return DS_ENOMEM;
	ds_random(rk, sizeof(rk));
	memcpy(dbuf, DATA_MAGIC, 4);
	dbuf[4] = FILE_VERSION;
	ds_random(dbuf + 5, DS_XAEAD_NONCE_LEN);
	adl = make_ad(ad, DATA_AD, record_id);
	rc = ds_xaead_encrypt(dbuf + HDR_LEN, details, len, ad, adl, dbuf + 5, rk);
	if (rc)
		goto fail;
	memcpy(kbuf, KEY_MAGIC, 4);
	kbuf[4] = FILE_VERSION;
	ds_random(kbuf + 5, DS_XAEAD_NONCE_LEN);
	adl = make_ad(ad, WRAP_AD, record_id);
	rc = ds_xaead_encrypt(kbuf + HDR_LEN, rk, sizeof(rk), ad, adl, kbuf + 5, ps->master);
	if (rc)
		goto fail;
	/* Data first: a crash in between leaves an unreadable ciphertext and no
	 * key, which a later put overwrites. */
	rc = ds_file_write_atomic(dp, dbuf, HDR_LEN + len + DS_AEAD_TAG_LEN, 0600, 0);
	if (rc)
		goto fail;
	rc = ds_file_write_atomic(kp, kbuf, sizeof(kbuf), 0600, 1);
fail:
	ds_memzero(rk, sizeof(rk));
	free(dbuf);
	return rc;
}

int ds_privstore_get(struct ds_privstore *ps, uint8_t **out, size_t *out_len,
		     const char *record_id)
{
	char kp[PATH_MAX_LEN], dp[PATH_MAX_LEN];
	uint8_t rk[DS_AEAD_KEY_LEN], ad[AD_MAX];
	uint8_t *kf = NULL, *df = NULL, *m = NULL;
	size_t kl = 0, dl = 0, adl, ml = 0;
	int rc;
	*out = NULL;
	*out_len = 0;
	if (!id_ok(record_id))
		return DS_EINVAL;
	rec_paths(ps, record_id, kp, dp);
	rc = ds_file_read(&kf, &kl, kp, KEYFILE_LEN);
	if (rc == DS_ETOOBIG)
		rc = DS_ECORRUPT;
	if (rc)
		goto fail;
	rc = ds_file_read(&df, &dl, dp, HDR_LEN + DS_PRIVSTORE_DETAILS_MAX + DS_AEAD_TAG_LEN);
	if (rc == DS_ENOTFOUND || rc == DS_ETOOBIG)
		rc = DS_ECORRUPT; /* a key without its data */
	if (rc)
		goto fail;
	rc = DS_ECORRUPT;
	if (kl != KEYFILE_LEN || memcmp(kf, KEY_MAGIC, 4) != 0 || kf[4] != FILE_VERSION)
		goto fail;
	if (dl < HDR_LEN + DS_AEAD_TAG_LEN + 1 || memcmp(df, DATA_MAGIC, 4) != 0 ||
	    df[4] != FILE_VERSION)
		goto fail;
	adl = make_ad(ad, WRAP_AD, record_id);
	if (ds_xaead_decrypt(rk, kf + HDR_LEN, kl - HDR_LEN, ad, adl, kf + 5, ps->master) != 0)
		goto fail;
	ml = dl - HDR_LEN - DS_AEAD_TAG_LEN;
	m = malloc(ml);
	if (!m) {
		rc = DS_ENOMEM;
		goto fail;
	}
	adl = make_ad(ad, DATA_AD, record_id);
	if (ds_xaead_decrypt(m, df + HDR_LEN, dl - HDR_LEN, ad, adl, df + 5, rk) != 0) {
		ds_privstore_free(m, ml);
		m = NULL;
		goto fail;
	}
	*out = m;
	*out_len = ml;
	rc = 0;
fail:
	ds_memzero(rk, sizeof(rk));
	ds_privstore_free(kf, kl);
	free(df);
	return rc;
}

/* Overwrites a file's bytes in place (zeros or random), syncs, unlinks.
 * Returns 0, DS_ENOTFOUND, or DS_EIO. */
static int shred(const char *path, int random_fill)
{
	uint8_t buf[4096];
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? DS_ENOTFOUND : DS_EIO;
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = DS_EIO;
		goto out;
	}
	/* Bounded by the file size, which put bounded. */
	off_t left = st.st_size;
	memset(buf, 0, sizeof(buf));
	while (left > 0) {
		size_t n = left > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)left;
		if (random_fill)
			ds_random(buf, n);
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = DS_EIO;
			goto out;
		}
		left -= w;
	}
	if (fdatasync(fd) != 0)
		rc = DS_EIO;
out:
	close(fd);
	if (unlink(path) != 0 && rc == 0)
		rc = DS_EIO;
	return rc;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int ds_privstore_erase(struct ds_privstore *ps, const char *record_id)
{
	char kp[PATH_MAX_LEN], dp[PATH_MAX_LEN], dir[PATH_MAX_LEN];
	if (!id_ok(record_id))
		return DS_EINVAL;
	rec_paths(ps, record_id, kp, dp);
	/* The key first: once it is gone the ciphertext is noise, whatever
	 * happens to the data file afterwards. */
	int rk = shred(kp, 0);
	int rd = shred(dp, 1);
	snprintf(dir, sizeof(dir), "%s/keys", ps->dir);
	sync_dir(dir);
	snprintf(dir, sizeof(dir), "%s/data", ps->dir);
	sync_dir(dir);
	if (rk == DS_ENOTFOUND && rd == DS_ENOTFOUND)
		return DS_ENOTFOUND;
	if ((rk && rk != DS_ENOTFOUND) || (rd && rd != DS_ENOTFOUND))
		return DS_EIO;
	return 0;
}

/* ------------------------------------------------------------ bookkeeping */

#define CURSOR_HEAD "danshari-private-cursor v1\nheight "
#define OUTBOX_MAGIC "DSPO"
#define OUTBOX_ENTRY_MAX (2 * DS_UVAR_MAX_LEN + DS_PRIVSTORE_ID_MAX + DS_PRIVSTORE_ORG_MAX)
#define OUTBOX_FILE_MAX (5 + DS_UVAR_MAX_LEN + DS_PRIVSTORE_OUTBOX_MAX * OUTBOX_ENTRY_MAX)

int ds_privstore_cursor_get(struct ds_privstore *ps, uint64_t *height)
{
	char path[PATH_MAX_LEN];
	uint8_t *t = NULL;
	size_t len = 0, hl = strlen(CURSOR_HEAD);
	*height = 0;
	snprintf(path, sizeof(path), "%s/cursor", ps->dir);
	int rc = ds_file_read(&t, &len, path, 64);
	if (rc == DS_ETOOBIG)
		return DS_ECORRUPT;
	if (rc)
		return rc;
	/* Digits only, no leading zero (but "0"), at most 20, then one newline. */
	size_t nd = len > hl + 1 ? len - hl - 1 : 0;
	uint64_t h = 0;
	rc = 0;
	if (nd == 0 || nd > 20 || memcmp(t, CURSOR_HEAD, hl) != 0 || t[len - 1] != '\n' ||
	    (nd > 1 && t[hl] == '0'))
		rc = DS_ECORRUPT;
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		uint8_t c = t[hl + i];
		if (c < '0' || c > '9' || h > (UINT64_MAX - (c - '0')) / 10)
			rc = DS_ECORRUPT;
		else
			h = h * 10 + (c - '0');
	}
	free(t);
	if (rc == 0)
		*height = h;
	return rc;
}

int ds_privstore_cursor_set(struct ds_privstore *ps, uint64_t height)
{
	char path[PATH_MAX_LEN], text[sizeof(CURSOR_HEAD) + 24];
	snprintf(path, sizeof(path), "%s/cursor", ps->dir);
	int n = snprintf(text, sizeof(text), CURSOR_HEAD "%" PRIu64 "\n", height);
	DS_ASSERT(n > 0 && (size_t)n < sizeof(text));
	return ds_file_write_atomic(path, text, (size_t)n, 0600, 0) ? DS_EIO : 0;
}

static int org_ok(const char *org)
{
	size_t n = strnlen(org, DS_PRIVSTORE_ORG_MAX + 1);
	return n > 0 && n <= DS_PRIVSTORE_ORG_MAX && ds_utf8_valid((const uint8_t *)org, n);
}

int ds_privstore_outbox_load(struct ds_privstore *ps, struct ds_privstore_delivery *out, size_t cap,
			     size_t *n)
{
	char path[PATH_MAX_LEN];
	uint8_t *t = NULL;
	size_t len = 0;
	*n = 0;
	snprintf(path, sizeof(path), "%s/outbox", ps->dir);
	int rc = ds_file_read(&t, &len, path, OUTBOX_FILE_MAX);
	if (rc == DS_ENOTFOUND)
		return 0;
	if (rc == DS_ETOOBIG)
		return DS_ECORRUPT;
	if (rc)
		return rc;
	struct ds_dec d;
	uint8_t ver = 0;
	uint64_t cnt = 0;
	const uint8_t *magic = NULL;
	ds_dec_init(&d, t, len);
	(void)ds_dec_fixed_ref(&d, &magic, 4);
	(void)ds_dec_u8(&d, &ver);
	(void)ds_dec_uvar_max(&d, &cnt, DS_PRIVSTORE_OUTBOX_MAX);
	size_t k = 0;
	for (uint64_t i = 0; i < cnt && ds_dec_left(&d) > 0; i++) {
		struct ds_privstore_delivery e;
		const uint8_t *r, *o;
		size_t rl = 0, ol = 0;
		(void)ds_dec_bytes(&d, &r, &rl, DS_PRIVSTORE_ID_MAX);
		(void)ds_dec_bytes(&d, &o, &ol, DS_PRIVSTORE_ORG_MAX);
		if (d.err)
			break;
		if (rl == 0 || ol == 0 || memchr(r, 0, rl) || memchr(o, 0, ol)) {
			(void)ds_dec_fail(&d, DS_EINVAL);
			break;
		}
		memcpy(e.record, r, rl);
		e.record[rl] = 0;
		memcpy(e.org, o, ol);
		e.org[ol] = 0;
		if (!id_ok(e.record) || !org_ok(e.org)) {
			(void)ds_dec_fail(&d, DS_EINVAL);
			break;
		}
		if (k == cap) {
			rc = DS_ETOOBIG;
			break;
		}
		out[k++] = e;
	}
	if (rc == 0 && (ds_dec_finish(&d) != 0 || memcmp(magic, OUTBOX_MAGIC, 4) != 0 ||
			ver != FILE_VERSION || k != cnt))
		rc = DS_ECORRUPT;
	free(t);
	*n = rc == 0 ? k : 0;
	return rc;
}

int ds_privstore_outbox_save(struct ds_privstore *ps, const struct ds_privstore_delivery *e,
			     size_t n)
{
	char path[PATH_MAX_LEN];
	if (n > DS_PRIVSTORE_OUTBOX_MAX)
		return DS_ETOOBIG;
	for (size_t i = 0; i < n; i++)
		if (!id_ok(e[i].record) || !org_ok(e[i].org))
			return DS_EINVAL;
	size_t cap = 5 + DS_UVAR_MAX_LEN + n * OUTBOX_ENTRY_MAX, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return DS_ENOMEM;
	struct ds_enc enc;
	ds_enc_init(&enc, buf, cap);
	ds_enc_fixed(&enc, OUTBOX_MAGIC, 4);
	ds_enc_u8(&enc, FILE_VERSION);
	ds_enc_uvar(&enc, n);
	for (size_t i = 0; i < n; i++) {
		ds_enc_str(&enc, e[i].record);
		ds_enc_str(&enc, e[i].org);
	}
	DS_ASSERT(ds_enc_finish(&enc, &len) == 0);
	snprintf(path, sizeof(path), "%s/outbox", ps->dir);
	int rc = ds_file_write_atomic(path, buf, len, 0600, 0) ? DS_EIO : 0;
	free(buf);
	return rc;
}
