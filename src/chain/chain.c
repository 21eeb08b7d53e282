/* chain — the node's ledger on the store: open/genesis, commit, reads. */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "chain/chain_int.h"
#include "codec/codec.h"
#include "exec/exec_sys.h"

#define PENDING_MAX 4096 /* uncommitted ancestors a proposal may name */

struct ds_chain {
	struct ds_store *st;
	struct ds_exec *exec;
	char chain_id[DS_CHAIN_ID_MAX + 1];
	struct ds_chain_params params;
	uint8_t genesis_hash[DS_HASH_LEN];
};

struct tipv {
	uint64_t height;
	uint8_t hash[DS_HASH_LEN];
	uint64_t txs_total;
};

/* ---- small readers (each returns DS_ECORRUPT for a malformed value) ---- */

static int load_tip(struct ds_rtxn *rt, struct tipv *t)
{
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(rt, DS__T_META, "tip", 3, &v, &vl);
	if (rc)
		return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	if (vl != 8 + DS_HASH_LEN + 8)
		return DS_ECORRUPT;
	t->height = ds_get_u64be(v);
	memcpy(t->hash, v + 8, DS_HASH_LEN);
	t->txs_total = ds_get_u64be(v + 8 + DS_HASH_LEN);
	return 0;
}

/* A value keyed by a big-endian u64 (height or epoch). */
static int get_at(struct ds_rtxn *rt, unsigned table, uint64_t at, const uint8_t **v, size_t *vl)
{
	uint8_t k[8];
	ds_store_key_u64(k, at);
	return ds_store_get(rt, table, k, 8, v, vl);
}

static int load_header(struct ds_rtxn *rt, uint64_t h, struct ds_header *out)
{
	const uint8_t *v;
	size_t vl;
	int rc = get_at(rt, DS__T_HEADERS, h, &v, &vl);
	if (rc)
		return rc;
	if (ds_header_decode(out, v, vl) != 0 || out->height != h)
		return DS_ECORRUPT;
	return 0;
}

static int load_roots(struct ds_rtxn *rt, uint64_t h, uint8_t sr[DS_HASH_LEN], uint8_t rr[DS_HASH_LEN])
{
	const uint8_t *v;
	size_t vl;
	int rc = get_at(rt, DS__T_ROOTS, h, &v, &vl);
	if (rc)
		return rc;
	if (vl != 2 * DS_HASH_LEN)
		return DS_ECORRUPT;
	memcpy(sr, v, DS_HASH_LEN);
	memcpy(rr, v + DS_HASH_LEN, DS_HASH_LEN);
	return 0;
}

/* Stored results roots of blocks first .. first+n-1 into out[n]. */
static int load_block_roots(struct ds_rtxn *rt, uint64_t first, uint64_t n, uint8_t (*out)[DS_HASH_LEN])
{
	uint8_t sr[DS_HASH_LEN];
	for (uint64_t i = 0; i < n; i++) {
		int rc = load_roots(rt, first + i, sr, out[i]);
		if (rc)
			return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	}
	return 0;
}

/* ds_results_root_for's getter: a block's stored results root. */
static int stored_results_root(void *ctx, uint64_t h, uint8_t out[DS_HASH_LEN])
{
	uint8_t sr[DS_HASH_LEN];
	int rc = load_roots(ctx, h, sr, out);
	return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
}

static int load_frontier(struct ds_rtxn *rt, struct ds_merkle_frontier *f)
{
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(rt, DS__T_META, "frontier", 8, &v, &vl);
	if (rc)
		return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	return ds_merkle_frontier_decode(f, v, vl) ? DS_ECORRUPT : 0;
}

static int load_valset(struct ds_rtxn *rt, uint64_t epoch, struct ds_valset *vs)
{
	const uint8_t *v;
	size_t vl;
	int rc = get_at(rt, DS__T_VALSETS, epoch, &v, &vl);
	if (rc)
		return rc;
	if (ds_valset_decode(vs, v, vl) != 0 || vs->epoch != epoch)
		return DS_ECORRUPT;
	return 0;
}

/* The pending validator change in the latest executed state. */
static int load_change(struct ds_rtxn *rt, struct ds_chain_change *ch)
{
	memset(ch, 0, sizeof(*ch));
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(rt, DS__T_LATEST, DS_EXEC_SYS_VALSET_NEXT_KEY,
			      sizeof(DS_EXEC_SYS_VALSET_NEXT_KEY) - 1, &v, &vl);
	if (rc)
		return rc == DS_ENOTFOUND ? 0 : rc;
	return ds__chain_change_parse(ch, v, vl);
}

/* The epoch rule for a ledger child of `parent` (the tip, or a pending
 * descendant of it): the set the child must carry (*starts: it starts a new
 * epoch). ch gets the change the decision was made on. */
static int child_set(struct ds_rtxn *rt, const struct tipv *tip, const struct ds_header *parent,
		     struct ds_chain_change *ch, struct ds_valset *out, bool *starts, const char **why)
{
	/* A change created by a block we have not executed could end the
	 * parent's epoch: undecidable until then. */
	if (parent->exec_height > tip->height) {
		*why = "parent's exec height not executed here yet";
		return DS_EAGAIN;
	}
	int rc = load_change(rt, ch);
	if (rc)
		return rc;
	if (ds_chain_past_change(ch, parent)) {
		ds__chain_child_set(out, starts, ch, parent, NULL);
		return 0;
	}
	struct ds_valset ps;
	rc = load_valset(rt, parent->epoch, &ps);
	/* A pending parent may be the first block of an epoch: its set is
	 * stored when that block commits, until then it is the change's. */
	if (rc == DS_ENOTFOUND && ch->pending && ch->epoch == parent->epoch) {
		ps = ch->valset;
		rc = 0;
	}
	if (rc == DS_ENOTFOUND) {
		*why = "no validator set for the parent's epoch";
		return parent->height <= tip->height ? DS_ECORRUPT : DS_EINVAL;
	}
	if (rc)
		return rc;
	ds__chain_child_set(out, starts, ch, parent, &ps);
	return 0;
}

static uint64_t load_u64(struct ds_rtxn *rt, unsigned table, const void *k, size_t kl, uint64_t dflt)
{
	const uint8_t *v;
	size_t vl;
	if (ds_store_get(rt, table, k, kl, &v, &vl) != 0 || vl != 8)
		return dflt;
	return ds_get_u64be(v);
}

/* SMT node store over a read view. */
static int smt_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(ctx, DS__T_NODES, key, key_len, &v, &vl);
	if (rc)
		return rc;
	if (vl > cap)
		return DS_ECORRUPT;
	memcpy(out, v, vl);
	*len = vl;
	return 0;
}

static struct ds_smt_store smt_of(struct ds_rtxn *rt)
{
	struct ds_smt_store s = {smt_get, rt};
	return s;
}

/* ---- open / genesis ---------------------------------------------------- */

struct genesis_w {
	const struct ds_genesis *g;
	const struct ds_header *hdr;
	const uint8_t *hash;
	const struct ds_smt_changeset *cs;
	struct ds_buf rec;
};

/* Node keys start with the version, newer than anything stored, so they
 * could be appended (DS_STORE_APPEND, sorted): measured on 1M keys in
 * batches of 10,000 that made proofs ~15% faster (denser pages) but durable
 * updates ~10% slower with ~1.5x the kernel time per commit, so plain puts
 * stay. */
