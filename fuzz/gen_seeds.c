/* Writes the seed corpora of fuzz/seeds/<target>/ with the real encoders,
 * so every fuzz target starts from valid inputs and mutates outward. Run by
 * fuzz/make_seeds.sh; deterministic (fixed keys, no clock, no randomness),
 * so regenerating gives the same bytes unless an encoding changed.
 * Usage: gen_seeds OUT_DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/codec.h"
#include "consensus/consensus.h"
#include "crypto/crypto.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"
#include "net/net_internal.h"
#include "privacy/privacy.h"

#include "fuzz_cons_io.h"

#define GS_CHAIN "seed-chain"

static const char *gs_out;
static int gs_files;

static void gs_check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", what, ds_strerror(rc));
		exit(1);
	}
}

static void gs_write(const char *target, const char *name, const void *p, size_t n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", gs_out, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", gs_out, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	gs_files++;
}

/* Writes prefix byte || p as one seed (targets whose byte 0 picks a mode). */
static void gs_write_mode(const char *target, const char *name, uint8_t mode, const void *p, size_t n)
{
	uint8_t *b = malloc(n + 1);
	if (!b)
		exit(1);
	b[0] = mode;
	memcpy(b + 1, p, n);
	gs_write(target, name, b, n + 1);
	free(b);
}

static void gs_key(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN], uint8_t i)
{
	uint8_t seed[DS_SEED_LEN];
	memset(seed, 0x40 + i, sizeof(seed));
	gs_check(ds_ed25519_seed_keypair(pk, sk, seed), "keypair");
}

/* ---- ledger ---- */

static size_t gs_tx(uint8_t *out, size_t cap, uint64_t nonce, const char *method)
{
	static uint8_t scratch[DS_TX_SCRATCH_LEN];
	uint8_t sk[DS_SK_LEN], args[64];
	struct ds_tx tx;
	struct ds_enc e;
	size_t args_len, n;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	strcpy(tx.chain_id, GS_CHAIN);
	gs_key(tx.sender, sk, 1);
	tx.nonce = nonce;
	tx.expiry_height = 100 + nonce;
	strcpy(tx.target, "credit");
	strcpy(tx.method, method);
	ds_enc_init(&e, args, sizeof(args));
	ds_value_enc_map(&e, 2);
	ds_value_enc_key(&e, "id", 2);
	ds_value_enc_int(&e, (int64_t)nonce);
	ds_value_enc_key(&e, "who", 3);
	ds_value_enc_str(&e, "org-a", 5);
	gs_check(ds_enc_finish(&e, &args_len), "args");
	tx.args = args;
	tx.args_len = args_len;
	gs_check(ds_tx_sign(&tx, sk, scratch, sizeof(scratch)), "tx sign");
	gs_check(ds_tx_encode(out, cap, &n, &tx), "tx encode");
	ds_memzero(sk, sizeof(sk));
	return n;
}

static void gs_header(struct ds_header *h, uint32_t tx_count, const uint8_t (*ids)[DS_HASH_LEN])
{
	uint8_t sk[DS_SK_LEN];
	memset(h, 0, sizeof(*h));
	h->version = 1;
	strcpy(h->chain_id, GS_CHAIN);
	h->height = 7;
	h->epoch = 1;
	h->round = 9;
	memset(h->parent_hash, 0x11, DS_HASH_LEN);
	gs_key(h->proposer, sk, 2);
	h->time_ms = 1700000000000ull;
	h->tx_count = tx_count;
	ds_ledger_merkle_root(h->tx_root, ids, tx_count);
	h->exec_height = 6;
	memset(h->state_root, 0x22, DS_HASH_LEN);
	memset(h->results_root, 0x33, DS_HASH_LEN);
	memset(h->history_root, 0x44, DS_HASH_LEN);
	memset(h->valset_hash, 0x55, DS_HASH_LEN);
}

