/* Backends, chosen by measurement (bench/bench_crypto.c, docs/PROTOCOL.md):
 *  - SHA-256: OpenSSL's low-level SHA256_* functions. They reach the same
 *    SHA-NI / AVX2 assembly as EVP (about 4.7x libsodium's portable C on 1 MiB)
 *    without EVP's provider dispatch (about 1.6x a fetched EVP_MD with a reused
 *    context on 64-byte inputs, the size of Merkle nodes), and their state
 *    lives in the caller's struct: no allocation, no per-thread context to
 *    leak, nothing shared between threads.
 *  - Ed25519, X25519, ChaCha20-Poly1305, randomness, wiping: libsodium
 *    (Ed25519 sign and verify about 2x OpenSSL 3.0; its verification rule is
 *    the one every node applies, see ds_ed25519_verify).
 *  - HMAC/HKDF: libsodium's HMAC-SHA-256; used for key derivation only. */
#include "crypto/crypto.h"

#include <openssl/opensslconf.h>
#if defined(OPENSSL_NO_DEPRECATED_3_0)
#error "danshari needs OpenSSL's SHA256_Init/Update/Final (built without deprecated 3.0 API)"
#endif
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* SHA256_* are deprecated in OpenSSL 3.0 in favour of EVP, which is slower
 * for short inputs and allocates; silence the warning here only. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void do_init(void)
{
	if (sodium_init() < 0) {
		init_rc = DS_ECRYPTO;
		return;
	}
	/* A known answer, so a broken backend stops the node at start rather
	 * than forking it from the others later. SHA-256("abc"), FIPS 180-2. */
	static const uint8_t abc[DS_HASH_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t out[DS_HASH_LEN];
	ds_sha256(out, "abc", 3);
	if (memcmp(out, abc, sizeof(out)) != 0)
		init_rc = DS_ECRYPTO;
}

int ds_crypto_init(void)
{
	pthread_once(&init_once, do_init);
	return init_rc;
}

_Static_assert(sizeof(SHA256_CTX) <= sizeof(struct ds_sha256_ctx), "ds_sha256_ctx too small");
_Static_assert(_Alignof(SHA256_CTX) <= _Alignof(struct ds_sha256_ctx), "ds_sha256_ctx alignment");

/* SHA256_* only fail on a NULL context, which cannot happen here. */
void ds_sha256_init(struct ds_sha256_ctx *ctx)
{
	DS_ASSERT(SHA256_Init((SHA256_CTX *)ctx->opaque) == 1);
}

void ds_sha256_update(struct ds_sha256_ctx *ctx, const void *data, size_t len)
{
	if (len)
		DS_ASSERT(SHA256_Update((SHA256_CTX *)ctx->opaque, data, len) == 1);
}

void ds_sha256_final(uint8_t out[DS_HASH_LEN], struct ds_sha256_ctx *ctx)
{
	DS_ASSERT(SHA256_Final(out, (SHA256_CTX *)ctx->opaque) == 1);
	/* The state may hold the tail of secret input (keys, salts). */
	sodium_memzero(ctx, sizeof(*ctx));
}

/* The one-shots skip the explicit wipe: SHA256_Final already cleanses the
 * buffered input block, and what remains of the state is the digest itself;
 * these run once per Merkle node, so a redundant wipe is not free. */
void ds_sha256_v(uint8_t out[DS_HASH_LEN], const struct ds_iov *parts, size_t n)
{
	SHA256_CTX c;
	DS_ASSERT(SHA256_Init(&c) == 1);
	for (size_t i = 0; i < n; i++)
		if (parts[i].n)
			DS_ASSERT(SHA256_Update(&c, parts[i].p, parts[i].n) == 1);
	DS_ASSERT(SHA256_Final(out, &c) == 1);
}

void ds_sha256(uint8_t out[DS_HASH_LEN], const void *data, size_t len)
{
	SHA256_CTX c;
	DS_ASSERT(SHA256_Init(&c) == 1);
	if (len)
		DS_ASSERT(SHA256_Update(&c, data, len) == 1);
	DS_ASSERT(SHA256_Final(out, &c) == 1);
}

void ds_hmac_sha256(uint8_t out[DS_HASH_LEN], const uint8_t *key, size_t key_len,
		    const void *data, size_t len)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int ds_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
		   const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
	/* RFC 5869 with HMAC-SHA-256, built on ds_hmac_sha256. */
	uint8_t zero[DS_HASH_LEN] = {0};
	uint8_t prk[DS_HASH_LEN];
	if (out_len > 255 * DS_HASH_LEN)
		return DS_EINVAL;
	if (!salt || salt_len == 0) {
		salt = zero;
		salt_len = sizeof(zero);
	}
	ds_hmac_sha256(prk, salt, salt_len, ikm, ikm_len);
	uint8_t t[DS_HASH_LEN];
	size_t t_len = 0, done = 0;
	for (uint8_t i = 1; done < out_len; i++) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
		crypto_auth_hmacsha256_update(&st, t, t_len);
		crypto_auth_hmacsha256_update(&st, info, info_len);
		crypto_auth_hmacsha256_update(&st, &i, 1);
		crypto_auth_hmacsha256_final(&st, t);
		sodium_memzero(&st, sizeof(st));
		t_len = DS_HASH_LEN;
		size_t take = out_len - done < DS_HASH_LEN ? out_len - done : DS_HASH_LEN;
		memcpy(out + done, t, take);
		done += take;
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
	return 0;
}

