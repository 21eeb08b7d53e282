/* verify: headers certified by a trusted quorum, tx inclusion, receipts,
 * state and history proofs, built here from real keys, QCs and trees; every check is
 * also shown to fail on a tampered input. */
#include "epoch_fixture.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "exec/exec_sys.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"
#include "verify/verify.h"

#define NVAL 4
#define CHAIN "verify-test"

static uint8_t g_pk[NVAL][DS_PK_LEN];
static uint8_t g_sk[NVAL][DS_SK_LEN];
static uint64_t g_rs;

static void keys_init(void)
{
	for (int i = 0; i < NVAL; i++) {
		uint8_t seed[DS_SEED_LEN];
		memset(seed, 0x40 + i, sizeof(seed));
		assert_int_equal(ds_ed25519_seed_keypair(g_pk[i], g_sk[i], seed), 0);
	}
}

static void trust(struct ds_verify_trust *t)
{
	assert_int_equal(ds_verify_trust_init(t, CHAIN, 0, (const uint8_t(*)[DS_PK_LEN])g_pk, NVAL), 0);
}

static void rand_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)tu_rand(&g_rs);
}

static void make_header(struct ds_header *h, uint64_t height, const uint8_t parent[DS_HASH_LEN])
{
	memset(h, 0, sizeof(*h));
	h->version = 1;
	strcpy(h->chain_id, CHAIN);
	h->height = height;
	h->round = height + 3;
	if (parent)
		memcpy(h->parent_hash, parent, DS_HASH_LEN);
	memcpy(h->proposer, g_pk[height % NVAL], DS_PK_LEN);
	h->time_ms = 1700000000000ull + height;
	h->exec_height = height ? height - 1 : 0;
	ds_ledger_merkle_root(h->tx_root, NULL, 0);
	rand_bytes(h->state_root, DS_HASH_LEN);
	rand_bytes(h->results_root, DS_HASH_LEN);
	rand_bytes(h->history_root, DS_HASH_LEN);
	/* Headers name the validator set that certifies them. */
	struct ds_verify_trust t;
	trust(&t);
	assert_int_equal(ds_valset_hash(h->valset_hash, &t.vs), 0);
}

static size_t enc_header(uint8_t *out, const struct ds_header *h)
{
	size_t n;
	assert_int_equal(ds_header_encode(out, DS_HEADER_MAX, &n, h), 0);
	return n;
}

/* A QC over a vote that commits (commit_height, commit_hash), signed by
 * the validators whose bit is set in mask. */
static size_t make_qc(uint8_t *out, size_t cap, uint64_t epoch, uint64_t commit_height,
		      const uint8_t commit_hash[DS_HASH_LEN], unsigned mask, const char *chain)
{
	static struct ds_qc qc;
	memset(&qc, 0, sizeof(qc));
	qc.vote.epoch = epoch;
	qc.vote.round = commit_height + 5;
	qc.vote.height = commit_height + 1;
	rand_bytes(qc.vote.block_hash, DS_HASH_LEN);
	qc.vote.parent_round = commit_height + 4;
	memcpy(qc.vote.parent_hash, commit_hash, DS_HASH_LEN);
	qc.vote.commit_height = commit_height;
	memcpy(qc.vote.commit_hash, commit_hash, DS_HASH_LEN);
	for (uint32_t i = 0; i < NVAL; i++)
		if (mask & (1u << i)) {
			ds_vote_sign(qc.sigs[qc.nsigs].sig, &qc.vote, chain, g_sk[i]);
			qc.sigs[qc.nsigs].index = i;
			qc.nsigs++;
		}
	size_t n;
	assert_int_equal(ds_qc_encode(out, cap, &n, &qc), 0);
	return n;
}

static void test_header_direct(void **state)
{
	(void)state;
	struct ds_verify_trust t;
	trust(&t);
	struct ds_header h;
	make_header(&h, 7, NULL);
	uint8_t he[DS_HEADER_MAX], hash[DS_HASH_LEN], qc[DS_QC_MAX];
	size_t hn = enc_header(he, &h);
	assert_int_equal(ds_header_hash(hash, &h), 0);
	size_t qn = make_qc(qc, sizeof(qc), 0, 7, hash, 0x7, CHAIN);

	struct ds_verified_header vh;
	char why[256] = "";
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), 0);
	assert_int_equal(vh.h.height, 7);
	assert_memory_equal(vh.hash, hash, DS_HASH_LEN);
	assert_int_equal(vh.qc_signers, 3);

	/* Any single flipped byte of the header or the QC is refused. */
	for (size_t i = 0; i < hn; i++) {
		he[i] ^= 0x01;
		assert_int_not_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), 0);
		he[i] ^= 0x01;
	}
	for (size_t i = 0; i < qn; i++) {
		qc[i] ^= 0x20;
		assert_int_not_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), 0);
		qc[i] ^= 0x20;
	}
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), 0);
}

