/* Salted field commitments, record commitments and selective disclosure. */
#include "privacy/privacy.h"

#include <string.h>

#include "codec/codec.h"

#define FIELD_TAG "danshari/field/v1"
#define DETAILS_VERSION 1
#define DISCLOSURE_VERSION 1

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > DS_PRIV_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int field_check(const struct ds_privacy_field *f)
{
	if (f->name_len > DS_PRIV_NAME_MAX || f->value_len > DS_PRIV_VALUE_MAX)
		return DS_ETOOBIG;
	if (!name_ok(f->name, f->name_len))
		return DS_EINVAL;
	if (f->value_len && !ds_utf8_valid(f->value, f->value_len))
		return DS_EINVAL;
	return 0;
}

/* Bytewise order; a proper prefix sorts first. */
static int name_cmp(const struct ds_privacy_field *a, const struct ds_privacy_field *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);
	if (c)
		return c;
	return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

void ds_privacy_field_commit(uint8_t out[DS_HASH_LEN], const struct ds_privacy_field *f)
{
	uint8_t nl[DS_UVAR_MAX_LEN], vl[DS_UVAR_MAX_LEN];
	struct ds_enc e;
	size_t nl_len, vl_len;
	ds_enc_init(&e, nl, sizeof(nl));
	ds_enc_uvar(&e, f->name_len);
	DS_ASSERT(ds_enc_finish(&e, &nl_len) == 0);
	ds_enc_init(&e, vl, sizeof(vl));
	ds_enc_uvar(&e, f->value_len);
	DS_ASSERT(ds_enc_finish(&e, &vl_len) == 0);
	const struct ds_iov parts[] = {
		{FIELD_TAG, strlen(FIELD_TAG)}, {f->salt, DS_PRIV_SALT_LEN}, {nl, nl_len},
		{f->name, f->name_len},          {vl, vl_len},              {f->value, f->value_len},
	};
	ds_sha256_v(out, parts, DS_ARRAY_LEN(parts));
}

int ds_privacy_fields_check(const struct ds_privacy_field *f, size_t n)
{
	if (n == 0)
		return DS_EINVAL;
	if (n > DS_PRIV_FIELDS_MAX)
		return DS_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		int rc = field_check(&f[i]);
		if (rc)
			return rc;
		if (i > 0 && name_cmp(&f[i - 1], &f[i]) >= 0)
			return DS_EINVAL;
	}
	return 0;
}

int ds_privacy_fields_sort(struct ds_privacy_field *f, size_t n)
{
	if (n > DS_PRIV_FIELDS_MAX)
		return DS_ETOOBIG;
	/* Insertion sort: n <= 64, and it is stable so duplicates stay visible. */
	for (size_t i = 1; i < n; i++) {
		struct ds_privacy_field t = f[i];
		size_t j = i;
		while (j > 0 && name_cmp(&f[j - 1], &t) > 0) {
			f[j] = f[j - 1];
			j--;
		}
		f[j] = t;
	}
	return ds_privacy_fields_check(f, n);
}

void ds_privacy_fields_salt(struct ds_privacy_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ds_random(f[i].salt, DS_PRIV_SALT_LEN);
}

static void leaf_of(uint8_t out[DS_HASH_LEN], const struct ds_privacy_field *f)
{
	uint8_t c[DS_HASH_LEN];
	ds_privacy_field_commit(c, f);
	ds_merkle_leaf_hash(out, c, sizeof(c));
}

