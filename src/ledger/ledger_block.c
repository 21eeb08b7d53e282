/* Block headers, blocks and the RFC 6962 root over tx ids (ledger.h). */
#include "ledger/ledger.h"

#include <string.h>

#include "codec/codec.h"
#include "ledger/ledger_int.h"
#include "merkle/merkle.h"

#define TAG_HEADER_LEN (sizeof(DS_TAG_HEADER) - 1)

/* RFC 6962 root over tx ids, streamed through the merkle module's frontier
 * (O(log n) state, no allocation). Leaf data is the 32-byte id. */
struct mth {
	struct ds_merkle_frontier f;
};

static void mth_init(struct mth *m)
{
	ds_merkle_frontier_init(&m->f);
}

static void mth_push(struct mth *m, const uint8_t id[DS_HASH_LEN])
{
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, id, DS_HASH_LEN);
	/* At most DS_BLOCK_TXS_MAX leaves: the 2^64 limit cannot be reached. */
	DS_ASSERT(ds_merkle_frontier_append(&m->f, leaf) == 0);
}

static void mth_root(uint8_t root[DS_HASH_LEN], struct mth *m)
{
	ds_merkle_frontier_root(root, &m->f);
}

void ds_ledger_merkle_root(uint8_t root[DS_HASH_LEN], const uint8_t (*ids)[DS_HASH_LEN], size_t n)
{
	struct mth m;
	mth_init(&m);
	for (size_t i = 0; i < n; i++)
		mth_push(&m, ids[i]);
	mth_root(root, &m);
}

static bool header_valid(const struct ds_header *h)
{
	return h->version == 1 && ds_ledger_chain_id_valid(h->chain_id) &&
	       h->tx_count <= DS_BLOCK_TXS_MAX;
}

static void enc_header(struct ds_enc *e, const struct ds_header *h)
{
	ds_enc_u8(e, h->version);
	ds_enc_str(e, h->chain_id);
	ds_enc_uvar(e, h->height);
	ds_enc_uvar(e, h->epoch);
	ds_enc_uvar(e, h->round);
	ds_enc_fixed(e, h->parent_hash, DS_HASH_LEN);
	ds_enc_fixed(e, h->proposer, DS_PK_LEN);
	ds_enc_uvar(e, h->time_ms);
	ds_enc_uvar(e, h->tx_count);
	ds_enc_fixed(e, h->tx_root, DS_HASH_LEN);
	ds_enc_uvar(e, h->exec_height);
	ds_enc_fixed(e, h->state_root, DS_HASH_LEN);
	ds_enc_fixed(e, h->results_root, DS_HASH_LEN);
	ds_enc_fixed(e, h->history_root, DS_HASH_LEN);
	ds_enc_fixed(e, h->valset_hash, DS_HASH_LEN);
}

static int dec_header(struct ds_dec *d, struct ds_header *h)
{
	memset(h, 0, sizeof(*h));
	if (ds_dec_u8(d, &h->version) == 0 && h->version != 1)
		ds_dec_fail(d, DS_EVERSION);
	ds__ledger_dec_name(d, h->chain_id, sizeof(h->chain_id), true);
	ds_dec_uvar(d, &h->height);
	ds_dec_uvar(d, &h->epoch);
	ds_dec_uvar(d, &h->round);
	ds_dec_fixed(d, h->parent_hash, DS_HASH_LEN);
	ds_dec_fixed(d, h->proposer, DS_PK_LEN);
	ds_dec_uvar(d, &h->time_ms);
	uint64_t n;
	if (ds_dec_uvar(d, &n) == 0 && n > DS_BLOCK_TXS_MAX)
		ds_dec_fail(d, DS_ETOOBIG);
	h->tx_count = (uint32_t)n;
	ds_dec_fixed(d, h->tx_root, DS_HASH_LEN);
	ds_dec_uvar(d, &h->exec_height);
	ds_dec_fixed(d, h->state_root, DS_HASH_LEN);
	ds_dec_fixed(d, h->results_root, DS_HASH_LEN);
	ds_dec_fixed(d, h->history_root, DS_HASH_LEN);
	ds_dec_fixed(d, h->valset_hash, DS_HASH_LEN);
	if (d->err)
		memset(h, 0, sizeof(*h));
	return d->err;
}

int ds_header_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_header *h)
{
	*out_len = 0;
	if (!header_valid(h))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	enc_header(&e, h);
	return ds_enc_finish(&e, out_len);
}

