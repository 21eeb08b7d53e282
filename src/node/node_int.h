/* node internals shared by the files of src/node (not a public contract). */
#ifndef DS_NODE_INT_H
#define DS_NODE_INT_H

#include <jansson.h>
#include <pthread.h>

#include "keyfile/keyfile.h"
#include "mempool/mempool.h"
#include "net/net.h"
#include "chain/chain.h"
#include "node/node.h"

/* ---- strict JSON helpers (node_config.c) ---- */
enum { DS__NODE_JSTR = 1, DS__NODE_JUINT, DS__NODE_JOBJ, DS__NODE_JARR };
struct ds__node_jfield {
	const char *name;
	int type;
	bool required;
};
void ds__node_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Every member of obj listed in f, of its type; required ones present. */
int ds__node_json_check(json_t *obj, const char *where, const struct ds__node_jfield *f, size_t n,
			char *err, size_t cap) DS_MUST_USE;
/* Copies an optional string member (absent: out unchanged). */
int ds__node_json_str(char *out, size_t cap, json_t *obj, const char *key, const char *where,
		      char *err, size_t err_cap) DS_MUST_USE;
int ds__node_json_uint(uint64_t *out, json_t *obj, const char *key, uint64_t min, uint64_t max,
		       const char *where, char *err, size_t err_cap) DS_MUST_USE;
int ds__node_json_parse(json_t **out, const char *text, size_t len, const char *what, char *err,
			size_t err_cap) DS_MUST_USE;
int ds__node_read_text(char **out, size_t *len, const char *path, const char *what, char *err,
		       size_t err_cap) DS_MUST_USE;
/* Dumps j (reference stolen) with 2-space indent and a final newline. */
int ds__node_json_dump(struct ds_buf *out, json_t *j) DS_MUST_USE;
/* [a-z0-9._-]{1,64}: node ids, validator and organisation names. */
bool ds__node_name_valid(const char *s);

/* ---- frames between nodes: first byte ---- */
enum {
	DS__NODE_FRAME_CONS = 1,      /* a consensus core message follows */
	DS__NODE_FRAME_TXS = 2,       /* tx gossip: bytes(tx) repeated to the end */
	DS__NODE_FRAME_SYNC_REQ = 3,  /* uvar from_height, uvar count */
	DS__NODE_FRAME_SYNC_RESP = 4, /* uvar tip, uvar count, count x (bytes block, bytes qc) */
	DS__NODE_FRAME_DETAILS = 5,   /* credit record details (node_credit.h) */
	DS__NODE_FRAME_DETAILS_ACK = 6, /* details stored: str(record id) (node_credit.h) */
};

/* ---- the node ---- */
#define DS__NODE_PB_MAX 1024      /* pending + recent blocks held */
#define DS__NODE_PB_RETAIN 256    /* committed blocks kept to serve core sync */
#define DS__NODE_HELD_MAX 64      /* votes held back while idle */
#define DS__NODE_VBATCH 256       /* txs per signature-check job */
#define DS__NODE_VJOBS_MAX 4      /* jobs on the thread pool at once */
#define DS__NODE_VWAIT_MAX 16384  /* txs waiting for a job slot */
#define DS__NODE_GOSSIP_FLUSH (256u << 10)
#define DS__NODE_SYNC_BLOCKS 16   /* blocks per sync response */
#define DS__NODE_SYNC_BYTES (8u << 20)
#define DS__NODE_SYNC_BEHIND_MS 500 /* sync requests on later-epoch messages */
#define DS__NODE_FRAME_MAX (32u << 20)
#define DS__NODE_COMMIT_QMAX 2    /* decided blocks being or waiting to be written */

/* A block the core accepted (persist_block), kept until it is committed and
 * DS__NODE_PB_RETAIN blocks old, so its justify QC can still be served. */
struct ds__pblock {
	uint8_t id[DS_HASH_LEN];
	uint8_t parent[DS_HASH_LEN];
	uint64_t height, round;
	struct ds_header header;
	uint8_t *payload; /* NULL once committed (the chain has it) */
	size_t payload_len;
	uint8_t *justify;
	size_t justify_len;
	bool committed;
	bool file; /* also in a pending/ .blk file of an older release */
};

struct ds__vitem {
	uint8_t *tx;
	size_t len;
	uint8_t id[DS_HASH_LEN];
	uint64_t expiry;
	int rc;
	bool from_peer;
	ds_node_submit_fn done;
	void *arg;
};

struct ds__vjob {
	struct ds_node *n;
	struct ds__vjob *next;
	uint32_t count;
	struct ds__vitem items[DS__NODE_VBATCH];
};

