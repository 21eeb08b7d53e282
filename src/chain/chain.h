/* chain — a node's ledger on the store: genesis, block commit (execute and
 * write everything in one LMDB transaction), reads with proofs, and the
 * checks a proposer and a voter need for the next header.
 *
 * Layout on disk: HOME/data/ is the LMDB environment (see docs/PROTOCOL.md
 * "Chain store" for the tables). A block at height h is committed only with
 * a QC that finalises it; genesis (height 0) is final by definition and
 * carries no QC.
 *
 * Lagged execution: header h carries exec_height x (< h) and the state root
 * and results root after executing blocks 0..x. The proposer sets x to its
 * committed tip; a voter accepts the header only if it has executed x and
 * the roots match (ds_chain_check_header).
 *
 * Threads: one writer at a time calls commit (the node's committer thread);
 * any thread may call the read functions, next_header and check_header
 * (each takes its own read transaction), also while a commit runs. */
#ifndef DS_CHAIN_H
#define DS_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "util/util.h"

struct ds_chain;
struct ds_exec_module;
struct ds_exec_call;

/* The modules that blocks execute with, process-wide, for every chain opened
 * afterwards and for ds_chain_verify (which must re-execute with the node's
 * module set). Default: the kv module alone. mods, and the authorizer
 * (may be NULL), are borrowed for the life of the process. Call before
 * ds_chain_open, from one thread. */
void ds_chain_set_modules(const struct ds_exec_module *mods, size_t nmods,
			  int (*authorize)(struct ds_exec_call *call));
/* Defined (once) by whoever owns the node's module set: calls
 * ds_chain_set_modules with it. Weak, so `danshari verify-chain` re-executes
 * with the same modules as the node when they are linked in, and with the kv
 * module alone when they are not. */
void ds_chain_register_modules(void) __attribute__((weak));

/* Chain parameters fixed in genesis (governance may change some later). */
struct ds_chain_params {
	uint64_t max_tx_lifetime; /* blocks: expiry_height <= height + this */
	uint32_t block_txs_max;   /* <= DS_BLOCK_TXS_MAX */
	uint64_t retain_versions; /* SMT versions kept; 0 = keep all */
};

/* An initial state write (key/value borrowed). */
struct ds_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *val;
	size_t val_len;
};

struct ds_genesis {
	char chain_id[DS_CHAIN_ID_MAX + 1];
	uint64_t time_ms;
	struct ds_valset valset; /* epoch 0 */
	struct ds_chain_params params;
	const struct ds_kv *state; /* initial state (system modules' records) */
	size_t nstate;
};

struct ds_chain_options {
	bool no_sync;          /* tests only: skip fsync */
	uint64_t map_size_max; /* 0: store default */
};

/* Opens HOME/data, creating it from genesis on first use. On reopen the
 * stored genesis hash must equal the given genesis' hash, else DS_ECHAIN;
 * g may be NULL on reopen (the stored genesis is used; DS_ENOTFOUND when
 * there is none). *out owned on success. */
int ds_chain_open(struct ds_chain **out, const char *home, const struct ds_genesis *g,
		  const struct ds_chain_options *opts) DS_MUST_USE;
void ds_chain_close(struct ds_chain *c);

/* Hash of the genesis header (identifies the chain beyond its id). */
void ds_chain_genesis_hash(const struct ds_chain *c, uint8_t out[DS_HASH_LEN]);
const char *ds_chain_id(const struct ds_chain *c);
const struct ds_chain_params *ds_chain_params(const struct ds_chain *c);

struct ds_chain_tip {
	uint64_t height;
	uint8_t hash[DS_HASH_LEN];
	struct ds_header header;
	uint64_t txs_total; /* transactions committed since genesis */
};
int ds_chain_tip(struct ds_chain *c, struct ds_chain_tip *out) DS_MUST_USE;

/* Validator set of an epoch: epoch 0 from genesis, epoch E+1 stored when
 * the first block of E+1 is committed. DS_ENOTFOUND for an epoch not
 * started (on this node). */
