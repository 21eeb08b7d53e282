/* ledger — transactions, block headers, blocks, quorum certificates and
 * receipts: their canonical encodings (docs/PROTOCOL.md), hashes and
 * signatures. Pure: no I/O, no clock, no allocation in encoders/decoders.
 *
 * Domain separation: every signed or hashed object starts its signed/hashed
 * bytes with an ASCII tag (no length, no NUL) followed by the chain id as a
 * codec `str`, so a signature is never valid on another chain or as another
 * message type. Transactions and headers carry their own version byte first
 * and the chain id right after it, so for them the signed/hashed bytes are
 * exactly tag || encoding (= tag || u8 version || str chain_id || ...).
 * Decoded structs borrow variable-length fields (args, tx bytes)
 * from the input buffer: keep the buffer alive while the struct is used.
 * Byte layouts: docs/PROTOCOL.md (merged into docs/PROTOCOL.md). */
#ifndef DS_LEDGER_H
#define DS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/util.h"

#define DS_CHAIN_ID_MAX 64        /* bytes of chain id, printable ASCII [a-z0-9._-] */
#define DS_NAME_MAX 64            /* module/contract and method names [a-z0-9_.] */
#define DS_TX_ARGS_MAX (64u << 10) /* bytes of encoded call arguments */
#define DS_TX_MAX (DS_TX_ARGS_MAX + 512)
#define DS_BLOCK_TXS_MAX 20000    /* transactions per block */
#define DS_VALIDATORS_MAX 128

#define DS_TAG_TX "danshari/tx/v1"
#define DS_TAG_TXID "danshari/txid/v1"
#define DS_TAG_HEADER "danshari/header/v1"
#define DS_TAG_VOTE "danshari/vote/v1"
#define DS_TAG_TIMEOUT "danshari/timeout/v1"
#define DS_TAG_RECEIPT "danshari/receipt/v1"
#define DS_TAG_VALSET "danshari/valset/v1"

/* Transaction. Replay protection: a tx is valid only while the chain height
 * is below expiry_height (and expiry_height <= height + the chain's
 * max_tx_lifetime parameter); its id is refused forever once committed. The
 * nonce only makes otherwise identical transactions distinct. */
struct ds_tx {
	uint8_t version; /* 1 */
	char chain_id[DS_CHAIN_ID_MAX + 1];
	uint8_t sender[DS_PK_LEN];
	uint64_t nonce;
	uint64_t expiry_height;
	char target[DS_NAME_MAX + 1]; /* module or contract name */
	char method[DS_NAME_MAX + 1];
	const uint8_t *args; /* canonical value encoding; borrowed */
	size_t args_len;
	uint8_t sig[DS_SIG_LEN];
};

/* Block header (hash = SHA-256(DS_TAG_HEADER || header encoding); the
 * encoding starts with the version byte and str(chain_id)). */
struct ds_header {
	uint8_t version; /* 1 */
	char chain_id[DS_CHAIN_ID_MAX + 1];
	uint64_t height;   /* genesis block is height 0 */
	uint64_t epoch;    /* validator-set epoch */
	uint64_t round;    /* consensus round that proposed it */
	uint8_t parent_hash[DS_HASH_LEN];
	uint8_t proposer[DS_PK_LEN];
	uint64_t time_ms;  /* proposer's clock; > parent's, checked by voters */
	uint32_t tx_count;
	uint8_t tx_root[DS_HASH_LEN];      /* RFC 6962 root over tx ids */
	/* Lagged execution: roots after executing every block up to and
	 * including exec_height (< height; >= parent's exec_height). */
	uint64_t exec_height;
	uint8_t state_root[DS_HASH_LEN];
	uint8_t results_root[DS_HASH_LEN]; /* RFC 6962 root over block exec_height's receipt hashes */
	uint8_t history_root[DS_HASH_LEN]; /* RFC 6962 root over hashes of blocks 0..height-1 */
	uint8_t valset_hash[DS_HASH_LEN];
};

/* What a vote signs: the certified block and, under the 2-chain rule, the
 * block this certificate commits (commit_height/commit_hash; all zero if
 * none). A QC whose vote data names block B as committed is B's finality
 * proof. Signed bytes: DS_TAG_VOTE || str(chain_id) || encoding. */
struct ds_vote_data {
	uint64_t epoch;
	uint64_t round;
	uint64_t height;
	uint8_t block_hash[DS_HASH_LEN];
	uint64_t parent_round;
	uint8_t parent_hash[DS_HASH_LEN];
	uint64_t commit_height;
	uint8_t commit_hash[DS_HASH_LEN];
};

