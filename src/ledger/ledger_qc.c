/* Votes, quorum certificates and validator sets (ledger.h). */
#include "ledger/ledger.h"

#include <string.h>

#include "codec/codec.h"
#include "ledger/ledger_int.h"

#define TAG_VOTE_LEN (sizeof(DS_TAG_VOTE) - 1)
#define TAG_VALSET_LEN (sizeof(DS_TAG_VALSET) - 1)

static void enc_vote(struct ds_enc *e, const struct ds_vote_data *v)
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

static int dec_vote(struct ds_dec *d, struct ds_vote_data *v)
{
	ds_dec_uvar(d, &v->epoch);
	ds_dec_uvar(d, &v->round);
	ds_dec_uvar(d, &v->height);
	ds_dec_fixed(d, v->block_hash, DS_HASH_LEN);
	ds_dec_uvar(d, &v->parent_round);
	ds_dec_fixed(d, v->parent_hash, DS_HASH_LEN);
	ds_dec_uvar(d, &v->commit_height);
	ds_dec_fixed(d, v->commit_hash, DS_HASH_LEN);
	return d->err;
}

int ds_vote_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_vote_data *v)
{
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	enc_vote(&e, v);
	return ds_enc_finish(&e, out_len);
}

int ds_vote_decode(struct ds_vote_data *v, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	memset(v, 0, sizeof(*v));
	ds_dec_init(&d, p, len);
	dec_vote(&d, v);
	int rc = ds_dec_finish(&d);
	if (rc)
		memset(v, 0, sizeof(*v));
	return rc;
}

int ds_vote_signing_bytes(uint8_t *out, size_t cap, size_t *out_len, const struct ds_vote_data *v,
			  const char *chain_id)
{
	*out_len = 0;
	if (!ds_ledger_chain_id_valid(chain_id))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_fixed(&e, DS_TAG_VOTE, TAG_VOTE_LEN);
	ds_enc_str(&e, chain_id);
	enc_vote(&e, v);
	return ds_enc_finish(&e, out_len);
}

void ds_vote_sign(uint8_t sig[DS_SIG_LEN], const struct ds_vote_data *v, const char *chain_id,
		  const uint8_t sk[DS_SK_LEN])
{
	uint8_t buf[DS_VOTE_SIGNING_MAX];
	size_t n;
	/* Our own nodes sign only with their configured, validated chain id. */
	DS_ASSERT(ds_vote_signing_bytes(buf, sizeof(buf), &n, v, chain_id) == 0);
	ds_ed25519_sign(sig, buf, n, sk);
}

static bool qc_indices_ok(const struct ds_qc *qc, uint32_t n)
{
	if (qc->nsigs > DS_VALIDATORS_MAX)
		return false;
	for (uint32_t i = 0; i < qc->nsigs; i++) {
		if (qc->sigs[i].index >= n)
			return false;
		if (i > 0 && qc->sigs[i].index <= qc->sigs[i - 1].index)
			return false;
	}
	return true;
}

int ds_qc_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_qc *qc)
{
	*out_len = 0;
	if (!qc_indices_ok(qc, DS_VALIDATORS_MAX))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	enc_vote(&e, &qc->vote);
	ds_enc_uvar(&e, qc->nsigs);
	for (uint32_t i = 0; i < qc->nsigs; i++) {
		ds_enc_uvar(&e, qc->sigs[i].index);
		ds_enc_fixed(&e, qc->sigs[i].sig, DS_SIG_LEN);
	}
	return ds_enc_finish(&e, out_len);
}

int ds_qc_decode(struct ds_qc *qc, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	uint64_t n;
	memset(qc, 0, sizeof(*qc));
	ds_dec_init(&d, p, len);
	dec_vote(&d, &qc->vote);
	if (ds_dec_uvar(&d, &n) == 0 && n > DS_VALIDATORS_MAX)
		ds_dec_fail(&d, DS_ETOOBIG);
	for (uint64_t i = 0; i < n && !d.err; i++) {
		uint64_t idx;
		if (ds_dec_uvar(&d, &idx))
			break;
		if (idx >= DS_VALIDATORS_MAX || (i > 0 && idx <= qc->sigs[i - 1].index)) {
			ds_dec_fail(&d, DS_EINVAL);
			break;
		}
		qc->sigs[i].index = (uint32_t)idx;
		ds_dec_fixed(&d, qc->sigs[i].sig, DS_SIG_LEN);
	}
	qc->nsigs = (uint32_t)n;
	int rc = ds_dec_finish(&d);
	if (rc)
		memset(qc, 0, sizeof(*qc));
	return rc;
}