int ds_chain_valset(struct ds_chain *c, uint64_t epoch, struct ds_valset *out) DS_MUST_USE;

/* ---- Epochs (docs/PROTOCOL.md §10 and §13 "Validator changes and epochs") ----
 * A validator change waits in the state record sys/valset/next as
 * {epoch E+1, since, validators}; `since` is the height whose execution
 * created it. A header H is past the change when the change is for
 * H.epoch + 1 and since <= H.exec_height. The child of a ledger block p that
 * is past the change starts epoch p.epoch + 1 with the change's set (p is
 * the epoch end X); every other child keeps p's epoch and set. Suffix
 * blocks (consensus only, never stored) let a QC of epoch E commit X. */
#define DS_CHAIN_SUFFIX_MAX 64 /* suffix headers after an epoch end */
struct ds_chain_change {
	bool pending;           /* false: no change waiting (other fields zero) */
	uint64_t epoch, since;  /* the epoch it starts; height that created it */
	struct ds_valset valset; /* keys in record order, power 1, .epoch = epoch */
};
/* The pending change in the latest executed state (after the tip). */
int ds_chain_change(struct ds_chain *c, struct ds_chain_change *out) DS_MUST_USE;
/* True if h is past the change ch (see above). */
bool ds_chain_past_change(const struct ds_chain_change *ch, const struct ds_header *h);
/* Height of the epoch end X whose child started `epoch` (epoch 0: 0).
 * DS_ENOTFOUND for an epoch not started. */
int ds_chain_epoch_root(struct ds_chain *c, uint64_t epoch, uint64_t *root_height) DS_MUST_USE;
/* The suffix stored with the block at height (appended to out; nothing and
 * 0 when the block has none). */
int ds_chain_suffix(struct ds_chain *c, uint64_t height, struct ds_buf *out) DS_MUST_USE;

/* For a proposer: fills every field of the next header except round, time,
 * proposer, tx_count and tx_root (epoch and valset hash by the epoch rule;
 * DS_EAGAIN while the parent's exec_height is not executed here), for a
 * ledger block whose parent is `parent`
 * (hash parent_hash). The parent may be uncommitted: `pending` lists the
 * hashes of the uncommitted blocks from the one after the committed tip up to
 * and including the parent, oldest first (npending may be 0 when the parent
 * is the tip), so the history root can be computed. The caller's view of the
 * tip may lag the chain's (a node that commits on another thread): leading
 * entries the chain has committed since are skipped when they end at its
 * tip, and refused (DS_EINVAL) when they do not. */
int ds_chain_next_header(struct ds_chain *c, struct ds_header *out, const struct ds_header *parent,
			 const uint8_t parent_hash[DS_HASH_LEN],
			 const uint8_t (*pending)[DS_HASH_LEN], size_t npending) DS_MUST_USE;

/* For a voter: checks a proposed header against its parent and what this node
 * has executed: chain id, version, height = parent+1, parent hash, epoch and
 * valset hash by the epoch rule, time > parent time, exec_height in [parent.exec_height,
 * height-1] and executed here with matching state/results roots (DS_EAGAIN if
 * this node has not executed exec_height yet), history root (pending as in
 * next_header). Returns 0 or an error; `why` (optional) gets a static reason. */
int ds_chain_check_header(struct ds_chain *c, const struct ds_header *h,
			  const struct ds_header *parent, const uint8_t parent_hash[DS_HASH_LEN],
			  const uint8_t (*pending)[DS_HASH_LEN], size_t npending,
			  const char **why) DS_MUST_USE;

