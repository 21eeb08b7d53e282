/* The node: opening a home, the consensus host callbacks, the network
 * dispatch, status, metrics and shutdown. */
#include "node/node_int.h"
#include "node/node_wal.h"
#include "node/node_credit.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "codec/codec.h"

#define MOD "node"

/* ------------------------------------------------------ pending blocks --- */

static struct ds__pblock *pb_find(struct ds_node *n, const uint8_t id[DS_HASH_LEN])
{
	for (size_t i = 0; i < n->npb; i++)
		if (memcmp(n->pb[i]->id, id, DS_HASH_LEN) == 0)
			return n->pb[i];
	return NULL;
}

struct ds__pblock *ds__node_pb_find(struct ds_node *n, const uint8_t id[DS_HASH_LEN])
{
	return pb_find(n, id);
}

static struct ds__pblock *pb_committed_at(struct ds_node *n, uint64_t height)
{
	for (size_t i = 0; i < n->npb; i++)
		if (n->pb[i]->committed && n->pb[i]->height == height)
			return n->pb[i];
	return NULL;
}

static void pb_path(char *out, size_t cap, struct ds_node *n, uint64_t height, const uint8_t id[DS_HASH_LEN])
{
	char hex[2 * DS_HASH_LEN + 1];
	ds_hex_encode(hex, id, DS_HASH_LEN);
	snprintf(out, cap, "%s/%020" PRIu64 "-%s.blk", n->pending_dir, height, hex);
}

static void pb_free(struct ds__pblock *b)
{
	if (!b)
		return;
	free(b->payload);
	free(b->justify);
	free(b);
}

/* Drops entry i from the map (and an older release's file of it). Its
 * consensus log record stays until its segment is retired; a restart skips
 * it the way it was dropped here. */
static void pb_drop(struct ds_node *n, size_t i)
{
	if (n->pb[i]->file) {
		char path[DS_NODE_PATH_MAX + 128];
		pb_path(path, sizeof(path), n, n->pb[i]->height, n->pb[i]->id);
		if (unlink(path) != 0 && errno != ENOENT)
			DS_LOGW(MOD, "cannot remove pending block file", " path=\"%s\" errno=%d", path, errno);
	}
	pb_free(n->pb[i]);
	n->pb[i] = n->pb[--n->npb];
}

/* Forgets lost forks and committed blocks older than the retention window. */
static void pb_prune(struct ds_node *n)
{
	for (size_t i = 0; i < n->npb;) {
		struct ds__pblock *b = n->pb[i];
		bool old = b->committed ? b->height + DS__NODE_PB_RETAIN < n->tip.height
					: b->height <= n->tip.height;
		if (old)
			pb_drop(n, i);
		else
			i++;
	}
	/* Log segments whose blocks are all below what is kept above. */
	if (n->wal)
		ds__wal_retire(n->wal, n->tip.height > DS__NODE_PB_RETAIN ? n->tip.height - DS__NODE_PB_RETAIN : 0);
}

/* Record file: "DSPB" u8 1, uvar height, uvar round, fixed32 id, fixed32
 * parent, bytes justify, bytes payload. */
static int pb_encode(struct ds_buf *out, const struct ds_cons_block *b)
{
	struct ds_enc e;
	ds_enc_init(&e, NULL, 0);
	size_t need = 4 + 1 + 20 + 64 + 20 + b->justify_qc_len + b->payload_len;
	ds_buf_reset(out);
	if (ds_buf_reserve(out, need) != 0)
		return DS_ENOMEM;
	ds_enc_init(&e, out->data, out->cap);
	ds_enc_fixed(&e, "DSPB", 4);
	ds_enc_u8(&e, 1);
	ds_enc_uvar(&e, b->height);
	ds_enc_uvar(&e, b->round);
	ds_enc_fixed(&e, b->id, DS_HASH_LEN);
	ds_enc_fixed(&e, b->parent_id, DS_HASH_LEN);
	ds_enc_bytes(&e, b->justify_qc, b->justify_qc_len);
	ds_enc_bytes(&e, b->payload, b->payload_len);
	return ds_enc_finish(&e, &out->len);
}

static int pb_insert(struct ds_node *n, const struct ds_cons_block *b, const struct ds_header *h,
		     bool keep_payload)
{
	if (n->npb == DS__NODE_PB_MAX)
		pb_prune(n);
	if (n->npb == DS__NODE_PB_MAX)
		return DS_EFULL;
	struct ds__pblock *p = calloc(1, sizeof(*p));
	if (!p)
		return DS_ENOMEM;
	memcpy(p->id, b->id, DS_HASH_LEN);
	memcpy(p->parent, b->parent_id, DS_HASH_LEN);
	p->height = b->height;
	p->round = b->round;
	p->header = *h;
	p->justify = malloc(b->justify_qc_len ? b->justify_qc_len : 1);
	if (keep_payload)
		p->payload = malloc(b->payload_len ? b->payload_len : 1);
	if (!p->justify || (keep_payload && !p->payload)) {
		pb_free(p);
		return DS_ENOMEM;
	}
	memcpy(p->justify, b->justify_qc, b->justify_qc_len);
	p->justify_len = b->justify_qc_len;
	if (keep_payload) {
		memcpy(p->payload, b->payload, b->payload_len);
		p->payload_len = b->payload_len;
	}
	n->pb[n->npb++] = p;
	return 0;
}

/* One pending block record (pb_encode) read back after a restart: held
 * again when it is uncommitted and above the tip, or committed (matching
 * the chain) and recent, for its justify QC only. Returns true when held
 * (or already held). */
static bool pb_load_record(struct ds_node *n, const uint8_t *data, size_t len, struct ds_buf *chain_blk,
			   struct ds_buf *chain_qc)
{
	if (n->npb >= DS__NODE_PB_MAX)
		return false;
	struct ds_dec dd;
	uint8_t magic[4], ver;
	struct ds_cons_block b;
	memset(&b, 0, sizeof(b));
	ds_dec_init(&dd, data, len);
	ds_dec_fixed(&dd, magic, 4);
	ds_dec_u8(&dd, &ver);
	ds_dec_uvar(&dd, &b.height);
	ds_dec_uvar(&dd, &b.round);
	ds_dec_fixed(&dd, b.id, DS_HASH_LEN);
	ds_dec_fixed(&dd, b.parent_id, DS_HASH_LEN);
	ds_dec_bytes(&dd, &b.justify_qc, &b.justify_qc_len, DS_CONS_QC_MAX);
	ds_dec_bytes(&dd, &b.payload, &b.payload_len, DS_CONS_PAYLOAD_MAX);
	if (ds_dec_finish(&dd) != 0 || memcmp(magic, "DSPB", 4) != 0 || ver != 1)
		return false;
	if (pb_find(n, b.id))
		return true;
	struct ds_block blk;
	uint8_t hash[DS_HASH_LEN];
	if (ds_block_decode(&blk, b.payload, b.payload_len) != 0 || ds_header_hash(hash, &blk.header) != 0 ||
	    memcmp(hash, b.id, DS_HASH_LEN) != 0)
		return false;
	bool committed = false;
	if (b.height <= n->tip.height) {
		if (b.height + DS__NODE_PB_RETAIN < n->tip.height)
			return false;
		ds_buf_reset(chain_blk);
		ds_buf_reset(chain_qc);
		struct ds_block cb;
		uint8_t ch[DS_HASH_LEN];
		if (ds_chain_block(n->chain, b.height, chain_blk, chain_qc) != 0 ||
		    ds_block_decode(&cb, chain_blk->data, chain_blk->len) != 0 ||
		    ds_header_hash(ch, &cb.header) != 0 || memcmp(ch, b.id, DS_HASH_LEN) != 0)
			return false;
		committed = true;
	}
	if (pb_insert(n, &b, &blk.header, !committed) != 0)
		return false;
	n->pb[n->npb - 1]->committed = committed;
	return true;
}

/* Reads an older release's HOME/pending/ .blk files back; what is not held
 * again is removed. */
static void pb_load_dir(struct ds_node *n)
{
	DIR *d = opendir(n->pending_dir);
	if (!d)
		return;
	struct dirent *de;
	size_t seen = 0, kept = 0;
	struct ds_buf chain_blk, chain_qc;
	ds_buf_init(&chain_blk);
	ds_buf_init(&chain_qc);
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".blk") != 0)
			continue;
		char path[DS_NODE_PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", n->pending_dir, de->d_name);
		uint8_t *data = NULL;
		size_t len = 0;
		bool keep = false;
		size_t before = n->npb;
		if (++seen <= 4 * DS__NODE_PB_MAX &&
		    ds_file_read(&data, &len, path, DS_CONS_PAYLOAD_MAX + DS_CONS_QC_MAX + 256) == 0)
			keep = pb_load_record(n, data, len, &chain_blk, &chain_qc);
		if (keep && n->npb > before) {
			n->pb[n->npb - 1]->file = true;
			kept++;
		}
		if (!keep && unlink(path) != 0)
			DS_LOGW(MOD, "cannot remove stale pending block", " path=\"%s\"", path);
		free(data);
	}
	closedir(d);
	ds_buf_free(&chain_blk);
	ds_buf_free(&chain_qc);
	if (kept == 0)
		(void)rmdir(n->pending_dir); /* fails, harmlessly, if anything else is in it */
}