/* Quorum certificate: 2f+1 signatures over one vote data, by validator
 * index in the epoch's validator set, indices strictly increasing. */
struct ds_qc_sig {
	uint32_t index;
	uint8_t sig[DS_SIG_LEN];
};
struct ds_qc {
	struct ds_vote_data vote;
	uint32_t nsigs;
	struct ds_qc_sig sigs[DS_VALIDATORS_MAX];
};

/* Validator set of an epoch (hash = SHA-256(DS_TAG_VALSET || encoding)). */
struct ds_validator {
	uint8_t pk[DS_PK_LEN];
	uint64_t power; /* 1 for every validator in v1 */
};
struct ds_valset {
	uint64_t epoch;
	uint32_t n;
	struct ds_validator v[DS_VALIDATORS_MAX];
};

/* Receipt of one executed transaction. */
enum ds_tx_status { DS_TX_OK = 0, DS_TX_FAILED = 1 };

#define DS_RECEIPT_ERROR_MAX 256   /* bytes of a failed call's error text */
#define DS_RECEIPT_EVENTS_MAX 64   /* events per receipt */
#define DS_EVENT_VALUE_MAX (16u << 10) /* bytes of one event's encoded value */
#define DS_RECEIPT_RETURN_MAX (64u << 10) /* bytes of the encoded return value */
#define DS_BLOCK_MAX (32u << 20)   /* bytes of one encoded block */
#define DS_HEADER_MAX 512          /* bytes of one encoded header (upper bound) */
#define DS_QC_MAX (DS_VOTE_DATA_MAX + 5 + DS_VALIDATORS_MAX * (5 + DS_SIG_LEN))
#define DS_VOTE_DATA_MAX (5 * 10 + 3 * DS_HASH_LEN)
#define DS_VALSET_MAX (10 + 5 + DS_VALIDATORS_MAX * (DS_PK_LEN + 10))
/* Tag || body of the largest transaction: what ds_tx_sign/verify need as scratch. */
#define DS_TX_SCRATCH_LEN (sizeof(DS_TAG_TX) - 1 + DS_TX_MAX)

/* One event emitted by a call: a name and a canonical value (borrowed). */
struct ds_event {
	char name[DS_NAME_MAX + 1];
	const uint8_t *value;
	size_t value_len;
};

/* Receipt (hash = SHA-256(DS_TAG_RECEIPT || encoding)). tx_id binds the
 * receipt to its transaction so a results root proves "tx T had outcome R".
 * error is empty when status is DS_TX_OK. ret is the call's return value,
 * a canonical value (null when the call returned nothing); borrowed. */
struct ds_receipt {
	uint8_t version; /* 1 */
	uint8_t tx_id[DS_HASH_LEN];
	uint8_t status;  /* enum ds_tx_status */
	char error[DS_RECEIPT_ERROR_MAX + 1];
	uint64_t gas_used; /* instructions metered by the VM */
	uint32_t nevents;
	struct ds_event events[DS_RECEIPT_EVENTS_MAX];
	const uint8_t *ret;
	size_t ret_len;
};

/* A decoded block: the header and its transactions, still encoded (each one
 * validated by ds_block_decode); iterate with ds_block_tx_next. Borrowed. */
struct ds_block {
	struct ds_header header;
	const uint8_t *txs; /* tx_count × bytes(tx encoding) */
	size_t txs_len;
};

/* Names: module/contract, method and event names are 1..DS_NAME_MAX bytes of
 * [a-z0-9_.]; chain ids 1..DS_CHAIN_ID_MAX bytes of [a-z0-9._-]. */
bool ds_ledger_name_valid(const char *s);
bool ds_ledger_chain_id_valid(const char *s);

/* All encoders write to out (cap bytes; out may be NULL to measure) and set
 * *out_len. They return 0, DS_EINVAL when the struct breaks a rule its
 * decoder enforces (so we never emit what we would refuse), or DS_ETOOBIG
 * when cap is too small. All decoders are strict: exactly one encoding is
 * accepted per value, anything else returns an error (DS_ETRUNC,
 * DS_ETRAILING, DS_EVERSION, DS_ETOOBIG, DS_ERANGE, DS_EINVAL, ...) and
 * leaves the output struct zeroed. Decoders never allocate; borrowed fields
 * point into the input. */

/* Transactions. body = u8 version || str chain_id || fixed32 sender ||
 * uvar nonce || uvar expiry_height || str target || str method || bytes args;
 * tx = body || fixed64 sig. Signed bytes: DS_TAG_TX || body.
 * Id: SHA-256(DS_TAG_TXID || body) (signature excluded). */
