/* chain: validator-set epochs. The epoch rule at commit, check_header and
 * next_header, the new set certifying the first block of an epoch, epoch-end
 * suffixes, the epoch tables, and verify-chain on a multi-epoch chain.
 *
 * Genesis holds sys/valset (epoch 0, the kit's 4 keys) and a pending
 * sys/valset/next {epoch 1, height (since) 3, 4 other keys}: blocks 1..4
 * are epoch 0 (block 4, exec_height 3, is the epoch end X), block 5 starts
 * epoch 1. */
#include "epoch_fixture.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

static const struct ds_chain_options fast = {.no_sync = true};

static int setup(void **state)
{
	assert_int_equal(ds_crypto_init(), 0);
	(void)state;
	return 0;
}

/* Re-seals f->block (no txs) with header h and a QC by `sk` of epoch qepoch. */
static void reseal(struct ef *f, struct ds_header *h, uint64_t qepoch, const uint8_t (*sk)[DS_SK_LEN])
{
	assert_int_equal(ds__kit_seal(&f->kit, h, NULL, 0, &f->block, &f->qc), 0);
	f->qc.vote.epoch = qepoch;
	ef_sign_qc(&f->qc, f->kit.g.chain_id, sk);
}

static void set_hash(struct ds_header *h, const struct ds_valset *vs)
{
	assert_int_equal(ds_valset_hash(h->valset_hash, vs), 0);
}