struct wal_load {
	struct ds_node *n;
	struct ds_buf chain_blk, chain_qc;
	int rc;
};

/* A record of the consensus log, oldest first: the last safety record
 * wins; blocks as from the files. */
static void wal_visit(void *ctx, uint8_t type, uint64_t height, const uint8_t *p, size_t len)
{
	(void)height;
	struct wal_load *l = ctx;
	struct ds_node *n = l->n;
	if (type == DS__WAL_SAFETY) {
		uint8_t *copy = malloc(len ? len : 1);
		if (!copy) {
			l->rc = DS_ENOMEM;
			return;
		}
		memcpy(copy, p, len);
		free(n->safety);
		n->safety = copy;
		n->safety_len = len;
	} else {
		(void)pb_load_record(n, p, len, &l->chain_blk, &l->chain_qc);
	}
}

/* The consensus log, and what an older release left in files. */
static int pb_open_log(struct ds_node *n)
{
	pb_load_dir(n);
	struct wal_load l = {.n = n};
	ds_buf_init(&l.chain_blk);
	ds_buf_init(&l.chain_qc);
	int rc = ds__wal_open(&n->wal, n->wal_dir, 0, wal_visit, &l);
	ds_buf_free(&l.chain_blk);
	ds_buf_free(&l.chain_qc);
	if (!rc)
		rc = l.rc;
	if (!rc)
		DS_LOGI(MOD, "pending blocks loaded", " count=%zu log_segments=%zu", n->npb,
			ds__wal_segments(n->wal));
	return rc;
}

/* Hashes of the uncommitted blocks from the one after the tip up to and
 * including `parent`, oldest first. Returns the count, or -1 when parent
 * does not descend from the tip through blocks held here. */
static long pending_chain(struct ds_node *n, const uint8_t parent[DS_HASH_LEN],
			  uint8_t (*out)[DS_HASH_LEN], struct ds__pblock **blocks, size_t cap)
{
	size_t k = 0;
	const uint8_t *cur = parent;
	while (memcmp(cur, n->tip.hash, DS_HASH_LEN) != 0) {
		struct ds__pblock *b = pb_find(n, cur);
		if (!b || b->committed || b->height <= n->tip.height || k == cap)
			return -1;
		if (blocks)
			blocks[k] = b;
		memcpy(out[k++], b->id, DS_HASH_LEN);
		cur = b->parent;
	}
	/* reverse: oldest first */
	for (size_t i = 0; i < k / 2; i++) {
		uint8_t t[DS_HASH_LEN];
		memcpy(t, out[i], DS_HASH_LEN);
		memcpy(out[i], out[k - 1 - i], DS_HASH_LEN);
		memcpy(out[k - 1 - i], t, DS_HASH_LEN);
		if (blocks) {
			struct ds__pblock *tb = blocks[i];
			blocks[i] = blocks[k - 1 - i];
			blocks[k - 1 - i] = tb;
		}
	}
	return (long)k;
}

static const struct ds_header *parent_header(struct ds_node *n, const uint8_t id[DS_HASH_LEN])
{
	if (memcmp(id, n->tip.hash, DS_HASH_LEN) == 0)
		return &n->tip.header;
	struct ds__pblock *b = pb_find(n, id);
	if (!b || b->committed || b->height <= n->tip.height)
		return NULL;
	return &b->header;
}

/* -------------------------------------------------------- consensus io --- */

static void io_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[DS_SIG_LEN])
{
	struct ds_node *n = ctx;
	ds_ed25519_sign(sig, msg, len, n->key.sk);
}

static int io_verify(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *msg, size_t len,
		     const uint8_t sig[DS_SIG_LEN])
{
	struct ds_node *n = ctx;
	ds_metric_inc(n->m.sig_cons, 1);
	return ds_ed25519_verify(sig, msg, len, pk);
}

