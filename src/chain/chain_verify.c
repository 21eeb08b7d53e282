/* chain_verify — verify-chain: re-checks a node home from genesis.
 *
 * Reader threads load each block, decode it (tx root), check its QC against
 * the stored validator set of the QC's epoch and every tx signature; the
 * calling thread derives each block's epoch and set by the epoch rule on the
 * replayed state (and so vouches for each stored set before a QC that used
 * it is accepted), checks links, history and epoch-end suffixes,
 * re-executes into a fresh in-memory state and compares every stored root,
 * receipt and index entry. Items pass through a bounded ring in height
 * order, so the first bad height reported is the lowest. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chain/chain_int.h"
#include "codec/codec.h"
#include "exec/exec_int.h"
#include "exec/exec_sys.h"

#define RING 32
#define READERS 2 /* signature checking dominates: both cores do it */

struct item {
	uint64_t height;
	uint8_t *rec; /* owned copy of the stored block record */
	size_t rec_len;
	struct ds_block b;
	struct ds_qc qc;
	bool *sig_ok;
	int err;
	char why[200];
	int qc_err; /* the QC against its epoch's stored set; judged by the main thread */
};

struct vctx {
	struct ds_store *st;
	struct ds_genesis g;
	uint64_t tip;
	/* Stored validator sets, read before the readers start (sets[e] valid
	 * when set_ok[e]); the replay compares each with the derived one. */
	struct ds_valset *sets;
	bool *set_ok;
	uint64_t nsets;
	struct ds_valset cur; /* derived set of the replayed tip's epoch */
	uint64_t nsuffix;     /* suffix entries checked */
	/* ring */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item ring[RING];
	uint64_t tail; /* heights consumed: slot (h-1) % RING is free once h-1 < tail + RING */
	unsigned next_reader;
	bool ready[RING]; /* under mu */
	bool stop;
	/* replay state */
	struct ds__kvmap state;
	struct ds__kvmap nodes;
	struct ds__kvmap seen;
};

static void fail_at(struct ds_verify_report *rep, uint64_t h, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_at(struct ds_verify_report *rep, uint64_t h, const char *fmt, ...)
{
	rep->bad_height = h;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rep->why, sizeof(rep->why), fmt, ap);
	va_end(ap);
}

/* ---- reader thread ------------------------------------------------------ */

static void load_item(struct vctx *v, struct ds_rtxn *rt, struct item *it, uint8_t *scratch)
{
	uint8_t k[8];
	ds_store_key_u64(k, it->height);
	const uint8_t *val, *bp, *qp;
	size_t vl, bl, ql;
	int rc = ds_store_get(rt, DS__T_BLOCKS, k, 8, &val, &vl);
	if (rc) {
		it->err = rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
		snprintf(it->why, sizeof(it->why), "block missing from the store (%s)", ds_strerror(rc));
		return;
	}
	it->rec = malloc(vl ? vl : 1);
	if (!it->rec) {
		it->err = DS_ENOMEM;
		snprintf(it->why, sizeof(it->why), "out of memory");
		return;
	}
	memcpy(it->rec, val, vl);
	it->rec_len = vl;
	struct ds_dec d;
	ds_dec_init(&d, it->rec, vl);
	ds_dec_bytes(&d, &bp, &bl, DS_BLOCK_MAX);
	ds_dec_bytes(&d, &qp, &ql, DS_QC_MAX);
	if (ds_dec_finish(&d) != 0) {
		it->err = DS_ECORRUPT;
		snprintf(it->why, sizeof(it->why), "stored block record is malformed");
		return;
	}
	rc = ds_block_decode(&it->b, bp, bl);
	if (rc) {
		it->err = DS_ECORRUPT;
		snprintf(it->why, sizeof(it->why),
			 "block does not decode or its tx root is wrong (%s)", ds_strerror(rc));
		return;
	}
	if (it->b.header.height != it->height) {
		it->err = DS_ECORRUPT;
		snprintf(it->why, sizeof(it->why), "block stored at the wrong height");
		return;
	}
	rc = ds_qc_decode(&it->qc, qp, ql);
	if (rc) {
		it->err = DS_ECORRUPT;
		snprintf(it->why, sizeof(it->why), "QC does not decode (%s)", ds_strerror(rc));
		return;
	}
	uint64_t qe = it->qc.vote.epoch;
	it->qc_err = qe < v->nsets && v->set_ok[qe] ? ds_qc_verify(&it->qc, &v->sets[qe], v->g.chain_id)
						    : DS_ENOTFOUND;
	uint32_t n = it->b.header.tx_count;
	it->sig_ok = calloc(n ? n : 1, sizeof(bool));
	if (!it->sig_ok) {
		it->err = DS_ENOMEM;
		snprintf(it->why, sizeof(it->why), "out of memory");
		return;
	}
	size_t pos = 0;
	const uint8_t *tx;
	size_t txl;
	for (uint32_t i = 0; ds_block_tx_next(&it->b, &pos, &tx, &txl) == 1; i++) {
		struct ds_tx t;
		if (ds_tx_decode(&t, tx, txl) == 0)
			it->sig_ok[i] = ds_tx_verify(&t, scratch, DS_TX_SCRATCH_LEN) == 0;
	}
}

