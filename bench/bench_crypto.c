/* bench_crypto — libsodium against OpenSSL 3 for the jobs danshari's crypto
 * module hands out, then the ds_* wrappers themselves. Both libraries are
 * called directly here (the one file outside src/crypto/ allowed to) so the
 * choice made in src/crypto/crypto.c can be checked on any machine.
 *
 * Each figure is the median of REPS timed runs of about RUN_NS each.
 * Output: "metric: value unit" lines; "#" lines name the faster library.
 * Figures only: nothing here passes or fails. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/util.h"

#define REPS 3
#define RUN_NS 250000000ull /* per repetition */
#define MSG_LEN 256         /* Ed25519 message: about one transaction */
#define BIG_LEN (1u << 20)

typedef void (*bench_fn)(void *arg, uint64_t iters);

/* Runs fn in growing batches until RUN_NS has passed; returns ops/s. */
static double run_once(bench_fn fn, void *arg)
{
	uint64_t batch = 1, done = 0;
	uint64_t t0 = ds_mono_ns(), now = t0;
	/* Bound: batches only double, so this loop ends after at most ~64 growth
	 * steps plus RUN_NS worth of work. */
	while (now - t0 < RUN_NS) {
		uint64_t b0 = ds_mono_ns();
		fn(arg, batch);
		done += batch;
		now = ds_mono_ns();
		if (now - b0 < 2000000ull && batch < (1ull << 40))
			batch *= 2;
	}
	return (double)done * 1e9 / (double)(now - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_rate(bench_fn fn, void *arg)
{
	double r[REPS];
	for (int i = 0; i < REPS; i++)
		r[i] = run_once(fn, arg);
	qsort(r, REPS, sizeof(r[0]), cmp_double);
	return r[REPS / 2];
}

static volatile uint8_t sink; /* keeps results observable to the compiler */

/* ------------------------------------------------------------- SHA-256 */

struct sha_arg {
	const uint8_t *data;
	size_t len;
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

static void sha_evp_oneshot(void *p, uint64_t n)
{
	struct sha_arg *a = p;
	uint8_t out[32];
	for (uint64_t i = 0; i < n; i++)
		if (EVP_Digest(a->data, a->len, out, NULL, EVP_sha256(), NULL) != 1)
			abort();
	sink ^= out[0];
}

static void sha_evp_ctx(void *p, uint64_t n)
{
	struct sha_arg *a = p;
	uint8_t out[32];
	unsigned int olen;
	for (uint64_t i = 0; i < n; i++) {
		if (EVP_DigestInit_ex(a->ctx, a->md, NULL) != 1 ||
		    EVP_DigestUpdate(a->ctx, a->data, a->len) != 1 ||
		    EVP_DigestFinal_ex(a->ctx, out, &olen) != 1)
			abort();
	}
	sink ^= out[0];
}

/* OpenSSL's low-level SHA256_* API is deprecated in 3.0 but still shipped;
 * it skips the provider dispatch and keeps its state in a caller struct. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void sha_ossl_lowlevel(void *p, uint64_t n)
{
	struct sha_arg *a = p;
	uint8_t out[32];
	for (uint64_t i = 0; i < n; i++) {
		SHA256_CTX c;
		SHA256_Init(&c);
		SHA256_Update(&c, a->data, a->len);
		SHA256_Final(out, &c);
	}
	sink ^= out[0];
}
#pragma GCC diagnostic pop

static void sha_sodium(void *p, uint64_t n)
{
	struct sha_arg *a = p;
	uint8_t out[32];
	for (uint64_t i = 0; i < n; i++)
		crypto_hash_sha256(out, a->data, a->len);
	sink ^= out[0];
}

static void sha_ds(void *p, uint64_t n)
{
	struct sha_arg *a = p;
	uint8_t out[32];
	for (uint64_t i = 0; i < n; i++)
		ds_sha256(out, a->data, a->len);
	sink ^= out[0];
}

static void sha_ds_stream(void *p, uint64_t n)
{
	struct sha_arg *a = p;
	uint8_t out[32];
	for (uint64_t i = 0; i < n; i++) {
		struct ds_sha256_ctx c;
		ds_sha256_init(&c);
		ds_sha256_update(&c, a->data, a->len);
		ds_sha256_final(out, &c);
	}
	sink ^= out[0];
}

static void bench_sha(const uint8_t *data, size_t len, const char *tag)
{
	struct sha_arg a = {data, len, EVP_MD_fetch(NULL, "SHA256", NULL), EVP_MD_CTX_new()};
	if (!a.md || !a.ctx)
		abort();
	static const struct {
		const char *name;
		bench_fn fn;
	} v[] = {
		{"openssl_evp_digest", sha_evp_oneshot},
		{"openssl_fetched_ctx", sha_evp_ctx},
		{"openssl_lowlevel", sha_ossl_lowlevel},
		{"libsodium", sha_sodium},
		{"ds_sha256", sha_ds},
		{"ds_sha256_stream", sha_ds_stream},
	};
	double mbs[DS_ARRAY_LEN(v)];
	size_t best = 0;
	for (size_t i = 0; i < DS_ARRAY_LEN(v); i++) {
		double rate = median_rate(v[i].fn, &a);
		mbs[i] = rate * (double)len / 1e6;
		printf("sha256_%s_%s: %.1f MB/s\n", tag, v[i].name, mbs[i]);
		if (i < 4 && mbs[i] > mbs[best])
			best = i;
		fflush(stdout);
	}
	printf("# sha256 %s: fastest library path %s, %.2fx libsodium\n", tag, v[best].name,
	       mbs[best] / mbs[3]);
	EVP_MD_CTX_free(a.ctx);
	EVP_MD_free(a.md);
}

/* ------------------------------------------------------------- Ed25519 */

struct ed_arg {
	uint8_t msg[MSG_LEN];
	uint8_t pk[32], sk[64], sig[64];
	EVP_PKEY *opk, *osk;
	EVP_MD_CTX *ctx;
};

static void ed_sodium_sign(void *p, uint64_t n)
{
	struct ed_arg *a = p;
	uint8_t sig[64];
	for (uint64_t i = 0; i < n; i++)
		crypto_sign_ed25519_detached(sig, NULL, a->msg, MSG_LEN, a->sk);
	sink ^= sig[0];
}

static void ed_sodium_verify(void *p, uint64_t n)
{
	struct ed_arg *a = p;
	for (uint64_t i = 0; i < n; i++)
		if (crypto_sign_ed25519_verify_detached(a->sig, a->msg, MSG_LEN, a->pk) != 0)
			abort();
}

static void ed_ossl_sign(void *p, uint64_t n)
{
	struct ed_arg *a = p;
	uint8_t sig[64];
	for (uint64_t i = 0; i < n; i++) {
		size_t slen = sizeof(sig);
		if (EVP_DigestSignInit(a->ctx, NULL, NULL, NULL, a->osk) != 1 ||
		    EVP_DigestSign(a->ctx, sig, &slen, a->msg, MSG_LEN) != 1)
			abort();
	}
	sink ^= sig[0];
}

static void ed_ossl_verify(void *p, uint64_t n)
{
	struct ed_arg *a = p;
	for (uint64_t i = 0; i < n; i++)
		if (EVP_DigestVerifyInit(a->ctx, NULL, NULL, NULL, a->opk) != 1 ||
		    EVP_DigestVerify(a->ctx, a->sig, 64, a->msg, MSG_LEN) != 1)
			abort();
}

static void ed_ds_sign(void *p, uint64_t n)
{
	struct ed_arg *a = p;
	uint8_t sig[64];
	for (uint64_t i = 0; i < n; i++)
		ds_ed25519_sign(sig, a->msg, MSG_LEN, a->sk);
	sink ^= sig[0];
}

static void ed_ds_verify(void *p, uint64_t n)
{
	struct ed_arg *a = p;
	for (uint64_t i = 0; i < n; i++)
		if (ds_ed25519_verify(a->sig, a->msg, MSG_LEN, a->pk) != 0)
			abort();
}

static void ed_init(struct ed_arg *a)
{
	uint8_t seed[32];
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(a->msg, sizeof(a->msg));
	crypto_sign_ed25519_seed_keypair(a->pk, a->sk, seed);
	crypto_sign_ed25519_detached(a->sig, NULL, a->msg, MSG_LEN, a->sk);
	a->osk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	a->opk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a->pk, 32);
	a->ctx = EVP_MD_CTX_new();
	sodium_memzero(seed, sizeof(seed));
	if (!a->osk || !a->opk || !a->ctx)
		abort();
	/* Both libraries must produce the same deterministic signature. */
	uint8_t sig[64];
	size_t slen = sizeof(sig);
	if (EVP_DigestSignInit(a->ctx, NULL, NULL, NULL, a->osk) != 1 ||
	    EVP_DigestSign(a->ctx, sig, &slen, a->msg, MSG_LEN) != 1 || memcmp(sig, a->sig, 64))
		abort();
}

static void ed_free(struct ed_arg *a)
{
	EVP_PKEY_free(a->osk);
	EVP_PKEY_free(a->opk);
	EVP_MD_CTX_free(a->ctx);
	sodium_memzero(a->sk, sizeof(a->sk));
}

/* Two threads, each with its own key, context and EVP_PKEY, for RUN_NS. */
struct thr {
	struct ed_arg a;
	bench_fn fn;
	double rate;
};

static void *thr_main(void *p)
{
	struct thr *t = p;
	t->rate = run_once(t->fn, &t->a);
	return NULL;
}

static double two_threads(bench_fn fn)
{
	double r[REPS];
	struct thr t[2];
	for (int i = 0; i < 2; i++) {
		ed_init(&t[i].a);
		t[i].fn = fn;
	}
	for (int rep = 0; rep < REPS; rep++) {
		pthread_t th[2];
		for (int i = 0; i < 2; i++)
			if (pthread_create(&th[i], NULL, thr_main, &t[i]) != 0)
				abort();
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		r[rep] = t[0].rate + t[1].rate;
	}
	for (int i = 0; i < 2; i++)
		ed_free(&t[i].a);
	qsort(r, REPS, sizeof(r[0]), cmp_double);
	return r[REPS / 2];
}

static void winner(const char *what, const char *a_name, double a, const char *b_name, double b)
{
	printf("# %s: %s wins, %.2fx %s\n", what, a >= b ? a_name : b_name,
	       a >= b ? a / b : b / a, a >= b ? b_name : a_name);
}

static void bench_ed25519(void)
{
	struct ed_arg a;
	ed_init(&a);
	double ss = median_rate(ed_sodium_sign, &a);
	printf("ed25519_sign_libsodium: %.0f ops/s\n", ss);
	double os = median_rate(ed_ossl_sign, &a);
	printf("ed25519_sign_openssl: %.0f ops/s\n", os);
	winner("ed25519 sign", "libsodium", ss, "openssl", os);
	double sv = median_rate(ed_sodium_verify, &a);
	printf("ed25519_verify_libsodium: %.0f ops/s\n", sv);
	double ov = median_rate(ed_ossl_verify, &a);
	printf("ed25519_verify_openssl: %.0f ops/s\n", ov);
	winner("ed25519 verify", "libsodium", sv, "openssl", ov);
	fflush(stdout);
	double sv2 = two_threads(ed_sodium_verify);
	printf("ed25519_verify_2threads_libsodium: %.0f ops/s\n", sv2);
	double ov2 = two_threads(ed_ossl_verify);
	printf("ed25519_verify_2threads_openssl: %.0f ops/s\n", ov2);
	winner("ed25519 verify, 2 threads", "libsodium", sv2, "openssl", ov2);
	printf("ed25519_sign_ds: %.0f ops/s\n", median_rate(ed_ds_sign, &a));
	printf("ed25519_verify_ds: %.0f ops/s\n", median_rate(ed_ds_verify, &a));
	printf("ed25519_verify_2threads_ds: %.0f ops/s\n", two_threads(ed_ds_verify));
	ed_free(&a);
}

/* ----------------------------------------------------- other ds_* figures */

struct aead_arg {
	uint8_t key[32], nonce[24];
	uint8_t buf[1024 + 16];
};

static void aead_ds_seal(void *p, uint64_t n)
{
	struct aead_arg *a = p;
	for (uint64_t i = 0; i < n; i++)
		if (ds_aead_encrypt(a->buf, a->buf, 1024, NULL, 0, a->nonce, a->key) != 0)
			abort();
	sink ^= a->buf[0];
}

static void x25519_ds(void *p, uint64_t n)
{
	uint8_t *k = p; /* sk[32] || peer pk[32] */
	uint8_t shared[32];
	for (uint64_t i = 0; i < n; i++)
		if (ds_x25519(shared, k, k + 32) != 0)
			abort();
	sink ^= shared[0];
}

int main(void)
{
	if (ds_crypto_init() != 0) {
		fprintf(stderr, "crypto init failed\n");
		return 1;
	}
	printf("# libsodium %s, %s\n", sodium_version_string(), OpenSSL_version(OPENSSL_VERSION));
	uint8_t *big = malloc(BIG_LEN);
	if (!big)
		return 1;
	randombytes_buf(big, BIG_LEN);
	bench_sha(big, 64, "64B");
	bench_sha(big, BIG_LEN, "1MiB");
	free(big);
	bench_ed25519();

	struct aead_arg aa;
	randombytes_buf(&aa, sizeof(aa));
	printf("aead_chacha20poly1305_seal_1KiB_ds: %.1f MB/s\n",
	       median_rate(aead_ds_seal, &aa) * 1024 / 1e6);
	uint8_t xk[64], xpk[32];
	if (ds_x25519_keypair(xpk, xk) != 0 || ds_x25519_keypair(xk + 32, xpk) != 0)
		return 1;
	printf("x25519_ds: %.0f ops/s\n", median_rate(x25519_ds, xk));
	sodium_memzero(xk, sizeof(xk));
	sodium_memzero(xpk, sizeof(xpk));
	return 0;
}