static int io_persist_safety(void *ctx, const uint8_t *bytes, size_t len)
{
	struct ds_node *n = ctx;
	int rc = ds__wal_append(n->wal, DS__WAL_SAFETY, 0, bytes, len);
	if (rc) {
		DS_LOGE(MOD, "cannot write the safety state", " dir=\"%s\" err=%s", n->wal_dir,
			ds_errname(rc));
		return rc;
	}
	if (n->safety_file) {
		/* The log has it now: an older release's file must not be read
		 * again (it would be older). */
		if (unlink(n->safety_path) != 0 && errno != ENOENT)
			DS_LOGW(MOD, "cannot remove the old safety file", " path=\"%s\" errno=%d",
				n->safety_path, errno);
		n->safety_file = false;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (copy) {
		memcpy(copy, bytes, len);
		free(n->safety);
		n->safety = copy;
		n->safety_len = len;
	}
	return 0;
}

static int io_propose(void *ctx, uint8_t id[DS_HASH_LEN], uint8_t *payload, size_t cap,
		      size_t *payload_len, uint64_t epoch, uint64_t round, uint64_t height,
		      const uint8_t parent_id[DS_HASH_LEN])
{
	struct ds_node *n = ctx;
	uint8_t(*pend)[DS_HASH_LEN] = n->pend;
	struct ds__pblock **pblocks = n->pend_blocks;
	const struct ds_header *ph = parent_header(n, parent_id);
	long np = pending_chain(n, parent_id, pend, pblocks, DS__NODE_PB_MAX);
	if (!ph || np < 0) {
		DS_LOGW(MOD, "cannot propose: parent unknown", " round=%" PRIu64 " height=%" PRIu64,
			round, height);
		return DS_ENOTFOUND;
	}
	struct ds_header h;
	uint64_t now = ds_now_ms();
	int rc = ph->epoch == epoch ? ds__node_past_change(n, ph, NULL) : 0;
	if (rc == 1) {
		/* The epoch has ended at or below the parent: an empty suffix
		 * block, so the end block can be committed (PROTOCOL §11). */
		ds__node_suffix_header(&h, ph, parent_id, round, now > ph->time_ms ? now : ph->time_ms + 1,
				       n->key.pk);
		rc = ds_block_encode(payload, cap, payload_len, &h, NULL, 0);
		if (rc == 0)
			rc = ds_header_hash(id, &h);
		DS_LOGD(MOD, "proposing a suffix block", " height=%" PRIu64 " round=%" PRIu64, height, round);
		return rc;
	}
	if (rc < 0) {
		DS_LOGW(MOD, "cannot propose: parent not executed far enough", " err=%s", ds_errname(rc));
		return rc;
	}
	rc = ds_chain_next_header(n->chain, &h, ph, parent_id, (const uint8_t(*)[DS_HASH_LEN])pend,
				  (size_t)np);
	if (rc == DS_EAGAIN && ph->exec_height <= ds__node_commit_queued(n)) {
		ds__node_commit_wait(n, ph->exec_height);
		rc = ds_chain_next_header(n->chain, &h, ph, parent_id,
					  (const uint8_t(*)[DS_HASH_LEN])pend, (size_t)np);
	}
	if (rc) {
		DS_LOGW(MOD, "cannot propose: next header", " err=%s", ds_errname(rc));
		return rc;
	}
	if (h.height != height || h.epoch != epoch)
		return DS_ESTATE;
	h.round = round;
	h.time_ms = now > ph->time_ms ? now : ph->time_ms + 1;
	memcpy(h.proposer, n->key.pk, DS_PK_LEN);
	/* Leave out what the uncommitted ancestors already carry. */
	pthread_mutex_lock(&n->mp_lock);
	ds_mempool_mark_begin(n->mp);
	for (long i = 0; i < np; i++) {
		struct ds_block b;
		if (!pblocks[i]->payload ||
		    ds_block_decode(&b, pblocks[i]->payload, pblocks[i]->payload_len) != 0)
			continue;
		size_t pos = 0;
		const uint8_t *tx;
		size_t tl;
		while (ds_block_tx_next(&b, &pos, &tx, &tl) == 1) {
			uint8_t tid[DS_HASH_LEN];
			ds_tx_id_body(tid, tx, tl - DS_SIG_LEN);
			ds_mempool_mark(n->mp, tid);
		}
	}
	size_t max_txs = n->gen->g.params.block_txs_max;
	size_t budget = cap > DS_HEADER_MAX + 16 + 4 * max_txs ? cap - DS_HEADER_MAX - 16 - 4 * max_txs : 0;
	size_t ntx = ds_mempool_batch(n->mp, n->prop_iov, n->prop_ids, max_txs, budget);
	h.tx_count = (uint32_t)ntx;
	ds_ledger_merkle_root(h.tx_root, (const uint8_t(*)[DS_HASH_LEN])n->prop_ids, ntx);
	rc = ds_block_encode(payload, cap, payload_len, &h, n->prop_iov, ntx);
	pthread_mutex_unlock(&n->mp_lock);
	if (rc == 0)
		rc = ds_header_hash(id, &h);
	if (rc) {
		DS_LOGW(MOD, "cannot propose: encode", " err=%s txs=%zu", ds_errname(rc), ntx);
		return rc;
	}
	DS_LOGD(MOD, "proposing", " height=%" PRIu64 " round=%" PRIu64 " txs=%zu bytes=%zu", height,
		round, ntx, *payload_len);
	return 0;
}

static int io_validate(void *ctx, const struct ds_cons_block *cb)
{
	struct ds_node *n = ctx;
	uint8_t(*pend)[DS_HASH_LEN] = n->pend;
	struct ds_block b;
	uint8_t hash[DS_HASH_LEN];
	const char *why = NULL;
	int rc = ds_block_decode(&b, cb->payload, cb->payload_len);
	if (rc) {
		why = "block does not decode";
		goto out;
	}
	const struct ds_header *h = &b.header;
	rc = DS_EINVAL;
	if (ds_header_hash(hash, h) != 0 || memcmp(hash, cb->id, DS_HASH_LEN) != 0) {
		why = "id is not the header hash";
		goto out;
	}
	if (h->height != cb->height || h->round != cb->round || h->epoch != cb->epoch ||
	    memcmp(h->parent_hash, cb->parent_id, DS_HASH_LEN) != 0) {
		why = "header disagrees with the consensus block";
		goto out;
	}
	if (h->epoch != n->vs.epoch || memcmp(h->proposer, n->vs.v[cb->round % n->vs.n].pk, DS_PK_LEN) != 0) {
		why = "proposer is not the round's leader";
		goto out;
	}
	if (h->tx_count > n->gen->g.params.block_txs_max) {
		why = "too many transactions";
		goto out;
	}
	const struct ds_header *ph = parent_header(n, cb->parent_id);
	long np = pending_chain(n, cb->parent_id, pend, NULL, DS__NODE_PB_MAX);
	if (!ph || np < 0) {
		rc = DS_ENOTFOUND;
		why = "parent not held";
		goto out;
	}
	rc = ph->epoch == h->epoch ? ds__node_past_change(n, ph, NULL) : 0;
	if (rc == 1) {
		/* A suffix block: exactly the empty header after the parent. */
		struct ds_header want;
		uint8_t a[DS_HEADER_MAX], e[DS_HEADER_MAX];
		size_t al, el;
		ds__node_suffix_header(&want, ph, cb->parent_id, h->round, h->time_ms, h->proposer);
		rc = DS_EINVAL;
		if (h->time_ms <= ph->time_ms)
			why = "time is not after the parent's";
		else if (ds_header_encode(a, sizeof(a), &al, h) != 0 ||
			 ds_header_encode(e, sizeof(e), &el, &want) != 0 || al != el || memcmp(a, e, al) != 0)
			why = "the epoch has ended: only an empty suffix block may follow";
		else
			rc = 0;
		goto out;
	}
	if (rc < 0) {
		why = "parent's exec height not executed here yet";
		goto out;
	}
	rc = ds_chain_check_header(n->chain, h, ph, cb->parent_id, (const uint8_t(*)[DS_HASH_LEN])pend,
				   (size_t)np, &why);
	if (rc == DS_EAGAIN && h->exec_height <= ds__node_commit_queued(n)) {
		/* Decided here but still being written: wait rather than refuse. */
		ds__node_commit_wait(n, h->exec_height);
		rc = ds_chain_check_header(n->chain, h, ph, cb->parent_id,
					   (const uint8_t(*)[DS_HASH_LEN])pend, (size_t)np, &why);
	}
out:
	if (rc)
		DS_LOGI(MOD, "block refused", " height=%" PRIu64 " round=%" PRIu64 " err=%s why=\"%s\"",
			cb->height, cb->round, ds_errname(rc), why ? why : "");
	return rc;
}

static int io_persist_block(void *ctx, const struct ds_cons_block *cb)
{
	struct ds_node *n = ctx;
	if (pb_find(n, cb->id))
		return 0;
	struct ds_block b;
	int rc = ds_block_decode(&b, cb->payload, cb->payload_len);
	if (rc)
		return rc;
	struct ds_buf rec;
	ds_buf_init(&rec);
	rc = pb_encode(&rec, cb);
	if (rc == 0) {
		rc = ds__wal_append(n->wal, DS__WAL_BLOCK, cb->height, rec.data, rec.len);
		if (rc)
			DS_LOGE(MOD, "cannot store a block", " height=%" PRIu64 " dir=\"%s\" err=%s", cb->height,
				n->wal_dir, ds_errname(rc));
	}
	ds_buf_free(&rec);
	if (rc == 0)
		rc = pb_insert(n, cb, &b.header, true);
	return rc;
}

static int io_load_block(void *ctx, struct ds_cons_block *out, uint8_t *buf, size_t cap,
			 const uint8_t *id, uint64_t height)
{
	struct ds_node *n = ctx;
	struct ds__pblock *p = id ? pb_find(n, id) : pb_committed_at(n, height);
	if (!p || p->height != height)
		return DS_ENOTFOUND;
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	const uint8_t *payload = p->payload;
	size_t plen = p->payload_len;
	int rc = 0;
	if (!payload) {
		rc = ds_chain_block(n->chain, height, &blk, &qc);
		payload = blk.data;
		plen = blk.len;
	}
	if (rc == 0 && plen + p->justify_len > cap)
		rc = DS_ETOOBIG;
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		memcpy(out->id, p->id, DS_HASH_LEN);
		memcpy(out->parent_id, p->parent, DS_HASH_LEN);
		out->epoch = p->header.epoch;
		out->round = p->round;
		out->height = p->height;
		memcpy(buf, payload, plen);
		memcpy(buf + plen, p->justify, p->justify_len);
		out->payload = buf;
		out->payload_len = plen;
		out->justify_qc = buf + plen;
		out->justify_qc_len = p->justify_len;
	}
	ds_buf_free(&blk);
	ds_buf_free(&qc);
	return rc == 0 ? 0 : DS_ENOTFOUND;
}

void ds__node_fail(struct ds_node *n, int err, const char *why)
{
	if (!n->fatal) {
		n->fatal = err ? err : DS_ESTATE;
		DS_LOGE(MOD, "stopping the node", " reason=\"%s\" err=%s", why, ds_errname(err));
	}
	ds_loop_stop(n->loop);
}

/* Bookkeeping after a block is durable on the chain (consensus or sync). */
void ds__node_after_commit(struct ds_node *n, const uint8_t *block, size_t len,
			   const struct ds_block *b, const struct ds_chain_tip *tip)
{
	struct ds_chain_tip t;
	if (tip)
		n->tip = *tip;
	else if (ds_chain_tip(n->chain, &t) == 0)
		n->tip = t;
	n->last_commit_ms = ds_loop_now_ms(n->loop);
	struct ds__pblock *p = pb_find(n, n->tip.hash);
	if (p) {
		p->committed = true;
		free(p->payload);
		p->payload = NULL;
	}
	pb_prune(n);
	pthread_mutex_lock(&n->mp_lock);
	/* The block's txs left the pool when it was decided, but one may have
	 * been pooled again (gossip) before the write made it "seen": from
	 * here on no pending ancestor hides it from proposals, so drop it. */
	size_t pos = 0;
	const uint8_t *tx;
	size_t tl;
	while (ds_block_tx_next(b, &pos, &tx, &tl) == 1) {
		uint8_t tid[DS_HASH_LEN];
		ds_tx_id_body(tid, tx, tl - DS_SIG_LEN);
		(void)ds_mempool_remove(n->mp, tid, tx, tl);
	}
	size_t expired = ds_mempool_expire(n->mp, n->tip.height + 1);
	pthread_mutex_unlock(&n->mp_lock);
	if (expired)
		DS_LOGD(MOD, "expired transactions dropped", " count=%zu", expired);
	ds_metric_set(n->m.height, (int64_t)n->tip.height);
	ds_metric_inc(n->m.blocks, 1);
	ds_metric_inc(n->m.txs, b->header.tx_count);
	struct ds_node_commit c = {
		.height = b->header.height, .hash = n->tip.hash, .block = block, .block_len = len,
		.decoded = b, .time_ms = b->header.time_ms,
	};
	for (size_t i = 0; i < n->nhooks; i++)
		n->hooks[i](n->hook_args[i], &c);
	ds__node_refresh_status(n);
}

/* A block already on the chain that consensus decided again (block sync
 * got there first). Same block: fine, and if it ends the core's epoch, or
 * the chain has moved past the core's epoch, the core is stale: restart it
 * on the tip after this call. A block of an older epoch than the chain's
 * block at that height is a suffix block of an epoch that ended (never on
 * the chain). Anything else differs from the chain: stop. */