int ds_tx_encode_body(uint8_t *out, size_t cap, size_t *out_len, const struct ds_tx *tx) DS_MUST_USE;
int ds_tx_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_tx *tx) DS_MUST_USE;
/* Decodes body || sig. */
int ds_tx_decode(struct ds_tx *tx, const uint8_t *p, size_t len) DS_MUST_USE;
/* Decodes an unsigned body (the "unsigned tx" file); tx->sig is zeroed. */
int ds_tx_decode_body(struct ds_tx *tx, const uint8_t *p, size_t len) DS_MUST_USE;
/* ds_tx_decode (with_sig) or ds_tx_decode_body, and on error *field names
 * where decoding stopped ("length", "version", "chain_id", "sender", "nonce",
 * "expiry_height", "target", "method", "args", "signature", "end" for
 * trailing bytes) so tools can say what is wrong; NULL on success. */
int ds_tx_decode_diag(struct ds_tx *tx, const char **field, const uint8_t *p, size_t len,
		      bool with_sig) DS_MUST_USE;
/* Id of a valid tx (DS_EINVAL if its fields break the rules). No scratch:
 * the body is hashed in pieces. */
int ds_tx_id(uint8_t id[DS_HASH_LEN], const struct ds_tx *tx) DS_MUST_USE;
/* Id from the encoded body bytes (e.g. the first len-64 bytes of a decoded tx). */
void ds_tx_id_body(uint8_t id[DS_HASH_LEN], const uint8_t *body, size_t body_len);
/* Signs tx in place with sk (seed || pk). scratch must hold
 * DS_TX_SCRATCH_LEN bytes (or at least tag + body): Ed25519 needs the whole
 * message contiguous. Returns 0, DS_EPERM if sk's public key is not
 * tx->sender, DS_EINVAL for an invalid tx, DS_ETOOBIG for a short scratch. */
int ds_tx_sign(struct ds_tx *tx, const uint8_t sk[DS_SK_LEN], uint8_t *scratch,
	       size_t scratch_cap) DS_MUST_USE;
/* Returns 0 if tx->sig is the sender's valid signature, DS_ESIG if not,
 * DS_EINVAL / DS_ETOOBIG as for ds_tx_sign. */
int ds_tx_verify(const struct ds_tx *tx, uint8_t *scratch, size_t scratch_cap) DS_MUST_USE;

/* Headers. Hash = SHA-256(DS_TAG_HEADER || encoding). */
int ds_header_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_header *h) DS_MUST_USE;
int ds_header_decode(struct ds_header *h, const uint8_t *p, size_t len) DS_MUST_USE;
int ds_header_hash(uint8_t hash[DS_HASH_LEN], const struct ds_header *h) DS_MUST_USE;

/* Blocks: header encoding || uvar tx_count || tx_count × bytes(tx).
 * The decoder checks tx_count == header.tx_count <= DS_BLOCK_TXS_MAX, each tx
 * decodes and carries the header's chain id, and header.tx_root is the
 * RFC 6962 root over the tx ids. Signatures are NOT checked here (that is
 * the mempool's/consensus' parallel job). The block hash is the header hash.
 * txs[i] are encoded transactions (body || sig), borrowed. */
int ds_block_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_header *h,
		    const struct ds_iov *txs, size_t ntxs) DS_MUST_USE;
int ds_block_decode(struct ds_block *b, const uint8_t *p, size_t len) DS_MUST_USE;
/* Iterates a decoded block's transactions: returns 1 with the next tx's
 * encoding (borrowed), 0 at the end. *pos starts at 0. */
int ds_block_tx_next(const struct ds_block *b, size_t *pos, const uint8_t **tx, size_t *tx_len);
/* RFC 6962 Merkle tree hash over 32-byte leaves (tx ids, receipt hashes):
 * leaf = SHA-256(0x00 || id), node = SHA-256(0x01 || left || right), empty
 * tree = SHA-256(""). Streaming, no allocation. */
void ds_ledger_merkle_root(uint8_t root[DS_HASH_LEN], const uint8_t (*ids)[DS_HASH_LEN], size_t n);

/* Votes: encoding = uvar epoch || uvar round || uvar height || fixed32
 * block_hash || uvar parent_round || fixed32 parent_hash || uvar
 * commit_height || fixed32 commit_hash. Signed bytes (written to out,
 * at most sizeof(DS_TAG_VOTE) + 1 + DS_CHAIN_ID_MAX + DS_VOTE_DATA_MAX):
 * DS_TAG_VOTE || str(chain_id) || encoding. */
