/* chain_genesis — the genesis record, header and initial state, and the
 * header link rules shared by commit, check_header and verify-chain. */
#include <string.h>

#include "chain/chain_int.h"
#include "codec/codec.h"
#include "exec/exec_sys.h"

const char *const ds__chain_tables[DS__T_COUNT] = {
	"meta",     "blocks",   "headers", "block_hash", "tx_index", "smt_nodes", "smt_stale",
	"latest",   "values",   "receipts", "roots",    "history",  "valsets",   "exec_ref",
	"suffix",   "epoch_roots",
};

static const struct ds_exec_module *g_mods = &ds_exec_kv_module;
static size_t g_nmods = 1;
static int (*g_authorize)(struct ds_exec_call *call);

void ds_chain_set_modules(const struct ds_exec_module *mods, size_t nmods,
			  int (*authorize)(struct ds_exec_call *call))
{
	g_mods = mods;
	g_nmods = nmods;
	g_authorize = authorize;
}

void ds__chain_modules(const struct ds_exec_module **mods, size_t *n,
		       int (**authorize)(struct ds_exec_call *call))
{
	*mods = g_mods;
	*n = g_nmods;
	*authorize = g_authorize;
}

int ds__chain_params_value(uint8_t *out, size_t cap, size_t *len, const struct ds_chain_params *p)
{
	if (p->max_tx_lifetime > INT64_MAX)
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_value_enc_map(&e, 2);
	ds_value_enc_key(&e, "block_txs_max", 13);
	ds_value_enc_int(&e, (int64_t)p->block_txs_max);
	ds_value_enc_key(&e, "max_tx_lifetime", 15);
	ds_value_enc_int(&e, (int64_t)p->max_tx_lifetime);
	return ds_enc_finish(&e, len);
}

int ds__chain_genesis_encode(struct ds_buf *out, const struct ds_genesis *g)
{
	uint8_t vs[DS_VALSET_MAX];
	size_t vsl;
	int rc = ds_valset_encode(vs, sizeof(vs), &vsl, &g->valset);
	if (rc)
		return rc;
	struct ds_enc e;
	for (int pass = 0; pass < 2; pass++) {
		ds_enc_init(&e, pass ? out->data + out->len : NULL, pass ? out->cap - out->len : 0);
		ds_enc_u8(&e, 1);
		ds_enc_str(&e, g->chain_id);
		ds_enc_uvar(&e, g->time_ms);
		ds_enc_bytes(&e, vs, vsl);
		ds_enc_uvar(&e, g->params.max_tx_lifetime);
		ds_enc_uvar(&e, g->params.block_txs_max);
		ds_enc_uvar(&e, g->params.retain_versions);
		ds_enc_uvar(&e, g->nstate);
		for (size_t i = 0; i < g->nstate; i++) {
			ds_enc_bytes(&e, g->state[i].key, g->state[i].key_len);
			ds_enc_bytes(&e, g->state[i].val, g->state[i].val_len);
		}
		size_t n;
		rc = ds_enc_finish(&e, &n);
		if (rc)
			return rc;
		if (!pass) {
			if (ds_buf_reserve(out, n))
				return DS_ENOMEM;
		} else {
			out->len += n;
		}
	}
	return 0;
}

int ds__chain_genesis_decode(struct ds_genesis *g, struct ds_kv **state_owned, const uint8_t *p,
			     size_t len)
{
	memset(g, 0, sizeof(*g));
	*state_owned = NULL;
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	uint8_t ver;
	ds_dec_u8(&d, &ver);
	if (!d.err && ver != 1)
		ds_dec_fail(&d, DS_EVERSION);
	ds_dec_str(&d, g->chain_id, sizeof(g->chain_id));
	ds_dec_uvar(&d, &g->time_ms);
	const uint8_t *vs;
	size_t vsl;
	ds_dec_bytes(&d, &vs, &vsl, DS_VALSET_MAX);
	if (!d.err && ds_valset_decode(&g->valset, vs, vsl) != 0)
		ds_dec_fail(&d, DS_ECORRUPT);
	ds_dec_uvar(&d, &g->params.max_tx_lifetime);
	ds_dec_u32(&d, &g->params.block_txs_max);
	ds_dec_uvar(&d, &g->params.retain_versions);
	uint64_t n;
	ds_dec_uvar_max(&d, &n, DS_SMT_BATCH_MAX - 1);
	if (d.err)
		return d.err;
	struct ds_kv *kv = calloc(n ? n : 1, sizeof(*kv));
	if (!kv)
		return DS_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		ds_dec_bytes(&d, &kv[i].key, &kv[i].key_len, DS_EXEC_KEY_MAX);
		ds_dec_bytes(&d, &kv[i].val, &kv[i].val_len, DS_EXEC_VALUE_MAX);
	}
	int rc = ds_dec_finish(&d);
	if (rc) {
		free(kv);
		return rc;
	}
	g->state = kv;
	g->nstate = n;
	*state_owned = kv;
	return 0;
}

