/* verify: headers certified by a trusted quorum, tx inclusion, state and
 * history proofs, built here from real keys, QCs and trees; every check is
 * also shown to fail on a tampered input. */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
	};
	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
