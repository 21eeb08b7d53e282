/* exec — the deterministic block executor: checks, dispatch, overlays,
 * receipts, results root. Pure: state comes in through ds_exec_host. */
#include "exec/exec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "exec/exec_int.h"
#include "exec/exec_sys.h"

struct ds_exec {
	const struct ds_exec_module *mods;
	size_t nmods;
	const struct ds_exec_module *contract;
	int (*authorize)(struct ds_exec_call *call);
};

/* Execution context of one transaction; call->exec points here. */
struct xctx {
	const struct ds_exec_host *host;
	struct ds__kvmap *block; /* block overlay: writes of earlier successful txs */
	struct ds__kvmap tx;     /* this tx's writes */
	const struct ds_exec_module *mod;
	uint8_t prefix[DS_NAME_MAX * 2 + 16];
	size_t prefix_len;
	uint8_t key[DS_EXEC_KEY_MAX];
	int host_err;      /* host failure: aborts the whole block */
	bool failed;
	char err[DS_RECEIPT_ERROR_MAX + 1];
	uint32_t nevents;
	char ev_names[DS_RECEIPT_EVENTS_MAX][DS_NAME_MAX + 1];
	size_t ev_off[DS_RECEIPT_EVENTS_MAX], ev_len[DS_RECEIPT_EVENTS_MAX];
	struct ds_buf evbuf;
	struct ds_buf ret;
};

int ds_exec_new(struct ds_exec **out, const struct ds_exec_module *mods, size_t nmods)
{
	*out = NULL;
	if (nmods && !mods)
		return DS_EINVAL;
	for (size_t i = 0; i < nmods; i++) {
		if (!mods[i].name || !mods[i].call || !ds_ledger_name_valid(mods[i].name))
			return DS_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(mods[i].name, mods[j].name) == 0)
				return DS_EEXIST;
	}
	struct ds_exec *e = calloc(1, sizeof(*e));
	if (!e)
		return DS_ENOMEM;
	e->mods = mods;
	e->nmods = nmods;
	for (size_t i = 0; i < nmods; i++)
		if (strcmp(mods[i].name, "contract") == 0)
			e->contract = &mods[i];
	*out = e;
	return 0;
}

void ds_exec_free(struct ds_exec *e)
{
	free(e);
}

void ds_exec_set_authorizer(struct ds_exec *e, int (*authorize)(struct ds_exec_call *call))
{
	e->authorize = authorize;
}

void ds_exec_result_free(struct ds_exec_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nwrites; i++)
		free(r->writes[i].key); /* value shares the key's allocation */
	free(r->writes);
	for (size_t i = 0; i < r->nreceipts; i++)
		ds_buf_free(&r->receipts[i]);
	free(r->receipts);
	free(r->tx_ids);
	free(r->accepted);
	memset(r, 0, sizeof(*r));
}

/* ---- state access for modules ------------------------------------------ */

static struct xctx *X(struct ds_exec_call *c)
{
	return c->exec;
}

/* Reads a full key: tx overlay, block overlay, then committed state. */
static int read_full(struct xctx *x, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl)
{
	*v = NULL;
	*vl = 0;
	struct ds__kvent *en = ds__kvmap_get(&x->tx, k, kl);
	if (!en)
		en = ds__kvmap_get(x->block, k, kl);
	if (en) {
		if (en->del)
			return DS_ENOTFOUND;
		*v = en->val;
		*vl = en->val_len;
		return 0;
	}
	int rc = x->host->get(x->host->ctx, k, kl, v, vl);
	if (rc == 0 || rc == DS_ENOTFOUND)
		return rc;
	x->host_err = rc;
	return rc;
}

static int write_full(struct xctx *x, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, bool del)
{
	if (kl == 0 || kl > DS_EXEC_KEY_MAX || (!del && vl > DS_EXEC_VALUE_MAX))
		return DS_EINVAL;
	if (!ds__kvmap_get(&x->tx, k, kl) && x->tx.n >= DS_EXEC_TX_WRITES_MAX)
		return DS_ELIMIT;
	if (x->block->bytes + x->tx.bytes + kl + vl > DS_EXEC_BLOCK_BYTES_MAX)
		return DS_ELIMIT;
	return ds__kvmap_set(&x->tx, k, kl, v, vl, del);
}