static void test_header_refusals(void **state)
{
	(void)state;
	struct ds_verify_trust t;
	trust(&t);
	struct ds_header h;
	make_header(&h, 9, NULL);
	uint8_t he[DS_HEADER_MAX], hash[DS_HASH_LEN], qc[DS_QC_MAX];
	size_t hn = enc_header(he, &h);
	assert_int_equal(ds_header_hash(hash, &h), 0);
	struct ds_verified_header vh;
	char why[256];

	/* A header naming another validator set is refused before its QC. */
	{
		struct ds_header h2 = h;
		h2.valset_hash[0] ^= 1;
		uint8_t he2[DS_HEADER_MAX], hash2[DS_HASH_LEN], qc2[DS_QC_MAX];
		size_t hn2 = enc_header(he2, &h2);
		assert_int_equal(ds_header_hash(hash2, &h2), 0);
		size_t qn2 = make_qc(qc2, sizeof(qc2), 0, 9, hash2, 0x7, CHAIN);
		assert_int_equal(ds_verify_header(&vh, &t, he2, hn2, qc2, qn2, NULL, 0, why, sizeof(why)),
				 DS_EPROOF);
		assert_non_null(strstr(why, "validator-set hash"));
	}

	/* Two of four signatures: short of the quorum of three. */
	size_t qn = make_qc(qc, sizeof(qc), 0, 9, hash, 0x3, CHAIN);
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_EPROOF);
	assert_non_null(strstr(why, "needs 3"));

	/* Quorum of a set the client does not trust. */
	struct ds_verify_trust other = t;
	other.vs.v[2].pk[5] ^= 1; /* validator 2 is someone else */
	qn = make_qc(qc, sizeof(qc), 0, 9, hash, 0x7, CHAIN);
	/* The header names the real set, which this client does not trust. */
	assert_int_equal(ds_verify_header(&vh, &other, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_EPROOF);
	assert_non_null(strstr(why, "validator-set hash"));
	/* A header naming the client's set still needs that set's signatures. */
	{
		struct ds_header ho = h;
		assert_int_equal(ds_valset_hash(ho.valset_hash, &other.vs), 0);
		uint8_t heo[DS_HEADER_MAX], hasho[DS_HASH_LEN], qco[DS_QC_MAX];
		size_t hno = enc_header(heo, &ho);
		assert_int_equal(ds_header_hash(hasho, &ho), 0);
		size_t qno = make_qc(qco, sizeof(qco), 0, 9, hasho, 0x7, CHAIN);
		assert_int_equal(ds_verify_header(&vh, &other, heo, hno, qco, qno, NULL, 0, why, sizeof(why)),
				 DS_ESIG);
		assert_non_null(strstr(why, "validator 2"));
	}

	/* Wrong epoch, wrong chain, signatures for another chain. */
	qn = make_qc(qc, sizeof(qc), 1, 9, hash, 0x7, CHAIN);
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_EPROOF);
	assert_non_null(strstr(why, "epoch 1"));
	struct ds_verify_trust wrong = t;
	strcpy(wrong.chain_id, "another");
	qn = make_qc(qc, sizeof(qc), 0, 9, hash, 0x7, CHAIN);
	assert_int_equal(ds_verify_header(&vh, &wrong, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_ECHAIN);
	qn = make_qc(qc, sizeof(qc), 0, 9, hash, 0xf, "another");
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_ESIG);

	/* A valid QC committing an unrelated block, or a lower height. */
	uint8_t other_hash[DS_HASH_LEN];
	rand_bytes(other_hash, DS_HASH_LEN);
	qn = make_qc(qc, sizeof(qc), 0, 9, other_hash, 0x7, CHAIN);
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_EPROOF);
	qn = make_qc(qc, sizeof(qc), 0, 8, hash, 0x7, CHAIN);
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why)), DS_EPROOF);

	/* No QC: only genesis, only with a trusted genesis hash. */
	assert_int_equal(ds_verify_header(&vh, &t, he, hn, NULL, 0, NULL, 0, why, sizeof(why)), DS_EPROOF);
	struct ds_header g;
	make_header(&g, 0, NULL);
	uint8_t ge[DS_HEADER_MAX], gh[DS_HASH_LEN];
	size_t gn = enc_header(ge, &g);
	assert_int_equal(ds_header_hash(gh, &g), 0);
	assert_int_equal(ds_verify_header(&vh, &t, ge, gn, NULL, 0, NULL, 0, why, sizeof(why)), DS_EPROOF);
	t.has_genesis_hash = true;
	memcpy(t.genesis_hash, gh, DS_HASH_LEN);
	assert_int_equal(ds_verify_header(&vh, &t, ge, gn, NULL, 0, NULL, 0, why, sizeof(why)), 0);
	t.genesis_hash[0] ^= 1;
	assert_int_equal(ds_verify_header(&vh, &t, ge, gn, NULL, 0, NULL, 0, why, sizeof(why)), DS_EPROOF);

	/* Trust set construction refuses duplicates and empty sets. */
	uint8_t dup[2][DS_PK_LEN];
	memcpy(dup[0], g_pk[0], DS_PK_LEN);
	memcpy(dup[1], g_pk[0], DS_PK_LEN);
	assert_int_equal(ds_verify_trust_init(&t, CHAIN, 0, (const uint8_t(*)[DS_PK_LEN])dup, 2), DS_EINVAL);
	assert_int_equal(ds_verify_trust_init(&t, CHAIN, 0, (const uint8_t(*)[DS_PK_LEN])dup, 0), DS_EINVAL);
	assert_int_equal(ds_verify_trust_init(&t, "Bad Chain", 0, (const uint8_t(*)[DS_PK_LEN])g_pk, 4), DS_EINVAL);
}

static void test_header_descendant_chain(void **state)
{
	(void)state;
	struct ds_verify_trust t;
	trust(&t);
	struct ds_header h[4];
	uint8_t enc[4][DS_HEADER_MAX], hash[4][DS_HASH_LEN];
	size_t n[4];
	for (int i = 0; i < 4; i++) {
		make_header(&h[i], 20 + (uint64_t)i, i ? hash[i - 1] : NULL);
		n[i] = enc_header(enc[i], &h[i]);
		assert_int_equal(ds_header_hash(hash[i], &h[i]), 0);
	}
	uint8_t qc[DS_QC_MAX];
	size_t qn = make_qc(qc, sizeof(qc), 0, 23, hash[3], 0xe, CHAIN);
	struct ds_iov chain[3];
	for (int i = 0; i < 3; i++)
		chain[i] = (struct ds_iov){enc[i + 1], n[i + 1]};
	struct ds_verified_header vh;
	char why[256];
	assert_int_equal(ds_verify_header(&vh, &t, enc[0], n[0], qc, qn, chain, 3, why, sizeof(why)), 0);
	assert_int_equal(vh.final_via, 23);
	/* Missing, reordered or broken links are refused. */
	assert_int_equal(ds_verify_header(&vh, &t, enc[0], n[0], qc, qn, chain, 2, why, sizeof(why)), DS_EPROOF);
	struct ds_iov swapped[3] = {chain[1], chain[0], chain[2]};
	assert_int_equal(ds_verify_header(&vh, &t, enc[0], n[0], qc, qn, swapped, 3, why, sizeof(why)), DS_EPROOF);
	struct ds_header forged = h[2];
	forged.parent_hash[0] ^= 1;
	uint8_t fe[DS_HEADER_MAX];
	size_t fn = enc_header(fe, &forged);
	struct ds_iov broken[3] = {chain[0], {fe, fn}, chain[2]};
	assert_int_equal(ds_verify_header(&vh, &t, enc[0], n[0], qc, qn, broken, 3, why, sizeof(why)), DS_EPROOF);
	/* A chain that links but ends elsewhere than the QC's commit. */
	assert_int_equal(ds_verify_header(&vh, &t, enc[1], n[1], qc, qn, chain + 1, 2, why, sizeof(why)), 0);
	uint8_t qc2[DS_QC_MAX];
	size_t qn2 = make_qc(qc2, sizeof(qc2), 0, 23, hash[2], 0xe, CHAIN);
	assert_int_equal(ds_verify_header(&vh, &t, enc[0], n[0], qc2, qn2, chain, 3, why, sizeof(why)), DS_EPROOF);
}

#define NTX 5

