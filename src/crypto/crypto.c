/* First working backend: libsodium for Ed25519/X25519/AEAD/random,
 * OpenSSL EVP for SHA-256 with one fetched EVP_MD and a reused per-thread
 * context (see bench/bench_crypto.c for the measurements behind the choice). */
#include "crypto/crypto.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

static EVP_MD *sha256_md;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void do_init(void)
{
	if (sodium_init() < 0) {
		init_rc = DS_ECRYPTO;
		return;
	}
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256_md)
		init_rc = DS_ECRYPTO;
}

int ds_crypto_init(void)
{
	pthread_once(&init_once, do_init);
	return init_rc;
}

static EVP_MD_CTX *thread_ctx(void)
{
	static __thread EVP_MD_CTX *ctx;
	if (!ctx) {
		DS_ASSERT(ds_crypto_init() == 0);
		ctx = EVP_MD_CTX_new();
		DS_ASSERT(ctx != NULL);
	}
	return ctx;
}

void ds_sha256_v(uint8_t out[DS_HASH_LEN], const struct ds_iov *parts, size_t n)
{
	EVP_MD_CTX *ctx = thread_ctx();
	DS_ASSERT(EVP_DigestInit_ex(ctx, sha256_md, NULL) == 1);
	for (size_t i = 0; i < n; i++)
		if (parts[i].n)
			DS_ASSERT(EVP_DigestUpdate(ctx, parts[i].p, parts[i].n) == 1);
	unsigned int len = 0;
	DS_ASSERT(EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == DS_HASH_LEN);
}

void ds_sha256(uint8_t out[DS_HASH_LEN], const void *data, size_t len)
{
	struct ds_iov iov = {data, len};
	ds_sha256_v(out, &iov, 1);
}

/* Streaming: libsodium's state fits inside the caller's struct, so no
 * allocation; streaming is used for large, rare inputs only. */
_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(struct ds_sha256_ctx), "ctx size");

void ds_sha256_init(struct ds_sha256_ctx *ctx)
{
	crypto_hash_sha256_init((crypto_hash_sha256_state *)ctx->opaque);
}

void ds_sha256_update(struct ds_sha256_ctx *ctx, const void *data, size_t len)
{
	crypto_hash_sha256_update((crypto_hash_sha256_state *)ctx->opaque, data, len);
}

void ds_sha256_final(uint8_t out[DS_HASH_LEN], struct ds_sha256_ctx *ctx)
{
	crypto_hash_sha256_final((crypto_hash_sha256_state *)ctx->opaque, out);
	sodium_memzero(ctx, sizeof(*ctx));
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

int ds_x25519_keypair(uint8_t pk[DS_X25519_LEN], uint8_t sk[DS_X25519_LEN])
{
	randombytes_buf(sk, DS_X25519_LEN);
	return crypto_scalarmult_curve25519_base(pk, sk) == 0 ? 0 : DS_ECRYPTO;
}

int ds_x25519(uint8_t shared[DS_X25519_LEN], const uint8_t sk[DS_X25519_LEN],
	      const uint8_t peer_pk[DS_X25519_LEN])
{
	return crypto_scalarmult_curve25519(shared, sk, peer_pk) == 0 ? 0 : DS_ECRYPTO;
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
