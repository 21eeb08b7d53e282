/* consensus wire formats: strict encoders/decoders and signed bytes. */
#include "consensus/consensus.h"

#include <string.h>

void ds_cons_enc_vote_data(struct ds_enc *e, const struct ds_vote_data *v)
{
	ds_enc_uvar(e, v->epoch);
	ds_enc_uvar(e, v->round);
	ds_enc_uvar(e, v->height);
	ds_enc_fixed(e, v->block_hash, DS_HASH_LEN);
	ds_enc_uvar(e, v->parent_round);
	ds_enc_fixed(e, v->parent_hash, DS_HASH_LEN);
	ds_enc_uvar(e, v->commit_height);
	ds_enc_fixed(e, v->commit_hash, DS_HASH_LEN);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int ds_cons_dec_vote_data(struct ds_dec *d, struct ds_vote_data *v)
{
	ds_dec_uvar(d, &v->epoch);
	ds_dec_uvar(d, &v->round);
	ds_dec_uvar(d, &v->height);
	ds_dec_fixed(d, v->block_hash, DS_HASH_LEN);
	ds_dec_uvar(d, &v->parent_round);
	ds_dec_fixed(d, v->parent_hash, DS_HASH_LEN);
	ds_dec_uvar(d, &v->commit_height);
	ds_dec_fixed(d, v->commit_hash, DS_HASH_LEN);
	if (d->err)
		return d->err;
	/* Shape rules every honest voter obeys; anything else is malformed. */
	/* Round 0 is only the epoch's root (synthetic, unsigned). Otherwise a
	 * block is above its parent, and the commit fields are set exactly
	 * when the parent is one round below, naming the parent. */
	if (v->round != 0 && (v->parent_round >= v->round || v->height == 0))
		return ds_dec_fail(d, DS_EINVAL);
	bool no_commit = v->commit_height == 0 && all_zero(v->commit_hash, DS_HASH_LEN);
	bool consecutive = v->round != 0 && v->round == v->parent_round + 1;
	if (consecutive == no_commit)
		return ds_dec_fail(d, DS_EINVAL);
	if (!no_commit && (v->commit_height != v->height - 1 ||
			   memcmp(v->commit_hash, v->parent_hash, DS_HASH_LEN) != 0))
		return ds_dec_fail(d, DS_EINVAL);
	return 0;
}

void ds_cons_enc_qc(struct ds_enc *e, const struct ds_qc *qc)
{
	ds_cons_enc_vote_data(e, &qc->vote);
	if (qc->nsigs > DS_VALIDATORS_MAX) {
		e->err = e->err ? e->err : DS_EINVAL;
		return;
	}
	ds_enc_uvar(e, qc->nsigs);
	for (uint32_t i = 0; i < qc->nsigs; i++) {
		ds_enc_uvar(e, qc->sigs[i].index);
		ds_enc_fixed(e, qc->sigs[i].sig, DS_SIG_LEN);
	}
}

int ds_cons_dec_qc(struct ds_dec *d, struct ds_qc *qc)
{
	uint64_t n;
	(void)!ds_cons_dec_vote_data(d, &qc->vote);
	ds_dec_uvar_max(d, &n, DS_VALIDATORS_MAX);
	if (d->err)
		return d->err;
	qc->nsigs = (uint32_t)n;
	for (uint32_t i = 0; i < qc->nsigs; i++) {
		ds_dec_u32(d, &qc->sigs[i].index);
		ds_dec_fixed(d, qc->sigs[i].sig, DS_SIG_LEN);
		if (d->err)
			return d->err;
		if (qc->sigs[i].index >= DS_VALIDATORS_MAX ||
		    (i > 0 && qc->sigs[i].index <= qc->sigs[i - 1].index))
			return ds_dec_fail(d, DS_EINVAL);
	}
	return 0;
}

void ds_cons_enc_tc(struct ds_enc *e, const struct ds_cons_tc *tc)
{
	ds_enc_uvar(e, tc->epoch);
	ds_enc_uvar(e, tc->round);
	if (tc->nsigs > DS_VALIDATORS_MAX) {
		e->err = e->err ? e->err : DS_EINVAL;
		return;
	}
	ds_enc_uvar(e, tc->nsigs);
	for (uint32_t i = 0; i < tc->nsigs; i++) {
		ds_enc_uvar(e, tc->sigs[i].index);
		ds_enc_uvar(e, tc->sigs[i].high_qc_round);
		ds_enc_fixed(e, tc->sigs[i].sig, DS_SIG_LEN);
	}
}

int ds_cons_dec_tc(struct ds_dec *d, struct ds_cons_tc *tc)
{
	uint64_t n;
	ds_dec_uvar(d, &tc->epoch);
	ds_dec_uvar(d, &tc->round);
	ds_dec_uvar_max(d, &n, DS_VALIDATORS_MAX);
	if (d->err)
		return d->err;
	if (n == 0 || tc->round == 0)
		return ds_dec_fail(d, DS_EINVAL);
	tc->nsigs = (uint32_t)n;
	for (uint32_t i = 0; i < tc->nsigs; i++) {
		struct ds_cons_tc_sig *s = &tc->sigs[i];
		ds_dec_u32(d, &s->index);
		ds_dec_uvar(d, &s->high_qc_round);
		ds_dec_fixed(d, s->sig, DS_SIG_LEN);
		if (d->err)
			return d->err;
		/* A node times out in round r only with a high QC below r. */
		if (s->index >= DS_VALIDATORS_MAX || s->high_qc_round >= tc->round ||
		    (i > 0 && s->index <= tc->sigs[i - 1].index))
			return ds_dec_fail(d, DS_EINVAL);
	}
	return 0;
}

static void enc_envelope(struct ds_enc *e, uint8_t type, uint64_t epoch, uint32_t author)
{
	ds_enc_u8(e, DS_CONS_VERSION);
	ds_enc_u8(e, type);
	ds_enc_uvar(e, epoch);
	ds_enc_uvar(e, author);
}

static int dec_envelope(struct ds_dec *d, uint8_t want_type, uint64_t *epoch, uint32_t *author)
{
	uint8_t ver, type;
	ds_dec_u8(d, &ver);
	ds_dec_u8(d, &type);
	ds_dec_uvar(d, epoch);
	ds_dec_u32(d, author);
	if (d->err)
		return d->err;
	if (ver != DS_CONS_VERSION)
		return ds_dec_fail(d, DS_EVERSION);
	if (type != want_type)
		return ds_dec_fail(d, DS_ETAG);
	if (*author >= DS_VALIDATORS_MAX)
		return ds_dec_fail(d, DS_EINVAL);
	return 0;
}

int ds_cons_peek(uint8_t *type, uint64_t *epoch, uint32_t *author, const uint8_t *buf, size_t len)
{
	struct ds_dec d;
	uint8_t ver;
	ds_dec_init(&d, buf, len);
	ds_dec_u8(&d, &ver);
	ds_dec_u8(&d, type);
	ds_dec_uvar(&d, epoch);
	ds_dec_u32(&d, author);
	if (d.err)
		return d.err;
	if (ver != DS_CONS_VERSION)
		return DS_EVERSION;
	if (*type < DS_CONS_MSG_PROPOSAL || *type > DS_CONS_MSG_SYNC_RESP)
		return DS_ETAG;
	return 0;
}

int ds_cons_encode_proposal(uint8_t *buf, size_t cap, size_t *out_len,
			    const struct ds_cons_proposal *p)
{
	struct ds_enc e;
	ds_enc_init(&e, buf, cap);
	enc_envelope(&e, DS_CONS_MSG_PROPOSAL, p->epoch, p->author);
	ds_enc_uvar(&e, p->round);
	ds_enc_fixed(&e, p->id, DS_HASH_LEN);
	if (p->payload_len > DS_CONS_PAYLOAD_MAX)
		e.err = DS_ETOOBIG;
	ds_enc_bytes(&e, p->payload, p->payload_len);
	ds_cons_enc_qc(&e, &p->qc);
	ds_enc_bool(&e, p->has_tc);
	if (p->has_tc)
		ds_cons_enc_tc(&e, &p->tc);
	ds_enc_fixed(&e, p->sig, DS_SIG_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_cons_decode_proposal(struct ds_cons_proposal *p, const uint8_t *buf, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, buf, len);
	if (len > DS_CONS_MSG_MAX)
		return DS_ETOOBIG;
	(void)dec_envelope(&d, DS_CONS_MSG_PROPOSAL, &p->epoch, &p->author);
	ds_dec_uvar(&d, &p->round);
	ds_dec_fixed(&d, p->id, DS_HASH_LEN);
	ds_dec_bytes(&d, &p->payload, &p->payload_len, DS_CONS_PAYLOAD_MAX);
	(void)!ds_cons_dec_qc(&d, &p->qc);
	ds_dec_bool(&d, &p->has_tc);
	if (!d.err && p->has_tc)
		(void)!ds_cons_dec_tc(&d, &p->tc);
	else
		p->tc.nsigs = 0;
	ds_dec_fixed(&d, p->sig, DS_SIG_LEN);
	int err = ds_dec_finish(&d);
	if (err)
		return err;
	/* Structural rules: the block is one round after its QC, or after its
	 * TC (which must then be present and be the round just before). */
	if (p->qc.vote.epoch != p->epoch || p->round <= p->qc.vote.round)
		return DS_EINVAL;
	if (p->round == p->qc.vote.round + 1) {
		if (p->has_tc)
			return DS_EINVAL;
	} else if (!p->has_tc || p->tc.round + 1 != p->round || p->tc.epoch != p->epoch) {
		return DS_EINVAL;
	}
	return 0;
}

int ds_cons_encode_vote(uint8_t *buf, size_t cap, size_t *out_len, const struct ds_cons_vote *v)
{
	struct ds_enc e;
	ds_enc_init(&e, buf, cap);
	enc_envelope(&e, DS_CONS_MSG_VOTE, v->vote.epoch, v->author);
	ds_cons_enc_vote_data(&e, &v->vote);
	ds_enc_fixed(&e, v->sig, DS_SIG_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_cons_decode_vote(struct ds_cons_vote *v, const uint8_t *buf, size_t len)
{
	struct ds_dec d;
	uint64_t epoch;
	ds_dec_init(&d, buf, len);
	(void)dec_envelope(&d, DS_CONS_MSG_VOTE, &epoch, &v->author);
	(void)!ds_cons_dec_vote_data(&d, &v->vote);
	ds_dec_fixed(&d, v->sig, DS_SIG_LEN);
	int err = ds_dec_finish(&d);
	if (err)
		return err;
	if (epoch != v->vote.epoch || v->vote.round == 0)
		return DS_EINVAL;
	return 0;
}

int ds_cons_encode_timeout(uint8_t *buf, size_t cap, size_t *out_len,
			   const struct ds_cons_timeout *t)
{
	struct ds_enc e;
	ds_enc_init(&e, buf, cap);
	enc_envelope(&e, DS_CONS_MSG_TIMEOUT, t->epoch, t->author);
	ds_enc_uvar(&e, t->round);
	ds_cons_enc_qc(&e, &t->high_qc);
	ds_enc_bool(&e, t->has_tc);
	if (t->has_tc)
		ds_cons_enc_tc(&e, &t->tc);
	ds_enc_fixed(&e, t->sig, DS_SIG_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_cons_decode_timeout(struct ds_cons_timeout *t, const uint8_t *buf, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, buf, len);
	if (len > DS_CONS_MSG_MAX)
		return DS_ETOOBIG;
	(void)dec_envelope(&d, DS_CONS_MSG_TIMEOUT, &t->epoch, &t->author);
	ds_dec_uvar(&d, &t->round);
	(void)!ds_cons_dec_qc(&d, &t->high_qc);
	ds_dec_bool(&d, &t->has_tc);
	if (!d.err && t->has_tc)
		(void)!ds_cons_dec_tc(&d, &t->tc);
	else
		t->tc.nsigs = 0;
	ds_dec_fixed(&d, t->sig, DS_SIG_LEN);
	int err = ds_dec_finish(&d);
	if (err)
		return err;
	/* A timeout for round r carries the QC or TC that let its author
	 * enter r: r == qc.round + 1 or r == tc.round + 1. */
	if (t->high_qc.vote.epoch != t->epoch || t->round <= t->high_qc.vote.round)
		return DS_EINVAL;
	if (t->has_tc && (t->tc.epoch != t->epoch || t->tc.round + 1 != t->round))
		return DS_EINVAL;
	if (!t->has_tc && t->round != t->high_qc.vote.round + 1)
		return DS_EINVAL;
	return 0;
}

static void enc_head(struct ds_enc *e, uint8_t *buf, const char *tag, const char *chain_id)
{
	ds_enc_init(e, buf, DS_CONS_SIGNED_MAX);
	ds_enc_fixed(e, tag, strlen(tag));
	ds_enc_str(e, chain_id);
}

static size_t enc_done(struct ds_enc *e)
{
	size_t n;
	/* Inputs are bounded (chain id <= 64 bytes, fixed fields), so the
	 * buffer always fits: a failure here is our bug. */
	DS_ASSERT(ds_enc_finish(e, &n) == 0);
	return n;
}

size_t ds_cons_signed_vote(uint8_t *buf, const char *chain_id, const struct ds_vote_data *v)
{
	struct ds_enc e;
	enc_head(&e, buf, DS_TAG_VOTE, chain_id);
	ds_cons_enc_vote_data(&e, v);
	return enc_done(&e);
}

size_t ds_cons_signed_timeout(uint8_t *buf, const char *chain_id, uint64_t epoch,
			      uint64_t round, uint64_t high_qc_round)
{
	struct ds_enc e;
	enc_head(&e, buf, DS_TAG_TIMEOUT, chain_id);
	ds_enc_uvar(&e, epoch);
	ds_enc_uvar(&e, round);
	ds_enc_uvar(&e, high_qc_round);
	return enc_done(&e);
}

size_t ds_cons_signed_proposal(uint8_t *buf, const char *chain_id, uint64_t epoch,
			       uint64_t round, uint64_t height,
			       const uint8_t id[DS_HASH_LEN], const uint8_t parent_id[DS_HASH_LEN])
{
	struct ds_enc e;
	enc_head(&e, buf, DS_CONS_TAG_PROPOSAL, chain_id);
	ds_enc_uvar(&e, epoch);
	ds_enc_uvar(&e, round);
	ds_enc_uvar(&e, height);
	ds_enc_fixed(&e, id, DS_HASH_LEN);
	ds_enc_fixed(&e, parent_id, DS_HASH_LEN);
	return enc_done(&e);
}

void ds_cons_make_vote_data(struct ds_vote_data *out, const struct ds_cons_block *b,
			    const struct ds_vote_data *parent_qc)
{
	memset(out, 0, sizeof(*out));
	out->epoch = b->epoch;
	out->round = b->round;
	out->height = b->height;
	memcpy(out->block_hash, b->id, DS_HASH_LEN);
	out->parent_round = parent_qc->round;
	memcpy(out->parent_hash, parent_qc->block_hash, DS_HASH_LEN);
	/* 2-chain rule: a QC on b commits b's parent exactly when the two are
	 * in consecutive rounds. */
	if (b->round == parent_qc->round + 1) {
		out->commit_height = parent_qc->height;
		memcpy(out->commit_hash, parent_qc->block_hash, DS_HASH_LEN);
	}
}

uint32_t ds_cons_quorum(uint32_t n)
{
	return n - (n - 1) / 3;
}

int ds_cons_verify_qc(const struct ds_qc *qc, const char *chain_id, const struct ds_valset *vs,
		      int (*verify)(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *msg,
				    size_t len, const uint8_t sig[DS_SIG_LEN]),
		      void *ctx)
{
	if (qc->vote.epoch != vs->epoch || vs->n == 0 || qc->nsigs < ds_cons_quorum(vs->n) ||
	    qc->nsigs > vs->n)
		return DS_EINVAL;
	for (uint32_t i = 0; i < qc->nsigs; i++) {
		if (qc->sigs[i].index >= vs->n || (i > 0 && qc->sigs[i].index <= qc->sigs[i - 1].index))
			return DS_EINVAL;
	}
	uint8_t msg[DS_CONS_SIGNED_MAX];
	size_t len = ds_cons_signed_vote(msg, chain_id, &qc->vote);
	for (uint32_t i = 0; i < qc->nsigs; i++) {
		if (verify(ctx, vs->v[qc->sigs[i].index].pk, msg, len, qc->sigs[i].sig) != 0)
			return DS_ESIG;
	}
	return 0;
}