int ds_ed25519_keypair(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN])
{
	return crypto_sign_ed25519_keypair(pk, sk) == 0 ? 0 : DS_ECRYPTO;
}

int ds_ed25519_seed_keypair(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN],
			    const uint8_t seed[DS_SEED_LEN])
{
	return crypto_sign_ed25519_seed_keypair(pk, sk, seed) == 0 ? 0 : DS_ECRYPTO;
}

void ds_ed25519_sign(uint8_t sig[DS_SIG_LEN], const void *msg, size_t len,
		     const uint8_t sk[DS_SK_LEN])
{
	DS_ASSERT(crypto_sign_ed25519_detached(sig, NULL, msg, len, sk) == 0);
}

int ds_ed25519_verify(const uint8_t sig[DS_SIG_LEN], const void *msg, size_t len,
		      const uint8_t pk[DS_PK_LEN])
{
	return crypto_sign_ed25519_verify_detached(sig, msg, len, pk) == 0 ? 0 : DS_ESIG;
}

int ds_ed25519_verify_checked(const uint8_t *sig, size_t sig_len, const void *msg, size_t len,
			      const uint8_t *pk, size_t pk_len)
{
	if (sig_len != DS_SIG_LEN || pk_len != DS_PK_LEN)
		return DS_ESIG;
	return ds_ed25519_verify(sig, msg, len, pk);
}

int ds_x25519_keypair(uint8_t pk[DS_X25519_LEN], uint8_t sk[DS_X25519_LEN])
{
	randombytes_buf(sk, DS_X25519_LEN);
	return crypto_scalarmult_curve25519_base(pk, sk) == 0 ? 0 : DS_ECRYPTO;
}

int ds_x25519(uint8_t shared[DS_X25519_LEN], const uint8_t sk[DS_X25519_LEN],
	      const uint8_t peer_pk[DS_X25519_LEN])
{
	if (crypto_scalarmult_curve25519(shared, sk, peer_pk) == 0)
		return 0;
	/* An all-zero secret carries no key material: leave nothing a careless
	 * caller could mistake for one. */
	sodium_memzero(shared, DS_X25519_LEN);
	return DS_ECRYPTO;
}

int ds_aead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[DS_AEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN])
{
	unsigned long long clen;
	return crypto_aead_chacha20poly1305_ietf_encrypt(c, &clen, m, mlen, ad, adlen, NULL, nonce,
							 key) == 0
		       ? 0
		       : DS_ECRYPTO;
}

int ds_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
		    const uint8_t nonce[DS_AEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN])
{
	unsigned long long mlen;
	if (clen < DS_AEAD_TAG_LEN)
		return DS_ECRYPTO;
	return crypto_aead_chacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad, adlen, nonce,
							 key) == 0
		       ? 0
		       : DS_ECRYPTO;
}

int ds_xaead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[DS_XAEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN])
{
	unsigned long long clen;
	return crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, mlen, ad, adlen, NULL,
							  nonce, key) == 0
		       ? 0
		       : DS_ECRYPTO;
}

int ds_xaead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[DS_XAEAD_NONCE_LEN], const uint8_t key[DS_AEAD_KEY_LEN])
{
	unsigned long long mlen;
	if (clen < DS_AEAD_TAG_LEN)
		return DS_ECRYPTO;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad, adlen,
							  nonce, key) == 0
		       ? 0
		       : DS_ECRYPTO;
}

/* Shared checks of the length-checked forms; nonce_want picks the variant. */
static int aead_check(size_t m_cap, size_t clen, size_t nonce_len, size_t nonce_want,
		      size_t key_len)
{
	if (key_len != DS_AEAD_KEY_LEN || nonce_len != nonce_want)
		return DS_EINVAL;
	if (clen < DS_AEAD_TAG_LEN)
		return DS_ECRYPTO;
	if (m_cap < clen - DS_AEAD_TAG_LEN)
		return DS_EINVAL;
	return 0;
}

int ds_aead_decrypt_checked(uint8_t *m, size_t m_cap, const uint8_t *c, size_t clen,
			    const uint8_t *ad, size_t adlen, const uint8_t *nonce, size_t nonce_len,
			    const uint8_t *key, size_t key_len)
{
	uint8_t none[1];
	int rc = aead_check(m_cap, clen, nonce_len, DS_AEAD_NONCE_LEN, key_len);
	if (rc)
		return rc;
	return ds_aead_decrypt(m ? m : none, c, clen, ad, adlen, nonce, key);
}

int ds_xaead_decrypt_checked(uint8_t *m, size_t m_cap, const uint8_t *c, size_t clen,
			     const uint8_t *ad, size_t adlen, const uint8_t *nonce, size_t nonce_len,
			     const uint8_t *key, size_t key_len)
{
	uint8_t none[1];
	int rc = aead_check(m_cap, clen, nonce_len, DS_XAEAD_NONCE_LEN, key_len);
	if (rc)
		return rc;
	return ds_xaead_decrypt(m ? m : none, c, clen, ad, adlen, nonce, key);
}

void ds_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

uint64_t ds_random_u64(void)
{
	uint64_t v;
	randombytes_buf(&v, sizeof(v));
	return v;
}

void ds_memzero(void *p, size_t n)
{
	sodium_memzero(p, n);
}

int ds_memeq_ct(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}
