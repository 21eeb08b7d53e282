/* chain_testkit — synthetic, fully signed chains for tests, benches and the
 * crash test's debug-commit-loop. Fixed seeds: test networks only. */
#include <stdio.h>
#include <string.h>

#include "chain/chain_int.h"
#include "codec/codec.h"

static int seeded(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN], uint8_t tag, uint8_t i)
{
	uint8_t seed[DS_SEED_LEN];
	memset(seed, tag, sizeof(seed));
	seed[0] = i;
	return ds_ed25519_seed_keypair(pk, sk, seed);
}

int ds__kit_init(struct ds__kit *k, const char *chain_id, uint64_t retain, uint64_t nonce_base)
{
	memset(k, 0, sizeof(*k));
	if (strlen(chain_id) > DS_CHAIN_ID_MAX)
		return DS_EINVAL;
	snprintf(k->g.chain_id, sizeof(k->g.chain_id), "%s", chain_id);
	k->g.time_ms = 1700000000000ULL;
	k->g.valset.epoch = 0;
	k->g.valset.n = DS__KIT_VALS;
	for (uint8_t i = 0; i < DS__KIT_VALS; i++) {
		int rc = seeded(k->g.valset.v[i].pk, k->val_sk[i], 0xa5, i);
		if (rc)
			return rc;
		k->g.valset.v[i].power = 1;
	}
	int rc = seeded(k->user_pk, k->user_sk, 0x5a, 0);
	if (rc)
		return rc;
	k->g.params.max_tx_lifetime = 100;
	k->g.params.block_txs_max = DS_BLOCK_TXS_MAX;
	k->g.params.retain_versions = retain;
	k->nonce = nonce_base;
	k->scratch = malloc(DS_TX_SCRATCH_LEN);
	return k->scratch ? 0 : DS_ENOMEM;
}

void ds__kit_free(struct ds__kit *k)
{
	free(k->scratch);
	ds_memzero(k->val_sk, sizeof(k->val_sk));
	ds_memzero(k->user_sk, sizeof(k->user_sk));
	k->scratch = NULL;
}

int ds__kit_tx(struct ds__kit *k, struct ds_buf *out, const char *method, const char *key,
	       int64_t value, uint64_t expiry)
{
	uint8_t args[512];
	struct ds_enc e;
	ds_enc_init(&e, args, sizeof(args));
	bool put = strcmp(method, "put") == 0;
	ds_value_enc_map(&e, put ? 2 : 1);
	ds_value_enc_key(&e, "key", 3);
	ds_value_enc_str(&e, key, strlen(key));
	if (put) {
		ds_value_enc_key(&e, "value", 5);
		ds_value_enc_int(&e, value);
	}
	size_t alen;
	int rc = ds_enc_finish(&e, &alen);
	if (rc)
		return rc;
	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	memcpy(tx.chain_id, k->g.chain_id, sizeof(tx.chain_id));
	memcpy(tx.sender, k->user_pk, DS_PK_LEN);
	tx.nonce = k->nonce++;
	tx.expiry_height = expiry;
	snprintf(tx.target, sizeof(tx.target), "kv");
	snprintf(tx.method, sizeof(tx.method), "%s", method);
	tx.args = args;
	tx.args_len = alen;
	rc = ds_tx_sign(&tx, k->user_sk, k->scratch, DS_TX_SCRATCH_LEN);
	if (rc)
		return rc;
	size_t n;
	ds_buf_reset(out);
	if (ds_buf_reserve(out, DS_TX_MAX))
		return DS_ENOMEM;
	rc = ds_tx_encode(out->data, out->cap, &n, &tx);
	out->len = rc ? 0 : n;
	return rc;
}

