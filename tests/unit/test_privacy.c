/* privacy: subject pseudonyms, field commitments, selective disclosure,
 * consents; and the credit/identity contracts run through the vm with an
 * in-memory host (roles, rollback, audit), plus the Lua contract tests in contracts/tests. */
#include "testutil.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>

#include "codec/codec.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"
#include "crypto/crypto.h"
#include "privacy/privacy.h"
#include "vm/vm.h"

/* Declared here, not through cli/cli.h: there it is weak, and a weak
 * reference never pulls cli_credit.o out of the library archive. */
int ds_cli_credit(int argc, char **argv);

/* Worked examples of docs/PRIVACY.md, computed with an independent Python
 * implementation (hmac, hashlib). */
#define SUBJECT_EXAMPLE_HEX "ec378119ae3ec7b741de756abcec384e87e208705a66e4b7a26a48eb955f9f4a"
#define COMMITMENT_EXAMPLE_HEX "d885d29d8e98b2f3d0fbf7d2c501cbfab23d6565f54f1e3405acf65344eb537e"

static struct ds_privacy_subject_key test_key(uint32_t id, uint8_t fill)
{
	struct ds_privacy_subject_key k;
	k.key_id = id;
	memset(k.key, fill, sizeof(k.key));
	return k;
}

/* ---- subjects ---------------------------------------------------------- */

static void test_subject_id(void **state)
{
	(void)state;
	struct ds_privacy_subject_key k = test_key(1, 0x42);
	uint8_t a[32], b[32], c[32];
	char norm[DS_PRIV_NATID_MAX + 1];
	assert_int_equal(ds_privacy_normalise_id(norm, "person", "1101-0119 9003 07777x"), 0);
	assert_string_equal(norm, "11010119900307777X");
	assert_int_equal(ds_privacy_subject_id(a, &k, "person", "11010119900307777X"), 0);
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", "110101-19900307777x"), 0);
	assert_memory_equal(a, b, 32);

	/* Independent recomputation of the documented input. */
	uint8_t msg[128];
	size_t n = 0;
	memcpy(msg, "danshari/subject/v1", 19);
	n = 19;
	msg[n++] = 6;
	memcpy(msg + n, "person", 6);
	n += 6;
	msg[n++] = 18;
	memcpy(msg + n, "11010119900307777X", 18);
	n += 18;
	ds_hmac_sha256(c, k.key, 32, msg, n);
	assert_memory_equal(a, c, 32);
	/* Pinned worked example (docs/PRIVACY.md; computed independently). */
	char hex[65];
	ds_hex_encode(hex, a, 32);
	assert_string_equal(hex, SUBJECT_EXAMPLE_HEX);

	/* Kind and key both separate pseudonyms. */
	assert_int_equal(ds_privacy_subject_id(b, &k, "org", "11010119900307777X"), 0);
	assert_memory_not_equal(a, b, 32);
	struct ds_privacy_subject_key k2 = test_key(2, 0x43);
	assert_int_equal(ds_privacy_subject_id(b, &k2, "person", "11010119900307777X"), 0);
	assert_memory_not_equal(a, b, 32);

	/* Bad input. */
	assert_int_equal(ds_privacy_subject_id(b, &k, "alien", "123"), DS_EINVAL);
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", ""), DS_EINVAL);
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", " - "), DS_EINVAL);
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", "12/34"), DS_EINVAL);
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", "１２３"), DS_EINVAL);
	char big[80];
	memset(big, '1', sizeof(big) - 1);
	big[79] = 0;
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", big), DS_EINVAL);
	big[64] = 0;
	assert_int_equal(ds_privacy_subject_id(b, &k, "person", big), 0);
}

static void test_subject_key_file(void **state)
{
	(void)state;
	struct ds_privacy_subject_key k = test_key(7, 0xab), k2;
	char text[DS_PRIV_SUBJECT_KEY_FILE_MAX];
	size_t len;
	assert_int_equal(ds_privacy_subject_key_format(text, sizeof(text), &len, &k), 0);
	assert_int_equal(ds_privacy_subject_key_parse(&k2, (uint8_t *)text, len), 0);
	assert_int_equal(k2.key_id, 7);
	assert_memory_equal(k2.key, k.key, 32);
	/* Every truncation fails; so does every changed byte of the header. */
	for (size_t i = 0; i < len; i++)
		assert_int_not_equal(ds_privacy_subject_key_parse(&k2, (uint8_t *)text, i), 0);
	assert_int_equal(ds_privacy_subject_key_parse(&k2, (uint8_t *)"hello\n", 6), DS_ETAG);
	const char *bad[] = {
		"danshari-subject-key v1\nkey-id 0\nkey " "abababababababababababababababababababababababababababababababab\n",
		"danshari-subject-key v1\nkey-id 07\nkey " "abababababababababababababababababababababababababababababababab\n",
		"danshari-subject-key v1\nkey-id 7\nkey " "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\n",
		"danshari-subject-key v1\nkey-id 7\nkey " "abababababababababababababababababababababababababababababababab\nx",
		"danshari-subject-key v1\nkey-id 99999999999\nkey " "abababababababababababababababababababababababababababababababab\n",
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		assert_int_equal(ds_privacy_subject_key_parse(&k2, (const uint8_t *)bad[i], strlen(bad[i])),
				 DS_ECORRUPT);
		assert_int_equal(k2.key_id, 0);
	}
	k.key_id = 0;
	assert_int_equal(ds_privacy_subject_key_format(text, sizeof(text), &len, &k), DS_EINVAL);
}

/* ---- fields, commitments, disclosure ------------------------------------- */

#define F(n, v) {n, sizeof(n) - 1, (const uint8_t *)(v), sizeof(v) - 1, {0}}

static void example_fields(struct ds_privacy_field *f)
{
	struct ds_privacy_field ex[4] = {
		F("case_closed", "yes"), F("amount_cny", "125000"), F("court", "Haidian District People's Court"),
		F("case_no", "(2024) Jing 0108 Min Chu 42"),
	};
	for (size_t i = 0; i < 4; i++) {
		ex[i].salt[0] = (uint8_t)(i + 1);
		memset(ex[i].salt + 1, 0x11 * (int)(i + 1), DS_PRIV_SALT_LEN - 1);
	}
	memcpy(f, ex, sizeof(ex));
}