static int decided_again(struct ds_node *n, const struct ds_cons_block *cb, const struct ds_block *b)
{
	struct ds_buf blk, q;
	ds_buf_init(&blk);
	ds_buf_init(&q);
	struct ds_block cbk;
	uint8_t h[DS_HASH_LEN];
	int rc = ds_chain_block(n->chain, cb->height, &blk, &q);
	if (rc == 0)
		rc = ds_block_decode(&cbk, blk.data, blk.len);
	if (rc == 0)
		rc = ds_header_hash(h, &cbk.header);
	bool same = rc == 0 && memcmp(h, cb->id, DS_HASH_LEN) == 0;
	bool older = rc == 0 && b->header.epoch < cbk.header.epoch;
	ds_buf_free(&blk);
	ds_buf_free(&q);
	if (rc == 0 && !same && !older)
		rc = DS_ECORRUPT;
	if (rc) {
		ds__node_fail(n, rc, "consensus committed a block that differs from the chain");
		return rc;
	}
	bool stale = older || n->tip.header.epoch > n->vs.epoch;
	if (!stale && ds__node_past_change(n, &b->header, NULL) == 1)
		stale = true; /* this block ends the core's epoch */
	if (stale) {
		n->epoch_ended = true;
		n->restart_core = true;
		DS_LOGD(MOD, "epoch ended behind consensus' back: restarting on the tip",
			" height=%" PRIu64 " epoch=%" PRIu64, cb->height, n->vs.epoch);
	}
	return 0;
}

static int io_deliver_commit(void *ctx, const struct ds_cons_block *cb, const struct ds_qc *qc)
{
	struct ds_node *n = ctx;
	if (n->epoch_ended) {
		/* A suffix block: never part of the chain (PROTOCOL §11). */
		DS_LOGD(MOD, "suffix block decided", " height=%" PRIu64 " round=%" PRIu64, cb->height,
			cb->round);
		return 0;
	}
	struct ds_block b;
	int rc = ds_block_decode(&b, cb->payload, cb->payload_len);
	if (rc) {
		ds__node_fail(n, rc, "committed block does not decode");
		return rc;
	}
	if (cb->height <= ds__node_commit_queued(n) && cb->height > n->tip.height)
		ds__node_commit_idle(n); /* not expected: settle, then compare */
	if (cb->height <= n->tip.height)
		return decided_again(n, cb, &b);
	/* The parent ended its epoch but this node never saw it decided (block
	 * sync applied it): a suffix block, and the core is stale. */
	if (memcmp(cb->parent_id, n->tip.hash, DS_HASH_LEN) == 0 &&
	    n->tip.header.epoch == b.header.epoch &&
	    ds__node_past_change(n, &n->tip.header, NULL) == 1) {
		n->epoch_ended = true;
		n->restart_core = true;
		DS_LOGD(MOD, "suffix block decided after a synced end block", " height=%" PRIu64,
			cb->height);
		return 0;
	}
	/* The epoch's end block? Its QC may name a suffix block: the suffix
	 * headers go to the chain as its finality evidence. */
	struct ds_buf suffix;
	ds_buf_init(&suffix);
	int end = ds__node_past_change(n, &b.header, NULL);
	if (end < 0) {
		ds__node_fail(n, end, "committed block's exec height is not executed here");
		return end;
	}
	if (end) {
		if (qc->vote.commit_height > cb->height)
			rc = ds__node_suffix_evidence(n, cb->id, cb->height, qc->vote.commit_hash,
						      qc->vote.commit_height, &suffix);
		if (rc) {
			ds_buf_free(&suffix);
			ds__node_fail(n, rc, "cannot gather the suffix of an epoch end");
			return rc;
		}
		n->epoch_ended = true;
		n->reconf = true;
		memcpy(n->end_root.id, cb->id, DS_HASH_LEN);
		n->end_root.round = 0;
		n->end_root.height = cb->height;
	}
	bool *pre = calloc(b.header.tx_count ? b.header.tx_count : 1, sizeof(bool));
	if (!pre) {
		ds_buf_free(&suffix);
		return DS_ENOMEM;
	}
	size_t pos = 0, i = 0;
	const uint8_t *tx;
	size_t tl;
	pthread_mutex_lock(&n->mp_lock);
	while (ds_block_tx_next(&b, &pos, &tx, &tl) == 1 && i < b.header.tx_count) {
		uint8_t tid[DS_HASH_LEN];
		ds_tx_id_body(tid, tx, tl - DS_SIG_LEN);
		pre[i++] = ds_mempool_remove(n->mp, tid, tx, tl);
	}
	pthread_mutex_unlock(&n->mp_lock);
	/* Executing and writing happen on the committer thread (node_commit.c):
	 * consensus goes on while the disk works. The block stays in the
	 * pending map until it is durable. */
	rc = ds__node_commit_enqueue(n, cb->payload, cb->payload_len, cb->height, qc, pre, suffix.data,
				     suffix.len);
	ds_buf_free(&suffix);
	if (rc) {
		ds__node_fail(n, rc, "cannot queue a commit");
		return rc;
	}
	DS_LOGD(MOD, "decided", " height=%" PRIu64 " round=%" PRIu64 " txs=%u", cb->height,
		cb->round, b.header.tx_count);
	return 0;
}

/* ------------------------------------------------------ consensus glue --- */

int ds__node_send(struct ds_node *n, uint32_t peer, uint8_t type, const uint8_t *msg, size_t len)
{
	if (!n->net)
		return DS_ECLOSED;
	ds_buf_reset(&n->frame);
	ds_buf_append(&n->frame, &type, 1);
	ds_buf_append(&n->frame, msg, len);
	if (n->frame.err)
		return DS_ENOMEM;
	if (peer == UINT32_MAX)
		return ds_net_broadcast(n->net, n->frame.data, n->frame.len) < 0 ? DS_EINVAL : 0;
	return ds_net_send(n->net, peer, n->frame.data, n->frame.len);
}

static void on_cons_timer(void *arg);

static void drain(struct ds_node *n)
{
	struct ds_cons_action a;
	size_t budget = DS_CONS_ACTIONS_MAX + 1;
	while (n->cons && budget-- > 0 && ds_cons_next_action(n->cons, &a)) {
		switch (a.kind) {
		case DS_CONS_ACT_SEND:
			if (a.to < n->vs.n && n->peer_of_vidx[a.to] != UINT32_MAX)
				(void)ds__node_send(n, n->peer_of_vidx[a.to], DS__NODE_FRAME_CONS, a.msg,
						    a.len);
			break;
		case DS_CONS_ACT_BROADCAST:
			(void)ds__node_send(n, UINT32_MAX, DS__NODE_FRAME_CONS, a.msg, a.len);
			break;
		case DS_CONS_ACT_TIMER: {
			uint64_t now = ds_loop_now_ms(n->loop);
			ds_timer_start(n->cons_timer, a.at_ms > now ? a.at_ms - now : 0, 0, on_cons_timer, n);
			break;
		}
		}
	}
	const struct ds_cons_stats *s = n->cons ? ds_cons_stats(n->cons) : NULL;
	if (s) {
		ds_metric_inc(n->m.votes, s->votes_sent - n->m.last.votes_sent);
		ds_metric_inc(n->m.timeouts, s->timeouts_sent - n->m.last.timeouts_sent);
		ds_metric_inc(n->m.proposals, s->proposals_sent - n->m.last.proposals_sent);
		n->m.last = *s;
		ds_metric_set(n->m.round, (int64_t)ds_cons_round(n->cons));
	}
}

static void check_core(struct ds_node *n, int rc, const char *what)
{
	if (rc == 0) {
		drain(n);
		return;
	}
	char why[96];
	snprintf(why, sizeof(why), "consensus core failed in %s", what);
	ds__node_fail(n, rc, why);
}

/* After each call into the core: an epoch end it decided starts the next
 * epoch (never from inside a core callback). */
static void after_core(struct ds_node *n)
{
	if (n->fatal)
		return;
	if (n->restart_core) {
		n->restart_core = false;
		int rc = ds__node_cons_restart(n);
		if (rc)
			ds__node_fail(n, rc, "cannot restart consensus on the tip's epoch");
	} else if (n->reconf) {
		ds__node_next_epoch(n);
	}
}

static void on_cons_timer(void *arg)
{
	struct ds_node *n = arg;
	if (!n->cons || n->stopping)
		return;
	check_core(n, ds_cons_on_timer(n->cons, ds_loop_now_ms(n->loop)), "timer");
	after_core(n);
}

void ds__node_cons_deliver(struct ds_node *n, uint32_t from, const uint8_t *msg, size_t len)
{
	/* from: a node index; the core speaks validator indexes. */
	if (!n->cons || n->stopping || from >= n->n)
		return;
	uint8_t type;
	uint64_t epoch;
	uint32_t author;
	if (ds_cons_peek(&type, &epoch, &author, msg, len) == 0 && epoch > n->vs.epoch) {
		/* The sender is in a later epoch: this node missed an epoch's
		 * end (the others no longer speak its epoch). Catch up by block
		 * sync now rather than after a commit stall. */
		ds__node_sync_behind(n, from);
		return;
	}
	if (n->vidx_of_peer[from] == UINT32_MAX)
		return;
	check_core(n, ds_cons_on_message(n->cons, ds_loop_now_ms(n->loop), n->vidx_of_peer[from], msg,
					   len),
		   "message");
	after_core(n);
}

