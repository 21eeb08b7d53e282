/* chain internals shared by chain_*.c, the CLI helpers and white-box tests
 * (corruption tests locate stored values through these table ids). */
#ifndef DS_CHAIN_INT_H
#define DS_CHAIN_INT_H

#include "chain/chain.h"
#include "exec/exec.h"
#include "merkle/merkle.h"
#include "store/store.h"

/* Tables of the chain store (docs/PROTOCOL.md). Order = table id. */
enum {
	DS__T_META,     /* "genesis", "genesis_hash", "tip", "frontier", "prune_floor" */
	DS__T_BLOCKS,   /* u64be height -> bytes(block) || bytes(qc) (qc empty at 0) */
	DS__T_HEADERS,  /* u64be height -> header encoding */
	DS__T_HASHES,   /* block hash -> u64be height */
	DS__T_TXIDX,    /* tx id -> u64be height || u32be index */
	DS__T_NODES,    /* SMT node key -> node encoding */
	DS__T_STALE,    /* u64be stale_since || node key -> "" */
	DS__T_LATEST,   /* state key -> latest value */
	DS__T_VALUES,   /* SHA-256(value) -> value (any retained version) */
	DS__T_RECEIPTS, /* u64be height || u32be index -> receipt encoding */
	DS__T_ROOTS,    /* u64be height -> state_root || results_root after executing it */
	DS__T_HISTORY,  /* u8 level || u64be index -> complete subtree hash of the history tree */
	DS__T_VALSETS,  /* u64be epoch -> valset encoding */
	DS__T_EXECREF,  /* u64be exec_height -> u64be first header height carrying it */
	DS__T_SUFFIX,   /* u64be epoch-end height -> suffix headers (ds_chain_commit_end) */
	DS__T_EPOCHROOTS, /* u64be epoch (>= 1) -> u64be height of the epoch end before it */
	DS__T_COUNT
};
extern const char *const ds__chain_tables[DS__T_COUNT];

#define DS__PARAMS_KEY "chain/params"
#define DS__PRUNE_STEP_MAX 200000 /* stale nodes deleted per commit at most */

/* Process-wide module set used by ds_chain_open and ds_chain_verify. */
void ds__chain_modules(const struct ds_exec_module **mods, size_t *n,
		       int (**authorize)(struct ds_exec_call *call));

/* Genesis record stored under meta "genesis":
 * u8 1 || str chain_id || uvar time_ms || bytes(valset) || uvar max_tx_lifetime
 * || uvar block_txs_max || uvar retain_versions || uvar n || n x (bytes key || bytes val). */
int ds__chain_genesis_encode(struct ds_buf *out, const struct ds_genesis *g) DS_MUST_USE;
/* Fills g; g->state is an owned array (*state_owned, free it) of pointers into p. */
int ds__chain_genesis_decode(struct ds_genesis *g, struct ds_kv **state_owned, const uint8_t *p,
			     size_t len) DS_MUST_USE;
/* Validates g, builds the genesis header, its hash and the version-0 SMT
 * changeset (cs initialised here; free it even on error). */
int ds__chain_genesis_build(const struct ds_genesis *g, struct ds_header *hdr,
			    uint8_t hash[DS_HASH_LEN], struct ds_smt_changeset *cs) DS_MUST_USE;
/* The value stored under DS__PARAMS_KEY (canonical value map). */
int ds__chain_params_value(uint8_t *out, size_t cap, size_t *len,
			   const struct ds_chain_params *p) DS_MUST_USE;

/* Links of header h to its parent: everything ds_chain_check_header checks
 * except the exec roots and history root, which the caller supplies:
 * exec_ok(ctx, x, state, results) returns 0, DS_EAGAIN (x not executed) or
 * an error. why gets a static reason. */
int ds__chain_check_links(const struct ds_header *h, const struct ds_header *parent,
			  const uint8_t parent_hash[DS_HASH_LEN], const char *chain_id,
			  const struct ds_valset *vs, const uint8_t history_root[DS_HASH_LEN],
			  const char **why) DS_MUST_USE;
