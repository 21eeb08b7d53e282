/* Subject pseudonyms and the consortium subject key file. */
#include "privacy/privacy.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"

#define SUBJECT_TAG "danshari/subject/v1"
#define KEYFILE_HEAD "danshari-subject-key v1\n"

static int kind_ok(const char *kind)
{
	return strcmp(kind, "person") == 0 || strcmp(kind, "org") == 0;
}

int ds_privacy_normalise_id(char out[DS_PRIV_NATID_MAX + 1], const char *kind,
			    const char *national_id)
{
	size_t n = 0;
	out[0] = '\0';
	if (!kind_ok(kind))
		return DS_EINVAL;
	/* The raw text is bounded too, so a huge argument is refused early. */
	for (size_t i = 0; national_id[i]; i++) {
		if (i >= 4 * DS_PRIV_NATID_MAX)
			return DS_EINVAL;
		char c = national_id[i];
		if (c == ' ' || c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
			goto bad;
		if (n >= DS_PRIV_NATID_MAX)
			goto bad;
		out[n++] = c;
	}
	if (n == 0)
		goto bad;
	out[n] = '\0';
	return 0;
bad:
	ds_memzero(out, DS_PRIV_NATID_MAX + 1);
	return DS_EINVAL;
}

int ds_privacy_subject_id(uint8_t out[DS_HASH_LEN], const struct ds_privacy_subject_key *k,
			  const char *kind, const char *national_id)
{
	char norm[DS_PRIV_NATID_MAX + 1];
	uint8_t msg[sizeof(SUBJECT_TAG) + 2 * (1 + DS_PRIV_NATID_MAX) + DS_PRIV_KIND_MAX];
	int rc = ds_privacy_normalise_id(norm, kind, national_id);
	if (rc)
		return rc;
	struct ds_enc e;
	ds_enc_init(&e, msg, sizeof(msg));
	ds_enc_fixed(&e, SUBJECT_TAG, strlen(SUBJECT_TAG));
	ds_enc_str(&e, kind);
	ds_enc_str(&e, norm);
	size_t len;
	rc = ds_enc_finish(&e, &len);
	DS_ASSERT(rc == 0);
	ds_hmac_sha256(out, k->key, sizeof(k->key), msg, len);
	ds_memzero(norm, sizeof(norm));
	ds_memzero(msg, sizeof(msg));
	return 0;
}

int ds_privacy_subject_key_format(char *out, size_t cap, size_t *out_len,
				  const struct ds_privacy_subject_key *k)
{
	char hex[2 * DS_PRIV_KEY_LEN + 1];
	if (k->key_id == 0)
		return DS_EINVAL;
	ds_hex_encode(hex, k->key, sizeof(k->key));
	int w = snprintf(out, cap, KEYFILE_HEAD "key-id %u\nkey %s\n", (unsigned)k->key_id, hex);
	ds_memzero(hex, sizeof(hex));
	if (w < 0 || (size_t)w >= cap)
		return DS_ETOOBIG;
	*out_len = (size_t)w;
	return 0;
}

/* Reads one line starting with prefix; returns its value part, or NULL. */
static const char *line_value(const char *p, const char *end, const char *prefix, size_t *vlen,
			      const char **next)
{
	size_t pl = strlen(prefix);
	if ((size_t)(end - p) < pl || memcmp(p, prefix, pl) != 0)
		return NULL;
	const char *v = p + pl;
	const char *nl = memchr(v, '\n', (size_t)(end - v));
	if (!nl)
		return NULL;
	*vlen = (size_t)(nl - v);
	*next = nl + 1;
	return v;
}

int ds_privacy_subject_key_parse(struct ds_privacy_subject_key *k, const uint8_t *text, size_t len)
{
	memset(k, 0, sizeof(*k));
	const char *p = (const char *)text, *end = p + len;
	size_t hl = strlen(KEYFILE_HEAD);
	if (len < hl || memcmp(p, KEYFILE_HEAD, hl) != 0)
		return DS_ETAG;
	p += hl;
	size_t vl;
	const char *v = line_value(p, end, "key-id ", &vl, &p);
	if (!v || vl == 0 || vl > 10 || v[0] == '0')
		goto bad;
	uint64_t id = 0;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			goto bad;
		id = id * 10 + (uint64_t)(v[i] - '0');
	}
	if (id == 0 || id > UINT32_MAX)
		goto bad;
	v = line_value(p, end, "key ", &vl, &p);
	if (!v || vl != 2 * DS_PRIV_KEY_LEN)
		goto bad;
	for (size_t i = 0; i < vl; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			goto bad;
	if (ds_hex_decode(k->key, sizeof(k->key), v, vl) != 0 || p != end)
		goto bad;
	k->key_id = (uint32_t)id;
	return 0;
bad:
	ds_memzero(k, sizeof(*k));
	return DS_ECORRUPT;
}