/* Prefixes a module-relative key; DS_EINVAL when too long or empty. */
static int full_key(struct xctx *x, const uint8_t *k, size_t kl, size_t *out_len)
{
	if (kl == 0 || kl > DS_EXEC_KEY_MAX - x->prefix_len)
		return DS_EINVAL;
	memcpy(x->key, x->prefix, x->prefix_len);
	memcpy(x->key + x->prefix_len, k, kl);
	*out_len = x->prefix_len + kl;
	return 0;
}

static int c_get(struct ds_exec_call *c, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl)
{
	size_t n;
	int rc = full_key(X(c), k, kl, &n);
	if (rc)
		return rc;
	return read_full(X(c), X(c)->key, n, v, vl);
}

static int c_put(struct ds_exec_call *c, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	size_t n;
	int rc = full_key(X(c), k, kl, &n);
	if (rc)
		return rc;
	if (vl && !v)
		return DS_EINVAL;
	return write_full(X(c), X(c)->key, n, v, vl, false);
}

static int c_del(struct ds_exec_call *c, const uint8_t *k, size_t kl)
{
	size_t n;
	int rc = full_key(X(c), k, kl, &n);
	if (rc)
		return rc;
	return write_full(X(c), X(c)->key, n, NULL, 0, true);
}

static int c_get_global(struct ds_exec_call *c, const uint8_t *k, size_t kl, const uint8_t **v,
			size_t *vl)
{
	if (kl == 0 || kl > DS_EXEC_KEY_MAX)
		return DS_EINVAL;
	return read_full(X(c), k, kl, v, vl);
}

static int system_only(struct ds_exec_call *c)
{
	if (X(c)->mod->flags & DS_EXEC_MOD_SYSTEM)
		return 0;
	c->fail(c, "module %s may not write outside its namespace", X(c)->mod->name);
	return DS_EPERM;
}

static int c_put_global(struct ds_exec_call *c, const uint8_t *k, size_t kl, const uint8_t *v,
			size_t vl)
{
	int rc = system_only(c);
	if (rc)
		return rc;
	if (vl && !v)
		return DS_EINVAL;
	return write_full(X(c), k, kl, v, vl, false);
}

static int c_del_global(struct ds_exec_call *c, const uint8_t *k, size_t kl)
{
	int rc = system_only(c);
	if (rc)
		return rc;
	return write_full(X(c), k, kl, NULL, 0, true);
}

static int c_emit(struct ds_exec_call *c, const char *name, const uint8_t *val, size_t vl)
{
	struct xctx *x = X(c);
	if (x->nevents >= DS_RECEIPT_EVENTS_MAX)
		return DS_ELIMIT;
	if (!name || !ds_ledger_name_valid(name) || !val || vl > DS_EVENT_VALUE_MAX ||
	    ds_value_check(val, vl) != 0)
		return DS_EINVAL;
	size_t off = x->evbuf.len;
	ds_buf_append(&x->evbuf, val, vl);
	if (x->evbuf.err)
		return DS_ENOMEM;
	snprintf(x->ev_names[x->nevents], sizeof(x->ev_names[0]), "%s", name);
	x->ev_off[x->nevents] = off;
	x->ev_len[x->nevents] = vl;
	x->nevents++;
	return 0;
}

static int c_set_return(struct ds_exec_call *c, const uint8_t *val, size_t vl)
{
	struct xctx *x = X(c);
	if (!val || vl > DS_RECEIPT_RETURN_MAX || ds_value_check(val, vl) != 0)
		return DS_EINVAL;
	ds_buf_reset(&x->ret);
	ds_buf_append(&x->ret, val, vl);
	return x->ret.err ? DS_ENOMEM : 0;
}