/* Reader k loads heights h with (h - 1) % READERS == k, so the readers share
 * the signature work; the ring keeps them at most RING heights ahead. */
static void *reader(void *arg)
{
	struct vctx *v = arg;
	pthread_mutex_lock(&v->mu);
	unsigned k = v->next_reader++;
	pthread_mutex_unlock(&v->mu);
	uint8_t *scratch = malloc(DS_TX_SCRATCH_LEN);
	struct ds_rtxn *rt = NULL;
	int rc = scratch ? ds_store_read_begin(&rt, v->st) : DS_ENOMEM;
	for (uint64_t h = 1 + k; h <= v->tip; h += READERS) {
		pthread_mutex_lock(&v->mu);
		while (!v->stop && h - 1 >= v->tail + RING)
			pthread_cond_wait(&v->cv, &v->mu);
		bool stop = v->stop;
		pthread_mutex_unlock(&v->mu);
		if (stop)
			break;
		struct item *it = &v->ring[(h - 1) % RING];
		memset(it, 0, sizeof(*it));
		it->height = h;
		if (rc) {
			it->err = rc;
			snprintf(it->why, sizeof(it->why), "cannot read the store (%s)", ds_strerror(rc));
		} else {
			load_item(v, rt, it, scratch);
		}
		pthread_mutex_lock(&v->mu);
		v->ready[(h - 1) % RING] = true;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
	}
	if (rt)
		ds_store_read_end(rt);
	free(scratch);
	return NULL;
}

/* ---- replay ------------------------------------------------------------ */

/* The host's ctx is the whole struct vctx: values from v->state, committed
 * tx ids from v->seen. */
static int st_get(void *ctx, const uint8_t *key, size_t kl, const uint8_t **val, size_t *vl)
{
	struct vctx *v = ctx;
	struct ds__kvent *e = ds__kvmap_get(&v->state, key, kl);
	if (!e)
		return DS_ENOTFOUND;
	*val = e->val;
	*vl = e->val_len;
	return 0;
}

static int st_seen(void *ctx, const uint8_t id[DS_HASH_LEN])
{
	struct vctx *v = ctx;
	return ds__kvmap_get(&v->seen, id, DS_HASH_LEN) ? 1 : 0;
}

static int node_get(void *ctx, const uint8_t *key, size_t kl, uint8_t *out, size_t cap, size_t *len)
{
	struct ds__kvent *e = ds__kvmap_get(ctx, key, kl);
	if (!e)
		return DS_ENOTFOUND;
	if (e->val_len > cap)
		return DS_ECORRUPT;
	memcpy(out, e->val, e->val_len);
	*len = e->val_len;
	return 0;
}

/* Keeps only the newest version's nodes: stale ones go at once. */
static int apply_cs(struct ds__kvmap *nodes, const struct ds_smt_changeset *cs)
{
	for (size_t i = 0; i < cs->n_stale; i++)
		ds__kvmap_remove(nodes, cs->stale[i].key, cs->stale[i].key_len);
	for (size_t i = 0; i < cs->n_nodes; i++) {
		int rc = ds__kvmap_set(nodes, cs->nodes[i].key, cs->nodes[i].key_len,
				       ds_smt_changeset_val(cs, i), cs->nodes[i].val_len, false);
		if (rc)
			return rc;
	}
	return 0;
}

