/* Prints the fixed vectors that tests/e2e/vectors.mjs records: one block
 * with a commit QC from 3 of 4 validators, a tx inclusion proof and two
 * state proofs, all made by the C ledger and merkle modules so the
 * explorer's JavaScript verifier is checked against an independent
 * implementation. Then (after the vectors above, which stay as they were)
 * receipt proofs of tx 1 (docs/PROTOCOL.md §7.1, §5.3, §14.7): the
 * receipts of block 5 and their results root R(5); a header 6 that
 * executes block 5 alone (results_root = R(5)); a header 8 whose parent 7
 * executed up to block 4, so 8 executes blocks 5..7 and carries the range
 * root over R(5), R(6), R(7); and a header 6' whose results root holds, at
 * tx 1's place, a receipt naming tx 0. Each header has a commit QC from
 * validators 0, 1 and 3. Not part of the build; regenerate with:
 *   make BUILD=build-web MODULES="util codec crypto ledger merkle" build-web/libds.a
 *   cc -std=c11 -Isrc tests/e2e/gen_vectors.c build-web/libds.a \
 *      $(pkg-config --cflags --libs libsodium libcrypto) -o build-web/gen_vectors
 *   build-web/gen_vectors > build-web/vectors.json
 * and wrap the output as "export default {...};" in tests/e2e/vectors.mjs. */
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"

#define CHAIN "danshari-test"

static void hex(const char *name, const uint8_t *p, size_t n, int last)
{
	printf("  \"%s\": \"", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\"%s\n", last ? "" : ",");
}

static int check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "gen_vectors: %s failed: %d\n", what, rc);
		return 1;
	}
	return 0;
}

static void hex_list(const char *name, const uint8_t (*p)[DS_HASH_LEN], size_t n)
{
	printf("  \"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		printf("%s\"", i ? ", " : "");
		for (int j = 0; j < 32; j++)
			printf("%02x", p[i][j]);
		printf("\"");
	}
	printf("],\n");
}

/* Prints <name>_header_hex, <name>_header_hash and <name>_qc_hex: header h
 * with a commit QC (carried by a vote on a fictitious child) from
 * validators 0, 1 and 3 of vs. Writes h's hash into hash. */
static int certified(const char *name, const struct ds_header *h, const struct ds_valset *vs,
		     uint8_t sk[][DS_SK_LEN], uint8_t hash[DS_HASH_LEN])
{
	static uint8_t hb[DS_HEADER_MAX], qcb[DS_QC_MAX];
	static struct ds_qc qc;
	static const uint32_t signers[3] = {0, 1, 3};
	char key[64];
	size_t n;
	if (check(ds_header_encode(hb, sizeof hb, &n, h), "carrier header") ||
	    check(ds_header_hash(hash, h), "carrier header hash"))
		return 1;
	snprintf(key, sizeof key, "%s_header_hex", name);
	hex(key, hb, n, 0);
	snprintf(key, sizeof key, "%s_header_hash", name);
	hex(key, hash, DS_HASH_LEN, 0);
	memset(&qc, 0, sizeof qc);
	qc.vote.epoch = h->epoch;
	qc.vote.round = h->round + 1;
	qc.vote.height = h->height + 1;
	memset(qc.vote.block_hash, 0x78, 32);
	qc.vote.parent_round = h->round;
	memcpy(qc.vote.parent_hash, hash, 32);
	qc.vote.commit_height = h->height;
	memcpy(qc.vote.commit_hash, hash, 32);
	qc.nsigs = 3;
	for (int i = 0; i < 3; i++) {
		qc.sigs[i].index = signers[i];
		ds_vote_sign(qc.sigs[i].sig, &qc.vote, CHAIN, sk[signers[i]]);
	}
	if (check(ds_qc_verify(&qc, vs, CHAIN), "carrier qc verify") ||
	    check(ds_qc_encode(qcb, sizeof qcb, &n, &qc), "carrier qc encode"))
		return 1;
	snprintf(key, sizeof key, "%s_qc_hex", name);
	hex(key, qcb, n, 0);
	return 0;
}

/* The receipts of block 5 (tx 0 failed, tx 1 ok with one event, tx 2 ok),
 * tx 1's naming tx_id1 (or, when wrong_id, tx 0's id): encodes each into
 * enc/len and their results root into root, the path of tx 1 into path. */