int ds__kit_seal(struct ds__kit *k, struct ds_header *h, const struct ds_iov *txs, size_t ntx,
		 struct ds_buf *block, struct ds_qc *qc)
{
	if (ntx > DS_BLOCK_TXS_MAX)
		return DS_ETOOBIG;
	uint8_t(*ids)[DS_HASH_LEN] = malloc((ntx ? ntx : 1) * DS_HASH_LEN);
	if (!ids)
		return DS_ENOMEM;
	size_t total = DS_HEADER_MAX + 16;
	for (size_t i = 0; i < ntx; i++) {
		ds_tx_id_body(ids[i], txs[i].p, txs[i].n - DS_SIG_LEN);
		total += txs[i].n + 8;
	}
	ds_ledger_merkle_root(h->tx_root, (const uint8_t(*)[DS_HASH_LEN])ids, ntx);
	free(ids);
	h->tx_count = (uint32_t)ntx;
	ds_buf_reset(block);
	if (ds_buf_reserve(block, total))
		return DS_ENOMEM;
	size_t n;
	int rc = ds_block_encode(block->data, block->cap, &n, h, txs, ntx);
	if (rc)
		return rc;
	block->len = n;
	uint8_t hash[DS_HASH_LEN];
	rc = ds_header_hash(hash, h);
	if (rc)
		return rc;
	memset(qc, 0, sizeof(*qc));
	qc->vote.epoch = h->epoch;
	qc->vote.round = h->round + 1;
	qc->vote.height = h->height + 1;
	memset(qc->vote.block_hash, 0x77, DS_HASH_LEN); /* the (synthetic) child */
	qc->vote.parent_round = h->round;
	memcpy(qc->vote.parent_hash, hash, DS_HASH_LEN);
	qc->vote.commit_height = h->height;
	memcpy(qc->vote.commit_hash, hash, DS_HASH_LEN);
	qc->nsigs = 3;
	for (uint32_t i = 0; i < 3; i++) {
		qc->sigs[i].index = i;
		ds_vote_sign(qc->sigs[i].sig, &qc->vote, h->chain_id, k->val_sk[i]);
	}
	return 0;
}

int ds__kit_block(struct ds__kit *k, struct ds_chain *c, uint32_t ntx, uint64_t key_space,
		  uint64_t *rng, struct ds_buf *block, struct ds_qc *qc)
{
	struct ds_chain_tip tip;
	int rc = ds_chain_tip(c, &tip);
	if (rc)
		return rc;
	struct ds_header h;
	rc = ds_chain_next_header(c, &h, &tip.header, tip.hash, NULL, 0);
	if (rc)
		return rc;
	h.round = tip.header.round + 1;
	h.time_ms = tip.header.time_ms + 1000;
	memcpy(h.proposer, k->g.valset.v[h.height % DS__KIT_VALS].pk, DS_PK_LEN);
	struct ds_iov *iov = calloc(ntx ? ntx : 1, sizeof(*iov));
	struct ds_buf all, one;
	ds_buf_init(&all);
	ds_buf_init(&one);
	size_t *off = calloc(ntx ? ntx : 1, sizeof(*off));
	if (!iov || !off) {
		rc = DS_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < ntx; i++) {
		*rng ^= *rng << 13;
		*rng ^= *rng >> 7;
		*rng ^= *rng << 17;
		char key[32];
		snprintf(key, sizeof(key), "k%llu", (unsigned long long)(*rng % (key_space ? key_space : 1)));
		const char *method = (i % 16 == 15) ? "del" : "put";
		if (i % 32 == 31) {
			method = "nosuch"; /* fails in the module: a failed receipt */
		}
		rc = ds__kit_tx(k, &one, method, key, (int64_t)k->nonce, h.height + 10);
		if (rc)
			goto out;
		off[i] = all.len;
		ds_buf_append(&all, one.data, one.len);
		iov[i].n = one.len;
	}
	if (all.err) {
		rc = DS_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < ntx; i++)
		iov[i].p = all.data + off[i];
	rc = ds__kit_seal(k, &h, iov, ntx, block, qc);
out:
	free(iov);
	free(off);
	ds_buf_free(&all);
	ds_buf_free(&one);
	return rc;
}
