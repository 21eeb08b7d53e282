/* consensus — a Jolteon / DiemBFT v4 state machine (2-chain commit,
 * quadratic view change, rotating leader). Pure: no I/O, no clock, no RNG.
 *
 * Events in:  ds_cons_start, ds_cons_on_message, ds_cons_on_timer,
 *             ds_cons_reconfigure (the host passes the current time in).
 * Actions out: sends and timer requests queued inside the core and drained
 *             with ds_cons_next_action; committed blocks are handed to the
 *             host through io.deliver_commit, in height order, as soon as
 *             they are known final.
 * Callbacks (struct ds_cons_io) are called synchronously from inside the
 * ds_cons_* call that needs them and must not call back into the core.
 *
 * Wire formats, signed bytes and the rules are in docs/PROTOCOL.md
 * ("Consensus"), written from docs/PROTOCOL.md. */
#ifndef DS_CONSENSUS_H
#define DS_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "util/util.h"

#define DS_CONS_TAG_PROPOSAL "danshari/proposal/v1"
#define DS_CONS_VERSION 1
#define DS_CONS_PAYLOAD_MAX (4u << 20)   /* bytes of one block payload */
#define DS_CONS_SYNC_BLOCKS_MAX 16       /* blocks in one sync response */
#define DS_CONS_TREE_MAX 512             /* uncommitted blocks held */
#define DS_CONS_ACTIONS_MAX 1024         /* queued actions before the core fails */
/* Largest QC / TC encodings and the largest message the core will decode. */
#define DS_CONS_QC_MAX (160 + DS_VALIDATORS_MAX * (5 + DS_SIG_LEN))
#define DS_CONS_TC_MAX (16 + DS_VALIDATORS_MAX * (15 + DS_SIG_LEN))
#define DS_CONS_MSG_MAX (DS_CONS_PAYLOAD_MAX + 2 * DS_CONS_QC_MAX + DS_CONS_TC_MAX + 256)
#define DS_CONS_SYNC_MSG_MAX \
	(32 + DS_CONS_SYNC_BLOCKS_MAX * (DS_CONS_PAYLOAD_MAX + DS_CONS_QC_MAX + 64))

enum ds_cons_msg_type {
	DS_CONS_MSG_PROPOSAL = 1,
	DS_CONS_MSG_VOTE = 2,
	DS_CONS_MSG_TIMEOUT = 3,
	DS_CONS_MSG_SYNC_REQ = 4,
	DS_CONS_MSG_SYNC_RESP = 5,
};

/* Timeout certificate: one entry per signer, indices strictly increasing;
 * each signer signed (epoch, round, its high-QC round). */
struct ds_cons_tc_sig {
	uint32_t index;
	uint64_t high_qc_round;
	uint8_t sig[DS_SIG_LEN];
};
struct ds_cons_tc {
	uint64_t epoch;
	uint64_t round;
	uint32_t nsigs;
	struct ds_cons_tc_sig sigs[DS_VALIDATORS_MAX];
};

/* A block as the core sees it. id is the hash of the block's header as the
 * host defines it; the host's validate() must check that id, parent_id,
 * round, height and epoch agree with the payload. justify_qc is the
 * encoded QC certifying the parent (ds_cons_enc_qc; empty for an epoch's
 * root). Both pointers are borrowed. */
struct ds_cons_block {
	uint8_t id[DS_HASH_LEN];
	uint8_t parent_id[DS_HASH_LEN];
	uint64_t epoch;
	uint64_t round;
	uint64_t height;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *justify_qc;
	size_t justify_qc_len;
};

/* Decoded messages. Pointers borrow the decoded input buffer. */
struct ds_cons_proposal {
	uint64_t epoch;
	uint32_t author;
	uint64_t round;
	uint8_t id[DS_HASH_LEN];
	const uint8_t *payload;
	size_t payload_len;
	struct ds_qc qc;        /* certifies the parent */
	bool has_tc;
	struct ds_cons_tc tc;   /* present iff round != qc.vote.round + 1 */
	uint8_t sig[DS_SIG_LEN];
};
struct ds_cons_vote {
	uint32_t author;
	struct ds_vote_data vote;
	uint8_t sig[DS_SIG_LEN];
};
struct ds_cons_timeout {
	uint64_t epoch;
	uint32_t author;
	uint64_t round;
	struct ds_qc high_qc;
	bool has_tc;
	struct ds_cons_tc tc;   /* the TC that ended round - 1, if any */
	uint8_t sig[DS_SIG_LEN];
};