static void test_commitment(void **state)
{
	(void)state;
	struct ds_privacy_field f[4];
	example_fields(f);
	assert_int_equal(ds_privacy_fields_check(f, 4), DS_EINVAL); /* unsorted */
	assert_int_equal(ds_privacy_fields_sort(f, 4), 0);
	assert_memory_equal(f[0].name, "amount_cny", 10);
	assert_memory_equal(f[3].name, "court", 5);
	uint8_t root[32], root2[32], c[32];
	assert_int_equal(ds_privacy_commitment(root, f, 4), 0);
	char hex[65];
	ds_hex_encode(hex, root, 32);
	assert_string_equal(hex, COMMITMENT_EXAMPLE_HEX);

	/* Field commitment recomputed from the documented bytes. */
	uint8_t buf[256];
	size_t n = 0;
	memcpy(buf, "danshari/field/v1", 17);
	n = 17;
	memcpy(buf + n, f[1].salt, 32);
	n += 32;
	buf[n++] = (uint8_t)f[1].name_len;
	memcpy(buf + n, f[1].name, f[1].name_len);
	n += f[1].name_len;
	buf[n++] = (uint8_t)f[1].value_len;
	memcpy(buf + n, f[1].value, f[1].value_len);
	n += f[1].value_len;
	ds_sha256(c, buf, n);
	uint8_t c2[32];
	ds_privacy_field_commit(c2, &f[1]);
	assert_memory_equal(c, c2, 32);

	/* Salt, value and name each change the commitment. */
	f[2].salt[5] ^= 1;
	assert_int_equal(ds_privacy_commitment(root2, f, 4), 0);
	assert_memory_not_equal(root, root2, 32);
	f[2].salt[5] ^= 1;
	f[2].value = (const uint8_t *)"no";
	f[2].value_len = 2;
	assert_int_equal(ds_privacy_commitment(root2, f, 4), 0);
	assert_memory_not_equal(root, root2, 32);
	/* Name/value boundary is unambiguous: ("ab","c") differs from ("a","bc"). */
	struct ds_privacy_field x = F("ab", "c"), y = F("a", "bc");
	ds_privacy_field_commit(c, &x);
	ds_privacy_field_commit(c2, &y);
	assert_memory_not_equal(c, c2, 32);

	/* Bad fields. */
	struct ds_privacy_field dup[2] = {F("a", "1"), F("a", "2")};
	assert_int_equal(ds_privacy_fields_sort(dup, 2), DS_EINVAL);
	struct ds_privacy_field badname[1] = {F("Name", "1")};
	assert_int_equal(ds_privacy_commitment(root, badname, 1), DS_EINVAL);
	struct ds_privacy_field badval[1] = {F("a", "\xff")};
	assert_int_equal(ds_privacy_commitment(root, badval, 1), DS_EINVAL);
	assert_int_equal(ds_privacy_commitment(root, f, 0), DS_EINVAL);
}

static void test_disclosure(void **state)
{
	(void)state;
	struct ds_privacy_field f[4];
	example_fields(f);
	assert_int_equal(ds_privacy_fields_sort(f, 4), 0);
	uint8_t root[32];
	assert_int_equal(ds_privacy_commitment(root, f, 4), 0);
	struct ds_privacy_disclosure d, d2;
	assert_int_equal(ds_privacy_disclose(&d, f, 4, "case_closed", 11), 0);
	assert_int_equal(d.index, 1);
	assert_int_equal(d.count, 4);
	assert_int_equal(ds_privacy_disclosure_verify(root, &d), 0);
	assert_int_equal(ds_privacy_disclose(&d2, f, 4, "nope", 4), DS_ENOTFOUND);

	uint8_t enc[DS_PRIV_DISCLOSURE_MAX];
	size_t len;
	assert_int_equal(ds_privacy_disclosure_encode(enc, sizeof(enc), &len, &d), 0);
	assert_int_equal(ds_privacy_disclosure_decode(&d2, enc, len), 0);
	assert_int_equal(ds_privacy_disclosure_verify(root, &d2), 0);
	/* Every strict prefix and one trailing byte are refused. */
	for (size_t i = 0; i < len; i++)
		assert_int_not_equal(ds_privacy_disclosure_decode(&d2, enc, i), 0);
	enc[len] = 0;
	assert_int_equal(ds_privacy_disclosure_decode(&d2, enc, len + 1), DS_ETRAILING);
	/* Any flipped bit either fails to decode or fails to verify. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			enc[i] ^= (uint8_t)(1 << bit);
			if (ds_privacy_disclosure_decode(&d2, enc, len) == 0)
				assert_int_not_equal(ds_privacy_disclosure_verify(root, &d2), 0);
			enc[i] ^= (uint8_t)(1 << bit);
		}
	}
	/* Tampered value ("case closed: no"), salt, index; wrong commitment. */
	d2 = d;
	d2.field.value = (const uint8_t *)"no";
	d2.field.value_len = 2;
	assert_int_equal(ds_privacy_disclosure_verify(root, &d2), DS_EPROOF);
	d2 = d;
	d2.field.salt[0] ^= 1;
	assert_int_equal(ds_privacy_disclosure_verify(root, &d2), DS_EPROOF);
	d2 = d;
	d2.index = 2;
	assert_int_equal(ds_privacy_disclosure_verify(root, &d2), DS_EPROOF);
	d2 = d;
	d2.count = 5;
	assert_int_equal(ds_privacy_disclosure_verify(root, &d2), DS_EPROOF);
	root[0] ^= 1;
	assert_int_equal(ds_privacy_disclosure_verify(root, &d), DS_EPROOF);
}

static void test_details_and_random(void **state)
{
	(void)state;
	uint64_t s = tu_seed();
	static char names[DS_PRIV_FIELDS_MAX][16];
	static char values[DS_PRIV_FIELDS_MAX][64];
	static uint8_t enc[DS_PRIV_DETAILS_MAX];
	for (int iter = 0; iter < 200; iter++) {
		struct ds_privacy_field f[DS_PRIV_FIELDS_MAX], g[DS_PRIV_FIELDS_MAX];
		size_t n = 1 + tu_rand(&s) % DS_PRIV_FIELDS_MAX;
		for (size_t i = 0; i < n; i++) {
			snprintf(names[i], sizeof(names[i]), "f%zu_%u", i, (unsigned)(tu_rand(&s) % 1000));
			size_t vl = tu_rand(&s) % sizeof(values[i]);
			for (size_t j = 0; j < vl; j++)
				values[i][j] = (char)(' ' + tu_rand(&s) % 90);
			f[i] = (struct ds_privacy_field){names[i], strlen(names[i]),
							 (const uint8_t *)values[i], vl, {0}};
		}
		ds_privacy_fields_salt(f, n);
		assert_int_equal(ds_privacy_fields_sort(f, n), 0);
		uint8_t root[32];
		assert_int_equal(ds_privacy_commitment(root, f, n), 0);
		size_t len, m;
		assert_int_equal(ds_privacy_details_encode(enc, sizeof(enc), &len, f, n), 0);
		assert_int_equal(ds_privacy_details_decode(g, DS_PRIV_FIELDS_MAX, &m, enc, len), 0);
		assert_int_equal(m, n);
		uint8_t root2[32];
		assert_int_equal(ds_privacy_commitment(root2, g, m), 0);
		assert_memory_equal(root, root2, 32);
		size_t pick = tu_rand(&s) % n;
		struct ds_privacy_disclosure d;
		assert_int_equal(ds_privacy_disclose(&d, g, m, g[pick].name, g[pick].name_len), 0);
		assert_int_equal(ds_privacy_disclosure_verify(root, &d), 0);
		assert_int_not_equal(ds_privacy_details_decode(g, DS_PRIV_FIELDS_MAX, &m, enc, len - 1), 0);
		if (n > 1) { /* swapped order is refused */
			struct ds_privacy_field t = f[0];
			f[0] = f[1];
			f[1] = t;
			assert_int_equal(ds_privacy_details_encode(enc, sizeof(enc), &len, f, n), DS_EINVAL);
		}
	}
	uint8_t v2[] = {2, 0};
	struct ds_privacy_field g[1];
	size_t m;
	assert_int_equal(ds_privacy_details_decode(g, 1, &m, v2, 2), DS_EVERSION);
}

