/* Block sync by height, for a node far behind (restarted, partitioned, new):
 * committed blocks with their QCs, each verified by ds_chain_commit (links,
 * QC signatures, execution) before it is applied. The consensus core's own
 * sync covers the last few uncommitted blocks; this covers the rest.
 *
 * request  = u8 3 || uvar from_height || uvar count (1..16)
 * response = u8 4 || uvar responder_tip || uvar count (0..16) ||
 *            count x (bytes block || bytes qc || bytes suffix), heights
 *            from_height upwards; suffix: an epoch end's suffix headers
 *            (ds_chain_suffix), empty for other blocks */
#include "node/node_int.h"

#include <inttypes.h>
#include <string.h>

#include "codec/codec.h"

#define MOD "sync"
#define RETRY_MS 2000

void ds__node_sync_request(struct ds_node *n, uint32_t peer)
{
	if (!n->net || peer >= n->n || peer == n->self || !ds_net_peer_connected(n->net, peer))
		return;
	uint8_t msg[2 * DS_UVAR_MAX_LEN];
	struct ds_enc e;
	size_t len;
	ds_enc_init(&e, msg, sizeof(msg));
	ds_enc_uvar(&e, n->tip.height + 1);
	ds_enc_uvar(&e, DS__NODE_SYNC_BLOCKS);
	if (ds_enc_finish(&e, &len) != 0)
		return;
	if (ds__node_send(n, peer, DS__NODE_FRAME_SYNC_REQ, msg, len) == 0) {
		n->sync_peer = peer;
		n->sync_sent_ms = ds_loop_now_ms(n->loop);
	}
}

void ds__node_sync_on_req(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	uint64_t from, count;
	ds_dec_init(&d, p, len);
	ds_dec_uvar(&d, &from);
	ds_dec_uvar_max(&d, &count, DS__NODE_SYNC_BLOCKS);
	if (ds_dec_finish(&d) != 0 || count == 0 || from == 0) {
		DS_LOGI(MOD, "malformed sync request", " peer=%s", n->gen->names[peer]);
		return;
	}
	struct ds_buf body, blk, qc, sfx;
	ds_buf_init(&body);
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	ds_buf_init(&sfx);
	uint64_t k = 0;
	for (uint64_t h = from; h <= n->tip.height && k < count; h++) {
		ds_buf_reset(&blk);
		ds_buf_reset(&qc);
		ds_buf_reset(&sfx);
		if (ds_chain_block(n->chain, h, &blk, &qc) != 0 || ds_chain_suffix(n->chain, h, &sfx) != 0)
			break;
		if (k > 0 && body.len + blk.len + qc.len + sfx.len > DS__NODE_SYNC_BYTES)
			break;
		uint8_t hdr[DS_UVAR_MAX_LEN];
		struct ds_enc e;
		size_t hl;
		ds_enc_init(&e, hdr, sizeof(hdr));
		ds_enc_uvar(&e, blk.len);
		if (ds_enc_finish(&e, &hl) != 0)
			break;
		ds_buf_append(&body, hdr, hl);
		ds_buf_append(&body, blk.data, blk.len);
		ds_enc_init(&e, hdr, sizeof(hdr));
		ds_enc_uvar(&e, qc.len);
		if (ds_enc_finish(&e, &hl) != 0)
			break;
		ds_buf_append(&body, hdr, hl);
		ds_buf_append(&body, qc.data, qc.len);
		ds_enc_init(&e, hdr, sizeof(hdr));
		ds_enc_uvar(&e, sfx.len);
		if (ds_enc_finish(&e, &hl) != 0)
			break;
		ds_buf_append(&body, hdr, hl);
		ds_buf_append(&body, sfx.data, sfx.len);
		k++;
	}
	uint8_t head[2 * DS_UVAR_MAX_LEN];
	struct ds_enc e;
	size_t hl;
	ds_enc_init(&e, head, sizeof(head));
	ds_enc_uvar(&e, n->tip.height);
	ds_enc_uvar(&e, k);
	if (!body.err && ds_enc_finish(&e, &hl) == 0) {
		struct ds_buf msg;
		ds_buf_init(&msg);
		ds_buf_append(&msg, head, hl);
		ds_buf_append(&msg, body.data, body.len);
		if (!msg.err)
			(void)ds__node_send(n, peer, DS__NODE_FRAME_SYNC_RESP, msg.data, msg.len);
		ds_buf_free(&msg);
	}
	ds_buf_free(&body);
	ds_buf_free(&blk);
	ds_buf_free(&qc);
	ds_buf_free(&sfx);
}

