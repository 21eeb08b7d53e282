/* Epochs in the node (docs/PROTOCOL.md §11 "Epochs"): which validator set
 * the core runs with, the maps between validator indexes (consensus) and
 * node indexes (the net), suffix blocks, and the switch to the next epoch
 * once the epoch's end block is decided.
 *
 * The chain decides what an epoch end is (ds_chain_past_change: the pending
 * validator change was executed at or below the block's exec height); the
 * node builds and checks the empty suffix blocks that let the end block be
 * committed by a QC of its own epoch, hands their headers to the chain as
 * the end block's finality evidence, and then starts a new core rooted at
 * the end block. */
#include "node/node_int.h"

#include <inttypes.h>
#include <string.h>

#include "codec/codec.h"
#include "merkle/merkle.h"

#define MOD "node"

void ds__node_set_epoch(struct ds_node *n, const struct ds_valset *vs)
{
	n->vs = *vs;
	n->vself = UINT32_MAX;
	for (uint32_t p = 0; p < DS_VALIDATORS_MAX; p++)
		n->vidx_of_peer[p] = UINT32_MAX;
	for (uint32_t v = 0; v < vs->n; v++) {
		n->peer_of_vidx[v] = UINT32_MAX;
		for (uint32_t p = 0; p < n->n; p++)
			if (memcmp(vs->v[v].pk, n->gen->node_pk[p], DS_PK_LEN) == 0) {
				n->peer_of_vidx[v] = p;
				n->vidx_of_peer[p] = v;
			}
		if (memcmp(vs->v[v].pk, n->key.pk, DS_PK_LEN) == 0)
			n->vself = v;
		if (n->peer_of_vidx[v] == UINT32_MAX) {
			char hex[2 * DS_PK_LEN + 1];
			ds_keyfile_pk_to_hex(hex, vs->v[v].pk);
			DS_LOGW(MOD, "validator is not a node of genesis.json: it cannot be reached",
				" epoch=%" PRIu64 " index=%u key=%.16s", vs->epoch, v, hex);
		}
	}
	pthread_mutex_lock(&n->st_lock);
	struct ds_node_status *s = n->st;
	s->epoch = vs->epoch;
	s->self_index = n->vself;
	s->nvalidators = vs->n;
	for (uint32_t v = 0; v < vs->n; v++) {
		struct ds_node_validator_status *e = &s->validators[v];
		uint32_t p = n->peer_of_vidx[v];
		memset(e, 0, sizeof(*e));
		e->index = v;
		e->self = v == n->vself;
		if (p != UINT32_MAX) {
			snprintf(e->name, sizeof(e->name), "%s", n->gen->names[p]);
			snprintf(e->p2p, sizeof(e->p2p), "%s", n->gen->p2p[p]);
		}
		ds_keyfile_pk_to_hex(e->public_key, vs->v[v].pk);
	}
	pthread_mutex_unlock(&n->st_lock);
	DS_LOGI(MOD, "epoch", " epoch=%" PRIu64 " validators=%u role=%s", vs->epoch, vs->n,
		n->vself == UINT32_MAX ? "observer" : "validator");
}

int ds__node_past_change(struct ds_node *n, const struct ds_header *ph, struct ds_chain_change *ch)
{
	struct ds_chain_change local;
	if (!ch)
		ch = &local;
	/* The chain executes at commit: ph's exec height must be durable. */
	if (ph->exec_height > ds__node_commit_queued(n))
		return DS_EAGAIN;
	ds__node_commit_wait(n, ph->exec_height);
	int rc = ds_chain_change(n->chain, ch);
	if (rc)
		return rc;
	return ds_chain_past_change(ch, ph) ? 1 : 0;
}

void ds__node_suffix_header(struct ds_header *h, const struct ds_header *ph,
			    const uint8_t pid[DS_HASH_LEN], uint64_t round, uint64_t time_ms,
			    const uint8_t proposer[DS_PK_LEN])
{
	*h = *ph;
	h->height = ph->height + 1;
	memcpy(h->parent_hash, pid, DS_HASH_LEN);
	h->round = round;
	h->time_ms = time_ms;
	memcpy(h->proposer, proposer, DS_PK_LEN);
	h->tx_count = 0;
	ds_merkle_empty_root(h->tx_root);
}

int ds__node_suffix_evidence(struct ds_node *n, const uint8_t end[DS_HASH_LEN], uint64_t end_height,
			     const uint8_t to[DS_HASH_LEN], uint64_t to_height, struct ds_buf *out)
{
	if (to_height <= end_height || to_height - end_height > DS_CHAIN_SUFFIX_MAX)
		return DS_ERANGE;
	size_t k = (size_t)(to_height - end_height);
	const struct ds__pblock *chain[DS_CHAIN_SUFFIX_MAX];
	const uint8_t *cur = to;
	for (size_t i = k; i > 0; i--) {
		const struct ds__pblock *b = ds__node_pb_find(n, cur);
		if (!b || b->height != end_height + i)
			return DS_ENOTFOUND;
		chain[i - 1] = b;
		cur = b->parent;
	}
	if (memcmp(cur, end, DS_HASH_LEN) != 0)
		return DS_ENOTFOUND;
	for (size_t i = 0; i < k; i++) {
		uint8_t enc[DS_HEADER_MAX], hdr[DS_UVAR_MAX_LEN];
		size_t len, hl;
		struct ds_enc e;
		int rc = ds_header_encode(enc, sizeof(enc), &len, &chain[i]->header);
		if (rc)
			return rc;
		ds_enc_init(&e, hdr, sizeof(hdr));
		ds_enc_uvar(&e, len);
		if ((rc = ds_enc_finish(&e, &hl)) != 0)
			return rc;
		ds_buf_append(out, hdr, hl);
		ds_buf_append(out, enc, len);
	}
	return out->err ? DS_ENOMEM : 0;
}

void ds__node_next_epoch(struct ds_node *n)
{
	n->reconf = false;
	struct ds_chain_change ch;
	int rc = ds_chain_change(n->chain, &ch);
	if (rc == 0 && (!ch.pending || ch.epoch != n->vs.epoch + 1))
		rc = DS_ESTATE;
	if (rc) {
		ds__node_fail(n, rc, "an epoch end was decided but the next validator set is unknown");
		return;
	}
	DS_LOGI(MOD, "epoch end decided", " epoch=%" PRIu64 " end_height=%" PRIu64
		" next_epoch=%" PRIu64 " next_validators=%u", n->vs.epoch, n->end_root.height,
		ch.epoch, ch.valset.n);
	rc = ds__node_cons_begin(n, &ch.valset, &n->end_root, &n->end_root);
	if (rc)
		ds__node_fail(n, rc, "cannot start the next epoch");
}