/* ---- consent ----------------------------------------------------------- */

static void test_consent(void **state)
{
	(void)state;
	uint8_t pk[32], sk[64], pk2[32], sk2[64], sig[64];
	uint8_t seed[32];
	memset(seed, 9, sizeof(seed));
	assert_int_equal(ds_ed25519_seed_keypair(pk, sk, seed), 0);
	assert_int_equal(ds_ed25519_keypair(pk2, sk2), 0);
	struct ds_privacy_consent c = {"danshari-test", {0}, "court-d:1", "bank-c", "loan", 2000};
	memset(c.subject, 0x5a, 32);
	assert_int_equal(ds_privacy_consent_sign(sig, &c, sk), 0);
	assert_int_equal(ds_privacy_consent_verify(&c, sig, 64, pk, 32, 1999), 0);
	assert_int_equal(ds_privacy_consent_verify(&c, sig, 64, pk, 32, 2000), DS_EEXPIRED);
	assert_int_equal(ds_privacy_consent_verify(&c, sig, 64, pk2, 32, 1), DS_ESIG);
	assert_int_equal(ds_privacy_consent_verify(&c, sig, 63, pk, 32, 1), DS_ESIG);
	assert_int_equal(ds_privacy_consent_verify(&c, sig, 64, pk, 31, 1), DS_ESIG);
	/* A forged (changed) consent never verifies, even when expired. */
	struct ds_privacy_consent t = c;
	t.grantee = "bank-x";
	assert_int_equal(ds_privacy_consent_verify(&t, sig, 64, pk, 32, 1), DS_ESIG);
	t = c;
	t.expiry_ms = 999999;
	assert_int_equal(ds_privacy_consent_verify(&t, sig, 64, pk, 32, 1), DS_ESIG);
	t = c;
	t.subject[31] ^= 1;
	assert_int_equal(ds_privacy_consent_verify(&t, sig, 64, pk, 32, 1), DS_ESIG);
	t = c;
	t.chain_id = "other-chain";
	assert_int_equal(ds_privacy_consent_verify(&t, sig, 64, pk, 32, 1), DS_ESIG);
	t = c;
	t.record = "";
	assert_int_equal(ds_privacy_consent_verify(&t, sig, 64, pk, 32, 1), DS_EINVAL);
	/* Documented signing bytes. */
	uint8_t b[DS_PRIV_CONSENT_BYTES_MAX];
	size_t bl;
	assert_int_equal(ds_privacy_consent_bytes(b, sizeof(b), &bl, &c), 0);
	assert_int_equal(bl, 19 + 14 + 32 + 10 + 7 + 5 + 2);
	assert_memory_equal(b, "danshari/consent/v1\x0d" "danshari-test", 33);
	assert_memory_equal(b + bl - 2, "\xd0\x0f", 2); /* uvar 2000 */
	uint8_t sig2[64];
	ds_ed25519_sign(sig2, b, bl, sk);
	assert_memory_equal(sig, sig2, 64);
}

/* ---- contracts through the vm ------------------------------------------ */

#define W_KV_MAX 2048
#define W_OV_MAX 1100
struct kv {
	uint8_t key[DS_VM_KEY_MAX];
	size_t key_len;
	uint8_t *val; /* NULL: deleted (overlay only) */
	size_t val_len;
};
struct world {
	struct kv base[W_KV_MAX];
	size_t nbase;
	struct kv ov[W_OV_MAX];
	size_t nov;
	char events[4096]; /* names of the last call's events */
	uint64_t height;
	uint64_t time_ms;
	const char *src;
	size_t src_len;
	const char *name;
};

static struct kv *kv_find(struct kv *a, size_t n, const uint8_t *k, size_t kn)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].key_len == kn && memcmp(a[i].key, k, kn) == 0)
			return &a[i];
	return NULL;
}

static int kv_set(struct kv *a, size_t *n, size_t max, const uint8_t *k, size_t kn,
		  const uint8_t *v, size_t vn)
{
	struct kv *e = kv_find(a, *n, k, kn);
	if (!e) {
		if (*n >= max)
			return DS_ELIMIT;
		e = &a[(*n)++];
		memcpy(e->key, k, kn);
		e->key_len = kn;
	} else {
		free(e->val);
	}
	e->val = NULL;
	e->val_len = 0;
	if (v) {
		e->val = malloc(vn ? vn : 1);
		assert_non_null(e->val);
		memcpy(e->val, v, vn);
		e->val_len = vn;
	}
	return 0;
}

static int w_get(void *ctx, const uint8_t *k, size_t kn, const uint8_t **v, size_t *vn)
{
	struct world *w = ctx;
	struct kv *e = kv_find(w->ov, w->nov, k, kn);
	if (!e)
		e = kv_find(w->base, w->nbase, k, kn);
	if (!e || !e->val)
		return DS_ENOTFOUND;
	*v = e->val;
	*vn = e->val_len;
	return 0;
}

static int w_put(void *ctx, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
	struct world *w = ctx;
	return kv_set(w->ov, &w->nov, W_OV_MAX, k, kn, v, vn);
}

static int w_del(void *ctx, const uint8_t *k, size_t kn)
{
	struct world *w = ctx;
	return kv_set(w->ov, &w->nov, W_OV_MAX, k, kn, NULL, 0);
}

static int w_emit(void *ctx, const char *name, const uint8_t *v, size_t vn)
{
	struct world *w = ctx;
	(void)v;
	(void)vn;
	size_t l = strlen(w->events);
	snprintf(w->events + l, sizeof(w->events) - l, "%s;", name);
	return 0;
}

