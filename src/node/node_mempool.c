/* Transaction admission: cheap checks on the loop, signature checks in
 * batches on the libuv thread pool, then the pool; gossip in and out. */
#include "node/node_int.h"

#include <string.h>

#include "codec/codec.h"

#define MOD "mempool"

struct sub {
	struct ds_node *n;
	uint8_t *tx;
	size_t len;
	ds_node_submit_fn done;
	void *arg;
};

static const uint8_t zero_id[DS_HASH_LEN];

static void count_reject(struct ds_node *n, int rc)
{
	struct ds_metric_series *s = NULL;
	switch (rc) {
	case DS_EFULL: s = n->m.rej_full; break;
	case DS_EREPLAY: s = n->m.rej_replay; break;
	case DS_EEXPIRED: s = n->m.rej_expired; break;
	case DS_ESIG: s = n->m.rej_sig; break;
	case DS_ECHAIN: s = n->m.rej_chain; break;
	case DS_EEXIST: s = n->m.rej_dup; break;
	default: s = n->m.rej_invalid; break;
	}
	if (s)
		ds_metric_inc(s, 1);
}

static void finish(struct ds_node *n, uint8_t *tx, int rc, const uint8_t id[DS_HASH_LEN],
		   ds_node_submit_fn done, void *arg)
{
	if (rc)
		count_reject(n, rc);
	free(tx);
	if (done)
		done(arg, rc, id);
}

static void vwork(void *arg)
{
	struct ds__vjob *job = arg;
	uint8_t *scratch = malloc(DS_TX_SCRATCH_LEN);
	for (uint32_t i = 0; i < job->count; i++) {
		struct ds__vitem *it = &job->items[i];
		struct ds_tx t;
		if (!scratch) {
			it->rc = DS_ENOMEM;
			continue;
		}
		it->rc = ds_tx_decode(&t, it->tx, it->len);
		if (it->rc == 0)
			it->rc = ds_tx_verify(&t, scratch, DS_TX_SCRATCH_LEN);
	}
	free(scratch);
}

static void dispatch(struct ds_node *n);

static void gossip_flush(void *arg)
{
	struct ds_node *n = arg;
	n->gossip_posted = false;
	if (n->gossip.len > 1 && n->net && !n->stopping)
		(void)ds_net_broadcast(n->net, n->gossip.data, n->gossip.len);
	ds_buf_reset(&n->gossip);
	n->gossip_count = 0;
}

static void gossip_add(struct ds_node *n, const uint8_t *tx, size_t len)
{
	if (!n->net)
		return;
	if (n->gossip.len == 0) {
		uint8_t t = DS__NODE_FRAME_TXS;
		ds_buf_append(&n->gossip, &t, 1);
	}
	uint8_t hdr[DS_UVAR_MAX_LEN];
	struct ds_enc e;
	size_t hl;
	ds_enc_init(&e, hdr, sizeof(hdr));
	ds_enc_uvar(&e, len);
	if (ds_enc_finish(&e, &hl) != 0)
		return;
	ds_buf_append(&n->gossip, hdr, hl);
	ds_buf_append(&n->gossip, tx, len);
	if (n->gossip.err) {
		ds_buf_reset(&n->gossip);
		return;
	}
	n->gossip_count++;
	if (n->gossip.len >= DS__NODE_GOSSIP_FLUSH) {
		gossip_flush(n);
	} else if (!n->gossip_posted) {
		/* Runs after what is already queued: one frame per burst. */
		if (ds_loop_post(n->loop, gossip_flush, n) == 0)
			n->gossip_posted = true;
		else
			gossip_flush(n);
	}
}

static void vdone(void *arg, int status)
{
	struct ds__vjob *job = arg;
	struct ds_node *n = job->n;
	bool added = false;
	ds_metric_inc(n->m.sig_tx, job->count);
	for (uint32_t i = 0; i < job->count; i++) {
		struct ds__vitem *it = &job->items[i];
		int rc = status ? DS_ECLOSED : it->rc;
		if (rc == 0 && n->stopping)
			rc = DS_ECLOSED;
		if (rc == 0 && ds_chain_tx_seen(n->chain, it->id))
			rc = DS_EREPLAY;
		if (rc == 0) {
			pthread_mutex_lock(&n->mp_lock);
			rc = ds_mempool_add(n->mp, it->id, it->tx, it->len, it->expiry);
			pthread_mutex_unlock(&n->mp_lock);
		}
		if (rc == 0) {
			added = true;
			if (!it->from_peer)
				gossip_add(n, it->tx, it->len);
		}
		finish(n, it->tx, rc, it->id, it->done, it->arg);
	}
	DS_ASSERT(n->vinflight_jobs > 0 && n->vinflight_txs >= job->count);
	n->vinflight_jobs--;
	n->vinflight_txs -= job->count;
	free(job);
	if (!n->stopping) {
		dispatch(n);
		if (added && n->nheld)
			ds__node_release_held(n);
	}
}

static void fail_job(struct ds_node *n, struct ds__vjob *job, int rc)
{
	for (uint32_t i = 0; i < job->count; i++)
		finish(n, job->items[i].tx, rc, job->items[i].id, job->items[i].done, job->items[i].arg);
	free(job);
}

static void dispatch(struct ds_node *n)
{
	while (n->vready && n->vinflight_jobs < DS__NODE_VJOBS_MAX) {
		struct ds__vjob *job = n->vready;
		n->vready = job->next;
		if (!n->vready)
			n->vready_tail = NULL;
		n->vwaiting -= job->count;
		if (n->stopping || ds_loop_work(n->loop, vwork, vdone, job) != 0) {
			fail_job(n, job, n->stopping ? DS_ECLOSED : DS_EFULL);
			continue;
		}
		n->vinflight_jobs++;
		n->vinflight_txs += job->count;
	}
}

