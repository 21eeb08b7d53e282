/* verify — client-side verification of what a node serves: a block header
 * certified by a quorum of a validator set the CLIENT trusts, a transaction
 * included under a certified header's tx root, its receipt under the
 * results root of a later certified header, a state value (or its
 * absence) under a certified header's state root, and an old block in the
 * history root of a newer certified header.
 *
 * Pure: no I/O, no JSON, no allocation (except ds_verify_handoff's value
 * parser). The node's claims (its validator
 * list, its "committed" status) are never inputs: every check is against the
 * trusted set and the bytes themselves. Every function returns 0 or a
 * negative DS_E* code and, on failure, writes one line saying exactly what
 * failed into why (why_cap bytes, may be 0/NULL). ds_crypto_init() must
 * have been called.
 *
 * Finality (docs/API.md "Verifying"): header H is final when a QC, valid
 * for the trusted validator set, has vote data whose commit_hash is H's
 * hash and commit_height H's height; or whose commit names a descendant D
 * of H, when the caller also supplies the encoded headers from H+1 up to D,
 * each naming the previous as parent (a QC commits a whole branch). The
 * genesis header carries no QC: it verifies only against a trusted genesis
 * hash. */
#ifndef DS_VERIFY_H
#define DS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "util/util.h"

/* Headers between a header and the descendant its QC commits. */
#define DS_VERIFY_CHAIN_MAX 64

/* What the client trusts: the chain id, the validator set of one epoch and,
 * optionally, the genesis hash. Plain value. */
struct ds_verify_trust {
	char chain_id[DS_CHAIN_ID_MAX + 1]; /* "" = take the header's (weaker: noted by callers) */
	struct ds_valset vs;
	bool has_genesis_hash;
	uint8_t genesis_hash[DS_HASH_LEN];
};

/* Fills t from n public keys (power 1 each, in validator index order).
 * chain_id may be NULL ("" then). Returns 0, DS_EINVAL (n == 0, n >
 * DS_VALIDATORS_MAX, duplicate key, bad chain id). */
int ds_verify_trust_init(struct ds_verify_trust *t, const char *chain_id, uint64_t epoch,
			 const uint8_t (*pks)[DS_PK_LEN], size_t n) DS_MUST_USE;

/* A header that passed ds_verify_header. */
struct ds_verified_header {
	struct ds_header h;
	uint8_t hash[DS_HASH_LEN];
	uint64_t qc_round;        /* round of the QC that finalised it (0 for genesis) */
	uint32_t qc_signers;      /* signatures in that QC */
	uint64_t final_via;       /* height named by the QC's commit (== h.height, or a descendant) */
};

/* Verifies header (encoded, as ds_header_encode) with qc (encoded, as
 * ds_qc_encode; qc_len 0 only for genesis) and, when the QC commits a
 * descendant, chain[0..nchain) = the encoded headers of heights
 * h.height+1 .. commit_height, oldest first (borrowed). Checks, in order:
 * the header decodes; its chain id is the trusted one; the QC decodes; its
 * epoch is the trusted set's; its signatures verify against the trusted
 * set with a quorum (ds_qc_verify); it commits this header directly or
 * through the supplied descendant chain. On success fills *out. */
int ds_verify_header(struct ds_verified_header *out, const struct ds_verify_trust *t,
		     const uint8_t *header, size_t header_len, const uint8_t *qc, size_t qc_len,
		     const struct ds_iov *chain, size_t nchain, char *why, size_t why_cap) DS_MUST_USE;

/* Verifies that tx (encoded body || sig) is leaf `index` of the tx root of
 * the verified header vh, whose tree has tree_size leaves (must equal
 * vh->h.tx_count), with the RFC 6962 inclusion path (leaf upward; borrowed).
 * Also checks the tx decodes, names vh's chain id and carries its sender's
 * valid signature. id (may be NULL) receives the tx id. */
int ds_verify_tx(uint8_t id[DS_HASH_LEN], const struct ds_verified_header *vh, const uint8_t *tx,
		 size_t tx_len, uint64_t index, uint64_t tree_size, const uint8_t (*path)[DS_HASH_LEN],
		 size_t path_len, char *why, size_t why_cap) DS_MUST_USE;

/* Verifies that ids[0..n) are exactly the block's transactions: n ==
 * vh->h.tx_count and their RFC 6962 root is vh->h.tx_root. */
int ds_verify_tx_ids(const struct ds_verified_header *vh, const uint8_t (*ids)[DS_HASH_LEN], size_t n,
		     char *why, size_t why_cap) DS_MUST_USE;

/* Verifies a state claim against vh's state root: the header must commit
 * the state after executing `version` (vh->h.exec_height == version).
 * value != NULL claims key -> value; value == NULL claims key is absent.
 * proof is the SMT proof encoding (ds_smt_proof_encode). */
int ds_verify_state(const struct ds_verified_header *vh, uint64_t version, const uint8_t *key,
		    size_t key_len, const uint8_t *value, size_t value_len, const uint8_t *proof,
		    size_t proof_len, char *why, size_t why_cap) DS_MUST_USE;