int ds__chain_put_changeset(struct ds_wtxn *tx, const struct ds_smt_changeset *cs)
{
	for (size_t i = 0; i < cs->n_nodes; i++) {
		int rc = ds_store_put(tx, DS__T_NODES, cs->nodes[i].key, cs->nodes[i].key_len,
				      ds_smt_changeset_val(cs, i), cs->nodes[i].val_len, 0);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < cs->n_stale; i++) {
		uint8_t k[8 + DS_SMT_NODE_KEY_MAX];
		ds_store_key_u64(k, cs->version);
		memcpy(k + 8, cs->stale[i].key, cs->stale[i].key_len);
		int rc = ds_store_put(tx, DS__T_STALE, k, 8 + cs->stale[i].key_len, "", 0, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int put_value(struct ds_wtxn *tx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	uint8_t vh[DS_HASH_LEN];
	ds_sha256(vh, v, vl);
	int rc = ds_store_put(tx, DS__T_LATEST, k, kl, v, vl, 0);
	if (rc)
		return rc;
	return ds_store_put(tx, DS__T_VALUES, vh, DS_HASH_LEN, v, vl, 0);
}

static int genesis_fn(struct ds_wtxn *tx, void *arg)
{
	struct genesis_w *w = arg;
	const struct ds_genesis *g = w->g;
	uint8_t k8[8], buf[DS_VALSET_MAX + DS_HEADER_MAX + 64];
	size_t n;
	int rc;
	if ((rc = ds_store_put(tx, DS__T_META, "genesis", 7, w->rec.data, w->rec.len, 0)) ||
	    (rc = ds_store_put(tx, DS__T_META, "genesis_hash", 12, w->hash, DS_HASH_LEN, 0)))
		return rc;
	uint8_t tip[8 + DS_HASH_LEN + 8] = {0};
	memcpy(tip + 8, w->hash, DS_HASH_LEN);
	if ((rc = ds_store_put(tx, DS__T_META, "tip", 3, tip, sizeof(tip), 0)))
		return rc;
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, w->hash, DS_HASH_LEN);
	DS_ASSERT(ds_merkle_frontier_append(&f, leaf) == 0);
	if ((rc = ds_merkle_frontier_encode(buf, sizeof(buf), &n, &f)) ||
	    (rc = ds_store_put(tx, DS__T_META, "frontier", 8, buf, n, 0)))
		return rc;
	uint8_t hk[9] = {0};
	if ((rc = ds_store_put(tx, DS__T_HISTORY, hk, 9, leaf, DS_HASH_LEN, 0)))
		return rc;
	ds_store_key_u64(k8, 0);
	if ((rc = ds_header_encode(buf, sizeof(buf), &n, w->hdr)) ||
	    (rc = ds_store_put(tx, DS__T_HEADERS, k8, 8, buf, n, 0)))
		return rc;
	/* Block 0: the header with no transactions, and an empty QC. */
	uint8_t blk[DS_HEADER_MAX + 8], rec[DS_HEADER_MAX + 16];
	size_t bl, recl;
	if ((rc = ds_block_encode(blk, sizeof(blk), &bl, w->hdr, NULL, 0)))
		return rc;
	struct ds_enc e;
	ds_enc_init(&e, rec, sizeof(rec));
	ds_enc_bytes(&e, blk, bl);
	ds_enc_bytes(&e, NULL, 0);
	if ((rc = ds_enc_finish(&e, &recl)))
		return rc;
	if ((rc = ds_store_put(tx, DS__T_BLOCKS, k8, 8, rec, recl, 0)) ||
	    (rc = ds_store_put(tx, DS__T_HASHES, w->hash, DS_HASH_LEN, k8, 8, 0)))
		return rc;
	uint8_t roots[2 * DS_HASH_LEN];
	memcpy(roots, w->hdr->state_root, DS_HASH_LEN);
	ds_merkle_empty_root(roots + DS_HASH_LEN);
	if ((rc = ds_store_put(tx, DS__T_ROOTS, k8, 8, roots, sizeof(roots), 0)) ||
	    (rc = ds_store_put(tx, DS__T_EXECREF, k8, 8, k8, 8, 0)))
		return rc;
	if ((rc = ds_valset_encode(buf, sizeof(buf), &n, &g->valset)) ||
	    (rc = ds_store_put(tx, DS__T_VALSETS, k8, 8, buf, n, 0)))
		return rc;
	for (size_t i = 0; i < g->nstate; i++)
		if ((rc = put_value(tx, g->state[i].key, g->state[i].key_len,
				    g->state[i].val ? g->state[i].val : (const uint8_t *)"",
				    g->state[i].val_len)))
			return rc;
	uint8_t params[64];
	if ((rc = ds__chain_params_value(params, sizeof(params), &n, &g->params)) ||
	    (rc = put_value(tx, (const uint8_t *)DS__PARAMS_KEY, sizeof(DS__PARAMS_KEY) - 1, params, n)))
		return rc;
	return ds__chain_put_changeset(tx, w->cs);
}

static int data_dir(char *out, size_t cap, const char *home)
{
	int n = snprintf(out, cap, "%s/data", home);
	return (n < 0 || (size_t)n >= cap) ? DS_EINVAL : 0;
}

int ds_chain_open(struct ds_chain **out, const char *home, const struct ds_genesis *g,
		  const struct ds_chain_options *opts)
{
	*out = NULL;
	char dir[PATH_MAX];
	int rc = data_dir(dir, sizeof(dir), home);
	if (rc)
		return rc;
	/* The home itself may not exist yet (a fresh node or a test). */
	if (mkdir(home, 0700) != 0 && errno != EEXIST)
		return DS_EIO;
	struct ds_chain *c = calloc(1, sizeof(*c));
	struct ds_smt_changeset cs;
	memset(&cs, 0, sizeof(cs));
	struct ds_kv *owned = NULL;
	struct ds_buf grec;
	ds_buf_init(&grec);
	if (!c)
		return DS_ENOMEM;
	struct ds_store_opts so = {
		.tables = ds__chain_tables,
		.tables_len = DS__T_COUNT,
		.map_size_max_bytes = opts ? opts->map_size_max : 0,
		.no_sync = opts ? opts->no_sync : false,
	};
	rc = ds_store_open(&c->st, dir, &so);
	if (rc)
		goto fail;
	struct ds_rtxn *rt;
	rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		goto fail;
	const uint8_t *v;
	size_t vl;
	int have = ds_store_get(rt, DS__T_META, "genesis_hash", 12, &v, &vl);
	uint8_t stored_hash[DS_HASH_LEN];
	if (have == 0 && vl != DS_HASH_LEN)
		have = DS_ECORRUPT;
	if (have == 0)
		memcpy(stored_hash, v, DS_HASH_LEN);
	struct ds_genesis stored;
	int grc = DS_ENOTFOUND;
	if (have == 0) {
		grc = ds_store_get(rt, DS__T_META, "genesis", 7, &v, &vl);
		if (grc == 0) {
			/* Copy: the record must outlive the read txn. */
			ds_buf_append(&grec, v, vl);
			grc = grec.err ? DS_ENOMEM
				       : ds__chain_genesis_decode(&stored, &owned, grec.data, grec.len);
		}
	}
	ds_store_read_end(rt);
	if (have != 0 && have != DS_ENOTFOUND) {
		rc = have;
		goto fail;
	}
	if (have == 0 && grc != 0) {
		rc = DS_ECORRUPT;
		goto fail;
	}
	if (have == DS_ENOTFOUND && !g) {
		rc = DS_ENOTFOUND;
		goto fail;
	}
	const struct ds_genesis *use = g ? g : &stored;
	struct ds_header hdr;
	uint8_t hash[DS_HASH_LEN];
	rc = ds__chain_genesis_build(use, &hdr, hash, &cs);
	if (rc)
		goto fail;
	if (have == 0) {
		if (memcmp(hash, stored_hash, DS_HASH_LEN) != 0) {
			rc = g ? DS_ECHAIN : DS_ECORRUPT;
			goto fail;
		}
	} else {
		rc = ds__chain_genesis_encode(&grec, g);
		if (rc)
			goto fail;
		struct genesis_w w = {g, &hdr, hash, &cs, grec};
		rc = ds_store_write(c->st, genesis_fn, &w);
		if (rc)
			goto fail;
	}
	memcpy(c->chain_id, use->chain_id, sizeof(c->chain_id));
	c->params = use->params;
	memcpy(c->genesis_hash, hash, DS_HASH_LEN);
	const struct ds_exec_module *mods;
	size_t nmods;
	int (*authorize)(struct ds_exec_call *);
	ds__chain_modules(&mods, &nmods, &authorize);
	rc = ds_exec_new(&c->exec, mods, nmods);
	if (rc)
		goto fail;
	if (authorize)
		ds_exec_set_authorizer(c->exec, authorize);
	ds_smt_changeset_free(&cs);
	free(owned);
	ds_buf_free(&grec);
	*out = c;
	return 0;
fail:
	ds_smt_changeset_free(&cs);
	free(owned);
	ds_buf_free(&grec);
	ds_chain_close(c);
	return rc;
}

void ds_chain_close(struct ds_chain *c)
{
	if (!c)
		return;
	ds_exec_free(c->exec);
	ds_store_close(c->st);
	free(c);
}

void ds_chain_genesis_hash(const struct ds_chain *c, uint8_t out[DS_HASH_LEN])
{
	memcpy(out, c->genesis_hash, DS_HASH_LEN);
}

const char *ds_chain_id(const struct ds_chain *c)
{
	return c->chain_id;
}

const struct ds_chain_params *ds_chain_params(const struct ds_chain *c)
{
	return &c->params;
}

int ds_chain_tip(struct ds_chain *c, struct ds_chain_tip *out)
{
	memset(out, 0, sizeof(*out));
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	struct tipv t;
	rc = load_tip(rt, &t);
	if (!rc)
		rc = load_header(rt, t.height, &out->header);
	ds_store_read_end(rt);
	if (rc)
		return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	out->height = t.height;
	memcpy(out->hash, t.hash, DS_HASH_LEN);
	out->txs_total = t.txs_total;
	return 0;
}

int ds_chain_valset(struct ds_chain *c, uint64_t epoch, struct ds_valset *out)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	rc = load_valset(rt, epoch, out);
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_change(struct ds_chain *c, struct ds_chain_change *out)
{
	memset(out, 0, sizeof(*out));
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	rc = load_change(rt, out);
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_epoch_root(struct ds_chain *c, uint64_t epoch, uint64_t *root_height)
{
	*root_height = 0;
	if (epoch == 0)
		return 0;
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	const uint8_t *v;
	size_t vl;
	rc = get_at(rt, DS__T_EPOCHROOTS, epoch, &v, &vl);
	if (!rc)
		rc = ds_store_key_u64_get(root_height, v, vl) ? DS_ECORRUPT : 0;
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_suffix(struct ds_chain *c, uint64_t height, struct ds_buf *out)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	const uint8_t *v;
	size_t vl;
	rc = get_at(rt, DS__T_SUFFIX, height, &v, &vl);
	if (rc == DS_ENOTFOUND) {
		rc = 0;
	} else if (!rc) {
		ds_buf_append(out, v, vl);
		if (out->err)
			rc = DS_ENOMEM;
	}
	ds_store_read_end(rt);
	return rc;
}

/* ---- next header / check header ---------------------------------------- */

/* History root for a child of `parent`: the stored frontier (blocks
 * 0..tip) extended by the pending hashes. */
static int history_for(struct ds_rtxn *rt, const struct tipv *tip, const struct ds_header *parent,
		       const uint8_t parent_hash[DS_HASH_LEN], const uint8_t (*pending)[DS_HASH_LEN],
		       size_t npending, uint8_t root[DS_HASH_LEN], const char **why)
{
	if (npending > PENDING_MAX) {
		*why = "too many pending blocks";
		return DS_ETOOBIG;
	}
	/* The caller's view of the tip may lag ours (a node commits on another
	 * thread): leading pending blocks that are committed by now are part of
	 * the stored frontier already, so skip them once they end at our tip. */
	if (npending > 0 && parent->height >= npending && tip->height > parent->height - npending &&
	    tip->height <= parent->height) {
		size_t skip = (size_t)(tip->height - (parent->height - npending));
		if (memcmp(pending[skip - 1], tip->hash, DS_HASH_LEN) != 0) {
			*why = "pending blocks do not extend the committed tip";
			return DS_EINVAL;
		}
		pending += skip;
		npending -= skip;
	}
	if (npending == 0) {
		if (parent->height != tip->height || memcmp(parent_hash, tip->hash, DS_HASH_LEN) != 0) {
			*why = "parent is not the committed tip";
			return DS_EINVAL;
		}
	} else if (parent->height != tip->height + npending ||
		   memcmp(pending[npending - 1], parent_hash, DS_HASH_LEN) != 0) {
		*why = "pending blocks do not end at the parent";
		return DS_EINVAL;
	}
	struct ds_merkle_frontier f;
	int rc = load_frontier(rt, &f);
	if (rc)
		return rc;
	if (f.size != tip->height + 1)
		return DS_ECORRUPT;
	for (size_t i = 0; i < npending; i++) {
		uint8_t leaf[DS_HASH_LEN];
		ds_merkle_leaf_hash(leaf, pending[i], DS_HASH_LEN);
		rc = ds_merkle_frontier_append(&f, leaf);
		if (rc)
			return rc;
	}
	ds_merkle_frontier_root(root, &f);
	return 0;
}

int ds_chain_next_header(struct ds_chain *c, struct ds_header *out, const struct ds_header *parent,
			 const uint8_t parent_hash[DS_HASH_LEN],
			 const uint8_t (*pending)[DS_HASH_LEN], size_t npending)
{
	memset(out, 0, sizeof(*out));
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	struct tipv tip;
	const char *why = NULL;
	struct ds_valset vs;
	struct ds_chain_change ch;
	bool starts;
	rc = load_tip(rt, &tip);
	if (rc)
		goto out;
	rc = history_for(rt, &tip, parent, parent_hash, pending, npending, out->history_root, &why);
	if (rc)
		goto out;
	/* Execution happens at commit, so the executed height is the tip. */
	if (tip.height < parent->exec_height) {
		rc = DS_EAGAIN;
		goto out;
	}
	rc = load_roots(rt, tip.height, out->state_root, out->results_root);
	if (!rc)
		rc = ds_results_root_for(out->results_root, parent->exec_height, tip.height, stored_results_root, rt);
	if (rc)
		goto out;
	rc = child_set(rt, &tip, parent, &ch, &vs, &starts, &why);
	if (rc)
		goto out;
	rc = ds_valset_hash(out->valset_hash, &vs);
	if (rc)
		goto out;
	out->version = 1;
	memcpy(out->chain_id, c->chain_id, sizeof(out->chain_id));
	out->height = parent->height + 1;
	out->epoch = vs.epoch;
	memcpy(out->parent_hash, parent_hash, DS_HASH_LEN);
	out->exec_height = tip.height;
	ds_merkle_empty_root(out->tx_root);
out:
	ds_store_read_end(rt);
	return rc;
}

/* Exec roots rule: exec_height executed here and the roots match. */
static int check_exec(struct ds_rtxn *rt, const struct tipv *tip, const struct ds_header *h,
		      const struct ds_header *parent, const char **why)
{
	if (h->exec_height > tip->height) {
		*why = "exec height not executed here yet";
		return DS_EAGAIN;
	}
	uint8_t sr[DS_HASH_LEN], rr[DS_HASH_LEN];
	if (h->exec_height < parent->exec_height) {
		*why = "exec height below the parent's";
		return DS_EINVAL;
	}
	int rc = load_roots(rt, h->exec_height, sr, rr);
	if (!rc)
		rc = ds_results_root_for(rr, parent->exec_height, h->exec_height, stored_results_root, rt);
	if (rc)
		return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	if (memcmp(sr, h->state_root, DS_HASH_LEN) != 0) {
		*why = "state root does not match execution";
		return DS_EINVAL;
	}
	if (memcmp(rr, h->results_root, DS_HASH_LEN) != 0) {
		*why = "results root does not match execution";
		return DS_EINVAL;
	}
	return 0;
}

int ds_chain_check_header(struct ds_chain *c, const struct ds_header *h,
			  const struct ds_header *parent, const uint8_t parent_hash[DS_HASH_LEN],
			  const uint8_t (*pending)[DS_HASH_LEN], size_t npending,
			  const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	struct tipv tip;
	struct ds_valset vs;
	struct ds_chain_change ch;
	bool starts;
	uint8_t hist[DS_HASH_LEN];
	rc = load_tip(rt, &tip);
	if (!rc)
		rc = history_for(rt, &tip, parent, parent_hash, pending, npending, hist, why);
	if (!rc)
		rc = child_set(rt, &tip, parent, &ch, &vs, &starts, why);
	if (!rc)
		rc = ds__chain_check_epoch(h, &vs, starts, why);
	if (!rc)
		rc = ds__chain_check_links(h, parent, parent_hash, c->chain_id, &vs, hist, why);
	if (!rc)
		rc = check_exec(rt, &tip, h, parent, why);
	ds_store_read_end(rt);
	if (rc && !*why)
		*why = ds_strerror(rc);
	return rc;
}

/* ---- commit ------------------------------------------------------------- */

struct host_ctx {
	struct ds_rtxn *rt;
};

static int host_get(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **val, size_t *val_len)
{
	struct host_ctx *h = ctx;
	if (key_len == 0 || key_len > DS_STORE_KEY_MAX)
		return DS_ENOTFOUND;
	return ds_store_get(h->rt, DS__T_LATEST, key, key_len, val, val_len);
}

static int host_seen(void *ctx, const uint8_t id[DS_HASH_LEN])
{
	struct host_ctx *h = ctx;
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(h->rt, DS__T_TXIDX, id, DS_HASH_LEN, &v, &vl);
	if (rc == DS_ENOTFOUND)
		return 0;
	return rc ? rc : 1;
}

struct commit_w {
	uint64_t h;
	uint8_t hash[DS_HASH_LEN];
	struct tipv old_tip;
	const uint8_t *blockrec;
	size_t blockrec_len;
	uint8_t hdr[DS_HEADER_MAX];
	size_t hdr_len;
	const struct ds_exec_result *res;
	const struct ds_smt_changeset *cs;
	uint8_t frontier[DS_MERKLE_FRONTIER_ENC_MAX];
	size_t frontier_len;
	uint8_t hist[65][DS_HASH_LEN];
	uint64_t hist_index[65];
	unsigned nhist;
	uint64_t exec_height;
	uint64_t retain;
	uint64_t txs_total;
	const uint8_t *suffix; /* borrowed; written when suffix_len > 0 */
	size_t suffix_len;
	bool starts; /* first block of epoch vs_epoch: store its set and root */
	uint64_t vs_epoch;
	uint8_t vs_enc[DS_VALSET_MAX];
	size_t vs_len;
};

static int prune(struct ds_wtxn *tx, uint64_t keep_from)
{
	struct ds_rtxn *wv = ds_store_wview(tx);
	uint64_t floor = load_u64(wv, DS__T_META, "prune_floor", 11, 0);
	if (keep_from <= floor)
		return 0;
	struct ds_store_cursor *cur;
	int rc = ds_store_cursor_open(&cur, wv, DS__T_STALE, NULL, 0);
	if (rc)
		return rc;
	struct ds_store_kv kv;
	size_t done = 0;
	bool finished = true;
	for (rc = ds_store_cursor_first(cur, &kv); rc == 0; rc = ds_store_cursor_next(cur, &kv)) {
		if (kv.key_len < 9)
			return DS_ECORRUPT;
		if (ds_get_u64be(kv.key) > keep_from)
			break;
		if (done == DS__PRUNE_STEP_MAX) {
			finished = false;
			break;
		}
		uint8_t nk[DS_SMT_NODE_KEY_MAX];
		size_t nkl = kv.key_len - 8;
		if (nkl > sizeof(nk))
			return DS_ECORRUPT;
		memcpy(nk, kv.key + 8, nkl);
		rc = ds_store_cursor_del(cur);
		if (rc)
			return rc;
		rc = ds_store_del(tx, DS__T_NODES, nk, nkl);
		if (rc && rc != DS_ENOTFOUND)
			return rc;
		done++;
	}
	if (rc && rc != DS_ENOTFOUND)
		return rc;
	ds_store_cursor_close(cur);
	if (!finished)
		return 0; /* the rest goes with the next commits */
	uint8_t v[8];
	ds_put_u64be(v, keep_from);
	return ds_store_put(tx, DS__T_META, "prune_floor", 11, v, 8, 0);
}

static int commit_fn(struct ds_wtxn *tx, void *arg)
{
	struct commit_w *w = arg;
	struct ds_rtxn *wv = ds_store_wview(tx);
	struct tipv cur;
	int rc = load_tip(wv, &cur);
	if (rc)
		return rc;
	/* One writer by contract; a concurrent commit would be our bug. */
	if (cur.height != w->old_tip.height || memcmp(cur.hash, w->old_tip.hash, DS_HASH_LEN) != 0)
		return DS_ESTATE;
	uint8_t k8[8], k12[12];
	ds_store_key_u64(k8, w->h);
	if ((rc = ds_store_put(tx, DS__T_BLOCKS, k8, 8, w->blockrec, w->blockrec_len, 0)) ||
	    (rc = ds_store_put(tx, DS__T_HEADERS, k8, 8, w->hdr, w->hdr_len, 0)) ||
	    (rc = ds_store_put(tx, DS__T_HASHES, w->hash, DS_HASH_LEN, k8, 8, DS_STORE_NOOVERWRITE)))
		return rc == DS_EEXIST ? DS_EEXIST : rc;
	const struct ds_exec_result *res = w->res;
	for (uint32_t i = 0; i < res->nreceipts; i++) {
		ds_put_u64be(k12, w->h);
		ds_put_u32be(k12 + 8, i);
		if ((rc = ds_store_put(tx, DS__T_RECEIPTS, k12, 12, res->receipts[i].data,
				       res->receipts[i].len, 0)))
			return rc;
		if (res->accepted[i] &&
		    (rc = ds_store_put(tx, DS__T_TXIDX, res->tx_ids[i], DS_HASH_LEN, k12, 12,
				       DS_STORE_NOOVERWRITE)))
			return rc == DS_EEXIST ? DS_ECORRUPT : rc;
	}
	for (size_t i = 0; i < res->nwrites; i++) {
		const struct ds_exec_write *wr = &res->writes[i];
		if (wr->val) {
			rc = put_value(tx, wr->key, wr->key_len, wr->val, wr->val_len);
		} else {
			rc = ds_store_del(tx, DS__T_LATEST, wr->key, wr->key_len);
			if (rc == DS_ENOTFOUND)
				rc = 0;
		}
		if (rc)
			return rc;
	}
	if ((rc = ds__chain_put_changeset(tx, w->cs)))
		return rc;
	uint8_t roots[2 * DS_HASH_LEN];
	memcpy(roots, w->cs->root, DS_HASH_LEN);
	memcpy(roots + DS_HASH_LEN, res->results_root, DS_HASH_LEN);
	if ((rc = ds_store_put(tx, DS__T_ROOTS, k8, 8, roots, sizeof(roots), 0)))
		return rc;
	uint8_t xk[8];
	ds_store_key_u64(xk, w->exec_height);
	rc = ds_store_put(tx, DS__T_EXECREF, xk, 8, k8, 8, DS_STORE_NOOVERWRITE);
	if (rc && rc != DS_EEXIST)
		return rc;
	if (w->suffix_len &&
	    (rc = ds_store_put(tx, DS__T_SUFFIX, k8, 8, w->suffix, w->suffix_len, 0)))
		return rc;
	if (w->starts) {
		uint8_t ek[8], root[8];
		ds_store_key_u64(ek, w->vs_epoch);
		ds_put_u64be(root, w->h - 1);
		rc = ds_store_put(tx, DS__T_VALSETS, ek, 8, w->vs_enc, w->vs_len, DS_STORE_NOOVERWRITE);
		if (!rc)
			rc = ds_store_put(tx, DS__T_EPOCHROOTS, ek, 8, root, 8, DS_STORE_NOOVERWRITE);
		if (rc)
			return rc == DS_EEXIST ? DS_ECORRUPT : rc;
	}
	for (unsigned l = 0; l < w->nhist; l++) {
		uint8_t hk[9];
		hk[0] = (uint8_t)l;
		ds_put_u64be(hk + 1, w->hist_index[l]);
		if ((rc = ds_store_put(tx, DS__T_HISTORY, hk, 9, w->hist[l], DS_HASH_LEN, 0)))
			return rc;
	}
	if ((rc = ds_store_put(tx, DS__T_META, "frontier", 8, w->frontier, w->frontier_len, 0)))
		return rc;
	uint8_t tip[8 + DS_HASH_LEN + 8];
	ds_put_u64be(tip, w->h);
	memcpy(tip + 8, w->hash, DS_HASH_LEN);
	ds_put_u64be(tip + 8 + DS_HASH_LEN, w->txs_total);
	if ((rc = ds_store_put(tx, DS__T_META, "tip", 3, tip, sizeof(tip), 0)))
		return rc;
	if (w->retain && w->h + 1 > w->retain)
		return prune(tx, w->h + 1 - w->retain);
	return 0;
}

/* New complete subtrees of the history tree when leaf `index` is appended
 * to frontier f (size index): level 0 is the leaf; level l merges the
 * frontier's l-th smallest subtree. */
static void history_levels(struct commit_w *w, const struct ds_merkle_frontier *f,
			   const uint8_t leaf[DS_HASH_LEN])
{
	uint64_t size = f->size + 1;
	unsigned pc = (unsigned)__builtin_popcountll(f->size);
	unsigned tz = (unsigned)__builtin_ctzll(size);
	memcpy(w->hist[0], leaf, DS_HASH_LEN);
	w->hist_index[0] = f->size;
	for (unsigned l = 1; l <= tz; l++) {
		ds_merkle_node_hash(w->hist[l], f->hashes[pc - l], w->hist[l - 1]);
		w->hist_index[l] = (size >> l) - 1;
	}
	w->nhist = tz + 1;
}

int ds_chain_commit(struct ds_chain *c, const uint8_t *block, size_t block_len,
		    const struct ds_qc *qc, const bool *preverified)
{
	return ds_chain_commit_end(c, block, block_len, qc, preverified, NULL, 0);
}

static void refused(uint64_t h, const char *why, int rc)
{
	DS_LOGW("chain", "block refused", " height=%llu why=\"%s\"", (unsigned long long)h,
		why ? why : ds_strerror(rc));
}

int ds_chain_commit_end(struct ds_chain *c, const uint8_t *block, size_t block_len,
			const struct ds_qc *qc, const bool *preverified, const uint8_t *suffix,
			size_t suffix_len)
{
	if (!block || block_len > DS_BLOCK_MAX || !qc || (suffix_len && !suffix) ||
	    suffix_len > (size_t)DS_CHAIN_SUFFIX_MAX * (DS_HEADER_MAX + 2))
		return DS_EINVAL;
	struct ds_block b;
	int rc = ds_block_decode(&b, block, block_len);
	if (rc)
		return rc;
	if (b.header.tx_count > c->params.block_txs_max)
		return DS_ETOOBIG;
	struct commit_w *w = calloc(1, sizeof(*w));
	uint8_t *qcbuf = malloc(DS_QC_MAX);
	uint8_t *rec = NULL;
	struct ds_exec_result res;
	memset(&res, 0, sizeof(res));
	struct ds_smt_changeset cs;
	memset(&cs, 0, sizeof(cs));
	struct ds_smt_op *ops = NULL;
	struct ds_rtxn *rt = NULL;
	if (!w || !qcbuf) {
		rc = DS_ENOMEM;
		goto fail;
	}
	w->h = b.header.height;
	rc = ds_header_hash(w->hash, &b.header);
	if (rc)
		goto fail;
	rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		goto fail;
	rc = load_tip(rt, &w->old_tip);
	if (rc)
		goto fail;
	struct ds_header parent;
	rc = load_header(rt, w->old_tip.height, &parent);
	if (rc)
		goto fail;
	if (b.header.height != w->old_tip.height + 1) {
		rc = b.header.height <= w->old_tip.height ? DS_EEXIST : DS_EINVAL;
		goto fail;
	}
	struct ds_merkle_frontier f;
	rc = load_frontier(rt, &f);
	if (rc)
		goto fail;
	if (f.size != w->h) {
		rc = DS_ECORRUPT;
		goto fail;
	}
	uint8_t hist_root[DS_HASH_LEN];
	ds_merkle_frontier_root(hist_root, &f);
	/* The epoch rule on the state after the tip (= after h-1). */
	struct ds_valset vs;
	struct ds_chain_change ch;
	const char *why = NULL;
	rc = child_set(rt, &w->old_tip, &parent, &ch, &vs, &w->starts, &why);
	if (!rc)
		rc = ds__chain_check_epoch(&b.header, &vs, w->starts, &why);
	if (!rc)
		rc = ds__chain_check_links(&b.header, &parent, w->old_tip.hash, c->chain_id, &vs, hist_root, &why);
	if (!rc)
		rc = check_exec(rt, &w->old_tip, &b.header, &parent, &why);
	if (rc) {
		refused(w->h, why, rc);
		goto fail;
	}
	/* The QC: of the block's epoch, valid for its set, finalising this
	 * block (the first block of an epoch is certified by the new set). */
	if (qc->vote.epoch != b.header.epoch) {
		rc = DS_EINVAL;
		refused(w->h, "QC is not of the block's epoch", rc);
		goto fail;
	}
	if (!ds__chain_qc_names(qc, w->h, w->hash)) {
		rc = DS_EINVAL;
		refused(w->h, "QC does not commit it", rc);
		goto fail;
	}
	rc = ds_qc_verify(qc, &vs, c->chain_id);
	if (rc)
		goto fail;
	/* An epoch end committed by a QC on a suffix block needs the suffix
	 * as its finality evidence; any other block takes none. The change
	 * is decidable here: exec_height <= h-1, the state's height. */
	bool end = ds_chain_past_change(&ch, &b.header);
	if (suffix_len || (end && qc->vote.commit_height > w->h)) {
		why = NULL;
		rc = end ? ds__chain_check_suffix(&b.header, w->hash, qc, suffix, suffix_len, &why) : DS_EINVAL;
		if (rc) {
			refused(w->h, why ? why : "a suffix is given for a block that does not end its epoch", rc);
			goto fail;
		}
		w->suffix = suffix;
		w->suffix_len = suffix_len;
	}
	if (w->starts) {
		DS_ASSERT(vs.epoch == b.header.epoch && b.header.epoch == parent.epoch + 1);
		w->vs_epoch = vs.epoch;
		rc = ds_valset_encode(w->vs_enc, sizeof(w->vs_enc), &w->vs_len, &vs);
		if (rc)
			goto fail;
	}
	size_t qlen;
	rc = ds_qc_encode(qcbuf, DS_QC_MAX, &qlen, qc);
	if (rc)
		goto fail;

	/* Execute against the committed state (the latest table is the tip's). */
	struct host_ctx hc = {rt};
	struct ds_exec_host host = {&hc, host_get, host_seen};
	struct ds_exec_block_info info = {c->chain_id, w->h, b.header.time_ms, c->params.max_tx_lifetime, b.header.epoch};
	rc = ds_exec_block(c->exec, &res, &host, &info, &b, preverified);
	if (rc)
		goto fail;
	ops = calloc(res.nwrites ? res.nwrites : 1, sizeof(*ops));
	if (!ops) {
		rc = DS_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < res.nwrites; i++) {
		ops[i].key = res.writes[i].key;
		ops[i].key_len = res.writes[i].key_len;
		ops[i].value = res.writes[i].val;
		ops[i].value_len = res.writes[i].val_len;
	}
	struct ds_smt_store sst = smt_of(rt);
	rc = ds_smt_update(&cs, &sst, w->h - 1, w->h, ops, res.nwrites);
	if (rc)
		goto fail;
	ds_store_read_end(rt);
	rt = NULL;

	/* Everything the write needs, prepared outside it (it may run twice). */
	size_t rec_len = ds_uvar_len(block_len) + block_len + ds_uvar_len(qlen) + qlen;
	rec = malloc(rec_len);
	if (!rec) {
		rc = DS_ENOMEM;
		goto fail;
	}
	struct ds_enc e;
	ds_enc_init(&e, rec, rec_len);
	ds_enc_bytes(&e, block, block_len);
	ds_enc_bytes(&e, qcbuf, qlen);
	rc = ds_enc_finish(&e, &w->blockrec_len);
	if (rc)
		goto fail;
	w->blockrec = rec;
	rc = ds_header_encode(w->hdr, sizeof(w->hdr), &w->hdr_len, &b.header);
	if (rc)
		goto fail;
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, w->hash, DS_HASH_LEN);
	history_levels(w, &f, leaf);
	rc = ds_merkle_frontier_append(&f, leaf);
	if (rc)
		goto fail;
	DS_ASSERT(memcmp(f.hashes[__builtin_popcountll(f.size) - 1], w->hist[w->nhist - 1], DS_HASH_LEN) == 0);
	rc = ds_merkle_frontier_encode(w->frontier, sizeof(w->frontier), &w->frontier_len, &f);
	if (rc)
		goto fail;
	w->res = &res;
	w->cs = &cs;
	w->exec_height = b.header.exec_height;
	w->retain = c->params.retain_versions;
	w->txs_total = w->old_tip.txs_total + b.header.tx_count;
	rc = ds_store_write(c->st, commit_fn, w);
fail:
	if (rt)
		ds_store_read_end(rt);
	ds_smt_changeset_free(&cs);
	ds_exec_result_free(&res);
	free(ops);
	free(rec);
	free(qcbuf);
	free(w);
	return rc;
}

bool ds_chain_tx_seen(struct ds_chain *c, const uint8_t id[DS_HASH_LEN])
{
	struct ds_rtxn *rt;
	if (ds_store_read_begin(&rt, c->st) != 0)
		return false;
	struct host_ctx hc = {rt};
	int rc = host_seen(&hc, id);
	ds_store_read_end(rt);
	return rc == 1;
}

/* ---- reads -------------------------------------------------------------- */

/* Splits a stored block record; DS_ECORRUPT when malformed. */
static int split_rec(const uint8_t *v, size_t vl, const uint8_t **blk, size_t *bl, const uint8_t **q,
		     size_t *ql)
{
	struct ds_dec d;
	ds_dec_init(&d, v, vl);
	ds_dec_bytes(&d, blk, bl, DS_BLOCK_MAX);
	ds_dec_bytes(&d, q, ql, DS_QC_MAX);
	return ds_dec_finish(&d) ? DS_ECORRUPT : 0;
}

int ds_chain_block(struct ds_chain *c, uint64_t height, struct ds_buf *block, struct ds_buf *qc)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	uint8_t k[8];
	ds_store_key_u64(k, height);
	const uint8_t *v, *bp, *qp;
	size_t vl, bl, ql;
	rc = ds_store_get(rt, DS__T_BLOCKS, k, 8, &v, &vl);
	if (!rc)
		rc = split_rec(v, vl, &bp, &bl, &qp, &ql);
	if (!rc) {
		/* Never hand out what we would refuse from a peer. */
		struct ds_block b;
		if (ds_block_decode(&b, bp, bl) != 0 || b.header.height != height)
			rc = DS_ECORRUPT;
	}
	if (!rc) {
		ds_buf_append(block, bp, bl);
		if (qc)
			ds_buf_append(qc, qp, ql);
		if (block->err || (qc && qc->err))
			rc = DS_ENOMEM;
	}
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_header(struct ds_chain *c, uint64_t height, struct ds_header *h, uint8_t *enc,
		    size_t *enc_len, struct ds_buf *qc)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	const uint8_t *v, *bp, *qp;
	size_t vl, bl, ql;
	rc = get_at(rt, DS__T_HEADERS, height, &v, &vl);
	if (!rc && (vl > DS_HEADER_MAX || ds_header_decode(h, v, vl) != 0 || h->height != height))
		rc = DS_ECORRUPT;
	if (!rc && enc) {
		memcpy(enc, v, vl);
		*enc_len = vl;
	}
	if (!rc && qc) {
		rc = get_at(rt, DS__T_BLOCKS, height, &v, &vl);
		if (rc == DS_ENOTFOUND)
			rc = DS_ECORRUPT; /* a header without its block */
		if (!rc)
			rc = split_rec(v, vl, &bp, &bl, &qp, &ql);
		if (!rc) {
			ds_buf_append(qc, qp, ql);
			if (qc->err)
				rc = DS_ENOMEM;
		}
	}
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_height_of(struct ds_chain *c, const uint8_t hash[DS_HASH_LEN], uint64_t *height)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	const uint8_t *v;
	size_t vl;
	rc = ds_store_get(rt, DS__T_HASHES, hash, DS_HASH_LEN, &v, &vl);
	if (!rc)
		rc = ds_store_key_u64_get(height, v, vl) ? DS_ECORRUPT : 0;
	ds_store_read_end(rt);
	return rc;
}

void ds_chain_txinfo_init(struct ds_chain_txinfo *t)
{
	memset(t, 0, sizeof(*t));
	ds_buf_init(&t->tx);
	ds_buf_init(&t->receipt);
	ds_buf_init(&t->proof);
}

void ds_chain_txinfo_free(struct ds_chain_txinfo *t)
{
	ds_buf_free(&t->tx);
	ds_buf_free(&t->receipt);
	ds_buf_free(&t->proof);
}

/* Appends the RFC 6962 inclusion path of leaf `index` among leaves[0..n)
 * (concatenated hashes, leaf level first): tx and receipt proofs. */
static int append_path(struct ds_buf *out, const uint8_t (*leaves)[DS_HASH_LEN], uint64_t index,
		       uint64_t n)
{
	uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t plen;
	struct ds_merkle_src src = ds_merkle_src_array(leaves);
	int rc = ds_merkle_inclusion_proof(path, &plen, &src, index, n);
	if (rc == 0)
		ds_buf_append(out, path, plen * DS_HASH_LEN);
	return rc;
}

int ds_chain_tx(struct ds_chain *c, const uint8_t id[DS_HASH_LEN], struct ds_chain_txinfo *out)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	uint8_t(*leaves)[DS_HASH_LEN] = NULL;
	const uint8_t *v;
	size_t vl;
	rc = ds_store_get(rt, DS__T_TXIDX, id, DS_HASH_LEN, &v, &vl);
	if (rc)
		goto out;
	if (vl != 12) {
		rc = DS_ECORRUPT;
		goto out;
	}
	uint8_t k12[12];
	memcpy(k12, v, 12);
	out->height = ds_get_u64be(k12);
	out->index = ds_get_u32be(k12 + 8);
	const uint8_t *bp, *qp;
	size_t bl, ql;
	rc = ds_store_get(rt, DS__T_BLOCKS, k12, 8, &v, &vl);
	if (rc) {
		rc = rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
		goto out;
	}
	rc = split_rec(v, vl, &bp, &bl, &qp, &ql);
	if (rc)
		goto out;
	struct ds_block b;
	if (ds_block_decode(&b, bp, bl) != 0 || out->index >= b.header.tx_count) {
		rc = DS_ECORRUPT;
		goto out;
	}
	out->tx_count = b.header.tx_count;
	leaves = malloc((size_t)b.header.tx_count * DS_HASH_LEN);
	if (!leaves) {
		rc = DS_ENOMEM;
		goto out;
	}
	size_t pos = 0;
	const uint8_t *tx;
	size_t txl;
	for (uint32_t i = 0; ds_block_tx_next(&b, &pos, &tx, &txl) == 1; i++) {
		uint8_t tid[DS_HASH_LEN];
		ds_tx_id_body(tid, tx, txl - DS_SIG_LEN);
		ds_merkle_leaf_hash(leaves[i], tid, DS_HASH_LEN);
		if (i == out->index) {
			if (memcmp(tid, id, DS_HASH_LEN) != 0) {
				rc = DS_ECORRUPT;
				goto out;
			}
			ds_buf_append(&out->tx, tx, txl);
		}
	}
	rc = append_path(&out->proof, (const uint8_t(*)[DS_HASH_LEN])leaves, out->index,
			 b.header.tx_count);
	if (rc)
		goto out;
	rc = ds_store_get(rt, DS__T_RECEIPTS, k12, 12, &v, &vl);
	if (rc == 0) {
		out->executed = true;
		ds_buf_append(&out->receipt, v, vl);
	} else if (rc == DS_ENOTFOUND) {
		rc = DS_ECORRUPT; /* executed at commit: a receipt must be there */
		goto out;
	} else {
		goto out;
	}
	if (out->tx.err || out->proof.err || out->receipt.err)
		rc = DS_ENOMEM;
out:
	free(leaves);
	ds_store_read_end(rt);
	return rc;
}

