/* exec: checks, kv semantics, receipts, rollback of failed txs, replay,
 * expiry, chain id, results root, determinism. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "exec/exec.h"
#include "exec/exec_int.h"

#define CHAIN "exec-test"

static uint8_t g_pk[DS_PK_LEN], g_sk[DS_SK_LEN], g_pk2[DS_PK_LEN], g_sk2[DS_SK_LEN];
static uint8_t g_scratch[DS_TX_SCRATCH_LEN];
static uint64_t g_nonce;

/* In-memory committed state and seen set. */
struct host {
	struct ds__kvmap state, seen;
	int fail_get; /* inject a host error */
};

static int h_get(void *ctx, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl)
{
	struct host *h = ctx;
	if (h->fail_get)
		return DS_EIO;
	struct ds__kvent *e = ds__kvmap_get(&h->state, k, kl);
	if (!e)
		return DS_ENOTFOUND;
	*v = e->val;
	*vl = e->val_len;
	return 0;
}

static int h_seen(void *ctx, const uint8_t id[DS_HASH_LEN])
{
	struct host *h = ctx;
	return ds__kvmap_get(&h->seen, id, DS_HASH_LEN) ? 1 : 0;
}

static void host_init(struct host *h)
{
	memset(h, 0, sizeof(*h));
	ds__kvmap_init(&h->state);
	ds__kvmap_init(&h->seen);
}

static void host_free(struct host *h)
{
	ds__kvmap_free(&h->state);
	ds__kvmap_free(&h->seen);
}

/* Applies a result as the chain would. */
static void host_apply(struct host *h, const struct ds_exec_result *r)
{
	for (size_t i = 0; i < r->nwrites; i++) {
		if (r->writes[i].val)
			assert_int_equal(ds__kvmap_set(&h->state, r->writes[i].key, r->writes[i].key_len,
						       r->writes[i].val, r->writes[i].val_len, false), 0);
		else
			ds__kvmap_remove(&h->state, r->writes[i].key, r->writes[i].key_len);
	}
	for (size_t i = 0; i < r->nreceipts; i++)
		if (r->accepted[i])
			assert_int_equal(ds__kvmap_set(&h->seen, r->tx_ids[i], DS_HASH_LEN, NULL, 0, false), 0);
}

struct txb {
	uint8_t buf[1024];
	size_t len;
};

static void mk_tx(struct txb *t, const uint8_t *pk, const uint8_t *sk, const char *chain,
		  const char *target, const char *method, const char *key, int64_t value,
		  uint64_t expiry)
{
	uint8_t args[256];
	struct ds_enc e;
	ds_enc_init(&e, args, sizeof(args));
	bool put = strcmp(method, "put") == 0 || strcmp(method, "putfail") == 0;
	ds_value_enc_map(&e, put ? 2 : 1);
	ds_value_enc_key(&e, "key", 3);
	ds_value_enc_str(&e, key, strlen(key));
	if (put) {
		ds_value_enc_key(&e, "value", 5);
		ds_value_enc_int(&e, value);
	}
	size_t al;
	assert_int_equal(ds_enc_finish(&e, &al), 0);
	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", chain);
	memcpy(tx.sender, pk, DS_PK_LEN);
	tx.nonce = g_nonce++;
	tx.expiry_height = expiry;
	snprintf(tx.target, sizeof(tx.target), "%s", target);
	snprintf(tx.method, sizeof(tx.method), "%s", method);
	tx.args = args;
	tx.args_len = al;
	assert_int_equal(ds_tx_sign(&tx, sk, g_scratch, sizeof(g_scratch)), 0);
	assert_int_equal(ds_tx_encode(t->buf, sizeof(t->buf), &t->len, &tx), 0);
}

static void kvtx(struct txb *t, const char *method, const char *key, int64_t value)
{
	mk_tx(t, g_pk, g_sk, CHAIN, "kv", method, key, value, 15);
}

