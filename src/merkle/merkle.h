/* merkle — the two authenticated data structures of danshari.
 *
 *  1. The RFC 6962 / RFC 9162 Merkle tree ("log"): tx root, results root and
 *     history root of a block header. Root, inclusion and consistency proofs,
 *     their verification, and an incremental appender (frontier) that the
 *     ledger keeps for the history root.
 *  2. A sparse Merkle tree over SHA-256(key) ("SMT", Jellyfish/Diem style):
 *     the state root. Versioned by height, nodes live in a store reached
 *     through function pointers, a batch update returns a changeset that the
 *     caller persists, inclusion and non-inclusion proofs verify against the
 *     root alone.
 *
 * Byte layouts, hash inputs and verification algorithms: docs/PROTOCOL.md
 * ("Merkle log", "State tree"); docs/PROTOCOL.md is its source.
 *
 * Pure module: no I/O, no clock, no randomness. The log functions never
 * allocate. The SMT update allocates only the changeset it returns (owned by
 * the caller, freed with ds_smt_changeset_free); the in-memory node store
 * (ds_smt_mem_*) allocates its table and node copies. ds_crypto_init() must
 * have been called before any function here. Rules for pointers and errors:
 * util/util.h. */
#ifndef DS_MERKLE_H
#define DS_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "util/util.h"

/* ===================================================================== */
/* RFC 6962 log                                                           */
/* ===================================================================== */

/* Longest inclusion proof: ceil(log2(n)) <= 64 hashes for n < 2^64.
 * Longest consistency proof: ceil(log2(n)) + 1 <= 65 hashes. */
#define DS_MERKLE_INCL_MAX 64
#define DS_MERKLE_CONS_MAX 65

/* leaf = SHA-256(0x00 || data). */
void ds_merkle_leaf_hash(uint8_t out[DS_HASH_LEN], const void *data, size_t len);
/* node = SHA-256(0x01 || left || right). */
void ds_merkle_node_hash(uint8_t out[DS_HASH_LEN], const uint8_t left[DS_HASH_LEN],
			 const uint8_t right[DS_HASH_LEN]);
/* Root of the empty tree: SHA-256(""). */
void ds_merkle_empty_root(uint8_t out[DS_HASH_LEN]);

/* Where proof generation reads leaf hashes (and, optionally, hashes of
 * complete aligned subtrees, so a store that keeps them makes proofs
 * O(log n) instead of O(n)).
 *  leaf:    required. Writes leaf hash i (i < n) into out. Returns 0 or an
 *           error, which is passed back to the caller unchanged.
 *  subtree: may be NULL. Writes the hash of the complete subtree of 2^level
 *           leaves starting at leaf index << level. Returns 0, DS_ENOTFOUND
 *           when it does not have it (the hash is then computed from the
 *           leaves), or another error, passed back unchanged.
 * Both are called only for ranges inside [0, n). */
struct ds_merkle_src {
	int (*leaf)(void *ctx, uint64_t i, uint8_t out[DS_HASH_LEN]);
	int (*subtree)(void *ctx, unsigned level, uint64_t index, uint8_t out[DS_HASH_LEN]);
	void *ctx;
};
/* A source over a plain array of n leaf hashes (ctx = the array, borrowed). */
struct ds_merkle_src ds_merkle_src_array(const uint8_t (*leaves)[DS_HASH_LEN]);

/* Root over n leaf hashes (n may be 0). Returns 0 or the source's error.
 * Reads each leaf once, in order, with O(log n) stack. */
int ds_merkle_root(uint8_t out[DS_HASH_LEN], const struct ds_merkle_src *src, uint64_t n) DS_MUST_USE;
/* Same, over an array of n leaf hashes. Cannot fail. */
void ds_merkle_root_array(uint8_t out[DS_HASH_LEN], const uint8_t (*leaves)[DS_HASH_LEN], uint64_t n);