static int get_exact(struct ds_rtxn *rt, unsigned t, const void *k, size_t kl, const void *want,
		     size_t wl)
{
	const uint8_t *v;
	size_t vl;
	int rc = ds_store_get(rt, t, k, kl, &v, &vl);
	if (rc)
		return rc;
	return (vl == wl && memcmp(v, want, wl) == 0) ? 0 : DS_ECORRUPT;
}

struct roots {
	uint8_t s[DS_HASH_LEN], r[DS_HASH_LEN];
};

/* ds_results_root_for's getter (PROTOCOL §5.3): a block's re-executed
 * results root. */
static int replayed_results_root(void *ctx, uint64_t h, uint8_t out[DS_HASH_LEN])
{
	const struct roots *roots = ctx;
	memcpy(out, roots[h].r, DS_HASH_LEN);
	return 0;
}

static int check_block(struct vctx *v, struct ds_rtxn *rt, struct ds_exec *ex, struct item *it,
		       struct ds_header *prev, uint8_t prev_hash[DS_HASH_LEN],
		       struct ds_merkle_frontier *fr, struct roots **roots, size_t *roots_cap,
		       struct ds_verify_report *rep)
{
	uint64_t h = it->height;
	const struct ds_header *hd = &it->b.header;
	if (it->err) {
		fail_at(rep, h, "%s", it->why);
		return it->err;
	}
	uint8_t hash[DS_HASH_LEN];
	int rc = ds_header_hash(hash, hd);
	if (rc) {
		fail_at(rep, h, "header does not hash");
		return DS_ECORRUPT;
	}
	uint8_t hist[DS_HASH_LEN];
	ds_merkle_frontier_root(hist, fr);
	const char *why;
	/* The epoch rule on the state after h-1 (the replay's). */
	struct ds_chain_change ch;
	memset(&ch, 0, sizeof(ch));
	struct ds__kvent *ce = ds__kvmap_get(&v->state, (const uint8_t *)DS_EXEC_SYS_VALSET_NEXT_KEY,
					     sizeof(DS_EXEC_SYS_VALSET_NEXT_KEY) - 1);
	if (ce && ds__chain_change_parse(&ch, ce->val, ce->val_len) != 0) {
		fail_at(rep, h, "the pending validator change in the replayed state does not parse");
		return DS_ECORRUPT;
	}
	struct ds_valset vs;
	bool starts;
	ds__chain_child_set(&vs, &starts, &ch, prev, &v->cur);
	rc = ds__chain_check_epoch(hd, &vs, starts, &why);
	if (!rc)
		rc = ds__chain_check_links(hd, prev, prev_hash, v->g.chain_id, &vs, hist, &why);
	if (rc) {
		fail_at(rep, h, "%s", why);
		return DS_ECORRUPT;
	}
	uint8_t k8[8];
	ds_store_key_u64(k8, h);
	if (starts) {
		uint8_t enc[DS_VALSET_MAX], ek[8], root[8];
		size_t n;
		ds_store_key_u64(ek, vs.epoch);
		if (ds_valset_encode(enc, sizeof(enc), &n, &vs) != 0 ||
		    get_exact(rt, DS__T_VALSETS, ek, 8, enc, n) != 0) {
			fail_at(rep, h, "stored validator set of epoch %llu differs from the change that started it",
				(unsigned long long)vs.epoch);
			return DS_ECORRUPT;
		}
		ds_put_u64be(root, h - 1);
		if (get_exact(rt, DS__T_EPOCHROOTS, ek, 8, root, 8) != 0) {
			fail_at(rep, h, "stored root of epoch %llu missing or wrong",
				(unsigned long long)vs.epoch);
			return DS_ECORRUPT;
		}
	}
	if (hd->tx_count > v->g.params.block_txs_max) {
		fail_at(rep, h, "more transactions than block_txs_max");
		return DS_ECORRUPT;
	}
	struct roots *x = &(*roots)[hd->exec_height];
	if (memcmp(x->s, hd->state_root, DS_HASH_LEN) != 0) {
		fail_at(rep, h, "header state root differs from re-execution of height %llu",
			(unsigned long long)hd->exec_height);
		return DS_ECORRUPT;
	}
	if (hd->exec_height < prev->exec_height) {
		fail_at(rep, h, "exec height below the parent's");
		return DS_ECORRUPT;
	}
	uint8_t want_r[DS_HASH_LEN];
	if ((rc = ds_results_root_for(want_r, prev->exec_height, hd->exec_height, replayed_results_root,
				       *roots)) != 0) {
		fail_at(rep, h, "out of memory");
		return rc;
	}
	if (memcmp(want_r, hd->results_root, DS_HASH_LEN) != 0) {
		fail_at(rep, h, "header results root differs from re-execution of heights %llu..%llu",
			(unsigned long long)(hd->exec_height > prev->exec_height ? prev->exec_height + 1
										  : hd->exec_height),
			(unsigned long long)hd->exec_height);
		return DS_ECORRUPT;
	}
	if (it->qc.vote.epoch != hd->epoch) {
		fail_at(rep, h, "QC epoch %llu is not the block's epoch %llu",
			(unsigned long long)it->qc.vote.epoch, (unsigned long long)hd->epoch);
		return DS_ECORRUPT;
	}
	if (it->qc_err) {
		fail_at(rep, h, "QC does not verify (%s)", ds_strerror(it->qc_err));
		return DS_ECORRUPT;
	}
	if (!ds__chain_qc_names(&it->qc, h, hash)) {
		fail_at(rep, h, "QC does not commit this block");
		return DS_ECORRUPT;
	}
	{
		/* An epoch end committed by a QC on a suffix block: its suffix. */
		const uint8_t *sv;
		size_t sl;
		rc = ds_store_get(rt, DS__T_SUFFIX, k8, 8, &sv, &sl);
		if (rc && rc != DS_ENOTFOUND) {
			fail_at(rep, h, "cannot read the suffix table (%s)", ds_strerror(rc));
			return rc;
		}
		bool need = ds_chain_past_change(&ch, hd) && it->qc.vote.commit_height > h;
		if (need && rc) {
			fail_at(rep, h, "epoch end committed by a suffix block but no suffix is stored");
			return DS_ECORRUPT;
		}
		if (!need && !rc) {
			fail_at(rep, h, "a suffix is stored for a block that needs none");
			return DS_ECORRUPT;
		}
		if (need && ds__chain_check_suffix(hd, hash, &it->qc, sv, sl, &why) != 0) {
			fail_at(rep, h, "stored suffix: %s", why);
			return DS_ECORRUPT;
		}
		v->nsuffix += need;
	}
	{
		uint8_t enc[DS_HEADER_MAX];
		size_t n;
		if (ds_header_encode(enc, sizeof(enc), &n, hd) != 0 ||
		    get_exact(rt, DS__T_HEADERS, k8, 8, enc, n) != 0) {
			fail_at(rep, h, "stored header differs from the block's");
			return DS_ECORRUPT;
		}
		if (get_exact(rt, DS__T_HASHES, hash, DS_HASH_LEN, k8, 8) != 0) {
			fail_at(rep, h, "block hash index entry missing or wrong");
			return DS_ECORRUPT;
		}
	}
	/* Re-execute. */
	struct ds_exec_host host = {v, st_get, st_seen};
	struct ds_exec_block_info info = {v->g.chain_id, h, hd->time_ms, v->g.params.max_tx_lifetime, hd->epoch};
	struct ds_exec_result res;
	rc = ds_exec_block(ex, &res, &host, &info, &it->b, it->sig_ok);
	if (rc) {
		fail_at(rep, h, "re-execution failed (%s)", ds_strerror(rc));
		return rc;
	}
	struct ds_smt_op *ops = calloc(res.nwrites ? res.nwrites : 1, sizeof(*ops));
	struct ds_smt_changeset cs;
	memset(&cs, 0, sizeof(cs));
	if (!ops) {
		rc = DS_ENOMEM;
		fail_at(rep, h, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < res.nwrites; i++) {
		ops[i].key = res.writes[i].key;
		ops[i].key_len = res.writes[i].key_len;
		ops[i].value = res.writes[i].val;
		ops[i].value_len = res.writes[i].val_len;
	}
	struct ds_smt_store ms = {node_get, &v->nodes};
	rc = ds_smt_update(&cs, &ms, h - 1, h, ops, res.nwrites);
	if (!rc)
		rc = apply_cs(&v->nodes, &cs);
	for (size_t i = 0; !rc && i < res.nwrites; i++) {
		const struct ds_exec_write *w = &res.writes[i];
		if (w->val)
			rc = ds__kvmap_set(&v->state, w->key, w->key_len, w->val, w->val_len, false);
		else
			ds__kvmap_remove(&v->state, w->key, w->key_len);
	}
	for (size_t i = 0; !rc && i < res.nreceipts; i++)
		if (res.accepted[i])
			rc = ds__kvmap_set(&v->seen, res.tx_ids[i], DS_HASH_LEN, NULL, 0, false);
	if (rc) {
		fail_at(rep, h, "replay failed (%s)", ds_strerror(rc));
		goto out;
	}
	if (h >= *roots_cap) {
		size_t nc = *roots_cap * 2;
		struct roots *nr = realloc(*roots, nc * sizeof(*nr));
		if (!nr) {
			rc = DS_ENOMEM;
			fail_at(rep, h, "out of memory");
			goto out;
		}
		*roots = nr;
		*roots_cap = nc;
	}
	memcpy((*roots)[h].s, cs.root, DS_HASH_LEN);
	memcpy((*roots)[h].r, res.results_root, DS_HASH_LEN);
	/* Receipts first: a receipt that differs says which transaction. */
	rc = DS_ECORRUPT;
	for (uint32_t i = 0; i < res.nreceipts; i++) {
		uint8_t k12[12];
		ds_put_u64be(k12, h);
		ds_put_u32be(k12 + 8, i);
		if (get_exact(rt, DS__T_RECEIPTS, k12, 12, res.receipts[i].data, res.receipts[i].len)) {
			fail_at(rep, h, "stored receipt of tx %u differs from re-execution", i);
			goto out;
		}
		if (res.accepted[i] && get_exact(rt, DS__T_TXIDX, res.tx_ids[i], DS_HASH_LEN, k12, 12)) {
			fail_at(rep, h, "tx index entry of tx %u missing or wrong", i);
			goto out;
		}
	}
	if (get_exact(rt, DS__T_ROOTS, k8, 8, &(*roots)[h], 2 * DS_HASH_LEN) != 0) {
		fail_at(rep, h, "stored state/results roots differ from re-execution");
		goto out;
	}
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, hash, DS_HASH_LEN);
	if (ds_merkle_frontier_append(fr, leaf) != 0)
		goto out;
	*prev = *hd;
	memcpy(prev_hash, hash, DS_HASH_LEN);
	if (starts)
		v->cur = vs;
	rep->txs += hd->tx_count;
	rc = 0;
out:
	ds_smt_changeset_free(&cs);
	free(ops);
	ds_exec_result_free(&res);
	return rc;
}