void ds_chain_state_proof_init(struct ds_chain_state_proof *p)
{
	memset(p, 0, sizeof(*p));
	ds_buf_init(&p->value);
	ds_buf_init(&p->proof);
}

void ds_chain_state_proof_free(struct ds_chain_state_proof *p)
{
	ds_buf_free(&p->value);
	ds_buf_free(&p->proof);
}

int ds_chain_state_get(struct ds_chain *c, const uint8_t *key, size_t key_len, uint64_t at_height,
		       struct ds_chain_state_proof *out)
{
	if (!key || key_len == 0 || key_len > DS_EXEC_KEY_MAX)
		return DS_EINVAL;
	struct ds_smt_proof *p = malloc(sizeof(*p));
	uint8_t *enc = malloc(DS_SMT_PROOF_ENC_MAX);
	struct ds_rtxn *rt = NULL;
	int rc = DS_ENOMEM;
	if (!p || !enc)
		goto out;
	rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		goto out;
	struct tipv tip;
	rc = load_tip(rt, &tip);
	if (rc)
		goto out;
	uint64_t ver = at_height == UINT64_MAX ? tip.height : at_height;
	if (ver > tip.height) {
		rc = DS_ERANGE;
		goto out;
	}
	if (ver < load_u64(rt, DS__T_META, "prune_floor", 11, 0)) {
		rc = DS_ENOTFOUND;
		goto out;
	}
	uint8_t rr[DS_HASH_LEN], kh[DS_HASH_LEN];
	rc = load_roots(rt, ver, out->root, rr);
	if (rc)
		goto out;
	ds_sha256(kh, key, key_len);
	struct ds_smt_store sst = smt_of(rt);
	rc = ds_smt_prove(p, &sst, ver, kh);
	if (rc)
		goto out;
	out->version = ver;
	out->found = p->has_leaf && memcmp(p->leaf_kh, kh, DS_HASH_LEN) == 0;
	if (out->found) {
		const uint8_t *v;
		size_t vl;
		rc = ds_store_get(rt, DS__T_VALUES, p->leaf_vh, DS_HASH_LEN, &v, &vl);
		if (rc) {
			rc = rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
			goto out;
		}
		uint8_t vh[DS_HASH_LEN];
		ds_sha256(vh, v, vl);
		if (memcmp(vh, p->leaf_vh, DS_HASH_LEN) != 0) {
			rc = DS_ECORRUPT;
			goto out;
		}
		ds_buf_append(&out->value, v, vl);
	}
	/* The proof must verify against the recorded root: a corrupt node
	 * that still decodes is caught here rather than served. */
	if (ds_smt_verify_hashed(out->root, kh, out->found ? p->leaf_vh : NULL, p) != 0) {
		rc = DS_ECORRUPT;
		goto out;
	}
	uint8_t xk[8];
	ds_store_key_u64(xk, ver);
	out->header_height = load_u64(rt, DS__T_EXECREF, xk, 8, 0);
	size_t n;
	rc = ds_smt_proof_encode(enc, DS_SMT_PROOF_ENC_MAX, &n, p);
	if (rc)
		goto out;
	ds_buf_append(&out->proof, enc, n);
	if (out->proof.err || out->value.err)
		rc = DS_ENOMEM;
out:
	if (rt)
		ds_store_read_end(rt);
	free(p);
	free(enc);
	return rc;
}