/* Block of txs (chain id in the header = chain). */
static uint8_t *mk_block(struct ds_block *b, const char *chain, uint64_t height, struct txb *txs,
			 size_t n)
{
	struct ds_header h;
	memset(&h, 0, sizeof(h));
	h.version = 1;
	snprintf(h.chain_id, sizeof(h.chain_id), "%s", chain);
	h.height = height;
	h.time_ms = 1000 + height;
	h.tx_count = (uint32_t)n;
	struct ds_iov iov[64];
	uint8_t ids[64][DS_HASH_LEN];
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		iov[i].p = txs[i].buf;
		iov[i].n = txs[i].len;
		ds_tx_id_body(ids[i], txs[i].buf, txs[i].len - DS_SIG_LEN);
	}
	ds_ledger_merkle_root(h.tx_root, (const uint8_t(*)[DS_HASH_LEN])ids, n);
	size_t cap = 1024 * (n + 1), len;
	uint8_t *buf = malloc(cap);
	assert_int_equal(ds_block_encode(buf, cap, &len, &h, iov, n), 0);
	assert_int_equal(ds_block_decode(b, buf, len), 0);
	return buf;
}

/* A module that writes, then fails: its write must vanish. */
static int boom_call(struct ds_exec_call *c)
{
	assert_int_equal(c->put(c, (const uint8_t *)"x", 1, (const uint8_t *)"\x03\x02", 2), 0);
	assert_int_equal(c->emit(c, "boom", (const uint8_t *)"\x00", 1), 0);
	(c->fail)(c, "boom: deliberate failure %d", 42);
	return DS_ECONTRACT;
}

/* A system module may write anywhere; an ordinary one may not. */
static int sys_call(struct ds_exec_call *c)
{
	return c->put_global(c, (const uint8_t *)"other/key", 9, (const uint8_t *)"\x00", 1);
}

static const struct ds_exec_module mods[] = {
	{"kv", NULL, 0}, /* filled in setup: ds_exec_kv_module.call */
	{"boom", boom_call, 0},
	{"sys", sys_call, DS_EXEC_MOD_SYSTEM},
	{"notsys", sys_call, 0},
};
static struct ds_exec_module g_mods[4];

static struct ds_exec *g_exec;