static void gs_ledger(void)
{
	static uint8_t buf[1u << 16], txb[3][1024];
	struct ds_iov txs[3];
	uint8_t ids[3][DS_HASH_LEN];
	size_t n;
	for (int i = 0; i < 3; i++) {
		txs[i].n = gs_tx(txb[i], sizeof(txb[i]), (uint64_t)i + 1, i ? "issue" : "revoke");
		txs[i].p = txb[i];
		ds_tx_id_body(ids[i], txb[i], txs[i].n - DS_SIG_LEN);
	}
	gs_write("fuzz_tx", "signed", txb[0], txs[0].n);
	gs_write("fuzz_tx", "body", txb[1], txs[1].n - DS_SIG_LEN);

	struct ds_header h;
	gs_header(&h, 0, ids);
	gs_check(ds_header_encode(buf, sizeof(buf), &n, &h), "header");
	gs_write("fuzz_header", "empty-block", buf, n);
	gs_check(ds_block_encode(buf, sizeof(buf), &n, &h, txs, 0), "block 0");
	gs_write("fuzz_block", "no-txs", buf, n);
	gs_header(&h, 3, ids);
	gs_check(ds_header_encode(buf, sizeof(buf), &n, &h), "header 3");
	gs_write("fuzz_header", "three-txs", buf, n);
	gs_check(ds_block_encode(buf, sizeof(buf), &n, &h, txs, 3), "block 3");
	gs_write("fuzz_block", "three-txs", buf, n);

	/* QC with three of four signatures, and the validator set. */
	static struct ds_qc qc;
	static struct ds_valset vs;
	memset(&qc, 0, sizeof(qc));
	memset(&vs, 0, sizeof(vs));
	qc.vote.epoch = 1;
	qc.vote.round = 9;
	qc.vote.height = 7;
	gs_check(ds_header_hash(qc.vote.block_hash, &h), "header hash");
	qc.vote.parent_round = 8;
	memset(qc.vote.parent_hash, 0x11, DS_HASH_LEN);
	qc.vote.commit_height = 6;
	memset(qc.vote.commit_hash, 0x66, DS_HASH_LEN);
	vs.epoch = 1;
	vs.n = 4;
	for (uint8_t i = 0; i < 4; i++) {
		uint8_t sk[DS_SK_LEN];
		gs_key(vs.v[i].pk, sk, (uint8_t)(10 + i));
		vs.v[i].power = 1;
		if (i != 2) {
			qc.sigs[qc.nsigs].index = i;
			ds_vote_sign(qc.sigs[qc.nsigs].sig, &qc.vote, GS_CHAIN, sk);
			qc.nsigs++;
		}
		ds_memzero(sk, sizeof(sk));
	}
	gs_check(ds_qc_encode(buf, sizeof(buf), &n, &qc), "qc");
	gs_write("fuzz_qc", "qc-3of4", buf, n);
	gs_check(ds_valset_encode(buf, sizeof(buf), &n, &vs), "valset");
	gs_write("fuzz_qc", "valset-4", buf, n);

	/* Values and receipts. */
	uint8_t val[256], ret[32];
	size_t vn, rn;
	struct ds_enc e;
	ds_enc_init(&e, val, sizeof(val));
	ds_value_enc_map(&e, 4);
	ds_value_enc_key(&e, "a", 1);
	ds_value_enc_array(&e, 3);
	ds_value_enc_int(&e, -5);
	ds_value_enc_null(&e);
	ds_value_enc_bool(&e, true);
	ds_value_enc_key(&e, "b", 1);
	ds_value_enc_bytes(&e, "\x00\x01\xff", 3);
	ds_value_enc_key(&e, "list", 4);
	ds_value_enc_array(&e, 0);
	ds_value_enc_key(&e, "s", 1);
	ds_value_enc_str(&e, "h\xc3\xa9llo", 6);
	gs_check(ds_enc_finish(&e, &vn), "value");
	gs_write("fuzz_value", "map", val, vn);
	ds_enc_init(&e, ret, sizeof(ret));
	ds_value_enc_int(&e, 42);
	gs_check(ds_enc_finish(&e, &rn), "ret");
	static struct ds_receipt r;
	memset(&r, 0, sizeof(r));
	r.version = 1;
	memcpy(r.tx_id, ids[0], DS_HASH_LEN);
	r.status = DS_TX_OK;
	r.gas_used = 12345;
	r.nevents = 2;
	strcpy(r.events[0].name, "issued");
	r.events[0].value = val;
	r.events[0].value_len = vn;
	strcpy(r.events[1].name, "audit.read");
	r.events[1].value = ret;
	r.events[1].value_len = rn;
	r.ret = ret;
	r.ret_len = rn;
	gs_check(ds_receipt_encode(buf, sizeof(buf), &n, &r), "receipt");
	gs_write("fuzz_value", "receipt-ok", buf, n);
	r.status = DS_TX_FAILED;
	strcpy(r.error, "credit: record not found");
	r.nevents = 0;
	gs_check(ds_receipt_encode(buf, sizeof(buf), &n, &r), "receipt failed");
	gs_write("fuzz_value", "receipt-failed", buf, n);
}