int ds_chain_state_value(struct ds_chain *c, const uint8_t *key, size_t key_len, struct ds_buf *value)
{
	if (!key || key_len == 0 || key_len > DS_STORE_KEY_MAX)
		return DS_EINVAL;
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	const uint8_t *v;
	size_t vl;
	rc = ds_store_get(rt, DS__T_LATEST, key, key_len, &v, &vl);
	if (!rc) {
		ds_buf_append(value, v, vl);
		if (value->err)
			rc = DS_ENOMEM;
	}
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_state_scan(struct ds_chain *c, const uint8_t *prefix, size_t prefix_len, size_t max,
			int (*fn)(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl),
			void *arg)
{
	if (prefix_len > DS_STORE_KEY_MAX)
		return DS_EINVAL;
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	struct ds_store_cursor *cur;
	rc = ds_store_cursor_open(&cur, rt, DS__T_LATEST, prefix_len ? prefix : NULL, prefix_len);
	if (rc)
		goto out;
	struct ds_store_kv kv;
	size_t n = 0;
	for (rc = ds_store_cursor_first(cur, &kv); rc == 0 && n < max;
	     rc = ds_store_cursor_next(cur, &kv), n++)
		if (fn(arg, kv.key, kv.key_len, kv.val, kv.val_len) != 0)
			break;
	if (rc == DS_ENOTFOUND)
		rc = 0;
out:
	ds_store_read_end(rt);
	return rc;
}

int ds_chain_exec_roots(struct ds_chain *c, uint64_t h, uint8_t state_root[DS_HASH_LEN],
			uint8_t results_root[DS_HASH_LEN])
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	rc = load_roots(rt, h, state_root, results_root);
	ds_store_read_end(rt);
	return rc;
}