static void test_epoch_rule(void **state)
{
	(void)state;
	struct ef *f = ef_new_epoch("test-epoch", 1);
	struct ds_chain_change ch;
	assert_int_equal(ds_chain_change(f->c, &ch), 0);
	assert_true(ch.pending);
	assert_int_equal(ch.epoch, 1);
	assert_int_equal(ch.since, EF_SINCE);
	assert_int_equal(ch.valset.n, EF_NEWV);
	assert_memory_equal(ch.valset.v[2].pk, f->new_pk[2], DS_PK_LEN);
	for (int i = 0; i < 3; i++)
		ef_commit_next(f, 3);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_false(ds_chain_past_change(&ch, &tip.header)); /* exec_height 2 */

	/* Block 4 (exec_height 3) is epoch 0; an epoch-1 block 4 is early. */
	ef_next_block(f, 0);
	struct ds_header x, h;
	ef_block_header(f, &x);
	assert_int_equal(x.epoch, 0);
	assert_int_equal(x.exec_height, EF_SINCE);
	assert_true(ds_chain_past_change(&ch, &x));
	h = x;
	h.epoch = 1;
	set_hash(&h, &f->newset);
	const char *why = NULL;
	assert_int_equal(ds_chain_check_header(f->c, &h, &tip.header, tip.hash, NULL, 0, &why), DS_EINVAL);
	assert_string_equal(why, "epoch changes before the parent's epoch has ended");
	reseal(f, &h, 1, ef_signers(f, 1));
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), DS_EINVAL);
	/* The real X; a suffix is refused when its QC names X itself. */
	h = x;
	reseal(f, &h, 0, ef_signers(f, 0));
	uint8_t junk[4] = {2, 1, 2, 3};
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, &f->qc, NULL, junk,
					     sizeof(junk)), DS_EINVAL);
	assert_int_equal(ef_tip_height(f), 3);
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);
	uint8_t xhash[DS_HASH_LEN];
	assert_int_equal(ds_header_hash(xhash, &x), 0);

	/* Block 5 starts epoch 1 with the new set. */
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	struct ds_header n5;
	assert_int_equal(ds_chain_next_header(f->c, &n5, &tip.header, tip.hash, NULL, 0), 0);
	assert_int_equal(n5.epoch, 1);
	uint8_t nh[DS_HASH_LEN];
	assert_int_equal(ds_valset_hash(nh, &f->newset), 0);
	assert_memory_equal(n5.valset_hash, nh, DS_HASH_LEN);
	ef_next_block(f, 2);
	struct ds_header good;
	ef_block_header(f, &good);
	assert_int_equal(good.epoch, 1);
	struct ds_buf good_block;
	ds_buf_init(&good_block);
	ds_buf_append(&good_block, f->block.data, f->block.len);
	struct ds_qc good_qc = f->qc;
	/* Keeping epoch 0 past the end: refused with a clear why. */
	h = good;
	h.epoch = 0;
	set_hash(&h, &f->kit.g.valset);
	h.tx_count = 0;
	why = NULL;
	assert_int_equal(ds_chain_check_header(f->c, &h, &tip.header, tip.hash, NULL, 0, &why), DS_EINVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, "must start the next epoch"));
	reseal(f, &h, 0, ef_signers(f, 0));
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), DS_EINVAL);
	/* Epoch 1 but the old set's hash. */
	h = good;
	set_hash(&h, &f->kit.g.valset);
	h.tx_count = 0;
	assert_int_equal(ds_chain_check_header(f->c, &h, &tip.header, tip.hash, NULL, 0, &why), DS_EINVAL);
	/* The right header, QC by the old set: as epoch 0, and as epoch 1. */
	struct ds_qc q = good_qc;
	q.vote.epoch = 0;
	ef_sign_qc(&q, f->kit.g.chain_id, ef_signers(f, 0));
	assert_int_equal(ds_chain_commit(f->c, good_block.data, good_block.len, &q, NULL), DS_EINVAL);
	q = good_qc;
	ef_sign_qc(&q, f->kit.g.chain_id, ef_signers(f, 0));
	assert_int_equal(ds_chain_commit(f->c, good_block.data, good_block.len, &q, NULL), DS_ESIG);
	assert_int_equal(ef_tip_height(f), 4);
	struct ds_valset vs;
	assert_int_equal(ds_chain_valset(f->c, 1, &vs), DS_ENOTFOUND);
	uint64_t root;
	assert_int_equal(ds_chain_epoch_root(f->c, 1, &root), DS_ENOTFOUND);
	assert_int_equal(ds_chain_commit(f->c, good_block.data, good_block.len, &good_qc, NULL), 0);
	ds_buf_free(&good_block);

	/* The epoch tables; the executor promoted the change. */
	assert_int_equal(ds_chain_valset(f->c, 1, &vs), 0);
	assert_int_equal(vs.epoch, 1);
	assert_int_equal(vs.n, EF_NEWV);
	assert_memory_equal(vs.v[3].pk, f->new_pk[3], DS_PK_LEN);
	assert_int_equal(ds_chain_valset(f->c, 0, &vs), 0);
	assert_memory_equal(vs.v[0].pk, f->kit.g.valset.v[0].pk, DS_PK_LEN);
	assert_int_equal(ds_chain_valset(f->c, 2, &vs), DS_ENOTFOUND);
	assert_int_equal(ds_chain_epoch_root(f->c, 0, &root), 0);
	assert_int_equal(root, 0);
	assert_int_equal(ds_chain_epoch_root(f->c, 1, &root), 0);
	assert_int_equal(root, 4);
	assert_int_equal(ds_chain_epoch_root(f->c, 2, &root), DS_ENOTFOUND);
	struct ds_buf sb;
	ds_buf_init(&sb);
	assert_int_equal(ds_chain_suffix(f->c, 4, &sb), 0);
	assert_int_equal(sb.len, 0);
	ds_buf_free(&sb);
	assert_int_equal(ds_chain_change(f->c, &ch), 0);
	assert_false(ch.pending);

	/* Epoch 1 goes on with the new set. */
	ef_commit_next(f, 2);
	ef_commit_next(f, 0);
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_int_equal(tip.height, 7);
	assert_int_equal(tip.header.epoch, 1);
	assert_memory_equal(tip.header.valset_hash, nh, DS_HASH_LEN);
	ds_chain_close(f->c);
	f->c = NULL;
	struct ds_verify_report rep;
	int rc = ds_chain_verify(f->dir, &rep, NULL, NULL);
	if (rc)
		printf("# verify: height %llu: %s\n", (unsigned long long)rep.bad_height, rep.why);
	assert_int_equal(rc, 0);
	assert_int_equal(rep.blocks, 8);
	assert_int_equal(ds_chain_open(&f->c, f->dir, NULL, &fast), 0);
	ef_free(f);
}