/* Inclusion proof (RFC 9162 §2.1.3.1) for leaf index in a tree of n leaves,
 * hashes from the leaf level up, into path (DS_MERKLE_INCL_MAX entries).
 * Returns 0 and *path_len, DS_ERANGE if index >= n, or the source's error. */
int ds_merkle_inclusion_proof(uint8_t path[][DS_HASH_LEN], size_t *path_len,
			      const struct ds_merkle_src *src, uint64_t index, uint64_t n) DS_MUST_USE;
/* Consistency proof (RFC 9162 §2.1.4.1) between sizes m and n (0 < m <= n)
 * into path (DS_MERKLE_CONS_MAX entries). m == n gives an empty proof.
 * Returns 0 and *path_len, DS_ERANGE if m == 0 or m > n, or the source's error. */
int ds_merkle_consistency_proof(uint8_t path[][DS_HASH_LEN], size_t *path_len,
				const struct ds_merkle_src *src, uint64_t m, uint64_t n) DS_MUST_USE;

/* The root that an inclusion path implies for leaf_hash at index of a tree
 * of n leaves (RFC 9162 §2.1.3.2), for a caller that checks it against
 * something else than one known root. Returns 0, or DS_EPROOF (index >= n,
 * wrong path length). */
int ds_merkle_inclusion_root(uint8_t root[DS_HASH_LEN], uint64_t n, uint64_t index,
			     const uint8_t leaf_hash[DS_HASH_LEN], const uint8_t path[][DS_HASH_LEN],
			     size_t path_len) DS_MUST_USE;
/* Verifies that leaf_hash is leaf index of the tree of n leaves with root
 * (RFC 9162 §2.1.3.2). Returns 0, or DS_EPROOF for anything else
 * (index >= n, wrong length, wrong hash). Variable time (public data). */
int ds_merkle_verify_inclusion(const uint8_t root[DS_HASH_LEN], uint64_t n, uint64_t index,
			       const uint8_t leaf_hash[DS_HASH_LEN],
			       const uint8_t path[][DS_HASH_LEN], size_t path_len) DS_MUST_USE;
/* Verifies that the tree of n leaves with root2 extends the tree of m leaves
 * with root1 (RFC 9162 §2.1.4.2). m == 0 is refused (nothing to prove; as in
 * transparency-dev/merkle); m == n needs an empty path and root1 == root2.
 * Returns 0 or DS_EPROOF. */
int ds_merkle_verify_consistency(const uint8_t root1[DS_HASH_LEN], uint64_t m,
				 const uint8_t root2[DS_HASH_LEN], uint64_t n,
				 const uint8_t path[][DS_HASH_LEN], size_t path_len) DS_MUST_USE;

/* Level cache: every complete aligned subtree hash of a tree of n leaves,
 * in a caller buffer of ds_merkle_levels_count(n) hashes (< 2n). Level 0 is
 * the leaves, level l holds floor(n / 2^l) hashes. Its source serves proofs
 * in O(log n) hash reads. Used by tests and benches, and by any caller that
 * keeps a whole tree in memory. */
struct ds_merkle_levels {
	uint8_t (*hashes)[DS_HASH_LEN]; /* borrowed, ds_merkle_levels_count(n) entries */
	uint64_t n;
};
uint64_t ds_merkle_levels_count(uint64_t n);
/* Fills lv->hashes from the n leaves (copied in as level 0). */
void ds_merkle_levels_build(struct ds_merkle_levels *lv, uint8_t (*buf)[DS_HASH_LEN],
			    const uint8_t (*leaves)[DS_HASH_LEN], uint64_t n);
/* Source reading from lv (borrowed for as long as the source is used). */
struct ds_merkle_src ds_merkle_levels_src(const struct ds_merkle_levels *lv);

/* Frontier ("compact range" [0, size)): the roots of the complete subtrees
 * that make up a tree of `size` leaves, largest first, one per set bit of
 * size: at most 64 hashes. Append is O(log n) amortised O(1) hashes, root is
 * O(log n). Plain value: copy it freely; zero-initialised is the empty tree. */