static int empty_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t *out, size_t cap,
		     size_t *len)
{
	return DS_ENOTFOUND;
}

int ds__chain_genesis_build(const struct ds_genesis *g, struct ds_header *hdr,
			    uint8_t hash[DS_HASH_LEN], struct ds_smt_changeset *cs)
{
	memset(cs, 0, sizeof(*cs));
	memset(hdr, 0, sizeof(*hdr));
	if (!ds_ledger_chain_id_valid(g->chain_id) || g->valset.epoch != 0 || g->valset.n == 0 ||
	    g->valset.n > DS_VALIDATORS_MAX || g->params.max_tx_lifetime == 0 ||
	    g->params.max_tx_lifetime > INT64_MAX || g->params.block_txs_max == 0 ||
	    g->params.block_txs_max > DS_BLOCK_TXS_MAX || g->nstate >= DS_SMT_BATCH_MAX ||
	    (g->nstate && !g->state))
		return DS_EINVAL;
	uint8_t params[64];
	size_t params_len;
	int rc = ds__chain_params_value(params, sizeof(params), &params_len, &g->params);
	if (rc)
		return rc;
	struct ds_smt_op *ops = calloc(g->nstate + 1, sizeof(*ops));
	if (!ops)
		return DS_ENOMEM;
	rc = DS_EINVAL;
	for (size_t i = 0; i < g->nstate; i++) {
		const struct ds_kv *kv = &g->state[i];
		if (!kv->key || kv->key_len == 0 || kv->key_len > DS_EXEC_KEY_MAX ||
		    kv->val_len > DS_EXEC_VALUE_MAX || (kv->val_len && !kv->val) ||
		    (kv->key_len == sizeof(DS__PARAMS_KEY) - 1 &&
		     memcmp(kv->key, DS__PARAMS_KEY, kv->key_len) == 0))
			goto out;
		ops[i].key = kv->key;
		ops[i].key_len = kv->key_len;
		ops[i].value = kv->val ? kv->val : (const uint8_t *)"";
		ops[i].value_len = kv->val_len;
	}
	ops[g->nstate].key = (const uint8_t *)DS__PARAMS_KEY;
	ops[g->nstate].key_len = sizeof(DS__PARAMS_KEY) - 1;
	ops[g->nstate].value = params;
	ops[g->nstate].value_len = params_len;
	struct ds_smt_store none = {empty_get, NULL};
	rc = ds_smt_update(cs, &none, DS_SMT_VERSION_NONE, 0, ops, g->nstate + 1);
	if (rc)
		goto out; /* duplicate keys among the initial state: DS_EINVAL */
	hdr->version = 1;
	memcpy(hdr->chain_id, g->chain_id, sizeof(hdr->chain_id));
	hdr->time_ms = g->time_ms;
	ds_merkle_empty_root(hdr->tx_root);
	memcpy(hdr->state_root, cs->root, DS_HASH_LEN);
	ds_merkle_empty_root(hdr->results_root);
	ds_merkle_empty_root(hdr->history_root);
	rc = ds_valset_hash(hdr->valset_hash, &g->valset);
	if (rc)
		goto out;
	rc = ds_header_hash(hash, hdr);
out:
	free(ops);
	return rc;
}

int ds__chain_check_links(const struct ds_header *h, const struct ds_header *parent,
			  const uint8_t parent_hash[DS_HASH_LEN], const char *chain_id,
			  const struct ds_valset *vs, const uint8_t history_root[DS_HASH_LEN],
			  const char **why)
{
#define BAD(msg)              \
	do {                  \
		*why = (msg); \
		return DS_EINVAL; \
	} while (0)
	*why = NULL;
	if (h->version != 1)
		BAD("header version is not 1");
	if (strcmp(h->chain_id, chain_id) != 0) {
		*why = "wrong chain id";
		return DS_ECHAIN;
	}
	if (h->height != parent->height + 1)
		BAD("height is not parent height + 1");
	if (memcmp(h->parent_hash, parent_hash, DS_HASH_LEN) != 0)
		BAD("parent hash does not match the parent block");
	if (h->epoch < parent->epoch)
		BAD("epoch goes backwards");
	if (h->epoch != vs->epoch)
		BAD("no validator set for the header's epoch");
	uint8_t vh[DS_HASH_LEN];
	if (ds_valset_hash(vh, vs) != 0 || memcmp(vh, h->valset_hash, DS_HASH_LEN) != 0)
		BAD("validator set hash does not match the epoch's validator set");
	if (h->time_ms <= parent->time_ms)
		BAD("time is not after the parent's");
	if (h->exec_height < parent->exec_height)
		BAD("exec height below the parent's");
	if (h->exec_height >= h->height)
		BAD("exec height not below the height");
	if (memcmp(h->history_root, history_root, DS_HASH_LEN) != 0)
		BAD("history root does not match the earlier block hashes");
	return 0;
#undef BAD
}