static void test_next_header_pending(void **state)
{
	(void)state;
	struct ef *f = ef_new_epoch("test-epoch", 1);
	for (int i = 0; i < 3; i++)
		ef_commit_next(f, 1);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	/* X proposed on the tip, uncommitted; its child starts epoch 1. */
	struct ds_header x, y, z;
	assert_int_equal(ds_chain_next_header(f->c, &x, &tip.header, tip.hash, NULL, 0), 0);
	x.round = tip.header.round + 1;
	x.time_ms = tip.header.time_ms + 10;
	assert_int_equal(x.epoch, 0);
	uint8_t hashes[2][DS_HASH_LEN];
	assert_int_equal(ds_header_hash(hashes[0], &x), 0);
	assert_int_equal(ds_chain_next_header(f->c, &y, &x, hashes[0],
					      (const uint8_t(*)[DS_HASH_LEN])hashes, 1), 0);
	assert_int_equal(y.epoch, 1);
	uint8_t nh[DS_HASH_LEN];
	assert_int_equal(ds_valset_hash(nh, &f->newset), 0);
	assert_memory_equal(y.valset_hash, nh, DS_HASH_LEN);
	y.round = x.round + 1;
	y.time_ms = x.time_ms + 10;
	const char *why = NULL;
	assert_int_equal(ds_chain_check_header(f->c, &y, &x, hashes[0],
					       (const uint8_t(*)[DS_HASH_LEN])hashes, 1, &why), 0);
	/* Y's child, both pending: epoch 1, the set not stored yet. */
	assert_int_equal(ds_header_hash(hashes[1], &y), 0);
	assert_int_equal(ds_chain_next_header(f->c, &z, &y, hashes[1],
					      (const uint8_t(*)[DS_HASH_LEN])hashes, 2), 0);
	assert_int_equal(z.epoch, 1);
	assert_memory_equal(z.valset_hash, nh, DS_HASH_LEN);
	z.time_ms = y.time_ms + 1;
	assert_int_equal(ds_chain_check_header(f->c, &z, &y, hashes[1],
					       (const uint8_t(*)[DS_HASH_LEN])hashes, 2, &why), 0);
	/* A parent whose exec_height is not executed here: undecidable. */
	struct ds_header y2 = y;
	y2.exec_height = 4;
	uint8_t h2[2][DS_HASH_LEN];
	memcpy(h2[0], hashes[0], DS_HASH_LEN);
	assert_int_equal(ds_header_hash(h2[1], &y2), 0);
	assert_int_equal(ds_chain_next_header(f->c, &z, &y2, h2[1], (const uint8_t(*)[DS_HASH_LEN])h2, 2),
			 DS_EAGAIN);
	ef_free(f);
}

/* ---- suffix -------------------------------------------------------------- */

static void tweak_link(unsigned i, struct ds_header *s)
{
	if (i == 2)
		s->parent_hash[0] ^= 1;
}

static void tweak_txs(unsigned i, struct ds_header *s)
{
	if (i == 1)
		s->tx_count = 1;
}

static void tweak_epoch(unsigned i, struct ds_header *s)
{
	if (i == 2)
		s->epoch = 1;
}

static void expect_refused(struct ef *f, const struct ds_qc *q, const uint8_t *sfx, size_t sl)
{
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, q, NULL, sfx, sl), DS_EINVAL);
	assert_int_equal(ef_tip_height(f), 3);
	struct ds_buf sb;
	ds_buf_init(&sb);
	assert_int_equal(ds_chain_suffix(f->c, 4, &sb), 0);
	assert_int_equal(sb.len, 0);
	ds_buf_free(&sb);
}