struct ds_merkle_frontier {
	uint64_t size;
	uint8_t hashes[64][DS_HASH_LEN]; /* popcount(size) valid entries */
};
#define DS_MERKLE_FRONTIER_ENC_MAX (1 + DS_UVAR_MAX_LEN + 64 * DS_HASH_LEN)
void ds_merkle_frontier_init(struct ds_merkle_frontier *f);
/* Appends one leaf hash. DS_ERANGE when size would pass 2^64 - 1. */
int ds_merkle_frontier_append(struct ds_merkle_frontier *f, const uint8_t leaf_hash[DS_HASH_LEN]) DS_MUST_USE;
/* Root of the tree so far (SHA-256("") when empty). */
void ds_merkle_frontier_root(uint8_t out[DS_HASH_LEN], const struct ds_merkle_frontier *f);
/* Encoding: u8 version (1) || uvar size || popcount(size) x fixed(32),
 * largest subtree first. Returns 0 and *out_len, or DS_ETOOBIG. */
int ds_merkle_frontier_encode(uint8_t *out, size_t cap, size_t *out_len,
			      const struct ds_merkle_frontier *f) DS_MUST_USE;
/* Strict decode: DS_EVERSION, DS_ETRUNC, DS_ETRAILING, DS_ENONMINIMAL as the
 * codec finds them. *f is untouched on error. */
int ds_merkle_frontier_decode(struct ds_merkle_frontier *f, const uint8_t *in, size_t len) DS_MUST_USE;

/* ===================================================================== */
/* Sparse Merkle state tree                                               */
/* ===================================================================== */
/*
 * Logical tree: a binary tree over the 256 bits of kh = SHA-256(key), most
 * significant bit of byte 0 first (bit 0 = left/right at the root). Each key
 * sits as a leaf at the shortest prefix of kh that no other key shares;
 * an empty subtree has the constant hash E.
 *   E        = SHA-256("danshari/smt/empty/v1")
 *   leaf     = SHA-256("danshari/smt/leaf/v1" || kh || vh),   vh = SHA-256(value)
 *   internal = SHA-256("danshari/smt/node/v1" || left || right)
 * The root of the empty tree is E; of a one-key tree, that key's leaf hash.
 *
 * Storage: 16-ary nodes (Jellyfish). An internal node at nibble path p holds
 * up to 16 children (their hash, version and kind); its hash is the binary
 * root of those 16 slots, 4 binary levels, where a binary subtree holding a
 * single leaf and nothing else takes that leaf's hash (so the stored tree
 * hashes exactly like the logical one). Node key = u64be version || u8 nibble
 * count || nibbles packed two per byte (high nibble first, odd tail padded
 * with 0), so one version's writes sort together after all older ones: the
 * store appends. Every version has a root node at (version, empty path).
 */

#define DS_SMT_NODE_KEY_MAX (8 + 1 + 32)
#define DS_SMT_NODE_MAX (1 + 2 + 2 + 16 * (DS_UVAR_MAX_LEN + DS_HASH_LEN))
#define DS_SMT_DEPTH_MAX 256
/* Proof encoding at its largest: kind, 64 bytes of leaf, uvar depth, bitmap,
 * 256 siblings. */
#define DS_SMT_PROOF_ENC_MAX (1 + 64 + 2 + 32 + DS_SMT_DEPTH_MAX * DS_HASH_LEN)
/* Batch limit: bounds the changeset and recursion work of one update. */
#define DS_SMT_BATCH_MAX 1000000u
/* "No version": base of the first update (the empty tree). */
#define DS_SMT_VERSION_NONE UINT64_MAX

void ds_smt_empty_hash(uint8_t out[DS_HASH_LEN]);
void ds_smt_leaf_hash(uint8_t out[DS_HASH_LEN], const uint8_t kh[DS_HASH_LEN],
		      const uint8_t vh[DS_HASH_LEN]);