int ds_vote_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_vote_data *v) DS_MUST_USE;
int ds_vote_decode(struct ds_vote_data *v, const uint8_t *p, size_t len) DS_MUST_USE;
#define DS_VOTE_SIGNING_MAX (sizeof(DS_TAG_VOTE) + 1 + DS_CHAIN_ID_MAX + DS_VOTE_DATA_MAX)
int ds_vote_signing_bytes(uint8_t *out, size_t cap, size_t *out_len, const struct ds_vote_data *v,
			  const char *chain_id) DS_MUST_USE;
void ds_vote_sign(uint8_t sig[DS_SIG_LEN], const struct ds_vote_data *v, const char *chain_id,
		  const uint8_t sk[DS_SK_LEN]);

/* QCs: vote encoding || uvar nsigs || nsigs × (uvar index || fixed64 sig).
 * The decoder checks nsigs <= DS_VALIDATORS_MAX and indices strictly
 * increasing and < DS_VALIDATORS_MAX; ds_qc_verify checks the rest. */
int ds_qc_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_qc *qc) DS_MUST_USE;
int ds_qc_decode(struct ds_qc *qc, const uint8_t *p, size_t len) DS_MUST_USE;
/* Quorum of a set of n validators: floor(2n/3) + 1 (2f+1 for n = 3f+1). */
uint32_t ds_qc_quorum(uint32_t n);
/* Verifies qc against the epoch's validator set: qc->vote.epoch == vs->epoch
 * (else DS_EINVAL), indices strictly increasing and < vs->n (else DS_EINVAL),
 * every signature valid over the vote's signed bytes (else DS_ESIG), and at
 * least ds_qc_quorum(vs->n) of them (else DS_EPROOF). Returns 0 if all hold. */
int ds_qc_verify(const struct ds_qc *qc, const struct ds_valset *vs, const char *chain_id) DS_MUST_USE;

/* Validator sets: uvar epoch || uvar n || n × (fixed32 pk || uvar power).
 * 1 <= n <= DS_VALIDATORS_MAX, keys distinct, power == 1 (v1).
 * Hash = SHA-256(DS_TAG_VALSET || encoding). */
int ds_valset_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_valset *vs) DS_MUST_USE;
int ds_valset_decode(struct ds_valset *vs, const uint8_t *p, size_t len) DS_MUST_USE;
int ds_valset_hash(uint8_t hash[DS_HASH_LEN], const struct ds_valset *vs) DS_MUST_USE;

/* Receipts: u8 version || fixed32 tx_id || u8 status || str error ||
 * uvar gas_used || uvar nevents || nevents × (str name || bytes value) ||
 * bytes ret. Values and ret are canonical values (codec.h); error must be
 * empty iff status is DS_TX_OK. */
int ds_receipt_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_receipt *r) DS_MUST_USE;
int ds_receipt_decode(struct ds_receipt *r, const uint8_t *p, size_t len) DS_MUST_USE;
/* Hash needs the encoding; scratch must hold it (ds_receipt_encode with
 * out == NULL gives the size). */
int ds_receipt_hash(uint8_t hash[DS_HASH_LEN], const struct ds_receipt *r, uint8_t *scratch,
		    size_t scratch_cap) DS_MUST_USE;
/* The same hash of a receipt already encoded (enc, len bytes). */
void ds_receipt_hash_bytes(uint8_t hash[DS_HASH_LEN], const uint8_t *enc, size_t len);

/* The results_root of a header that executes blocks p+1 .. x, p being its
 * parent's exec_height (docs/PROTOCOL.md §5.3): block_roots[i] is the
 * results root of block p+1+i, n = x - p >= 1. One block: its own root.
 * Several (a proposer that caught up): the RFC 6962 root over the leaves
 * SHA-256(0x00 || block root), so every executed block's receipts stay
 * provable. Returns DS_EINVAL for n == 0 or DS_ENOMEM. */
int ds_results_range_root(uint8_t out[DS_HASH_LEN], const uint8_t (*block_roots)[DS_HASH_LEN],
			  uint64_t n) DS_MUST_USE;

/* The whole rule, for a header that executes up to x whose parent executed
 * up to p (x >= p): block x's own root when x <= p + 1 (none or one block
 * executed), else ds_results_range_root over blocks p+1 .. x. block_root
 * gives the results root of one block (0, or its error, returned as is).
 * The chain (stored roots) and verify-chain (re-executed roots) share it. */
int ds_results_root_for(uint8_t out[DS_HASH_LEN], uint64_t p, uint64_t x,
			int (*block_root)(void *ctx, uint64_t h, uint8_t root[DS_HASH_LEN]),
			void *ctx) DS_MUST_USE;

#endif
