/* chain: genesis, commit, reads with proofs, refusals, pruning, reopen,
 * verify-chain and corruption detection. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain_int.h"
#include "codec/codec.h"
#include "crypto/crypto.h"

struct fx {
	char *dir;
	struct ds__kit kit;
	struct ds_chain *c;
	struct ds_buf block;
	struct ds_qc qc;
	uint64_t rng;
};

static const struct ds_chain_options fast = {.no_sync = true};

static struct fx *fx_new(uint64_t retain)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = tu_tmpdir("chain");
	assert_int_equal(ds__kit_init(&f->kit, "test-chain", retain, 0), 0);
	assert_int_equal(ds_chain_open(&f->c, f->dir, &f->kit.g, &fast), 0);
	ds_buf_init(&f->block);
	f->rng = tu_seed() | 1;
	return f;
}

static void fx_free(struct fx *f)
{
	ds_chain_close(f->c);
	ds__kit_free(&f->kit);
	ds_buf_free(&f->block);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
}

static void commit_n(struct fx *f, int blocks, uint32_t ntx, uint64_t key_space)
{
	for (int i = 0; i < blocks; i++) {
		assert_int_equal(ds__kit_block(&f->kit, f->c, ntx, key_space, &f->rng, &f->block, &f->qc), 0);
		assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);
	}
}

static int setup(void **state)
{
	assert_int_equal(ds_crypto_init(), 0);
	(void)state;
	return 0;
}

static void test_genesis_and_reopen(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_int_equal(tip.height, 0);
	uint8_t gh[DS_HASH_LEN];
	ds_chain_genesis_hash(f->c, gh);
	assert_memory_equal(gh, tip.hash, DS_HASH_LEN);
	struct ds_buf v;
	ds_buf_init(&v);
	assert_int_equal(ds_chain_state_value(f->c, (const uint8_t *)DS__PARAMS_KEY,
					      strlen(DS__PARAMS_KEY), &v), 0);
	assert_int_equal(ds_value_check(v.data, v.len), 0);
	ds_buf_free(&v);
	commit_n(f, 3, 5, 10);
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_int_equal(tip.height, 3);
	assert_int_equal(tip.txs_total, 15);
	ds_chain_close(f->c);
	/* Reopen with the same genesis, with none, and with another. */
	assert_int_equal(ds_chain_open(&f->c, f->dir, &f->kit.g, &fast), 0);
	struct ds_chain_tip tip2;
	assert_int_equal(ds_chain_tip(f->c, &tip2), 0);
	assert_int_equal(tip2.height, 3);
	assert_memory_equal(tip.hash, tip2.hash, DS_HASH_LEN);
	ds_chain_close(f->c);
	assert_int_equal(ds_chain_open(&f->c, f->dir, NULL, &fast), 0);
	ds_chain_close(f->c);
	struct ds_genesis other = f->kit.g;
	other.time_ms++;
	assert_int_equal(ds_chain_open(&f->c, f->dir, &other, &fast), DS_ECHAIN);
	assert_int_equal(ds_chain_open(&f->c, f->dir, NULL, &fast), 0);
	fx_free(f);
}