static void test_tx_inclusion(void **state)
{
	(void)state;
	static uint8_t txenc[NTX][512];
	size_t txn[NTX];
	uint8_t ids[NTX][DS_HASH_LEN], leaves[NTX][DS_HASH_LEN];
	static uint8_t scratch[DS_TX_SCRATCH_LEN];
	for (int i = 0; i < NTX; i++) {
		struct ds_tx tx = {.version = 1, .nonce = (uint64_t)i, .expiry_height = 100};
		strcpy(tx.chain_id, CHAIN);
		memcpy(tx.sender, g_pk[i % NVAL], DS_PK_LEN);
		strcpy(tx.target, "kv");
		strcpy(tx.method, "put");
		static const uint8_t args[] = {0x00};
		tx.args = args;
		tx.args_len = 1;
		assert_int_equal(ds_tx_sign(&tx, g_sk[i % NVAL], scratch, sizeof(scratch)), 0);
		assert_int_equal(ds_tx_encode(txenc[i], sizeof(txenc[i]), &txn[i], &tx), 0);
		assert_int_equal(ds_tx_id(ids[i], &tx), 0);
		ds_merkle_leaf_hash(leaves[i], ids[i], DS_HASH_LEN);
	}
	struct ds_verified_header vh;
	memset(&vh, 0, sizeof(vh));
	make_header(&vh.h, 3, NULL);
	vh.h.tx_count = NTX;
	ds_ledger_merkle_root(vh.h.tx_root, (const uint8_t(*)[DS_HASH_LEN])ids, NTX);

	char why[256];
	assert_int_equal(ds_verify_tx_ids(&vh, (const uint8_t(*)[DS_HASH_LEN])ids, NTX, why, sizeof(why)), 0);
	assert_int_equal(ds_verify_tx_ids(&vh, (const uint8_t(*)[DS_HASH_LEN])ids, NTX - 1, why, sizeof(why)), DS_EPROOF);
	uint8_t swapped[NTX][DS_HASH_LEN];
	memcpy(swapped, ids, sizeof(ids));
	memcpy(swapped[0], ids[1], DS_HASH_LEN);
	memcpy(swapped[1], ids[0], DS_HASH_LEN);
	assert_int_equal(ds_verify_tx_ids(&vh, (const uint8_t(*)[DS_HASH_LEN])swapped, NTX, why, sizeof(why)), DS_EPROOF);

	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t(*)[DS_HASH_LEN])leaves);
	for (uint64_t i = 0; i < NTX; i++) {
		uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
		size_t pl;
		assert_int_equal(ds_merkle_inclusion_proof(path, &pl, &src, i, NTX), 0);
		uint8_t id[DS_HASH_LEN];
		assert_int_equal(ds_verify_tx(id, &vh, txenc[i], txn[i], i, NTX,
					      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), 0);
		assert_memory_equal(id, ids[i], DS_HASH_LEN);
		/* Wrong index, wrong size, tampered path, another tx. */
		assert_int_equal(ds_verify_tx(id, &vh, txenc[i], txn[i], (i + 1) % NTX, NTX,
					      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), DS_EPROOF);
		assert_int_equal(ds_verify_tx(id, &vh, txenc[i], txn[i], i, NTX + 1,
					      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), DS_EPROOF);
		path[0][3] ^= 1;
		assert_int_equal(ds_verify_tx(id, &vh, txenc[i], txn[i], i, NTX,
					      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), DS_EPROOF);
		path[0][3] ^= 1;
		size_t j = (i + 1) % NTX;
		assert_int_equal(ds_verify_tx(id, &vh, txenc[j], txn[j], i, NTX,
					      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "tx_root"));
	}
	/* A flipped signature byte; a flipped nonce byte (signature then fails). */
	uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t pl;
	assert_int_equal(ds_merkle_inclusion_proof(path, &pl, &src, 2, NTX), 0);
	txenc[2][txn[2] - 1] ^= 1;
	assert_int_equal(ds_verify_tx(NULL, &vh, txenc[2], txn[2], 2, NTX,
				      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), DS_ESIG);
	txenc[2][txn[2] - 1] ^= 1;
	assert_int_equal(ds_verify_tx(NULL, &vh, txenc[2], txn[2] - 1, 2, NTX,
				      (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)), DS_ETRUNC);
}

static void test_state_proof(void **state)
{
	(void)state;
	struct ds_smt_mem *mem;
	assert_int_equal(ds_smt_mem_new(&mem), 0);
	struct ds_smt_store st = ds_smt_mem_store(mem);
	static const char *keys[] = {"kv/alice", "kv/bob", "kv/carol"};
	static const char *vals[] = {"1", "22", "333"};
	struct ds_smt_op ops[3];
	for (int i = 0; i < 3; i++)
		ops[i] = (struct ds_smt_op){(const uint8_t *)keys[i], strlen(keys[i]),
					    (const uint8_t *)vals[i], strlen(vals[i])};
	struct ds_smt_changeset cs;
	assert_int_equal(ds_smt_update(&cs, &st, DS_SMT_VERSION_NONE, 4, ops, 3), 0);
	assert_int_equal(ds_smt_mem_apply(mem, &cs), 0);

	struct ds_verified_header vh;
	memset(&vh, 0, sizeof(vh));
	make_header(&vh.h, 5, NULL);
	vh.h.exec_height = 4;
	memcpy(vh.h.state_root, cs.root, DS_HASH_LEN);
	ds_smt_changeset_free(&cs);

	static struct ds_smt_proof p;
	static uint8_t pe[DS_SMT_PROOF_ENC_MAX];
	size_t pn;
	char why[256];
	uint8_t kh[DS_HASH_LEN];
	ds_sha256(kh, keys[1], strlen(keys[1]));
	assert_int_equal(ds_smt_prove(&p, &st, 4, kh), 0);
	assert_int_equal(ds_smt_proof_encode(pe, sizeof(pe), &pn, &p), 0);
	assert_int_equal(ds_verify_state(&vh, 4, (const uint8_t *)keys[1], strlen(keys[1]),
					 (const uint8_t *)"22", 2, pe, pn, why, sizeof(why)), 0);
	assert_int_equal(ds_verify_state(&vh, 4, (const uint8_t *)keys[1], strlen(keys[1]),
					 (const uint8_t *)"23", 2, pe, pn, why, sizeof(why)), DS_EPROOF);
	assert_int_equal(ds_verify_state(&vh, 4, (const uint8_t *)keys[1], strlen(keys[1]),
					 NULL, 0, pe, pn, why, sizeof(why)), DS_EPROOF);
	assert_int_equal(ds_verify_state(&vh, 3, (const uint8_t *)keys[1], strlen(keys[1]),
					 (const uint8_t *)"22", 2, pe, pn, why, sizeof(why)), DS_EPROOF);
	assert_non_null(strstr(why, "version 3"));
	pe[pn - 1] ^= 1;
	assert_int_not_equal(ds_verify_state(&vh, 4, (const uint8_t *)keys[1], strlen(keys[1]),
					     (const uint8_t *)"22", 2, pe, pn, why, sizeof(why)), 0);
	assert_int_not_equal(ds_verify_state(&vh, 4, (const uint8_t *)keys[1], strlen(keys[1]),
					     (const uint8_t *)"22", 2, pe, pn - 1, why, sizeof(why)), 0);

	/* Absence of a key that was never written. */
	ds_sha256(kh, "kv/dave", 7);
	assert_int_equal(ds_smt_prove(&p, &st, 4, kh), 0);
	assert_int_equal(ds_smt_proof_encode(pe, sizeof(pe), &pn, &p), 0);
	assert_int_equal(ds_verify_state(&vh, 4, (const uint8_t *)"kv/dave", 7, NULL, 0, pe, pn, why,
					 sizeof(why)), 0);
	assert_int_equal(ds_verify_state(&vh, 4, (const uint8_t *)"kv/dave", 7, (const uint8_t *)"x", 1,
					 pe, pn, why, sizeof(why)), DS_EPROOF);
	ds_smt_mem_free(mem);
}

