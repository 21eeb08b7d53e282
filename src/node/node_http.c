#include "node/node_http.h"
#include "node/node_gov.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/cli_json.h"
#include "crypto/crypto.h"
#include "exec/exec.h"

_Static_assert(DS_HTTP_STATE_KEY_MAX == DS_EXEC_KEY_MAX, "state key limit follows exec");

/* Event types a subscriber asked for. The api filters live events itself
 * but hands replay every event, so history is filtered here: open records
 * each stream's mask under its pointer (a new subscriber at a reused
 * address overwrites the stale entry; when the table is full the oldest
 * entry goes and that stream's history arrives unfiltered). */
#define EV_BLOCK 1u
#define EV_TX 2u
#define EV_EVENT 4u
#define EV_ALL 7u
#define SUBS_MAX 256

struct sub_mask {
	const struct ds_api_sse *s;
	unsigned mask;
	uint64_t stamp;
};

struct ds_node_http {
	struct ds_api *api;
	struct ds_node_http_host host;
	pthread_mutex_t mu;
	uint64_t stamp;
	struct sub_mask subs[SUBS_MAX];
};

/* ------------------------------------------------------------ JSON helpers */

/* Lowercase hex string of n bytes; NULL on allocation failure (jansson then
 * refuses the NULL and the whole reply becomes 500). */
static json_t *jhex(const uint8_t *p, size_t n)
{
	char small[2 * 64 + 1];
	char *s = n <= 64 ? small : malloc(2 * n + 1);
	if (!s)
		return NULL;
	ds_hex_encode(s, p, n);
	json_t *j = json_stringn(s, 2 * n);
	if (s != small)
		free(s);
	return j;
}

static json_t *ju64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

/* 64-bit values that may pass 2^53 travel as decimal strings. */
static json_t *ju64s(uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	return json_string(b);
}

/* JSON of a canonical value, or null when it has no JSON form. */
static json_t *jvalue(const uint8_t *p, size_t n)
{
	json_t *j = NULL;
	if (n == 0 || ds_cli_value_to_json(&j, p, n) != 0)
		return json_null();
	return j;
}

static void set(json_t *o, const char *k, json_t *v)
{
	/* A NULL v (allocation failure) leaves the key out; the reply is then
	 * incomplete rather than wrong, and allocation failure is logged by
	 * nobody else, so say it here. */
	if (!v) {
		DS_LOGE("http", "json allocation failed", " key=%s", k);
		return;
	}
	json_object_set_new(o, k, v);
}

/* -------------------------------------------------------------- chain reads */

static json_t *header_fields(json_t *o, const struct ds_header *h, const uint8_t hash[DS_HASH_LEN])
{
	set(o, "height", ju64(h->height));
	set(o, "hash", jhex(hash, DS_HASH_LEN));
	set(o, "parent_hash", jhex(h->parent_hash, DS_HASH_LEN));
	set(o, "round", ju64(h->round));
	set(o, "epoch", ju64(h->epoch));
	set(o, "proposer", jhex(h->proposer, DS_PK_LEN));
	set(o, "time_ms", ju64(h->time_ms));
	set(o, "tx_count", ju64(h->tx_count));
	set(o, "tx_root", jhex(h->tx_root, DS_HASH_LEN));
	set(o, "exec_height", ju64(h->exec_height));
	set(o, "state_root", jhex(h->state_root, DS_HASH_LEN));
	set(o, "results_root", jhex(h->results_root, DS_HASH_LEN));
	set(o, "history_root", jhex(h->history_root, DS_HASH_LEN));
	set(o, "valset_hash", jhex(h->valset_hash, DS_HASH_LEN));
	set(o, "chain_id", json_string(h->chain_id));
	return o;
}

/* Encoded header of a committed height, as a hex string in *out. */
static int header_hex_at(struct ds_chain *c, uint64_t height, json_t **out)
{
	struct ds_header h;
	uint8_t enc[DS_HEADER_MAX];
	size_t n;
	int rc = ds_chain_header(c, height, &h, enc, &n, NULL);
	if (rc == 0) {
		*out = jhex(enc, n);
		if (!*out)
			rc = DS_ENOMEM;
	}
	return rc;
}

static json_t *qc_json(struct ds_chain *c, const uint8_t *p, size_t n, uint64_t height)
{
	static _Thread_local struct ds_qc qc;
	if (n == 0 || ds_qc_decode(&qc, p, n) != 0)
		return json_null();
	json_t *o = json_object();
	if (!o)
		return NULL;
	set(o, "hex", jhex(p, n));
	set(o, "epoch", ju64(qc.vote.epoch));
	set(o, "round", ju64(qc.vote.round));
	set(o, "height", ju64(qc.vote.height));
	set(o, "block_hash", jhex(qc.vote.block_hash, DS_HASH_LEN));
	set(o, "commit_height", ju64(qc.vote.commit_height));
	set(o, "commit_hash", jhex(qc.vote.commit_hash, DS_HASH_LEN));
	json_t *signers = json_array();
	for (uint32_t i = 0; signers && i < qc.nsigs; i++)
		json_array_append_new(signers, ju64(qc.sigs[i].index));
	set(o, "signers", signers);
	/* A QC that commits a descendant proves this block final only with
	 * the headers linking them; send them so a client needs nothing else. */
	if (qc.vote.commit_height > height && qc.vote.commit_height - height <= DS_HTTP_QC_CHAIN_MAX) {
		/* Past an epoch's end block the chain continues with its suffix
		 * headers (the QC was formed in that epoch: PROTOCOL §11). */
		json_t *chain = json_array();
		struct ds_buf sfx;
		ds_buf_init(&sfx);
		struct ds_dec d;
		bool in_sfx = false;
		for (uint64_t k = height + 1; chain && k <= qc.vote.commit_height; k++) {
			json_t *hx = NULL;
			if (!in_sfx && ds_chain_suffix(c, k - 1, &sfx) == 0 && sfx.len > 0 && !sfx.err) {
				ds_dec_init(&d, sfx.data, sfx.len);
				in_sfx = true;
			}
			if (in_sfx) {
				const uint8_t *hp;
				size_t hl;
				ds_dec_bytes(&d, &hp, &hl, DS_HEADER_MAX);
				if (d.err || !(hx = jhex(hp, hl)))
					break;
			} else if (header_hex_at(c, k, &hx) != 0) {
				break; /* not stored yet: the client will say what is missing */
			}
			json_array_append_new(chain, hx);
		}
		ds_buf_free(&sfx);
		set(o, "chain", chain);
	}
	return o;
}

/* Full block JSON (docs/API.md "Block"). Returns 0 and *out, or an error. */
static int block_json(struct ds_node_http *h, uint64_t height, json_t **out)
{
	struct ds_chain *c = h->host.chain;
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	json_t *o = NULL;
	int rc = ds_chain_block(c, height, &blk, &qc);
	if (rc)
		goto fail;
	if (blk.err || qc.err) {
		rc = DS_ENOMEM;
		goto fail;
	}
	struct ds_block b;
	rc = ds_block_decode(&b, blk.data, blk.len);
	if (rc) {
		rc = DS_ECORRUPT;
		goto fail;
	}
	uint8_t hash[DS_HASH_LEN], he[DS_HEADER_MAX];
	size_t hn;
	rc = ds_header_hash(hash, &b.header);
	if (rc == 0)
		rc = ds_header_encode(he, sizeof(he), &hn, &b.header);
	if (rc)
		goto fail;
	o = json_object();
	json_t *txs = json_array();
	if (!o || !txs) {
		json_decref(txs);
		rc = DS_ENOMEM;
		goto fail;
	}
	header_fields(o, &b.header, hash);
	set(o, "header_hex", jhex(he, hn));
	size_t pos = 0;
	const uint8_t *tx;
	size_t tl;
	while (ds_block_tx_next(&b, &pos, &tx, &tl) == 1) {
		uint8_t id[DS_HASH_LEN];
		ds_tx_id_body(id, tx, tl - DS_SIG_LEN);
		json_array_append_new(txs, jhex(id, DS_HASH_LEN));
	}
	set(o, "txs", txs);
	set(o, "qc", height == 0 ? json_null() : qc_json(c, qc.data, qc.len, height));
	*out = o;
	o = NULL;
	rc = 0;
fail:
	json_decref(o);
	ds_buf_free(&blk);
	ds_buf_free(&qc);
	return rc;
}

