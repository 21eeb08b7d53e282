/* Prints the vectors that tests/e2e/epoch_vectors.mjs records: a chain that
 * changes its validator set twice, made by the C ledger, codec, merkle and
 * exec modules, so the explorer's epoch walk (web/verify.js walkEpochs) is
 * checked against an independent implementation.
 *
 *   epoch 0: keys of seeds 01..04; end block X0 = 10 holds, in the state of
 *            version 9, sys/valset/next = {epoch 1, height 8, seeds 01..05};
 *            X0 is committed through two suffix headers 11, 12 (qc.chain),
 *            by a QC of validators 0, 1, 3.
 *   epoch 1: 5 keys; end block X1 = 20 (first block 11) holds, at version
 *            19, {epoch 2, height 19, seeds 01, 02, 04, 05}; its QC (0, 2,
 *            3, 4) commits it directly.
 *   epoch 2: 4 keys; block 25 (first block 21) holds one kv.put transaction
 *            and the state of version 24 (alice, bob); QC by 0, 1, 3.
 *   bad_*:   end blocks of epoch 0 whose (proven) record is for epoch 2, or
 *            was made at height 10 > exec_height 9: the walk must refuse.
 *
 * Every value record is parsed back with ds_exec_sys_valset_next and every
 * QC checked with ds_qc_verify. Not part of the build; regenerate with:
 *   make BUILD=build-h build-h/danshari
 *   cc -std=c11 -Isrc tests/e2e/gen_epoch_vectors.c $(OBJS) -lsodium -lcrypto \
 *      -llmdb -luv -llua5.4 -ljansson -lmicrohttpd -lpthread -lm -o build-h/gen_epoch_vectors
 * with OBJS every object of build-h/obj/src except cli/main.o, then
 *   build-h/gen_epoch_vectors > tests/e2e/epoch_vectors.mjs */
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "exec/exec_sys.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"

#define CHAIN "danshari-test"
#define NKEYS 5

static uint8_t pk[NKEYS][DS_PK_LEN], sk[NKEYS][DS_SK_LEN];

static int check(int rc, const char *what)
{
	if (rc != 0)
		fprintf(stderr, "gen_epoch_vectors: %s failed: %d\n", what, rc);
	return rc != 0;
}

static void phex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void field(const char *name, const uint8_t *p, size_t n)
{
	printf("    \"%s\": \"", name);
	phex(p, n);
	printf("\",\n");
}

static void set_of(struct ds_valset *vs, uint64_t epoch, const int *idx, size_t n)
{
	memset(vs, 0, sizeof(*vs));
	vs->epoch = epoch;
	vs->n = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		memcpy(vs->v[i].pk, pk[idx[i]], DS_PK_LEN);
		vs->v[i].power = 1;
	}
}

/* sys/valset/next = {epoch, height, validators: [{addr, org, pk}]}. */
static int record(uint8_t *out, size_t cap, size_t *len, int64_t epoch, int64_t height, const int *idx,
		  size_t n)
{
	struct ds_enc e;
	char addr[32];
	ds_enc_init(&e, out, cap);
	ds_value_enc_map(&e, 3);
	ds_value_enc_key(&e, "epoch", 5);
	ds_value_enc_int(&e, epoch);
	ds_value_enc_key(&e, "height", 6);
	ds_value_enc_int(&e, height);
	ds_value_enc_key(&e, "validators", 10);
	ds_value_enc_array(&e, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 26600 + 2 * idx[i]);
		ds_value_enc_map(&e, 3);
		ds_value_enc_key(&e, "addr", 4);
		ds_value_enc_str(&e, addr, strlen(addr));
		ds_value_enc_key(&e, "org", 3);
		ds_value_enc_str(&e, "org0", 4);
		ds_value_enc_key(&e, "pk", 2);
		ds_value_enc_bytes(&e, pk[idx[i]], DS_PK_LEN);
	}
	return ds_enc_finish(&e, len);
}

