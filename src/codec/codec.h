/* codec — the canonical binary encoding of everything hashed or signed.
 *
 * Primitives (docs/PROTOCOL.md "Encoding"):
 *   u8        one byte
 *   uvar      unsigned LEB128, 1..10 bytes, shortest form only, value < 2^64
 *   fixed(n)  n raw bytes (hashes, keys, signatures)
 *   bytes     uvar length, then that many raw bytes (each use has a maximum)
 *   str       bytes holding UTF-8 (validated by the caller where it matters)
 *   bool      u8 0 or 1; anything else is an error
 * A value is a concatenation of fields in a fixed order; there is exactly one
 * encoding of each value, so Encode(Decode(x)) == x for every accepted x.
 *
 * Encoders write into a caller buffer and never allocate. Both sides keep a
 * sticky error: after the first failure every call is a no-op and the error
 * is reported once, by ds_enc_finish / ds_dec_finish. Decoders hand out
 * pointers that borrow the input buffer (valid while it lives). */
#ifndef DS_CODEC_H
#define DS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define DS_UVAR_MAX_LEN 10

struct ds_enc {
	uint8_t *p;  /* NULL allowed: measure-only mode (len counts, nothing written) */
	size_t cap;
	size_t len;
	int err;
};

static inline void ds_enc_init(struct ds_enc *e, uint8_t *buf, size_t cap)
{
	e->p = buf;
	e->cap = buf ? cap : SIZE_MAX;
	e->len = 0;
	e->err = 0;
}
void ds_enc_u8(struct ds_enc *e, uint8_t v);
void ds_enc_bool(struct ds_enc *e, bool v);
void ds_enc_uvar(struct ds_enc *e, uint64_t v);
void ds_enc_fixed(struct ds_enc *e, const void *p, size_t n);
void ds_enc_bytes(struct ds_enc *e, const void *p, size_t n);
void ds_enc_str(struct ds_enc *e, const char *s); /* NUL-terminated */
/* Returns 0 and sets *out_len, or DS_ETOOBIG when the buffer was too small. */
int ds_enc_finish(struct ds_enc *e, size_t *out_len) DS_MUST_USE;
/* Encoded size of a uvar. */
size_t ds_uvar_len(uint64_t v);

struct ds_dec {
	const uint8_t *p;
	size_t len;
	size_t pos;
	int err;
};

static inline void ds_dec_init(struct ds_dec *d, const uint8_t *p, size_t len)
{
	d->p = p;
	d->len = len;
	d->pos = 0;
	d->err = 0;
}
static inline size_t ds_dec_left(const struct ds_dec *d)
{
	return d->err ? 0 : d->len - d->pos;
}
/* Each getter returns the sticky error (0 while all is well). On error the
 * output is zeroed so callers never read garbage. */
int ds_dec_u8(struct ds_dec *d, uint8_t *v);
int ds_dec_bool(struct ds_dec *d, bool *v);
int ds_dec_uvar(struct ds_dec *d, uint64_t *v);
/* uvar that must be <= max, else DS_ERANGE. */
int ds_dec_uvar_max(struct ds_dec *d, uint64_t *v, uint64_t max);
int ds_dec_u32(struct ds_dec *d, uint32_t *v); /* uvar <= UINT32_MAX */
int ds_dec_fixed(struct ds_dec *d, void *out, size_t n);
/* Borrowed pointer to n raw bytes of the input. */
int ds_dec_fixed_ref(struct ds_dec *d, const uint8_t **out, size_t n);
/* Length-prefixed bytes, borrowed; length > max is DS_ETOOBIG. */
int ds_dec_bytes(struct ds_dec *d, const uint8_t **out, size_t *out_len, size_t max);
/* Length-prefixed string copied into out (cap bytes incl. NUL); embedded NUL
 * or invalid UTF-8 is DS_EINVAL; too long is DS_ETOOBIG. */
int ds_dec_str(struct ds_dec *d, char *out, size_t cap);
/* Sets an error from outside (e.g. a bad tag) if none is set; returns it. */
int ds_dec_fail(struct ds_dec *d, int err);
/* Returns the sticky error, or DS_ETRAILING if input is left over. */
int ds_dec_finish(struct ds_dec *d) DS_MUST_USE;

/* True if s[0..n) is valid UTF-8 with no NUL and no overlong forms or surrogates. */
bool ds_utf8_valid(const uint8_t *s, size_t n);

#endif