static void reply_err(struct ds_api_resp *r, int rc, const char *what)
{
	if (rc == DS_ENOTFOUND)
		ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "%s not found", what);
	else if (rc == DS_ECORRUPT)
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "%s is corrupt in the store", what);
	else
		ds_api_resp_from_err(r, rc, NULL);
}

static int tip_height(struct ds_node_http *h, uint64_t *height, struct ds_api_resp *r)
{
	static _Thread_local struct ds_chain_tip tip;
	int rc = ds_chain_tip(h->host.chain, &tip);
	if (rc) {
		ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "chain not readable: %s", ds_strerror(rc));
		return rc;
	}
	*height = tip.height;
	return 0;
}

/* ----------------------------------------------------------------- handlers */

static void h_healthz(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	(void)req;
	struct ds_node_http *h = ctx;
	uint64_t height;
	if (tip_height(h, &height, r))
		return;
	json_t *o = json_object();
	if (o) {
		set(o, "ok", json_true());
		set(o, "height", ju64(height));
	}
	ds_api_resp_json(r, 200, o);
}

static json_t *validators_json(const struct ds_valset *vs, const struct ds_node_http_status *st)
{
	json_t *arr = json_array();
	for (uint32_t i = 0; arr && i < vs->n; i++) {
		json_t *v = json_object();
		if (!v)
			break;
		set(v, "index", ju64(i));
		set(v, "public_key", jhex(vs->v[i].pk, DS_PK_LEN));
		/* Liveness comes from the node, matched by key so that the
		 * chain's validator order is the one shown. */
		const struct ds_node_http_validator *nv = NULL;
		for (uint32_t k = 0; st && k < st->nvalidators && k < DS_VALIDATORS_MAX; k++)
			if (memcmp(st->v[k].pk, vs->v[i].pk, DS_PK_LEN) == 0)
				nv = &st->v[k];
		set(v, "p2p", json_string(nv ? nv->p2p : ""));
		set(v, "connected", json_boolean(nv && nv->connected));
		set(v, "last_seen_ms", ju64(nv ? nv->last_seen_ms : 0));
		json_array_append_new(arr, v);
	}
	return arr;
}

static void h_status(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	(void)req;
	struct ds_node_http *h = ctx;
	static _Thread_local struct ds_chain_tip tip;
	static _Thread_local struct ds_node_http_status st;
	static _Thread_local struct ds_valset vs;
	int rc = ds_chain_tip(h->host.chain, &tip);
	if (rc) {
		ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "chain not readable: %s", ds_strerror(rc));
		return;
	}
	memset(&st, 0, sizeof(st));
	rc = h->host.status ? h->host.status(h->host.ctx, &st) : 0;
	if (rc) {
		ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "node status unavailable");
		return;
	}
	if (ds_chain_valset(h->host.chain, tip.header.epoch, &vs) != 0)
		vs.n = 0;
	json_t *o = json_object();
	if (o) {
		set(o, "chain_id", json_string(ds_chain_id(h->host.chain)));
		set(o, "node_id", json_string(st.node_id));
		set(o, "version", json_string(DS_VERSION));
		set(o, "height", ju64(tip.height));
		set(o, "last_block_hash", jhex(tip.hash, DS_HASH_LEN));
		set(o, "last_block_time_ms", ju64(tip.header.time_ms));
		set(o, "txs_total", ju64(tip.txs_total));
		set(o, "round", ju64(st.round));
		set(o, "epoch", ju64(st.epoch > tip.header.epoch ? st.epoch : tip.header.epoch));
		set(o, "mempool_size", ju64(st.mempool_size));
		set(o, "peers_connected", ju64(st.peers_connected));
		set(o, "role", json_string(st.validator ? "validator" : "observer"));
		if (st.validator)
			set(o, "validator_index", ju64(st.validator_index));
		uint8_t gh[DS_HASH_LEN];
		ds_chain_genesis_hash(h->host.chain, gh);
		set(o, "genesis_hash", jhex(gh, DS_HASH_LEN));
		set(o, "validators", validators_json(&vs, &st));
	}
	ds_api_resp_json(r, 200, o);
}

static void h_validators(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	(void)req;
	struct ds_node_http *h = ctx;
	static _Thread_local struct ds_chain_tip tip;
	static _Thread_local struct ds_node_http_status st;
	static _Thread_local struct ds_valset vs;
	int rc = ds_chain_tip(h->host.chain, &tip);
	if (rc == 0)
		rc = ds_chain_valset(h->host.chain, tip.header.epoch, &vs);
	if (rc) {
		ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "chain not readable: %s", ds_strerror(rc));
		return;
	}
	memset(&st, 0, sizeof(st));
	if (h->host.status && h->host.status(h->host.ctx, &st) != 0)
		memset(&st, 0, sizeof(st));
	uint8_t vh[DS_HASH_LEN];
	json_t *o = json_object();
	if (o) {
		set(o, "epoch", ju64(vs.epoch));
		if (ds_valset_hash(vh, &vs) == 0)
			set(o, "valset_hash", jhex(vh, DS_HASH_LEN));
		set(o, "quorum", ju64(ds_qc_quorum(vs.n)));
		set(o, "validators", validators_json(&vs, &st));
	}
	ds_api_resp_json(r, 200, o);
}

/* GET /v1/epochs[?from=E]: every started epoch from E (at most
 * EPOCHS_PAGE_MAX), with the end block of the previous epoch (root_height)
 * whose state proves the epoch's set to a light client (docs/API.md). */
#define EPOCHS_PAGE_MAX 256
static void h_epochs(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	static _Thread_local struct ds_valset vs;
	uint64_t from;
	if (ds_api_query_u64(&from, req, r, "from", 0, 0, UINT64_MAX - EPOCHS_PAGE_MAX) != 0)
		return;
	json_t *o = json_object(), *list = json_array();
	if (!o || !list) {
		json_decref(o);
		json_decref(list);
		ds_api_resp_json(r, 500, NULL);
		return;
	}
	set(o, "epochs", list);
	bool more = false;
	for (uint64_t e = from;; e++) {
		uint64_t root;
		int rc = ds_chain_epoch_root(h->host.chain, e, &root);
		if (rc == DS_ENOTFOUND)
			break;
		if (rc == 0)
			rc = ds_chain_valset(h->host.chain, e, &vs);
		if (rc) {
			json_decref(o);
			ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "epoch %" PRIu64 " not readable: %s", e,
					  ds_strerror(rc));
			return;
		}
		if (e - from == EPOCHS_PAGE_MAX) {
			more = true;
			break;
		}
		uint8_t vh[DS_HASH_LEN];
		json_t *keys = json_array(), *ep = json_object();
		if (!keys || !ep || ds_valset_hash(vh, &vs) != 0) {
			json_decref(keys);
			json_decref(ep);
			json_decref(o);
			ds_api_resp_json(r, 500, NULL);
			return;
		}
		for (uint32_t i = 0; i < vs.n; i++)
			json_array_append_new(keys, jhex(vs.v[i].pk, DS_PK_LEN));
		set(ep, "epoch", ju64(e));
		set(ep, "root_height", ju64(root));
		set(ep, "first_height", ju64(e == 0 ? 0 : root + 1));
		set(ep, "valset_hash", jhex(vh, DS_HASH_LEN));
		set(ep, "validators", keys);
		json_array_append_new(list, ep);
	}
	set(o, "more", json_boolean(more));
	ds_api_resp_json(r, 200, o);
}

