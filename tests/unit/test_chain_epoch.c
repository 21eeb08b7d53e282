/* chain: validator-set epochs. The epoch rule at commit, check_header and
 * next_header, the new set certifying the first block of an epoch, epoch-end
 * suffixes, the epoch tables, and verify-chain on a multi-epoch chain.
 *
 * Genesis holds sys/valset (epoch 0, the kit's 4 keys) and a pending
 * sys/valset/next {epoch 1, height (since) 3, 4 other keys}: blocks 1..4
 * are epoch 0 (block 4, exec_height 3, is the epoch end X), block 5 starts
 * epoch 1. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain_int.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "exec/exec_sys.h"

#define NEWV 4
#define SINCE 3

struct fx {
	char *dir;
	struct ds__kit kit;
	struct ds_chain *c;
	struct ds_buf block;
	struct ds_qc qc;
	uint64_t rng;
	uint8_t new_pk[NEWV][DS_PK_LEN];
	uint8_t new_sk[NEWV][DS_SK_LEN];
	struct ds_valset newset; /* epoch 1 */
	uint8_t rec_cur[2048], rec_next[2048];
	struct ds_kv st[2];
};

static const struct ds_chain_options fast = {.no_sync = true};

/* A valset record as the executor writes it (canonical map, sorted keys). */
static size_t valset_record(uint8_t *out, size_t cap, int64_t epoch, int64_t since,
			    const uint8_t (*pks)[DS_PK_LEN], size_t n)
{
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_value_enc_map(&e, since >= 0 ? 3 : 2);
	ds_value_enc_key(&e, "epoch", 5);
	ds_value_enc_int(&e, epoch);
	if (since >= 0) {
		ds_value_enc_key(&e, "height", 6);
		ds_value_enc_int(&e, since);
	}
	ds_value_enc_key(&e, "validators", 10);
	ds_value_enc_array(&e, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		ds_value_enc_map(&e, 3);
		ds_value_enc_key(&e, "addr", 4);
		ds_value_enc_str(&e, "127.0.0.1:1", 11);
		ds_value_enc_key(&e, "org", 3);
		ds_value_enc_str(&e, "org", 3);
		ds_value_enc_key(&e, "pk", 2);
		ds_value_enc_bytes(&e, pks[i], DS_PK_LEN);
	}
	size_t len;
	assert_int_equal(ds_enc_finish(&e, &len), 0);
	return len;
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = tu_tmpdir("chain-epoch");
	assert_int_equal(ds__kit_init(&f->kit, "test-epoch", 0, 0), 0);
	uint8_t old_pk[DS__KIT_VALS][DS_PK_LEN];
	for (size_t i = 0; i < DS__KIT_VALS; i++)
		memcpy(old_pk[i], f->kit.g.valset.v[i].pk, DS_PK_LEN);
	f->newset.epoch = 1;
	f->newset.n = NEWV;
	for (uint8_t i = 0; i < NEWV; i++) {
		uint8_t seed[DS_SEED_LEN];
		memset(seed, 0xb6, sizeof(seed));
		seed[0] = i;
		assert_int_equal(ds_ed25519_seed_keypair(f->new_pk[i], f->new_sk[i], seed), 0);
		memcpy(f->newset.v[i].pk, f->new_pk[i], DS_PK_LEN);
		f->newset.v[i].power = 1;
	}
	size_t cl = valset_record(f->rec_cur, sizeof(f->rec_cur), 0, -1,
				  (const uint8_t(*)[DS_PK_LEN])old_pk, DS__KIT_VALS);
	size_t nl = valset_record(f->rec_next, sizeof(f->rec_next), 1, SINCE,
				  (const uint8_t(*)[DS_PK_LEN])f->new_pk, NEWV);
	f->st[0] = (struct ds_kv){(const uint8_t *)"sys/valset", 10, f->rec_cur, cl};
	f->st[1] = (struct ds_kv){(const uint8_t *)DS_EXEC_SYS_VALSET_NEXT_KEY,
				  strlen(DS_EXEC_SYS_VALSET_NEXT_KEY), f->rec_next, nl};
	f->kit.g.state = f->st;
	f->kit.g.nstate = 2;
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

static int setup(void **state)
{
	assert_int_equal(ds_crypto_init(), 0);
	(void)state;
	return 0;
}

static uint64_t tip_height(struct fx *f)
{
	struct ds_chain_tip t;
	assert_int_equal(ds_chain_tip(f->c, &t), 0);
	return t.height;
}

/* Signs qc (3 of 4, indices 0..2) with the given keys. */
static void sign_qc(struct ds_qc *qc, const char *chain_id, const uint8_t (*sk)[DS_SK_LEN])
{
	qc->nsigs = 3;
	for (uint32_t i = 0; i < 3; i++) {
		qc->sigs[i].index = i;
		ds_vote_sign(qc->sigs[i].sig, &qc->vote, chain_id, sk[i]);
	}
}

static const uint8_t (*signers(struct fx *f, uint64_t epoch))[DS_SK_LEN]
{
	return epoch == 0 ? (const uint8_t(*)[DS_SK_LEN])f->kit.val_sk
			  : (const uint8_t(*)[DS_SK_LEN])f->new_sk;
}

/* The next block on the tip with ntx kv txs, its QC by its epoch's set. */
static void next_block(struct fx *f, uint32_t ntx)
{
	assert_int_equal(ds__kit_block(&f->kit, f->c, ntx, 10, &f->rng, &f->block, &f->qc), 0);
	sign_qc(&f->qc, f->kit.g.chain_id, signers(f, f->qc.vote.epoch));
}

static void commit_next(struct fx *f, uint32_t ntx)
{
	next_block(f, ntx);
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);
}