/* Error text must be valid UTF-8 in the receipt; keep printable ASCII only
 * so truncation can never split a character. */
static void set_error(char *dst, const char *src)
{
	size_t i = 0;
	for (; src[i] && i < DS_RECEIPT_ERROR_MAX; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	dst[i] = '\0';
	if (i == 0) {
		dst[0] = '?';
		dst[1] = '\0';
	}
}

void ds_exec_call_abort(struct ds_exec_call *call, int err)
{
	struct xctx *x = call->exec;
	DS_ASSERT(err < 0);
	if (!x->host_err)
		x->host_err = err;
}

static void c_fail(struct ds_exec_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void c_fail(struct ds_exec_call *c, const char *fmt, ...)
{
	struct xctx *x = X(c);
	if (x->failed)
		return; /* the first reason is the one that matters */
	char tmp[DS_RECEIPT_ERROR_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	set_error(x->err, tmp);
	x->failed = true;
}

/* ---- block execution --------------------------------------------------- */

static const struct ds_exec_module *find_module(const struct ds_exec *e, const char *target)
{
	for (size_t i = 0; i < e->nmods; i++)
		if (strcmp(e->mods[i].name, target) == 0 && &e->mods[i] != e->contract)
			return &e->mods[i];
	return e->contract;
}

static void reset_ctx(struct xctx *x)
{
	ds__kvmap_free(&x->tx);
	x->host_err = 0;
	x->failed = false;
	x->err[0] = '\0';
	x->nevents = 0;
	ds_buf_reset(&x->evbuf);
	ds_buf_reset(&x->ret);
	x->mod = NULL;
	x->prefix_len = 0;
}

/* Checks and runs one tx. Returns 0 (outcome in x: failed/err) or a host
 * error that aborts the block. *accepted: passed the checks. */

/* A call into a module with the executor's callbacks over overlay x. */
static struct ds_exec_call new_call(struct xctx *x, const struct ds_exec_block_info *info)
{
	return (struct ds_exec_call){
		.block = info,
		.get = c_get,
		.put = c_put,
		.del = c_del,
		.get_global = c_get_global,
		.put_global = c_put_global,
		.del_global = c_del_global,
		.emit = c_emit,
		.set_return = c_set_return,
		.fail = c_fail,
		.exec = x,
	};
}

static int run_tx(struct ds_exec *e, struct xctx *x, struct ds__kvmap *seen,
		  const struct ds_exec_block_info *info, const struct ds_tx *tx,
		  const uint8_t id[DS_HASH_LEN], uint32_t index, bool preverified, uint8_t *scratch,
		  bool *accepted, uint64_t *gas)
{
	*accepted = false;
	*gas = 0;
	if (strcmp(tx->chain_id, info->chain_id) != 0) {
		set_error(x->err, "wrong chain id");
		x->failed = true;
		return 0;
	}
	if (info->height >= tx->expiry_height) {
		set_error(x->err, "expired");
		x->failed = true;
		return 0;
	}
	if (tx->expiry_height - info->height > info->max_tx_lifetime) {
		set_error(x->err, "expiry height too far ahead");
		x->failed = true;
		return 0;
	}
	if (ds__kvmap_get(seen, id, DS_HASH_LEN)) {
		set_error(x->err, "replayed: earlier in this block");
		x->failed = true;
		return 0;
	}
	int rc = x->host->tx_seen(x->host->ctx, id);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		set_error(x->err, "replayed: committed before");
		x->failed = true;
		return 0;
	}
	if (!preverified && ds_tx_verify(tx, scratch, DS_TX_SCRATCH_LEN) != 0) {
		set_error(x->err, "bad signature");
		x->failed = true;
		return 0;
	}
	rc = ds__kvmap_set(seen, id, DS_HASH_LEN, NULL, 0, false);
	if (rc)
		return rc;
	*accepted = true;

	const struct ds_exec_module *mod = find_module(e, tx->target);
	if (!mod) {
		char msg[DS_NAME_MAX + 32];
		snprintf(msg, sizeof(msg), "unknown module %s", tx->target);
		set_error(x->err, msg);
		x->failed = true;
		return 0;
	}
	x->mod = mod;
	/* Native modules own "<name>/"; contracts live under "contract/<name>/". */
	if (mod == e->contract)
		x->prefix_len = (size_t)snprintf((char *)x->prefix, sizeof(x->prefix), "contract/%s/",
						 tx->target);
	else
		x->prefix_len = (size_t)snprintf((char *)x->prefix, sizeof(x->prefix), "%s/", mod->name);

	struct ds_exec_call call = new_call(x, info);
	call.tx = tx;
	call.tx_id = id;
	call.tx_index = index;
	rc = 0;
	if (e->authorize)
		rc = e->authorize(&call);
	if (rc == 0 && !x->host_err)
		rc = mod->call(&call);
	*gas = call.gas_used;
	if (x->host_err)
		return x->host_err;
	if (rc != 0 || x->failed) {
		if (!x->failed)
			set_error(x->err, ds_strerror(rc < 0 ? rc : DS_EINVAL));
		x->failed = true;
	}
	return 0;
}

static int merge_tx(struct xctx *x)
{
	for (size_t i = 0; i < x->tx.cap; i++) {
		struct ds__kvent *en = x->tx.slots[i];
		if (!en)
			continue;
		int rc = ds__kvmap_set(x->block, en->data, en->key_len, en->val, en->val_len, en->del);
		if (rc)
			return rc;
	}
	return 0;
}

static int make_receipt(struct ds_buf *out, uint8_t hash[DS_HASH_LEN], struct ds_receipt *r,
			struct xctx *x, const uint8_t id[DS_HASH_LEN], uint64_t gas)
{
	static const uint8_t null_value = 0x00;
	memset(r, 0, sizeof(*r));
	r->version = 1;
	memcpy(r->tx_id, id, DS_HASH_LEN);
	r->status = x->failed ? DS_TX_FAILED : DS_TX_OK;
	if (x->failed)
		memcpy(r->error, x->err, sizeof(r->error));
	r->gas_used = gas;
	r->nevents = x->nevents;
	for (uint32_t i = 0; i < x->nevents; i++) {
		memcpy(r->events[i].name, x->ev_names[i], sizeof(r->events[i].name));
		r->events[i].value = x->evbuf.data + x->ev_off[i];
		r->events[i].value_len = x->ev_len[i];
	}
	if (x->ret.len) {
		r->ret = x->ret.data;
		r->ret_len = x->ret.len;
	} else {
		r->ret = &null_value;
		r->ret_len = 1;
	}
	size_t n;
	int rc = ds_receipt_encode(NULL, 0, &n, r);
	if (rc)
		return rc;
	ds_buf_reset(out);
	if (ds_buf_reserve(out, n))
		return DS_ENOMEM;
	rc = ds_receipt_encode(out->data, out->cap, &out->len, r);
	if (rc)
		return rc;
	ds_receipt_hash_bytes(hash, out->data, out->len);
	return 0;
}

/* Block-level writes, made before the first transaction with system
 * privileges and merged into the block overlay like a successful tx's:
 * the promotion of a pending validator change when this block starts its
 * epoch. Any failure aborts the block (the state is corrupt or unreadable;
 * there is no transaction to charge it to). */
static int run_block_writes(struct xctx *x, const struct ds_exec_block_info *info)
{
	static const struct ds_exec_module block_mod = {"sys", NULL, DS_EXEC_MOD_SYSTEM};
	reset_ctx(x);
	x->mod = &block_mod;
	struct ds_exec_call call = new_call(x, info); /* no tx: block-level */
	int rc = ds__sys_valset_promote(&call, info->epoch);
	if (x->host_err)
		return x->host_err;
	if (rc)
		return rc;
	rc = merge_tx(x);
	reset_ctx(x);
	return rc;
}

int ds_exec_block(struct ds_exec *e, struct ds_exec_result *out, const struct ds_exec_host *host,
		  const struct ds_exec_block_info *info, const struct ds_block *block,
		  const bool *preverified)
{
	memset(out, 0, sizeof(*out));
	size_t n = block->header.tx_count;
	if (n > DS_BLOCK_TXS_MAX || !info->chain_id)
		return DS_EINVAL;
	struct ds__kvmap blockmap, seen;
	ds__kvmap_init(&blockmap);
	ds__kvmap_init(&seen);
	struct xctx *x = calloc(1, sizeof(*x));
	struct ds_receipt *r = malloc(sizeof(*r));
	uint8_t *scratch = malloc(DS_TX_SCRATCH_LEN);
	uint8_t(*rhash)[DS_HASH_LEN] = malloc((n ? n : 1) * DS_HASH_LEN);
	struct ds__kvent **sorted = NULL;
	int rc = DS_ENOMEM;
	if (!x || !r || !scratch || !rhash)
		goto fail;
	ds__kvmap_init(&x->tx);
	ds_buf_init(&x->evbuf);
	ds_buf_init(&x->ret);
	x->host = host;
	x->block = &blockmap;
	out->receipts = calloc(n ? n : 1, sizeof(*out->receipts));
	out->tx_ids = calloc(n ? n : 1, DS_HASH_LEN);
	out->accepted = calloc(n ? n : 1, sizeof(bool));
	if (!out->receipts || !out->tx_ids || !out->accepted)
		goto fail;
	for (size_t i = 0; i < n; i++)
		ds_buf_init(&out->receipts[i]);
	out->nreceipts = n;

	rc = run_block_writes(x, info);
	if (rc)
		goto fail;
	size_t pos = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *txb;
		size_t txl;
		rc = DS_EINVAL;
		if (ds_block_tx_next(block, &pos, &txb, &txl) != 1)
			goto fail;
		struct ds_tx tx;
		rc = ds_tx_decode(&tx, txb, txl);
		if (rc)
			goto fail; /* ds_block_decode accepted it: the block is not what it claims */
		ds_tx_id_body(out->tx_ids[i], txb, txl - DS_SIG_LEN);
		reset_ctx(x);
		uint64_t gas;
		rc = run_tx(e, x, &seen, info, &tx, out->tx_ids[i], i,
			    preverified ? preverified[i] : false, scratch, &out->accepted[i], &gas);
		if (rc)
			goto fail;
		if (!x->failed) {
			rc = merge_tx(x);
			if (rc)
				goto fail;
		}
		out->gas_total += gas;
		rc = make_receipt(&out->receipts[i], rhash[i], r, x, out->tx_ids[i], gas);
		if (rc)
			goto fail;
	}
	ds_ledger_merkle_root(out->results_root, (const uint8_t(*)[DS_HASH_LEN])rhash, n);

	size_t nw;
	rc = ds__kvmap_sorted(&blockmap, &sorted, &nw);
	if (rc)
		goto fail;
	if (nw) {
		rc = DS_ENOMEM;
		out->writes = calloc(nw, sizeof(*out->writes));
		if (!out->writes)
			goto fail;
		for (size_t i = 0; i < nw; i++) {
			struct ds__kvent *en = sorted[i];
			uint8_t *k = malloc(en->key_len + en->val_len + 1);
			if (!k)
				goto fail;
			memcpy(k, en->data, en->key_len);
			out->writes[i].key = k;
			out->writes[i].key_len = en->key_len;
			if (!en->del) {
				out->writes[i].val = k + en->key_len;
				memcpy(out->writes[i].val, en->val, en->val_len);
				out->writes[i].val_len = en->val_len;
			}
			out->nwrites = i + 1;
		}
	}
	rc = 0;
fail:
	if (rc)
		ds_exec_result_free(out);
	free(sorted);
	if (x) {
		ds__kvmap_free(&x->tx);
		ds_buf_free(&x->evbuf);
		ds_buf_free(&x->ret);
	}
	free(x);
	free(r);
	free(scratch);
	free(rhash);
	ds__kvmap_free(&blockmap);
	ds__kvmap_free(&seen);
	return rc;
}