static int hist_leaf(void *ctx, uint64_t i, uint8_t out[DS_HASH_LEN])
{
	uint8_t k[9] = {0};
	ds_put_u64be(k + 1, i);
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(ctx, DS__T_HISTORY, k, 9, &v, &vl);
	if (rc)
		return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	if (vl != DS_HASH_LEN)
		return DS_ECORRUPT;
	memcpy(out, v, DS_HASH_LEN);
	return 0;
}

static int hist_subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[DS_HASH_LEN])
{
	if (level > 63)
		return DS_ENOTFOUND;
	uint8_t k[9];
	k[0] = (uint8_t)level;
	ds_put_u64be(k + 1, index);
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(ctx, DS__T_HISTORY, k, 9, &v, &vl);
	if (rc)
		return rc;
	if (vl != DS_HASH_LEN)
		return DS_ECORRUPT;
	memcpy(out, v, DS_HASH_LEN);
	return 0;
}

int ds_chain_history_proof(struct ds_chain *c, uint64_t old, uint64_t newest, struct ds_buf *proof)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	struct tipv tip;
	rc = load_tip(rt, &tip);
	if (rc)
		goto out;
	if (old >= newest || newest > tip.height) {
		rc = DS_ERANGE;
		goto out;
	}
	struct ds_merkle_src src = {hist_leaf, hist_subtree, rt};
	uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t n;
	rc = ds_merkle_inclusion_proof(path, &n, &src, old, newest);
	if (!rc) {
		ds_buf_append(proof, path, n * DS_HASH_LEN);
		if (proof->err)
			rc = DS_ENOMEM;
	}