static void block_header(struct fx *f, struct ds_header *h)
{
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, f->block.data, f->block.len), 0);
	*h = b.header;
}

/* Re-seals f->block (no txs) with header h and a QC by `sk` of epoch qepoch. */
static void reseal(struct fx *f, struct ds_header *h, uint64_t qepoch, const uint8_t (*sk)[DS_SK_LEN])
{
	assert_int_equal(ds__kit_seal(&f->kit, h, NULL, 0, &f->block, &f->qc), 0);
	f->qc.vote.epoch = qepoch;
	sign_qc(&f->qc, f->kit.g.chain_id, sk);
}

static void set_hash(struct ds_header *h, const struct ds_valset *vs)
{
	assert_int_equal(ds_valset_hash(h->valset_hash, vs), 0);
}

static void test_epoch_rule(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct ds_chain_change ch;
	assert_int_equal(ds_chain_change(f->c, &ch), 0);
	assert_true(ch.pending);
	assert_int_equal(ch.epoch, 1);
	assert_int_equal(ch.since, SINCE);
	assert_int_equal(ch.valset.n, NEWV);
	assert_memory_equal(ch.valset.v[2].pk, f->new_pk[2], DS_PK_LEN);
	for (int i = 0; i < 3; i++)
		commit_next(f, 3);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_false(ds_chain_past_change(&ch, &tip.header)); /* exec_height 2 */

	/* Block 4 (exec_height 3) is epoch 0; an epoch-1 block 4 is early. */
	next_block(f, 0);
	struct ds_header x, h;
	block_header(f, &x);
	assert_int_equal(x.epoch, 0);
	assert_int_equal(x.exec_height, SINCE);
	assert_true(ds_chain_past_change(&ch, &x));
	h = x;
	h.epoch = 1;
	set_hash(&h, &f->newset);
	const char *why = NULL;
	assert_int_equal(ds_chain_check_header(f->c, &h, &tip.header, tip.hash, NULL, 0, &why), DS_EINVAL);
	assert_string_equal(why, "epoch changes before the parent's epoch has ended");
	reseal(f, &h, 1, signers(f, 1));
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), DS_EINVAL);
	/* The real X; a suffix is refused when its QC names X itself. */
	h = x;
	reseal(f, &h, 0, signers(f, 0));
	uint8_t junk[4] = {2, 1, 2, 3};
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, &f->qc, NULL, junk,
					     sizeof(junk)), DS_EINVAL);
	assert_int_equal(tip_height(f), 3);
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
	next_block(f, 2);
	struct ds_header good;
	block_header(f, &good);
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
	reseal(f, &h, 0, signers(f, 0));
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), DS_EINVAL);
	/* Epoch 1 but the old set's hash. */
	h = good;
	set_hash(&h, &f->kit.g.valset);
	h.tx_count = 0;
	assert_int_equal(ds_chain_check_header(f->c, &h, &tip.header, tip.hash, NULL, 0, &why), DS_EINVAL);
	/* The right header, QC by the old set: as epoch 0, and as epoch 1. */
	struct ds_qc q = good_qc;
	q.vote.epoch = 0;
	sign_qc(&q, f->kit.g.chain_id, signers(f, 0));
	assert_int_equal(ds_chain_commit(f->c, good_block.data, good_block.len, &q, NULL), DS_EINVAL);
	q = good_qc;
	sign_qc(&q, f->kit.g.chain_id, signers(f, 0));
	assert_int_equal(ds_chain_commit(f->c, good_block.data, good_block.len, &q, NULL), DS_ESIG);
	assert_int_equal(tip_height(f), 4);
	struct ds_valset vs;
	assert_int_equal(ds_chain_valset(f->c, 1, &vs), DS_ENOTFOUND);
	uint64_t root;
	assert_int_equal(ds_chain_epoch_root(f->c, 1, &root), DS_ENOTFOUND);
	assert_int_equal(ds_chain_commit(f->c, good_block.data, good_block.len, &good_qc, NULL), 0);
	ds_buf_free(&good_block);

	/* The epoch tables; the executor promoted the change. */
	assert_int_equal(ds_chain_valset(f->c, 1, &vs), 0);
	assert_int_equal(vs.epoch, 1);
	assert_int_equal(vs.n, NEWV);
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
	commit_next(f, 2);
	commit_next(f, 0);
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
	fx_free(f);
}