static void h_block(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	const char *id = ds_api_param(req, "id");
	uint64_t height, tip;
	if (tip_height(h, &tip, r))
		return;
	if (id && strcmp(id, "latest") == 0) {
		height = tip;
	} else if (!id || ds_api_parse_u64(&height, id) != 0) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
				  "block must be a decimal height or 'latest'");
		return;
	}
	if (height > tip) {
		ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "no block at height %" PRIu64
				  " (tip is %" PRIu64 ")", height, tip);
		return;
	}
	json_t *o;
	int rc = block_json(h, height, &o);
	if (rc) {
		reply_err(r, rc, "block");
		return;
	}
	ds_api_resp_json(r, 200, o);
}

static void h_blocks(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	uint64_t limit, tip, before;
	if (ds_api_query_u64(&limit, req, r, "limit", DS_HTTP_BLOCKS_LIST_DEFAULT, 1,
			     DS_HTTP_BLOCKS_LIST_MAX) != 0)
		return;
	if (tip_height(h, &tip, r))
		return;
	/* ?before=H pages backwards: blocks below H. */
	if (ds_api_query_u64(&before, req, r, "before", tip + 1, 1, UINT64_MAX - 1) != 0)
		return;
	json_t *o = json_object(), *arr = json_array();
	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		ds_api_resp_json(r, 500, NULL);
		return;
	}
	uint64_t top = before > tip + 1 ? tip + 1 : before;
	for (uint64_t k = 0; k < limit && k < top; k++) {
		uint64_t height = top - 1 - k;
		struct ds_header hd;
		uint8_t hash[DS_HASH_LEN];
		if (ds_chain_header(h->host.chain, height, &hd, NULL, NULL, NULL) != 0 ||
		    ds_header_hash(hash, &hd) != 0)
			break;
		json_t *s = json_object();
		if (!s)
			break;
		set(s, "height", ju64(height));
		set(s, "hash", jhex(hash, DS_HASH_LEN));
		set(s, "time_ms", ju64(hd.time_ms));
		set(s, "tx_count", ju64(hd.tx_count));
		set(s, "proposer", jhex(hd.proposer, DS_PK_LEN));
		set(s, "round", ju64(hd.round));
		json_array_append_new(arr, s);
	}
	set(o, "blocks", arr);
	set(o, "tip", ju64(tip));
	ds_api_resp_json(r, 200, o);
}

static json_t *tx_fields(const struct ds_tx *tx)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	set(o, "chain_id", json_string(tx->chain_id));
	set(o, "sender", jhex(tx->sender, DS_PK_LEN));
	set(o, "nonce", ju64s(tx->nonce));
	set(o, "expiry_height", ju64s(tx->expiry_height));
	set(o, "target", json_string(tx->target));
	set(o, "method", json_string(tx->method));
	set(o, "args", jvalue(tx->args, tx->args_len));
	set(o, "args_hex", jhex(tx->args, tx->args_len));
	return o;
}

static json_t *receipt_json(const struct ds_receipt *rc)
{
	json_t *o = json_object(), *ev = json_array();
	if (!o || !ev) {
		json_decref(o);
		json_decref(ev);
		return NULL;
	}
	set(o, "status", json_string(rc->status == DS_TX_OK ? "ok" : "failed"));
	set(o, "error", json_string(rc->error));
	set(o, "gas_used", ju64(rc->gas_used));
	for (uint32_t i = 0; i < rc->nevents; i++) {
		json_t *e = json_object();
		if (!e)
			break;
		set(e, "name", json_string(rc->events[i].name));
		set(e, "value", jvalue(rc->events[i].value, rc->events[i].value_len));
		set(e, "value_hex", jhex(rc->events[i].value, rc->events[i].value_len));
		json_array_append_new(ev, e);
	}
	set(o, "events", ev);
	set(o, "return", jvalue(rc->ret, rc->ret_len));
	set(o, "return_hex", jhex(rc->ret, rc->ret_len));
	return o;
}

static json_t *hash_list(const struct ds_buf *b)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < b->len / DS_HASH_LEN; i++)
		json_array_append_new(a, jhex(b->data + i * DS_HASH_LEN, DS_HASH_LEN));
	return a;
}

/* The "range" member of a receipt proof: block `height`'s root under the
 * range root of header rp->header_height, and that header's parent. */
static int range_json(struct ds_chain *c, const struct ds_chain_receipt_proof *rp, uint64_t height,
		      json_t **out)
{
	struct ds_header ph;
	uint8_t enc[DS_HEADER_MAX];
	size_t phl = 0;
	int rc = ds_chain_header(c, rp->header_height - 1, &ph, enc, &phl, NULL);
	if (rc == 0 && ph.exec_height + 1 != rp->range_first)
		rc = DS_ECORRUPT;
	json_t *o = rc ? NULL : json_object();
	if (!rc && !o)
		rc = DS_ENOMEM;
	if (!rc) {
		set(o, "first", ju64(rp->range_first));
		set(o, "last", ju64(rp->range_last));
		set(o, "index", ju64(height - rp->range_first));
		set(o, "tree_size", ju64(rp->range_last - rp->range_first + 1));
		set(o, "path", hash_list(&rp->range_proof));
		set(o, "parent_header_hex", jhex(enc, phl));
	}
	*out = o;
	return rc;
}

/* "receipt_proof" of GET /v1/tx (docs/API.md): the receipt's inclusion
 * proof under the results root of block `height`, with the header C that
 * vouches for it (the first whose exec_height >= `height`) and its QC, as
 * for a block but without the tx list. When C executes several blocks,
 * "range" proves the block's root under C's range root (PROTOCOL §5.3)
 * and carries C's parent header, whose exec_height fixes the range.
 * "pending" while no committed header executes the block. */
