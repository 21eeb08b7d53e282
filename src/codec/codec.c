#include "codec/codec.h"

#include <string.h>

static void enc_put(struct ds_enc *e, const void *p, size_t n)
{
	if (e->err)
		return;
	if (n > e->cap - e->len) {
		e->err = DS_ETOOBIG;
		return;
	}
	if (e->p && n)
		memcpy(e->p + e->len, p, n);
	e->len += n;
}

void ds_enc_u8(struct ds_enc *e, uint8_t v)
{
	enc_put(e, &v, 1);
}

void ds_enc_bool(struct ds_enc *e, bool v)
{
	ds_enc_u8(e, v ? 1 : 0);
}

size_t ds_uvar_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void ds_enc_uvar(struct ds_enc *e, uint64_t v)
{
	uint8_t b[DS_UVAR_MAX_LEN];
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	enc_put(e, b, n);
}

void ds_enc_fixed(struct ds_enc *e, const void *p, size_t n)
{
	enc_put(e, p, n);
}

void ds_enc_bytes(struct ds_enc *e, const void *p, size_t n)
{
	ds_enc_uvar(e, n);
	enc_put(e, p, n);
}

void ds_enc_str(struct ds_enc *e, const char *s)
{
	ds_enc_bytes(e, s, strlen(s));
}

int ds_enc_finish(struct ds_enc *e, size_t *out_len)
{
	*out_len = e->err ? 0 : e->len;
	return e->err;
}

static int dec_set(struct ds_dec *d, int err)
{
	if (!d->err)
		d->err = err;
	return d->err;
}

int ds_dec_fail(struct ds_dec *d, int err)
{
	return dec_set(d, err);
}

int ds_dec_u8(struct ds_dec *d, uint8_t *v)
{
	*v = 0;
	if (d->err)
		return d->err;
	if (d->pos >= d->len)
		return dec_set(d, DS_ETRUNC);
	*v = d->p[d->pos++];
	return 0;
}

int ds_dec_bool(struct ds_dec *d, bool *v)
{
	uint8_t b;
	*v = false;
	if (ds_dec_u8(d, &b))
		return d->err;
	if (b > 1)
		return dec_set(d, DS_EINVAL);
	*v = b == 1;
	return 0;
}

int ds_dec_uvar(struct ds_dec *d, uint64_t *v)
{
	*v = 0;
	if (d->err)
		return d->err;
	uint64_t x = 0;
	for (unsigned i = 0; i < DS_UVAR_MAX_LEN; i++) {
		if (d->pos >= d->len)
			return dec_set(d, DS_ETRUNC);
		uint8_t b = d->p[d->pos++];
		if (i == DS_UVAR_MAX_LEN - 1 && b > 1)
			return dec_set(d, DS_ERANGE); /* would exceed 64 bits */
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			/* A last byte of zero after the first means a shorter form existed. */
			if (b == 0 && i > 0)
				return dec_set(d, DS_ENONMINIMAL);
			*v = x;
			return 0;
		}
	}
	return dec_set(d, DS_ERANGE);
}

int ds_dec_uvar_max(struct ds_dec *d, uint64_t *v, uint64_t max)
{
	if (ds_dec_uvar(d, v))
		return d->err;
	if (*v > max) {
		*v = 0;
		return dec_set(d, DS_ERANGE);
	}
	return 0;
}

int ds_dec_u32(struct ds_dec *d, uint32_t *v)
{
	uint64_t x;
	*v = 0;
	if (ds_dec_uvar_max(d, &x, UINT32_MAX))
		return d->err;
	*v = (uint32_t)x;
	return 0;
}

int ds_dec_fixed_ref(struct ds_dec *d, const uint8_t **out, size_t n)
{
	*out = NULL;
	if (d->err)
		return d->err;
	if (n > d->len - d->pos)
		return dec_set(d, DS_ETRUNC);
	*out = d->p + d->pos;
	d->pos += n;
	return 0;
}

int ds_dec_fixed(struct ds_dec *d, void *out, size_t n)
{
	const uint8_t *p;
	if (ds_dec_fixed_ref(d, &p, n)) {
		memset(out, 0, n);
		return d->err;
	}
	memcpy(out, p, n);
	return 0;
}

int ds_dec_bytes(struct ds_dec *d, const uint8_t **out, size_t *out_len, size_t max)
{
	uint64_t n;
	*out = NULL;
	*out_len = 0;
	if (ds_dec_uvar(d, &n))
		return d->err;
	if (n > max)
		return dec_set(d, DS_ETOOBIG);
	if (n > d->len - d->pos)
		return dec_set(d, DS_ETRUNC);
	*out = d->p + d->pos;
	*out_len = (size_t)n;
	d->pos += (size_t)n;
	return 0;
}

int ds_dec_str(struct ds_dec *d, char *out, size_t cap)
{
	const uint8_t *p;
	size_t n;
	if (cap)
		out[0] = '\0';
	if (cap == 0)
		return dec_set(d, DS_EINVAL);
	if (ds_dec_bytes(d, &p, &n, cap - 1))
		return d->err;
	if (!ds_utf8_valid(p, n))
		return dec_set(d, DS_EINVAL);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int ds_dec_finish(struct ds_dec *d)
{
	if (d->err)
		return d->err;
	if (d->pos != d->len)
		return dec_set(d, DS_ETRAILING);
	return 0;
}

bool ds_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (need > n - i - 1)
			return false;
		for (size_t k = 1; k <= need; k++) {
			uint8_t cc = s[i + k];
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}