static void test_next_header_pending(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	for (int i = 0; i < 3; i++)
		commit_next(f, 1);
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
	fx_free(f);
}

/* ---- suffix -------------------------------------------------------------- */

/* Suffix headers S_1..S_k after x (x's hash xh), encoded as commit_end
 * takes them; hk gets hash(S_k). tweak(i, s) may edit S_i before hashing. */
static size_t make_suffix(uint8_t *out, size_t cap, const struct ds_header *x, const uint8_t xh[DS_HASH_LEN],
			  unsigned k, uint8_t hk[DS_HASH_LEN], void (*tweak)(unsigned i, struct ds_header *s))
{
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	struct ds_header s = *x;
	uint8_t prev[DS_HASH_LEN];
	memcpy(prev, xh, DS_HASH_LEN);
	for (unsigned i = 1; i <= k; i++) {
		s.height = x->height + i;
		memcpy(s.parent_hash, prev, DS_HASH_LEN);
		s.round = x->round + i;
		s.time_ms = x->time_ms + i;
		s.tx_count = 0;
		ds_merkle_empty_root(s.tx_root);
		struct ds_header t = s;
		if (tweak)
			tweak(i, &t);
		uint8_t enc[DS_HEADER_MAX];
		size_t n;
		assert_int_equal(ds_header_encode(enc, sizeof(enc), &n, &t), 0);
		ds_enc_bytes(&e, enc, n);
		assert_int_equal(ds_header_hash(prev, &t), 0);
	}
	memcpy(hk, prev, DS_HASH_LEN);
	size_t len;
	assert_int_equal(ds_enc_finish(&e, &len), 0);
	return len;
}

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