/* Verifies that block_hash is the hash of block `height` of the chain whose
 * newest verified header is vh: leaf `height` (leaf = SHA-256(0x00 || hash))
 * of the RFC 6962 tree of vh->h.height leaves with root vh->h.history_root.
 * height < vh->h.height. */
int ds_verify_history(const struct ds_verified_header *vh, uint64_t height,
		      const uint8_t block_hash[DS_HASH_LEN], const uint8_t (*path)[DS_HASH_LEN],
		      size_t path_len, char *why, size_t why_cap) DS_MUST_USE;

/* ---- A receipt (docs/PROTOCOL.md §14.7) ----
 * The receipt of the tx at `index` of block B (block: B's verified header,
 * which fixes B's height and tx_count) is leaf `index` (leaf =
 * SHA-256(0x00 || SHA-256("danshari/receipt/v1" || receipt))) of the
 * RFC 6962 tree of B.tx_count leaves whose root is B's results root. A
 * header C vouches for it: the first with C.exec_height >= B.height
 * (exec_ref). Without `range`, C.exec_height == B.height and C's
 * results_root is B's root. With `range`, C executed the blocks
 * P.exec_height+1 .. C.exec_height (P: C's parent header, range->parent,
 * whose hash must be C.parent_hash), at least two of them including B, and
 * range->path proves leaf SHA-256(0x00 || B's root) at B.height -
 * P.exec_height - 1 of that many leaves under C.results_root (§5.3).
 * Checks, in order: C certifies under t (header/qc/chain as
 * ds_verify_header; t must be C's epoch, which may be after B's); C names
 * B's chain and executes B; the inclusion paths lead to C.results_root; the
 * receipt decodes strictly and names tx id `id`. On success *out (may be
 * NULL) is the decoded receipt, borrowing `receipt` (its events and return
 * value point into it), and *carrier (may be NULL) the certified C.
 * Returns 0, or DS_EPROOF / DS_ESIG / DS_ECHAIN / a decode error with the
 * reason in why. */
struct ds_verify_range {
	const uint8_t *parent; /* C's parent header encoding */
	size_t parent_len;
	const uint8_t (*path)[DS_HASH_LEN];
	size_t path_len;
};
int ds_verify_receipt(struct ds_receipt *out, struct ds_verified_header *carrier,
		      const struct ds_verify_trust *t, const struct ds_verified_header *block,
		      const uint8_t id[DS_HASH_LEN], uint64_t index, const uint8_t *receipt,
		      size_t receipt_len, const uint8_t (*path)[DS_HASH_LEN], size_t path_len,
		      const struct ds_verify_range *range, const uint8_t *header, size_t header_len,
		      const uint8_t *qc, size_t qc_len, const struct ds_iov *chain, size_t nchain,
		      char *why, size_t why_cap) DS_MUST_USE;

/* ---- Following validator changes (docs/PROTOCOL.md §14.6) ----
 * A trust in epoch k moves to epoch k+1 only by proof from epoch k: a header
 * X of epoch k certified by the trusted set (ds_verify_header: its QC, and
 * when that QC names a later block, the linking headers, which for the end
 * block of an epoch are its suffix headers), and an SMT proof that the state
 * X commits (version X.exec_height, root X.state_root) holds the key
 * DS_VERIFY_VALSET_NEXT_KEY with the given value. The value must parse as a
 * pending validator change (ds_exec_sys_valset_next) for epoch k+1 whose
 * since height is <= X.exec_height: X is then past the change, so the chain's
 * next ledger block after it starts epoch k+1 with exactly that set (the
 * record's keys in order, power 1). Any certified epoch-k header past the
 * change works; the epoch's end block (GET /v1/epochs root_height) is the
 * natural one. */
#define DS_VERIFY_VALSET_NEXT_KEY "sys/valset/next" /* == DS_EXEC_SYS_VALSET_NEXT_KEY */
#define DS_VERIFY_HANDOFF_MAX 64 /* epochs a client walks for one query */

/* Advances t from its epoch k to k+1. header/qc/chain as ds_verify_header
 * (against t as it is); value (value_len bytes, the raw state value) and
 * proof (ds_smt_proof encoding) for DS_VERIFY_VALSET_NEXT_KEY. Checks, in
 * order: X certifies under t; the proof shows the value under X's state
 * root; the value parses; its epoch is k+1; its since height is <=
 * X.exec_height. On success t->vs is the new set (chain id and genesis hash
 * kept) and *end (may be NULL) the certified X; on failure t is unchanged.
 * Returns 0, or DS_EPROOF / DS_ESIG / DS_ECORRUPT / a decode error with the
 * reason in why. Allocates a little (the value parser). */
int ds_verify_handoff(struct ds_verify_trust *t, struct ds_verified_header *end, const uint8_t *header,
		      size_t header_len, const uint8_t *qc, size_t qc_len, const struct ds_iov *chain,
		      size_t nchain, const uint8_t *value, size_t value_len, const uint8_t *proof,
		      size_t proof_len, char *why, size_t why_cap) DS_MUST_USE;

#endif
