#include "verify/verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exec/exec_sys.h"
#include "merkle/merkle.h"

_Static_assert(sizeof(DS_VERIFY_VALSET_NEXT_KEY) == sizeof(DS_EXEC_SYS_VALSET_NEXT_KEY),
	       "the handoff key is the executor's pending-set key");

/* Writes the reason and returns err, so every failure is one line. */
static int fail(char *why, size_t cap, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t cap, int err, const char *fmt, ...)
{
	if (why && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void hex8(char out[17], const uint8_t *p)
{
	ds_hex_encode(out, p, 8);
}

int ds_verify_trust_init(struct ds_verify_trust *t, const char *chain_id, uint64_t epoch,
			 const uint8_t (*pks)[DS_PK_LEN], size_t n)
{
	memset(t, 0, sizeof(*t));
	if (n == 0 || n > DS_VALIDATORS_MAX)
		return DS_EINVAL;
	if (chain_id && chain_id[0]) {
		if (!ds_ledger_chain_id_valid(chain_id))
			return DS_EINVAL;
		memcpy(t->chain_id, chain_id, strlen(chain_id) + 1);
	}
	t->vs.epoch = epoch;
	t->vs.n = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (memcmp(pks[i], pks[j], DS_PK_LEN) == 0) {
				memset(t, 0, sizeof(*t));
				return DS_EINVAL;
			}
		memcpy(t->vs.v[i].pk, pks[i], DS_PK_LEN);
		t->vs.v[i].power = 1;
	}
	return 0;
}

/* Names the first signer whose signature fails, for a precise message. */
static int qc_bad_signer(const struct ds_qc *qc, const struct ds_valset *vs, const char *chain_id,
			 uint32_t *index)
{
	uint8_t msg[DS_VOTE_SIGNING_MAX];
	size_t n;
	if (ds_vote_signing_bytes(msg, sizeof(msg), &n, &qc->vote, chain_id) != 0)
		return 0;
	for (uint32_t i = 0; i < qc->nsigs; i++)
		if (qc->sigs[i].index < vs->n &&
		    ds_ed25519_verify(qc->sigs[i].sig, msg, n, vs->v[qc->sigs[i].index].pk) != 0) {
			*index = qc->sigs[i].index;
			return 1;
		}
	return 0;
}

static int check_qc(const struct ds_qc *qc, const struct ds_verify_trust *t, const char *chain_id,
		    char *why, size_t cap)
{
	const struct ds_valset *vs = &t->vs;
	if (qc->vote.epoch != vs->epoch)
		return fail(why, cap, DS_EPROOF,
			    "QC is for epoch %" PRIu64 " but the trusted validator set is epoch %" PRIu64,
			    qc->vote.epoch, vs->epoch);
	for (uint32_t i = 0; i < qc->nsigs; i++)
		if (qc->sigs[i].index >= vs->n)
			return fail(why, cap, DS_EPROOF,
				    "QC signer index %" PRIu32 " is outside the trusted set of %" PRIu32
				    " validators",
				    qc->sigs[i].index, vs->n);
	uint32_t quorum = ds_qc_quorum(vs->n);
	if (qc->nsigs < quorum)
		return fail(why, cap, DS_EPROOF,
			    "QC has %" PRIu32 " signatures, the trusted set of %" PRIu32 " needs %" PRIu32,
			    qc->nsigs, vs->n, quorum);
	int rc = ds_qc_verify(qc, vs, chain_id);
	if (rc == 0)
		return 0;
	uint32_t bad;
	if (rc == DS_ESIG && qc_bad_signer(qc, vs, chain_id, &bad))
		return fail(why, cap, DS_ESIG,
			    "QC signature of validator %" PRIu32 " does not verify against the trusted key",
			    bad);
	return fail(why, cap, rc == DS_ESIG ? DS_ESIG : DS_EPROOF, "QC does not verify: %s",
		    ds_strerror(rc));
}

int ds_verify_header(struct ds_verified_header *out, const struct ds_verify_trust *t,
		     const uint8_t *header, size_t header_len, const uint8_t *qc, size_t qc_len,
		     const struct ds_iov *chain, size_t nchain, char *why, size_t why_cap)
{
	memset(out, 0, sizeof(*out));
	struct ds_header h;
	int rc = ds_header_decode(&h, header, header_len);
	if (rc)
		return fail(why, why_cap, rc, "header does not decode: %s", ds_strerror(rc));
	if (t->chain_id[0] && strcmp(t->chain_id, h.chain_id) != 0)
		return fail(why, why_cap, DS_ECHAIN, "header is for chain '%s', trusted chain is '%s'",
			    h.chain_id, t->chain_id);
	/* The header names its validator set: it must be the trusted one (the
	 * QC check below would refuse other keys anyway; this says why). */
	if (h.epoch != t->vs.epoch)
		return fail(why, why_cap, DS_EPROOF, "header is from epoch %" PRIu64 ", trusted validator set is epoch %" PRIu64,
			    h.epoch, t->vs.epoch);
	uint8_t vs_hash[DS_HASH_LEN];
	rc = ds_valset_hash(vs_hash, &t->vs);
	if (rc)
		return fail(why, why_cap, rc, "trusted validator set cannot be hashed: %s", ds_strerror(rc));
	if (memcmp(vs_hash, h.valset_hash, DS_HASH_LEN) != 0)
		return fail(why, why_cap, DS_EPROOF,
			    "header's validator-set hash differs from the trusted validator set");
	uint8_t hash[DS_HASH_LEN];
	rc = ds_header_hash(hash, &h);
	if (rc)
		return fail(why, why_cap, rc, "header cannot be hashed: %s", ds_strerror(rc));

	if (qc_len == 0) {
		if (h.height != 0)
			return fail(why, why_cap, DS_EPROOF,
				    "header %" PRIu64 " comes without a QC", h.height);
		if (!t->has_genesis_hash)
			return fail(why, why_cap, DS_EPROOF,
				    "genesis has no QC and no trusted genesis hash was given");
		if (memcmp(hash, t->genesis_hash, DS_HASH_LEN) != 0)
			return fail(why, why_cap, DS_EPROOF, "genesis hash differs from the trusted one");
		out->h = h;
		memcpy(out->hash, hash, DS_HASH_LEN);
		return 0;
	}

	struct ds_qc q;
	rc = ds_qc_decode(&q, qc, qc_len);
	if (rc)
		return fail(why, why_cap, rc, "QC does not decode: %s", ds_strerror(rc));
	rc = check_qc(&q, t, h.chain_id, why, why_cap);
	if (rc)
		return rc;

	/* The QC must commit this header, or a descendant reached by the
	 * supplied parent links: a committed block commits its ancestors. */
	if (q.vote.commit_height < h.height)
		return fail(why, why_cap, DS_EPROOF,
			    "QC commits height %" PRIu64 ", below this header's height %" PRIu64,
			    q.vote.commit_height, h.height);
	uint64_t gap = q.vote.commit_height - h.height;
	if (gap > DS_VERIFY_CHAIN_MAX)
		return fail(why, why_cap, DS_EPROOF, "QC commits a block %" PRIu64 " heights above", gap);
	if (nchain != gap)
		return fail(why, why_cap, DS_EPROOF,
			    "QC commits height %" PRIu64 " but %zu linking headers were given for %" PRIu64,
			    q.vote.commit_height, nchain, gap);
	uint8_t cur[DS_HASH_LEN];
	memcpy(cur, hash, DS_HASH_LEN);
	uint64_t cur_h = h.height;
	for (size_t i = 0; i < nchain; i++) {
		struct ds_header d;
		rc = ds_header_decode(&d, chain[i].p, chain[i].n);
		if (rc)
			return fail(why, why_cap, rc, "linking header %zu does not decode: %s", i,
				    ds_strerror(rc));
		if (strcmp(d.chain_id, h.chain_id) != 0 || d.height != cur_h + 1 ||
		    memcmp(d.parent_hash, cur, DS_HASH_LEN) != 0)
			return fail(why, why_cap, DS_EPROOF,
				    "linking header at height %" PRIu64 " does not extend height %" PRIu64,
				    d.height, cur_h);
		rc = ds_header_hash(cur, &d);
		if (rc)
			return fail(why, why_cap, rc, "linking header cannot be hashed");
		cur_h = d.height;
	}
	if (memcmp(cur, q.vote.commit_hash, DS_HASH_LEN) != 0) {
		char a[17], b[17];
		hex8(a, cur);
		hex8(b, q.vote.commit_hash);
		return fail(why, why_cap, DS_EPROOF,
			    "QC commits block %s… at height %" PRIu64 ", not this chain's %s…", b,
			    q.vote.commit_height, a);
	}
	out->h = h;
	memcpy(out->hash, hash, DS_HASH_LEN);
	out->qc_round = q.vote.round;
	out->qc_signers = q.nsigs;
	out->final_via = q.vote.commit_height;
	return 0;
}

int ds_verify_tx(uint8_t id[DS_HASH_LEN], const struct ds_verified_header *vh, const uint8_t *tx,
		 size_t tx_len, uint64_t index, uint64_t tree_size, const uint8_t (*path)[DS_HASH_LEN],
		 size_t path_len, char *why, size_t why_cap)
{
	struct ds_tx t;
	const char *field = NULL;
	int rc = ds_tx_decode_diag(&t, &field, tx, tx_len, true);
	if (rc)
		return fail(why, why_cap, rc, "transaction does not decode (%s): %s",
			    field ? field : "?", ds_strerror(rc));
	if (strcmp(t.chain_id, vh->h.chain_id) != 0)
		return fail(why, why_cap, DS_ECHAIN, "transaction is for chain '%s', block is '%s'",
			    t.chain_id, vh->h.chain_id);
	uint8_t tid[DS_HASH_LEN];
	ds_tx_id_body(tid, tx, tx_len - DS_SIG_LEN);
	if (id)
		memcpy(id, tid, DS_HASH_LEN);
	/* The signature is in the block only because voters checked it; the
	 * client checks it again because it trusts no voter individually. */
	static _Thread_local uint8_t scratch[DS_TX_SCRATCH_LEN];
	rc = ds_tx_verify(&t, scratch, sizeof(scratch));
	if (rc)
		return fail(why, why_cap, rc == DS_ESIG ? DS_ESIG : rc,
			    "transaction signature does not verify for its sender");
	if (tree_size != vh->h.tx_count)
		return fail(why, why_cap, DS_EPROOF,
			    "proof is for a tree of %" PRIu64 " leaves, the header has %" PRIu32 " txs",
			    tree_size, vh->h.tx_count);
	if (index >= tree_size)
		return fail(why, why_cap, DS_EPROOF, "index %" PRIu64 " is outside the block's %" PRIu64
			    " txs", index, tree_size);
	if (path_len > DS_MERKLE_INCL_MAX)
		return fail(why, why_cap, DS_EPROOF, "inclusion path too long (%zu)", path_len);
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, tid, DS_HASH_LEN);
	if (ds_merkle_verify_inclusion(vh->h.tx_root, tree_size, index, leaf, path, path_len) != 0)
		return fail(why, why_cap, DS_EPROOF,
			    "inclusion proof does not lead to the header's tx_root");
	return 0;
}

