/* util — errors, assertions, hex, byte helpers, logging, time.
 *
 * Rules for every header in danshari (stated once, here):
 *  - Pointers are non-NULL unless a comment says otherwise.
 *  - Outputs come before inputs in parameter lists.
 *  - Functions that can fail return int: 0 on success, a negative DS_E* code.
 *  - A pointer parameter is borrowed for the duration of the call unless its
 *    comment says "copied" or "owned on success".
 */
#ifndef DS_UTIL_H
#define DS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DS_MUST_USE __attribute__((warn_unused_result))
#define DS_UNUSED(x) ((void)(x))
#define DS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Error codes: one range for the whole project. Keep ds_strerror in sync. */
enum {
	DS_OK = 0,
	DS_EINVAL = -1,      /* bad argument or malformed input */
	DS_ENOMEM = -2,      /* allocation failed or a memory cap was hit */
	DS_ETRUNC = -3,      /* input ended before the value did */
	DS_ETRAILING = -4,   /* bytes left after a complete value */
	DS_ENONMINIMAL = -5, /* integer not in its shortest encoding */
	DS_ETOOBIG = -6,     /* a length or count past its maximum */
	DS_EVERSION = -7,    /* unknown version */
	DS_ETAG = -8,        /* unknown tag or kind */
	DS_ESIG = -9,        /* signature does not verify */
	DS_ECRYPTO = -10,    /* a crypto library call failed */
	DS_EIO = -11,        /* read/write/open failed (errno kept by caller) */
	DS_ENOTFOUND = -12,  /* no such key, block, file or item */
	DS_EEXIST = -13,     /* already exists */
	DS_EPERM = -14,      /* permission or mode refused */
	DS_EPROOF = -15,     /* a proof does not verify */
	DS_ECORRUPT = -16,   /* stored data fails its own checks */
	DS_EFULL = -17,      /* a bounded queue, pool or disk is full */
	DS_ECHAIN = -18,     /* wrong chain id */
	DS_EREPLAY = -19,    /* transaction seen before or nonce out of order */
	DS_EEXPIRED = -20,   /* past its expiry */
	DS_ESTATE = -21,     /* object in the wrong state for this call */
	DS_EDENIED = -22,    /* caller lacks the role or grant */
	DS_ELIMIT = -23,     /* budget/instruction/recursion limit */
	DS_ECONTRACT = -24,  /* contract raised an error */
	DS_ECLOSED = -25,    /* connection or object closed */
	DS_ETIMEOUT = -26,   /* timed out */
	DS_ERANGE = -27,     /* value out of range */
	DS_EAGAIN = -28,     /* try again later */
	DS_E_LAST = -29
};

/* Returns a static, human-readable sentence fragment for a DS_E* code. */
const char *ds_strerror(int err);
/* Returns a stable, machine-readable name ("EINVAL") for a DS_E* code. */
const char *ds_errname(int err);

/* Always-on invariant check: our own bug, never input validation. */
#define DS_ASSERT(cond)                                                       \
	do {                                                                  \
		if (__builtin_expect(!(cond), 0))                             \
			ds__assert_fail(#cond, __FILE__, __LINE__, __func__); \
	} while (0)
/* Expensive checks: debug and test builds only. */
#ifdef DS_TEST_BUILD
#define DS_VERIFY(cond) DS_ASSERT(cond)
#else
#define DS_VERIFY(cond) ((void)0)
#endif
_Noreturn void ds__assert_fail(const char *expr, const char *file, int line, const char *func);

/* Hex. ds_hex_encode writes 2*n chars plus NUL into out (out_cap >= 2n+1). */
void ds_hex_encode(char *out, const uint8_t *in, size_t n);
/* Strict lowercase-or-uppercase hex of exactly 2*n chars into n bytes.
 * Returns 0, or DS_EINVAL on bad length or non-hex character. */
int ds_hex_decode(uint8_t *out, size_t n, const char *hex, size_t hex_len) DS_MUST_USE;

/* Big-endian fixed-width helpers. */
static inline void ds_put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void ds_put_u64be(uint8_t *p, uint64_t v)
{
	ds_put_u32be(p, (uint32_t)(v >> 32));
	ds_put_u32be(p + 4, (uint32_t)v);
}
static inline uint32_t ds_get_u32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t ds_get_u64be(const uint8_t *p)
{
	return ((uint64_t)ds_get_u32be(p) << 32) | ds_get_u32be(p + 4);
}

/* Growable byte buffer. Owned memory; a failed append leaves the buffer
 * marked failed (err != 0) and every later append a no-op. */
struct ds_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;
};
void ds_buf_init(struct ds_buf *b);
void ds_buf_free(struct ds_buf *b);
void ds_buf_reset(struct ds_buf *b); /* len = 0, keeps memory, clears err */
int ds_buf_reserve(struct ds_buf *b, size_t extra) DS_MUST_USE;
void ds_buf_append(struct ds_buf *b, const void *p, size_t n);
void ds_buf_printf(struct ds_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Time. Only node/net/cli/api read clocks; pure modules get time passed in. */
uint64_t ds_now_ms(void);       /* wall clock, ms since Unix epoch */
uint64_t ds_mono_ns(void);      /* monotonic, ns */

/* Logging: one logfmt line per event on stderr:
 *   ts=2026-11-24T06:54:13.123Z level=info mod=net msg="peer connected" peer=node1
 * Never pass secrets or personal data. */
enum ds_log_level { DS_LOG_DEBUG = 0, DS_LOG_INFO, DS_LOG_WARN, DS_LOG_ERROR, DS_LOG_OFF };
void ds_log_set_level(enum ds_log_level lvl);
enum ds_log_level ds_log_get_level(void);
/* Parses "debug|info|warn|error|off"; DS_EINVAL otherwise. */
int ds_log_parse_level(enum ds_log_level *out, const char *s) DS_MUST_USE;
/* kvfmt is a printf format producing zero or more ` key=value` pairs. */
void ds_log(enum ds_log_level lvl, const char *mod, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 4, 5)));
#define DS_LOGD(mod, msg, ...) ds_log(DS_LOG_DEBUG, mod, msg, __VA_ARGS__)
#define DS_LOGI(mod, msg, ...) ds_log(DS_LOG_INFO, mod, msg, __VA_ARGS__)
#define DS_LOGW(mod, msg, ...) ds_log(DS_LOG_WARN, mod, msg, __VA_ARGS__)
#define DS_LOGE(mod, msg, ...) ds_log(DS_LOG_ERROR, mod, msg, __VA_ARGS__)

/* Files. ds_file_read allocates *out (caller frees); refuses files over max_bytes. */
int ds_file_read(uint8_t **out, size_t *out_len, const char *path, size_t max_bytes) DS_MUST_USE;
/* Writes atomically (tmp file, fsync, rename, fsync dir) with the given mode.
 * excl: fail with DS_EEXIST if path exists. */
int ds_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, int excl) DS_MUST_USE;

#endif