static void test_history_proof(void **state)
{
	(void)state;
	enum { N = 37 };
	uint8_t hashes[N][DS_HASH_LEN], leaves[N][DS_HASH_LEN];
	for (int i = 0; i < N; i++) {
		rand_bytes(hashes[i], DS_HASH_LEN);
		ds_merkle_leaf_hash(leaves[i], hashes[i], DS_HASH_LEN);
	}
	struct ds_verified_header vh;
	memset(&vh, 0, sizeof(vh));
	make_header(&vh.h, N, NULL);
	ds_merkle_root_array(vh.h.history_root, (const uint8_t(*)[DS_HASH_LEN])leaves, N);
	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t(*)[DS_HASH_LEN])leaves);
	char why[256];
	for (uint64_t i = 0; i < N; i++) {
		uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
		size_t pl;
		assert_int_equal(ds_merkle_inclusion_proof(path, &pl, &src, i, N), 0);
		assert_int_equal(ds_verify_history(&vh, i, hashes[i], (const uint8_t(*)[DS_HASH_LEN])path,
						   pl, why, sizeof(why)), 0);
		assert_int_equal(ds_verify_history(&vh, i, hashes[(i + 1) % N],
						   (const uint8_t(*)[DS_HASH_LEN])path, pl, why, sizeof(why)),
				 DS_EPROOF);
		if (pl) {
			assert_int_equal(ds_verify_history(&vh, i, hashes[i], (const uint8_t(*)[DS_HASH_LEN])path,
							   pl - 1, why, sizeof(why)), DS_EPROOF);
		}
	}
	uint8_t path[1][DS_HASH_LEN];
	assert_int_equal(ds_verify_history(&vh, N, hashes[0], (const uint8_t(*)[DS_HASH_LEN])path, 0, why,
					   sizeof(why)), DS_EPROOF);
}


/* ---- epoch handoff: a real 2-epoch chain (epoch_fixture.h, as in
 * test_chain_epoch.c). Genesis holds sys/valset (epoch 0, the kit's 4 keys)
 * and a pending sys/valset/next {epoch rec_epoch, since 3, 4 new keys}; with
 * rec_epoch 1, block 4 (exec_height 3) is the epoch end X, committed by a QC
 * on suffix block S_2, and block 5 starts epoch 1. X holds x_txs txs. */

/* Blocks 1..3, then X = block 4 committed through suffix S_1, S_2; with
 * rec_epoch 1 also block 5 (the first of epoch 1). */
static struct ef *ep_new(int64_t rec_epoch, uint32_t x_txs)
{
	struct ef *f = ef_new_epoch("verify-epoch", rec_epoch);
	for (int i = 0; i < 3; i++)
		ef_commit_next(f, 2);
	ef_next_block(f, x_txs);
	if (rec_epoch != 1) {
		assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);
		return f;
	}
	/* X's QC names S_2: the suffix is the finality evidence of X. */
	struct ds_header x;
	ef_block_header(f, &x);
	assert_int_equal(x.epoch, 0);
	assert_int_equal(x.exec_height, EF_SINCE);
	uint8_t xh[DS_HASH_LEN], hk[DS_HASH_LEN], sfx[EF_SUFFIX_CAP];
	assert_int_equal(ds_header_hash(xh, &x), 0);
	size_t sl = ef_suffix(sfx, sizeof(sfx), &x, xh, 2, hk, NULL);
	struct ds_qc q;
	ef_qc_naming(f, &q, &x, 2, hk);
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, &q, NULL, sfx, sl), 0);
	ef_commit_next(f, 1);
	return f;
}

/* What a node serves for a handoff at block `height`: the header, its QC,
 * the linking (suffix) headers, and sys/valset/next with its proof at the
 * header's exec_height. */
struct ep_bytes {
	uint8_t he[DS_HEADER_MAX];
	size_t hn;
	struct ds_buf qc, sfx;
	struct ds_iov chain[DS_VERIFY_CHAIN_MAX];
	size_t nchain;
	struct ds_chain_state_proof sp;
};

static void ep_bytes(struct ef *f, uint64_t height, struct ep_bytes *o)
{
	struct ds_buf blk;
	ds_buf_init(&blk);
	ds_buf_init(&o->qc);
	ds_buf_init(&o->sfx);
	assert_int_equal(ds_chain_block(f->c, height, &blk, &o->qc), 0);
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, blk.data, blk.len), 0);
	assert_int_equal(ds_header_encode(o->he, sizeof(o->he), &o->hn, &b.header), 0);
	assert_int_equal(ds_chain_suffix(f->c, height, &o->sfx), 0);
	o->nchain = 0;
	struct ds_dec d;
	ds_dec_init(&d, o->sfx.data, o->sfx.len);
	while (o->sfx.len && !d.err && d.pos < d.len) {
		const uint8_t *p;
		size_t n;
		ds_dec_bytes(&d, &p, &n, DS_HEADER_MAX);
		assert_false(d.err);
		o->chain[o->nchain++] = (struct ds_iov){p, n};
	}
	ds_chain_state_proof_init(&o->sp);
	assert_int_equal(ds_chain_state_get(f->c, (const uint8_t *)DS_VERIFY_VALSET_NEXT_KEY,
					    strlen(DS_VERIFY_VALSET_NEXT_KEY), b.header.exec_height, &o->sp), 0);
	ds_buf_free(&blk);
}

static void ep_bytes_free(struct ep_bytes *o)
{
	ds_buf_free(&o->qc);
	ds_buf_free(&o->sfx);
	ds_chain_state_proof_free(&o->sp);
}

static void ep_trust0(struct ef *f, struct ds_verify_trust *t)
{
	uint8_t pks[DS__KIT_VALS][DS_PK_LEN];
	for (size_t i = 0; i < DS__KIT_VALS; i++)
		memcpy(pks[i], f->kit.g.valset.v[i].pk, DS_PK_LEN);
	assert_int_equal(ds_verify_trust_init(t, f->kit.g.chain_id, 0, (const uint8_t(*)[DS_PK_LEN])pks,
					      DS__KIT_VALS), 0);
}

/* Calls the handoff on b (value/proof possibly replaced) and expects rc; a
 * refusal leaves the trust as it was and names a reason containing want. */