static int setup(void **state)
{
	(void)state;
	assert_int_equal(ds_crypto_init(), 0);
	uint8_t seed[DS_SEED_LEN] = {1};
	assert_int_equal(ds_ed25519_seed_keypair(g_pk, g_sk, seed), 0);
	seed[0] = 2;
	assert_int_equal(ds_ed25519_seed_keypair(g_pk2, g_sk2, seed), 0);
	memcpy(g_mods, mods, sizeof(mods));
	g_mods[0].call = ds_exec_kv_module.call;
	assert_int_equal(ds_exec_new(&g_exec, g_mods, 4), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ds_exec_free(g_exec);
	return 0;
}

static const struct ds_exec_block_info g_info = {CHAIN, 10, 1010, 100, 0};

static void run(struct host *h, struct ds_exec_result *r, struct txb *txs, size_t n,
		const struct ds_exec_block_info *info)
{
	struct ds_block b;
	uint8_t *buf = mk_block(&b, info->chain_id, info->height, txs, n);
	struct ds_exec_host host = {h, h_get, h_seen};
	assert_int_equal(ds_exec_block(g_exec, r, &host, info, &b, NULL), 0);
	assert_int_equal(r->nreceipts, n);
	free(buf);
}

static void receipt(const struct ds_exec_result *r, size_t i, struct ds_receipt *out)
{
	assert_int_equal(ds_receipt_decode(out, r->receipts[i].data, r->receipts[i].len), 0);
	assert_memory_equal(out->tx_id, r->tx_ids[i], DS_HASH_LEN);
}

static void test_kv_semantics(void **state)
{
	(void)state;
	struct host h;
	host_init(&h);
	struct txb t[6];
	kvtx(&t[0], "put", "a", 7);
	kvtx(&t[1], "get", "a", 0);
	kvtx(&t[2], "del", "a", 0);
	kvtx(&t[3], "get", "a", 0);
	kvtx(&t[4], "del", "a", 0);
	kvtx(&t[5], "put", "b", -3);
	struct ds_exec_result r;
	run(&h, &r, t, 6, &g_info);
	struct ds_receipt rc;
	for (size_t i = 0; i < 6; i++) {
		receipt(&r, i, &rc);
		assert_int_equal(rc.status, DS_TX_OK);
		assert_true(rc.gas_used >= 100);
	}
	receipt(&r, 1, &rc);
	assert_int_equal(rc.ret_len, 2);
	assert_memory_equal(rc.ret, "\x03\x0e", 2); /* int 7 */
	receipt(&r, 0, &rc);
	assert_int_equal(rc.nevents, 1);
	assert_string_equal(rc.events[0].name, "put");
	receipt(&r, 2, &rc);
	assert_memory_equal(rc.ret, "\x02", 1); /* existed */
	receipt(&r, 3, &rc);
	assert_memory_equal(rc.ret, "\x00", 1); /* null */
	receipt(&r, 4, &rc);
	assert_memory_equal(rc.ret, "\x01", 1);
	/* Writes: a deleted, b set, sorted; exact key layout. */
	assert_int_equal(r.nwrites, 2);
	uint8_t ka[3 + DS_PK_LEN + 2];
	memcpy(ka, "kv/", 3);
	memcpy(ka + 3, g_pk, DS_PK_LEN);
	memcpy(ka + 3 + DS_PK_LEN, "/a", 2);
	assert_int_equal(r.writes[0].key_len, sizeof(ka));
	assert_memory_equal(r.writes[0].key, ka, sizeof(ka));
	assert_null(r.writes[0].val);
	ka[sizeof(ka) - 1] = 'b';
	assert_memory_equal(r.writes[1].key, ka, sizeof(ka));
	assert_int_equal(r.writes[1].val_len, 2);
	assert_memory_equal(r.writes[1].val, "\x03\x05", 2);
	/* Results root: RFC 6962 over receipt hashes. */
	uint8_t hs[6][DS_HASH_LEN], root[DS_HASH_LEN];
	for (size_t i = 0; i < 6; i++) {
		struct ds_iov iov[2] = {{DS_TAG_RECEIPT, strlen(DS_TAG_RECEIPT)},
					{r.receipts[i].data, r.receipts[i].len}};
		ds_sha256_v(hs[i], iov, 2);
	}
	ds_ledger_merkle_root(root, (const uint8_t(*)[DS_HASH_LEN])hs, 6);
	assert_memory_equal(root, r.results_root, DS_HASH_LEN);
	/* Namespaces: another sender does not see b. */
	host_apply(&h, &r);
	ds_exec_result_free(&r);
	struct txb t2[2];
	mk_tx(&t2[0], g_pk2, g_sk2, CHAIN, "kv", "get", "b", 0, 15);
	kvtx(&t2[1], "get", "b", 0);
	run(&h, &r, t2, 2, &g_info);
	receipt(&r, 0, &rc);
	assert_memory_equal(rc.ret, "\x00", 1);
	receipt(&r, 1, &rc);
	assert_memory_equal(rc.ret, "\x03\x05", 2);
	assert_int_equal(r.nwrites, 0);
	ds_exec_result_free(&r);
	host_free(&h);
}

static void test_failed_tx_rolls_back_its_own_writes(void **state)
{
	(void)state;
	struct host h;
	host_init(&h);
	struct txb t[4];
	kvtx(&t[0], "put", "a", 1);
	mk_tx(&t[1], g_pk, g_sk, CHAIN, "boom", "go", "x", 0, 15);
	kvtx(&t[2], "get", "a", 0);
	kvtx(&t[3], "put", "c", 2);
	struct ds_exec_result r;
	run(&h, &r, t, 4, &g_info);
	struct ds_receipt rc;
	receipt(&r, 1, &rc);
	assert_int_equal(rc.status, DS_TX_FAILED);
	assert_string_equal(rc.error, "boom: deliberate failure 42");
	assert_int_equal(rc.nevents, 1);
	receipt(&r, 2, &rc);
	assert_int_equal(rc.status, DS_TX_OK);
	assert_memory_equal(rc.ret, "\x03\x02", 2); /* tx 0's write is visible to tx 2 */
	assert_int_equal(r.nwrites, 2);             /* kv a and kv c; nothing under boom/ */
	for (size_t i = 0; i < r.nwrites; i++)
		assert_memory_equal(r.writes[i].key, "kv/", 3);
	/* A failing tx still spends its id. */
	assert_true(r.accepted[1]);
	ds_exec_result_free(&r);
	/* Unknown method / module and bad args fail with a reason. */
	struct txb u[3];
	kvtx(&u[0], "nosuch", "a", 0);
	mk_tx(&u[1], g_pk, g_sk, CHAIN, "nomodule", "x", "a", 0, 15);
	kvtx(&u[2], "put", "", 1); /* empty key */
	run(&h, &r, u, 3, &g_info);
	receipt(&r, 0, &rc);
	assert_int_equal(rc.status, DS_TX_FAILED);
	assert_string_equal(rc.error, "kv: unknown method nosuch");
	receipt(&r, 1, &rc);
	assert_string_equal(rc.error, "unknown module nomodule");
	receipt(&r, 2, &rc);
	assert_int_equal(rc.status, DS_TX_FAILED);
	assert_int_equal(r.nwrites, 0);
	ds_exec_result_free(&r);
	host_free(&h);
}

static void test_checks(void **state)
{
	(void)state;
	struct host h;
	host_init(&h);
	struct txb t[7];
	kvtx(&t[0], "put", "a", 1);
	t[1] = t[0]; /* replay within the block */
	mk_tx(&t[2], g_pk, g_sk, CHAIN, "kv", "put", "e", 1, 10);  /* expiry == height */
	mk_tx(&t[3], g_pk, g_sk, CHAIN, "kv", "put", "f", 1, 111); /* > height + 100 */
	mk_tx(&t[4], g_pk, g_sk, CHAIN, "kv", "put", "g", 1, 110); /* == height + 100: ok */
	kvtx(&t[5], "put", "s", 1);
	t[5].buf[t[5].len - 1] ^= 1; /* bad signature */
	mk_tx(&t[6], g_pk, g_sk, CHAIN, "notsys", "x", "a", 0, 15);
	struct ds_exec_result r;
	run(&h, &r, t, 7, &g_info);
	struct ds_receipt rc;
	const char *want[] = {"", "replayed: earlier in this block", "expired",
			      "expiry height too far ahead", "", "bad signature", NULL};
	for (size_t i = 0; i < 6; i++) {
		receipt(&r, i, &rc);
		assert_string_equal(rc.error, want[i]);
		assert_int_equal(r.accepted[i], want[i][0] == '\0');
	}
	receipt(&r, 6, &rc);
	assert_int_equal(rc.status, DS_TX_FAILED);
	assert_non_null(strstr(rc.error, "may not write outside"));
	host_apply(&h, &r);
	ds_exec_result_free(&r);

	/* Replay of a committed tx in a later block; preverified skips the
	 * signature check (the forged tx then runs). */
	struct txb t2[2];
	t2[0] = t[0];
	t2[1] = t[5];
	struct ds_block b;
	struct ds_exec_block_info info2 = g_info;
	info2.height = 11;
	uint8_t *buf = mk_block(&b, CHAIN, 11, t2, 2);
	struct ds_exec_host host = {&h, h_get, h_seen};
	bool pv[2] = {false, true};
	assert_int_equal(ds_exec_block(g_exec, &r, &host, &info2, &b, pv), 0);
	receipt(&r, 0, &rc);
	assert_string_equal(rc.error, "replayed: committed before");
	receipt(&r, 1, &rc);
	assert_int_equal(rc.status, DS_TX_OK);
	ds_exec_result_free(&r);
	free(buf);

	/* Wrong chain id: the tx names another chain than the executor's. */
	struct txb w[1];
	mk_tx(&w[0], g_pk, g_sk, "other-chain", "kv", "put", "a", 1, 15);
	buf = mk_block(&b, "other-chain", 10, w, 1);
	assert_int_equal(ds_exec_block(g_exec, &r, &host, &g_info, &b, NULL), 0);
	receipt(&r, 0, &rc);
	assert_string_equal(rc.error, "wrong chain id");
	assert_false(r.accepted[0]);
	ds_exec_result_free(&r);
	free(buf);

	/* A system module writes into another namespace. */
	mk_tx(&w[0], g_pk, g_sk, CHAIN, "sys", "x", "a", 0, 15);
	run(&h, &r, w, 1, &g_info);
	receipt(&r, 0, &rc);
	assert_int_equal(rc.status, DS_TX_OK);
	assert_int_equal(r.nwrites, 1);
	assert_memory_equal(r.writes[0].key, "other/key", 9);
	ds_exec_result_free(&r);

	/* A host failure aborts the block (not a receipt). */
	h.fail_get = 1;
	kvtx(&w[0], "get", "a", 0);
	buf = mk_block(&b, CHAIN, 10, w, 1);
	assert_int_equal(ds_exec_block(g_exec, &r, &host, &g_info, &b, NULL), DS_EIO);
	free(buf);
	host_free(&h);
}

static void test_deterministic(void **state)
{
	(void)state;
	uint64_t seed = tu_seed(), rs = seed | 1;
	struct txb t[48];
	for (size_t i = 0; i < 48; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%llu", (unsigned long long)(tu_rand(&rs) % 8));
		const char *m[] = {"put", "get", "del", "put"};
		kvtx(&t[i], m[tu_rand(&rs) % 4], key, (int64_t)tu_rand(&rs) % 1000);
	}
	struct ds_exec_result r1, r2;
	struct host h1, h2;
	host_init(&h1);
	host_init(&h2);
	run(&h1, &r1, t, 48, &g_info);
	run(&h2, &r2, t, 48, &g_info);
	assert_memory_equal(r1.results_root, r2.results_root, DS_HASH_LEN);
	assert_int_equal(r1.nwrites, r2.nwrites);
	for (size_t i = 0; i < r1.nwrites; i++) {
		assert_int_equal(r1.writes[i].key_len, r2.writes[i].key_len);
		assert_memory_equal(r1.writes[i].key, r2.writes[i].key, r1.writes[i].key_len);
		if (i)
			assert_true(ds__key_cmp(r1.writes[i - 1].key, r1.writes[i - 1].key_len,
						r1.writes[i].key, r1.writes[i].key_len) < 0);
	}
	/* Executing in two blocks gives the same final state as in one. */
	host_apply(&h1, &r1);
	struct ds_exec_result a, b;
	run(&h2, &a, t, 20, &g_info);
	host_apply(&h2, &a);
	run(&h2, &b, t + 20, 28, &g_info);
	host_apply(&h2, &b);
	assert_int_equal(h1.state.n, h2.state.n);
	for (size_t i = 0; i < h1.state.cap; i++) {
		struct ds__kvent *e = h1.state.slots[i];
		if (!e)
			continue;
		struct ds__kvent *f = ds__kvmap_get(&h2.state, e->data, e->key_len);
		assert_non_null(f);
		assert_int_equal(e->val_len, f->val_len);
		assert_memory_equal(e->val, f->val, e->val_len);
	}
	ds_exec_result_free(&r1);
	ds_exec_result_free(&r2);
	ds_exec_result_free(&a);
	ds_exec_result_free(&b);
	host_free(&h1);
	host_free(&h2);
}

static void test_kvmap(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() | 1;
	struct ds__kvmap m;
	ds__kvmap_init(&m);
	enum { N = 5000 };
	static uint8_t present[N];
	memset(present, 0, sizeof(present));
	for (int round = 0; round < 20000; round++) {
		uint32_t k = (uint32_t)(tu_rand(&rs) % N);
		if (tu_rand(&rs) % 3) {
			assert_int_equal(ds__kvmap_set(&m, (uint8_t *)&k, 4, (uint8_t *)&k, 4, false), 0);
			present[k] = 1;
		} else {
			assert_int_equal(ds__kvmap_remove(&m, (uint8_t *)&k, 4), present[k]);
			present[k] = 0;
		}
	}
	size_t n = 0;
	for (uint32_t k = 0; k < N; k++) {
		struct ds__kvent *e = ds__kvmap_get(&m, (uint8_t *)&k, 4);
		assert_int_equal(e != NULL, present[k]);
		n += present[k];
		if (e)
			assert_memory_equal(e->val, &k, 4);
	}
	assert_int_equal(m.n, n);
	ds__kvmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_semantics),
		cmocka_unit_test(test_failed_tx_rolls_back_its_own_writes),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_kvmap),
	};
	return cmocka_run_group_tests_name("exec", tests, setup, teardown);
}