int ds_verify_tx_ids(const struct ds_verified_header *vh, const uint8_t (*ids)[DS_HASH_LEN], size_t n,
		     char *why, size_t why_cap)
{
	if (n != vh->h.tx_count)
		return fail(why, why_cap, DS_EPROOF, "%zu tx ids listed, the header has %" PRIu32, n,
			    vh->h.tx_count);
	uint8_t root[DS_HASH_LEN];
	ds_ledger_merkle_root(root, ids, n);
	if (memcmp(root, vh->h.tx_root, DS_HASH_LEN) != 0)
		return fail(why, why_cap, DS_EPROOF, "listed tx ids do not hash to the header's tx_root");
	return 0;
}

int ds_verify_state(const struct ds_verified_header *vh, uint64_t version, const uint8_t *key,
		    size_t key_len, const uint8_t *value, size_t value_len, const uint8_t *proof,
		    size_t proof_len, char *why, size_t why_cap)
{
	if (vh->h.exec_height != version)
		return fail(why, why_cap, DS_EPROOF,
			    "header %" PRIu64 " commits the state after height %" PRIu64
			    ", the proof is for version %" PRIu64,
			    vh->h.height, vh->h.exec_height, version);
	/* The proof struct is 8 KiB of siblings: static per thread keeps a
	 * pure function off the heap without a deep stack frame. */
	static _Thread_local struct ds_smt_proof p;
	int rc = ds_smt_proof_decode(&p, proof, proof_len);
	if (rc)
		return fail(why, why_cap, rc, "state proof does not decode: %s", ds_strerror(rc));
	if (ds_smt_verify(vh->h.state_root, key, key_len, value, value_len, &p) != 0)
		return fail(why, why_cap, DS_EPROOF, value ?
			    "state proof does not show this value under the header's state_root" :
			    "state proof does not show the key absent under the header's state_root");
	return 0;
}