static int receipt_proof_json(struct ds_node_http *h, uint64_t height, uint32_t index, json_t **out)
{
	struct ds_chain *c = h->host.chain;
	struct ds_chain_receipt_proof rp;
	ds_chain_receipt_proof_init(&rp);
	struct ds_buf qc;
	ds_buf_init(&qc);
	json_t *o = NULL;
	int rc = ds_chain_receipt_proof(c, height, index, &rp);
	if (rc)
		goto fail;
	if (rp.header_height == 0) {
		*out = json_string("pending");
		rc = *out ? 0 : DS_ENOMEM;
		goto fail;
	}
	struct ds_header hd;
	uint8_t he[DS_HEADER_MAX];
	size_t hl = 0;
	rc = ds_chain_header(c, rp.header_height, &hd, he, &hl, &qc);
	if (rc == 0 && hd.exec_height != rp.range_last)
		rc = DS_ECORRUPT;
	uint8_t hash[DS_HASH_LEN];
	if (rc == 0)
		rc = ds_header_hash(hash, &hd);
	if (rc)
		goto fail;
	json_t *range = NULL;
	if (rp.range_first < rp.range_last && (rc = range_json(c, &rp, height, &range)) != 0)
		goto fail;
	o = json_object();
	json_t *hdr = json_object(), *path = json_array();
	if (!o || !hdr || !path) {
		json_decref(hdr);
		json_decref(path);
		json_decref(range);
		rc = DS_ENOMEM;
		goto fail;
	}
	if (range)
		set(o, "range", range);
	for (size_t i = 0; i < rp.proof.len / DS_HASH_LEN; i++)
		json_array_append_new(path, jhex(rp.proof.data + i * DS_HASH_LEN, DS_HASH_LEN));
	uint8_t leaf[DS_HASH_LEN];
	ds_receipt_hash_bytes(leaf, rp.receipt.data, rp.receipt.len);
	set(o, "receipt_hex", jhex(rp.receipt.data, rp.receipt.len));
	set(o, "leaf", jhex(leaf, DS_HASH_LEN));
	set(o, "index", ju64(index));
	set(o, "tree_size", ju64(rp.tree_size));
	set(o, "path", path);
	set(o, "results_root", jhex(rp.results_root, DS_HASH_LEN));
	header_fields(hdr, &hd, hash);
	set(hdr, "header_hex", jhex(he, hl));
	set(hdr, "qc", qc_json(c, qc.data, qc.len, rp.header_height));
	set(o, "header", hdr);
	*out = o;
	o = NULL;
	rc = 0;
fail:
	json_decref(o);
	ds_buf_free(&qc);
	ds_chain_receipt_proof_free(&rp);
	return rc;
}

static void h_tx(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	uint8_t id[DS_HASH_LEN];
	if (ds_api_hex(id, sizeof(id), ds_api_param(req, "id"), r, "transaction id") != 0)
		return;
	struct ds_chain_txinfo ti;
	ds_chain_txinfo_init(&ti);
	static _Thread_local struct ds_receipt rcpt;
	json_t *o = NULL, *blk = NULL;
	int rc = ds_chain_tx(h->host.chain, id, &ti);
	if (rc == DS_ENOTFOUND) {
		if (h->host.tx_pending && h->host.tx_pending(h->host.ctx, id)) {
			o = json_object();
			if (o) {
				set(o, "id", jhex(id, DS_HASH_LEN));
				set(o, "status", json_string("pending"));
			}
			ds_api_resp_json(r, 200, o);
			o = NULL;
		} else {
			ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "transaction not found");
		}
		goto out;
	}
	if (rc == 0 && (ti.tx.err || ti.receipt.err || ti.proof.err))
		rc = DS_ENOMEM;
	if (rc) {
		reply_err(r, rc, "transaction");
		goto out;
	}
	struct ds_tx tx;
	if (ds_tx_decode(&tx, ti.tx.data, ti.tx.len) != 0 || ti.proof.len % DS_HASH_LEN != 0) {
		reply_err(r, DS_ECORRUPT, "transaction");
		goto out;
	}
	rc = block_json(h, ti.height, &blk);
	if (rc) {
		reply_err(r, rc, "block of the transaction");
		goto out;
	}
	o = json_object();
	json_t *proof = json_object(), *path = json_array();
	if (!o || !proof || !path) {
		json_decref(proof);
		json_decref(path);
		ds_api_resp_json(r, 500, NULL);
		goto out;
	}
	set(o, "id", jhex(id, DS_HASH_LEN));
	set(o, "status", json_string("committed"));
	set(o, "height", ju64(ti.height));
	set(o, "index", ju64(ti.index));
	set(o, "tx", tx_fields(&tx));
	set(o, "tx_hex", jhex(ti.tx.data, ti.tx.len));
	if (ti.executed && ds_receipt_decode(&rcpt, ti.receipt.data, ti.receipt.len) == 0) {
		set(o, "receipt", receipt_json(&rcpt));
		set(o, "receipt_hex", jhex(ti.receipt.data, ti.receipt.len));
	}
	set(proof, "leaf", jhex(id, DS_HASH_LEN));
	set(proof, "index", ju64(ti.index));
	set(proof, "tree_size", ju64(ti.tx_count));
	for (size_t i = 0; i < ti.proof.len / DS_HASH_LEN; i++)
		json_array_append_new(path, jhex(ti.proof.data + i * DS_HASH_LEN, DS_HASH_LEN));
	set(proof, "path", path);
	json_t *root = json_object_get(blk, "tx_root");
	if (root)
		set(proof, "tx_root", json_incref(root));
	set(o, "proof", proof);
	json_t *rproof = NULL;
	rc = receipt_proof_json(h, ti.height, ti.index, &rproof);
	if (rc) {
		reply_err(r, rc, "receipt proof of the transaction");
		goto out;
	}
	set(o, "receipt_proof", rproof);
	set(o, "block", blk);
	blk = NULL;
	ds_api_resp_json(r, 200, o);
	o = NULL;
out:
	json_decref(o);
	json_decref(blk);
	ds_chain_txinfo_free(&ti);
}

static void state_answer(struct ds_node_http *h, const struct ds_api_req *req, struct ds_api_resp *r,
			 const uint8_t *key, size_t klen, uint64_t prove);

static void h_state(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	const char *khex = ds_api_query(req, "key");
	const char *kstr = ds_api_query(req, "key_str");
	uint64_t prove;
	if (ds_api_query_u64(&prove, req, r, "prove", 0, 0, 1) != 0)
		return;
	if ((khex == NULL) == (kstr == NULL)) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM, "give exactly one of key (hex) and key_str");
		return;
	}
	uint8_t key[DS_HTTP_STATE_KEY_MAX];
	size_t klen;
	if (khex) {
		size_t n = strlen(khex);
		if (n == 0 || n % 2 || n / 2 > sizeof(key) || ds_hex_decode(key, n / 2, khex, n) != 0) {
			ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
					  "key must be 2..%d hex digits", 2 * DS_HTTP_STATE_KEY_MAX);
			return;
		}
		klen = n / 2;
	} else {
		klen = strlen(kstr);
		if (klen == 0 || klen > sizeof(key) || !ds_utf8_valid((const uint8_t *)kstr, klen)) {
			ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
					  "key_str must be 1..%d bytes of UTF-8", DS_HTTP_STATE_KEY_MAX);
			return;
		}
		memcpy(key, kstr, klen);
	}
	state_answer(h, req, r, key, klen, prove);
}

/* The /v1/state reply for one key (also used by the credit routes, which
 * build the key from the path). */