struct rblock {
	const uint8_t *p;
	size_t len;
	struct ds_block b;
	uint8_t hash[DS_HASH_LEN];
	struct ds_qc qc;
	const uint8_t *sfx; /* suffix headers (ds_chain_commit_end checks them) */
	size_t sfx_len;
};

/* True if block i's QC is proven for it by this response alone: it names
 * block i, or a later block j of the response (whose parent links back to
 * i were checked), or block i is an epoch end with suffix headers (which
 * ds_chain_commit_end checks against the QC). */
/* True if the suffix of end block r names (height, hash). */
static bool suffix_names(const struct rblock *r, uint64_t height, const uint8_t hash[DS_HASH_LEN])
{
	struct ds_dec d;
	ds_dec_init(&d, r->sfx, r->sfx_len);
	for (uint64_t h = r->b.header.height + 1; ds_dec_left(&d) > 0 && h <= height; h++) {
		const uint8_t *p;
		size_t len;
		struct ds_header hd;
		uint8_t hh[DS_HASH_LEN];
		ds_dec_bytes(&d, &p, &len, DS_HEADER_MAX);
		if (d.err || ds_header_decode(&hd, p, len) != 0 || ds_header_hash(hh, &hd) != 0)
			return false;
		if (h == height)
			return hd.height == height && memcmp(hh, hash, DS_HASH_LEN) == 0;
	}
	return false;
}

static bool qc_covers(const struct rblock *r, size_t i, size_t nr)
{
	const struct ds_vote_data *v = &r[i].qc.vote;
	if (r[i].sfx_len > 0)
		return true;
	for (size_t j = i; j < nr; j++) {
		if (v->commit_height == r[j].b.header.height &&
		    memcmp(v->commit_hash, r[j].hash, DS_HASH_LEN) == 0)
			return true;
		/* A block decided with a later epoch end: its QC names a
		 * suffix block of that end. */
		if (r[j].sfx_len > 0 && v->commit_height > r[j].b.header.height)
			return suffix_names(&r[j], v->commit_height, v->commit_hash);
	}
	return false;
}

static void caught_up(struct ds_node *n)
{
	if (n->syncing)
		DS_LOGI(MOD, "block sync done", " height=%" PRIu64, n->tip.height);
	n->syncing = false;
	if (n->sync_applied && n->cons && ds_cons_committed_height(n->cons) < n->tip.height) {
		int rc = ds__node_cons_restart(n);
		if (rc)
			ds__node_fail(n, rc, "cannot restart consensus after block sync");
	}
	n->sync_applied = false;
}