static void w_end(struct world *w, bool commit)
{
	for (size_t i = 0; i < w->nov; i++) {
		struct kv *e = &w->ov[i];
		if (commit) {
			if (e->val) {
				assert_int_equal(kv_set(w->base, &w->nbase, W_KV_MAX, e->key, e->key_len,
							e->val, e->val_len), 0);
			} else {
				struct kv *b = kv_find(w->base, w->nbase, e->key, e->key_len);
				if (b) {
					free(b->val);
					*b = w->base[--w->nbase];
				}
			}
		}
		free(e->val);
	}
	w->nov = 0;
}

static void w_free(struct world *w)
{
	w_end(w, false);
	for (size_t i = 0; i < w->nbase; i++)
		free(w->base[i].val);
	w->nbase = 0;
}

struct who {
	const char *account;
	const char *org;
	const char *const *roles;
	size_t nroles;
};

static struct ds_vm_limits limits(void)
{
	struct ds_vm_limits l;
	ds_vm_limits_default(&l);
	return l;
}

/* Runs `return {f = function(a) return <expr> end}` on args: builds values
 * from Lua literals and checks results with Lua predicates. */
static void lua_eval(struct ds_vm_result *r, const char *expr, const uint8_t *args, size_t args_len)
{
	static char src[8192];
	struct world none;
	memset(&none, 0, sizeof(none));
	struct ds_vm_host h = {.ctx = &none, .get = w_get, .put = w_put, .del = w_del,
			       .emit = w_emit, .caller_account = "", .caller_org = ""};
	snprintf(src, sizeof(src), "return {f = function(a) return (%s) end}", expr);
	struct ds_vm_limits l = limits();
	assert_int_equal(ds_vm_call(r, &l, &h, src, strlen(src), "expr", "f", args, args_len), 0);
	if (r->status != DS_VM_OK)
		fail_msg("lua expression failed: %s: %s", expr, r->error);
}

/* Calls method with args given as a Lua literal. Commits on success.
 * Returns the status; *ret gets the return value or error text. */
static enum ds_vm_status wcall(struct world *w, const struct who *as, const char *method,
			       const char *args_lit, struct ds_vm_result *res)
{
	struct ds_vm_result a;
	lua_eval(&a, args_lit, NULL, 0);
	struct ds_vm_host h = {.ctx = w, .get = w_get, .put = w_put, .del = w_del, .emit = w_emit,
			       .caller_account = as->account, .caller_org = as->org,
			       .caller_roles = as->roles, .caller_nroles = as->nroles,
			       .block_height = w->height, .block_time_ms = w->time_ms};
	struct ds_vm_limits l = limits();
	w->events[0] = 0;
	assert_int_equal(ds_vm_call(res, &l, &h, w->src, w->src_len, w->name, method, a.ret.data,
				    a.ret.len), 0);
	ds_vm_result_free(&a);
	w_end(w, res->status == DS_VM_OK);
	w->height++;
	w->time_ms += 1000;
	return res->status;
}

/* Expects success and, when check != NULL, that the Lua predicate holds for
 * the return value (bound to `a`). */
static void ok(struct world *w, const struct who *as, const char *method, const char *args,
	       const char *check)
{
	struct ds_vm_result r;
	if (wcall(w, as, method, args, &r) != DS_VM_OK)
		fail_msg("%s %s: unexpected failure: %s", method, args, r.error);
	if (check) {
		struct ds_vm_result c;
		lua_eval(&c, check, r.ret.data, r.ret.len);
		if (!(c.ret.len == 1 && c.ret.data[0] == DS_VALUE_TRUE))
			fail_msg("%s %s: check failed: %s", method, args, check);
		ds_vm_result_free(&c);
	}
	ds_vm_result_free(&r);
}

/* Expects a contract error containing `want`, and no state change. */
static void refused(struct world *w, const struct who *as, const char *method, const char *args,
		    const char *want)
{
	size_t before = w->nbase;
	struct ds_vm_result r;
	enum ds_vm_status st = wcall(w, as, method, args, &r);
	if (st != DS_VM_ERROR || !strstr(r.error, want))
		fail_msg("%s %s: want error '%s', got %s '%s'", method, args, want,
			 ds_vm_status_name(st), r.error);
	assert_int_equal(w->nbase, before);
	ds_vm_result_free(&r);
}

static char *read_repo_file(const char *rel, size_t *len)
{
	char path[PATH_MAX + 64];
	uint8_t *p = NULL;
	size_t n = 0;
	snprintf(path, sizeof(path), "%s", rel);
	if (ds_file_read(&p, &n, path, DS_VM_SRC_MAX) != 0) {
		char exe[PATH_MAX - 64];
		ssize_t r = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(r > 0);
		exe[r] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		snprintf(path, sizeof(path), "%s/../../%s", exe, rel);
		if (ds_file_read(&p, &n, path, DS_VM_SRC_MAX) != 0)
			fail_msg("cannot read %s", rel);
	}
	*len = n;
	return (char *)p;
}

#define SUBJ "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
#define SUBJ2 "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"
#define SPK "1111111111111111111111111111111111111111111111111111111111111111"
#define SPK2 "2222222222222222222222222222222222222222222222222222222222222222"
#define COMMIT1 "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define COMMIT2 "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"

static const char *const court_roles[] = {"issuer:court.judgment", "identity:register"};
static const char *const bureau_roles[] = {"issuer:tax.overdue", "legal:grant", "legal:erase"};
static const char *const bank_roles[] = {"contract.call"};
static const struct who court = {"aa01", "court-d", court_roles, 2};
static const struct who bureau = {"aa02", "bureau-a", bureau_roles, 3};
static const struct who bank = {"aa03", "bank-c", bank_roles, 1};
static const struct who market = {"aa04", "market-b", NULL, 0};
static const struct who subject = {SPK, "", NULL, 0};

#define ISSUE(...) \
	snprintf(args, sizeof(args), \
		 "{subject='%s', category='%s', severity=%d, region='%s', expiry_ms=%llu, commitment='%s'}", \
		 __VA_ARGS__)

static struct world *world_new(const char *file, const char *name)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->src = read_repo_file(file, &w->src_len);
	w->name = name;
	w->height = 10;
	w->time_ms = 1700000000000ull;
	return w;
}

static void world_free(struct world *w)
{
	w_free(w);
	free((void *)w->src);
	free(w);
}

