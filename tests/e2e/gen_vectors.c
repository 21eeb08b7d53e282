/* Prints the fixed vectors that tests/e2e/vectors.mjs records: one block
 * with a commit QC from 3 of 4 validators, a tx inclusion proof and two
 * state proofs, all made by the C ledger and merkle modules so the
 * explorer's JavaScript verifier is checked against an independent
 * implementation. Not part of the build; regenerate with:
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
	printf("  \"chain_id\": \"%s\"\n}\n", CHAIN);
	return 0;
}