static const struct ds_cons_io cons_io = {
	.sign = io_sign,
	.verify = io_verify,
	.persist_safety = io_persist_safety,
	.propose = io_propose,
	.validate = io_validate,
	.deliver_commit = io_deliver_commit,
	.persist_block = io_persist_block,
	.load_block = io_load_block,
};

/* A new core for the epoch of validator set vs whose root (final by fiat)
 * is `genesis`, started on the committed block `root` with the persisted
 * safety state (state of an older epoch is ignored by the core). */
int ds__node_cons_begin(struct ds_node *n, const struct ds_valset *vs,
			const struct ds_cons_root *genesis, const struct ds_cons_root *root)
{
	if (n->cons) {
		ds_cons_free(n->cons);
		n->cons = NULL;
	}
	ds_timer_stop(n->cons_timer);
	n->epoch_ended = false;
	n->reconf = false;
	n->restart_core = false;
	ds__node_set_epoch(n, vs);
	struct ds_cons_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.chain_id, sizeof(cfg.chain_id), "%s", n->gen->g.chain_id);
	cfg.epoch = vs->epoch;
	cfg.valset = *vs;
	cfg.self_index = n->vself;
	cfg.genesis = *genesis;
	cfg.genesis.round = 0;
	cfg.base_timeout_ms = n->gen->round_timeout_ms;
	cfg.max_timeout_ms = n->gen->round_timeout_max_ms;
	cfg.payload_max_bytes = DS_CONS_PAYLOAD_MAX;
	struct ds_cons_io io = cons_io;
	io.ctx = n;
	int rc = ds_cons_new(&n->cons, &cfg, &io);
	if (rc)
		return rc;
	n->m.last = *ds_cons_stats(n->cons);
	rc = ds_cons_start(n->cons, ds_loop_now_ms(n->loop), n->safety, n->safety_len, root);
	if (rc) {
		ds_cons_free(n->cons);
		n->cons = NULL;
		return rc;
	}
	n->sync_applied = false;
	drain(n);
	DS_LOGI(MOD, "consensus started",
		" epoch=%" PRIu64 " height=%" PRIu64 " round=%" PRIu64 " role=%s", vs->epoch,
		root->height, ds_cons_round(n->cons), n->vself == UINT32_MAX ? "observer" : "validator");
	return 0;
}

/* Block hash at a committed height (0: genesis). */
static int hash_at(struct ds_node *n, uint64_t height, uint8_t out[DS_HASH_LEN])
{
	if (height == 0) {
		memcpy(out, n->genesis_hash, DS_HASH_LEN);
		return 0;
	}
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	struct ds_block b;
	int rc = ds_chain_block(n->chain, height, &blk, &qc);
	if (rc == 0)
		rc = ds_block_decode(&b, blk.data, blk.len);
	if (rc == 0)
		rc = ds_header_hash(out, &b.header);
	ds_buf_free(&blk);
	ds_buf_free(&qc);
	return rc;
}

/* (Re)creates the core on the committed tip: at start, and after block sync
 * moved the tip behind its back. The epoch is the tip's, or the next one
 * when the tip is its epoch's end block. */
int ds__node_cons_restart(struct ds_node *n)
{
	struct ds_cons_root root, genesis;
	memcpy(root.id, n->tip.hash, DS_HASH_LEN);
	root.round = n->tip.header.round;
	root.height = n->tip.height;
	struct ds_chain_change ch;
	struct ds_valset vs;
	int rc = ds_chain_change(n->chain, &ch);
	if (rc)
		return rc;
	if (n->tip.height > 0 && ds_chain_past_change(&ch, &n->tip.header)) {
		vs = ch.valset;
		genesis = root;
	} else {
		uint64_t epoch = n->tip.height > 0 ? n->tip.header.epoch : 0, rh;
		if ((rc = ds_chain_valset(n->chain, epoch, &vs)) != 0 ||
		    (rc = ds_chain_epoch_root(n->chain, epoch, &rh)) != 0)
			return rc;
		genesis.height = rh;
		if ((rc = hash_at(n, rh, genesis.id)) != 0)
			return rc;
	}
	genesis.round = 0;
	return ds__node_cons_begin(n, &vs, &genesis, &root);
}

/* ---------------------------------------------------------------- net --- */

static bool is_vote(const uint8_t *msg, size_t len)
{
	uint8_t type;
	uint64_t epoch;
	uint32_t author;
	return ds_cons_peek(&type, &epoch, &author, msg, len) == 0 && type == DS_CONS_MSG_VOTE;
}

static void on_message(void *ctx, size_t peer, const uint8_t *msg, size_t len)
{
	struct ds_node *n = ctx;
	if (len == 0 || peer >= n->n || n->stopping)
		return;
	n->last_seen_ms[peer] = ds_now_ms();
	const uint8_t *p = msg + 1;
	size_t pl = len - 1;
	switch (msg[0]) {
	case DS__NODE_FRAME_CONS:
		/* Idle pacing: while nothing waits to be committed, the next
		 * leader holds votes back for up to empty_block_interval_ms so an
		 * idle chain does not spin out empty blocks. A new transaction
		 * releases them at once. */
		if (is_vote(p, pl) && ds__node_idle(n)) {
			if (n->nheld < DS__NODE_HELD_MAX) {
				uint8_t *copy = malloc(pl);
				if (copy) {
					memcpy(copy, p, pl);
					if (n->nheld == 0)
						ds_timer_start(n->hold_timer, n->gen->empty_block_interval_ms, 0,
							       (ds_loop_fn)ds__node_release_held, n);
					n->held[n->nheld].from = (uint32_t)peer;
					n->held[n->nheld].msg = copy;
					n->held[n->nheld].len = pl;
					n->nheld++;
					return;
				}
			}
			ds__node_release_held(n);
		}
		ds__node_cons_deliver(n, (uint32_t)peer, p, pl);
		break;
	case DS__NODE_FRAME_TXS:
		ds__node_gossip_in(n, (uint32_t)peer, p, pl);
		break;
	case DS__NODE_FRAME_SYNC_REQ:
		ds__node_sync_on_req(n, (uint32_t)peer, p, pl);
		break;
	case DS__NODE_FRAME_SYNC_RESP:
		ds__node_sync_on_resp(n, (uint32_t)peer, p, pl);
		break;
	case DS__NODE_FRAME_DETAILS:
		ds__node_credit_on_details(n, (uint32_t)peer, p, pl);
		break;
	case DS__NODE_FRAME_DETAILS_ACK:
		ds__node_credit_on_ack(n, (uint32_t)peer, p, pl);
		break;
	default:
		DS_LOGD(MOD, "unknown frame type", " peer=%zu type=%u", peer, msg[0]);
	}
}

void ds__node_release_held(struct ds_node *n)
{
	ds_timer_stop(n->hold_timer);
	size_t k = n->nheld;
	n->nheld = 0;
	for (size_t i = 0; i < k; i++) {
		ds__node_cons_deliver(n, n->held[i].from, n->held[i].msg, n->held[i].len);
		free(n->held[i].msg);
	}
}

static void on_peer_up(void *ctx, size_t peer)
{
	struct ds_node *n = ctx;
	DS_LOGI(MOD, "peer up", " peer=%s", n->gen->names[peer]);
	ds__node_sync_request(n, (uint32_t)peer);
	ds__node_credit_on_peer_up(n, (uint32_t)peer);
	ds__node_refresh_status(n);
}

static void on_peer_down(void *ctx, size_t peer)
{
	struct ds_node *n = ctx;
	DS_LOGI(MOD, "peer down", " peer=%s", n->gen->names[peer]);
	ds__node_refresh_status(n);
}

/* ------------------------------------------------------------- status --- */

void ds__node_refresh_status(struct ds_node *n)
{
	struct ds_node_status *s = n->st;
	struct ds_net_stats ns;
	memset(&ns, 0, sizeof(ns));
	if (n->net)
		ds_net_stats(n->net, &ns);
	struct ds_chain_stats cs;
	ds_chain_stats(n->chain, &cs);
	pthread_mutex_lock(&n->st_lock);
	s->height = n->tip.height;
	memcpy(s->last_block_hash, n->tip.hash, DS_HASH_LEN);
	s->last_block_time_ms = n->tip.header.time_ms;
	s->txs_total = n->tip.txs_total;
	s->round = n->cons ? ds_cons_round(n->cons) : 0;
	s->mempool_txs = ds_mempool_count(n->mp);
	s->mempool_bytes = ds_mempool_bytes(n->mp);
	s->peers_connected = ns.peers_connected;
	s->syncing = n->syncing;
	if (n->cons)
		s->cons = *ds_cons_stats(n->cons);
	for (uint32_t i = 0; i < n->vs.n; i++) {
		struct ds_node_validator_status *v = &s->validators[i];
		uint32_t p = n->peer_of_vidx[i];
		v->connected = p == n->self || (p != UINT32_MAX && n->net && ds_net_peer_connected(n->net, p));
		v->last_seen_ms = p == n->self ? ds_now_ms() : p != UINT32_MAX ? n->last_seen_ms[p] : 0;
	}
	pthread_mutex_unlock(&n->st_lock);
	ds_metric_set(n->m.mempool_txs, (int64_t)s->mempool_txs);
	ds_metric_set(n->m.mempool_bytes, (int64_t)s->mempool_bytes);
	ds_metric_set(n->m.peers, ns.peers_connected);
	ds_metric_set(n->m.store_used, (int64_t)cs.used_bytes);
}