static int block5_receipts(uint8_t enc[3][512], size_t len[3], uint8_t root[DS_HASH_LEN],
			   uint8_t path[][DS_HASH_LEN], size_t *path_len, uint8_t ids[3][DS_HASH_LEN],
			   int wrong_id)
{
	static uint8_t leaves[3][DS_HASH_LEN];
	static const uint8_t null_value[1] = {0x00};
	static const uint8_t alice[7] = {0x04, 0x05, 'a', 'l', 'i', 'c', 'e'};
	for (int i = 0; i < 3; i++) {
		static struct ds_receipt r;
		uint8_t rh[DS_HASH_LEN];
		memset(&r, 0, sizeof r);
		r.version = 1;
		memcpy(r.tx_id, ids[i == 1 && wrong_id ? 0 : i], DS_HASH_LEN);
		r.ret = null_value;
		r.ret_len = 1;
		if (i == 0) {
			r.status = DS_TX_FAILED;
			strcpy(r.error, "kv.put: value too large");
			r.gas_used = 57;
		} else {
			r.status = DS_TX_OK;
			r.gas_used = 148 + (uint64_t)i;
		}
		if (i == 1) {
			r.nevents = 1;
			strcpy(r.events[0].name, "put");
			r.events[0].value = alice;
			r.events[0].value_len = sizeof alice;
		}
		if (check(ds_receipt_encode(enc[i], 512, &len[i], &r), "receipt encode"))
			return 1;
		ds_receipt_hash_bytes(rh, enc[i], len[i]);
		ds_merkle_leaf_hash(leaves[i], rh, DS_HASH_LEN);
	}
	ds_merkle_root_array(root, (const uint8_t (*)[DS_HASH_LEN])leaves, 3);
	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t (*)[DS_HASH_LEN])leaves);
	return check(ds_merkle_inclusion_proof(path, path_len, &src, 1, 3), "receipt inclusion");
}