static int count_table(struct ds_rtxn *rt, unsigned t, size_t *n)
{
	*n = 0;
	struct ds_store_cursor *cur;
	int rc = ds_store_cursor_open(&cur, rt, t, NULL, 0);
	if (rc)
		return rc;
	struct ds_store_kv kv;
	for (rc = ds_store_cursor_first(cur, &kv); rc == 0; rc = ds_store_cursor_next(cur, &kv))
		(*n)++;
	ds_store_cursor_close(cur);
	return rc == DS_ENOTFOUND ? 0 : rc;
}

/* After the last block: the tables that hold "now" must equal the replay. */
static int check_final(struct vctx *v, struct ds_rtxn *rt, const uint8_t tip_hash[DS_HASH_LEN],
		       const struct ds_merkle_frontier *fr, struct ds_verify_report *rep)
{
	uint64_t h = v->tip;
	uint8_t tip[8 + DS_HASH_LEN + 8];
	ds_put_u64be(tip, h);
	memcpy(tip + 8, tip_hash, DS_HASH_LEN);
	ds_put_u64be(tip + 8 + DS_HASH_LEN, rep->txs);
	if (get_exact(rt, DS__T_META, "tip", 3, tip, sizeof(tip))) {
		fail_at(rep, h, "tip record (hash or transaction count) is wrong");
		return DS_ECORRUPT;
	}
	uint8_t fe[DS_MERKLE_FRONTIER_ENC_MAX];
	size_t fl;
	if (ds_merkle_frontier_encode(fe, sizeof(fe), &fl, fr) ||
	    get_exact(rt, DS__T_META, "frontier", 8, fe, fl)) {
		fail_at(rep, h, "stored history frontier is wrong");
		return DS_ECORRUPT;
	}
	/* Latest values: same set, same bytes, each also in the values table. */
	struct ds_store_cursor *cur;
	int rc = ds_store_cursor_open(&cur, rt, DS__T_LATEST, NULL, 0);
	if (rc)
		return rc;
	struct ds_store_kv kv;
	size_t n = 0;
	for (rc = ds_store_cursor_first(cur, &kv); rc == 0; rc = ds_store_cursor_next(cur, &kv), n++) {
		struct ds__kvent *e = ds__kvmap_get(&v->state, kv.key, kv.key_len);
		if (!e || e->val_len != kv.val_len || memcmp(e->val, kv.val, kv.val_len) != 0) {
			fail_at(rep, h, "latest state value differs from re-execution (key of %zu bytes)",
				kv.key_len);
			return DS_ECORRUPT;
		}
		uint8_t vh[DS_HASH_LEN];
		ds_sha256(vh, kv.val, kv.val_len);
		if (get_exact(rt, DS__T_VALUES, vh, DS_HASH_LEN, kv.val, kv.val_len)) {
			fail_at(rep, h, "state value missing or wrong in the values table");
			return DS_ECORRUPT;
		}
	}
	if (rc != DS_ENOTFOUND)
		return rc;
	ds_store_cursor_close(cur);
	if (n != v->state.n) {
		fail_at(rep, h, "latest state holds %zu keys, re-execution %zu", n, v->state.n);
		return DS_ECORRUPT;
	}
	/* Epoch tables hold exactly what the replay vouched for: sets and
	 * roots of epochs 0..now (0's root implicit), the suffixes checked. */
	size_t nsets, nroots, nsuffix;
	if ((rc = count_table(rt, DS__T_VALSETS, &nsets)) != 0 ||
	    (rc = count_table(rt, DS__T_EPOCHROOTS, &nroots)) != 0 ||
	    (rc = count_table(rt, DS__T_SUFFIX, &nsuffix)) != 0)
		return rc;
	if (nsets != v->cur.epoch + 1 || nroots != v->cur.epoch || nsuffix != v->nsuffix) {
		fail_at(rep, h, "epoch tables hold entries the chain does not explain");
		return DS_ECORRUPT;
	}
	/* Every state-tree node live at the tip, byte for byte. */
	for (size_t i = 0; i < v->nodes.cap; i++) {
		struct ds__kvent *e = v->nodes.slots[i];
		if (e && get_exact(rt, DS__T_NODES, e->data, e->key_len, e->val, e->val_len)) {
			fail_at(rep, h, "state tree node missing or corrupt");
			return DS_ECORRUPT;
		}
	}
	return 0;
}