static void on_tick(void *arg)
{
	struct ds_node *n = arg;
	ds__node_commit_reap(n); /* in case a post from the committer failed */
	ds__node_refresh_status(n);
	ds__node_sync_tick(n);
}

int ds_node_status(struct ds_node *n, struct ds_node_status *out)
{
	pthread_mutex_lock(&n->st_lock);
	*out = *n->st;
	pthread_mutex_unlock(&n->st_lock);
	return 0;
}

bool ds_node_tx_pending(struct ds_node *n, const uint8_t id[DS_HASH_LEN])
{
	pthread_mutex_lock(&n->mp_lock);
	bool r = ds_mempool_has(n->mp, id);
	pthread_mutex_unlock(&n->mp_lock);
	return r;
}

struct ds_chain *ds_node_chain(struct ds_node *n)
{
	return n->chain;
}

struct ds_metrics *ds_node_metrics(struct ds_node *n)
{
	return n->metrics;
}

struct ds_api *ds_node_api(struct ds_node *n)
{
	return n->api;
}

const char *ds_node_id(const struct ds_node *n)
{
	return n->cfg.node_id;
}

int ds_node_on_commit(struct ds_node *n, ds_node_commit_fn cb, void *arg)
{
	if (n->nhooks == DS_NODE_COMMIT_HOOKS_MAX)
		return DS_EFULL;
	n->hooks[n->nhooks] = cb;
	n->hook_args[n->nhooks] = arg;
	n->nhooks++;
	return 0;
}

/* ------------------------------------------------------------ metrics --- */

static struct ds_metric_series *metric(struct ds_node *n, enum ds_metric_type t, const char *name,
				       const char *help, const char *label, const char *value)
{
	struct ds_metric *m;
	const char *labels[2] = {label, NULL};
	struct ds_metric_desc d = {.type = t, .name = name, .help = help,
				   .labels = label ? labels : NULL};
	if (ds_metrics_add(&m, n->metrics, &d) != 0)
		return NULL;
	const char *vals[1] = {value};
	return ds_metric_get(m, label ? vals : NULL);
}

static int metrics_init(struct ds_node *n)
{
	int rc = ds_metrics_new(&n->metrics);
	if (rc)
		return rc;
	struct ds__node_metrics *m = &n->m;
	m->height = metric(n, DS_METRIC_GAUGE, "danshari_chain_height", "Committed chain height.", NULL, NULL);
	m->round = metric(n, DS_METRIC_GAUGE, "danshari_consensus_round", "Current consensus round.", NULL, NULL);
	m->blocks = metric(n, DS_METRIC_COUNTER, "danshari_blocks_committed_total", "Blocks committed by this node.", NULL, NULL);
	m->txs = metric(n, DS_METRIC_COUNTER, "danshari_txs_committed_total", "Transactions committed by this node.", NULL, NULL);
	m->mempool_txs = metric(n, DS_METRIC_GAUGE, "danshari_mempool_txs", "Transactions waiting in the mempool.", NULL, NULL);
	m->mempool_bytes = metric(n, DS_METRIC_GAUGE, "danshari_mempool_bytes", "Bytes of transactions in the mempool.", NULL, NULL);
	m->peers = metric(n, DS_METRIC_GAUGE, "danshari_peers_connected", "Nodes of genesis.json connected (validators and observers).", NULL, NULL);
	m->votes = metric(n, DS_METRIC_COUNTER, "danshari_votes_sent_total", "Consensus votes sent.", NULL, NULL);
	m->timeouts = metric(n, DS_METRIC_COUNTER, "danshari_timeouts_sent_total", "Consensus timeouts sent.", NULL, NULL);
	m->proposals = metric(n, DS_METRIC_COUNTER, "danshari_proposals_sent_total", "Blocks proposed.", NULL, NULL);
	struct ds_metric *sig;
	const char *kl[2] = {"kind", NULL};
	struct ds_metric_desc sd = {.type = DS_METRIC_COUNTER, .name = "danshari_signature_checks_total",
				    .help = "Ed25519 signatures verified by the node loop and pool.", .labels = kl};
	if (ds_metrics_add(&sig, n->metrics, &sd) == 0) {
		const char *v1[1] = {"tx"}, *v2[1] = {"consensus"};
		m->sig_tx = ds_metric_get(sig, v1);
		m->sig_cons = ds_metric_get(sig, v2);
	}
	m->store_used = metric(n, DS_METRIC_GAUGE, "danshari_store_used_bytes", "Bytes used in the LMDB map.", NULL, NULL);
	struct ds_metric *rej;
	const char *rl[2] = {"reason", NULL};
	struct ds_metric_desc rd = {.type = DS_METRIC_COUNTER, .name = "danshari_txs_rejected_total",
				    .help = "Transactions refused by the mempool.", .labels = rl};
	if (ds_metrics_add(&rej, n->metrics, &rd) == 0) {
		const char *r[7][1] = {{"full"}, {"replay"}, {"expired"}, {"signature"}, {"chain"}, {"invalid"}, {"duplicate"}};
		m->rej_full = ds_metric_get(rej, r[0]);
		m->rej_replay = ds_metric_get(rej, r[1]);
		m->rej_expired = ds_metric_get(rej, r[2]);
		m->rej_sig = ds_metric_get(rej, r[3]);
		m->rej_chain = ds_metric_get(rej, r[4]);
		m->rej_invalid = ds_metric_get(rej, r[5]);
		m->rej_dup = ds_metric_get(rej, r[6]);
	}
	m->sync_blocks = metric(n, DS_METRIC_COUNTER, "danshari_sync_blocks_total", "Blocks applied by block sync.", NULL, NULL);
	if (!m->height || !m->round || !m->blocks || !m->txs || !m->mempool_txs || !m->mempool_bytes ||
	    !m->peers || !m->votes || !m->timeouts || !m->proposals || !m->sig_tx || !m->sig_cons ||
	    !m->store_used || !m->rej_full || !m->sync_blocks)
		return DS_ENOMEM;
	return 0;
}

/* ------------------------------------------------- fallback HTTP routes --- */

static void h_status(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	(void)req;
	struct ds_node *n = ctx;
	struct ds_node_status *s = malloc(sizeof(*s));
	if (!s || ds_node_status(n, s) != 0) {
		free(s);
		ds_api_resp_error(resp, 500, DS_API_E_INTERNAL, "out of memory");
		return;
	}
	char hash[2 * DS_HASH_LEN + 1];
	ds_hex_encode(hash, s->last_block_hash, DS_HASH_LEN);
	json_t *vs = json_array();
	for (uint32_t i = 0; vs && i < s->nvalidators; i++) {
		const struct ds_node_validator_status *v = &s->validators[i];
		json_array_append_new(vs, json_pack("{s:I,s:s,s:s,s:s,s:b,s:I}", "index", (json_int_t)v->index,
						    "name", v->name, "public_key", v->public_key, "p2p",
						    v->p2p, "connected", v->connected, "last_seen_ms",
						    (json_int_t)v->last_seen_ms));
	}
	json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "chain_id", s->chain_id,
			      "node_id", s->node_id, "height", (json_int_t)s->height, "last_block_hash",
			      hash, "round", (json_int_t)s->round, "epoch", (json_int_t)s->epoch,
			      "mempool_size", (json_int_t)s->mempool_txs, "txs_total",
			      (json_int_t)s->txs_total, "peers_connected", (json_int_t)s->peers_connected,
			      "syncing", s->syncing, "validators", vs ? vs : json_null());
	free(s);
	ds_api_resp_json(resp, 200, j);
}

static void h_block(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	struct ds_node *n = ctx;
	uint64_t h;
	const char *hs = ds_api_param(req, "height");
	if (!hs || ds_api_parse_u64(&h, hs) != 0) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_PARAM, "height must be a decimal number");
		return;
	}
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	struct ds_block b;
	uint8_t hash[DS_HASH_LEN];
	int rc = ds_chain_block(n->chain, h, &blk, &qc);
	if (rc == 0)
		rc = ds_block_decode(&b, blk.data, blk.len);
	if (rc == 0)
		rc = ds_header_hash(hash, &b.header);
	if (rc) {
		ds_api_resp_from_err(resp, rc, rc == DS_ENOTFOUND ? "no block at that height" : "cannot read the block");
	} else {
		char hx[2 * DS_HASH_LEN + 1], px[2 * DS_HASH_LEN + 1], pr[2 * DS_PK_LEN + 1];
		ds_hex_encode(hx, hash, DS_HASH_LEN);
		ds_hex_encode(px, b.header.parent_hash, DS_HASH_LEN);
		ds_hex_encode(pr, b.header.proposer, DS_PK_LEN);
		ds_api_resp_json(resp, 200,
				 json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:s}", "height", (json_int_t)h, "hash", hx,
					   "parent_hash", px, "tx_count", (json_int_t)b.header.tx_count,
					   "round", (json_int_t)b.header.round, "time_ms",
					   (json_int_t)b.header.time_ms, "proposer", pr));
	}
	ds_buf_free(&blk);
	ds_buf_free(&qc);
}