void ds_smt_node_hash(uint8_t out[DS_HASH_LEN], const uint8_t left[DS_HASH_LEN],
		      const uint8_t right[DS_HASH_LEN]);

/* Read side of the node store. get copies the node stored under key into
 * out (cap >= DS_SMT_NODE_MAX is always passed) and sets *len. Returns 0,
 * DS_ENOTFOUND, or any other error (passed back unchanged). Bytes it returns
 * are untrusted: a node that fails to decode or contradicts its parent makes
 * the tree call fail with DS_ECORRUPT. */
struct ds_smt_store {
	int (*get)(void *ctx, const uint8_t *key, size_t key_len, uint8_t *out, size_t cap, size_t *len);
	void *ctx;
};

/* One update: value != NULL sets key to value (copied into the leaf as its
 * hash), value == NULL deletes it (a no-op if absent). Borrowed. */
struct ds_smt_op {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
};

/* What one update produces, for the caller to persist atomically:
 *  - nodes: put node_key -> node bytes for each;
 *  - stale: node keys that the new version no longer uses, each with
 *    stale_since = the new version. Keep them in an index sorted by
 *    (stale_since, node_key); pruning versions < p deletes every node whose
 *    stale_since <= p and those index entries (ds_smt_mem_prune does this).
 * Owned by the caller: allocated by ds_smt_update, freed by
 * ds_smt_changeset_free (safe on a zeroed struct and twice). */
struct ds_smt_node_rec {
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	uint8_t key_len;
	uint16_t val_len;
	size_t val_off; /* into changeset vals */
};
struct ds_smt_stale_rec {
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	uint8_t key_len;
};
struct ds_smt_changeset {
	uint64_t version;
	uint8_t root[DS_HASH_LEN];
	struct ds_smt_node_rec *nodes;
	size_t n_nodes, nodes_cap;
	struct ds_smt_stale_rec *stale;
	size_t n_stale, stale_cap;
	struct ds_buf vals;     /* node bytes, addressed by val_off/val_len */
	size_t n_leaves_written; /* of n_nodes: leaves (for statistics) */
};
static inline const uint8_t *ds_smt_changeset_val(const struct ds_smt_changeset *cs, size_t i)
{
	return cs->vals.data + cs->nodes[i].val_off;
}
void ds_smt_changeset_free(struct ds_smt_changeset *cs);

/* Applies ops to version base (DS_SMT_VERSION_NONE: the empty tree) and
 * describes version `version` in *cs (initialised here; free it even on
 * error). Requires version > base (when base is a version) and version
 * greater than any version already in the store: node keys are not checked
 * for reuse. Two ops on one key in a batch are refused (DS_EINVAL); order of
 * ops does not matter. Returns 0, DS_EINVAL, DS_ETOOBIG (n > DS_SMT_BATCH_MAX),
 * DS_ENOTFOUND (base not in store: pruned or never written), DS_ECORRUPT,
 * DS_ENOMEM, or a store error. */
int ds_smt_update(struct ds_smt_changeset *cs, const struct ds_smt_store *st, uint64_t base,
		  uint64_t version, const struct ds_smt_op *ops, size_t n) DS_MUST_USE;

/* Root hash of a version. Returns 0, DS_ENOTFOUND, DS_ECORRUPT or a store error. */
int ds_smt_root(uint8_t out[DS_HASH_LEN], const struct ds_smt_store *st, uint64_t version) DS_MUST_USE;
/* Looks kh up at a version: *found, and vh when found. Same errors as ds_smt_root. */
int ds_smt_get(bool *found, uint8_t vh[DS_HASH_LEN], const struct ds_smt_store *st, uint64_t version,
	       const uint8_t kh[DS_HASH_LEN]) DS_MUST_USE;