int ds_privacy_commitment(uint8_t root[DS_HASH_LEN], const struct ds_privacy_field *f, size_t n)
{
	uint8_t leaves[DS_PRIV_FIELDS_MAX][DS_HASH_LEN];
	int rc = ds_privacy_fields_check(f, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		leaf_of(leaves[i], &f[i]);
	ds_merkle_root_array(root, (const uint8_t(*)[DS_HASH_LEN])leaves, n);
	return 0;
}

int ds_privacy_details_encode(uint8_t *out, size_t cap, size_t *out_len,
			      const struct ds_privacy_field *f, size_t n)
{
	int rc = ds_privacy_fields_check(f, n);
	if (rc)
		return rc;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_u8(&e, DETAILS_VERSION);
	ds_enc_uvar(&e, n);
	for (size_t i = 0; i < n; i++) {
		ds_enc_bytes(&e, f[i].name, f[i].name_len);
		ds_enc_bytes(&e, f[i].value, f[i].value_len);
		ds_enc_fixed(&e, f[i].salt, DS_PRIV_SALT_LEN);
	}
	return ds_enc_finish(&e, out_len);
}

/* Reads str name || str value || fixed32 salt into *f (borrowing d's input). */
static int dec_field(struct ds_dec *d, struct ds_privacy_field *f)
{
	const uint8_t *p;
	size_t n;
	ds_dec_bytes(d, &p, &n, DS_PRIV_NAME_MAX);
	f->name = (const char *)p;
	f->name_len = n;
	ds_dec_bytes(d, &f->value, &f->value_len, DS_PRIV_VALUE_MAX);
	return ds_dec_fixed(d, f->salt, DS_PRIV_SALT_LEN);
}

int ds_privacy_details_decode(struct ds_privacy_field *f, size_t cap, size_t *n, const uint8_t *p,
			      size_t len)
{
	struct ds_dec d;
	uint8_t ver;
	uint64_t count;
	*n = 0;
	ds_dec_init(&d, p, len);
	if (ds_dec_u8(&d, &ver))
		return d.err;
	if (ver != DETAILS_VERSION)
		return DS_EVERSION;
	if (ds_dec_uvar(&d, &count))
		return d.err;
	if (count > DS_PRIV_FIELDS_MAX || count > cap)
		return DS_ETOOBIG;
	for (uint64_t i = 0; i < count; i++)
		if (dec_field(&d, &f[i]))
			return d.err;
	int rc = ds_dec_finish(&d);
	if (rc)
		return rc;
	rc = ds_privacy_fields_check(f, (size_t)count);
	if (rc)
		return rc;
	*n = (size_t)count;
	return 0;
}

int ds_privacy_disclose(struct ds_privacy_disclosure *d, const struct ds_privacy_field *f, size_t n,
			const char *name, size_t name_len)
{
	uint8_t leaves[DS_PRIV_FIELDS_MAX][DS_HASH_LEN];
	memset(d, 0, sizeof(*d));
	int rc = ds_privacy_fields_check(f, n);
	if (rc)
		return rc;
	size_t idx = n;
	for (size_t i = 0; i < n; i++) {
		leaf_of(leaves[i], &f[i]);
		if (f[i].name_len == name_len && memcmp(f[i].name, name, name_len) == 0)
			idx = i;
	}
	if (idx == n)
		return DS_ENOTFOUND;
	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t(*)[DS_HASH_LEN])leaves);
	rc = ds_merkle_inclusion_proof(d->path, &d->path_len, &src, idx, n);
	DS_ASSERT(rc == 0);
	d->field = f[idx];
	d->index = idx;
	d->count = n;
	return 0;
}

int ds_privacy_disclosure_verify(const uint8_t commitment[DS_HASH_LEN],
				 const struct ds_privacy_disclosure *d)
{
	if (field_check(&d->field) != 0)
		return DS_EINVAL;
	if (d->count == 0 || d->count > DS_PRIV_FIELDS_MAX || d->path_len > DS_MERKLE_INCL_MAX)
		return DS_EPROOF;
	uint8_t leaf[DS_HASH_LEN];
	leaf_of(leaf, &d->field);
	return ds_merkle_verify_inclusion(commitment, d->count, d->index, leaf,
					  (const uint8_t(*)[DS_HASH_LEN])d->path, d->path_len);
}

int ds_privacy_disclosure_encode(uint8_t *out, size_t cap, size_t *out_len,
				 const struct ds_privacy_disclosure *d)
{
	if (field_check(&d->field) != 0 || d->path_len > DS_MERKLE_INCL_MAX)
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_u8(&e, DISCLOSURE_VERSION);
	ds_enc_bytes(&e, d->field.name, d->field.name_len);
	ds_enc_bytes(&e, d->field.value, d->field.value_len);
	ds_enc_fixed(&e, d->field.salt, DS_PRIV_SALT_LEN);
	ds_enc_uvar(&e, d->index);
	ds_enc_uvar(&e, d->count);
	ds_enc_uvar(&e, d->path_len);
	for (size_t i = 0; i < d->path_len; i++)
		ds_enc_fixed(&e, d->path[i], DS_HASH_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_privacy_disclosure_decode(struct ds_privacy_disclosure *d, const uint8_t *p, size_t len)
{
	struct ds_dec dec;
	uint8_t ver;
	uint64_t plen;
	int rc;
	memset(d, 0, sizeof(*d));
	ds_dec_init(&dec, p, len);
	if (ds_dec_u8(&dec, &ver))
		return dec.err;
	if (ver != DISCLOSURE_VERSION)
		return DS_EVERSION;
	dec_field(&dec, &d->field);
	ds_dec_uvar_max(&dec, &d->index, DS_PRIV_FIELDS_MAX - 1);
	ds_dec_uvar_max(&dec, &d->count, DS_PRIV_FIELDS_MAX);
	rc = ds_dec_uvar_max(&dec, &plen, DS_MERKLE_INCL_MAX);
	for (uint64_t i = 0; rc == 0 && i < plen; i++)
		rc = ds_dec_fixed(&dec, d->path[i], DS_HASH_LEN);
	if (rc == 0)
		rc = ds_dec_finish(&dec);
	if (rc == 0 && (field_check(&d->field) != 0 || d->index >= d->count))
		rc = DS_EINVAL;
	if (rc) {
		memset(d, 0, sizeof(*d));
		return rc;
	}
	d->path_len = (size_t)plen;
	return 0;
}