static void test_commit_and_proofs(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	commit_n(f, 4, 40, 30);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_int_equal(tip.height, 4);
	/* Headers chain and carry the lagged exec roots. */
	for (uint64_t h = 1; h <= 4; h++) {
		struct ds_buf b, q;
		ds_buf_init(&b);
		ds_buf_init(&q);
		assert_int_equal(ds_chain_block(f->c, h, &b, &q), 0);
		struct ds_block blk;
		assert_int_equal(ds_block_decode(&blk, b.data, b.len), 0);
		assert_int_equal(blk.header.exec_height, h - 1);
		uint8_t sr[DS_HASH_LEN], rr[DS_HASH_LEN];
		assert_int_equal(ds_chain_exec_roots(f->c, h - 1, sr, rr), 0);
		assert_memory_equal(sr, blk.header.state_root, DS_HASH_LEN);
		assert_memory_equal(rr, blk.header.results_root, DS_HASH_LEN);
		struct ds_qc qc;
		assert_int_equal(ds_qc_decode(&qc, q.data, q.len), 0);
		uint8_t hh[DS_HASH_LEN];
		assert_int_equal(ds_header_hash(hh, &blk.header), 0);
		uint64_t hgt;
		assert_int_equal(ds_chain_height_of(f->c, hh, &hgt), 0);
		assert_int_equal(hgt, h);
		assert_memory_equal(qc.vote.commit_hash, hh, DS_HASH_LEN);

		/* Every accepted tx: inclusion proof and receipt. */
		size_t pos = 0;
		const uint8_t *tx;
		size_t txl;
		for (uint32_t i = 0; ds_block_tx_next(&blk, &pos, &tx, &txl) == 1; i++) {
			uint8_t id[DS_HASH_LEN], leaf[DS_HASH_LEN];
			ds_tx_id_body(id, tx, txl - DS_SIG_LEN);
			struct ds_chain_txinfo ti;
			ds_chain_txinfo_init(&ti);
			assert_int_equal(ds_chain_tx(f->c, id, &ti), 0);
			assert_int_equal(ti.height, h);
			assert_int_equal(ti.index, i);
			assert_true(ti.executed);
			assert_int_equal(ti.tx.len, txl);
			ds_merkle_leaf_hash(leaf, id, DS_HASH_LEN);
			assert_int_equal(ds_merkle_verify_inclusion(blk.header.tx_root, ti.tx_count, i, leaf,
								    (const uint8_t(*)[DS_HASH_LEN])ti.proof.data,
								    ti.proof.len / DS_HASH_LEN), 0);
			struct ds_receipt r;
			assert_int_equal(ds_receipt_decode(&r, ti.receipt.data, ti.receipt.len), 0);
			assert_memory_equal(r.tx_id, id, DS_HASH_LEN);
			assert_int_equal(r.status, i % 32 == 31 ? DS_TX_FAILED : DS_TX_OK);
			ds_chain_txinfo_free(&ti);
			assert_true(ds_chain_tx_seen(f->c, id));
		}
		ds_buf_free(&b);
		ds_buf_free(&q);
	}
	/* State proofs at the latest and an older version. */
	uint8_t key[64];
	memcpy(key, "kv/", 3);
	memcpy(key + 3, f->kit.user_pk, DS_PK_LEN);
	int nfound = 0;
	for (int ver = 2; ver <= 4; ver++) {
		for (int i = 0; i < 30; i++) {
			int kl = 3 + DS_PK_LEN + snprintf((char *)key + 3 + DS_PK_LEN, 20, "/k%d", i);
			struct ds_chain_state_proof sp;
			ds_chain_state_proof_init(&sp);
			uint64_t at = ver == 4 ? UINT64_MAX : (uint64_t)ver;
			assert_int_equal(ds_chain_state_get(f->c, key, (size_t)kl, at, &sp), 0);
			assert_int_equal(sp.version, (uint64_t)ver);
			struct ds_smt_proof p;
			assert_int_equal(ds_smt_proof_decode(&p, sp.proof.data, sp.proof.len), 0);
			assert_int_equal(ds_smt_verify(sp.root, key, (size_t)kl, sp.found ? sp.value.data : NULL,
						       sp.value.len, &p), 0);
			nfound += sp.found;
			/* The committing header: exec_height == version, same root. */
			if (ver < 4) {
				assert_int_equal(sp.header_height, (uint64_t)ver + 1);
				struct ds_buf b;
				ds_buf_init(&b);
				assert_int_equal(ds_chain_block(f->c, sp.header_height, &b, NULL), 0);
				struct ds_block blk;
				assert_int_equal(ds_block_decode(&blk, b.data, b.len), 0);
				assert_memory_equal(blk.header.state_root, sp.root, DS_HASH_LEN);
				ds_buf_free(&b);
			} else {
				assert_int_equal(sp.header_height, 0);
			}
			/* The fast path agrees with the proof. */
			struct ds_buf v;
			ds_buf_init(&v);
			int rc = ds_chain_state_value(f->c, key, (size_t)kl, &v);
			if (ver == 4) {
				assert_int_equal(rc, sp.found ? 0 : DS_ENOTFOUND);
				if (sp.found)
					assert_memory_equal(v.data, sp.value.data, v.len);
			}
			ds_buf_free(&v);
			ds_chain_state_proof_free(&sp);
		}
	}
	assert_true(nfound > 0);
	/* History proofs: every older block against every newer header. */
	for (uint64_t newest = 1; newest <= 4; newest++) {
		struct ds_buf b;
		ds_buf_init(&b);
		assert_int_equal(ds_chain_block(f->c, newest, &b, NULL), 0);
		struct ds_block nb;
		assert_int_equal(ds_block_decode(&nb, b.data, b.len), 0);
		for (uint64_t old = 0; old < newest; old++) {
			struct ds_buf ob, pr;
			ds_buf_init(&ob);
			ds_buf_init(&pr);
			assert_int_equal(ds_chain_block(f->c, old, &ob, NULL), 0);
			struct ds_block obk;
			assert_int_equal(ds_block_decode(&obk, ob.data, ob.len), 0);
			uint8_t oh[DS_HASH_LEN], leaf[DS_HASH_LEN];
			assert_int_equal(ds_header_hash(oh, &obk.header), 0);
			ds_merkle_leaf_hash(leaf, oh, DS_HASH_LEN);
			assert_int_equal(ds_chain_history_proof(f->c, old, newest, &pr), 0);
			assert_int_equal(ds_merkle_verify_inclusion(nb.header.history_root, newest, old, leaf,
								    (const uint8_t(*)[DS_HASH_LEN])pr.data,
								    pr.len / DS_HASH_LEN), 0);
			ds_buf_free(&ob);
			ds_buf_free(&pr);
		}
		ds_buf_free(&b);
	}
	struct ds_buf pr;
	ds_buf_init(&pr);
	assert_int_equal(ds_chain_history_proof(f->c, 4, 4, &pr), DS_ERANGE);
	assert_int_equal(ds_chain_history_proof(f->c, 1, 5, &pr), DS_ERANGE);
	ds_buf_free(&pr);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genesis_and_reopen),
		cmocka_unit_test(test_commit_and_proofs),
	};
	return cmocka_run_group_tests_name("chain", tests, setup, NULL);
}