static void test_credit_contract(void **state)
{
	(void)state;
	struct world *w = world_new("contracts/credit.lua", "credit");
	char args[1024];
	unsigned long long exp = 1700000000000ull + 3600000ull;

	ISSUE( SUBJ, "court.judgment", 3, "CN-11", exp, COMMIT1);
	refused(w, &court, "issue", args, "unknown subject");
	refused(w, &bank, "bind_subject", "{subject='" SUBJ "', pk='" SPK "', kind='person', key_id=1}",
		"lacks role identity:register");
	ok(w, &court, "bind_subject", "{subject='" SUBJ "', pk='" SPK "', kind='person', key_id=1}", "a == true");

	/* Only holders of issuer:<category> may issue that category. */
	refused(w, &bank, "issue", args, "lacks role issuer:court.judgment");
	refused(w, &bureau, "issue", args, "lacks role issuer:court.judgment");
	ISSUE( SUBJ, "court..", 3, "CN-11", exp, COMMIT1);
	refused(w, &court, "issue", args, "malformed category");
	ISSUE( SUBJ, "court.judgment", 9, "CN-11", exp, COMMIT1);
	refused(w, &court, "issue", args, "severity");
	ISSUE( SUBJ, "court.judgment", 3, "CN 11", exp, COMMIT1);
	refused(w, &court, "issue", args, "malformed region");
	ISSUE( SUBJ, "court.judgment", 3, "CN-11", 5ull, COMMIT1);
	refused(w, &court, "issue", args, "expiry_ms is in the past");
	ISSUE( SUBJ, "court.judgment", 3, "CN-11", exp, "C1");
	refused(w, &court, "issue", args, "commitment must be 64 lowercase hex");
	refused(w, &court, "issue", "42", "arguments must be a map");

	/* The failed calls above rolled back their sequence bumps: first id is :1. */
	ISSUE( SUBJ, "court.judgment", 3, "CN-11", exp, COMMIT1);
	ok(w, &court, "issue", args, "a == 'court-d:1'");
	assert_non_null(strstr(w->events, "credit.issued;"));
	ISSUE( SUBJ, "tax.overdue", 2, "CN-31", exp, COMMIT2);
	ok(w, &bureau, "issue", args, "a == 'bureau-a:1'");

	/* The cross-region profile: one key, both records, no personal data. */
	ok(w, &bank, "profile", "{subject='" SUBJ "'}",
	   "#a.records == 2 and a.records[1].id == 'court-d:1' and a.records[1].region == 'CN-11'"
	   " and a.records[2].region == 'CN-31' and a.records[1].commitment == '" COMMIT1 "'");
	ok(w, &bank, "profile", "{subject='" SUBJ2 "'}", "#a.records == 0");

	/* Access without a grant is refused but audited. */
	ok(w, &bank, "access", "{record='court-d:1', purpose='loan'}",
	   "a.granted == false and a.reason == 'no grant'");
	/* Consent must come from the subject. */
	refused(w, &bank, "grant", "{record='court-d:1', grantee='bank-c', basis='consent', expiry_ms=1800000000000}",
		"consent must come from the record's subject");
	refused(w, &market, "grant", "{record='court-d:1', grantee='market-b', basis='legal', legal_ref='x', expiry_ms=1800000000000}",
		"lacks role legal:grant");
	refused(w, &subject, "grant", "{record='court-d:1', grantee='bank-c', basis='consent', expiry_ms=1}",
		"in the past");
	refused(w, &subject, "grant", "{record='court-d:1', grantee='bank-c', basis='consent', expiry_ms=1800000000000, sig='xx', chain_id='c'}",
		"consent signature does not verify");
	refused(w, &subject, "grant", "{record='nope:1', grantee='bank-c', basis='consent', expiry_ms=1800000000000}",
		"unknown record");
	ok(w, &subject, "grant", "{record='court-d:1', grantee='bank-c', basis='consent', purpose='loan', expiry_ms=1800000000000}",
	   "a == true");
	ok(w, &bank, "access", "{record='court-d:1', purpose='loan'}", "a.granted == true");
	assert_non_null(strstr(w->events, "credit.access;"));
	/* A legal-basis grant. */
	ok(w, &bureau, "grant", "{record='court-d:1', grantee='market-b', basis='legal', legal_ref='order-7', expiry_ms=1800000000000}",
	   "a == true");
	ok(w, &market, "access", "{record='court-d:1'}", "a.granted == true");
	ok(w, &market, "access", "{record='bureau-a:1'}", "a.granted == false");

	/* The subject lists every access, newest first. */
	ok(w, &subject, "accesses", "{subject='" SUBJ "'}",
	   "a.total == 4 and #a.entries == 4 and a.entries[1].record == 'bureau-a:1'"
	   " and a.entries[2].who == 'market-b' and a.entries[2].grant == 'legal:order-7'"
	   " and a.entries[3].who == 'bank-c' and a.entries[3].granted == true"
	   " and a.entries[3].grant == 'consent' and a.entries[4].granted == false"
	   " and a.entries[4].whose == '" SUBJ "' and a.entries[4].purpose == 'loan'");
	ok(w, &subject, "accesses", "{subject='" SUBJ "', before=3, limit=1}",
	   "#a.entries == 1 and a.entries[1].n == 2");

	/* Correct: issuing org only; history kept; profile follows. */
	refused(w, &bank, "correct", "{record='court-d:1', reason='x', severity=1}", "only the issuing organisation");
	refused(w, &court, "correct", "{record='court-d:1', severity=1}", "reason");
	refused(w, &court, "correct", "{record='court-d:1', reason='typo'}", "nothing to correct");
	ok(w, &court, "correct", "{record='court-d:1', reason='amount fixed', commitment='" COMMIT2 "', severity=2}",
	   "a == 2");
	ok(w, &bank, "record", "{id='court-d:1'}",
	   "a.version == 2 and #a.history == 2 and a.history[2].event == 'correct'"
	   " and a.history[2].prev.commitment == '" COMMIT1 "' and a.commitment == '" COMMIT2 "'");
	ok(w, &bank, "profile", "{subject='" SUBJ "'}",
	   "a.records[1].commitment == '" COMMIT2 "' and a.records[1].severity == 2");

	/* Appeal by the subject only, once. */
	refused(w, &bank, "appeal", "{record='court-d:1', reason='not me'}", "only the record's subject");
	ok(w, &subject, "appeal", "{record='court-d:1', reason='paid in full'}", "a == true");
	refused(w, &subject, "appeal", "{record='court-d:1', reason='again'}", "already open");
	ok(w, &court, "resolve_appeal", "{record='court-d:1', outcome='rejected', reason='unpaid'}", "a == true");

	/* Revoked grant and expired grant. */
	refused(w, &market, "revoke_grant", "{record='court-d:1', grantee='bank-c'}", "only the subject");
	ok(w, &subject, "revoke_grant", "{record='court-d:1', grantee='bank-c'}", "a == true");
	ok(w, &bank, "access", "{record='court-d:1'}", "a.granted == false and a.reason == 'grant revoked'");
	unsigned long long gexp = (unsigned long long)w->time_ms + 5000;
	snprintf(args, sizeof(args), "{record='court-d:1', grantee='bank-c', basis='consent', expiry_ms=%llu}", gexp);
	ok(w, &subject, "grant", args, NULL);
	w->time_ms += 10000;
	ok(w, &bank, "access", "{record='court-d:1'}", "a.granted == false and a.reason == 'grant expired'");

	/* Expiry: not before its time; then out of the profile, details erased. */
	refused(w, &bank, "expire", "{record='court-d:1'}", "has not expired");
	w->time_ms = exp;
	ok(w, &bank, "expire", "{record='court-d:1'}", "a == true");
	assert_non_null(strstr(w->events, "credit.erase;"));
	ok(w, &bank, "profile", "{subject='" SUBJ "'}", "#a.records == 1 and a.records[1].id == 'bureau-a:1'");
	ok(w, &market, "access", "{record='court-d:1'}", "a.granted == false and a.reason == 'record is expired'");
	refused(w, &court, "correct", "{record='court-d:1', reason='x', severity=1}", "is expired");

	/* Erasure: issuer or legal:erase only. */
	refused(w, &market, "erase", "{record='bureau-a:1', reason='court order'}", "legal:erase");
	ok(w, &bureau, "erase", "{record='bureau-a:1', reason='court order 12'}", "a == true");
	ok(w, &bank, "profile", "{subject='" SUBJ "'}", "#a.records == 0");
	ok(w, &bank, "record", "{id='bureau-a:1'}",
	   "a.status == 'erased' and a.history[#a.history].event == 'erase'"
	   " and a.history[#a.history].reason == 'court order 12'");
	refused(w, &bureau, "erase", "{record='bureau-a:1', reason='again'}", "is erased");

	/* Bounded history. */
	ISSUE( SUBJ, "court.judgment", 1, "CN-11",
		 (unsigned long long)w->time_ms + 1000000000ull, COMMIT1);
	ok(w, &court, "issue", args, "a == 'court-d:2'");
	for (int i = 2; i <= 32; i++)
		ok(w, &court, "correct", "{record='court-d:2', reason='r', severity=1}", NULL);
	refused(w, &court, "correct", "{record='court-d:2', reason='r', severity=2}", "history is full");

	/* No state value holds anything but pseudonyms and metadata: the test
	 * inputs had no personal data to leak, so check the key space shape. */
	for (size_t i = 0; i < w->nbase; i++) {
		const char *k = (const char *)w->base[i].key;
		size_t kl = w->base[i].key_len;
		bool known = false;
		const char *pre[] = {"subj/", "seq/", "rec/", "profile/", "grant/", "auditn/", "audit/"};
		for (size_t j = 0; j < DS_ARRAY_LEN(pre); j++)
			if (kl >= strlen(pre[j]) && memcmp(k, pre[j], strlen(pre[j])) == 0)
				known = true;
		assert_true(known);
	}
	world_free(w);
}