static void state_answer(struct ds_node_http *h, const struct ds_api_req *req, struct ds_api_resp *r,
			 const uint8_t *key, size_t klen, uint64_t prove)
{
	/* Lagged execution: the newest state is certified only by the next
	 * header, so a proof is served by default for the newest certified
	 * version (the tip header's exec_height); ?version=N picks another. */
	static _Thread_local struct ds_chain_tip tip;
	uint64_t version;
	if (ds_chain_tip(h->host.chain, &tip) != 0) {
		ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "chain not readable");
		return;
	}
	uint64_t def = prove && tip.height > 0 ? tip.header.exec_height : UINT64_MAX;
	if (ds_api_query_u64(&version, req, r, "version", def, 0, UINT64_MAX) != 0)
		return;
	if (version != UINT64_MAX && version > tip.height) {
		ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "no state version %" PRIu64 " yet", version);
		return;
	}
	struct ds_chain_state_proof p;
	ds_chain_state_proof_init(&p);
	json_t *o = NULL;
	int rc = ds_chain_state_get(h->host.chain, key, klen, version, &p);
	if (rc == 0 && (p.value.err || p.proof.err))
		rc = DS_ENOMEM;
	if (rc == DS_EINVAL || rc == DS_ERANGE) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM, "state key or version refused: %s",
				  ds_strerror(rc));
		goto out;
	}
	if (rc) {
		reply_err(r, rc, "state");
		goto out;
	}
	o = json_object();
	if (!o) {
		ds_api_resp_json(r, 500, NULL);
		goto out;
	}
	set(o, "key_hex", jhex(key, klen));
	set(o, "found", json_boolean(p.found));
	set(o, "value_hex", p.found ? jhex(p.value.data, p.value.len) : json_null());
	set(o, "value", p.found ? jvalue(p.value.data, p.value.len) : json_null());
	set(o, "version", ju64(p.version));
	set(o, "root", jhex(p.root, DS_HASH_LEN));
	if (prove) {
		set(o, "proof_hex", jhex(p.proof.data, p.proof.len));
		json_t *hdr = NULL;
		if (p.header_height != 0 && block_json(h, p.header_height, &hdr) != 0)
			hdr = NULL;
		set(o, "header", hdr ? hdr : json_null());
	}
	ds_api_resp_json(r, 200, o);
	o = NULL;
out:
	json_decref(o);
	ds_chain_state_proof_free(&p);
}

/* ------------------------------------------------- credit records (credit.lua)
 * Reads of the credit contract's state (docs/API.md "Credit records"); the
 * private details routes live in node_credit.c. */

#define CREDIT_PREFIX "contract/credit/"
#define CREDIT_AUDIT_PAGE_MAX 256

/* {id} of /v1/subjects/{id}/...: a pseudonym, 64 lowercase hex digits. */
static const char *subject_param(const struct ds_api_req *req, struct ds_api_resp *r)
{
	const char *s = ds_api_param(req, "id");
	size_t n = s ? strlen(s) : 0;
	bool ok = n == 2 * DS_HASH_LEN;
	for (size_t i = 0; ok && i < n; i++)
		ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
	if (!ok) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
				  "subject must be 64 lowercase hex digits (a pseudonym, never a national id)");
		return NULL;
	}
	return s;
}

/* A credit state key with its proof (prove=1 by default). */
static void credit_state(struct ds_node_http *h, const struct ds_api_req *req, struct ds_api_resp *r,
			 const char *what, const char *id)
{
	uint8_t key[DS_HTTP_STATE_KEY_MAX];
	uint64_t prove;
	if (ds_api_query_u64(&prove, req, r, "prove", 1, 0, 1) != 0)
		return;
	int kl = snprintf((char *)key, sizeof(key), CREDIT_PREFIX "%s/%s", what, id);
	if (kl < 0 || (size_t)kl >= sizeof(key)) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM, "id too long");
		return;
	}
	state_answer(h, req, r, key, (size_t)kl, prove);
}

static void h_profile(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	const char *s = subject_param(req, r);
	if (s)
		credit_state(ctx, req, r, "profile", s);
}

static void h_record(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	const char *id = ds_api_param(req, "id");
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 128 || !ds_utf8_valid((const uint8_t *)id, n)) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM, "record id must be 1..128 bytes of UTF-8");
		return;
	}
	credit_state(ctx, req, r, "rec", id);
}

/* Latest value of credit key "auditn/<subject>" (n == 0) or
 * "audit/<subject>/<n>"; DS_ENOTFOUND when absent. */
static int credit_audit_value(struct ds_node_http *h, struct ds_buf *v, const char *subject, uint64_t n)
{
	char key[DS_HTTP_STATE_KEY_MAX];
	int kl = n == 0 ? snprintf(key, sizeof(key), CREDIT_PREFIX "auditn/%s", subject)
			: snprintf(key, sizeof(key), CREDIT_PREFIX "audit/%s/%" PRIu64, subject, n);
	if (kl < 0 || (size_t)kl >= sizeof(key))
		return DS_EINVAL;
	ds_buf_reset(v);
	int rc = ds_chain_state_value(h->host.chain, (const uint8_t *)key, (size_t)kl, v);
	if (rc == 0 && v->err)
		rc = DS_ENOMEM;
	return rc;
}

/* GET /v1/subjects/{id}/accesses[?before=N][&limit=K]: the subject's audit
 * entries (credit.lua "audit/<subject>/<n>"), newest first. */
static void h_accesses(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	const char *s = subject_param(req, r);
	uint64_t limit, before;
	if (!s || ds_api_query_u64(&limit, req, r, "limit", 100, 1, CREDIT_AUDIT_PAGE_MAX) != 0 ||
	    ds_api_query_u64(&before, req, r, "before", UINT64_MAX, 1, UINT64_MAX) != 0)
		return;
	struct ds_buf v;
	ds_buf_init(&v);
	uint64_t total = 0;
	json_t *o = NULL, *arr = NULL;
	int rc = credit_audit_value(h, &v, s, 0);
	if (rc == 0) {
		struct ds_value iv;
		if (ds_value_parse(&iv, v.data, v.len) != 0 || iv.kind != DS_VALUE_INT || iv.i < 0) {
			ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "audit counter is malformed");
			goto out;
		}
		total = (uint64_t)iv.i;
	} else if (rc != DS_ENOTFOUND) {
		reply_err(r, rc, "audit");
		goto out;
	}
	o = json_object();
	arr = json_array();
	if (!o || !arr) {
		ds_api_resp_json(r, 500, NULL);
		goto out;
	}
	uint64_t top = before - 1 < total ? before - 1 : total;
	/* One read per listed index: a missing entry (never written by
	 * credit.lua) is skipped, not searched past. */
	for (uint64_t i = top, k = 0; i >= 1 && k < limit; i--, k++) {
		rc = credit_audit_value(h, &v, s, i);
		if (rc == DS_ENOTFOUND)
			continue;
		if (rc) {
			reply_err(r, rc, "audit");
			goto out;
		}
		json_array_append_new(arr, jvalue(v.data, v.len));
	}
	set(o, "subject", json_string(s));
	set(o, "total", ju64(total));
	set(o, "entries", arr);
	arr = NULL;
	ds_api_resp_json(r, 200, o);
	o = NULL;
out:
	json_decref(o);
	json_decref(arr);
	ds_buf_free(&v);
}

static void h_history(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	uint64_t height, newest, tip;
	if (tip_height(h, &tip, r))
		return;
	const char *hs = ds_api_param(req, "height");
	if (!hs || ds_api_parse_u64(&height, hs) != 0) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM, "height must be a decimal number");
		return;
	}
	if (tip == 0) {
		ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "no block after genesis yet");
		return;
	}
	if (ds_api_query_u64(&newest, req, r, "newest", tip, 1, tip) != 0)
		return;
	if (height >= newest) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
				  "height must be below newest (%" PRIu64 ")", newest);
		return;
	}
	struct ds_buf proof;
	ds_buf_init(&proof);
	json_t *o = NULL, *hdr = NULL;
	struct ds_header hd;
	uint8_t hash[DS_HASH_LEN];
	int rc = ds_chain_history_proof(h->host.chain, height, newest, &proof);
	if (rc == 0)
		rc = ds_chain_header(h->host.chain, height, &hd, NULL, NULL, NULL);
	if (rc == 0 && proof.err)
		rc = DS_ENOMEM;
	if (rc == 0 && (ds_header_hash(hash, &hd) != 0 || proof.len % DS_HASH_LEN != 0))
		rc = DS_ECORRUPT;
	if (rc == 0)
		rc = block_json(h, newest, &hdr);
	if (rc) {
		reply_err(r, rc, "history");
		goto out;
	}
	o = json_object();
	json_t *path = json_array();
	if (!o || !path) {
		json_decref(path);
		ds_api_resp_json(r, 500, NULL);
		goto out;
	}
	for (size_t i = 0; i < proof.len / DS_HASH_LEN; i++)
		json_array_append_new(path, jhex(proof.data + i * DS_HASH_LEN, DS_HASH_LEN));
	set(o, "height", ju64(height));
	set(o, "hash", jhex(hash, DS_HASH_LEN));
	set(o, "newest", ju64(newest));
	json_t *root = json_object_get(hdr, "history_root");
	if (root)
		set(o, "history_root", json_incref(root));
	set(o, "tree_size", ju64(newest));
	set(o, "path", path);
	set(o, "header", hdr);
	hdr = NULL;
	ds_api_resp_json(r, 200, o);
	o = NULL;