static void seal_current(struct ds_node *n)
{
	struct ds__vjob *job = n->vcur;
	if (!job || job->count == 0)
		return;
	n->vcur = NULL;
	job->next = NULL;
	if (n->vready_tail)
		n->vready_tail->next = job;
	else
		n->vready = job;
	n->vready_tail = job;
}

static void vflush(void *arg)
{
	struct ds_node *n = arg;
	n->vflush_posted = false;
	seal_current(n);
	dispatch(n);
}

void ds__node_admit(struct ds_node *n, uint8_t *tx, size_t len, bool from_peer,
		    ds_node_submit_fn done, void *arg)
{
	uint8_t id[DS_HASH_LEN];
	struct ds_tx t;
	if (n->stopping) {
		finish(n, tx, DS_ECLOSED, zero_id, done, arg);
		return;
	}
	if (len <= DS_SIG_LEN || ds_tx_decode(&t, tx, len) != 0) {
		finish(n, tx, DS_EINVAL, zero_id, done, arg);
		return;
	}
	ds_tx_id_body(id, tx, len - DS_SIG_LEN);
	int rc = 0;
	uint64_t next = n->tip.height + 1;
	if (strcmp(t.chain_id, n->gen->g.chain_id) != 0)
		rc = DS_ECHAIN;
	else if (t.expiry_height <= next ||
		 t.expiry_height - next > n->gen->g.params.max_tx_lifetime)
		rc = DS_EEXPIRED;
	else if (ds_mempool_has(n->mp, id))
		rc = DS_EEXIST;
	else if (ds_chain_tx_seen(n->chain, id))
		rc = DS_EREPLAY;
	else if (ds_mempool_count(n->mp) + n->vwaiting + n->vinflight_txs >= n->cfg.mempool_txs_max ||
		 n->vwaiting >= DS__NODE_VWAIT_MAX)
		rc = DS_EFULL;
	if (rc) {
		finish(n, tx, rc, id, done, arg);
		return;
	}
	if (!n->vcur) {
		n->vcur = malloc(sizeof(*n->vcur));
		if (!n->vcur) {
			finish(n, tx, DS_ENOMEM, id, done, arg);
			return;
		}
		n->vcur->n = n;
		n->vcur->next = NULL;
		n->vcur->count = 0;
	}
	struct ds__vitem *it = &n->vcur->items[n->vcur->count++];
	it->tx = tx;
	it->len = len;
	memcpy(it->id, id, DS_HASH_LEN);
	it->expiry = t.expiry_height;
	it->rc = 0;
	it->from_peer = from_peer;
	it->done = done;
	it->arg = arg;
	n->vwaiting++;
	if (n->vcur->count == DS__NODE_VBATCH) {
		seal_current(n);
		dispatch(n);
	} else if (!n->vflush_posted) {
		/* Whatever arrives before this runs joins the same job. */
		if (ds_loop_post(n->loop, vflush, n) == 0)
			n->vflush_posted = true;
		else
			vflush(n);
	}
}

static void sub_run(void *arg)
{
	struct sub *s = arg;
	ds__node_admit(s->n, s->tx, s->len, false, s->done, s->arg);
	free(s);
}

int ds_node_submit_tx(struct ds_node *n, const uint8_t *tx, size_t len, ds_node_submit_fn done,
		      void *arg)
{
	if (len == 0)
		return DS_EINVAL;
	if (len > DS_TX_MAX)
		return DS_ETOOBIG;
	struct sub *s = malloc(sizeof(*s));
	uint8_t *copy = malloc(len);
	if (!s || !copy) {
		free(s);
		free(copy);
		return DS_ENOMEM;
	}
	memcpy(copy, tx, len);
	*s = (struct sub){.n = n, .tx = copy, .len = len, .done = done, .arg = arg};
	int rc = ds_loop_post(n->loop, sub_run, s);
	if (rc) {
		free(copy);
		free(s);
	}
	return rc;
}

void ds__node_gossip_in(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	size_t count = 0;
	while (ds_dec_left(&d) > 0) {
		const uint8_t *tx;
		size_t tl;
		if (ds_dec_bytes(&d, &tx, &tl, DS_TX_MAX) != 0) {
			DS_LOGI(MOD, "malformed tx gossip", " peer=%s after=%zu", n->gen->names[peer], count);
			return;
		}
		uint8_t *copy = malloc(tl ? tl : 1);
		if (!copy)
			return;
		memcpy(copy, tx, tl);
		ds__node_admit(n, copy, tl, true, NULL, NULL);
		count++;
	}
}

bool ds__node_idle(struct ds_node *n)
{
	if (n->gen->empty_block_interval_ms == 0 || n->syncing || ds_mempool_count(n->mp) != 0 ||
	    n->vwaiting != 0 || n->vinflight_txs != 0)
		return false;
	/* Uncommitted blocks with transactions need the next QCs to commit. */
	for (size_t i = 0; i < n->npb; i++)
		if (!n->pb[i]->committed && n->pb[i]->height > n->tip.height &&
		    n->pb[i]->header.tx_count > 0)
			return false;
	return true;
}

void ds__node_mempool_close(struct ds_node *n)
{
	seal_current(n);
	while (n->vready) {
		struct ds__vjob *job = n->vready;
		n->vready = job->next;
		fail_job(n, job, DS_ECLOSED);
	}
	n->vready_tail = NULL;
	n->vwaiting = 0;
}