/* A state of one version holding ops; writes its root and the proof of key. */
static int state(uint8_t root[DS_HASH_LEN], uint8_t *proof, size_t cap, size_t *plen, uint64_t version,
		 const struct ds_smt_op *ops, size_t nops, const char *key)
{
	static struct ds_smt_changeset cs;
	static struct ds_smt_proof sp;
	struct ds_smt_mem *mem = NULL;
	uint8_t kh[DS_HASH_LEN];
	if (check(ds_smt_mem_new(&mem), "smt mem"))
		return 1;
	struct ds_smt_store st = ds_smt_mem_store(mem);
	int bad = check(ds_smt_update(&cs, &st, DS_SMT_VERSION_NONE, version, ops, nops), "smt update") ||
		  check(ds_smt_mem_apply(mem, &cs), "smt apply") || check(ds_smt_root(root, &st, version), "smt root");
	if (!bad) {
		ds_smt_changeset_free(&cs);
		ds_sha256(kh, key, strlen(key));
		bad = check(ds_smt_prove(&sp, &st, version, kh), "prove") ||
		      check(ds_smt_proof_encode(proof, cap, plen, &sp), "proof encode");
	}
	ds_smt_mem_free(mem);
	return bad;
}

/* A QC of vs's epoch, signed by signers, on a (fictitious) child of the
 * committed block at commit_height + 1 with round = parent_round + 1. */
static int make_qc(uint8_t *out, size_t cap, size_t *len, const struct ds_valset *vs, const int *keyidx,
		   const uint32_t *signers, size_t ns, uint64_t commit_height, const uint8_t hash[DS_HASH_LEN],
		   uint64_t round)
{
	static struct ds_qc qc;
	memset(&qc, 0, sizeof(qc));
	qc.vote.epoch = vs->epoch;
	qc.vote.round = round + 1;
	qc.vote.height = commit_height + 1;
	memset(qc.vote.block_hash, 0x77, DS_HASH_LEN);
	qc.vote.parent_round = round;
	memcpy(qc.vote.parent_hash, hash, DS_HASH_LEN);
	qc.vote.commit_height = commit_height;
	memcpy(qc.vote.commit_hash, hash, DS_HASH_LEN);
	qc.nsigs = (uint32_t)ns;
	for (size_t i = 0; i < ns; i++) {
		qc.sigs[i].index = signers[i];
		ds_vote_sign(qc.sigs[i].sig, &qc.vote, CHAIN, sk[keyidx[signers[i]]]);
	}
	return check(ds_qc_verify(&qc, vs, CHAIN), "qc verify") || check(ds_qc_encode(out, cap, len, &qc), "qc encode");
}

static int base_header(struct ds_header *h, uint64_t height, uint64_t epoch, const struct ds_valset *vs)
{
	memset(h, 0, sizeof(*h));
	h->version = 1;
	strcpy(h->chain_id, CHAIN);
	h->height = height;
	h->epoch = epoch;
	h->round = height + 3;
	memset(h->parent_hash, 0x11, DS_HASH_LEN);
	memcpy(h->proposer, pk[0], DS_PK_LEN);
	h->time_ms = 1700000000000ull + height * 1000;
	ds_ledger_merkle_root(h->tx_root, NULL, 0);
	h->exec_height = height - 1;
	memset(h->results_root, 0x44, DS_HASH_LEN);
	memset(h->history_root, 0x55, DS_HASH_LEN);
	return check(ds_valset_hash(h->valset_hash, vs), "valset hash");
}

/* An end block of vs's epoch at height whose state (version height-1) holds
 * the record rec; with nsuffix suffix headers after it, the QC commits the
 * last one. Prints one JSON object named name: {block, state}. */