static void ep_expect(struct ef *f, const struct ep_bytes *b, const uint8_t *qc, size_t qn, size_t nchain,
		      const uint8_t *val, size_t vl, const uint8_t *proof, size_t pl, int rc,
		      const char *want)
{
	struct ds_verify_trust t, before;
	ep_trust0(f, &t);
	before = t;
	struct ds_verified_header end;
	char why[512] = "";
	int got = ds_verify_handoff(&t, &end, b->he, b->hn, qc, qn, b->chain, nchain, val, vl, proof, pl,
				   why, sizeof(why));
	printf("# handoff (%s): %s\n", want, got ? why : "accepted");
	assert_int_equal(got, rc);
	assert_non_null(strstr(why, want));
	assert_memory_equal(&t, &before, sizeof(t));
}

static void test_handoff(void **state)
{
	(void)state;
	struct ef *f = ep_new(1, 0);
	static struct ep_bytes x;
	ep_bytes(f, 4, &x);
	assert_int_equal(x.nchain, 2);
	assert_true(x.sp.found);
	assert_int_equal(x.sp.version, EF_SINCE);

	/* The real bytes: the trust moves to epoch 1 with the new keys. */
	struct ds_verify_trust t;
	ep_trust0(f, &t);
	struct ds_verified_header end;
	char why[512] = "";
	int rc = ds_verify_handoff(&t, &end, x.he, x.hn, x.qc.data, x.qc.len, x.chain, x.nchain,
				   x.sp.value.data, x.sp.value.len, x.sp.proof.data, x.sp.proof.len, why,
				   sizeof(why));
	if (rc)
		printf("# %s\n", why);
	assert_int_equal(rc, 0);
	assert_int_equal(end.h.height, 4);
	assert_int_equal(end.final_via, 6);
	assert_int_equal(t.vs.epoch, 1);
	assert_int_equal(t.vs.n, EF_NEWV);
	for (uint32_t i = 0; i < EF_NEWV; i++) {
		assert_memory_equal(t.vs.v[i].pk, f->new_pk[i], DS_PK_LEN);
		assert_int_equal(t.vs.v[i].power, 1);
	}
	assert_string_equal(t.chain_id, f->kit.g.chain_id);

	/* Block 5, the first of epoch 1, verifies under the new trust (its
	 * valset_hash names exactly that set), not under the old one. */
	static struct ep_bytes b5;
	ep_bytes(f, 5, &b5);
	struct ds_verified_header vh;
	assert_int_equal(ds_verify_header(&vh, &t, b5.he, b5.hn, b5.qc.data, b5.qc.len, NULL, 0, why,
					  sizeof(why)), 0);
	assert_int_equal(vh.h.epoch, 1);
	struct ds_verify_trust t0;
	ep_trust0(f, &t0);
	assert_int_equal(ds_verify_header(&vh, &t0, b5.he, b5.hn, b5.qc.data, b5.qc.len, NULL, 0, why,
					  sizeof(why)), DS_EPROOF);
	/* Epoch 1's own trust cannot hand off from an epoch-0 block again. */
	assert_int_not_equal(ds_verify_handoff(&t, &end, x.he, x.hn, x.qc.data, x.qc.len, x.chain,
					       x.nchain, x.sp.value.data, x.sp.value.len, x.sp.proof.data,
					       x.sp.proof.len, why, sizeof(why)), 0);
	assert_int_equal(t.vs.epoch, 1);

	/* A tampered value, one byte at a time: the proof no longer holds. */
	uint8_t val[2048];
	size_t vl = x.sp.value.len;
	assert_true(vl <= sizeof(val));
	for (size_t i = 0; i < vl; i += 23) {
		memcpy(val, x.sp.value.data, vl);
		val[i] ^= 0x04;
		ep_expect(f, &x, x.qc.data, x.qc.len, x.nchain, val, vl, x.sp.proof.data, x.sp.proof.len,
			  DS_EPROOF, "sys/valset/next at block 4");
	}
	/* The value cut short, a tampered proof, no value at all. */
	ep_expect(f, &x, x.qc.data, x.qc.len, x.nchain, x.sp.value.data, vl - 1, x.sp.proof.data,
		  x.sp.proof.len, DS_EPROOF, "state proof does not show this value");
	uint8_t pr[DS_SMT_PROOF_ENC_MAX];
	memcpy(pr, x.sp.proof.data, x.sp.proof.len);
	pr[x.sp.proof.len - 1] ^= 0x01;
	struct ds_verify_trust tt;
	ep_trust0(f, &tt);
	assert_int_not_equal(ds_verify_handoff(&tt, NULL, x.he, x.hn, x.qc.data, x.qc.len, x.chain,
					       x.nchain, x.sp.value.data, vl, pr, x.sp.proof.len, why,
					       sizeof(why)), 0);
	assert_int_equal(tt.vs.epoch, 0);
	ep_expect(f, &x, x.qc.data, x.qc.len, x.nchain, NULL, 0, x.sp.proof.data, x.sp.proof.len,
		  DS_EPROOF, "no pending validator change");

	/* The suffix missing, or cut to S_1: X is not shown final. */
	ep_expect(f, &x, x.qc.data, x.qc.len, 0, x.sp.value.data, vl, x.sp.proof.data, x.sp.proof.len,
		  DS_EPROOF, "end block: QC commits height 6 but 0 linking headers");
	ep_expect(f, &x, x.qc.data, x.qc.len, 1, x.sp.value.data, vl, x.sp.proof.data, x.sp.proof.len,
		  DS_EPROOF, "end block: QC commits height 6 but 1 linking headers");

	/* X's QC re-signed by the new set (not trusted in epoch 0). */
	static struct ds_qc q;
	assert_int_equal(ds_qc_decode(&q, x.qc.data, x.qc.len), 0);
	ef_sign_qc(&q, f->kit.g.chain_id, ef_signers(f, 1));
	uint8_t qe[DS_QC_MAX];
	size_t qn;
	assert_int_equal(ds_qc_encode(qe, sizeof(qe), &qn, &q), 0);
	ep_expect(f, &x, qe, qn, x.nchain, x.sp.value.data, vl, x.sp.proof.data, x.sp.proof.len, DS_ESIG,
		  "end block: QC signature of validator 0 does not verify");

	/* Block 2 (exec_height 1) holds the genesis record too, but the change
	 * it names comes from height 3: block 2 is not past it. */
	static struct ep_bytes b2;
	ep_bytes(f, 2, &b2);
	assert_true(b2.sp.found);
	assert_int_equal(b2.sp.version, 1);
	ep_expect(f, &b2, b2.qc.data, b2.qc.len, 0, b2.sp.value.data, b2.sp.value.len, b2.sp.proof.data,
		  b2.sp.proof.len, DS_EPROOF, "since height 3 is above block 2's executed height 1");
	/* The proof of block 4's state against block 2: wrong version/root. */
	ep_expect(f, &b2, b2.qc.data, b2.qc.len, 0, x.sp.value.data, vl, x.sp.proof.data, x.sp.proof.len,
		  DS_EPROOF, "sys/valset/next at block 2");

	ep_bytes_free(&b2);
	ep_bytes_free(&b5);
	ep_bytes_free(&x);
	ef_free(f);
}