/* The epoch rule (chain.h "Epochs"). A change record value (the state
 * value of DS_EXEC_SYS_VALSET_NEXT_KEY) into *out: DS_ECORRUPT when it does
 * not parse or its set is not a valid ds_valset. */
int ds__chain_change_parse(struct ds_chain_change *out, const uint8_t *v, size_t vl) DS_MUST_USE;
/* The set a ledger child of `parent` must carry: the change's set for epoch
 * parent.epoch + 1 when parent is past ch (*starts true: the parent is the
 * epoch end), else parent_set, the set of the parent's epoch. */
void ds__chain_child_set(struct ds_valset *out, bool *starts, const struct ds_chain_change *ch,
			 const struct ds_header *parent, const struct ds_valset *parent_set);
/* h.epoch against the rule's set (why: static reason). The valset hash is
 * ds__chain_check_links' job. */
int ds__chain_check_epoch(const struct ds_header *h, const struct ds_valset *want, bool starts,
			  const char **why) DS_MUST_USE;
/* Suffix of epoch end x (hash xhash) for a QC naming a later height: every
 * rule of ds_chain_commit_end. why: static reason. */
int ds__chain_check_suffix(const struct ds_header *x, const uint8_t xhash[DS_HASH_LEN],
			   const struct ds_qc *qc, const uint8_t *suffix, size_t suffix_len,
			   const char **why) DS_MUST_USE;
/* Whether qc finalises block (height, hash): its commit fields name it, or
 * name a later height (a descendant committed by the same QC). */
bool ds__chain_qc_names(const struct ds_qc *qc, uint64_t height, const uint8_t hash[DS_HASH_LEN]);
/* Writes a state-tree changeset (nodes and the stale index) inside a store
 * write, exactly as a commit does (the benchmark measures this code). */
int ds__chain_put_changeset(struct ds_wtxn *tx, const struct ds_smt_changeset *cs) DS_MUST_USE;

/* ---- test kit: synthetic chains for tests, benches and the hidden debug
 * commands (crash test). Deterministic keys from fixed seeds: never use on a
 * real network. ------------------------------------------------------------ */
#define DS__KIT_VALS 4
struct ds__kit {
	struct ds_genesis g;
	uint8_t val_sk[DS__KIT_VALS][DS_SK_LEN];
	uint8_t user_pk[DS_PK_LEN];
	uint8_t user_sk[DS_SK_LEN];
	uint64_t nonce;
	uint8_t *scratch; /* DS_TX_SCRATCH_LEN */
};
/* retain: SMT versions kept (0 = all). nonce_base keeps tx ids distinct
 * across runs that reuse one chain. */
int ds__kit_init(struct ds__kit *k, const char *chain_id, uint64_t retain, uint64_t nonce_base) DS_MUST_USE;
void ds__kit_free(struct ds__kit *k);
/* Builds the block after c's tip with ntx signed kv txs (put "k<r % key_space>"
 * = int nonce; every 16th tx a del; every 32nd a failing call) and a QC by
 * 3 of the 4 validators naming it as committed. *block reset first. */
int ds__kit_block(struct ds__kit *k, struct ds_chain *c, uint32_t ntx, uint64_t key_space,
		  uint64_t *rng, struct ds_buf *block, struct ds_qc *qc) DS_MUST_USE;
/* A signed tx into out (reset first). */
int ds__kit_tx(struct ds__kit *k, struct ds_buf *out, const char *method, const char *key,
	       int64_t value, uint64_t expiry) DS_MUST_USE;
/* Builds block h from a header prepared by ds_chain_next_header plus txs. */
int ds__kit_seal(struct ds__kit *k, struct ds_header *h, const struct ds_iov *txs, size_t ntx,
		 struct ds_buf *block, struct ds_qc *qc) DS_MUST_USE;

#endif