uint32_t ds_qc_quorum(uint32_t n)
{
	return (uint32_t)(2 * (uint64_t)n / 3 + 1);
}

int ds_qc_verify(const struct ds_qc *qc, const struct ds_valset *vs, const char *chain_id)
{
	if (vs->n == 0 || vs->n > DS_VALIDATORS_MAX || qc->vote.epoch != vs->epoch ||
	    !qc_indices_ok(qc, vs->n))
		return DS_EINVAL;
	uint8_t msg[DS_VOTE_SIGNING_MAX];
	size_t n;
	int rc = ds_vote_signing_bytes(msg, sizeof(msg), &n, &qc->vote, chain_id);
	if (rc)
		return rc;
	/* Counting before verifying keeps a short QC cheap to refuse. */
	if (qc->nsigs < ds_qc_quorum(vs->n))
		return DS_EPROOF;
	for (uint32_t i = 0; i < qc->nsigs; i++)
		if (ds_ed25519_verify(qc->sigs[i].sig, msg, n, vs->v[qc->sigs[i].index].pk) != 0)
			return DS_ESIG;
	return 0;
}

static bool valset_valid(const struct ds_valset *vs)
{
	if (vs->n == 0 || vs->n > DS_VALIDATORS_MAX)
		return false;
	for (uint32_t i = 0; i < vs->n; i++) {
		if (vs->v[i].power != 1)
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (memcmp(vs->v[i].pk, vs->v[j].pk, DS_PK_LEN) == 0)
				return false;
	}
	return true;
}

int ds_valset_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_valset *vs)
{
	*out_len = 0;
	if (!valset_valid(vs))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_uvar(&e, vs->epoch);
	ds_enc_uvar(&e, vs->n);
	for (uint32_t i = 0; i < vs->n; i++) {
		ds_enc_fixed(&e, vs->v[i].pk, DS_PK_LEN);
		ds_enc_uvar(&e, vs->v[i].power);
	}
	return ds_enc_finish(&e, out_len);
}

int ds_valset_decode(struct ds_valset *vs, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	uint64_t n;
	memset(vs, 0, sizeof(*vs));
	ds_dec_init(&d, p, len);
	ds_dec_uvar(&d, &vs->epoch);
	if (ds_dec_uvar(&d, &n) == 0 && (n == 0 || n > DS_VALIDATORS_MAX))
		ds_dec_fail(&d, n == 0 ? DS_EINVAL : DS_ETOOBIG);
	for (uint64_t i = 0; i < n && !d.err; i++) {
		ds_dec_fixed(&d, vs->v[i].pk, DS_PK_LEN);
		ds_dec_uvar(&d, &vs->v[i].power);
	}
	vs->n = (uint32_t)n;
	int rc = ds_dec_finish(&d);
	if (rc == 0 && !valset_valid(vs))
		rc = DS_EINVAL;
	if (rc)
		memset(vs, 0, sizeof(*vs));
	return rc;
}

int ds_valset_hash(uint8_t hash[DS_HASH_LEN], const struct ds_valset *vs)
{
	uint8_t buf[TAG_VALSET_LEN + DS_VALSET_MAX];
	size_t n;
	memset(hash, 0, DS_HASH_LEN);
	memcpy(buf, DS_TAG_VALSET, TAG_VALSET_LEN);
	int rc = ds_valset_encode(buf + TAG_VALSET_LEN, DS_VALSET_MAX, &n, vs);
	if (rc)
		return rc;
	ds_sha256(hash, buf, TAG_VALSET_LEN + n);
	return 0;
}