void ds__node_sync_on_resp(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	uint64_t ptip, count;
	ds_dec_init(&d, p, len);
	ds_dec_uvar(&d, &ptip);
	ds_dec_uvar_max(&d, &count, DS__NODE_SYNC_BLOCKS);
	struct rblock *r = calloc(DS__NODE_SYNC_BLOCKS, sizeof(*r));
	if (!r)
		return;
	size_t nr = 0;
	for (; nr < count && ds_dec_left(&d) > 0; nr++) {
		const uint8_t *q;
		size_t ql;
		ds_dec_bytes(&d, &r[nr].p, &r[nr].len, DS_BLOCK_MAX);
		ds_dec_bytes(&d, &q, &ql, DS_QC_MAX);
		ds_dec_bytes(&d, &r[nr].sfx, &r[nr].sfx_len, DS_CHAIN_SUFFIX_MAX * (DS_HEADER_MAX + 4));
		if (d.err || ds_block_decode(&r[nr].b, r[nr].p, r[nr].len) != 0 ||
		    ds_header_hash(r[nr].hash, &r[nr].b.header) != 0 ||
		    ds_qc_decode(&r[nr].qc, q, ql) != 0)
			break;
	}
	if (nr != count || ds_dec_finish(&d) != 0) {
		DS_LOGI(MOD, "malformed sync response", " peer=%s", n->gen->names[peer]);
		goto out;
	}
	n->peer_tip[peer] = ptip;
	/* Parent links inside the response. */
	for (size_t i = 1; i < nr; i++)
		if (r[i].b.header.height != r[i - 1].b.header.height + 1 ||
		    memcmp(r[i].b.header.parent_hash, r[i - 1].hash, DS_HASH_LEN) != 0) {
			nr = i;
			break;
		}
	/* One writer: let the committer finish what consensus decided first. */
	ds__node_commit_idle(n);
	size_t applied = 0;
	for (size_t i = 0; i < nr; i++) {
		uint64_t h = r[i].b.header.height;
		if (h <= n->tip.height)
			continue;
		if (h != n->tip.height + 1 || !qc_covers(r, i, nr))
			break;
		int rc = ds_chain_commit_end(n->chain, r[i].p, r[i].len, &r[i].qc, NULL, r[i].sfx,
					     r[i].sfx_len);
		if (rc) {
			DS_LOGW(MOD, "synced block refused", " peer=%s height=%" PRIu64 " err=%s",
				n->gen->names[peer], h, ds_errname(rc));
			if (rc == DS_EFULL)
				ds__node_fail(n, rc, "disk full: cannot commit");
			break;
		}
		/* Its transactions are spent: drop them from the pool. */
		size_t pos = 0;
		const uint8_t *tx;
		size_t tl;
		pthread_mutex_lock(&n->mp_lock);
		while (ds_block_tx_next(&r[i].b, &pos, &tx, &tl) == 1) {
			uint8_t tid[DS_HASH_LEN];
			ds_tx_id_body(tid, tx, tl - DS_SIG_LEN);
			(void)ds_mempool_remove(n->mp, tid, tx, tl);
		}
		pthread_mutex_unlock(&n->mp_lock);
		ds__node_after_commit(n, r[i].p, r[i].len, &r[i].b, NULL);
		ds_metric_inc(n->m.sync_blocks, 1);
		applied++;
	}
	if (applied) {
		n->sync_applied = true;
		DS_LOGD(MOD, "blocks synced", " peer=%s count=%zu height=%" PRIu64 " peer_tip=%" PRIu64,
			n->gen->names[peer], applied, n->tip.height, ptip);
	}
	if (ptip > n->tip.height && applied) {
		if (!n->syncing)
			DS_LOGI(MOD, "block sync started", " peer=%s height=%" PRIu64 " peer_tip=%" PRIu64,
				n->gen->names[peer], n->tip.height, ptip);
		n->syncing = true;
		ds__node_sync_request(n, peer);
	} else if (ptip <= n->tip.height) {
		caught_up(n);
	}
out:
	free(r);
}

void ds__node_sync_behind(struct ds_node *n, uint32_t peer)
{
	uint64_t now = ds_loop_now_ms(n->loop);
	if (n->sync_sent_ms && now - n->sync_sent_ms < DS__NODE_SYNC_BEHIND_MS)
		return;
	if (!n->syncing)
		DS_LOGI(MOD, "a peer is in a later epoch: block sync", " peer=%s epoch=%" PRIu64,
			n->gen->names[peer], n->vs.epoch);
	n->syncing = true;
	ds__node_sync_request(n, peer);
}

void ds__node_sync_tick(struct ds_node *n)
{
	if (!n->net || n->n < 2)
		return;
	uint64_t now = ds_loop_now_ms(n->loop);
	uint64_t stall = 2 * n->gen->round_timeout_ms;
	if (stall < 3000)
		stall = 3000;
	if (now - n->sync_sent_ms < RETRY_MS)
		return;
	if (!n->syncing && now - n->last_commit_ms < stall) {
		if (n->sync_applied)
			caught_up(n);
		return;
	}
	/* Syncing with a silent peer, or no commit for a while: ask the next
	 * connected peer where it is. */
	for (uint32_t k = 1; k <= n->n; k++) {
		uint32_t peer = (n->sync_peer + k) % n->n;
		if (peer != n->self && ds_net_peer_connected(n->net, peer)) {
			ds__node_sync_request(n, peer);
			return;
		}
	}
	n->syncing = false;
}