int ds_verify_history(const struct ds_verified_header *vh, uint64_t height,
		      const uint8_t block_hash[DS_HASH_LEN], const uint8_t (*path)[DS_HASH_LEN],
		      size_t path_len, char *why, size_t why_cap)
{
	if (height >= vh->h.height)
		return fail(why, why_cap, DS_EPROOF,
			    "height %" PRIu64 " is not below the newest header's %" PRIu64, height,
			    vh->h.height);
	if (path_len > DS_MERKLE_INCL_MAX)
		return fail(why, why_cap, DS_EPROOF, "history path too long (%zu)", path_len);
	uint8_t leaf[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaf, block_hash, DS_HASH_LEN);
	if (ds_merkle_verify_inclusion(vh->h.history_root, vh->h.height, height, leaf, path,
				       path_len) != 0)
		return fail(why, why_cap, DS_EPROOF,
			    "history proof does not lead to the newest header's history_root");
	return 0;
}

int ds_verify_receipt(struct ds_receipt *out, struct ds_verified_header *carrier,
		      const struct ds_verify_trust *t, const struct ds_verified_header *block,
		      const uint8_t id[DS_HASH_LEN], uint64_t index, const uint8_t *receipt,
		      size_t receipt_len, const uint8_t (*path)[DS_HASH_LEN], size_t path_len,
		      const struct ds_verify_range *range, const uint8_t *header, size_t header_len,
		      const uint8_t *qc, size_t qc_len, const struct ds_iov *chain, size_t nchain,
		      char *why, size_t why_cap)
{
	char sub[256] = "";
	/* Static per thread: a verified header and a decoded receipt are a
	 * few KiB each. */
	static _Thread_local struct ds_verified_header vh;
	static _Thread_local struct ds_receipt r;
	if (carrier)
		memset(carrier, 0, sizeof(*carrier));
	int rc = ds_verify_header(&vh, t, header, header_len, qc, qc_len, chain, nchain, sub, sizeof(sub));
	if (rc)
		return fail(why, why_cap, rc, "receipt: the header carrying its results root: %s", sub);
	if (strcmp(vh.h.chain_id, block->h.chain_id) != 0)
		return fail(why, why_cap, DS_ECHAIN, "receipt: results header is for chain '%s', block is '%s'",
			    vh.h.chain_id, block->h.chain_id);
	uint64_t first = vh.h.exec_height; /* the blocks C executes: first .. C.exec_height */
	if (range) {
		struct ds_header ph;
		uint8_t phash[DS_HASH_LEN];
		if (ds_header_decode(&ph, range->parent, range->parent_len) != 0 ||
		    ds_header_hash(phash, &ph) != 0)
			return fail(why, why_cap, DS_EPROOF, "receipt: the parent header does not decode");
		if (memcmp(phash, vh.h.parent_hash, DS_HASH_LEN) != 0)
			return fail(why, why_cap, DS_EPROOF,
				    "receipt: the parent header is not the parent of header %" PRIu64,
				    vh.h.height);
		if (ph.exec_height + 1 >= vh.h.exec_height)
			return fail(why, why_cap, DS_EPROOF,
				    "receipt: header %" PRIu64 " executes one block only, not a range",
				    vh.h.height);
		first = ph.exec_height + 1;
	}
	/* Header C vouches for the receipts of blocks first .. C.exec_height
	 * (§5.3). */
	if (block->h.height < first || block->h.height > vh.h.exec_height)
		return fail(why, why_cap, DS_EPROOF,
			    "receipt: header %" PRIu64 " carries the results of blocks %" PRIu64 "..%" PRIu64
			    ", the transaction is in block %" PRIu64,
			    vh.h.height, first, vh.h.exec_height, block->h.height);
	if (index >= block->h.tx_count)
		return fail(why, why_cap, DS_EPROOF,
			    "receipt: index %" PRIu64 " is outside the block's %" PRIu32 " txs", index,
			    block->h.tx_count);
	if (path_len > DS_MERKLE_INCL_MAX)
		return fail(why, why_cap, DS_EPROOF, "receipt: inclusion path too long (%zu)", path_len);
	uint8_t rh[DS_HASH_LEN], leaf[DS_HASH_LEN], broot[DS_HASH_LEN];
	ds_receipt_hash_bytes(rh, receipt, receipt_len);
	ds_merkle_leaf_hash(leaf, rh, DS_HASH_LEN);
	if (!range) {
		if (ds_merkle_verify_inclusion(vh.h.results_root, block->h.tx_count, index, leaf, path,
					       path_len) != 0)
			return fail(why, why_cap, DS_EPROOF,
				    "receipt: inclusion proof does not lead to the results_root of header %" PRIu64,
				    vh.h.height);
	} else {
		uint8_t bleaf[DS_HASH_LEN];
		if (ds_merkle_inclusion_root(broot, block->h.tx_count, index, leaf, path, path_len) != 0)
			return fail(why, why_cap, DS_EPROOF, "receipt: inclusion path has the wrong length");
		ds_merkle_leaf_hash(bleaf, broot, DS_HASH_LEN);
		if (range->path_len > DS_MERKLE_INCL_MAX ||
		    ds_merkle_verify_inclusion(vh.h.results_root, vh.h.exec_height - first + 1,
					       block->h.height - first, bleaf, range->path,
					       range->path_len) != 0)
			return fail(why, why_cap, DS_EPROOF,
				    "receipt: the block's results do not lead to the range root of header %" PRIu64,
				    vh.h.height);
	}
	/* The root commits to these exact bytes; decoding strictly makes sure
	 * they mean one thing, and the tx id binds them to this transaction. */
	rc = ds_receipt_decode(&r, receipt, receipt_len);
	if (rc)
		return fail(why, why_cap, rc, "receipt does not decode: %s", ds_strerror(rc));
	if (memcmp(r.tx_id, id, DS_HASH_LEN) != 0) {
		char a[17], b[17];
		hex8(a, r.tx_id);
		hex8(b, id);
		return fail(why, why_cap, DS_EPROOF, "receipt is for tx %s…, not %s…", a, b);
	}
	if (out)
		*out = r;
	if (carrier)
		*carrier = vh;
	return 0;
}

