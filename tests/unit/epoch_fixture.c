#include "epoch_fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "exec/exec_sys.h"

static const struct ds_chain_options ef_fast = {.no_sync = true};

/* A valset record as the executor writes it (canonical map, sorted keys);
 * since < 0 leaves out "height" (the current set's record). */
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

/* Kit and new keys; the chain is not open yet. */
static struct ef *ef_alloc(const char *tag, uint64_t retain)
{
	struct ef *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = tu_tmpdir(tag);
	assert_int_equal(ds__kit_init(&f->kit, tag, retain, 0), 0);
	f->newset.epoch = 1;
	f->newset.n = EF_NEWV;
	for (uint8_t i = 0; i < EF_NEWV; i++) {
		uint8_t seed[DS_SEED_LEN];
		memset(seed, 0xb6, sizeof(seed));
		seed[0] = i;
		assert_int_equal(ds_ed25519_seed_keypair(f->new_pk[i], f->new_sk[i], seed), 0);
		memcpy(f->newset.v[i].pk, f->new_pk[i], DS_PK_LEN);
		f->newset.v[i].power = 1;
	}
	ds_buf_init(&f->block);
	f->rng = tu_seed() | 1;
	return f;
}

struct ef *ef_new(const char *tag, uint64_t retain)
{
	struct ef *f = ef_alloc(tag, retain);
	assert_int_equal(ds_chain_open(&f->c, f->dir, &f->kit.g, &ef_fast), 0);
	return f;
}

struct ef *ef_new_epoch(const char *tag, int64_t next_epoch)
{
	struct ef *f = ef_alloc(tag, 0);
	uint8_t old_pk[DS__KIT_VALS][DS_PK_LEN];
	for (size_t i = 0; i < DS__KIT_VALS; i++)
		memcpy(old_pk[i], f->kit.g.valset.v[i].pk, DS_PK_LEN);
	size_t cl = valset_record(f->rec_cur, sizeof(f->rec_cur), 0, -1, (const uint8_t(*)[DS_PK_LEN])old_pk,
				  DS__KIT_VALS);
	size_t nl = valset_record(f->rec_next, sizeof(f->rec_next), next_epoch, EF_SINCE,
				  (const uint8_t(*)[DS_PK_LEN])f->new_pk, EF_NEWV);
	f->st[0] = (struct ds_kv){(const uint8_t *)"sys/valset", 10, f->rec_cur, cl};
	f->st[1] = (struct ds_kv){(const uint8_t *)DS_EXEC_SYS_VALSET_NEXT_KEY,
				  strlen(DS_EXEC_SYS_VALSET_NEXT_KEY), f->rec_next, nl};
	f->kit.g.state = f->st;
	f->kit.g.nstate = 2;
	assert_int_equal(ds_chain_open(&f->c, f->dir, &f->kit.g, &ef_fast), 0);
	return f;
}

void ef_free(struct ef *f)
{
	ds_chain_close(f->c);
	ds__kit_free(&f->kit);
	ds_buf_free(&f->block);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
}

uint64_t ef_tip_height(struct ef *f)
{
	struct ds_chain_tip t;
	assert_int_equal(ds_chain_tip(f->c, &t), 0);
	return t.height;
}

void ef_sign_qc(struct ds_qc *qc, const char *chain_id, const uint8_t (*sk)[DS_SK_LEN])
{
	qc->nsigs = 3;
	for (uint32_t i = 0; i < 3; i++) {
		qc->sigs[i].index = i;
		ds_vote_sign(qc->sigs[i].sig, &qc->vote, chain_id, sk[i]);
	}
}

const uint8_t (*ef_signers(struct ef *f, uint64_t epoch))[DS_SK_LEN]
{
	return epoch == 0 ? (const uint8_t(*)[DS_SK_LEN])f->kit.val_sk
			  : (const uint8_t(*)[DS_SK_LEN])f->new_sk;
}

void ef_next_block(struct ef *f, uint32_t ntx)
{
	assert_int_equal(ds__kit_block(&f->kit, f->c, ntx, 10, &f->rng, &f->block, &f->qc), 0);
	ef_sign_qc(&f->qc, f->kit.g.chain_id, ef_signers(f, f->qc.vote.epoch));
}

void ef_commit_next(struct ef *f, uint32_t ntx)
{
	ef_next_block(f, ntx);
	assert_int_equal(ds_chain_commit(f->c, f->block.data, f->block.len, &f->qc, NULL), 0);
}

void ef_block_header(struct ef *f, struct ds_header *h)
{
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, f->block.data, f->block.len), 0);
	*h = b.header;
}

size_t ef_suffix(uint8_t *out, size_t cap, const struct ds_header *x, const uint8_t xh[DS_HASH_LEN],
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

void ef_qc_naming(struct ef *f, struct ds_qc *q, const struct ds_header *x, unsigned k,
		  const uint8_t hk[DS_HASH_LEN])
{
	*q = f->qc;
	q->vote.commit_height = x->height + k;
	memcpy(q->vote.commit_hash, hk, DS_HASH_LEN);
	q->vote.height = x->height + k + 1;
	ef_sign_qc(q, f->kit.g.chain_id, ef_signers(f, 0));
}

/* ---- corruption -------------------------------------------------------- */

/* File offset in data.mdb of a pointer into the store's map; -1 if the
 * pointer is not in a mapping of that file. */
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

long ef_locate(const char *home, unsigned table, const void *key, size_t kl, long at)
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

void ef_flip(const char *home, long off)
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

void ef_expect_bad(const char *home, uint64_t height, const char *what)
{
	struct ds_verify_report rep;
	int rc = ds_chain_verify(home, &rep, NULL, NULL);
	printf("# corrupt %s: height %llu: %s\n", what, (unsigned long long)rep.bad_height, rep.why);
	assert_true(rc < 0);
	assert_int_equal(rep.bad_height, height);
	assert_true(rep.why[0] != '\0');
}

void ef_flip_expect_bad(const char *home, unsigned table, const void *key, size_t kl, long at,
			uint64_t height, const char *what)
{
	long off = ef_locate(home, table, key, kl, at);
	ef_flip(home, off);
	ef_expect_bad(home, height, what);
	ef_flip(home, off);
}

uint64_t ef_expect_good(const char *home)
{
	struct ds_verify_report rep;
	int rc = ds_chain_verify(home, &rep, NULL, NULL);
	if (rc)
		printf("# unexpected: height %llu: %s\n", (unsigned long long)rep.bad_height, rep.why);
	assert_int_equal(rc, 0);
	return rep.blocks;
}