/* Reads every stored validator set (epochs 0, 1, ... while contiguous) for
 * the readers; one that does not decode is kept as not ok, and the replay
 * reports it where its epoch starts. */
static int load_sets(struct vctx *v, struct ds_rtxn *rt)
{
	struct ds_store_cursor *cur;
	int rc = ds_store_cursor_open(&cur, rt, DS__T_VALSETS, NULL, 0);
	if (rc)
		return rc;
	struct ds_store_kv kv;
	uint64_t cap = 0;
	for (rc = ds_store_cursor_first(cur, &kv); rc == 0; rc = ds_store_cursor_next(cur, &kv)) {
		if (kv.key_len != 8 || ds_get_u64be(kv.key) != v->nsets)
			break;
		if (v->nsets == cap) {
			cap = cap ? cap * 2 : 4;
			struct ds_valset *ns = realloc(v->sets, cap * sizeof(*ns));
			if (ns)
				v->sets = ns;
			bool *no = realloc(v->set_ok, cap * sizeof(*no));
			if (no)
				v->set_ok = no;
			if (!ns || !no) {
				rc = DS_ENOMEM;
				break;
			}
		}
		struct ds_valset *vs = &v->sets[v->nsets];
		v->set_ok[v->nsets] = ds_valset_decode(vs, kv.val, kv.val_len) == 0 && vs->epoch == v->nsets;
		v->nsets++;
	}
	ds_store_cursor_close(cur);
	return rc == DS_ENOTFOUND ? 0 : rc;
}