out:
	json_decref(o);
	json_decref(hdr);
	ds_buf_free(&proof);
}

static void h_contracts(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	(void)req;
	json_t *o = NULL;
	int rc = ds__node_gov_contracts(h->host.chain, &o);
	if (rc)
		reply_err(r, rc, "contract registry");
	else
		ds_api_resp_json(r, 200, o);
}

static void h_proposals(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	static const char *const statuses[] = {"open", "executed", "failed", "rejected", "expired"};
	const char *status = ds_api_query(req, "status");
	uint64_t limit;
	if (ds_api_query_u64(&limit, req, r, "limit", DS__NODE_GOV_PROPOSALS_DEFAULT, 1,
			     DS__NODE_GOV_PROPOSALS_MAX) != 0)
		return;
	if (status) {
		size_t i = 0;
		while (i < DS_ARRAY_LEN(statuses) && strcmp(status, statuses[i]) != 0)
			i++;
		if (i == DS_ARRAY_LEN(statuses)) {
			ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
					  "status must be open, executed, failed, rejected or expired");
			return;
		}
	}
	json_t *o = NULL;
	int rc = ds__node_gov_proposals(h->host.chain, status, (size_t)limit, &o);
	if (rc)
		reply_err(r, rc, "proposals");
	else
		ds_api_resp_json(r, 200, o);
}

/* ------------------------------------------------------------ POST /v1/tx */

struct submit {
	struct ds_api_async *async;
	uint8_t id[DS_HASH_LEN];
};

static void submit_reply(struct ds_api_resp *r, int rc, const uint8_t id[DS_HASH_LEN])
{
	switch (rc) {
	case 0: {
		json_t *o = json_object();
		if (o) {
			set(o, "id", jhex(id, DS_HASH_LEN));
			set(o, "status", json_string("pending"));
		}
		ds_api_resp_json(r, 202, o);
		return;
	}
	case DS_EREPLAY:
	case DS_EEXIST:
		ds_api_resp_error(r, 409, "REPLAY", "transaction already committed or pending");
		return;
	case DS_EFULL:
		ds_api_resp_error(r, 503, "MEMPOOL_FULL", "mempool full, retry later");
		return;
	case DS_ESIG:
		ds_api_resp_error(r, 422, "BAD_SIGNATURE", "signature does not verify for the sender");
		return;
	case DS_EEXPIRED:
		ds_api_resp_error(r, 422, "EXPIRED",
				  "expiry_height is not above the chain height, or too far ahead");
		return;
	case DS_ECHAIN:
		ds_api_resp_error(r, 422, "WRONG_CHAIN", "transaction is for another chain");
		return;
	case DS_EAGAIN:
	case DS_ECLOSED:
		ds_api_resp_error(r, 503, DS_API_E_UNAVAILABLE, "node not accepting transactions now");
		return;
	default:
		ds_api_resp_error(r, 422, "BAD_TX", "transaction refused: %s", ds_strerror(rc));
		return;
	}
}

static void submit_done(void *arg, int rc, const uint8_t id[DS_HASH_LEN])
{
	(void)id;
	struct submit *s = arg;
	struct ds_api_resp r;
	ds_api_resp_init(&r);
	submit_reply(&r, rc, s->id);
	(void)ds_api_async_finish(s->async, &r);
	ds_api_resp_free(&r);
	free(s);
}

static bool ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	if (!ct || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

static void h_submit(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	uint8_t *buf = NULL;
	const uint8_t *tx;
	size_t len;
	json_t *body = NULL;
	if (ctype_is(req->content_type, "application/octet-stream")) {
		tx = req->body;
		len = req->body_len;
	} else if (ctype_is(req->content_type, "application/json")) {
		static const struct ds_api_field fields[] = {{"tx_hex", DS_API_JHEX, true, 0}};
		if (ds_api_json_body(&body, req, r, fields, DS_ARRAY_LEN(fields)) != 0)
			return;
		json_t *hx = json_object_get(body, "tx_hex");
		size_t hn = json_string_length(hx);
		if (hn / 2 > DS_TX_MAX) {
			ds_api_resp_error(r, 413, DS_API_E_PAYLOAD_TOO_LARGE,
					  "a transaction is at most %u bytes", (unsigned)DS_TX_MAX);
			goto out;
		}
		buf = malloc(hn / 2 + 1);
		if (!buf || ds_hex_decode(buf, hn / 2, json_string_value(hx), hn) != 0) {
			ds_api_resp_error(r, 400, DS_API_E_BAD_FIELD, "tx_hex is not hex");
			goto out;
		}
		tx = buf;
		len = hn / 2;
	} else {
		ds_api_resp_error(r, 415, DS_API_E_UNSUPPORTED_MEDIA_TYPE,
				  "send application/octet-stream (the tx encoding) or application/json "
				  "{\"tx_hex\": ...}");
		return;
	}
	if (len == 0) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_REQUEST, "empty transaction");
		goto out;
	}
	if (len > DS_TX_MAX) {
		ds_api_resp_error(r, 413, DS_API_E_PAYLOAD_TOO_LARGE, "a transaction is at most %u bytes",
				  (unsigned)DS_TX_MAX);
		goto out;
	}
	struct ds_tx t;
	const char *field = NULL;
	int rc = ds_tx_decode_diag(&t, &field, tx, len, true);
	if (rc) {
		ds_api_resp_error(r, 422, "BAD_TX", "transaction does not decode at %s: %s",
				  field ? field : "?", ds_strerror(rc));
		goto out;
	}
	if (strcmp(t.chain_id, ds_chain_id(h->host.chain)) != 0) {
		submit_reply(r, DS_ECHAIN, NULL);
		goto out;
	}
	struct submit *s = malloc(sizeof(*s));
	if (!s) {
		ds_api_resp_json(r, 500, NULL);
		goto out;
	}
	ds_tx_id_body(s->id, tx, len - DS_SIG_LEN);
	if (ds_chain_tx_seen(h->host.chain, s->id)) {
		submit_reply(r, DS_EREPLAY, s->id);
		free(s);
		goto out;
	}
	rc = ds_api_async_begin(&s->async, req, DS_HTTP_SUBMIT_TIMEOUT_MS);
	if (rc) {
		free(s);
		ds_api_resp_from_err(r, rc, "cannot wait for the node");
		goto out;
	}
	rc = h->host.submit_tx(h->host.ctx, tx, len, submit_done, s);
	if (rc)
		submit_done(s, rc, NULL); /* the callback will never come */
out:
	free(buf);
	json_decref(body);
}