/* A proven record that is not for the next epoch (epoch 2 while the chain
 * is in epoch 0: the chain never changes, the client must not either). */
static void test_handoff_wrong_epoch(void **state)
{
	(void)state;
	struct ef *f = ep_new(2, 0);
	static struct ep_bytes x;
	ep_bytes(f, 4, &x);
	assert_true(x.sp.found);
	ep_expect(f, &x, x.qc.data, x.qc.len, 0, x.sp.value.data, x.sp.value.len, x.sp.proof.data,
		  x.sp.proof.len, DS_EPROOF, "the pending change is for epoch 2, not 1");
	ep_bytes_free(&x);
	ef_free(f);
}

/* ---- receipts (PROTOCOL §14.7) ---------------------------------------- */

/* A committed header as served: its encoding and its QC encoding. */
struct rp_hdr {
	uint8_t he[DS_HEADER_MAX];
	size_t hn;
	struct ds_buf qc;
};

static void rp_hdr(struct ef *f, uint64_t height, struct rp_hdr *o)
{
	struct ds_buf blk;
	ds_buf_init(&blk);
	ds_buf_init(&o->qc);
	assert_int_equal(ds_chain_block(f->c, height, &blk, &o->qc), 0);
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, blk.data, blk.len), 0);
	assert_int_equal(ds_header_encode(o->he, sizeof(o->he), &o->hn, &b.header), 0);
	ds_buf_free(&blk);
}

/* Tx `index` of block `height`: its id (from the stored block). */
static void rp_tx_id(struct ef *f, uint64_t height, uint32_t index, uint8_t id[DS_HASH_LEN])
{
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	assert_int_equal(ds_chain_block(f->c, height, &blk, &qc), 0);
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, blk.data, blk.len), 0);
	size_t pos = 0;
	const uint8_t *tx;
	size_t tl;
	for (uint32_t i = 0; ds_block_tx_next(&b, &pos, &tx, &tl) == 1; i++)
		if (i == index)
			ds_tx_id_body(id, tx, tl - DS_SIG_LEN);
	ds_buf_free(&blk);
	ds_buf_free(&qc);
}

static int rp_verify_range(const struct ds_verify_trust *t, const struct ds_verified_header *vb,
			   const uint8_t id[DS_HASH_LEN], uint64_t index, const uint8_t *rb, size_t rl,
			   const uint8_t (*path)[DS_HASH_LEN], size_t pl, const struct ds_verify_range *range,
			   const struct rp_hdr *c, struct ds_receipt *out, char *why, size_t cap)
{
	struct ds_verified_header ch;
	why[0] = 0;
	int rc = ds_verify_receipt(out, &ch, t, vb, id, index, rb, rl, path, pl, range, c->he, c->hn,
				   c->qc.data, c->qc.len, NULL, 0, why, cap);
	printf("# receipt %" PRIu64 ": %s\n", index, rc ? why : "accepted");
	return rc;
}

static int rp_verify(const struct ds_verify_trust *t, const struct ds_verified_header *vb,
		     const uint8_t id[DS_HASH_LEN], uint64_t index, const uint8_t *rb, size_t rl,
		     const uint8_t (*path)[DS_HASH_LEN], size_t pl, const struct rp_hdr *c,
		     struct ds_receipt *out, char *why, size_t cap)
{
	struct ds_verified_header ch;
	why[0] = 0;
	int rc = ds_verify_receipt(out, &ch, t, vb, id, index, rb, rl, path, pl, NULL, c->he, c->hn,
				   c->qc.data, c->qc.len, NULL, 0, why, cap);
	printf("# receipt %" PRIu64 ": %s\n", index, rc ? why : "accepted");
	return rc;
}

static void test_receipt(void **state)
{
	(void)state;
	struct ef *f = ef_new("verify-receipt", 0);
	/* 33 txs: the 32nd is a failing call (a failed receipt), odd tree. */
	ef_commit_next(f, 33);
	const uint32_t n = 33;

	/* Block 1 alone: no header carries its results yet. */
	struct ds_chain_receipt_proof rp;
	ds_chain_receipt_proof_init(&rp);
	assert_int_equal(ds_chain_receipt_proof(f->c, 1, 0, &rp), 0);
	assert_int_equal(rp.header_height, 0);
	ds_chain_receipt_proof_free(&rp);
	ef_commit_next(f, 1); /* block 2: exec_height 1 */
	ef_commit_next(f, 1); /* block 3: exec_height 2 */

	struct ds_verify_trust t;
	ep_trust0(f, &t);
	static struct rp_hdr b1, c2, c3;
	rp_hdr(f, 1, &b1);
	rp_hdr(f, 2, &c2);
	rp_hdr(f, 3, &c3);
	struct ds_verified_header vb;
	char why[512];
	assert_int_equal(ds_verify_header(&vb, &t, b1.he, b1.hn, b1.qc.data, b1.qc.len, NULL, 0, why,
					  sizeof(why)), 0);
	assert_int_equal(vb.h.tx_count, n);
	static struct ds_receipt r;
	bool saw_failed = false;
	for (uint32_t i = 0; i < n; i++) {
		ds_chain_receipt_proof_init(&rp);
		assert_int_equal(ds_chain_receipt_proof(f->c, 1, i, &rp), 0);
		assert_int_equal(rp.header_height, 2);
		assert_int_equal(rp.tree_size, n);
		const uint8_t(*path)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])rp.proof.data;
		size_t pl = rp.proof.len / DS_HASH_LEN;
		uint8_t id[DS_HASH_LEN];
		rp_tx_id(f, 1, i, id);
		/* The real proof. */
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl, &c2, &r,
					   why, sizeof(why)), 0);
		assert_memory_equal(r.tx_id, id, DS_HASH_LEN);
		if (r.status == DS_TX_FAILED) {
			saw_failed = true;
			assert_int_equal(i, 31);
		}
		if (i % 8 != 1 && i != 31) {
			ds_chain_receipt_proof_free(&rp);
			continue;
		}
		/* The receipt tampered: every 7th byte flipped in turn. */
		static uint8_t rb[4096]; /* the kit's receipts are small */
		assert_true(rp.receipt.len <= sizeof(rb));
		for (size_t k = 0; k < rp.receipt.len; k += 7) {
			memcpy(rb, rp.receipt.data, rp.receipt.len);
			rb[k] ^= 0x01;
			assert_int_equal(rp_verify(&t, &vb, id, i, rb, rp.receipt.len, path, pl, &c2, NULL, why,
						   sizeof(why)), DS_EPROOF);
			assert_non_null(strstr(why, "does not lead to the results_root of header 2"));
		}
		/* The proof tampered, wrong index, another tx's receipt. */
		uint8_t pth[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
		memcpy(pth, path, pl * DS_HASH_LEN);
		pth[pl - 1][5] ^= 0x80;
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len,
					   (const uint8_t(*)[DS_HASH_LEN])pth, pl, &c2, NULL, why, sizeof(why)),
				 DS_EPROOF);
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl - 1, &c2,
					   NULL, why, sizeof(why)), DS_EPROOF);
		assert_int_equal(rp_verify(&t, &vb, id, (i + 1) % n, rp.receipt.data, rp.receipt.len, path, pl,
					   &c2, NULL, why, sizeof(why)), DS_EPROOF);
		assert_int_equal(rp_verify(&t, &vb, id, n, rp.receipt.data, rp.receipt.len, path, pl, &c2,
					   NULL, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "outside the block's 33 txs"));
		uint8_t other[DS_HASH_LEN];
		rp_tx_id(f, 1, (i + 1) % n, other);
		assert_int_equal(rp_verify(&t, &vb, other, i, rp.receipt.data, rp.receipt.len, path, pl, &c2,
					   NULL, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "receipt is for tx"));
		/* Header 3 is certified too, but carries block 2's results. */
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl, &c3,
					   NULL, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "header 3 carries the results of blocks 2..2"));
		/* The carrying header tampered (its QC then names another
		 * block), its QC tampered, or no QC. */
		static struct rp_hdr bad;
		bad = c2;
		for (size_t k = 0; k < c2.hn; k += 11) {
			memcpy(bad.he, c2.he, c2.hn);
			bad.he[k] ^= 0x02;
			assert_int_not_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl,
						       &bad, NULL, why, sizeof(why)), 0);
			assert_non_null(strstr(why, "receipt"));
		}
		static uint8_t qb[DS_QC_MAX];
		memcpy(qb, c2.qc.data, c2.qc.len);
		qb[c2.qc.len - 3] ^= 0x01;
		bad = c2;
		bad.qc.data = qb;
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl, &bad,
					   NULL, why, sizeof(why)), DS_ESIG);
		bad.qc.len = 0;
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl, &bad,
					   NULL, why, sizeof(why)), DS_EPROOF);
		/* Another validator set. */
		struct ds_verify_trust other_t;
		assert_int_equal(ds_verify_trust_init(&other_t, f->kit.g.chain_id, 0,
						      (const uint8_t(*)[DS_PK_LEN])g_pk, NVAL), 0);
		assert_int_not_equal(rp_verify(&other_t, &vb, id, i, rp.receipt.data, rp.receipt.len, path,
					       pl, &c2, NULL, why, sizeof(why)), 0);
		ds_chain_receipt_proof_free(&rp);
	}
	assert_true(saw_failed);
	/* Out of range index, no such block. */
	ds_chain_receipt_proof_init(&rp);
	assert_int_equal(ds_chain_receipt_proof(f->c, 1, n, &rp), DS_ERANGE);
	assert_int_equal(ds_chain_receipt_proof(f->c, 9, 0, &rp), DS_ENOTFOUND);
	ds_chain_receipt_proof_free(&rp);
	ds_buf_free(&b1.qc);
	ds_buf_free(&c2.qc);
	ds_buf_free(&c3.qc);
	ef_free(f);
}

