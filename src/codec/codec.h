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

/* ---- Canonical value encoding (codec_value.c; owner: ledger helper) -------
 * JSON-like values for transaction args, contract call args/returns and
 * events. One tag byte, then:
 *   0x00 null    0x01 false    0x02 true
 *   0x03 int     uvar zigzag(int64): (v << 1) ^ (v >> 63)
 *   0x04 string  uvar length, UTF-8 bytes (ds_utf8_valid: no NUL)
 *   0x05 bytes   uvar length, raw bytes
 *   0x06 array   uvar count, count values
 *   0x07 map     uvar count, count × (uvar key length, UTF-8 key, value);
 *                keys strictly increasing in bytewise order (a proper
 *                prefix sorts first), hence no duplicates
 * Strict: unknown tag DS_ETAG, nesting deeper than DS_VALUE_DEPTH_MAX or a
 * count/length past its maximum DS_ETOOBIG, unsorted or duplicate keys and
 * bad UTF-8 DS_EINVAL, non-minimal uvar DS_ENONMINIMAL, short input
 * DS_ETRUNC, bytes after the value DS_ETRAILING. Exactly one encoding per
 * value, so Encode(Decode(x)) == x. Nothing here allocates. */
#define DS_VALUE_DEPTH_MAX 32          /* a scalar at top level has depth 1 */
#define DS_VALUE_LEN_MAX (1u << 20)    /* bytes of one string or bytes value */
#define DS_VALUE_COUNT_MAX (1u << 16)  /* elements of one array or map */
#define DS_VALUE_KEY_MAX 256           /* bytes of one map key */

enum ds_value_kind {
	DS_VALUE_NULL = 0,
	DS_VALUE_FALSE = 1,
	DS_VALUE_TRUE = 2,
	DS_VALUE_INT = 3,
	DS_VALUE_STR = 4,
	DS_VALUE_BYTES = 5,
	DS_VALUE_ARRAY = 6,
	DS_VALUE_MAP = 7,
};

/* One decoded, fully validated value. Pointers borrow the input buffer. */
struct ds_value {
	enum ds_value_kind kind;
	int64_t i;           /* DS_VALUE_INT */
	const uint8_t *p;    /* STR/BYTES: the data; ARRAY/MAP: the encoded elements */
	size_t len;          /* bytes at p */
	uint32_t count;      /* ARRAY/MAP: number of elements (map: pairs) */
	const uint8_t *enc;  /* the whole encoding of this value (tag included) */
	size_t enc_len;
};

/* Checks that p[0..len) is exactly one valid value. Returns 0 or an error above. */
int ds_value_check(const uint8_t *p, size_t len) DS_MUST_USE;
/* Reads and validates (recursively) the one value at the start of p and sets
 * *used to its length; bytes after it are left alone (not an error). */
int ds_value_read(struct ds_value *out, size_t *used, const uint8_t *p, size_t len) DS_MUST_USE;
/* Like ds_value_check, and fills *out; trailing bytes are DS_ETRAILING. */
int ds_value_parse(struct ds_value *out, const uint8_t *p, size_t len) DS_MUST_USE;

/* Iterates an ARRAY or MAP value produced by the functions above. */
struct ds_value_iter {
	const uint8_t *p;
	size_t len;
	size_t pos;
	uint32_t left;
	bool map;
};
void ds_value_iter_init(struct ds_value_iter *it, const struct ds_value *container);
/* Returns 1 and the next item (and, for maps, its key: borrowed, not
 * NUL-terminated; key may be NULL for arrays), 0 at the end. The container
 * was validated when read, so there is no error case. */
int ds_value_iter_next(struct ds_value_iter *it, const uint8_t **key, size_t *key_len,
		       struct ds_value *item);
/* Looks key up in a MAP. Returns 0 and *out, DS_ENOTFOUND, or DS_EINVAL
 * when map is not a MAP. Linear in the map size (maps are small). */
int ds_value_map_get(struct ds_value *out, const struct ds_value *map, const char *key,
		     size_t key_len) DS_MUST_USE;

/* Builders: append one value (or a container header) to e. The caller emits
 * exactly `count` elements after an array header and `count` (key, value)
 * pairs after a map header, keys in strictly increasing bytewise order;
 * ds_value_check on the result catches mistakes. Strings that are not valid
 * UTF-8 and lengths/counts over the maxima set e->err = DS_EINVAL/DS_ETOOBIG. */
void ds_value_enc_null(struct ds_enc *e);
void ds_value_enc_bool(struct ds_enc *e, bool v);
void ds_value_enc_int(struct ds_enc *e, int64_t v);
void ds_value_enc_str(struct ds_enc *e, const void *s, size_t n);
void ds_value_enc_bytes(struct ds_enc *e, const void *p, size_t n);
void ds_value_enc_array(struct ds_enc *e, uint32_t count);
void ds_value_enc_map(struct ds_enc *e, uint32_t count);
void ds_value_enc_key(struct ds_enc *e, const void *key, size_t n);
/* ---- end of canonical value encoding ------------------------------------- */

#endif