int ds_verify_handoff(struct ds_verify_trust *t, struct ds_verified_header *end, const uint8_t *header,
		      size_t header_len, const uint8_t *qc, size_t qc_len, const struct ds_iov *chain,
		      size_t nchain, const uint8_t *value, size_t value_len, const uint8_t *proof,
		      size_t proof_len, char *why, size_t why_cap)
{
	const uint64_t k = t->vs.epoch;
	char sub[256] = "";
	/* Static per thread: a verified header and a set are a few KiB each. */
	static _Thread_local struct ds_verified_header vh;
	static _Thread_local struct ds_valset next;
	if (end)
		memset(end, 0, sizeof(*end));
	if (k == UINT64_MAX)
		return fail(why, why_cap, DS_EPROOF, "the trusted epoch is the last one");
	int rc = ds_verify_header(&vh, t, header, header_len, qc, qc_len, chain, nchain, sub, sizeof(sub));
	if (rc)
		return fail(why, why_cap, rc, "epoch %" PRIu64 " handoff: end block: %s", k, sub);
	if (!value)
		return fail(why, why_cap, DS_EPROOF,
			    "epoch %" PRIu64 " handoff: no pending validator change given for block %" PRIu64, k,
			    vh.h.height);
	rc = ds_verify_state(&vh, vh.h.exec_height, (const uint8_t *)DS_VERIFY_VALSET_NEXT_KEY,
			     strlen(DS_VERIFY_VALSET_NEXT_KEY), value, value_len, proof, proof_len, sub,
			     sizeof(sub));
	if (rc)
		return fail(why, why_cap, rc, "epoch %" PRIu64 " handoff: %s at block %" PRIu64 ": %s", k,
			    DS_VERIFY_VALSET_NEXT_KEY, vh.h.height, sub);
	uint64_t since = 0;
	rc = ds_exec_sys_valset_next(value, value_len, &next, &since);
	if (rc)
		return fail(why, why_cap, rc == DS_ENOMEM ? rc : DS_ECORRUPT,
			    "epoch %" PRIu64 " handoff: the proven %s value is not a validator change: %s", k,
			    DS_VERIFY_VALSET_NEXT_KEY, ds_strerror(rc));
	if (next.epoch != k + 1)
		return fail(why, why_cap, DS_EPROOF,
			    "epoch %" PRIu64 " handoff: the pending change is for epoch %" PRIu64
			    ", not %" PRIu64, k, next.epoch, k + 1);
	if (since > vh.h.exec_height)
		return fail(why, why_cap, DS_EPROOF,
			    "epoch %" PRIu64 " handoff: the change since height %" PRIu64
			    " is above block %" PRIu64 "'s executed height %" PRIu64, k, since,
			    vh.h.height, vh.h.exec_height);
	t->vs = next;
	if (end)
		*end = vh;
	return 0;
}