static int end_block(const char *name, uint64_t height, const struct ds_valset *vs, const int *keyidx,
		     const uint32_t *signers, size_t ns, const uint8_t *rec, size_t rec_len, int nsuffix, int last)
{
	static uint8_t hb[DS_HEADER_MAX], qcb[DS_QC_MAX], proof[DS_SMT_PROOF_ENC_MAX];
	static uint8_t chain[4][DS_HEADER_MAX];
	size_t hn, qn, pl, cn[4];
	struct ds_header h, s;
	uint8_t hash[DS_HASH_LEN], cur[DS_HASH_LEN];
	const char *key = DS_EXEC_SYS_VALSET_NEXT_KEY;
	struct ds_smt_op ops[2] = {
		{.key = (const uint8_t *)"kv/other", .key_len = 8, .value = (const uint8_t *)"\x04\x01x", .value_len = 3},
		{.key = (const uint8_t *)key, .key_len = strlen(key), .value = rec, .value_len = rec_len},
	};
	if (base_header(&h, height, vs->epoch, vs) ||
	    state(h.state_root, proof, sizeof(proof), &pl, h.exec_height, ops, 2, key) ||
	    check(ds_header_encode(hb, sizeof(hb), &hn, &h), "header") || check(ds_header_hash(hash, &h), "hash"))
		return 1;
	memcpy(cur, hash, DS_HASH_LEN);
	s = h;
	for (int i = 0; i < nsuffix; i++) {
		/* A suffix block: the parent's header with height + 1, its
		 * parent hash, a later round and time, no transactions. */
		s.height++;
		memcpy(s.parent_hash, cur, DS_HASH_LEN);
		s.round += 2;
		s.time_ms += 500;
		s.tx_count = 0;
		if (check(ds_header_encode(chain[i], sizeof(chain[i]), &cn[i], &s), "suffix") ||
		    check(ds_header_hash(cur, &s), "suffix hash"))
			return 1;
	}
	if (make_qc(qcb, sizeof(qcb), &qn, vs, keyidx, signers, ns, s.height, cur, s.round))
		return 1;
	printf("  \"%s\": {\n", name);
	printf("    \"height\": %llu,\n", (unsigned long long)height);
	printf("    \"exec_height\": %llu,\n", (unsigned long long)h.exec_height);
	field("header_hex", hb, hn);
	field("qc_hex", qcb, qn);
	printf("    \"chain\": [");
	for (int i = 0; i < nsuffix; i++) {
		printf("%s\"", i ? ", " : "");
		phex(chain[i], cn[i]);
		printf("\"");
	}
	printf("],\n");
	field("value_hex", rec, rec_len);
	field("proof_hex", proof, pl);
	printf("    \"key\": \"%s\"\n  }%s\n", key, last ? "" : ",");
	return 0;
}