out:
	ds_store_read_end(rt);
	return rc;
}

void ds_chain_stats(struct ds_chain *c, struct ds_chain_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct ds_store_stats s;
	if (ds_store_stats(c->st, &s) == 0) {
		out->map_bytes = s.map_size_bytes;
		out->used_bytes = s.used_bytes;
	}
}

/* ---- receipt proofs (PROTOCOL §7.1, §14.7) ---- */

void ds_chain_receipt_proof_init(struct ds_chain_receipt_proof *p)
{
	memset(p, 0, sizeof(*p));
	ds_buf_init(&p->receipt);
	ds_buf_init(&p->proof);
	ds_buf_init(&p->range_proof);
}

void ds_chain_receipt_proof_free(struct ds_chain_receipt_proof *p)
{
	ds_buf_free(&p->receipt);
	ds_buf_free(&p->proof);
	ds_buf_free(&p->range_proof);
}

/* The header C that vouches for block height's results (the first whose
 * exec_height >= height, found through exec_ref), its range and, when C
 * executes several blocks, the path from the block's root to C's range
 * root. header_height stays 0 while no such header is committed. */
static int receipt_carrier(struct ds_rtxn *rt, uint64_t height, struct ds_chain_receipt_proof *out)
{
	struct ds_store_cursor *cur;
	struct ds_store_kv kv;
	uint8_t xk[8];
	ds_store_key_u64(xk, height);
	int rc = ds_store_cursor_open(&cur, rt, DS__T_EXECREF, NULL, 0);
	if (rc)
		return rc;
	rc = ds_store_cursor_seek(cur, xk, 8, &kv);
	uint64_t x = 0, ch = 0;
	if (rc == 0 && (ds_store_key_u64_get(&x, kv.key, kv.key_len) != 0 || kv.val_len != 8))
		rc = DS_ECORRUPT;
	if (rc == 0)
		ch = ds_get_u64be(kv.val);
	ds_store_cursor_close(cur);
	if (rc == DS_ENOTFOUND)
		return 0; /* nothing executes this height yet */
	if (rc)
		return rc;
	struct ds_header hc, hp;
	if (ch == 0 || (rc = load_header(rt, ch, &hc)) != 0 || (rc = load_header(rt, ch - 1, &hp)) != 0 ||
	    hc.exec_height != x || hp.exec_height >= height || hp.exec_height >= x)
		return rc ? rc : DS_ECORRUPT;
	out->header_height = ch;
	out->range_first = hp.exec_height + 1;
	out->range_last = x;
	if (x == out->range_first)
		return memcmp(hc.results_root, out->results_root, DS_HASH_LEN) == 0 ? 0 : DS_ECORRUPT;
	uint64_t n = x - hp.exec_height;
	if (n > SIZE_MAX / DS_HASH_LEN)
		return DS_ENOMEM;
	uint8_t(*br)[DS_HASH_LEN] = malloc((size_t)n * DS_HASH_LEN);
	uint8_t(*leaves)[DS_HASH_LEN] = malloc((size_t)n * DS_HASH_LEN);
	uint8_t root[DS_HASH_LEN];
	rc = br && leaves ? load_block_roots(rt, out->range_first, n, br) : DS_ENOMEM;
	if (!rc)
		rc = ds_results_range_root(root, (const uint8_t(*)[DS_HASH_LEN])br, n);
	if (!rc && memcmp(root, hc.results_root, DS_HASH_LEN) != 0)
		rc = DS_ECORRUPT;
	if (!rc) {
		for (uint64_t i = 0; i < n; i++)
			ds_merkle_leaf_hash(leaves[i], br[i], DS_HASH_LEN);
		rc = append_path(&out->range_proof, (const uint8_t(*)[DS_HASH_LEN])leaves,
				 height - out->range_first, n);
	}
	free(br);
	free(leaves);
	return rc;
}