/* exec_height may jump (a proposer whose committed tip moved by two): the
 * first header past a block then carries the range root over every block
 * it executes (PROTOCOL §5.3), and the receipts of each stay provable. */
static void test_receipt_range(void **state)
{
	(void)state;
	struct ef *f = ef_new("verify-receipt-range", 0);
	ef_commit_next(f, 5); /* block 1 */
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	struct ds_header h;
	assert_int_equal(ds_chain_next_header(f->c, &h, &tip.header, tip.hash, NULL, 0), 0);
	h.round = tip.header.round + 1;
	h.time_ms = tip.header.time_ms + 1000;
	memcpy(h.proposer, f->kit.g.valset.v[0].pk, DS_PK_LEN);
	h.exec_height = 0; /* block 2 still carries the state after genesis */
	assert_int_equal(ds_chain_exec_roots(f->c, 0, h.state_root, h.results_root), 0);
	assert_int_equal(ds__kit_seal(&f->kit, &h, NULL, 0, &f->block, &f->qc), 0);
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);
	struct ds_chain_receipt_proof rp;
	ds_chain_receipt_proof_init(&rp);
	assert_int_equal(ds_chain_receipt_proof(f->c, 1, 1, &rp), 0);
	assert_int_equal(rp.header_height, 0); /* the next header will carry it */
	ds_chain_receipt_proof_free(&rp);

	/* Block 3 executes blocks 1 and 2: its results root is the range
	 * root, and a header carrying block 2's own root is refused. */
	ef_next_block(f, 1);
	struct ds_header h3, h2;
	uint8_t h2hash[DS_HASH_LEN];
	ef_block_header(f, &h3);
	assert_int_equal(h3.exec_height, 2);
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	h2 = tip.header;
	memcpy(h2hash, tip.hash, DS_HASH_LEN);
	const char *cwhy = NULL;
	assert_int_equal(ds_chain_check_header(f->c, &h3, &h2, h2hash, NULL, 0, &cwhy), 0);
	uint8_t br[2][DS_HASH_LEN], sr[DS_HASH_LEN], want[DS_HASH_LEN];
	assert_int_equal(ds_chain_exec_roots(f->c, 1, sr, br[0]), 0);
	assert_int_equal(ds_chain_exec_roots(f->c, 2, sr, br[1]), 0);
	assert_int_equal(ds_results_range_root(want, (const uint8_t(*)[DS_HASH_LEN])br, 2), 0);
	assert_memory_equal(h3.results_root, want, DS_HASH_LEN);
	struct ds_header bad3 = h3;
	memcpy(bad3.results_root, br[1], DS_HASH_LEN);
	assert_int_equal(ds_chain_check_header(f->c, &bad3, &h2, h2hash, NULL, 0, &cwhy), DS_EINVAL);
	assert_string_equal(cwhy, "results root does not match execution");
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);

	struct ds_verify_trust t;
	ep_trust0(f, &t);
	static struct rp_hdr b1, p2, c3;
	rp_hdr(f, 1, &b1);
	rp_hdr(f, 2, &p2);
	rp_hdr(f, 3, &c3);
	struct ds_verified_header vb;
	char why[512];
	assert_int_equal(ds_verify_header(&vb, &t, b1.he, b1.hn, b1.qc.data, b1.qc.len, NULL, 0, why,
					  sizeof(why)), 0);
	for (uint32_t i = 0; i < 5; i++) {
		ds_chain_receipt_proof_init(&rp);
		assert_int_equal(ds_chain_receipt_proof(f->c, 1, i, &rp), 0);
		assert_int_equal(rp.header_height, 3);
		assert_int_equal(rp.range_first, 1);
		assert_int_equal(rp.range_last, 2);
		assert_int_equal(rp.range_proof.len, DS_HASH_LEN); /* leaf 0 of 2 */
		const uint8_t(*path)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])rp.proof.data;
		size_t pl = rp.proof.len / DS_HASH_LEN;
		uint8_t id[DS_HASH_LEN];
		rp_tx_id(f, 1, i, id);
		struct ds_verify_range range = {
			.parent = p2.he,
			.parent_len = p2.hn,
			.path = (const uint8_t(*)[DS_HASH_LEN])rp.range_proof.data,
			.path_len = 1,
		};
		static struct ds_receipt r;
		assert_int_equal(rp_verify_range(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl,
						 &range, &c3, &r, why, sizeof(why)), 0);
		assert_memory_equal(r.tx_id, id, DS_HASH_LEN);
		/* Without the range, header 3 does not vouch for block 1. */
		assert_int_equal(rp_verify(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl, &c3,
					   NULL, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "carries the results of blocks 2..2"));
		/* Another header as the parent (block 1's: the range would then
		 * seem to be block 2 alone). */
		struct ds_verify_range wrong = range;
		wrong.parent = b1.he;
		wrong.parent_len = b1.hn;
		assert_int_equal(rp_verify_range(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl,
						 &wrong, &c3, NULL, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "not the parent of header 3"));
		/* The parent header tampered: it no longer hashes to C's parent. */
		static uint8_t pb[DS_HEADER_MAX];
		memcpy(pb, p2.he, p2.hn);
		pb[p2.hn - 1] ^= 0x01;
		wrong = range;
		wrong.parent = pb;
		assert_int_equal(rp_verify_range(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl,
						 &wrong, &c3, NULL, why, sizeof(why)), DS_EPROOF);
		/* The range path tampered, cut, or the receipt changed. */
		uint8_t rpth[1][DS_HASH_LEN];
		memcpy(rpth, rp.range_proof.data, DS_HASH_LEN);
		rpth[0][9] ^= 0x10;
		wrong = range;
		wrong.path = (const uint8_t(*)[DS_HASH_LEN])rpth;
		assert_int_equal(rp_verify_range(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl,
						 &wrong, &c3, NULL, why, sizeof(why)), DS_EPROOF);
		assert_non_null(strstr(why, "do not lead to the range root of header 3"));
		wrong = range;
		wrong.path_len = 0;
		assert_int_equal(rp_verify_range(&t, &vb, id, i, rp.receipt.data, rp.receipt.len, path, pl,
						 &wrong, &c3, NULL, why, sizeof(why)), DS_EPROOF);
		static uint8_t rb[4096];
		assert_true(rp.receipt.len <= sizeof(rb));
		memcpy(rb, rp.receipt.data, rp.receipt.len);
		rb[rp.receipt.len / 2] ^= 0x04;
		assert_int_equal(rp_verify_range(&t, &vb, id, i, rb, rp.receipt.len, path, pl, &range, &c3,
						 NULL, why, sizeof(why)), DS_EPROOF);
		/* Another index of the same block. */
		assert_int_equal(rp_verify_range(&t, &vb, id, (i + 1) % 5, rp.receipt.data, rp.receipt.len,
						 path, pl, &range, &c3, NULL, why, sizeof(why)), DS_EPROOF);
		ds_chain_receipt_proof_free(&rp);
	}
	/* Block 2 (no txs) is the range's last block: its exec_ref header is
	 * 3 too; block 3's own results wait for the next header. */
	ds_chain_receipt_proof_init(&rp);
	assert_int_equal(ds_chain_receipt_proof(f->c, 2, 0, &rp), DS_ERANGE);
	ds_chain_receipt_proof_free(&rp);
	ef_commit_next(f, 2); /* block 4: exec_height 3, one block */
	ds_chain_receipt_proof_init(&rp);
	assert_int_equal(ds_chain_receipt_proof(f->c, 3, 0, &rp), 0);
	assert_int_equal(rp.header_height, 4);
	assert_int_equal(rp.range_first, 3);
	assert_int_equal(rp.range_last, 3);
	assert_int_equal(rp.range_proof.len, 0);
	ds_chain_receipt_proof_free(&rp);
	ds_buf_free(&b1.qc);
	ds_buf_free(&p2.qc);
	ds_buf_free(&c3.qc);
	ef_free(f);
}