/* ---- merkle ---- */

static void gs_merkle(void)
{
	static uint8_t buf[DS_SMT_PROOF_ENC_MAX];
	size_t n;
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	for (uint64_t i = 0; i <= 13; i++) {
		if (i == 0 || i == 1 || i == 5 || i == 13) {
			char name[32];
			gs_check(ds_merkle_frontier_encode(buf, sizeof(buf), &n, &f), "frontier");
			snprintf(name, sizeof(name), "size-%llu", (unsigned long long)i);
			gs_write("fuzz_frontier", name, buf, n);
		}
		uint8_t leaf[DS_HASH_LEN];
		ds_merkle_leaf_hash(leaf, &i, sizeof(i));
		gs_check(ds_merkle_frontier_append(&f, leaf), "append");
	}

	struct ds_smt_mem *m = NULL;
	struct ds_smt_changeset cs;
	gs_check(ds_smt_mem_new(&m), "smt mem");
	struct ds_smt_store st = ds_smt_mem_store(m);
	char keys[40][16], vals[40][16];
	struct ds_smt_op ops[40];
	for (int i = 0; i < 40; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
		snprintf(vals[i], sizeof(vals[i]), "val-%d", i);
		ops[i] = (struct ds_smt_op){(const uint8_t *)keys[i], strlen(keys[i]),
					    (const uint8_t *)vals[i], strlen(vals[i])};
	}
	memset(&cs, 0, sizeof(cs));
	gs_check(ds_smt_update(&cs, &st, DS_SMT_VERSION_NONE, 1, ops, 40), "smt update");
	gs_check(ds_smt_mem_apply(m, &cs), "smt apply");
	ds_smt_changeset_free(&cs);
	static struct ds_smt_proof p;
	const char *probe[] = {"key-3", "key-17", "absent-1", "absent-2"};
	for (size_t i = 0; i < DS_ARRAY_LEN(probe); i++) {
		uint8_t kh[DS_HASH_LEN];
		ds_sha256(kh, probe[i], strlen(probe[i]));
		gs_check(ds_smt_prove(&p, &st, 1, kh), "smt prove");
		gs_check(ds_smt_proof_encode(buf, sizeof(buf), &n, &p), "proof encode");
		gs_write("fuzz_smt_proof", probe[i], buf, n);
	}
	ds_smt_mem_free(m);
}

/* ---- consensus: a live 4-node run, recorded as node 0 receives it ---- */

#define GS_Q_MAX 4096
#define GS_REC_MAX 60000