static int verify_genesis(struct vctx *v, struct ds_rtxn *rt, struct ds_header *g0,
			  uint8_t g0hash[DS_HASH_LEN], struct ds_verify_report *rep)
{
	struct ds_smt_changeset cs;
	int rc = ds__chain_genesis_build(&v->g, g0, g0hash, &cs);
	if (rc) {
		ds_smt_changeset_free(&cs);
		fail_at(rep, 0, "stored genesis is invalid (%s)", ds_strerror(rc));
		return DS_ECORRUPT;
	}
	rc = DS_ECORRUPT;
	uint8_t k8[8] = {0}, enc[DS_HEADER_MAX];
	size_t n;
	if (get_exact(rt, DS__T_META, "genesis_hash", 12, g0hash, DS_HASH_LEN)) {
		fail_at(rep, 0, "genesis hash does not match the stored genesis");
		goto out;
	}
	if (ds_header_encode(enc, sizeof(enc), &n, g0) || get_exact(rt, DS__T_HEADERS, k8, 8, enc, n)) {
		fail_at(rep, 0, "stored genesis header differs from the genesis");
		goto out;
	}
	{
		uint8_t vse[DS_VALSET_MAX];
		if (ds_valset_encode(vse, sizeof(vse), &n, &v->g.valset) ||
		    get_exact(rt, DS__T_VALSETS, k8, 8, vse, n)) {
			fail_at(rep, 0, "stored validator set of epoch 0 differs from the genesis");
			goto out;
		}
	}
	v->cur = v->g.valset;
	rc = apply_cs(&v->nodes, &cs);
	for (size_t i = 0; !rc && i < v->g.nstate; i++)
		rc = ds__kvmap_set(&v->state, v->g.state[i].key, v->g.state[i].key_len,
				   v->g.state[i].val, v->g.state[i].val_len, false);
	uint8_t params[64];
	if (!rc)
		rc = ds__chain_params_value(params, sizeof(params), &n, &v->g.params);
	if (!rc)
		rc = ds__kvmap_set(&v->state, (const uint8_t *)DS__PARAMS_KEY,
				   sizeof(DS__PARAMS_KEY) - 1, params, n, false);
	if (rc)
		fail_at(rep, 0, "replay of genesis failed (%s)", ds_strerror(rc));
out:
	ds_smt_changeset_free(&cs);
	return rc;
}