/* X's QC naming suffix block k (hash hk), by the epoch-0 set. */
static void qc_naming(struct fx *f, struct ds_qc *q, const struct ds_header *x, unsigned k,
		      const uint8_t hk[DS_HASH_LEN])
{
	*q = f->qc;
	q->vote.commit_height = x->height + k;
	memcpy(q->vote.commit_hash, hk, DS_HASH_LEN);
	q->vote.height = x->height + k + 1;
	sign_qc(q, f->kit.g.chain_id, signers(f, 0));
}

static void expect_refused(struct fx *f, const struct ds_qc *q, const uint8_t *sfx, size_t sl)
{
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, q, NULL, sfx, sl), DS_EINVAL);
	assert_int_equal(tip_height(f), 3);
	struct ds_buf sb;
	ds_buf_init(&sb);
	assert_int_equal(ds_chain_suffix(f->c, 4, &sb), 0);
	assert_int_equal(sb.len, 0);
	ds_buf_free(&sb);
}

/* Corruption helpers (as in test_chain.c): byte offsets in data.mdb. */
static long map_offset(const void *p)
{
	FILE *m = fopen("/proc/self/maps", "r");
	assert_non_null(m);
	char line[1024];
	long off = -1;
	while (fgets(line, sizeof(line), m)) {
		unsigned long lo, hi, fo;
		char path[512] = "";
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %511s", &lo, &hi, &fo, path) < 3)
			continue;
		size_t pl = strlen(path);
		if ((uintptr_t)p >= lo && (uintptr_t)p < hi && pl >= 8 &&
		    strcmp(path + pl - 8, "data.mdb") == 0) {
			off = (long)((uintptr_t)p - lo + fo);
			break;
		}
	}
	fclose(m);
	return off;
}

static long locate(const char *home, unsigned table, const void *key, size_t kl, long at)
{
	char d[4096];
	snprintf(d, sizeof(d), "%s/data", home);
	struct ds_store *st;
	struct ds_store_opts so = {.tables = ds__chain_tables, .tables_len = DS__T_COUNT, .no_sync = true};
	assert_int_equal(ds_store_open(&st, d, &so), 0);
	struct ds_rtxn *rt;
	assert_int_equal(ds_store_read_begin(&rt, st), 0);
	const uint8_t *v;
	size_t vl;
	assert_int_equal(ds_store_get(rt, table, key, kl, &v, &vl), 0);
	long i = at < 0 ? (long)vl + at : at;
	assert_true(i >= 0 && (size_t)i < vl);
	long off = map_offset(v + i);
	ds_store_read_end(rt);
	ds_store_close(st);
	assert_true(off >= 0);
	return off;
}

static void flip(const char *home, long off)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/data/data.mdb", home);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void expect_bad(const char *home, uint64_t height, const char *what)
{
	struct ds_verify_report rep;
	int rc = ds_chain_verify(home, &rep, NULL, NULL);
	printf("# corrupt %s: height %llu: %s\n", what, (unsigned long long)rep.bad_height, rep.why);
	assert_true(rc < 0);
	assert_int_equal(rep.bad_height, height);
	assert_true(rep.why[0] != '\0');
}

static void expect_good(const char *home, uint64_t blocks)
{
	struct ds_verify_report rep;
	int rc = ds_chain_verify(home, &rep, NULL, NULL);
	if (rc)
		printf("# unexpected: height %llu: %s\n", (unsigned long long)rep.bad_height, rep.why);
	assert_int_equal(rc, 0);
	assert_int_equal(rep.blocks, blocks);
}