static void test_identity_contract(void **state)
{
	(void)state;
	struct world *w = world_new("contracts/identity.lua", "identity");
	const struct who subj_new = {SPK2, "", NULL, 0};
	refused(w, &bank, "register", "{subject='" SUBJ "', kind='person', pk='" SPK "', key_id=1}",
		"lacks role identity:register");
	refused(w, &court, "register", "{subject='" SUBJ "', kind='robot', pk='" SPK "', key_id=1}", "kind");
	refused(w, &court, "register", "{subject='" SUBJ "', kind='person', pk='" SPK "', key_id=0}", "key_id");
	ok(w, &court, "register", "{subject='" SUBJ "', kind='person', pk='" SPK "', key_id=1}", "a == true");
	refused(w, &court, "register", "{subject='" SUBJ "', kind='person', pk='" SPK "', key_id=1}",
		"already registered");
	refused(w, &bank, "get", "{subject='" SUBJ2 "'}", "unknown subject");

	/* Rotation by the subject's current key, then the old key is powerless. */
	refused(w, &bank, "rotate_key", "{subject='" SUBJ "', pk='" SPK2 "'}", "lacks role identity:register");
	ok(w, &subject, "rotate_key", "{subject='" SUBJ "', pk='" SPK2 "'}", "a == true");
	refused(w, &subject, "rotate_key", "{subject='" SUBJ "', pk='" SPK "'}", "lacks role identity:register");
	refused(w, &court, "rotate_key", "{subject='" SUBJ "', pk='" SPK "'}", "needs a reason");
	ok(w, &court, "rotate_key", "{subject='" SUBJ "', pk='" SPK "', reason='lost phone'}", "a == true");
	ok(w, &bank, "get", "{subject='" SUBJ "'}",
	   "a.pk == '" SPK "' and #a.keys == 3 and a.keys[2].why == 'subject'"
	   " and a.keys[3].why == 'registrar: lost phone'");
	(void)subj_new;

	/* Consortium key rotation: re-link to the new pseudonym. */
	refused(w, &court, "relink", "{old='" SUBJ "', new='" SUBJ2 "', key_id=1}", "newer");
	ok(w, &court, "relink", "{old='" SUBJ "', new='" SUBJ2 "', key_id=2}", "a == true");
	ok(w, &bank, "current", "{subject='" SUBJ "'}", "a == '" SUBJ2 "'");
	ok(w, &bank, "get", "{subject='" SUBJ2 "'}", "a.linked_to == '" SUBJ "' and a.key_id == 2");
	refused(w, &subject, "rotate_key", "{subject='" SUBJ "', pk='" SPK2 "'}", "is relinked");
	world_free(w);
}

/* Lua contract tests (contracts/tests): each file starts with "-- contract-under-test: X"
 * (a file in contracts/); the harness prepends
 * `local CONTRACT_SOURCE = <X's text>` and calls every `function T.test_*`
 * as its own call. Test files build their own in-Lua world so they can act
 * as several callers. */