struct ds__held {
	uint32_t from;
	uint8_t *msg;
	size_t len;
};

struct ds__node_metrics {
	struct ds_metric_series *height, *round, *blocks, *txs, *mempool_txs, *mempool_bytes,
		*peers, *votes, *timeouts, *proposals, *sig_tx, *sig_cons, *store_used,
		*rej_full, *rej_replay, *rej_expired, *rej_sig, *rej_chain, *rej_invalid, *rej_dup,
		*sync_blocks;
	struct ds_cons_stats last; /* for counter deltas */
};

struct ds_node {
	char home[DS_NODE_PATH_MAX];
	char pending_dir[DS_NODE_PATH_MAX + 16]; /* an older release's block files */
	char safety_path[DS_NODE_PATH_MAX + 16]; /* an older release's safety file */
	bool safety_file; /* it exists: removed once the log has the state */
	char wal_dir[DS_NODE_PATH_MAX + 16]; /* HOME/consensus: the consensus log */
	struct ds__wal *wal; /* node_wal.h */
	struct ds_node_config cfg;
	struct ds_node_genesis *gen;
	struct ds_key key;
	uint32_t self; /* own index in the node list (genesis validators, then observers) */
	uint32_t n;    /* nodes in that list: the net's peers */

	/* The consensus epoch (node_epoch.c): its validator set, own index in
	 * it (UINT32_MAX: observer), and validator <-> node index maps
	 * (UINT32_MAX: none). */
	struct ds_valset vs;
	uint32_t vself;
	uint32_t vidx_of_peer[DS_VALIDATORS_MAX];
	uint32_t peer_of_vidx[DS_VALIDATORS_MAX];
	bool epoch_ended;        /* this epoch's end block was decided */
	bool reconf;             /* start the next epoch after the current core call */
	bool restart_core;       /* the core's epoch ended on the chain: restart on the tip */
	struct ds_cons_root end_root; /* that end block */

	ds_loop *loop;
	ds_net *net;
	struct ds_cons *cons;
	struct ds_chain *chain;
	struct ds_mempool *mp;
	pthread_mutex_t mp_lock; /* mutations (loop) vs ds_node_tx_pending (any) */
	struct ds_api *api;
	struct ds_metrics *metrics;
	struct ds__node_metrics m;
	ds_timer *cons_timer, *tick_timer, *hold_timer, *sync_timer;

	struct ds_chain_tip tip;
	uint8_t genesis_hash[DS_HASH_LEN];
	uint64_t last_commit_ms; /* loop time */

	struct ds__pblock *pb[DS__NODE_PB_MAX];
	size_t npb;
	uint8_t *safety;
	size_t safety_len;

	/* proposal scratch: block_txs_max entries */
	struct ds_iov *prop_iov;
	uint8_t (*prop_ids)[DS_HASH_LEN];
	struct ds_buf frame; /* outgoing frame scratch */
	uint8_t pend[DS__NODE_PB_MAX][DS_HASH_LEN];      /* pending-chain scratch */
	struct ds__pblock *pend_blocks[DS__NODE_PB_MAX];

	/* admission */
	struct ds__vjob *vcur;             /* being filled */
	struct ds__vjob *vready, *vready_tail; /* full, waiting for a slot */
	uint32_t vwaiting;                 /* txs in vcur + vready */
	uint32_t vinflight_jobs;
	uint32_t vinflight_txs;
	bool vflush_posted;
	struct ds_buf gossip;
	uint32_t gossip_count;
	bool gossip_posted;

	/* idle pacing */
	struct ds__held held[DS__NODE_HELD_MAX];
	size_t nheld;

	/* block sync by height */
	bool syncing;
	bool sync_applied;     /* blocks applied since the core last started */
	uint32_t sync_peer;
	uint64_t sync_sent_ms;
	uint64_t peer_tip[DS_VALIDATORS_MAX];

	/* status */
	pthread_mutex_t st_lock;
	struct ds_node_status *st;
	uint64_t last_seen_ms[DS_VALIDATORS_MAX];
	uint64_t started_ms;

	struct ds__node_credit *credit; /* node_credit.c: private store, details */
	struct ds__committer *committer; /* node_commit.c: NULL until the first commit */

	ds_node_commit_fn hooks[DS_NODE_COMMIT_HOOKS_MAX];
	void *hook_args[DS_NODE_COMMIT_HOOKS_MAX];
	size_t nhooks;

	int fatal;
	bool stopping;
	bool cons_running;
};

/* node.c */
void ds__node_fail(struct ds_node *n, int err, const char *why);
int ds__node_cons_restart(struct ds_node *n) DS_MUST_USE;
/* A new core for set vs, rooted at genesis (the epoch's root, final by
 * fiat), started on the committed block root. */