/* The receipts of an epoch's end block X are carried by the first block of
 * the next epoch: proven only with the trust handed off to that epoch. */
static void test_receipt_next_epoch(void **state)
{
	(void)state;
	struct ef *f = ep_new(1, 3);
	static struct ep_bytes x;
	ep_bytes(f, 4, &x);
	struct ds_verify_trust t;
	ep_trust0(f, &t);
	struct ds_verified_header vx;
	char why[512];
	assert_int_equal(ds_verify_header(&vx, &t, x.he, x.hn, x.qc.data, x.qc.len, x.chain, x.nchain, why,
					  sizeof(why)), 0);
	assert_int_equal(vx.h.tx_count, 3);
	struct ds_chain_receipt_proof rp;
	ds_chain_receipt_proof_init(&rp);
	assert_int_equal(ds_chain_receipt_proof(f->c, 4, 2, &rp), 0);
	assert_int_equal(rp.header_height, 5);
	static struct rp_hdr c5;
	rp_hdr(f, 5, &c5);
	uint8_t id[DS_HASH_LEN];
	rp_tx_id(f, 4, 2, id);
	const uint8_t(*path)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])rp.proof.data;
	size_t pl = rp.proof.len / DS_HASH_LEN;
	/* Epoch 0's set cannot certify block 5. */
	assert_int_equal(rp_verify(&t, &vx, id, 2, rp.receipt.data, rp.receipt.len, path, pl, &c5, NULL, why,
				   sizeof(why)), DS_EPROOF);
	assert_non_null(strstr(why, "header is from epoch 1, trusted validator set is epoch 0"));
	/* Handed off to epoch 1, it does. */
	assert_int_equal(ds_verify_handoff(&t, NULL, x.he, x.hn, x.qc.data, x.qc.len, x.chain, x.nchain,
					   x.sp.value.data, x.sp.value.len, x.sp.proof.data, x.sp.proof.len,
					   why, sizeof(why)), 0);
	static struct ds_receipt r;
	assert_int_equal(rp_verify(&t, &vx, id, 2, rp.receipt.data, rp.receipt.len, path, pl, &c5, &r, why,
				   sizeof(why)), 0);
	assert_memory_equal(r.tx_id, id, DS_HASH_LEN);
	ds_chain_receipt_proof_free(&rp);
	ds_buf_free(&c5.qc);
	ep_bytes_free(&x);
	ef_free(f);
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	g_rs = tu_seed();
	keys_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_direct),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_header_descendant_chain),
		cmocka_unit_test(test_tx_inclusion),
		cmocka_unit_test(test_state_proof),
		cmocka_unit_test(test_history_proof),
		cmocka_unit_test(test_handoff),
		cmocka_unit_test(test_handoff_wrong_epoch),
		cmocka_unit_test(test_receipt),
		cmocka_unit_test(test_receipt_range),
		cmocka_unit_test(test_receipt_next_epoch),
	};
	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