/* ---------------------------------------------------------------- events */

struct sink {
	struct ds_node_http *h;
	struct ds_api_sse *s; /* replay target, or NULL to publish live */
	unsigned mask;        /* EV_* types wanted */
	size_t max;
	size_t sent;
};

static unsigned type_bit(const char *type)
{
	return type[0] == 'b' ? EV_BLOCK : type[0] == 't' ? EV_TX : EV_EVENT;
}

static int sink_put(struct sink *k, const char *type, uint64_t id, json_t *data)
{
	if (!data)
		return DS_ENOMEM;
	if (!(k->mask & type_bit(type))) {
		json_decref(data);
		return 0;
	}
	char *text = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!text)
		return DS_ENOMEM;
	int rc = 0;
	if (k->s)
		rc = ds_api_sse_send(k->s, type, id, text);
	else if (ds_api_sse_publish(k->h->api, type, id, text) < 0)
		rc = DS_ENOMEM;
	free(text);
	if (rc == 0)
		k->sent++;
	return rc;
}

static uint64_t ev_id(uint64_t height, uint64_t slot)
{
	return height * DS_HTTP_EVENT_ID_BLOCK + slot;
}

/* Emits the events of block `height` with id >= from_id into k until k is
 * full. Returns 0 when the block is done, 1 when k filled up first, or an
 * error. */
static int block_events(struct ds_node_http *h, uint64_t height, uint64_t from_id, struct sink *k)
{
	struct ds_chain *c = h->host.chain;
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	struct ds_chain_txinfo ti;
	ds_chain_txinfo_init(&ti);
	static _Thread_local struct ds_receipt rcpt;
	int rc = ds_chain_block(c, height, &blk, &qc);
	if (rc == 0 && blk.err)
		rc = DS_ENOMEM;
	struct ds_block b;
	if (rc == 0 && ds_block_decode(&b, blk.data, blk.len) != 0)
		rc = DS_ECORRUPT;
	if (rc)
		goto out;
	uint8_t hash[DS_HASH_LEN];
	rc = ds_header_hash(hash, &b.header);
	if (rc)
		goto out;
	char hhex[2 * DS_HASH_LEN + 1];
	ds_hex_encode(hhex, hash, DS_HASH_LEN);
	if (ev_id(height, 0) >= from_id) {
		if (k->sent >= k->max) {
			rc = 1;
			goto out;
		}
		json_t *o = json_object();
		if (o) {
			set(o, "height", ju64(height));
			set(o, "hash", json_string(hhex));
			set(o, "tx_count", ju64(b.header.tx_count));
			set(o, "time_ms", ju64(b.header.time_ms));
			set(o, "proposer", jhex(b.header.proposer, DS_PK_LEN));
		}
		rc = sink_put(k, "block", ev_id(height, 0), o);
		if (rc)
			goto out;
	}
	size_t pos = 0;
	const uint8_t *tx;
	size_t tl;
	for (uint64_t i = 0; ds_block_tx_next(&b, &pos, &tx, &tl) == 1; i++) {
		uint64_t slot = 1 + DS_HTTP_EVENT_TX_SLOTS * i;
		if (ev_id(height, slot + DS_HTTP_EVENT_TX_SLOTS - 1) < from_id)
			continue; /* every event of this tx was sent already */
		struct ds_tx t;
		if (ds_tx_decode(&t, tx, tl) != 0) {
			rc = DS_ECORRUPT;
			goto out;
		}
		uint8_t id[DS_HASH_LEN];
		ds_tx_id_body(id, tx, tl - DS_SIG_LEN);
		char ihex[2 * DS_HASH_LEN + 1];
		ds_hex_encode(ihex, id, DS_HASH_LEN);
		ds_chain_txinfo_free(&ti);
		ds_chain_txinfo_init(&ti);
		bool have = ds_chain_tx(c, id, &ti) == 0 && ti.executed && !ti.receipt.err &&
			    ds_receipt_decode(&rcpt, ti.receipt.data, ti.receipt.len) == 0;
		if (ev_id(height, slot) >= from_id) {
			if (k->sent >= k->max) {
				rc = 1;
				goto out;
			}
			json_t *o = json_object();
			if (o) {
				set(o, "id", json_string(ihex));
				set(o, "height", ju64(height));
				set(o, "index", ju64(i));
				set(o, "sender", jhex(t.sender, DS_PK_LEN));
				set(o, "target", json_string(t.target));
				set(o, "method", json_string(t.method));
				set(o, "status", json_string(!have ? "committed" :
							     rcpt.status == DS_TX_OK ? "ok" : "failed"));
				if (have)
					set(o, "events", ju64(rcpt.nevents));
			}
			rc = sink_put(k, "tx", ev_id(height, slot), o);
			if (rc)
				goto out;
		}
		/* Events past the tx's slots are not streamed (GET /v1/tx has them). */
		for (uint32_t e = 0; have && e < rcpt.nevents && e + 1 < DS_HTTP_EVENT_TX_SLOTS; e++) {
			uint64_t eid = ev_id(height, slot + 1 + e);
			if (eid < from_id)
				continue;
			if (k->sent >= k->max) {
				rc = 1;
				goto out;
			}
			json_t *o = json_object();
			if (o) {
				set(o, "tx_id", json_string(ihex));
				set(o, "height", ju64(height));
				set(o, "index", ju64(e));
				set(o, "name", json_string(rcpt.events[e].name));
				set(o, "value", jvalue(rcpt.events[e].value, rcpt.events[e].value_len));
			}
			rc = sink_put(k, "event", eid, o);
			if (rc)
				goto out;
		}
	}
	rc = 0;
out:
	ds_chain_txinfo_free(&ti);
	ds_buf_free(&blk);
	ds_buf_free(&qc);
	return rc;
}

/* Parses "block,tx,event" (any non-empty subset, no repeats). */
static int parse_types(unsigned *mask, const char *types)
{
	*mask = 0;
	const char *p = types;
	for (int n = 0; n < 3; n++) {
		size_t l = strcspn(p, ",");
		unsigned bit = (l == 5 && strncmp(p, "block", 5) == 0) ? EV_BLOCK :
			       (l == 2 && strncmp(p, "tx", 2) == 0) ? EV_TX :
			       (l == 5 && strncmp(p, "event", 5) == 0) ? EV_EVENT : 0;
		if (!bit || (*mask & bit))
			return DS_EINVAL;
		*mask |= bit;
		if (p[l] == 0)
			return 0;
		p += l + 1;
	}
	return DS_EINVAL;
}

static unsigned sub_mask_get(struct ds_node_http *h, const struct ds_api_sse *s)
{
	unsigned m = EV_ALL;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < SUBS_MAX; i++)
		if (h->subs[i].s == s)
			m = h->subs[i].mask;
	pthread_mutex_unlock(&h->mu);
	return m;
}

static void sub_mask_set(struct ds_node_http *h, const struct ds_api_sse *s, unsigned mask)
{
	pthread_mutex_lock(&h->mu);
	size_t slot = 0;
	for (size_t i = 0; i < SUBS_MAX; i++) {
		if (h->subs[i].s == s) {
			slot = i;
			break;
		}
		if (h->subs[i].stamp < h->subs[slot].stamp)
			slot = i;
	}
	h->subs[slot] = (struct sub_mask){s, mask, ++h->stamp};
	pthread_mutex_unlock(&h->mu);
}

