/* Host callbacks for driving consensus cores in the fuzz target and the seed
 * generator (fuzz/gen_seeds.c). Header-only: both programs include it once.
 *
 * Signatures are fake but message-bound and cheap to forge on purpose:
 * sig = signer pk || the last 32 bytes of the signed message (zero padded
 * in front when shorter). A fuzzer learns such bytes from the comparison,
 * so mutated messages can get past signature checks and reach the rules
 * behind them, while a signature copied onto different bytes still fails.
 *
 * Blocks: payload = u64be round || u64be height || parent id || id
 * (FZC_PAYLOAD_LEN bytes); validate() checks exactly that, so a fuzzer can
 * build a valid block without computing a hash. */
#ifndef DS_FUZZ_CONS_IO_H
#define DS_FUZZ_CONS_IO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define FZC_N 4
#define FZC_PAYLOAD_LEN 80
#define FZC_CHAIN "fuzz-chain"
#define FZC_T0_MS 1000000u
#define FZC_SAFETY_MAX 65536

struct fzc_node {
	uint32_t self;             /* UINT32_MAX: observer */
	uint64_t nonce;            /* makes each proposal's id distinct */
	uint64_t committed;        /* height of the last delivered block */
	size_t safety_len;
	uint8_t safety[FZC_SAFETY_MAX];
};

static void fzc_pk(uint8_t pk[DS_PK_LEN], uint32_t i)
{
	uint8_t seed[5] = {'f', 'z', 'v', (uint8_t)(i >> 8), (uint8_t)i};
	ds_sha256(pk, seed, sizeof(seed));
}

static void fzc_fake_sig(uint8_t sig[DS_SIG_LEN], const uint8_t pk[DS_PK_LEN], const uint8_t *m,
			 size_t n)
{
	memcpy(sig, pk, DS_PK_LEN);
	memset(sig + DS_PK_LEN, 0, DS_SIG_LEN - DS_PK_LEN);
	size_t take = n < 32 ? n : 32;
	memcpy(sig + DS_SIG_LEN - take, m + n - take, take);
}

static void fzc_sign(void *ctx, const uint8_t *m, size_t n, uint8_t sig[DS_SIG_LEN])
{
	struct fzc_node *t = ctx;
	uint8_t pk[DS_PK_LEN];
	/* The core never signs as an observer; if it did, the signature
	 * would name a key outside the set and fail everywhere. */
	fzc_pk(pk, t->self);
	fzc_fake_sig(sig, pk, m, n);
}

static int fzc_verify(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *m, size_t n,
		      const uint8_t sig[DS_SIG_LEN])
{
	uint8_t want[DS_SIG_LEN];
	fzc_fake_sig(want, pk, m, n);
	return memcmp(want, sig, DS_SIG_LEN) == 0 ? 0 : DS_ESIG;
}

static int fzc_persist(void *ctx, const uint8_t *b, size_t n)
{
	struct fzc_node *t = ctx;
	if (n > sizeof(t->safety))
		abort(); /* the core's own state outgrew any sane bound */
	memcpy(t->safety, b, n);
	t->safety_len = n;
	return 0;
}

static int fzc_persist_block(void *ctx, const struct ds_cons_block *b)
{
	return 0;
}

static int fzc_propose(void *ctx, uint8_t id[DS_HASH_LEN], uint8_t *p, size_t cap, size_t *len,
		       uint64_t epoch, uint64_t round, uint64_t height, const uint8_t parent[DS_HASH_LEN])
{
	struct fzc_node *t = ctx;
	if (cap < FZC_PAYLOAD_LEN)
		return DS_ETOOBIG;
	uint8_t in[8 + 8 + 8 + 4 + DS_HASH_LEN];
	ds_put_u64be(in, round);
	ds_put_u64be(in + 8, height);
	ds_put_u64be(in + 16, t->nonce++);
	ds_put_u32be(in + 24, t->self);
	memcpy(in + 28, parent, DS_HASH_LEN);
	ds_sha256(id, in, sizeof(in));
	ds_put_u64be(p, round);
	ds_put_u64be(p + 8, height);
	memcpy(p + 16, parent, DS_HASH_LEN);
	memcpy(p + 48, id, DS_HASH_LEN);
	*len = FZC_PAYLOAD_LEN;
	return 0;
}

static int fzc_validate(void *ctx, const struct ds_cons_block *b)
{
	if (b->payload_len != FZC_PAYLOAD_LEN || ds_get_u64be(b->payload) != b->round ||
	    ds_get_u64be(b->payload + 8) != b->height ||
	    memcmp(b->payload + 16, b->parent_id, DS_HASH_LEN) != 0 ||
	    memcmp(b->payload + 48, b->id, DS_HASH_LEN) != 0)
		return DS_EINVAL;
	return 0;
}

/* The contract says commits arrive in height order, one by one. */
static int fzc_deliver(void *ctx, const struct ds_cons_block *b, const struct ds_qc *qc)
{
	struct fzc_node *t = ctx;
	if (b->height != t->committed + 1)
		abort();
	t->committed = b->height;
	return 0;
}

static const struct ds_cons_io fzc_io = {
	.sign = fzc_sign, .verify = fzc_verify, .persist_safety = fzc_persist,
	.persist_block = fzc_persist_block, .propose = fzc_propose, .validate = fzc_validate,
	.deliver_commit = fzc_deliver,
};

static void fzc_config(struct ds_cons_config *cfg, uint32_t self)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->chain_id, FZC_CHAIN);
	cfg->epoch = 1;
	cfg->valset.epoch = 1;
	cfg->valset.n = FZC_N;
	for (uint32_t i = 0; i < FZC_N; i++) {
		fzc_pk(cfg->valset.v[i].pk, i);
		cfg->valset.v[i].power = 1;
	}
	cfg->self_index = self;
	ds_sha256(cfg->genesis.id, "fuzz-genesis", 12);
	cfg->base_timeout_ms = 1000;
	cfg->max_timeout_ms = 8000;
	cfg->payload_max_bytes = 1024;
}

#endif
