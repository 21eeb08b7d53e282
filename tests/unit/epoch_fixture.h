/* A chain fixture for unit tests (test_chain.c, test_chain_epoch.c,
 * test_verify.c): a fresh chain from the test kit in a temporary directory,
 * optionally with a pending validator-set change in its genesis (a 2-epoch
 * chain), block and QC helpers, and the byte-flipping helpers with which the
 * corruption tests show that verify-chain finds a damaged store.
 *
 * Every helper fails the running test (cmocka) on an unexpected result;
 * none returns an error. Pointers are borrowed for the call. */
#ifndef DS_EPOCH_FIXTURE_H
#define DS_EPOCH_FIXTURE_H

#include "testutil.h"

#include "chain/chain_int.h"

#define EF_NEWV 4  /* keys of the new set (epoch next_epoch) */
#define EF_SINCE 3 /* the pending change's "height" (since) */
/* Room for the suffix headers ds_chain_commit_end takes. */
#define EF_SUFFIX_CAP (DS_CHAIN_SUFFIX_MAX * (DS_HEADER_MAX + 2))

struct ef {
	char *dir; /* owned; removed by ef_free */
	struct ds__kit kit;
	struct ds_chain *c; /* NULL while a test has it closed */
	struct ds_buf block; /* the last block built */
	struct ds_qc qc;     /* its QC */
	uint64_t rng;
	uint8_t new_pk[EF_NEWV][DS_PK_LEN];
	uint8_t new_sk[EF_NEWV][DS_SK_LEN];
	struct ds_valset newset; /* the new keys as epoch 1, power 1 each */
	uint8_t rec_cur[2048], rec_next[2048];
	struct ds_kv st[2]; /* genesis state of ef_new_epoch */
};

/* A chain from the kit's genesis; tag names the temporary directory and is
 * the chain id; retain as ds__kit_init. Freed by ef_free. */
struct ef *ef_new(const char *tag, uint64_t retain);
/* The same with genesis state sys/valset (epoch 0, the kit's 4 keys) and a
 * pending sys/valset/next {epoch next_epoch, height EF_SINCE, the EF_NEWV
 * new keys}. With next_epoch 1, blocks 1..4 are epoch 0 (block 4,
 * exec_height EF_SINCE, is the epoch end X) and block 5 starts epoch 1. */
struct ef *ef_new_epoch(const char *tag, int64_t next_epoch);
/* Closes the chain (when open), removes the directory, frees f. */
void ef_free(struct ef *f);

uint64_t ef_tip_height(struct ef *f);
/* Signs qc (3 of 4 signatures, indices 0..2) with sk[0..2]. */
void ef_sign_qc(struct ds_qc *qc, const char *chain_id, const uint8_t (*sk)[DS_SK_LEN]);
/* The secret keys of epoch 0 (the kit's) or of the new set (any other). */
const uint8_t (*ef_signers(struct ef *f, uint64_t epoch))[DS_SK_LEN];
/* f->block, f->qc: the next block on the tip with ntx kv txs, its QC signed
 * by its epoch's set. */
void ef_next_block(struct ef *f, uint32_t ntx);
/* ef_next_block, then commits it. */
void ef_commit_next(struct ef *f, uint32_t ntx);
/* The header of f->block. */
void ef_block_header(struct ef *f, struct ds_header *h);

/* Suffix headers S_1..S_k after x (x's hash xh), encoded as commit_end takes
 * them, into out; returns the length; hk gets hash(S_k). tweak(i, s), when
 * not NULL, may edit S_i before it is encoded and hashed. */
size_t ef_suffix(uint8_t *out, size_t cap, const struct ds_header *x, const uint8_t xh[DS_HASH_LEN],
		 unsigned k, uint8_t hk[DS_HASH_LEN], void (*tweak)(unsigned i, struct ds_header *s));
/* q = f->qc re-aimed to commit suffix block k after x (hash hk), voted at
 * the height after it and signed by the epoch-0 set. */
void ef_qc_naming(struct ef *f, struct ds_qc *q, const struct ds_header *x, unsigned k,
		  const uint8_t hk[DS_HASH_LEN]);

/* ---- corruption: the chain must be closed ----------------------------- */

/* Offset in home/data/data.mdb of byte `at` (negative: from the end) of the
 * value stored under key in table. */
long ef_locate(const char *home, unsigned table, const void *key, size_t kl, long at);
/* Flips one bit of the byte at off in home/data/data.mdb (again: undone). */
void ef_flip(const char *home, long off);
/* verify-chain refuses home and names height and a reason. */
void ef_expect_bad(const char *home, uint64_t height, const char *what);
/* ef_locate, ef_flip, ef_expect_bad, then ef_flip again (the store is as
 * before). */
void ef_flip_expect_bad(const char *home, unsigned table, const void *key, size_t kl, long at,
			uint64_t height, const char *what);
/* verify-chain accepts home; returns the number of blocks it checked. */
uint64_t ef_expect_good(const char *home);

#endif
