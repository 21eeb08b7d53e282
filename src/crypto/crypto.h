/* crypto — thin wrappers over libsodium and OpenSSL 3 libcrypto.
 * No primitive is written here; this module only chooses the faster library
 * for each job (see docs/PROTOCOL.md "Cryptography" and bench/bench_crypto.c)
 * and gives the rest of danshari one small, allocation-free interface.
 * sodium.h and openssl/ headers are included only by files in src/crypto/.
 *
 * ds_crypto_init() must be called once before any other function (it is
 * idempotent and thread-safe); everything else is thread-safe. */
#ifndef DS_CRYPTO_H
#define DS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define DS_HASH_LEN 32
#define DS_PK_LEN 32        /* Ed25519 public key */
#define DS_SEED_LEN 32      /* Ed25519 secret seed (RFC 8032 "secret key") */
#define DS_SK_LEN 64        /* expanded secret: seed || public key (libsodium layout) */
#define DS_SIG_LEN 64
#define DS_X25519_LEN 32
#define DS_AEAD_KEY_LEN 32
#define DS_AEAD_NONCE_LEN 12   /* ChaCha20-Poly1305 (IETF, RFC 8439) */
#define DS_XAEAD_NONCE_LEN 24  /* XChaCha20-Poly1305 */
#define DS_AEAD_TAG_LEN 16

int ds_crypto_init(void) DS_MUST_USE;

/* SHA-256 (FIPS 180-4). One-shot. */
void ds_sha256(uint8_t out[DS_HASH_LEN], const void *data, size_t len);

/* Hash of the concatenation of n parts, without copying them together. */
struct ds_iov {
	const void *p;
	size_t n;
};
void ds_sha256_v(uint8_t out[DS_HASH_LEN], const struct ds_iov *parts, size_t n);

/* Streaming SHA-256. The state lives inside the struct: no allocation. */
struct ds_sha256_ctx {
	uint64_t opaque[16]; /* large enough and aligned for the backend state */
};
void ds_sha256_init(struct ds_sha256_ctx *ctx);
void ds_sha256_update(struct ds_sha256_ctx *ctx, const void *data, size_t len);
void ds_sha256_final(uint8_t out[DS_HASH_LEN], struct ds_sha256_ctx *ctx);

/* HMAC-SHA-256 (RFC 2104) and HKDF-SHA-256 (RFC 5869). */
void ds_hmac_sha256(uint8_t out[DS_HASH_LEN], const uint8_t *key, size_t key_len,
		    const void *data, size_t len);
int ds_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
		   const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len) DS_MUST_USE;

/* Ed25519 (RFC 8032, pure). sk is seed||pk (DS_SK_LEN). */
int ds_ed25519_keypair(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN]) DS_MUST_USE;
int ds_ed25519_seed_keypair(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN],
			    const uint8_t seed[DS_SEED_LEN]) DS_MUST_USE;
void ds_ed25519_sign(uint8_t sig[DS_SIG_LEN], const void *msg, size_t len,
		     const uint8_t sk[DS_SK_LEN]);
/* Returns 0 if valid, DS_ESIG otherwise. The acceptance rule must be the same
 * on every node (docs/PROTOCOL.md, "Ed25519 verification rule"): S < L; A
 * canonical (y < p); neither A nor R a small-order point in any encoding;
 * cofactorless check that encode([S]B - [k]A) equals R byte for byte, with
 * k = SHA-512(R || A || msg) mod L. It is libsodium's, pinned by the unit
 * tests against the CCTV edge cases; OpenSSL's rule differs. */
int ds_ed25519_verify(const uint8_t sig[DS_SIG_LEN], const void *msg, size_t len,
		      const uint8_t pk[DS_PK_LEN]) DS_MUST_USE;
/* Same rule, for a signature and key whose lengths come from outside (API,
 * CLI, files): DS_ESIG unless sig_len == DS_SIG_LEN, pk_len == DS_PK_LEN and
 * the signature verifies. A truncated or padded signature is never valid. */
int ds_ed25519_verify_checked(const uint8_t *sig, size_t sig_len, const void *msg, size_t len,
			      const uint8_t *pk, size_t pk_len) DS_MUST_USE;

/* X25519 (RFC 7748). ds_x25519 returns DS_ECRYPTO if the shared secret is
 * all zero (low-order peer point): callers must refuse such a peer. */
int ds_x25519_keypair(uint8_t pk[DS_X25519_LEN], uint8_t sk[DS_X25519_LEN]) DS_MUST_USE;
int ds_x25519(uint8_t shared[DS_X25519_LEN], const uint8_t sk[DS_X25519_LEN],
	      const uint8_t peer_pk[DS_X25519_LEN]) DS_MUST_USE;

/* ChaCha20-Poly1305 (IETF). c must hold mlen + DS_AEAD_TAG_LEN bytes;
 * m must hold clen - DS_AEAD_TAG_LEN. decrypt returns DS_ECRYPTO when the
 * tag does not verify (and writes nothing usable). In-place is allowed. */
int ds_aead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[DS_AEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN]) DS_MUST_USE;
int ds_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[DS_AEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN]) DS_MUST_USE;
/* Length-checked decrypt for keys, nonces and ciphertexts read from outside
 * (disk, wire): the wrappers support exactly one parameter set, a 32-byte key,
 * a 12-byte (X: 24-byte) nonce and a 16-byte tag appended to the ciphertext.
 * Returns 0; DS_EINVAL if key_len or nonce_len differ (no other size is
 * supported, none is padded or truncated), or if m_cap < clen - tag;
 * DS_ECRYPTO if clen < DS_AEAD_TAG_LEN or the tag does not verify. m may be
 * NULL only when m_cap is 0. */
int ds_aead_decrypt_checked(uint8_t *m, size_t m_cap, const uint8_t *c, size_t clen,
			    const uint8_t *ad, size_t adlen, const uint8_t *nonce, size_t nonce_len,
			    const uint8_t *key, size_t key_len) DS_MUST_USE;
int ds_xaead_decrypt_checked(uint8_t *m, size_t m_cap, const uint8_t *c, size_t clen,
			     const uint8_t *ad, size_t adlen, const uint8_t *nonce, size_t nonce_len,
			     const uint8_t *key, size_t key_len) DS_MUST_USE;
/* XChaCha20-Poly1305: random 24-byte nonces are safe (private store at rest). */
int ds_xaead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[DS_XAEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN]) DS_MUST_USE;
int ds_xaead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[DS_XAEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN]) DS_MUST_USE;

/* Secure random bytes (getrandom via libsodium). */
void ds_random(void *buf, size_t n);
uint64_t ds_random_u64(void);
/* Zeroing that the compiler cannot elide; constant-time comparison. */
void ds_memzero(void *p, size_t n);
int ds_memeq_ct(const void *a, const void *b, size_t n); /* 1 if equal */

#endif
