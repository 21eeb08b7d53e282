/* ledger — transactions, block headers, blocks, quorum certificates and
 * receipts: their canonical encodings (docs/PROTOCOL.md), hashes and
 * signatures. Pure: no I/O, no clock, no allocation in encoders/decoders.
 *
 * Domain separation: every signed or hashed object starts its signed/hashed
 * bytes with an ASCII tag (no length, no NUL) followed by the chain id as a
 * codec `str`, so a signature is never valid on another chain or as another
 * message type. Decoded structs borrow variable-length fields (args, tx bytes)
 * from the input buffer: keep the buffer alive while the struct is used. */
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

/* Block header (hash = SHA-256(DS_TAG_HEADER || chain_id || header encoding)). */
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

#endif