static void submit_reply(void *arg, int rc, const uint8_t id[DS_HASH_LEN])
{
	struct ds_api_async *a = arg;
	struct ds_api_resp r;
	ds_api_resp_init(&r);
	char hx[2 * DS_HASH_LEN + 1];
	ds_hex_encode(hx, id, DS_HASH_LEN);
	if (rc == 0)
		ds_api_resp_json(&r, 202, json_pack("{s:s,s:s}", "id", hx, "status", "pending"));
	else if (rc == DS_EFULL)
		ds_api_resp_error(&r, 503, "MEMPOOL_FULL", "mempool full");
	else if (rc == DS_EREPLAY || rc == DS_EEXIST)
		ds_api_resp_error(&r, 409, "DUPLICATE_TX", "%s", ds_strerror(rc));
	else
		ds_api_resp_error(&r, 400, "BAD_TX", "%s", ds_strerror(rc));
	(void)ds_api_async_finish(a, &r);
	ds_api_resp_free(&r);
}

static void h_submit(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	struct ds_node *n = ctx;
	static const struct ds_api_field f[] = {{"tx_hex", DS_API_JHEX, true, 0}};
	json_t *j;
	if (ds_api_json_body(&j, req, resp, f, 1) != 0)
		return;
	const char *hex = json_string_value(json_object_get(j, "tx_hex"));
	size_t hl = strlen(hex);
	uint8_t *tx = malloc(hl / 2 + 1);
	if (!tx || hl / 2 > DS_TX_MAX || ds_hex_decode(tx, hl / 2, hex, hl) != 0) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_FIELD, "tx_hex must be the hex of a signed transaction");
		goto out;
	}
	struct ds_api_async *a;
	if (ds_api_async_begin(&a, req, 10000) != 0) {
		ds_api_resp_error(resp, 503, DS_API_E_UNAVAILABLE, "node is stopping");
		goto out;
	}
	int rc = ds_node_submit_tx(n, tx, hl / 2, submit_reply, a);
	if (rc) {
		struct ds_api_resp r;
		ds_api_resp_init(&r);
		ds_api_resp_error(&r, 503, "MEMPOOL_FULL", "node busy: %s", ds_strerror(rc));
		(void)ds_api_async_finish(a, &r);
		ds_api_resp_free(&r);
	}
out:
	free(tx);
	json_decref(j);
}

static int fallback_routes(struct ds_node *n)
{
	int rc;
	if ((rc = ds_api_route(n->api, "GET", "/v1/status", h_status, n)) ||
	    (rc = ds_api_route(n->api, "GET", "/v1/blocks/{height}", h_block, n)) ||
	    (rc = ds_api_route(n->api, "POST", "/v1/tx", h_submit, n)) ||
	    (rc = ds_api_metrics_route(n->api, "/metrics")))
		return rc;
	return 0;
}

/* --------------------------------------------------------------- open --- */

static void path_join(char *out, size_t cap, const char *home, const char *p)
{
	if (p[0] == '/')
		snprintf(out, cap, "%s", p);
	else
		snprintf(out, cap, "%s/%s", home, p);
}

static void on_signal(void *arg, int signum)
{
	struct ds_node *n = arg;
	DS_LOGI(MOD, "signal received, stopping", " signal=%d", signum);
	n->stopping = true;
	ds_loop_stop(n->loop);
}