static void run_lua_test_file(const char *rel, int *ran)
{
	size_t tl, cl;
	char *t = read_repo_file(rel, &tl);
	const char *hdr = "-- contract-under-test: ";
	assert_true(strncmp(t, hdr, strlen(hdr)) == 0);
	char cname[128], cpath[200];
	const char *nl = strchr(t, '\n');
	assert_non_null(nl);
	size_t nlen = (size_t)(nl - (t + strlen(hdr)));
	assert_true(nlen > 0 && nlen < sizeof(cname));
	memcpy(cname, t + strlen(hdr), nlen);
	cname[nlen] = 0;
	snprintf(cpath, sizeof(cpath), "contracts/%s", cname);
	char *c = read_repo_file(cpath, &cl);
	assert_null(strstr(c, "]==========]"));
	size_t cap = tl + cl + 128;
	char *src = malloc(cap);
	assert_non_null(src);
	int w0 = snprintf(src, cap, "local CONTRACT_SOURCE = [==========[\n%s]==========]\n", c);
	assert_true(w0 > 0 && (size_t)w0 + tl < cap);
	memcpy(src + w0, t, tl);
	size_t slen = (size_t)w0 + tl;

	struct world none;
	memset(&none, 0, sizeof(none));
	struct ds_vm_host h = {.ctx = &none, .get = w_get, .put = w_put, .del = w_del,
			       .emit = w_emit, .caller_account = "", .caller_org = "",
			       .block_height = 1, .block_time_ms = 1700000000000ull};
	struct ds_vm_limits l = limits();
	for (const char *p = t; (p = strstr(p, "\nfunction T.test_")) != NULL; p++) {
		char method[DS_VM_NAME_MAX + 1];
		const char *m = p + strlen("\nfunction T.");
		size_t n = strcspn(m, "(");
		assert_true(n > 0 && n <= DS_VM_NAME_MAX);
		memcpy(method, m, n);
		method[n] = 0;
		struct ds_vm_result r;
		assert_int_equal(ds_vm_call(&r, &l, &h, src, slen, "contract_test", method, NULL, 0), 0);
		fprintf(stderr, "# %s %s: %s (%llu instructions)%s%s\n", rel, method,
			r.status == DS_VM_OK ? "pass" : "fail", (unsigned long long)r.instructions,
			r.error_len ? " " : "", r.error);
		if (r.status != DS_VM_OK)
			fail_msg("%s %s: %s", rel, method, r.error);
		ds_vm_result_free(&r);
		w_end(&none, false);
		(*ran)++;
	}
	free(src);
	free(c);
	free(t);
}

static void test_lua_contract_tests(void **state)
{
	(void)state;
	const char *files[] = {"contracts/tests/credit_test.lua", "contracts/tests/identity_test.lua"};
	int ran = 0;
	for (size_t i = 0; i < DS_ARRAY_LEN(files); i++)
		run_lua_test_file(files[i], &ran);
	assert_true(ran >= 4);
}

/* ---- the CLI, in process --------------------------------------------- */

/* Runs `danshari credit ARGS...` with stdout discarded (its lines must not
 * look like TAP); returns the exit status. */