static int sse_open(void *ctx, const struct ds_api_req *req, struct ds_api_sse *s, struct ds_api_resp *r)
{
	struct ds_node_http *h = ctx;
	const char *types = ds_api_query(req, "types");
	unsigned mask = EV_ALL;
	if (types && (parse_types(&mask, types) != 0 || ds_api_sse_filter(s, types) != 0)) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM,
				  "types must list some of block, tx, event, separated by commas");
		return 1;
	}
	sub_mask_set(h, s, mask);
	return 0;
}

static int sse_replay(void *ctx, struct ds_api_sse *s, uint64_t from_id, size_t max)
{
	struct ds_node_http *h = ctx;
	static _Thread_local struct ds_chain_tip tip;
	if (ds_chain_tip(h->host.chain, &tip) != 0)
		return -1;
	struct sink k = {.h = h, .s = s, .mask = sub_mask_get(h, s), .max = max};
	for (uint64_t height = from_id / DS_HTTP_EVENT_ID_BLOCK; height <= tip.height; height++) {
		int rc = block_events(h, height, from_id, &k);
		if (rc < 0)
			return -1;
		if (rc == 1 || (k.sent >= max && height < tip.height))
			return 1;
	}
	return 0;
}

void ds_node_http_publish(struct ds_node_http *h, uint64_t height)
{
	if (!h || ds_api_sse_clients(h->api) == 0)
		return;
	struct sink k = {.h = h, .s = NULL, .mask = EV_ALL, .max = SIZE_MAX};
	int rc = block_events(h, height, ev_id(height, 0), &k);
	if (rc < 0)
		DS_LOGW("http", "cannot publish block events", " height=%" PRIu64 " err=%s", height,
			ds_errname(rc));
}

/* ------------------------------------------------------------ registration */

int ds_node_http_attach(struct ds_node_http **out, struct ds_api *api,
			const struct ds_node_http_host *host)
{
	*out = NULL;
	if (!host->chain || !host->submit_tx)
		return DS_EINVAL;
	struct ds_node_http *h = calloc(1, sizeof(*h));
	if (!h)
		return DS_ENOMEM;
	h->api = api;
	h->host = *host;
	pthread_mutex_init(&h->mu, NULL);
	static const struct {
		const char *method, *pattern;
		ds_api_handler_fn fn;
	} routes[] = {
		{"GET", "/healthz", h_healthz},
		{"GET", "/v1/status", h_status},
		{"GET", "/v1/validators", h_validators},
		{"GET", "/v1/epochs", h_epochs},
		{"GET", "/v1/blocks", h_blocks},
		{"GET", "/v1/blocks/{id}", h_block},
		{"POST", "/v1/tx", h_submit},
		{"GET", "/v1/tx/{id}", h_tx},
		{"GET", "/v1/state", h_state},
		{"GET", "/v1/history/{height}", h_history},
		{"GET", "/v1/contracts", h_contracts},
		{"GET", "/v1/proposals", h_proposals},
		{"GET", "/v1/subjects/{id}/profile", h_profile},
		{"GET", "/v1/subjects/{id}/accesses", h_accesses},
		{"GET", "/v1/records/{id}", h_record},
	};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < DS_ARRAY_LEN(routes); i++)
		rc = ds_api_route(api, routes[i].method, routes[i].pattern, routes[i].fn, h);
	if (rc == 0)
		rc = ds_api_sse_route(api, "/v1/events", sse_open, sse_replay, h);
	if (rc == 0)
		rc = ds_api_metrics_route(api, "/metrics");
	if (rc) {
		/* Routes already registered keep pointing at h: the api must be
		 * stopped before h can go, so a failed attach keeps h alive until
		 * ds_node_http_free is called by the caller after ds_api_stop. */
		*out = h;
		return rc;
	}
	*out = h;
	return 0;
}

void ds_node_http_free(struct ds_node_http *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* ------------------------------------------------------ the node adapter */

#include "keyfile/keyfile.h"
#include "node/node.h"

/* Weak references: a program that links the handlers without the node
 * loop (their unit test) does not drag node.c and all it needs out of the
 * archive; in the danshari binary the node is always linked, and only the
 * node calls ds_node_http_start. */
#pragma weak ds_node_status
#pragma weak ds_node_chain
#pragma weak ds_node_submit_tx
#pragma weak ds_node_on_commit

static int node_status(void *ctx, struct ds_node_http_status *out)
{
	static _Thread_local struct ds_node_status st;
	int rc = ds_node_status(ctx, &st);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(out->node_id, sizeof(out->node_id), "%s", st.node_id);
	out->round = st.round;
	out->epoch = st.epoch;
	out->mempool_size = st.mempool_txs;
	out->peers_connected = st.peers_connected;
	out->validator = st.self_index != UINT32_MAX;
	out->validator_index = st.self_index;
	uint32_t n = st.nvalidators < DS_VALIDATORS_MAX ? st.nvalidators : DS_VALIDATORS_MAX;
	for (uint32_t i = 0; i < n; i++) {
		struct ds_node_http_validator *v = &out->v[out->nvalidators];
		if (ds_keyfile_pk_from_hex(v->pk, st.validators[i].public_key) != 0)
			continue;
		snprintf(v->p2p, sizeof(v->p2p), "%s", st.validators[i].p2p);
		v->connected = st.validators[i].connected || st.validators[i].self;
		v->last_seen_ms = st.validators[i].last_seen_ms;
		out->nvalidators++;
	}
	return 0;
}

static int node_submit(void *ctx, const uint8_t *tx, size_t len, ds_node_http_done_fn done, void *arg)
{
	return ds_node_submit_tx(ctx, tx, len, done, arg);
}

static void node_commit(void *arg, const struct ds_node_commit *c)
{
	ds_node_http_publish(arg, c->height);
}

/* One handler state per node in this process, so ds_node_http_stop can
 * find it (the node holds no pointer of ours). */
#define NODES_MAX 16
static pthread_mutex_t g_nodes_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct ds_node *n;
	struct ds_node_http *h;
} g_nodes[NODES_MAX];

int ds_node_http_start(struct ds_node *n, struct ds_api *api)
{
	if (!ds_node_chain || !ds_node_status || !ds_node_submit_tx || !ds_node_on_commit)
		return DS_EINVAL; /* not linked: cannot happen in the binary */
	struct ds_node_http_host host = {
		.ctx = n,
		.chain = ds_node_chain(n),
		.status = node_status,
		.submit_tx = node_submit,
	};
	struct ds_node_http *h = NULL;
	int rc = ds_node_http_attach(&h, api, &host);
	if (rc == 0)
		rc = ds_node_on_commit(n, node_commit, h);
	pthread_mutex_lock(&g_nodes_mu);
	size_t i = 0;
	while (i < NODES_MAX && g_nodes[i].n)
		i++;
	if (i < NODES_MAX && h) {
		g_nodes[i].n = n;
		g_nodes[i].h = h;
	} else if (h) {
		/* No slot: h must live as long as the api's routes; it leaks. */
		DS_LOGW("http", "too many nodes in one process", " max=%d", NODES_MAX);
	}
	pthread_mutex_unlock(&g_nodes_mu);
	if (rc)
		DS_LOGE("http", "cannot register the HTTP API", " err=%s", ds_errname(rc));
	return rc;
}

void ds_node_http_stop(struct ds_node *n)
{
	pthread_mutex_lock(&g_nodes_mu);
	for (size_t i = 0; i < NODES_MAX; i++)
		if (g_nodes[i].n == n) {
			ds_node_http_free(g_nodes[i].h);
			g_nodes[i].n = NULL;
			g_nodes[i].h = NULL;
		}
	pthread_mutex_unlock(&g_nodes_mu);
}