int ds_node_open(struct ds_node **out, const struct ds_node_options *opt, char *err, size_t err_cap)
{
	*out = NULL;
	struct ds_node *n = calloc(1, sizeof(*n));
	struct ds_kv *state = NULL;
	size_t nstate = 0;
	int rc = DS_ENOMEM;
	if (!n) {
		ds__node_err(err, err_cap, "out of memory");
		return DS_ENOMEM;
	}
	pthread_mutex_init(&n->mp_lock, NULL);
	pthread_mutex_init(&n->st_lock, NULL);
	ds_buf_init(&n->frame);
	ds_buf_init(&n->gossip);
	n->gen = calloc(1, sizeof(*n->gen));
	n->st = calloc(1, sizeof(*n->st));
	if (!n->gen || !n->st)
		goto fail;
	if (strlen(opt->home) >= sizeof(n->home) - 64) {
		rc = DS_ETOOBIG;
		ds__node_err(err, err_cap, "home path too long");
		goto fail;
	}
	snprintf(n->home, sizeof(n->home), "%s", opt->home);
	snprintf(n->pending_dir, sizeof(n->pending_dir), "%s/pending", n->home);
	snprintf(n->safety_path, sizeof(n->safety_path), "%s/safety", n->home);
	snprintf(n->wal_dir, sizeof(n->wal_dir), "%s/consensus", n->home);
	char path[2 * DS_NODE_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/config.json", n->home);
	if ((rc = ds_node_config_load(&n->cfg, path, err, err_cap)))
		goto fail;
	enum ds_log_level lvl;
	const char *ls = opt->log_level ? opt->log_level : n->cfg.log_level;
	if (ds_log_parse_level(&lvl, ls) != 0) {
		rc = DS_EINVAL;
		ds__node_err(err, err_cap, "bad log level '%s' (debug, info, warn, error, off)", ls);
		goto fail;
	}
	ds_log_set_level(lvl);
	path_join(path, sizeof(path), n->home, n->cfg.key_file);
	char kerr[DS_KEYFILE_ERR_MAX];
	if ((rc = ds_keyfile_load(&n->key, path, kerr, sizeof(kerr)))) {
		ds__node_err(err, err_cap, "key file %s refused: %s", path, kerr);
		goto fail;
	}
	if (n->cfg.genesis[0])
		path_join(path, sizeof(path), n->home, n->cfg.genesis);
	else
		snprintf(path, sizeof(path), "%s/../genesis.json", n->home);
	if ((rc = ds_node_genesis_load(n->gen, path, err, err_cap)))
		goto fail;
	n->n = n->gen->nnodes;
	n->self = UINT32_MAX;
	for (uint32_t i = 0; i < n->n; i++)
		if (memcmp(n->gen->node_pk[i], n->key.pk, DS_PK_LEN) == 0)
			n->self = i;
	if (n->self == UINT32_MAX) {
		char hex[2 * DS_PK_LEN + 1];
		ds_keyfile_pk_to_hex(hex, n->key.pk);
		rc = DS_EPERM;
		ds__node_err(err, err_cap,
			     "this node's key %.16s... is neither a validator nor an observer in genesis.json",
			     hex);
		goto fail;
	}
	n->vs = n->gen->g.valset;
	n->vself = n->self < n->vs.n ? n->self : UINT32_MAX;
	/* Blocks execute with the system modules, kv and the role authorizer
	 * (node_gov.c); before the chain opens, which replays from the store. */
	ds_chain_register_modules();
	if ((rc = ds_node_genesis_state(n->gen, &state, &nstate))) {
		ds__node_err(err, err_cap, "cannot build the genesis state: %s", ds_strerror(rc));
		goto fail;
	}
	n->gen->g.state = state;
	n->gen->g.nstate = nstate;
	struct ds_chain_options co = {.no_sync = opt->no_sync, .map_size_max = n->cfg.map_size_max};
	rc = ds_chain_open(&n->chain, n->home, &n->gen->g, &co);
	if (rc == DS_ECHAIN) {
		ds__node_err(err, err_cap,
			     "%s/data belongs to another genesis (chain id or genesis content differ from %s); refusing to start",
			     n->home, path);
		goto fail;
	}
	if (rc) {
		ds__node_err(err, err_cap, "cannot open the chain in %s/data: %s", n->home, ds_strerror(rc));
		goto fail;
	}
	ds_chain_genesis_hash(n->chain, n->genesis_hash);
	if ((rc = ds_chain_tip(n->chain, &n->tip))) {
		ds__node_err(err, err_cap, "cannot read the chain tip: %s", ds_strerror(rc));
		goto fail;
	}
	if ((rc = ds_mempool_new(&n->mp, n->cfg.mempool_txs_max, n->cfg.mempool_bytes_max)))
		goto fail;
	size_t btm = n->gen->g.params.block_txs_max;
	n->prop_iov = calloc(btm, sizeof(n->prop_iov[0]));
	n->prop_ids = calloc(btm, sizeof(n->prop_ids[0]));
	if (!n->prop_iov || !n->prop_ids) {
		rc = DS_ENOMEM;
		goto fail;
	}
	if ((rc = metrics_init(n))) {
		ds__node_err(err, err_cap, "cannot set up metrics: %s", ds_strerror(rc));
		goto fail;
	}
	ds_metric_set(n->m.height, (int64_t)n->tip.height);
	if (mkdir(n->wal_dir, 0700) != 0 && errno != EEXIST) {
		rc = DS_EIO;
		ds__node_err(err, err_cap, "cannot create %s", n->wal_dir);
		goto fail;
	}
	/* Safety state from the last run, if any. */
	uint8_t *sb = NULL;
	size_t sl = 0;
	rc = ds_file_read(&sb, &sl, n->safety_path, 1u << 20);
	if (rc == 0) {
		n->safety = sb;
		n->safety_len = sl;
		n->safety_file = true;
	} else if (rc != DS_ENOTFOUND) {
		ds__node_err(err, err_cap, "cannot read %s: %s", n->safety_path, ds_strerror(rc));
		goto fail;
	}
	/* The log's safety state, when it has one, is newer than the file. */
	if ((rc = pb_open_log(n)) != 0) {
		ds__node_err(err, err_cap, "cannot open the consensus log in %s: %s", n->wal_dir,
			     ds_strerror(rc));
		goto fail;
	}

	if ((rc = ds_loop_new(&n->loop)) || (rc = ds_timer_new(&n->cons_timer, n->loop)) ||
	    (rc = ds_timer_new(&n->tick_timer, n->loop)) || (rc = ds_timer_new(&n->hold_timer, n->loop)) ||
	    (rc = ds_timer_new(&n->sync_timer, n->loop))) {
		ds__node_err(err, err_cap, "cannot create the event loop: %s", ds_strerror(rc));
		goto fail;
	}
	if (n->n > 1) {
		struct ds_net_peer_cfg *peers = calloc(n->n, sizeof(*peers));
		if (!peers) {
			rc = DS_ENOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < n->n; i++) {
			memcpy(peers[i].pk, n->gen->node_pk[i], DS_PK_LEN);
			rc = ds_node_parse_hostport(peers[i].host, sizeof(peers[i].host), &peers[i].port,
						    n->gen->p2p[i]);
			DS_ASSERT(rc == 0); /* checked by the genesis parser */
		}
		char lhost[64];
		uint16_t lport;
		rc = ds_node_parse_hostport(lhost, sizeof(lhost), &lport, n->cfg.p2p_listen);
		DS_ASSERT(rc == 0);
		struct ds_net_config nc;
		ds_net_config_default(&nc);
		nc.sk = n->key.sk;
		nc.chain_id = n->gen->g.chain_id;
		nc.listen_host = lhost;
		nc.listen_port = lport;
		nc.peers = peers;
		nc.n_peers = n->n;
		nc.frame_max_bytes = DS__NODE_FRAME_MAX;
		nc.queue_max_bytes = 256u << 20;
		nc.on_peer_up = on_peer_up;
		nc.on_peer_down = on_peer_down;
		nc.on_message = on_message;
		nc.ctx = n;
		rc = ds_net_new(&n->net, n->loop, &nc);
		free(peers);
		if (rc) {
			ds__node_err(err, err_cap, "cannot start the peer network on %s: %s",
				     n->cfg.p2p_listen, ds_strerror(rc));
			goto fail;
		}
	}
	/* Static part of the status snapshot. */
	snprintf(n->st->chain_id, sizeof(n->st->chain_id), "%s", n->gen->g.chain_id);
	snprintf(n->st->node_id, sizeof(n->st->node_id), "%s", n->cfg.node_id);
	n->started_ms = ds_now_ms();
	n->st->started_ms = n->started_ms;
	ds__node_set_epoch(n, &n->gen->g.valset); /* until consensus starts on the tip's epoch */
	ds__node_refresh_status(n);

	char ahost[64];
	uint16_t aport;
	rc = ds_node_parse_hostport(ahost, sizeof(ahost), &aport, n->cfg.api_listen);
	DS_ASSERT(rc == 0);
	struct ds_api_config ac;
	memset(&ac, 0, sizeof(ac));
	ac.bind_addr = ahost;
	ac.port = aport;
	ac.threads = n->cfg.api_threads;
	ac.max_conns = 256;
	ac.metrics = n->metrics;
	/* A subscriber must hold a full block's tx events plus the block's. */
	ac.sse_queue_max = (unsigned)(2 * n->gen->g.params.block_txs_max + 64);
	if ((rc = ds_api_start(&n->api, &ac))) {
		ds__node_err(err, err_cap, "cannot start the HTTP API on %s: %s", n->cfg.api_listen,
			     ds_strerror(rc));
		goto fail;
	}
	if (ds_node_http_start)
		rc = ds_node_http_start(n, n->api);
	else
		rc = fallback_routes(n);
	if (rc) {
		ds__node_err(err, err_cap, "cannot register the HTTP routes: %s", ds_strerror(rc));
		goto fail;
	}
	if (n->cfg.web_dir[0]) {
		path_join(path, sizeof(path), n->home, n->cfg.web_dir);
		/* The explorer is a convenience: a moved web/ must not stop a
		 * validator, so this only warns. */
		rc = ds_api_static_dir(n->api, "/", path);
		if (rc)
			DS_LOGW(MOD, "no explorer", " dir=%s err=%s", path, ds_errname(rc));
		else
			DS_LOGI(MOD, "explorer served", " dir=%s path=/", path);
		rc = 0;
	} else {
		DS_LOGI(MOD, "no explorer", " why=\"config.json has no web_dir\"");
	}
	if ((rc = ds__node_credit_open(n, n->api))) {
		ds__node_err(err, err_cap, "cannot open the private store %s/private: %s", n->home,
			     ds_strerror(rc));
		goto fail;
	}
	if ((rc = ds_loop_on_signal(n->loop, on_signal, n)))
		goto fail;
	char pk[2 * DS_PK_LEN + 1];
	ds_keyfile_pk_to_hex(pk, n->key.pk);
	DS_LOGI(MOD, "node opened",
		" node=%s chain=%s index=%u nodes=%u height=%" PRIu64 " p2p=%s api=%s key=%.16s",
		n->cfg.node_id, n->gen->g.chain_id, n->self, n->n, n->tip.height, n->cfg.p2p_listen,
		n->cfg.api_listen, pk);
	*out = n;
	return 0;
fail:
	if (err && err_cap && !err[0])
		ds__node_err(err, err_cap, "%s", ds_strerror(rc));
	ds_node_free(n);
	return rc;
}

int ds_node_run(struct ds_node *n)
{
	int rc = ds__node_cons_restart(n);
	if (rc) {
		DS_LOGE(MOD, "cannot start consensus", " err=%s", ds_errname(rc));
		return rc;
	}
	n->cons_running = true;
	n->last_commit_ms = ds_loop_now_ms(n->loop);
	ds_timer_start(n->tick_timer, 100, 100, on_tick, n);
	rc = ds_loop_run(n->loop);
	ds__node_commit_idle(n); /* what consensus decided is written before we stop */
	n->stopping = true;
	ds_timer_stop(n->tick_timer);
	ds_timer_stop(n->cons_timer);
	ds_timer_stop(n->hold_timer);
	ds_timer_stop(n->sync_timer);
	if (rc == 0)
		rc = n->fatal;
	DS_LOGI(MOD, "node stopped", " height=%" PRIu64 " err=%s", n->tip.height,
		rc ? ds_errname(rc) : "none");
	return rc;
}

void ds_node_stop(struct ds_node *n)
{
	ds_loop_stop(n->loop);
}

void ds_node_free(struct ds_node *n)
{
	if (!n)
		return;
	n->stopping = true;
	/* The API first: its threads may still post submissions to the loop. */
	ds_api_stop(n->api);
	n->api = NULL;
	if (ds_node_http_stop)
		ds_node_http_stop(n);
	ds_net_free(n->net);
	n->net = NULL;
	ds_timer_free(n->cons_timer);
	ds_timer_free(n->tick_timer);
	ds_timer_free(n->hold_timer);
	ds_timer_free(n->sync_timer);
	n->cons_timer = n->tick_timer = n->hold_timer = n->sync_timer = NULL;
	ds__node_commit_stop(n); /* before the loop: it posts to it */
	if (n->loop) {
		ds_loop_free(n->loop); /* runs queued closures and finishes pool jobs */
		n->loop = NULL;
	}
	ds__node_credit_close(n);
	ds__node_mempool_close(n);
	for (size_t i = 0; i < n->nheld; i++)
		free(n->held[i].msg);
	ds_cons_free(n->cons);
	for (size_t i = 0; i < n->npb; i++)
		pb_free(n->pb[i]);
	ds__wal_close(n->wal);
	ds_chain_close(n->chain);
	ds_mempool_free(n->mp);
	ds_metrics_free(n->metrics);
	if (n->gen) {
		ds_node_genesis_state_free((struct ds_kv *)n->gen->g.state, n->gen->g.nstate);
		free(n->gen);
	}
	free(n->st);
	free(n->safety);
	free(n->prop_iov);
	free(n->prop_ids);
	ds_buf_free(&n->frame);
	ds_buf_free(&n->gossip);
	ds_keyfile_wipe(&n->key);
	pthread_mutex_destroy(&n->mp_lock);
	pthread_mutex_destroy(&n->st_lock);
	free(n);
}