int ds_chain_receipt_proof(struct ds_chain *c, uint64_t height, uint32_t index,
			   struct ds_chain_receipt_proof *out)
{
	struct ds_rtxn *rt;
	int rc = ds_store_read_begin(&rt, c->st);
	if (rc)
		return rc;
	uint8_t(*leaves)[DS_HASH_LEN] = NULL;
	struct ds_header hd;
	rc = load_header(rt, height, &hd);
	if (rc)
		goto out;
	if (index >= hd.tx_count) {
		rc = DS_ERANGE;
		goto out;
	}
	leaves = malloc((size_t)hd.tx_count * DS_HASH_LEN);
	if (!leaves) {
		rc = DS_ENOMEM;
		goto out;
	}
	uint8_t k12[12];
	ds_put_u64be(k12, height);
	for (uint32_t i = 0; i < hd.tx_count; i++) {
		const uint8_t *v;
		size_t vl;
		ds_put_u32be(k12 + 8, i);
		rc = ds_store_get(rt, DS__T_RECEIPTS, k12, 12, &v, &vl);
		if (rc) {
			rc = rc == DS_ENOTFOUND ? DS_ECORRUPT : rc; /* every tx has one */
			goto out;
		}
		uint8_t rh[DS_HASH_LEN];
		ds_receipt_hash_bytes(rh, v, vl);
		ds_merkle_leaf_hash(leaves[i], rh, DS_HASH_LEN);
		if (i == index)
			ds_buf_append(&out->receipt, v, vl);
	}
	/* Served only if it leads to the recorded root: a corrupt receipt is
	 * caught here, not by the client. */
	uint8_t sr[DS_HASH_LEN], rr[DS_HASH_LEN], root[DS_HASH_LEN];
	rc = load_roots(rt, height, sr, rr);
	if (rc) {
		rc = rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
		goto out;
	}
	ds_merkle_root_array(root, (const uint8_t(*)[DS_HASH_LEN])leaves, hd.tx_count);
	if (memcmp(root, rr, DS_HASH_LEN) != 0) {
		rc = DS_ECORRUPT;
		goto out;
	}
	memcpy(out->results_root, rr, DS_HASH_LEN);
	out->tree_size = hd.tx_count;
	rc = append_path(&out->proof, (const uint8_t(*)[DS_HASH_LEN])leaves, index, hd.tx_count);
	if (rc)
		goto out;
	rc = receipt_carrier(rt, height, out);
	if (rc)
		goto out;
	if (out->receipt.err || out->proof.err || out->range_proof.err)
		rc = DS_ENOMEM;
out:
	free(leaves);
	ds_store_read_end(rt);
	return rc;
}