/* Proof for kh against the binary logical tree. siblings[0] is the sibling at
 * depth `depth` (next to the end point), siblings[depth-1] the child of the
 * root; an empty sibling is stored as E. The end point at depth `depth` on
 * kh's path is empty (has_leaf false) or the leaf (leaf_kh, leaf_vh), which
 * is kh's own leaf (inclusion) or another key's (non-inclusion). */
struct ds_smt_proof {
	bool has_leaf;
	uint8_t leaf_kh[DS_HASH_LEN];
	uint8_t leaf_vh[DS_HASH_LEN];
	uint16_t depth; /* <= DS_SMT_DEPTH_MAX */
	uint8_t siblings[DS_SMT_DEPTH_MAX][DS_HASH_LEN];
};
/* Builds the proof for kh at a version. Same errors as ds_smt_root. */
int ds_smt_prove(struct ds_smt_proof *p, const struct ds_smt_store *st, uint64_t version,
		 const uint8_t kh[DS_HASH_LEN]) DS_MUST_USE;
/* Verifies against root: value != NULL claims key -> value, value == NULL
 * claims key is absent. Returns 0 or DS_EPROOF. */
int ds_smt_verify(const uint8_t root[DS_HASH_LEN], const uint8_t *key, size_t key_len,
		  const uint8_t *value, size_t value_len, const struct ds_smt_proof *p) DS_MUST_USE;
/* Same with hashes: vh == NULL claims absence. */
int ds_smt_verify_hashed(const uint8_t root[DS_HASH_LEN], const uint8_t kh[DS_HASH_LEN],
			 const uint8_t *vh, const struct ds_smt_proof *p) DS_MUST_USE;
/* Proof encoding (docs/PROTOCOL.md "State proof"):
 *   u8 kind (0 empty end, 1 leaf end) || [kind 1: fixed32 leaf_kh || fixed32 leaf_vh]
 *   || uvar depth (<= 256) || bitmap of ceil(depth/8) bytes (bit i, MSB first
 *   in byte i/8, set when siblings[i] != E; unused tail bits zero)
 *   || fixed32 for each set bit, in increasing i.
 * encode returns 0 and *out_len, or DS_ETOOBIG. decode is strict: DS_ETAG,
 * DS_ERANGE (depth), DS_EINVAL (padding bits, or a listed sibling equal to E),
 * DS_ETRUNC, DS_ETRAILING, DS_ENONMINIMAL. */
int ds_smt_proof_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_smt_proof *p) DS_MUST_USE;
int ds_smt_proof_decode(struct ds_smt_proof *p, const uint8_t *in, size_t len) DS_MUST_USE;

/* Node key of (version, nibble path); nibbles[i] < 16, n <= 64. Returns its length. */
size_t ds_smt_node_key(uint8_t out[DS_SMT_NODE_KEY_MAX], uint64_t version, const uint8_t *nibbles, size_t n);

/* In-memory node store (hash table) for tests, benches and light tools.
 * Allocates: the table (grows by doubling) and one heap copy per node. */
struct ds_smt_mem;
int ds_smt_mem_new(struct ds_smt_mem **out) DS_MUST_USE;
void ds_smt_mem_free(struct ds_smt_mem *m); /* NULL is fine */
struct ds_smt_store ds_smt_mem_store(struct ds_smt_mem *m);
/* Puts every node and records every stale entry of cs (copied). On
 * DS_ENOMEM the store may hold part of cs: a test store, not a database. */
int ds_smt_mem_apply(struct ds_smt_mem *m, const struct ds_smt_changeset *cs) DS_MUST_USE;
/* Drops what versions < keep_from no longer share with later ones: deletes
 * nodes with stale_since <= keep_from. Sets *deleted if not NULL. */
void ds_smt_mem_prune(struct ds_smt_mem *m, uint64_t keep_from, size_t *deleted);
size_t ds_smt_mem_count(const struct ds_smt_mem *m);

#endif