bool ds__chain_qc_names(const struct ds_qc *qc, uint64_t height, const uint8_t hash[DS_HASH_LEN])
{
	if (qc->vote.commit_height == height)
		return memcmp(qc->vote.commit_hash, hash, DS_HASH_LEN) == 0;
	return qc->vote.commit_height > height;
}

/* ---- epochs ------------------------------------------------------------- */

bool ds_chain_past_change(const struct ds_chain_change *ch, const struct ds_header *h)
{
	return ch->pending && h->epoch < UINT64_MAX && ch->epoch == h->epoch + 1 &&
	       ch->since <= h->exec_height;
}

int ds__chain_change_parse(struct ds_chain_change *out, const uint8_t *v, size_t vl)
{
	memset(out, 0, sizeof(*out));
	uint64_t since;
	int rc = ds_exec_sys_valset_next(v, vl, &out->valset, &since);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc == DS_ENOMEM ? rc : DS_ECORRUPT;
	}
	/* The hash is what headers carry: a set that cannot be hashed (empty,
	 * duplicate keys) could never start an epoch. */
	uint8_t vh[DS_HASH_LEN];
	if (ds_valset_hash(vh, &out->valset) != 0) {
		memset(out, 0, sizeof(*out));
		return DS_ECORRUPT;
	}
	out->pending = true;
	out->epoch = out->valset.epoch;
	out->since = since;
	return 0;
}

void ds__chain_child_set(struct ds_valset *out, bool *starts, const struct ds_chain_change *ch,
			 const struct ds_header *parent, const struct ds_valset *parent_set)
{
	*starts = ds_chain_past_change(ch, parent);
	if (*starts) {
		*out = ch->valset;
		out->epoch = parent->epoch + 1;
	} else {
		*out = *parent_set;
	}
}

int ds__chain_check_epoch(const struct ds_header *h, const struct ds_valset *want, bool starts,
			  const char **why)
{
	*why = NULL;
	if (h->epoch == want->epoch)
		return 0;
	if (starts)
		*why = "the parent ends its epoch: the block must start the next epoch with the pending validator set";
	else if (h->epoch > want->epoch)
		*why = "epoch changes before the parent's epoch has ended";
	else
		*why = "epoch differs from the parent's";
	return DS_EINVAL;
}

int ds__chain_check_suffix(const struct ds_header *x, const uint8_t xhash[DS_HASH_LEN],
			   const struct ds_qc *qc, const uint8_t *suffix, size_t suffix_len,
			   const char **why)
{
#define BAD(msg)              \
	do {                  \
		*why = (msg); \
		return DS_EINVAL; \
	} while (0)
	*why = NULL;
	if (qc->vote.commit_height <= x->height)
		BAD("a suffix is given but the QC does not name a later block");
	if (qc->vote.commit_height - x->height > DS_CHAIN_SUFFIX_MAX)
		BAD("the QC names a block further than the suffix maximum");
	uint64_t k = qc->vote.commit_height - x->height;
	if (suffix_len == 0 || !suffix)
		BAD("the QC names a suffix block but no suffix is given");
	struct ds_dec d;
	ds_dec_init(&d, suffix, suffix_len);
	uint8_t prev[DS_HASH_LEN];
	memcpy(prev, xhash, DS_HASH_LEN);
	uint64_t i = 0;
	while (ds_dec_left(&d) > 0) {
		const uint8_t *p;
		size_t pl;
		struct ds_header s;
		if (ds_dec_bytes(&d, &p, &pl, DS_HEADER_MAX) != 0 || ds_header_decode(&s, p, pl) != 0)
			BAD("suffix header does not decode");
		if (++i > k)
			BAD("suffix is longer than the QC's commit height says");
		if (s.version != x->version || strcmp(s.chain_id, x->chain_id) != 0)
			BAD("suffix header has another chain id or version");
		if (s.epoch != x->epoch)
			BAD("suffix header is not in the epoch end's epoch");
		if (s.height != x->height + i)
			BAD("suffix header height is not consecutive");
		if (memcmp(s.parent_hash, prev, DS_HASH_LEN) != 0)
			BAD("suffix header does not link to the previous one");
		if (s.tx_count != 0)
			BAD("suffix header carries transactions");
		if (ds_header_hash(prev, &s) != 0)
			BAD("suffix header does not hash");
	}
	if (ds_dec_finish(&d) != 0)
		BAD("suffix does not decode");
	if (i != k)
		BAD("suffix is shorter than the QC's commit height says");
	if (memcmp(prev, qc->vote.commit_hash, DS_HASH_LEN) != 0)
		BAD("last suffix header is not the block the QC commits");
	return 0;
#undef BAD
}