/* Encoders write into a caller buffer (NULL buf measures) and return 0 with
 * *out_len set, or DS_ETOOBIG. Decoders are strict (canonical encoding, no
 * trailing bytes, counts and sizes within the limits above) and return 0 or
 * a DS_E* code; they check shape only, never signatures. */
void ds_cons_enc_vote_data(struct ds_enc *e, const struct ds_vote_data *v);
int ds_cons_dec_vote_data(struct ds_dec *d, struct ds_vote_data *v) DS_MUST_USE;
void ds_cons_enc_qc(struct ds_enc *e, const struct ds_qc *qc);
int ds_cons_dec_qc(struct ds_dec *d, struct ds_qc *qc) DS_MUST_USE;
void ds_cons_enc_tc(struct ds_enc *e, const struct ds_cons_tc *tc);
int ds_cons_dec_tc(struct ds_dec *d, struct ds_cons_tc *tc) DS_MUST_USE;

int ds_cons_encode_proposal(uint8_t *buf, size_t cap, size_t *out_len,
			    const struct ds_cons_proposal *p) DS_MUST_USE;
int ds_cons_encode_vote(uint8_t *buf, size_t cap, size_t *out_len,
			const struct ds_cons_vote *v) DS_MUST_USE;
int ds_cons_encode_timeout(uint8_t *buf, size_t cap, size_t *out_len,
			   const struct ds_cons_timeout *t) DS_MUST_USE;
/* Reads the envelope: version, type, epoch, author. */
int ds_cons_peek(uint8_t *type, uint64_t *epoch, uint32_t *author,
		 const uint8_t *buf, size_t len) DS_MUST_USE;
int ds_cons_decode_proposal(struct ds_cons_proposal *p, const uint8_t *buf, size_t len) DS_MUST_USE;
int ds_cons_decode_vote(struct ds_cons_vote *v, const uint8_t *buf, size_t len) DS_MUST_USE;
int ds_cons_decode_timeout(struct ds_cons_timeout *t, const uint8_t *buf, size_t len) DS_MUST_USE;

/* Signed bytes of each message kind (docs: "Signed bytes"). Write into buf
 * (cap >= DS_CONS_SIGNED_MAX) and return the length. */
#define DS_CONS_SIGNED_MAX 256
size_t ds_cons_signed_vote(uint8_t *buf, const char *chain_id, const struct ds_vote_data *v);
size_t ds_cons_signed_timeout(uint8_t *buf, const char *chain_id, uint64_t epoch,
			      uint64_t round, uint64_t high_qc_round);
size_t ds_cons_signed_proposal(uint8_t *buf, const char *chain_id, uint64_t epoch,
			       uint64_t round, uint64_t height,
			       const uint8_t id[DS_HASH_LEN], const uint8_t parent_id[DS_HASH_LEN]);

/* The vote data an honest validator signs for block b whose justify QC
 * certifies parent_qc (commit fields set iff b.round == parent round + 1). */
void ds_cons_make_vote_data(struct ds_vote_data *out, const struct ds_cons_block *b,
			    const struct ds_vote_data *parent_qc);