/* Commits block `block` (encoded, as ds_block_encode) with the QC that
 * finalises it: checks the links (height = tip+1, parent = tip hash, tx root,
 * history root, epoch and valset hash by the epoch rule, exec roots as in
 * check_header; a QC of the block's epoch, valid for that epoch's set and
 * naming this block or a descendant, stored as given), executes every
 * transaction, and writes block, tx index, receipts, state, SMT nodes and
 * roots in ONE store transaction; the first block of an epoch also writes
 * the epoch's set and root. preverified[i] true: tx i's signature was
 * already checked on this node (may be NULL). On any error nothing is
 * written. DS_EFULL: disk full (the node must stop). Same as
 * ds_chain_commit_end with no suffix. */
int ds_chain_commit(struct ds_chain *c, const uint8_t *block, size_t block_len,
		    const struct ds_qc *qc, const bool *preverified) DS_MUST_USE;
/* Commit of an epoch end X whose QC names a suffix block S_k (height
 * X.height + k): suffix (borrowed, copied into the store) is S_1..S_k as
 * concatenated codec bytes(header encoding), oldest first, 1 <= k <=
 * DS_CHAIN_SUFFIX_MAX; each S_i has X's chain id, version and epoch, height
 * X.height + i, parent hash = hash of S_(i-1) (X for S_1) and tx_count 0,
 * and hash(S_k) is the QC's commit hash. Required exactly then: a suffix for
 * any other block, or missing when required, is DS_EINVAL. suffix may be
 * NULL when suffix_len is 0. */
int ds_chain_commit_end(struct ds_chain *c, const uint8_t *block, size_t block_len,
			const struct ds_qc *qc, const bool *preverified, const uint8_t *suffix,
			size_t suffix_len) DS_MUST_USE;

/* True if tx id was committed (replay protection for the mempool). */
bool ds_chain_tx_seen(struct ds_chain *c, const uint8_t id[DS_HASH_LEN]);

/* Reads. Each fills a ds_buf owned by the caller (appended to). */
/* Encoded block at height (as committed) and its QC encoding. */
int ds_chain_block(struct ds_chain *c, uint64_t height, struct ds_buf *block,
		   struct ds_buf *qc) DS_MUST_USE;
/* Header of a committed height, from the headers table (no block copy):
 * decoded into *h; its encoding (<= DS_HEADER_MAX bytes) into enc and
 * *enc_len when enc is not NULL; the block's QC encoding appended to qc when
 * qc is not NULL. DS_ENOTFOUND above the tip. */
int ds_chain_header(struct ds_chain *c, uint64_t height, struct ds_header *h, uint8_t *enc,
		    size_t *enc_len, struct ds_buf *qc) DS_MUST_USE;
int ds_chain_height_of(struct ds_chain *c, const uint8_t hash[DS_HASH_LEN],
		       uint64_t *height) DS_MUST_USE;

/* A committed transaction: its encoding, receipt encoding, position and an
 * RFC 6962 inclusion proof of its id under the block's tx_root. */
struct ds_chain_txinfo {
	uint64_t height;
	uint32_t index;
	uint32_t tx_count;
	struct ds_buf tx;       /* tx encoding */
	struct ds_buf receipt;  /* receipt encoding (present once executed) */
	bool executed;
	struct ds_buf proof;    /* concatenated 32-byte hashes */
};
void ds_chain_txinfo_init(struct ds_chain_txinfo *t);
void ds_chain_txinfo_free(struct ds_chain_txinfo *t);
int ds_chain_tx(struct ds_chain *c, const uint8_t id[DS_HASH_LEN],
		struct ds_chain_txinfo *out) DS_MUST_USE;

/* A state value (latest executed version by default) with its SMT proof.
 * at_height = UINT64_MAX: latest. The proof verifies against the state root
 * after executing `version`; `header_height` is the first committed header
 * with exec_height == version (0 if none yet: the proof then verifies only
 * against ds_chain_state_root). found=false: a non-inclusion proof. */