struct gs_msg {
	uint32_t from, to;
	uint8_t *p;
	size_t len;
};
struct gs_net {
	struct ds_cons *c[FZC_N];
	struct fzc_node node[FZC_N];
	uint64_t now[FZC_N], timer_at[FZC_N];
	bool dead[FZC_N];
	struct gs_msg q[GS_Q_MAX];
	size_t qh, qn;
	uint8_t rec[GS_REC_MAX]; /* the script for node 0 */
	size_t rec_len;
	int records;
};

static void gs_rec(struct gs_net *net, uint8_t op, const uint8_t *p, size_t n)
{
	if (net->rec_len + 3 + n > sizeof(net->rec) || net->records >= 250)
		return;
	net->rec[net->rec_len++] = op;
	if (!(op & 0x80)) {
		net->rec[net->rec_len++] = (uint8_t)(n >> 8);
		net->rec[net->rec_len++] = (uint8_t)n;
		memcpy(net->rec + net->rec_len, p, n);
		net->rec_len += n;
	}
	net->records++;
}

static void gs_drain(struct gs_net *net, uint32_t i)
{
	struct ds_cons_action a;
	while (ds_cons_next_action(net->c[i], &a)) {
		if (a.kind == DS_CONS_ACT_TIMER) {
			net->timer_at[i] = a.at_ms;
			continue;
		}
		for (uint32_t j = 0; j < FZC_N; j++) {
			if (j == i || (a.kind == DS_CONS_ACT_SEND && a.to != j))
				continue;
			if (net->qn == GS_Q_MAX) {
				fprintf(stderr, "gen_seeds: sim queue full\n");
				exit(1);
			}
			struct gs_msg *m = &net->q[(net->qh + net->qn++) % GS_Q_MAX];
			m->from = i;
			m->to = j;
			m->len = a.len;
			m->p = malloc(a.len);
			if (!m->p)
				exit(1);
			memcpy(m->p, a.msg, a.len);
		}
	}
}

static void gs_sim(const char *name, uint32_t dead, uint64_t target_height)
{
	static struct gs_net net;
	memset(&net, 0, sizeof(net));
	net.rec[net.rec_len++] = 0; /* node 0 is the fuzzed core */
	for (uint32_t i = 0; i < FZC_N; i++) {
		struct ds_cons_config cfg;
		struct ds_cons_io io = fzc_io;
		fzc_config(&cfg, i);
		net.node[i].self = i;
		io.ctx = &net.node[i];
		net.now[i] = FZC_T0_MS;
		net.dead[i] = i == dead;
		gs_check(ds_cons_new(&net.c[i], &cfg, &io), "cons new");
		gs_check(ds_cons_start(net.c[i], net.now[i], NULL, 0, NULL), "cons start");
		gs_drain(&net, i);
	}
	for (int step = 0; step < 20000 && net.node[0].committed < target_height; step++) {
		if (net.qn == 0) {
			/* Nothing in flight: the earliest timer of a live node fires. */
			uint32_t k = UINT32_MAX;
			for (uint32_t i = 0; i < FZC_N; i++)
				if (!net.dead[i] && (k == UINT32_MAX || net.timer_at[i] < net.timer_at[k]))
					k = i;
			if (net.timer_at[k] > net.now[k])
				net.now[k] = net.timer_at[k];
			if (k == 0)
				gs_rec(&net, 0x80, NULL, 0);
			gs_check(ds_cons_on_timer(net.c[k], net.now[k]), "on timer");
			gs_drain(&net, k);
			continue;
		}
		struct gs_msg m = net.q[net.qh];
		net.qh = (net.qh + 1) % GS_Q_MAX;
		net.qn--;
		if (!net.dead[m.to] && !net.dead[m.from]) {
			if (m.to == 0)
				gs_rec(&net, (uint8_t)m.from, m.p, m.len);
			net.now[m.to]++;
			gs_check(ds_cons_on_message(net.c[m.to], net.now[m.to], m.from, m.p, m.len),
				 "on message");
			gs_drain(&net, m.to);
		}
		free(m.p);
	}
	if (net.node[0].committed < target_height) {
		fprintf(stderr, "gen_seeds: %s: node 0 committed only %llu blocks\n", name,
			(unsigned long long)net.node[0].committed);
		exit(1);
	}
	gs_write("fuzz_consensus", name, net.rec, net.rec_len);
	if (dead == UINT32_MAX) { /* the same script, seen by an observer */
		net.rec[0] = FZC_N;
		char obs[64];
		snprintf(obs, sizeof(obs), "%s-observer", name);
		gs_write("fuzz_consensus", obs, net.rec, net.rec_len);
	}
	/* One of each message kind on its own, for the decoders. */
	for (; net.qn; net.qn--, net.qh = (net.qh + 1) % GS_Q_MAX)
		free(net.q[net.qh].p);
	for (uint32_t i = 0; i < FZC_N; i++)
		ds_cons_free(net.c[i]);
}