/* Host callbacks. ctx is io.ctx. */
struct ds_cons_io {
	void *ctx;
	/* Signs msg with this node's key. Never fails (a host whose key is
	 * gone must not run the core). */
	void (*sign)(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[DS_SIG_LEN]);
	/* 0 if sig is valid for pk, DS_ESIG otherwise. */
	int (*verify)(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *msg, size_t len,
		      const uint8_t sig[DS_SIG_LEN]);
	/* Stores the safety state durably (fsync'd) before returning; the
	 * core sends no vote or timeout unless this returned 0. bytes are
	 * borrowed; the host gives them back to ds_cons_start after a restart. */
	int (*persist_safety)(void *ctx, const uint8_t *bytes, size_t len);
	/* Leader only: builds the payload of a new block at (epoch, round,
	 * height) whose parent is parent_id. Writes the block id and up to
	 * payload_cap bytes of payload. Any error: no proposal this round. */
	int (*propose)(void *ctx, uint8_t id[DS_HASH_LEN], uint8_t *payload, size_t payload_cap,
		       size_t *payload_len, uint64_t epoch, uint64_t round, uint64_t height,
		       const uint8_t parent_id[DS_HASH_LEN]);
	/* 0 if b is a valid block (id is the hash of its header and the header
	 * agrees with b's parent_id, round, height, epoch); else an error and
	 * the core neither stores nor votes for it. */
	int (*validate)(void *ctx, const struct ds_cons_block *b);
	/* A committed block, in height order, with the QC that finalises it
	 * (qc->vote.commit_hash names b or a descendant of b committed in the
	 * same call). Must be durable before returning; an error stops the
	 * core (every later call returns it). */
	int (*deliver_commit)(void *ctx, const struct ds_cons_block *b, const struct ds_qc *qc);
	/* Stores a block durably when the core accepts it into its tree
	 * (always before voting for it). A QC implies that f+1 honest nodes
	 * voted, so each holds the block and its whole ancestry on disk, and
	 * certified blocks survive even if every node restarts (they are
	 * served through load_block). The host may forget blocks at or below
	 * the committed height once deliver_commit has stored the chain. */
	int (*persist_block)(void *ctx, const struct ds_cons_block *b);
	/* A block the core no longer holds, for serving sync requests: with
	 * id == NULL the committed block at `height`; otherwise block `id` at
	 * `height`, committed or persisted by persist_block. Fills *b with its
	 * payload and justify_qc copied into buf (cap bytes) and pointing
	 * there; DS_ENOTFOUND if the host has no such block. May be NULL
	 * (then only blocks in memory are served). */
	int (*load_block)(void *ctx, struct ds_cons_block *b, uint8_t *buf, size_t cap,
			  const uint8_t *id, uint64_t height);
};

/* Test-only deliberate bugs, used to prove the simulator catches them.
 * Always 0 in production. */
enum {
	DS_CONS_MUT_NO_PERSIST = 1u << 0,   /* safety state never written */
	DS_CONS_MUT_NO_LOCK = 1u << 1,      /* ignore the TC high-QC / lock rules */
	DS_CONS_MUT_COMMIT_1CHAIN = 1u << 2,/* commit a block as soon as it has a QC */
	DS_CONS_MUT_VOTE_TWICE = 1u << 3,   /* no last-voted-round check */
};

struct ds_cons_root {
	uint8_t id[DS_HASH_LEN];
	uint64_t round;
	uint64_t height;
};

struct ds_cons_config {
	char chain_id[DS_CHAIN_ID_MAX + 1];
	uint64_t epoch;
	struct ds_valset valset;      /* copied; valset.epoch must equal epoch */
	uint32_t self_index;          /* UINT32_MAX: observer, never signs */
	struct ds_cons_root genesis;  /* the epoch's first block, final by fiat */
	uint64_t base_timeout_ms;     /* round timeout after progress */
	uint64_t max_timeout_ms;      /* cap of the exponential back-off */
	size_t payload_max_bytes;     /* largest block payload; 0: DS_CONS_PAYLOAD_MAX */
	uint32_t test_mutations;      /* DS_CONS_MUT_*; 0 outside tests */
};

enum ds_cons_drop {
	DS_CONS_DROP_MALFORMED = 0,
	DS_CONS_DROP_NON_VALIDATOR,
	DS_CONS_DROP_WRONG_EPOCH,
	DS_CONS_DROP_BAD_SIG,
	DS_CONS_DROP_BAD_QC,
	DS_CONS_DROP_BAD_TC,
	DS_CONS_DROP_WRONG_LEADER,
	DS_CONS_DROP_STALE,
	DS_CONS_DROP_INVALID_BLOCK,
	DS_CONS_DROP_DUPLICATE,
	DS_CONS_DROP_EQUIVOCATION,
	DS_CONS_DROP_TREE_FULL,
	DS_CONS_DROP_UNSOLICITED,
	DS_CONS_DROP__COUNT
};
const char *ds_cons_drop_name(enum ds_cons_drop r);

