/* Canonical value encoding: strict reader, iterator, builders (codec.h). */
#include "codec/codec.h"

#include <string.h>

/* Bytewise order, a proper prefix first: the one order every implementation
 * can reproduce without a collation table. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

/* Recursion is bounded by DS_VALUE_DEPTH_MAX (32 frames of a few words). */
static int read_value(struct ds_dec *d, struct ds_value *v, unsigned depth)
{
	size_t start = d->pos;
	uint8_t tag;
	uint64_t n;
	memset(v, 0, sizeof(*v));
	if (depth > DS_VALUE_DEPTH_MAX)
		return ds_dec_fail(d, DS_ETOOBIG);
	if (ds_dec_u8(d, &tag))
		return d->err;
	v->kind = (enum ds_value_kind)tag;
	switch (tag) {
	case DS_VALUE_NULL:
	case DS_VALUE_FALSE:
	case DS_VALUE_TRUE:
		break;
	case DS_VALUE_INT:
		if (ds_dec_uvar(d, &n))
			return d->err;
		v->i = (int64_t)(n >> 1) ^ -(int64_t)(n & 1);
		break;
	case DS_VALUE_STR:
	case DS_VALUE_BYTES:
		if (ds_dec_bytes(d, &v->p, &v->len, DS_VALUE_LEN_MAX))
			return d->err;
		if (tag == DS_VALUE_STR && !ds_utf8_valid(v->p, v->len))
			return ds_dec_fail(d, DS_EINVAL);
		break;
	case DS_VALUE_ARRAY:
	case DS_VALUE_MAP: {
		if (ds_dec_uvar(d, &n))
			return d->err;
		if (n > DS_VALUE_COUNT_MAX)
			return ds_dec_fail(d, DS_ETOOBIG);
		v->count = (uint32_t)n;
		v->p = d->p + d->pos;
		const uint8_t *prev = NULL;
		size_t prev_len = 0;
		for (uint32_t i = 0; i < v->count; i++) {
			if (tag == DS_VALUE_MAP) {
				const uint8_t *k;
				size_t kn;
				if (ds_dec_bytes(d, &k, &kn, DS_VALUE_KEY_MAX))
					return d->err;
				if (!ds_utf8_valid(k, kn))
					return ds_dec_fail(d, DS_EINVAL);
				if (i > 0 && key_cmp(prev, prev_len, k, kn) >= 0)
					return ds_dec_fail(d, DS_EINVAL);
				prev = k;
				prev_len = kn;
			}
			struct ds_value child;
			if (read_value(d, &child, depth + 1))
				return d->err;
		}
		v->len = (size_t)(d->p + d->pos - v->p);
		break;
	}
	default:
		return ds_dec_fail(d, DS_ETAG);
	}
	v->enc = d->p + start;
	v->enc_len = d->pos - start;
	return 0;
}

int ds_value_read(struct ds_value *out, size_t *used, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	*used = 0;
	int rc = read_value(&d, out, 1);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	*used = d.pos;
	return 0;
}

int ds_value_parse(struct ds_value *out, const uint8_t *p, size_t len)
{
	size_t used;
	int rc = ds_value_read(out, &used, p, len);
	if (rc)
		return rc;
	if (used != len) {
		memset(out, 0, sizeof(*out));
		return DS_ETRAILING;
	}
	return 0;
}

int ds_value_check(const uint8_t *p, size_t len)
{
	struct ds_value v;
	return ds_value_parse(&v, p, len);
}

void ds_value_iter_init(struct ds_value_iter *it, const struct ds_value *c)
{
	memset(it, 0, sizeof(*it));
	if (c->kind != DS_VALUE_ARRAY && c->kind != DS_VALUE_MAP)
		return;
	it->p = c->p;
	it->len = c->len;
	it->left = c->count;
	it->map = c->kind == DS_VALUE_MAP;
}

int ds_value_iter_next(struct ds_value_iter *it, const uint8_t **key, size_t *key_len,
		       struct ds_value *item)
{
	if (key) {
		*key = NULL;
		*key_len = 0;
	}
	if (it->left == 0)
		return 0;
	struct ds_dec d;
	ds_dec_init(&d, it->p, it->len);
	d.pos = it->pos;
	if (it->map) {
		const uint8_t *k;
		size_t kn;
		(void)ds_dec_bytes(&d, &k, &kn, DS_VALUE_KEY_MAX);
		if (key) {
			*key = k;
			*key_len = kn;
		}
	}
	/* Already validated as part of the container: failing here is our bug. */
	DS_ASSERT(read_value(&d, item, 1) == 0);
	it->pos = d.pos;
	it->left--;
	return 1;
}

int ds_value_map_get(struct ds_value *out, const struct ds_value *map, const char *key,
		     size_t key_len)
{
	memset(out, 0, sizeof(*out));
	if (map->kind != DS_VALUE_MAP)
		return DS_EINVAL;
	struct ds_value_iter it;
	ds_value_iter_init(&it, map);
	const uint8_t *k;
	size_t kn;
	struct ds_value item;
	for (uint32_t i = 0; i < map->count && ds_value_iter_next(&it, &k, &kn, &item) == 1; i++) {
		int c = key_cmp(k, kn, (const uint8_t *)key, key_len);
		if (c == 0) {
			*out = item;
			return 0;
		}
		if (c > 0)
			break; /* sorted: the key cannot come later */
	}
	return DS_ENOTFOUND;
}

static void enc_fail(struct ds_enc *e, int err)
{
	if (!e->err)
		e->err = err;
}

void ds_value_enc_null(struct ds_enc *e)
{
	ds_enc_u8(e, DS_VALUE_NULL);
}

void ds_value_enc_bool(struct ds_enc *e, bool v)
{
	ds_enc_u8(e, v ? DS_VALUE_TRUE : DS_VALUE_FALSE);
}

void ds_value_enc_int(struct ds_enc *e, int64_t v)
{
	ds_enc_u8(e, DS_VALUE_INT);
	ds_enc_uvar(e, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void ds_value_enc_str(struct ds_enc *e, const void *s, size_t n)
{
	if (n > DS_VALUE_LEN_MAX)
		enc_fail(e, DS_ETOOBIG);
	else if (!ds_utf8_valid(s, n))
		enc_fail(e, DS_EINVAL);
	ds_enc_u8(e, DS_VALUE_STR);
	ds_enc_bytes(e, s, n);
}

void ds_value_enc_bytes(struct ds_enc *e, const void *p, size_t n)
{
	if (n > DS_VALUE_LEN_MAX)
		enc_fail(e, DS_ETOOBIG);
	ds_enc_u8(e, DS_VALUE_BYTES);
	ds_enc_bytes(e, p, n);
}

void ds_value_enc_array(struct ds_enc *e, uint32_t count)
{
	if (count > DS_VALUE_COUNT_MAX)
		enc_fail(e, DS_ETOOBIG);
	ds_enc_u8(e, DS_VALUE_ARRAY);
	ds_enc_uvar(e, count);
}

void ds_value_enc_map(struct ds_enc *e, uint32_t count)
{
	if (count > DS_VALUE_COUNT_MAX)
		enc_fail(e, DS_ETOOBIG);
	ds_enc_u8(e, DS_VALUE_MAP);
	ds_enc_uvar(e, count);
}

void ds_value_enc_key(struct ds_enc *e, const void *key, size_t n)
{
	if (n > DS_VALUE_KEY_MAX)
		enc_fail(e, DS_ETOOBIG);
	else if (!ds_utf8_valid(key, n))
		enc_fail(e, DS_EINVAL);
	ds_enc_bytes(e, key, n);
}