/* ---- net ---- */

static void gs_net(void)
{
	uint8_t key[DS_AEAD_KEY_LEN], frame[256], in[300];
	static const char msg[] = "\x01\x02hello, validator";
	size_t mlen = sizeof(msg) - 1;
	ds_sha256(key, "fuzz-frame-key", 14); /* fuzz_net_frame's fixed key */
	for (uint8_t ctr = 0; ctr < 4; ctr += 3) {
		gs_check(ds__frame_seal(frame, (const uint8_t *)msg, mlen, ctr, key), "seal");
		in[0] = ctr;
		memcpy(in + 1, frame, DS__FRAME_HDR_LEN + mlen + DS_AEAD_TAG_LEN);
		gs_write_mode("fuzz_net_frame", ctr ? "open-ctr3" : "open-ctr0", 0, in,
			      1 + DS__FRAME_HDR_LEN + mlen + DS_AEAD_TAG_LEN);
	}
	in[0] = 7;
	memcpy(in + 1, msg, mlen);
	gs_write_mode("fuzz_net_frame", "seal", 1, in, 1 + mlen);
	uint8_t sk[DS_X25519_LEN], hello[DS__HS_HELLO_LEN];
	static const uint8_t base[DS_X25519_LEN] = {9};
	memset(sk, 0x5a, sizeof(sk));
	hello[0] = DS__HS_VERSION;
	gs_check(ds_x25519(hello + 1, sk, base), "x25519");
	gs_write_mode("fuzz_net_frame", "hello", 2, hello, sizeof(hello));
}

/* ---- privacy ---- */

static void gs_privacy(void)
{
	static uint8_t buf[DS_PRIV_DETAILS_MAX];
	size_t n;
	struct ds_privacy_field f[3] = {
		{"address.city", 12, (const uint8_t *)"Hangzhou", 8, {0}},
		{"name", 4, (const uint8_t *)"\xe5\xbc\xa0\xe4\xb8\x89", 6, {0}},
		{"score", 5, (const uint8_t *)"", 0, {0}},
	};
	for (int i = 0; i < 3; i++)
		memset(f[i].salt, 0x30 + i, DS_PRIV_SALT_LEN);
	gs_check(ds_privacy_details_encode(buf, sizeof(buf), &n, f, 3), "details");
	gs_write_mode("fuzz_privacy", "details", 0, buf, n);
	static struct ds_privacy_disclosure d;
	gs_check(ds_privacy_disclose(&d, f, 3, "name", 4), "disclose");
	gs_check(ds_privacy_disclosure_encode(buf, sizeof(buf), &n, &d), "disclosure");
	gs_write_mode("fuzz_privacy", "disclosure", 1, buf, n);
	gs_check(ds_privacy_disclose(&d, f, 1, "address.city", 12), "disclose one");
	gs_check(ds_privacy_disclosure_encode(buf, sizeof(buf), &n, &d), "disclosure one");
	gs_write_mode("fuzz_privacy", "disclosure-single", 1, buf, n);
	struct ds_privacy_subject_key k = {.key_id = 3};
	char text[DS_PRIV_SUBJECT_KEY_FILE_MAX];
	memset(k.key, 0x77, sizeof(k.key));
	gs_check(ds_privacy_subject_key_format(text, sizeof(text), &n, &k), "subject key");
	gs_write_mode("fuzz_privacy", "subject-key", 2, text, n);
}