static int credit(const char *a0, ...)
{
	char *argv[24];
	int argc = 0;
	va_list ap;
	argv[argc++] = (char *)"credit";
	argv[argc++] = (char *)a0;
	va_start(ap, a0);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && argc < 23)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	int saved = dup(1);
	int null = open(getenv("TU_CLI_STDOUT") ? getenv("TU_CLI_STDOUT") : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(saved >= 0 && null >= 0);
	dup2(null, 1);
	close(null);
	int rc = ds_cli_credit(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return rc;
}

static void put_file(const char *dir, const char *name, const char *text, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	assert_int_equal(ds_file_write_atomic(path, text, strlen(text), 0600, 0), 0);
}

static void test_cli(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("credit-cli");
	char fields[4200], details[4200], disc[4200], ck[4200], rec[4200], hdr[4200], sk[4200],
		consent[4200], forged[4200], idf[4200];
	put_file(dir, "fields.json",
		 "{\"case_closed\": \"yes\", \"amount_cny\": \"125000\", \"name\": \"Zhang San\"}", fields,
		 sizeof(fields));
	snprintf(details, sizeof(details), "%s/details.json", dir);
	snprintf(disc, sizeof(disc), "%s/disc.json", dir);
	assert_int_equal(credit("commit", "--fields", fields, "--out", details, NULL), 0);
	struct stat st;
	assert_int_equal(stat(details, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(credit("commit", "--fields", fields, "--out", details, NULL), 1); /* no overwrite */
	json_error_t je;
	json_t *dj = json_load_file(details, 0, &je);
	assert_non_null(dj);
	const char *commit = json_string_value(json_object_get(dj, "commitment"));
	assert_non_null(commit);
	assert_int_equal(credit("check-details", "--details", details, "--commitment", commit, NULL), 0);
	assert_int_equal(credit("disclose", "--details", details, "--field", "case_closed", "--out", disc, NULL), 0);
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--commitment", commit, NULL), 0);
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--commitment",
				"00000000000000000000000000000000000000000000000000000000000000ff", NULL), 1);
	assert_int_equal(credit("disclose", "--details", details, "--field", "nope", NULL), 1);
	assert_int_equal(credit("disclose", "--details", details, NULL), 2);

	/* Tampered details and tampered disclosure are refused. */
	json_t *d2 = json_deep_copy(dj);
	json_t *f0 = json_array_get(json_object_get(d2, "fields"), 2);
	json_object_set_new(f0, "value", json_string("Li Si"));
	char tampered[4200];
	snprintf(tampered, sizeof(tampered), "%s/tampered.json", dir);
	assert_int_equal(json_dump_file(d2, tampered, 0), 0);
	json_decref(d2);
	assert_int_equal(credit("check-details", "--details", tampered, NULL), 1);
	assert_int_equal(credit("disclose", "--details", tampered, "--field", "case_closed", NULL), 1);
	json_t *dd = json_load_file(disc, 0, &je);
	assert_non_null(dd);
	json_object_set_new(dd, "value", json_string("no"));
	char baddisc[4200];
	snprintf(baddisc, sizeof(baddisc), "%s/baddisc.json", dir);
	assert_int_equal(json_dump_file(dd, baddisc, 0), 0);
	json_decref(dd);
	assert_int_equal(credit("check-disclosure", "--disclosure", baddisc, "--commitment", commit, NULL), 1);

	/* Through a state proof of the record: key -> record value holding the
	 * commitment, in a sparse Merkle tree, against its root and a header. */
	uint8_t val[512];
	struct ds_enc e;
	size_t vl;
	ds_enc_init(&e, val, sizeof(val));
	ds_value_enc_map(&e, 3);
	ds_value_enc_key(&e, "commitment", 10);
	ds_value_enc_str(&e, commit, 64);
	ds_value_enc_key(&e, "id", 2);
	ds_value_enc_str(&e, "court-d:1", 9);
	ds_value_enc_key(&e, "status", 6);
	ds_value_enc_str(&e, "active", 6);
	assert_int_equal(ds_enc_finish(&e, &vl), 0);
	const char *key = "c/credit/rec/court-d:1";
	struct ds_smt_mem *mem;
	assert_int_equal(ds_smt_mem_new(&mem), 0);
	struct ds_smt_store store = ds_smt_mem_store(mem);
	struct ds_smt_op ops[2] = {{(const uint8_t *)key, strlen(key), val, vl},
				   {(const uint8_t *)"other", 5, (const uint8_t *)"x", 1}};
	struct ds_smt_changeset cs;
	assert_int_equal(ds_smt_update(&cs, &store, DS_SMT_VERSION_NONE, 1, ops, 2), 0);
	assert_int_equal(ds_smt_mem_apply(mem, &cs), 0);
	uint8_t root[32];
	memcpy(root, cs.root, 32);
	ds_smt_changeset_free(&cs);
	struct ds_smt_proof *pf = malloc(sizeof(*pf));
	assert_non_null(pf);
	uint8_t kh[32], penc[DS_SMT_PROOF_ENC_MAX];
	size_t pl;
	ds_sha256(kh, key, strlen(key));
	assert_int_equal(ds_smt_prove(pf, &store, 1, kh), 0);
	assert_int_equal(ds_smt_proof_encode(penc, sizeof(penc), &pl, pf), 0);
	free(pf);
	ds_smt_mem_free(mem);
	static char khex[128], vhex[1100], phex[2 * DS_SMT_PROOF_ENC_MAX + 1], rhex[65], json[2 * DS_SMT_PROOF_ENC_MAX + 1400];
	ds_hex_encode(khex, (const uint8_t *)key, strlen(key));
	ds_hex_encode(vhex, val, vl);
	ds_hex_encode(phex, penc, pl);
	ds_hex_encode(rhex, root, 32);
	snprintf(json, sizeof(json), "{\"key\": \"%s\", \"value\": \"%s\", \"proof\": \"%s\"}", khex, vhex, phex);
	put_file(dir, "record.json", json, rec, sizeof(rec));
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--record", rec, "--state-root", rhex, NULL), 0);
	assert_int_equal(credit("check-disclosure", "--disclosure", baddisc, "--record", rec, "--state-root", rhex, NULL), 1);
	rhex[0] = rhex[0] == '0' ? '1' : '0';
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--record", rec, "--state-root", rhex, NULL), 1);
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--record", rec, NULL), 2);

	struct ds_header h;
	memset(&h, 0, sizeof(h));
	h.version = 1;
	snprintf(h.chain_id, sizeof(h.chain_id), "danshari-test");
	h.height = 5;
	h.time_ms = 1700000000000ull;
	h.exec_height = 4;
	memcpy(h.state_root, root, 32);
	uint8_t henc[DS_HEADER_MAX];
	size_t hl;
	assert_int_equal(ds_header_encode(henc, sizeof(henc), &hl, &h), 0);
	char hhex[2 * DS_HEADER_MAX + 2];
	ds_hex_encode(hhex, henc, hl);
	put_file(dir, "header.hex", hhex, hdr, sizeof(hdr));
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--record", rec, "--header", hdr, NULL), 0);
	h.state_root[0] ^= 1;
	assert_int_equal(ds_header_encode(henc, sizeof(henc), &hl, &h), 0);
	ds_hex_encode(hhex, henc, hl);
	put_file(dir, "header2.hex", hhex, hdr, sizeof(hdr));
	assert_int_equal(credit("check-disclosure", "--disclosure", disc, "--record", rec, "--header", hdr, NULL), 1);

	/* Subject ids: key file mode enforced, id from a file. */
	put_file(dir, "ck", "danshari-subject-key v1\nkey-id 1\nkey "
		 "4242424242424242424242424242424242424242424242424242424242424242\n", ck, sizeof(ck));
	put_file(dir, "id.txt", "110101-19900307777x\n", idf, sizeof(idf));
	assert_int_equal(credit("subject-id", "--key", ck, "--kind", "person", "--id-file", idf, NULL), 0);
	assert_int_equal(credit("subject-id", "--key", ck, "--kind", "person", "--id", "12/3", NULL), 1);
	assert_int_equal(credit("subject-id", "--key", ck, "--kind", "alien", "--id", "123", NULL), 2);
	assert_int_equal(chmod(ck, 0644), 0);
	assert_int_equal(credit("subject-id", "--key", ck, "--kind", "person", "--id", "123", NULL), 1);

	/* Consents: valid, forged, expired, wrong key. */
	struct ds_key k;
	char pk[65];
	assert_int_equal(ds_keyfile_generate(&k), 0);
	snprintf(sk, sizeof(sk), "%s/subject.key", dir);
	char err[DS_KEYFILE_ERR_MAX];
	assert_int_equal(ds_keyfile_write(sk, &k, err, sizeof(err)), 0);
	ds_keyfile_pk_to_hex(pk, k.pk);
	ds_keyfile_wipe(&k);
	snprintf(consent, sizeof(consent), "%s/consent.json", dir);
	assert_int_equal(credit("consent", "--key", sk, "--subject", SUBJ, "--record", "court-d:1",
				"--grantee", "bank-c", "--expiry-ms", "4000000000000", "--chain-id", "t",
				"--out", consent, NULL), 0);
	assert_int_equal(credit("check-consent", "--consent", consent, "--pk", pk, NULL), 0);
	assert_int_equal(credit("check-consent", "--consent", consent, "--pk", SPK, NULL), 1);
	assert_int_equal(credit("check-consent", "--consent", consent, "--pk", pk, "--now-ms",
				"4000000000000", NULL), 1);
	json_t *cj = json_load_file(consent, 0, &je);
	assert_non_null(cj);
	json_object_set_new(cj, "grantee", json_string("bank-x"));
	snprintf(forged, sizeof(forged), "%s/forged.json", dir);
	assert_int_equal(json_dump_file(cj, forged, 0), 0);
	json_decref(cj);
	assert_int_equal(credit("check-consent", "--consent", forged, "--pk", pk, NULL), 1);
	assert_int_equal(credit("consent", "--key", sk, "--subject", SUBJ, "--record", "r", "--grantee",
				"b", "--expiry-ms", "5", NULL), 1);
	assert_int_equal(credit("consent", "--key", sk, "--subject", "zz", "--record", "r", "--grantee",
				"b", "--expiry-ms", "4000000000000", NULL), 2);
	assert_int_equal(credit("nope", NULL), 2);
	json_decref(dj);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	assert_int_equal(ds_crypto_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject_id),
		cmocka_unit_test(test_subject_key_file),
		cmocka_unit_test(test_commitment),
		cmocka_unit_test(test_disclosure),
		cmocka_unit_test(test_details_and_random),
		cmocka_unit_test(test_consent),
		cmocka_unit_test(test_credit_contract),
		cmocka_unit_test(test_identity_contract),
		cmocka_unit_test(test_lua_contract_tests),
		cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests_name("privacy", tests, NULL, NULL);
}