int main(void)
{
	static uint8_t pk[4][DS_PK_LEN], sk[4][DS_SK_LEN], seed[DS_SEED_LEN];
	static struct ds_valset vs;
	static struct ds_header h;
	static struct ds_qc qc;
	static uint8_t ids[3][DS_HASH_LEN], buf[DS_TX_SCRATCH_LEN], scratch[DS_TX_SCRATCH_LEN];
	static uint8_t hb[DS_HEADER_MAX], qcb[DS_QC_MAX], vsb[DS_VALSET_MAX], hash[DS_HASH_LEN];
	static uint8_t vsig[DS_VOTE_SIGNING_MAX], path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	static uint8_t smtp[DS_SMT_PROOF_ENC_MAX], root[DS_HASH_LEN], kh[DS_HASH_LEN];
	static struct ds_smt_proof sp;
	static struct ds_smt_changeset cs;
	struct ds_smt_mem *mem = NULL;
	size_t n, plen;

	if (check(ds_crypto_init(), "crypto init"))
		return 1;
	vs.epoch = 0;
	vs.n = 4;
	for (int i = 0; i < 4; i++) {
		memset(seed, i + 1, sizeof seed);
		if (check(ds_ed25519_seed_keypair(pk[i], sk[i], seed), "keypair"))
			return 1;
		memcpy(vs.v[i].pk, pk[i], DS_PK_LEN);
		vs.v[i].power = 1;
	}
	/* Three transactions from validator 0's key. */
	for (int i = 0; i < 3; i++) {
		struct ds_tx tx = {.version = 1, .nonce = (uint64_t)i + 7, .expiry_height = 1000,
				   .args = (const uint8_t *)"\x00", .args_len = 1};
		strcpy(tx.chain_id, CHAIN);
		memcpy(tx.sender, pk[0], DS_PK_LEN);
		strcpy(tx.target, "kv");
		strcpy(tx.method, "put");
		if (check(ds_tx_sign(&tx, sk[0], scratch, sizeof scratch), "sign") ||
		    check(ds_tx_id(ids[i], &tx), "tx id"))
			return 1;
		if (i == 1 && check(ds_tx_encode(buf, sizeof buf, &n, &tx), "tx encode"))
			return 1;
	}
	printf("{\n");
	hex("tx1_hex", buf, n, 0);
	hex("tx_id0", ids[0], 32, 0);
	hex("tx_id1", ids[1], 32, 0);
	hex("tx_id2", ids[2], 32, 0);

	/* State version 4: alice, bob, carol (as in docs/PROTOCOL.md). */
	if (check(ds_smt_mem_new(&mem), "smt mem"))
		return 1;
	struct ds_smt_store st = ds_smt_mem_store(mem);
	struct ds_smt_op ops[3] = {
		{.key = (const uint8_t *)"alice", .key_len = 5, .value = (const uint8_t *)"1", .value_len = 1},
		{.key = (const uint8_t *)"bob", .key_len = 3, .value = (const uint8_t *)"2", .value_len = 1},
		{.key = (const uint8_t *)"carol", .key_len = 5, .value = (const uint8_t *)"3", .value_len = 1},
	};
	if (check(ds_smt_update(&cs, &st, DS_SMT_VERSION_NONE, 4, ops, 3), "smt update") ||
	    check(ds_smt_mem_apply(mem, &cs), "smt apply") || check(ds_smt_root(root, &st, 4), "smt root"))
		return 1;
	ds_smt_changeset_free(&cs);
	ds_sha256(kh, "bob", 3);
	if (check(ds_smt_prove(&sp, &st, 4, kh), "prove bob") ||
	    check(ds_smt_proof_encode(smtp, sizeof smtp, &plen, &sp), "encode"))
		return 1;
	hex("smt_bob_proof", smtp, plen, 0);
	ds_sha256(kh, "dave", 4);
	if (check(ds_smt_prove(&sp, &st, 4, kh), "prove dave") ||
	    check(ds_smt_proof_encode(smtp, sizeof smtp, &plen, &sp), "encode"))
		return 1;
	hex("smt_dave_proof", smtp, plen, 0);
	ds_smt_mem_free(mem);

	h.version = 1;
	strcpy(h.chain_id, CHAIN);
	h.height = 5;
	h.epoch = 0;
	h.round = 6;
	memset(h.parent_hash, 0x11, 32);
	memcpy(h.proposer, pk[2], 32);
	h.time_ms = 1700000123456ull;
	h.tx_count = 3;
	ds_ledger_merkle_root(h.tx_root, (const uint8_t (*)[DS_HASH_LEN])ids, 3);
	h.exec_height = 4;
	memcpy(h.state_root, root, 32);
	memset(h.results_root, 0x44, 32);
	memset(h.history_root, 0x55, 32);
	if (check(ds_valset_hash(h.valset_hash, &vs), "valset hash") ||
	    check(ds_valset_encode(vsb, sizeof vsb, &n, &vs), "valset encode"))
		return 1;
	hex("valset_hex", vsb, n, 0);
	if (check(ds_header_encode(hb, sizeof hb, &n, &h), "header") ||
	    check(ds_header_hash(hash, &h), "header hash"))
		return 1;
	hex("header_hex", hb, n, 0);
	hex("header_hash", hash, 32, 0);
	hex("tx_root", h.tx_root, 32, 0);
	hex("state_root", h.state_root, 32, 0);
	hex("valset_hash", h.valset_hash, 32, 0);

	/* Inclusion proof of tx 1 of 3 (leaves are leaf hashes of the ids). */
	static uint8_t leaves[3][DS_HASH_LEN];
	for (int i = 0; i < 3; i++)
		ds_merkle_leaf_hash(leaves[i], ids[i], DS_HASH_LEN);
	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t (*)[DS_HASH_LEN])leaves);
	size_t pl;
	if (check(ds_merkle_inclusion_proof(path, &pl, &src, 1, 3), "inclusion"))
		return 1;
	printf("  \"tx1_path\": [");
	for (size_t i = 0; i < pl; i++) {
		printf("%s\"", i ? ", " : "");
		for (int j = 0; j < 32; j++)
			printf("%02x", path[i][j]);
		printf("\"");
	}
	printf("],\n");

	/* Commit QC for block 5, carried by a vote on a (fictitious) block 6,
	 * signed by validators 0, 1 and 3. */
	qc.vote.epoch = 0;
	qc.vote.round = 7;
	qc.vote.height = 6;
	memset(qc.vote.block_hash, 0x77, 32);
	qc.vote.parent_round = 6;
	memcpy(qc.vote.parent_hash, hash, 32);
	qc.vote.commit_height = 5;
	memcpy(qc.vote.commit_hash, hash, 32);
	if (check(ds_vote_signing_bytes(vsig, sizeof vsig, &n, &qc.vote, CHAIN), "vote bytes"))
		return 1;
	hex("vote_signing_hex", vsig, n, 0);
	static const uint32_t signers[3] = {0, 1, 3};
	qc.nsigs = 3;
	for (int i = 0; i < 3; i++) {
		qc.sigs[i].index = signers[i];
		ds_vote_sign(qc.sigs[i].sig, &qc.vote, CHAIN, sk[signers[i]]);
	}
	if (check(ds_qc_verify(&qc, &vs, CHAIN), "qc verify") ||
	    check(ds_qc_encode(qcb, sizeof qcb, &n, &qc), "qc encode"))
		return 1;
	hex("qc_hex", qcb, n, 0);
	printf("  \"public_keys\": [");
	for (int i = 0; i < 4; i++) {
		printf("%s\"", i ? ", " : "");
		for (int j = 0; j < 32; j++)
			printf("%02x", pk[i][j]);
		printf("\"");
	}
	printf("],\n");

	/* Receipt proofs of tx 1 of block 5. */
	static uint8_t renc[3][512], r5[DS_HASH_LEN], rpath[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	static uint8_t c_hash[DS_HASH_LEN], p_hash[DS_HASH_LEN];
	size_t rlen[3], rpl;
	if (block5_receipts(renc, rlen, r5, rpath, &rpl, ids, 0))
		return 1;
	hex("receipt0_hex", renc[0], rlen[0], 0);
	hex("receipt1_hex", renc[1], rlen[1], 0);
	hex("results_root5", r5, DS_HASH_LEN, 0);
	hex_list("receipt1_path", (const uint8_t (*)[DS_HASH_LEN])rpath, rpl);
	/* Header 6 executes block 5 alone: results_root = R(5). */
	struct ds_header c = h;
	c.height = 6;
	c.round = 7;
	memcpy(c.parent_hash, hash, 32);
	memcpy(c.proposer, pk[3], 32);
	c.time_ms = h.time_ms + 1000;
	c.tx_count = 0;
	ds_ledger_merkle_root(c.tx_root, NULL, 0);
	c.exec_height = 5;
	memset(c.state_root, 0x56, 32);
	memcpy(c.results_root, r5, 32);
	memset(c.history_root, 0x57, 32);
	if (certified("rc_direct", &c, &vs, sk, c_hash))
		return 1;
	/* Header 7 (the parent) executed up to block 4; header 8 executes 5..7
	 * and carries the range root over R(5), R(6), R(7). */
	static uint8_t broots[3][DS_HASH_LEN], rng_path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	static uint8_t rleaves[3][DS_HASH_LEN];
	struct ds_header ph = c;
	ph.height = 7;
	ph.round = 8;
	memset(ph.parent_hash, 0x66, 32);
	memcpy(ph.proposer, pk[0], 32);
	ph.time_ms = h.time_ms + 2000;
	ph.exec_height = 4;
	memset(ph.state_root, 0x74, 32);
	memset(ph.results_root, 0x75, 32);
	if (check(ds_header_encode(hb, sizeof hb, &n, &ph), "parent header") ||
	    check(ds_header_hash(p_hash, &ph), "parent hash"))
		return 1;
	hex("rc_range_parent_hex", hb, n, 0);
	memcpy(broots[0], r5, 32);
	memset(broots[1], 0x61, 32);
	memset(broots[2], 0x71, 32);
	struct ds_header c8 = c;
	c8.height = 8;
	c8.round = 9;
	memcpy(c8.parent_hash, p_hash, 32);
	memcpy(c8.proposer, pk[1], 32);
	c8.time_ms = h.time_ms + 3000;
	c8.exec_height = 7;
	memset(c8.state_root, 0x86, 32);
	if (check(ds_results_range_root(c8.results_root, (const uint8_t (*)[DS_HASH_LEN])broots, 3),
		  "range root"))
		return 1;
	for (int i = 0; i < 3; i++)
		ds_merkle_leaf_hash(rleaves[i], broots[i], DS_HASH_LEN);
	struct ds_merkle_src rsrc = ds_merkle_src_array((const uint8_t (*)[DS_HASH_LEN])rleaves);
	size_t rngl;
	if (check(ds_merkle_inclusion_proof(rng_path, &rngl, &rsrc, 0, 3), "range inclusion"))
		return 1;
	hex_list("rc_range_path", (const uint8_t (*)[DS_HASH_LEN])rng_path, rngl);
	hex("rc_range_root", c8.results_root, DS_HASH_LEN, 0);
	if (certified("rc_range", &c8, &vs, sk, c_hash))
		return 1;
	/* Header 6' commits a results root whose leaf 1 is a receipt of tx 0. */
	static uint8_t wenc[3][512], wroot[DS_HASH_LEN], wpath[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t wlen[3], wpl;
	if (block5_receipts(wenc, wlen, wroot, wpath, &wpl, ids, 1))
		return 1;
	hex("wrongid_receipt_hex", wenc[1], wlen[1], 0);
	hex("wrongid_results_root", wroot, DS_HASH_LEN, 0);
	hex_list("wrongid_path", (const uint8_t (*)[DS_HASH_LEN])wpath, wpl);
	struct ds_header cw = c;
	memcpy(cw.results_root, wroot, 32);
	if (certified("rc_wrongid", &cw, &vs, sk, c_hash))
		return 1;
	printf("  \"chain_id\": \"%s\"\n}\n", CHAIN);
	return 0;
}