/* ---- text formats ---- */

static void gs_text(void)
{
	struct ds_key k;
	uint8_t seed[DS_SEED_LEN];
	char text[DS_KEYFILE_MAX];
	size_t n;
	memset(seed, 0x42, sizeof(seed));
	gs_check(ds_keyfile_from_seed(&k, seed), "key from seed");
	gs_check(ds_keyfile_format(text, sizeof(text), &n, &k), "key format");
	gs_write_mode("fuzz_keyfile", "valid", 0, text, n);
	gs_write_mode("fuzz_keyfile", "valid-fixup", 1, text, n);
	ds_keyfile_wipe(&k);

	static const char *const bodies[][2] = {
		{"minimal", "{\"chain_id\":\"seed-chain\"}"},
		{"full", "{\"chain_id\":\"c\",\"sender\":\"0x00112233445566778899aabbccddeeff"
			 "00112233445566778899aabbccddeeff\",\"blob\":\"abCD\",\"nonce\":7,"
			 "\"any_uint\":18446744073709551615,\"delta\":-3,\"flag\":true,"
			 "\"meta\":{\"x\":[1,2,{}]},\"list\":[null,1.5,\"s\"],\"free\":\"\\u00e9\"}"},
		{"unknown", "{\"chain_id\":\"c\",\"extra\":1}"},
		{"dup", "{\"chain_id\":\"c\",\"chain_id\":\"d\"}"},
		{"nested", "{\"chain_id\":\"c\",\"meta\":{\"a\":{\"b\":{\"c\":[[[[]]]]}}}}"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(bodies); i++)
		gs_write_mode("fuzz_api_json", bodies[i][0], 0, bodies[i][1], strlen(bodies[i][1]));

	static const char *const lua[][2] = {
		{"store", "run\nreturn { run = function(args)\n"
			  "  state.put(\"k\", {n = 1, s = \"x\"})\n"
			  "  local v = state.get(\"k\")\n  state.del(\"k\")\n"
			  "  emit(\"done\", {ok = true})\n  return v\nend }\n"},
		{"pairs", "run\nreturn { run = function()\n  local t, out = {b = 2, a = 1, 3}, {}\n"
			  "  for k, v in pairs(t) do out[#out + 1] = tostring(k) .. '=' .. v end\n"
			  "  return table.concat(out, ',')\nend }\n"},
		{"loop", "spin\nreturn { spin = function() local i = 0 while true do i = i + 1 end end }\n"},
		{"error", "fail\nreturn { fail = function() error({code = 1}) end }\n"},
		{"strings", "run\nreturn { run = function()\n"
			    "  return string.format('%d %s %q', 7, 'x', 'y'):rep(3):gsub('x', 'z')\nend }\n"},
		{"caller", "who\nreturn { who = function() return {caller.account, caller.org, "
			   "block.height} end }\n"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(lua); i++)
		gs_write("fuzz_vm", lua[i][0], lua[i][1], strlen(lua[i][1]));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds OUT_DIR\n");
		return 2;
	}
	gs_out = argv[1];
	if (mkdir(gs_out, 0755) != 0 && errno != EEXIST) {
		perror(gs_out);
		return 1;
	}
	gs_check(ds_crypto_init(), "crypto init");
	gs_ledger();
	gs_merkle();
	gs_sim("run-honest", UINT32_MAX, 5);
	gs_sim("run-one-down", 3, 5);
	gs_net();
	gs_privacy();
	gs_text();
	printf("gen_seeds: %d files in %s\n", gs_files, gs_out);
	return 0;
}