int ds__node_cons_begin(struct ds_node *n, const struct ds_valset *vs,
			const struct ds_cons_root *genesis, const struct ds_cons_root *root) DS_MUST_USE;
struct ds__pblock *ds__node_pb_find(struct ds_node *n, const uint8_t id[DS_HASH_LEN]);
/* tip: the chain tip after this block, or NULL to read it from the chain. */
void ds__node_after_commit(struct ds_node *n, const uint8_t *block, size_t len,
			   const struct ds_block *b, const struct ds_chain_tip *tip);
int ds__node_send(struct ds_node *n, uint32_t peer, uint8_t type, const uint8_t *msg, size_t len);
void ds__node_refresh_status(struct ds_node *n);
/* Feeds one consensus message to the core and performs its actions. */
void ds__node_cons_deliver(struct ds_node *n, uint32_t from, const uint8_t *msg, size_t len);

/* node_mempool.c: admission, signature checks on the pool, gossip */
void ds__node_admit(struct ds_node *n, uint8_t *tx, size_t len, bool from_peer,
		    ds_node_submit_fn done, void *arg);
void ds__node_gossip_in(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len);
void ds__node_mempool_close(struct ds_node *n);
bool ds__node_idle(struct ds_node *n);
void ds__node_release_held(struct ds_node *n);

/* node_commit.c: blocks decided by consensus are written on a thread of
 * their own, in order; all of these run on the loop thread. */
/* Highest height handed to the committer, or the tip when none waits. */
uint64_t ds__node_commit_queued(const struct ds_node *n);
/* Queues block `height` (= queued + 1; payload, qc and suffix copied, pre
 * owned in every case). suffix: an epoch end's suffix headers
 * (ds_chain_commit_end), else NULL/0. Blocks while DS__NODE_COMMIT_QMAX
 * blocks wait. */
int ds__node_commit_enqueue(struct ds_node *n, const uint8_t *payload, size_t len, uint64_t height,
			    const struct ds_qc *qc, bool *pre, const uint8_t *suffix,
			    size_t suffix_len) DS_MUST_USE;
/* Waits until `height` is durable on the chain, or nothing is queued, or
 * the committer failed. Does not touch loop state (n->tip lags until reap). */
void ds__node_commit_wait(struct ds_node *n, uint64_t height);
/* Moves finished commits into the node: tip, pending map, hooks; stops the
 * node on a failed commit. */
void ds__node_commit_reap(struct ds_node *n);
/* Waits for every queued block, then reaps. */
void ds__node_commit_idle(struct ds_node *n);
/* Writes what is queued, joins the thread, frees it (before the chain and
 * the loop are closed). */
void ds__node_commit_stop(struct ds_node *n);

/* node_epoch.c: epochs (docs/PROTOCOL.md §11 "Epochs") */
/* Installs vs as the consensus set: index maps and the status list. */
void ds__node_set_epoch(struct ds_node *n, const struct ds_valset *vs);
/* 1 if ph is past its epoch's validator change (its children in the same
 * epoch are suffix blocks), 0 if not; DS_EAGAIN when ph's exec height is
 * not executed here; ch (optional) gets the pending change. */
int ds__node_past_change(struct ds_node *n, const struct ds_header *ph,
			 struct ds_chain_change *ch) DS_MUST_USE;
/* The suffix header after ph (parent id pid) at round, time, proposer. */
void ds__node_suffix_header(struct ds_header *h, const struct ds_header *ph,
			    const uint8_t pid[DS_HASH_LEN], uint64_t round, uint64_t time_ms,
			    const uint8_t proposer[DS_PK_LEN]);
/* The suffix headers from the block after `end` (height end_height) up to
 * the block `to` (a pending descendant), as ds_chain_commit_end wants them. */
int ds__node_suffix_evidence(struct ds_node *n, const uint8_t end[DS_HASH_LEN], uint64_t end_height,
			     const uint8_t to[DS_HASH_LEN], uint64_t to_height,
			     struct ds_buf *out) DS_MUST_USE;
/* After an end block was decided: a new core for the next epoch. */
void ds__node_next_epoch(struct ds_node *n);

/* node_sync.c */
void ds__node_sync_request(struct ds_node *n, uint32_t peer);
void ds__node_sync_on_req(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len);
void ds__node_sync_on_resp(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len);
void ds__node_sync_tick(struct ds_node *n);
/* A message of a later epoch came from peer: ask it for blocks (at most
 * one request per DS__NODE_SYNC_BEHIND_MS). */
void ds__node_sync_behind(struct ds_node *n, uint32_t peer);

#endif