struct ds_chain_state_proof {
	bool found;
	struct ds_buf value;
	uint64_t version;
	uint8_t root[DS_HASH_LEN];
	uint64_t header_height;
	struct ds_buf proof; /* ds_smt proof encoding */
};
void ds_chain_state_proof_init(struct ds_chain_state_proof *p);
void ds_chain_state_proof_free(struct ds_chain_state_proof *p);
int ds_chain_state_get(struct ds_chain *c, const uint8_t *key, size_t key_len, uint64_t at_height,
		       struct ds_chain_state_proof *out) DS_MUST_USE;
/* Latest value only, no proof (fast path). DS_ENOTFOUND if absent. */
int ds_chain_state_value(struct ds_chain *c, const uint8_t *key, size_t key_len,
			 struct ds_buf *value) DS_MUST_USE;
/* Prefix scan of latest values (for listings: proposals, records...); calls
 * fn for at most `max` entries in key order; fn returning non-zero stops. */
int ds_chain_state_scan(struct ds_chain *c, const uint8_t *prefix, size_t prefix_len, size_t max,
			int (*fn)(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl),
			void *arg) DS_MUST_USE;
/* State and results roots after executing height h. */
int ds_chain_exec_roots(struct ds_chain *c, uint64_t h, uint8_t state_root[DS_HASH_LEN],
			uint8_t results_root[DS_HASH_LEN]) DS_MUST_USE;

/* History proof: block `old` (< newest) is leaf `old` of the history root in
 * header `newest`. proof = concatenated hashes (RFC 6962 inclusion proof in
 * a tree of size `newest`). */
int ds_chain_history_proof(struct ds_chain *c, uint64_t old, uint64_t newest,
			   struct ds_buf *proof) DS_MUST_USE;

/* Receipt proof (docs/PROTOCOL.md §7.1, §14.7): the receipt of tx `index`
 * of block `height` and an RFC 6962 inclusion proof of its leaf
 * SHA-256(0x00 || receipt hash) in the tree of tree_size (= tx_count)
 * leaves whose root is the block's results_root. The header that vouches
 * for it is `header_height` (C), the first whose exec_height >= height
 * (table exec_ref); 0 while none is committed yet. C's parent executed up
 * to range_first - 1 and C up to range_last. When range_first ==
 * range_last (= height), C.results_root is the block's root; otherwise it
 * is the range root (§5.3) and range_proof is the inclusion proof of leaf
 * SHA-256(0x00 || block root) at height - range_first in the tree of
 * range_last - range_first + 1 leaves. The node checks the receipts and
 * roots against its stored roots before answering (DS_ECORRUPT
 * otherwise). DS_ENOTFOUND: no block at height; DS_ERANGE: index >=
 * tx_count. */
struct ds_chain_receipt_proof {
	struct ds_buf receipt; /* receipt encoding */
	uint64_t tree_size;
	uint8_t results_root[DS_HASH_LEN]; /* the block's own results root */
	struct ds_buf proof;   /* concatenated 32-byte hashes, leaf level first */
	uint64_t header_height;
	uint64_t range_first, range_last;
	struct ds_buf range_proof; /* empty unless range_first < range_last */
};
void ds_chain_receipt_proof_init(struct ds_chain_receipt_proof *p);
void ds_chain_receipt_proof_free(struct ds_chain_receipt_proof *p);
int ds_chain_receipt_proof(struct ds_chain *c, uint64_t height, uint32_t index,
			   struct ds_chain_receipt_proof *out) DS_MUST_USE;

/* Store statistics for metrics. */
struct ds_chain_stats {
	uint64_t map_bytes, used_bytes;
};
void ds_chain_stats(struct ds_chain *c, struct ds_chain_stats *out);

/* Full re-verification of a node home from genesis (verify-chain). progress
 * (optional) is called now and then with (height, tip). On the first bad
 * block returns an error with *bad_height and why (a static or buffer text). */
struct ds_verify_report {
	uint64_t blocks, txs;
	uint64_t bad_height;
	char why[256];
};
int ds_chain_verify(const char *home, struct ds_verify_report *rep,
		    void (*progress)(void *arg, uint64_t h, uint64_t tip), void *arg) DS_MUST_USE;

#endif