static void test_suffix(void **state)
{
	(void)state;
	struct ef *f = ef_new_epoch("test-epoch", 1);
	ef_commit_next(f, 2);
	ef_commit_next(f, 2);
	/* A suffix for a block that is no epoch end (block 3). */
	ef_next_block(f, 1);
	struct ds_header h3;
	ef_block_header(f, &h3);
	uint8_t sfx[EF_SUFFIX_CAP], hk[DS_HASH_LEN], h3h[DS_HASH_LEN];
	assert_int_equal(ds_header_hash(h3h, &h3), 0);
	size_t sl = ef_suffix(sfx, sizeof(sfx), &h3, h3h, 1, hk, NULL);
	struct ds_qc q;
	ef_qc_naming(f, &q, &h3, 1, hk);
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, &q, NULL, sfx, sl), DS_EINVAL);
	assert_int_equal(ef_tip_height(f), 2);
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);

	/* X = block 4, committed by a QC on S_2. */
	ef_next_block(f, 0);
	struct ds_header x;
	ef_block_header(f, &x);
	uint8_t xh[DS_HASH_LEN];
	assert_int_equal(ds_header_hash(xh, &x), 0);
	sl = ef_suffix(sfx, sizeof(sfx), &x, xh, 2, hk, NULL);
	ef_qc_naming(f, &q, &x, 2, hk);
	/* Missing. */
	expect_refused(f, &q, NULL, 0);
	/* Only S_1 (short), and S_1..S_3 (long). */
	uint8_t other[EF_SUFFIX_CAP], ok[DS_HASH_LEN];
	size_t ol = ef_suffix(other, sizeof(other), &x, xh, 1, ok, NULL);
	expect_refused(f, &q, other, ol);
	ol = ef_suffix(other, sizeof(other), &x, xh, 3, ok, NULL);
	expect_refused(f, &q, other, ol);
	/* Broken link, transactions, another epoch (QC re-signed on the
	 * tweaked last hash so only the tweak is wrong). */
	void (*tweaks[])(unsigned, struct ds_header *) = {tweak_link, tweak_txs, tweak_epoch};
	for (size_t i = 0; i < DS_ARRAY_LEN(tweaks); i++) {
		struct ds_qc tq;
		ol = ef_suffix(other, sizeof(other), &x, xh, 2, ok, tweaks[i]);
		ef_qc_naming(f, &tq, &x, 2, ok);
		expect_refused(f, &tq, other, ol);
	}
	/* Wrong hash: the QC names another S_2. */
	struct ds_qc wq;
	uint8_t bad[DS_HASH_LEN];
	memcpy(bad, hk, DS_HASH_LEN);
	bad[7] ^= 1;
	ef_qc_naming(f, &wq, &x, 2, bad);
	expect_refused(f, &wq, sfx, sl);
	/* Trailing garbage after S_2. */
	memcpy(other, sfx, sl);
	other[sl] = 0;
	expect_refused(f, &q, other, sl + 1);
	/* The right one. */
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, &q, NULL, sfx, sl), 0);
	struct ds_buf sb;
	ds_buf_init(&sb);
	assert_int_equal(ds_chain_suffix(f->c, 4, &sb), 0);
	assert_int_equal(sb.len, sl);
	assert_memory_equal(sb.data, sfx, sl);
	ds_buf_reset(&sb);
	assert_int_equal(ds_chain_suffix(f->c, 3, &sb), 0);
	assert_int_equal(sb.len, 0);
	ds_buf_free(&sb);
	/* The first block of epoch 1 follows X (suffix blocks are not stored). */
	ef_commit_next(f, 1);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_int_equal(tip.height, 5);
	assert_int_equal(tip.header.epoch, 1);
	assert_memory_equal(tip.header.parent_hash, xh, DS_HASH_LEN);
	ef_commit_next(f, 1);
	ds_chain_close(f->c);
	f->c = NULL;
	assert_int_equal(ef_expect_good(f->dir), 7);

	/* Corruption: the stored epoch-1 set, its root, the suffix. */
	uint8_t k8[8];
	ds_store_key_u64(k8, 1);
	ef_flip_expect_bad(f->dir, DS__T_VALSETS, k8, 8, -3, 5, "valsets[1]");
	ef_flip_expect_bad(f->dir, DS__T_EPOCHROOTS, k8, 8, -1, 5, "epoch_roots[1]");
	ds_store_key_u64(k8, 4);
	const long at[] = {0, 40, -1};
	for (size_t i = 0; i < DS_ARRAY_LEN(at); i++) {
		ef_flip_expect_bad(f->dir, DS__T_SUFFIX, k8, 8, at[i], 4, "suffix");
	}
	assert_int_equal(ef_expect_good(f->dir), 7);
	assert_int_equal(ds_chain_open(&f->c, f->dir, NULL, &fast), 0);
	ef_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch_rule),
		cmocka_unit_test(test_next_header_pending),
		cmocka_unit_test(test_suffix),
	};
	return cmocka_run_group_tests_name("chain_epoch", tests, setup, NULL);
}