struct ds_cons_stats {
	uint64_t dropped[DS_CONS_DROP__COUNT];
	uint64_t proposals_sent, votes_sent, timeouts_sent, qcs_formed, tcs_formed;
	uint64_t blocks_committed, sync_requests;
};

enum ds_cons_action_kind {
	DS_CONS_ACT_SEND = 1,      /* msg to validator `to` */
	DS_CONS_ACT_BROADCAST = 2, /* msg to every other validator */
	DS_CONS_ACT_TIMER = 3,     /* call ds_cons_on_timer at or after at_ms;
				    * replaces any earlier timer request */
};
struct ds_cons_action {
	enum ds_cons_action_kind kind;
	uint32_t to;
	const uint8_t *msg; /* owned by the core; valid until the next call into it */
	size_t len;
	uint64_t at_ms;
};

struct ds_cons;

/* Creates a core (not started). cfg and io are copied. *out owned on
 * success (free with ds_cons_free). DS_EINVAL on a bad config. */
int ds_cons_new(struct ds_cons **out, const struct ds_cons_config *cfg,
		const struct ds_cons_io *io) DS_MUST_USE;
void ds_cons_free(struct ds_cons *c);

/* Starts at now_ms. safety/safety_len: bytes last given to persist_safety
 * (NULL/0 on first start). root: the last committed block (NULL: genesis).
 * DS_ECORRUPT if the safety bytes do not decode or belong to another chain;
 * DS_ESTATE if already started. */
int ds_cons_start(struct ds_cons *c, uint64_t now_ms, const uint8_t *safety, size_t safety_len,
		  const struct ds_cons_root *root) DS_MUST_USE;

/* One message from validator `from` (the transport's authenticated peer).
 * Invalid messages are dropped and counted, and return 0: only a failure of
 * the core itself (a host callback error, a full action queue) is an error,
 * after which the core stays failed. */
int ds_cons_on_message(struct ds_cons *c, uint64_t now_ms, uint32_t from,
		       const uint8_t *msg, size_t len) DS_MUST_USE;
/* The timer requested by the last DS_CONS_ACT_TIMER fired (early or stale
 * calls are ignored). */
int ds_cons_on_timer(struct ds_cons *c, uint64_t now_ms) DS_MUST_USE;
/* New epoch after `root` (a committed block) with a new validator set
 * (copied). Rounds restart at 1; messages of other epochs are dropped. */
int ds_cons_reconfigure(struct ds_cons *c, uint64_t now_ms, const struct ds_valset *vs,
			uint64_t epoch, const struct ds_cons_root *root) DS_MUST_USE;

/* Pops the next action into *a; returns false when none is left. The
 * action's msg stays valid until the next call into the core. */
bool ds_cons_next_action(struct ds_cons *c, struct ds_cons_action *a);

/* Introspection (borrowed, valid until the next call). */
const struct ds_cons_stats *ds_cons_stats(const struct ds_cons *c);
uint64_t ds_cons_round(const struct ds_cons *c);
uint64_t ds_cons_last_voted_round(const struct ds_cons *c);
uint64_t ds_cons_committed_height(const struct ds_cons *c);
const struct ds_qc *ds_cons_high_qc(const struct ds_cons *c);
uint32_t ds_cons_leader(const struct ds_cons *c, uint64_t round);

/* Checks a QC against a validator set: distinct increasing indices, at
 * least 2f+1 of n signers, every signature valid under DS_TAG_VOTE. This is
 * also the light client's finality check. 0, DS_EINVAL or DS_ESIG. */
int ds_cons_verify_qc(const struct ds_qc *qc, const char *chain_id, const struct ds_valset *vs,
		      int (*verify)(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *msg,
				    size_t len, const uint8_t sig[DS_SIG_LEN]),
		      void *ctx) DS_MUST_USE;
/* 2f+1 for n = 3f+1 (generally n - floor((n-1)/3)). */
uint32_t ds_cons_quorum(uint32_t n);

#endif