static void test_suffix(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	commit_next(f, 2);
	commit_next(f, 2);
	/* A suffix for a block that is no epoch end (block 3). */
	next_block(f, 1);
	struct ds_header h3;
	block_header(f, &h3);
	uint8_t sfx[DS_CHAIN_SUFFIX_MAX * (DS_HEADER_MAX + 2)], hk[DS_HASH_LEN], h3h[DS_HASH_LEN];
	assert_int_equal(ds_header_hash(h3h, &h3), 0);
	size_t sl = make_suffix(sfx, sizeof(sfx), &h3, h3h, 1, hk, NULL);
	struct ds_qc q;
	qc_naming(f, &q, &h3, 1, hk);
	assert_int_equal(ds_chain_commit_end(f->c, f->block.data, f->block.len, &q, NULL, sfx, sl), DS_EINVAL);
	assert_int_equal(tip_height(f), 2);
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);

	/* X = block 4, committed by a QC on S_2. */
	next_block(f, 0);
	struct ds_header x;
	block_header(f, &x);
	uint8_t xh[DS_HASH_LEN];
	assert_int_equal(ds_header_hash(xh, &x), 0);
	sl = make_suffix(sfx, sizeof(sfx), &x, xh, 2, hk, NULL);
	qc_naming(f, &q, &x, 2, hk);
	/* Missing. */
	expect_refused(f, &q, NULL, 0);
	/* Only S_1 (short), and S_1..S_3 (long). */
	uint8_t other[DS_CHAIN_SUFFIX_MAX * (DS_HEADER_MAX + 2)], ok[DS_HASH_LEN];
	size_t ol = make_suffix(other, sizeof(other), &x, xh, 1, ok, NULL);
	expect_refused(f, &q, other, ol);
	ol = make_suffix(other, sizeof(other), &x, xh, 3, ok, NULL);
	expect_refused(f, &q, other, ol);
	/* Broken link, transactions, another epoch (QC re-signed on the
	 * tweaked last hash so only the tweak is wrong). */
	void (*tweaks[])(unsigned, struct ds_header *) = {tweak_link, tweak_txs, tweak_epoch};
	for (size_t i = 0; i < DS_ARRAY_LEN(tweaks); i++) {
		struct ds_qc tq;
		ol = make_suffix(other, sizeof(other), &x, xh, 2, ok, tweaks[i]);
		qc_naming(f, &tq, &x, 2, ok);
		expect_refused(f, &tq, other, ol);
	}
	/* Wrong hash: the QC names another S_2. */
	struct ds_qc wq;
	uint8_t bad[DS_HASH_LEN];
	memcpy(bad, hk, DS_HASH_LEN);
	bad[7] ^= 1;
	qc_naming(f, &wq, &x, 2, bad);
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
	commit_next(f, 1);
	struct ds_chain_tip tip;
	assert_int_equal(ds_chain_tip(f->c, &tip), 0);
	assert_int_equal(tip.height, 5);
	assert_int_equal(tip.header.epoch, 1);
	assert_memory_equal(tip.header.parent_hash, xh, DS_HASH_LEN);
	commit_next(f, 1);
	ds_chain_close(f->c);
	f->c = NULL;
	expect_good(f->dir, 7);

	/* Corruption: the stored epoch-1 set, its root, the suffix. */
	uint8_t k8[8];
	ds_store_key_u64(k8, 1);
	long off = locate(f->dir, DS__T_VALSETS, k8, 8, -3);
	flip(f->dir, off);
	expect_bad(f->dir, 5, "valsets[1]");
	flip(f->dir, off);
	off = locate(f->dir, DS__T_EPOCHROOTS, k8, 8, -1);
	flip(f->dir, off);
	expect_bad(f->dir, 5, "epoch_roots[1]");
	flip(f->dir, off);
	ds_store_key_u64(k8, 4);
	const long at[] = {0, 40, -1};
	for (size_t i = 0; i < DS_ARRAY_LEN(at); i++) {
		off = locate(f->dir, DS__T_SUFFIX, k8, 8, at[i]);
		flip(f->dir, off);
		expect_bad(f->dir, 4, "suffix");
		flip(f->dir, off);
	}
	expect_good(f->dir, 7);
	assert_int_equal(ds_chain_open(&f->c, f->dir, NULL, &fast), 0);
	fx_free(f);
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