int main(void)
{
	static const int s0[] = {0, 1, 2, 3}, s1[] = {0, 1, 2, 3, 4}, s2[] = {0, 1, 3, 4};
	static struct ds_valset v0, v1, v2, parsed;
	static uint8_t rec[1024], hb[DS_HEADER_MAX], qcb[DS_QC_MAX], proof[DS_SMT_PROOF_ENC_MAX];
	static uint8_t txb[DS_TX_SCRATCH_LEN], scratch[DS_TX_SCRATCH_LEN], id[DS_HASH_LEN], seed[DS_SEED_LEN];
	size_t rl, hn, qn, pl, tn;
	uint64_t since;

	if (check(ds_crypto_init(), "crypto init"))
		return 1;
	for (int i = 0; i < NKEYS; i++) {
		memset(seed, i + 1, sizeof(seed));
		if (check(ds_ed25519_seed_keypair(pk[i], sk[i], seed), "keypair"))
			return 1;
	}
	set_of(&v0, 0, s0, 4);
	set_of(&v1, 1, s1, 5);
	set_of(&v2, 2, s2, 4);

	printf("// Generated by tests/e2e/gen_epoch_vectors.c from the C ledger, codec, merkle\n");
	printf("// and exec modules (see the comment there). Do not edit by hand.\n");
	printf("export default {\n  \"chain_id\": \"%s\",\n  \"keys\": [", CHAIN);
	for (int i = 0; i < NKEYS; i++) {
		printf("%s\"", i ? ", " : "");
		phex(pk[i], DS_PK_LEN);
		printf("\"");
	}
	printf("],\n  \"sets\": [[0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 1, 3, 4]],\n");

	/* X0: epoch 0 -> 1, via two suffix headers. */
	static const uint32_t q0[] = {0, 1, 3}, q1[] = {0, 2, 3, 4}, q2[] = {0, 1, 3};
	if (check(record(rec, sizeof(rec), &rl, 1, 8, s1, 5), "record 1") ||
	    check(ds_exec_sys_valset_next(rec, rl, &parsed, &since), "parse record 1") ||
	    end_block("x0", 10, &v0, s0, q0, 3, rec, rl, 2, 0))
		return 1;
	/* X1: epoch 1 -> 2, committed directly. */
	if (check(record(rec, sizeof(rec), &rl, 2, 19, s2, 4), "record 2") ||
	    check(ds_exec_sys_valset_next(rec, rl, &parsed, &since), "parse record 2") ||
	    end_block("x1", 20, &v1, s1, q1, 4, rec, rl, 0, 0))
		return 1;
	/* Refusals: a record for epoch 2 at X0, a record made after X0's state. */
	if (check(record(rec, sizeof(rec), &rl, 2, 8, s1, 5), "record bad epoch") ||
	    end_block("bad_epoch", 10, &v0, s0, q0, 3, rec, rl, 0, 0) ||
	    check(record(rec, sizeof(rec), &rl, 1, 10, s1, 5), "record bad height") ||
	    end_block("bad_height", 10, &v0, s0, q0, 3, rec, rl, 1, 0))
		return 1;

	/* Block 25 of epoch 2: one kv.put and the state of version 24. */
	struct ds_tx tx = {.version = 1, .nonce = 9, .expiry_height = 1000, .args = (const uint8_t *)"\x00", .args_len = 1};
	strcpy(tx.chain_id, CHAIN);
	memcpy(tx.sender, pk[4], DS_PK_LEN);
	strcpy(tx.target, "kv");
	strcpy(tx.method, "put");
	if (check(ds_tx_sign(&tx, sk[4], scratch, sizeof(scratch)), "sign") || check(ds_tx_id(id, &tx), "tx id") ||
	    check(ds_tx_encode(txb, sizeof(txb), &tn, &tx), "tx encode"))
		return 1;
	struct ds_header b;
	if (base_header(&b, 25, 2, &v2))
		return 1;
	b.tx_count = 1;
	ds_ledger_merkle_root(b.tx_root, (const uint8_t (*)[DS_HASH_LEN])id, 1);
	struct ds_smt_op ops[2] = {
		{.key = (const uint8_t *)"alice", .key_len = 5, .value = (const uint8_t *)"1", .value_len = 1},
		{.key = (const uint8_t *)"bob", .key_len = 3, .value = (const uint8_t *)"2", .value_len = 1},
	};
	uint8_t hash[DS_HASH_LEN];
	if (state(b.state_root, proof, sizeof(proof), &pl, b.exec_height, ops, 2, "bob") ||
	    check(ds_header_encode(hb, sizeof(hb), &hn, &b), "header 25") || check(ds_header_hash(hash, &b), "hash 25") ||
	    make_qc(qcb, sizeof(qcb), &qn, &v2, s2, q2, 3, 25, hash, b.round))
		return 1;
	printf("  \"b\": {\n    \"height\": 25,\n    \"exec_height\": 24,\n");
	field("header_hex", hb, hn);
	field("qc_hex", qcb, qn);
	field("tx_hex", txb, tn);
	field("tx_id", id, DS_HASH_LEN);
	field("bob_proof_hex", proof, pl);
	printf("    \"bob_value_hex\": \"32\"\n  }\n};\n");
	return 0;
}