int ds_chain_verify(const char *home, struct ds_verify_report *rep,
		    void (*progress)(void *arg, uint64_t h, uint64_t tip), void *arg)
{
	memset(rep, 0, sizeof(*rep));
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s/data", home) >= (int)sizeof(dir))
		return DS_EINVAL;
	struct vctx *v = calloc(1, sizeof(*v));
	if (!v)
		return DS_ENOMEM;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	ds__kvmap_init(&v->state);
	ds__kvmap_init(&v->nodes);
	ds__kvmap_init(&v->seen);
	struct ds_kv *owned = NULL;
	uint8_t *grec = NULL;
	struct ds_exec *ex = NULL;
	struct ds_rtxn *rt = NULL;
	struct roots *roots = NULL;
	size_t roots_cap = 1024;
	unsigned started = 0;
	pthread_t thr[READERS];
	struct ds_store_opts so = {.tables = ds__chain_tables, .tables_len = DS__T_COUNT};
	int rc = ds_store_open(&v->st, dir, &so);
	if (rc) {
		snprintf(rep->why, sizeof(rep->why), "cannot open %.200s: %s", dir, ds_strerror(rc));
		goto out;
	}
	rc = ds_store_read_begin(&rt, v->st);
	if (rc)
		goto out;
	const uint8_t *val;
	size_t vl;
	rc = ds_store_get(rt, DS__T_META, "genesis", 7, &val, &vl);
	if (rc) {
		snprintf(rep->why, sizeof(rep->why), "no genesis in %.200s: not a node home", dir);
		rc = rc == DS_ENOTFOUND ? DS_ENOTFOUND : rc;
		goto out;
	}
	grec = malloc(vl ? vl : 1);
	if (!grec) {
		rc = DS_ENOMEM;
		goto out;
	}
	memcpy(grec, val, vl);
	rc = ds__chain_genesis_decode(&v->g, &owned, grec, vl);
	if (rc) {
		fail_at(rep, 0, "stored genesis record is malformed (%s)", ds_strerror(rc));
		rc = DS_ECORRUPT;
		goto out;
	}
	rc = ds_store_get(rt, DS__T_META, "tip", 3, &val, &vl);
	if (rc || vl != 8 + DS_HASH_LEN + 8) {
		fail_at(rep, 0, "tip record missing or malformed");
		rc = DS_ECORRUPT;
		goto out;
	}
	v->tip = ds_get_u64be(val);
	const struct ds_exec_module *mods;
	size_t nmods;
	int (*authorize)(struct ds_exec_call *);
	ds__chain_modules(&mods, &nmods, &authorize);
	rc = ds_exec_new(&ex, mods, nmods);
	if (rc)
		goto out;
	if (authorize)
		ds_exec_set_authorizer(ex, authorize);
	roots = malloc(roots_cap * sizeof(*roots));
	if (!roots) {
		rc = DS_ENOMEM;
		goto out;
	}
	struct ds_header prev;
	uint8_t prev_hash[DS_HASH_LEN];
	rc = verify_genesis(v, rt, &prev, prev_hash, rep);
	if (rc)
		goto out;
	rc = load_sets(v, rt);
	if (rc)
		goto out;
	memcpy(roots[0].s, prev.state_root, DS_HASH_LEN);
	ds_merkle_empty_root(roots[0].r);
	if (get_exact(rt, DS__T_ROOTS, (uint8_t[8]){0}, 8, &roots[0], 2 * DS_HASH_LEN)) {
		fail_at(rep, 0, "stored genesis roots are wrong");
		rc = DS_ECORRUPT;
		goto out;
	}
	struct ds_merkle_frontier fr;
	ds_merkle_frontier_init(&fr);
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, prev_hash, DS_HASH_LEN);
	rc = ds_merkle_frontier_append(&fr, leaf);
	if (rc)
		goto out;
	rep->blocks = 1;
	for (; started < READERS; started++) {
		if (pthread_create(&thr[started], NULL, reader, v) != 0) {
			rc = DS_ENOMEM;
			goto out;
		}
	}
	uint64_t last_ms = 0;
	for (uint64_t h = 1; h <= v->tip; h++) {
		pthread_mutex_lock(&v->mu);
		struct item *it = &v->ring[(h - 1) % RING];
		while (!v->ready[(h - 1) % RING])
			pthread_cond_wait(&v->cv, &v->mu);
		pthread_mutex_unlock(&v->mu);
		DS_ASSERT(it->height == h);
		rc = check_block(v, rt, ex, it, &prev, prev_hash, &fr, &roots, &roots_cap, rep);
		free(it->rec);
		free(it->sig_ok);
		pthread_mutex_lock(&v->mu);
		v->ready[(h - 1) % RING] = false;
		v->tail++;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		if (rc)
			goto out;
		rep->blocks++;
		/* Nodes stale since a version <= h are gone already (apply_cs). */
		if (progress) {
			uint64_t now = ds_mono_ns() / 1000000;
			if (now - last_ms >= 250 || h == v->tip) {
				last_ms = now;
				progress(arg, h, v->tip);
			}
		}
	}
	rc = check_final(v, rt, prev_hash, &fr, rep);
out:
	if (started) {
		pthread_mutex_lock(&v->mu);
		v->stop = true;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		for (unsigned i = 0; i < started; i++)
			pthread_join(thr[i], NULL);
		for (size_t i = 0; i < RING; i++) {
			if (v->ready[i]) {
				free(v->ring[i].rec);
				free(v->ring[i].sig_ok);
			}
		}
	}
	if (rc && !rep->why[0])
		snprintf(rep->why, sizeof(rep->why), "%s", ds_strerror(rc));
	if (rt)
		ds_store_read_end(rt);
	ds_store_close(v->st);
	ds_exec_free(ex);
	free(roots);
	free(v->sets);
	free(v->set_ok);
	free(owned);
	free(grec);
	ds__kvmap_free(&v->state);
	ds__kvmap_free(&v->nodes);
	ds__kvmap_free(&v->seen);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cv);
	free(v);
	return rc;
}