int ds_header_decode(struct ds_header *h, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	dec_header(&d, h);
	int rc = ds_dec_finish(&d);
	if (rc)
		memset(h, 0, sizeof(*h));
	return rc;
}

int ds_header_hash(uint8_t hash[DS_HASH_LEN], const struct ds_header *h)
{
	uint8_t buf[TAG_HEADER_LEN + DS_HEADER_MAX];
	size_t n;
	memset(hash, 0, DS_HASH_LEN);
	memcpy(buf, DS_TAG_HEADER, TAG_HEADER_LEN);
	int rc = ds_header_encode(buf + TAG_HEADER_LEN, DS_HEADER_MAX, &n, h);
	if (rc)
		return rc;
	ds_sha256(hash, buf, TAG_HEADER_LEN + n);
	return 0;
}

int ds_block_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_header *h,
		    const struct ds_iov *txs, size_t ntxs)
{
	*out_len = 0;
	if (!header_valid(h) || ntxs != h->tx_count)
		return DS_EINVAL;
	/* Refuse to emit what ds_block_decode would refuse. */
	struct mth m;
	mth_init(&m);
	for (size_t i = 0; i < ntxs; i++) {
		struct ds_tx tx;
		if (txs[i].n < DS_SIG_LEN || ds_tx_decode(&tx, txs[i].p, txs[i].n) != 0 ||
		    strcmp(tx.chain_id, h->chain_id) != 0)
			return DS_EINVAL;
		uint8_t id[DS_HASH_LEN];
		ds_tx_id_body(id, txs[i].p, txs[i].n - DS_SIG_LEN);
		mth_push(&m, id);
	}
	uint8_t root[DS_HASH_LEN];
	mth_root(root, &m);
	if (memcmp(root, h->tx_root, DS_HASH_LEN) != 0)
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	enc_header(&e, h);
	ds_enc_uvar(&e, ntxs);
	for (size_t i = 0; i < ntxs; i++)
		ds_enc_bytes(&e, txs[i].p, txs[i].n);
	int rc = ds_enc_finish(&e, out_len);
	if (rc == 0 && *out_len > DS_BLOCK_MAX) {
		*out_len = 0;
		return DS_ETOOBIG;
	}
	return rc;
}

int ds_block_decode(struct ds_block *b, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	struct mth m;
	memset(b, 0, sizeof(*b));
	if (len > DS_BLOCK_MAX)
		return DS_ETOOBIG;
	ds_dec_init(&d, p, len);
	if (dec_header(&d, &b->header))
		goto fail;
	uint64_t n;
	if (ds_dec_uvar_max(&d, &n, DS_BLOCK_TXS_MAX))
		goto fail;
	if (n != b->header.tx_count) {
		ds_dec_fail(&d, DS_EINVAL);
		goto fail;
	}
	b->txs = p + d.pos;
	mth_init(&m);
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *t;
		size_t tn;
		struct ds_tx tx;
		if (ds_dec_bytes(&d, &t, &tn, DS_TX_MAX))
			goto fail;
		int rc = ds_tx_decode(&tx, t, tn);
		if (rc) {
			ds_dec_fail(&d, rc);
			goto fail;
		}
		if (strcmp(tx.chain_id, b->header.chain_id) != 0) {
			ds_dec_fail(&d, DS_ECHAIN);
			goto fail;
		}
		uint8_t id[DS_HASH_LEN];
		ds_tx_id_body(id, t, tn - DS_SIG_LEN);
		mth_push(&m, id);
	}
	b->txs_len = (size_t)(p + d.pos - b->txs);
	if (ds_dec_finish(&d))
		goto fail;
	uint8_t root[DS_HASH_LEN];
	mth_root(root, &m);
	if (memcmp(root, b->header.tx_root, DS_HASH_LEN) != 0) {
		ds_dec_fail(&d, DS_EPROOF);
		goto fail;
	}
	return 0;
fail:
	memset(b, 0, sizeof(*b));
	return d.err;
}

int ds_block_tx_next(const struct ds_block *b, size_t *pos, const uint8_t **tx, size_t *tx_len)
{
	*tx = NULL;
	*tx_len = 0;
	if (*pos >= b->txs_len)
		return 0;
	struct ds_dec d;
	ds_dec_init(&d, b->txs, b->txs_len);
	d.pos = *pos;
	/* Validated by ds_block_decode: an error here is our bug. */
	DS_ASSERT(ds_dec_bytes(&d, tx, tx_len, DS_TX_MAX) == 0);
	*pos = d.pos;
	return 1;
}
