/* consensus state machine: safety rules, pacemaker, block tree, sync.
 * Follows the DiemBFT v4 / Jolteon rules; docs/PROTOCOL.md is the
 * prose version of every rule here. */
#include "consensus/consensus.h"

#include <string.h>

#define VOTE_SLOTS 8
#define LOOPBACK_MAX 16
#define LOOPBACK_STEPS 64
#define QC_CACHE 16
#define SAFETY_VERSION 1
#define BACKOFF_EXP_MAX 16

struct node {
	struct ds_cons_block b;  /* payload / justify_qc point into owned copies */
	uint8_t *payload;
	uint8_t *justify;
	struct node *parent;     /* NULL for the root */
	bool keep;               /* scratch for pruning */
};

struct vote_slot {
	bool used;
	uint8_t key[DS_HASH_LEN];  /* hash of the vote data encoding */
	struct ds_vote_data vote;
	uint32_t count;
	bool formed;
	uint8_t have[DS_VALIDATORS_MAX];
	uint8_t sigs[DS_VALIDATORS_MAX][DS_SIG_LEN];
};

struct tmo_col {
	uint64_t round;
	uint32_t count;
	uint8_t have[DS_VALIDATORS_MAX];
	uint64_t hqc[DS_VALIDATORS_MAX];
	uint8_t sigs[DS_VALIDATORS_MAX][DS_SIG_LEN];
};

struct loop_msg {
	uint8_t *msg;
	size_t len;
};

struct ds_cons {
	struct ds_cons_config cfg;
	struct ds_cons_io io;
	int failed;
	bool started;
	uint32_t n, quorum, weak; /* weak = f + 1 */
	uint64_t now_ms;

	/* Safety state (persisted). */
	uint64_t last_voted_round;
	uint64_t locked_round;     /* highest QC round voted on (DiemBFT highest_qc_round) */
	uint64_t proposed_round;   /* never propose twice in a round, even across restarts */
	struct ds_qc high_qc;
	bool has_tc;
	struct ds_cons_tc high_tc;

	/* Pacemaker. */
	uint64_t round;
	uint64_t deadline_ms;
	bool timed_out;            /* our timeout for `round` was sent */
	uint8_t *tmo_msg;
	size_t tmo_len;

	struct ds_vote_data root_vote; /* synthetic QC of the epoch's root */

	/* Block tree: tree[0..ntree) all descend from root. */
	struct node *root;
	struct node *tree[DS_CONS_TREE_MAX + 1];
	uint32_t ntree;

	bool pending_commit;
	struct ds_qc pending_qc;
	uint8_t *pending_prop;
	size_t pending_prop_len;
	uint32_t pending_from;

	bool sync_active;
	uint8_t sync_id[DS_HASH_LEN];  /* walk target */
	uint64_t sync_height;          /* its height */
	uint64_t sync_from;            /* highest height already asked for */
	uint32_t sync_peer;
	uint64_t sync_sent_ms;

	struct vote_slot *votes[VOTE_SLOTS];
	struct tmo_col tmo;

	uint8_t qc_cache[QC_CACHE][DS_HASH_LEN];
	uint32_t qc_cache_next;

	struct ds_cons_action acts[DS_CONS_ACTIONS_MAX];
	uint32_t act_head, act_count;
	uint8_t *popped;

	struct loop_msg loop[LOOPBACK_MAX];
	uint32_t loop_head, loop_count;

	uint8_t *payload_buf;  /* DS_CONS_PAYLOAD_MAX, for proposing and serving */
	uint32_t cur_peer;     /* sender of the message being handled */
	struct ds_cons_stats stats;
};

static const char *const drop_names[DS_CONS_DROP__COUNT] = {
	"malformed", "non_validator", "wrong_epoch", "bad_sig", "bad_qc", "bad_tc",
	"wrong_leader", "stale", "invalid_block", "duplicate", "equivocation",
	"tree_full", "unsolicited",
};

const char *ds_cons_drop_name(enum ds_cons_drop r)
{
	return (unsigned)r < DS_CONS_DROP__COUNT ? drop_names[r] : "unknown";
}

static void drop(struct ds_cons *c, enum ds_cons_drop r)
{
	c->stats.dropped[r]++;
}

static void fail(struct ds_cons *c, int err)
{
	if (!c->failed)
		c->failed = err ? err : DS_ESTATE;
}

static bool is_validator(const struct ds_cons *c)
{
	return c->cfg.self_index < c->n;
}

uint32_t ds_cons_leader(const struct ds_cons *c, uint64_t round)
{
	return (uint32_t)(round % c->n);
}

/* ---- actions ---- */

static void push_action(struct ds_cons *c, enum ds_cons_action_kind kind, uint32_t to,
			uint8_t *msg, size_t len, uint64_t at_ms)
{
	if (c->act_count == DS_CONS_ACTIONS_MAX) {
		free(msg);
		fail(c, DS_EFULL);
		return;
	}
	struct ds_cons_action *a = &c->acts[(c->act_head + c->act_count) % DS_CONS_ACTIONS_MAX];
	a->kind = kind;
	a->to = to;
	a->msg = msg;
	a->len = len;
	a->at_ms = at_ms;
	c->act_count++;
}

static void loopback(struct ds_cons *c, const uint8_t *msg, size_t len)
{
	if (c->loop_count == LOOPBACK_MAX) {
		fail(c, DS_EFULL);
		return;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		fail(c, DS_ENOMEM);
		return;
	}
	memcpy(copy, msg, len);
	struct loop_msg *m = &c->loop[(c->loop_head + c->loop_count) % LOOPBACK_MAX];
	m->msg = copy;
	m->len = len;
	c->loop_count++;
}

/* Sends msg (owned) to `to`, or loops it back when `to` is us. */
static void send_to(struct ds_cons *c, uint32_t to, uint8_t *msg, size_t len)
{
	if (to == c->cfg.self_index) {
		loopback(c, msg, len);
		free(msg);
		return;
	}
	push_action(c, DS_CONS_ACT_SEND, to, msg, len, 0);
}

static void broadcast(struct ds_cons *c, uint8_t *msg, size_t len, bool self_too)
{
	if (self_too && is_validator(c))
		loopback(c, msg, len);
	push_action(c, DS_CONS_ACT_BROADCAST, 0, msg, len, 0);
}

static void set_timer(struct ds_cons *c, uint64_t at_ms)
{
	c->deadline_ms = at_ms;
	if (c->act_count) {
		struct ds_cons_action *last =
			&c->acts[(c->act_head + c->act_count - 1) % DS_CONS_ACTIONS_MAX];
		if (last->kind == DS_CONS_ACT_TIMER) {
			last->at_ms = at_ms;
			return;
		}
	}
	push_action(c, DS_CONS_ACT_TIMER, 0, NULL, 0, at_ms);
}

bool ds_cons_next_action(struct ds_cons *c, struct ds_cons_action *a)
{
	free(c->popped);
	c->popped = NULL;
	if (c->act_count == 0)
		return false;
	*a = c->acts[c->act_head];
	c->act_head = (c->act_head + 1) % DS_CONS_ACTIONS_MAX;
	c->act_count--;
	c->popped = (uint8_t *)a->msg;
	return true;
}

/* ---- encoding helpers ---- */

/* Encodes with a measuring pass into a fresh heap buffer. */
#define ENCODE_ALLOC(fn, obj, out, out_len)                                   \
	do {                                                                  \
		size_t need_;                                                 \
		*(out) = NULL;                                                \
		if (fn(NULL, 0, &need_, obj) != 0)                            \
			break;                                                \
		*(out) = malloc(need_);                                       \
		if (*(out) && fn(*(out), need_, out_len, obj) != 0) {         \
			free(*(out));                                         \
			*(out) = NULL;                                        \
		}                                                             \
	} while (0)

static size_t qc_len(const struct ds_qc *qc)
{
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, NULL, 0);
	ds_cons_enc_qc(&e, qc);
	DS_ASSERT(ds_enc_finish(&e, &n) == 0);
	return n;
}

static void qc_encode(uint8_t *buf, size_t cap, const struct ds_qc *qc)
{
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, cap);
	ds_cons_enc_qc(&e, qc);
	DS_ASSERT(ds_enc_finish(&e, &n) == 0 && n == cap);
}

static int qc_decode(struct ds_qc *qc, const uint8_t *p, size_t n)
{
	struct ds_dec d;
	ds_dec_init(&d, p, n);
	(void)!ds_cons_dec_qc(&d, qc); /* sticky error, reported by finish */
	return ds_dec_finish(&d);
}

static void copy_qc(struct ds_qc *dst, const struct ds_qc *src)
{
	dst->vote = src->vote;
	dst->nsigs = src->nsigs;
	memcpy(dst->sigs, src->sigs, src->nsigs * sizeof(src->sigs[0]));
}

static void copy_tc(struct ds_cons_tc *dst, const struct ds_cons_tc *src)
{
	dst->epoch = src->epoch;
	dst->round = src->round;
	dst->nsigs = src->nsigs;
	memcpy(dst->sigs, src->sigs, src->nsigs * sizeof(src->sigs[0]));
}

/* ---- verification ---- */

static bool cache_has(struct ds_cons *c, const uint8_t key[DS_HASH_LEN])
{
	for (uint32_t i = 0; i < QC_CACHE; i++)
		if (memcmp(c->qc_cache[i], key, DS_HASH_LEN) == 0)
			return true;
	return false;
}

static void cache_put(struct ds_cons *c, const uint8_t key[DS_HASH_LEN])
{
	memcpy(c->qc_cache[c->qc_cache_next], key, DS_HASH_LEN);
	c->qc_cache_next = (c->qc_cache_next + 1) % QC_CACHE;
}

static void cert_key(uint8_t key[DS_HASH_LEN], uint8_t kind, const struct ds_qc *qc,
		     const struct ds_cons_tc *tc)
{
	uint8_t buf[DS_CONS_TC_MAX > DS_CONS_QC_MAX ? DS_CONS_TC_MAX : DS_CONS_QC_MAX];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_enc_u8(&e, kind);
	if (qc)
		ds_cons_enc_qc(&e, qc);
	else
		ds_cons_enc_tc(&e, tc);
	DS_ASSERT(ds_enc_finish(&e, &n) == 0);
	ds_sha256(key, buf, n);
}

static int verify_qc(struct ds_cons *c, const struct ds_qc *qc)
{
	if (qc->nsigs == 0)
		return memcmp(&qc->vote, &c->root_vote, sizeof(qc->vote)) == 0 ? 0 : DS_EINVAL;
	uint8_t key[DS_HASH_LEN];
	cert_key(key, 1, qc, NULL);
	if (cache_has(c, key))
		return 0;
	int err = ds_cons_verify_qc(qc, c->cfg.chain_id, &c->cfg.valset, c->io.verify, c->io.ctx);
	if (err == 0)
		cache_put(c, key);
	return err;
}

static int verify_tc(struct ds_cons *c, const struct ds_cons_tc *tc)
{
	if (tc->epoch != c->cfg.epoch || tc->nsigs < c->quorum || tc->nsigs > c->n)
		return DS_EINVAL;
	for (uint32_t i = 0; i < tc->nsigs; i++)
		if (tc->sigs[i].index >= c->n)
			return DS_EINVAL;
	uint8_t key[DS_HASH_LEN];
	cert_key(key, 2, NULL, tc);
	if (cache_has(c, key))
		return 0;
	for (uint32_t i = 0; i < tc->nsigs; i++) {
		uint8_t msg[DS_CONS_SIGNED_MAX];
		size_t len = ds_cons_signed_timeout(msg, c->cfg.chain_id, tc->epoch, tc->round,
						    tc->sigs[i].high_qc_round);
		if (c->io.verify(c->io.ctx, c->cfg.valset.v[tc->sigs[i].index].pk, msg, len,
				 tc->sigs[i].sig) != 0)
			return DS_ESIG;
	}
	cache_put(c, key);
	return 0;
}

static uint64_t tc_max_hqc(const struct ds_cons_tc *tc)
{
	uint64_t m = 0;
	for (uint32_t i = 0; i < tc->nsigs; i++)
		if (tc->sigs[i].high_qc_round > m)
			m = tc->sigs[i].high_qc_round;
	return m;
}

/* ---- safety rules (DiemBFT v4 section 4.2) ---- */

static bool safe_to_vote(const struct ds_cons *c, uint64_t block_round, uint64_t qc_round,
			 const struct ds_cons_tc *tc)
{
	uint64_t floor = c->last_voted_round > qc_round ? c->last_voted_round : qc_round;
	if (c->cfg.test_mutations & DS_CONS_MUT_VOTE_TWICE)
		floor = qc_round;
	if (block_round <= floor)
		return false;
	if (block_round == qc_round + 1)
		return true;
	if (!tc || block_round != tc->round + 1)
		return false;
	if (c->cfg.test_mutations & DS_CONS_MUT_NO_LOCK)
		return true;
	return qc_round >= tc_max_hqc(tc);
}

static bool safe_to_timeout(const struct ds_cons *c, uint64_t round, uint64_t qc_round,
			    const struct ds_cons_tc *tc)
{
	if (qc_round < c->locked_round && !(c->cfg.test_mutations & DS_CONS_MUT_NO_LOCK))
		return false;
	uint64_t floor = c->last_voted_round > 0 ? c->last_voted_round - 1 : 0;
	if (qc_round > floor)
		floor = qc_round;
	if (round <= floor)
		return false;
	return round == qc_round + 1 || (tc && round == tc->round + 1);
}

/* Safety state: version, chain id, epoch, last voted round, locked round,
 * proposed round, high QC, optional high TC. Written before any vote,
 * timeout or proposal leaves the node. */
static int persist(struct ds_cons *c)
{
	if (c->cfg.test_mutations & DS_CONS_MUT_NO_PERSIST)
		return 0;
	struct ds_enc e;
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint8_t *buf = NULL;
		if (pass == 1) {
			buf = malloc(n);
			if (!buf)
				return DS_ENOMEM;
		}
		ds_enc_init(&e, buf, n);
		ds_enc_u8(&e, SAFETY_VERSION);
		ds_enc_str(&e, c->cfg.chain_id);
		ds_enc_uvar(&e, c->cfg.epoch);
		ds_enc_uvar(&e, c->last_voted_round);
		ds_enc_uvar(&e, c->locked_round);
		ds_enc_uvar(&e, c->proposed_round);
		ds_cons_enc_qc(&e, &c->high_qc);
		ds_enc_bool(&e, c->has_tc);
		if (c->has_tc)
			ds_cons_enc_tc(&e, &c->high_tc);
		DS_ASSERT(ds_enc_finish(&e, &n) == 0);
		if (pass == 1) {
			int err = c->io.persist_safety(c->io.ctx, buf, n);
			free(buf);
			return err;
		}
	}
	return 0;
}

/* ---- block tree ---- */

static struct node *find(struct ds_cons *c, const uint8_t id[DS_HASH_LEN])
{
	for (uint32_t i = 0; i < c->ntree; i++)
		if (memcmp(c->tree[i]->b.id, id, DS_HASH_LEN) == 0)
			return c->tree[i];
	return NULL;
}

static void node_free(struct node *nd)
{
	if (!nd)
		return;
	free(nd->payload);
	free(nd->justify);
	free(nd);
}

static struct node *node_new(const struct ds_cons_block *b)
{
	struct node *nd = calloc(1, sizeof(*nd));
	if (!nd)
		return NULL;
	nd->b = *b;
	nd->payload = malloc(b->payload_len ? b->payload_len : 1);
	nd->justify = malloc(b->justify_qc_len ? b->justify_qc_len : 1);
	if (!nd->payload || !nd->justify) {
		node_free(nd);
		return NULL;
	}
	if (b->payload_len)
		memcpy(nd->payload, b->payload, b->payload_len);
	if (b->justify_qc_len)
		memcpy(nd->justify, b->justify_qc, b->justify_qc_len);
	nd->b.payload = nd->payload;
	nd->b.justify_qc = nd->justify;
	return nd;
}

/* Stores a checked block (copied). Returns 0, or a drop reason + 1. */
static int store_block(struct ds_cons *c, const struct ds_cons_block *b)
{
	if (find(c, b->id))
		return 0;
	if (b->height <= c->root->b.height)
		return DS_CONS_DROP_STALE + 1;
	/* Callers fetch ancestors first, so the parent is always here. */
	struct node *p = find(c, b->parent_id);
	if (!p)
		return DS_CONS_DROP_UNSOLICITED + 1;
	if (p->b.height + 1 != b->height || p->b.round >= b->round)
		return DS_CONS_DROP_INVALID_BLOCK + 1;
	if (c->ntree > DS_CONS_TREE_MAX)
		return DS_CONS_DROP_TREE_FULL + 1;
	for (uint32_t i = 0; i < c->ntree; i++)
		if (c->tree[i]->b.round == b->round && c->tree[i] != c->root)
			c->stats.dropped[DS_CONS_DROP_EQUIVOCATION]++;
	/* Every stored block goes to disk first: a voter of a certified block
	 * then holds its whole ancestry and can serve it after a restart. */
	int err = c->io.persist_block(c->io.ctx, b);
	if (err) {
		fail(c, err);
		return 0;
	}
	struct node *nd = node_new(b);
	if (!nd) {
		fail(c, DS_ENOMEM);
		return 0;
	}
	nd->parent = p;
	c->tree[c->ntree++] = nd;
	return 0;
}

/* Keeps only the new root and its descendants. */
static void prune(struct ds_cons *c, struct node *new_root)
{
	for (uint32_t i = 0; i < c->ntree; i++) {
		struct node *x = c->tree[i];
		x->keep = false;
		for (uint32_t k = 0; x && k <= c->ntree; k++, x = x->parent) {
			if (x == new_root) {
				c->tree[i]->keep = true;
				break;
			}
		}
	}
	uint32_t j = 0;
	for (uint32_t i = 0; i < c->ntree; i++) {
		if (c->tree[i]->keep)
			c->tree[j++] = c->tree[i];
		else
			node_free(c->tree[i]);
	}
	c->ntree = j;
	new_root->parent = NULL;
	c->root = new_root;
}

/* ---- sync ---- */

/* Sync walks forward from what we hold: "send me the ancestors of block
 * `target` (at target_height) from height from_height + 1 upwards". Blocks
 * then arrive parent first and go straight into the tree; a node any number
 * of blocks behind catches up DS_CONS_SYNC_BLOCKS_MAX blocks per round trip. */
static void send_sync_req(struct ds_cons *c, uint32_t peer)
{
	uint8_t buf[96];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_enc_u8(&e, DS_CONS_VERSION);
	ds_enc_u8(&e, DS_CONS_MSG_SYNC_REQ);
	ds_enc_uvar(&e, c->cfg.epoch);
	ds_enc_uvar(&e, c->cfg.self_index);
	ds_enc_fixed(&e, c->sync_id, DS_HASH_LEN);
	ds_enc_uvar(&e, c->sync_height);
	ds_enc_uvar(&e, c->sync_from);
	ds_enc_uvar(&e, DS_CONS_SYNC_BLOCKS_MAX);
	DS_ASSERT(ds_enc_finish(&e, &n) == 0);
	uint8_t *m = malloc(n);
	if (!m) {
		fail(c, DS_ENOMEM);
		return;
	}
	memcpy(m, buf, n);
	c->sync_sent_ms = c->now_ms;
	c->sync_peer = peer;
	c->stats.sync_requests++;
	send_to(c, peer, m, n);
}

static void request_sync(struct ds_cons *c, uint32_t peer, const uint8_t id[DS_HASH_LEN],
			 uint64_t height)
{
	/* peer may be this node: a restarted leader whose high QC certifies a
	 * block it persisted but has not loaded into the tree yet serves the
	 * walk to itself through the loopback (with one validator nobody else
	 * could); the blocks get the same checks as a peer's. */
	if (peer >= c->n || height <= c->root->b.height)
		return;
	/* One walk at a time; a new one only for a higher target or after the
	 * old one went quiet (its messages may have been lost). */
	if (c->sync_active && height <= c->sync_height &&
	    c->now_ms < c->sync_sent_ms + c->cfg.base_timeout_ms)
		return;
	c->sync_active = true;
	memcpy(c->sync_id, id, DS_HASH_LEN);
	c->sync_height = height;
	c->sync_from = c->root->b.height;
	send_sync_req(c, peer);
}

static void enc_block(struct ds_enc *e, const struct ds_cons_block *b)
{
	ds_enc_uvar(e, b->round);
	ds_enc_fixed(e, b->id, DS_HASH_LEN);
	ds_enc_bytes(e, b->payload, b->payload_len);
	ds_enc_bytes(e, b->justify_qc, b->justify_qc_len);
}

/* Finds block id/height in the tree or, failing that, on the host's disk
 * (buf must hold payload_max + DS_CONS_QC_MAX bytes). */
static int get_block(struct ds_cons *c, struct ds_cons_block *b, uint8_t *buf,
		     const uint8_t *id, uint64_t height)
{
	struct node *nd = id ? find(c, id) : NULL;
	if (!nd && c->root->b.height == height && c->root->b.justify_qc_len &&
	    (!id || memcmp(c->root->b.id, id, DS_HASH_LEN) == 0))
		nd = c->root;
	if (nd && nd->b.justify_qc_len) {
		*b = nd->b;
		return 0;
	}
	if (!c->io.load_block)
		return DS_ENOTFOUND;
	int err = c->io.load_block(c->io.ctx, b, buf, c->cfg.payload_max_bytes + DS_CONS_QC_MAX,
				   id, height);
	if (err)
		return err;
	if (b->height != height || (id && memcmp(b->id, id, DS_HASH_LEN) != 0) ||
	    !b->justify_qc_len)
		return DS_ECORRUPT;
	return 0;
}

static void serve_sync(struct ds_cons *c, uint32_t from, struct ds_dec *d)
{
	uint8_t id[DS_HASH_LEN];
	uint64_t height, lo, max;
	ds_dec_fixed(d, id, DS_HASH_LEN);
	ds_dec_uvar(d, &height);
	ds_dec_uvar(d, &lo);
	ds_dec_uvar_max(d, &max, DS_CONS_SYNC_BLOCKS_MAX);
	if (ds_dec_finish(d) != 0 || max == 0 || lo >= height) {
		drop(c, DS_CONS_DROP_MALFORMED);
		return;
	}
	uint64_t hi = lo + max < height ? lo + max : height; /* serve lo+1 .. hi */
	uint32_t count = (uint32_t)(hi - lo);
	struct ds_cons_block blocks[DS_CONS_SYNC_BLOCKS_MAX];
	uint8_t *bufs[DS_CONS_SYNC_BLOCKS_MAX] = {0};
	uint8_t *scratch = NULL, *out = NULL;
	size_t bufcap = c->cfg.payload_max_bytes + DS_CONS_QC_MAX, n = 0;
	struct ds_enc e;
	for (uint32_t i = 0; i < count; i++)
		if (!(bufs[i] = malloc(bufcap)))
			goto fail;
	if (!(scratch = malloc(bufcap)))
		goto fail;
	/* Above our committed root the target's ancestors are found by
	 * walking parent links (bounded by the tree size); at or below it the
	 * committed block at each height is the ancestor. */
	uint64_t h = height;
	uint32_t steps = 0;
	while (h > c->root->b.height && h > lo) {
		struct ds_cons_block b;
		uint8_t *buf = h <= hi ? bufs[h - lo - 1] : scratch;
		if (++steps > DS_CONS_TREE_MAX || get_block(c, &b, buf, id, h) != 0)
			goto fail;
		if (h <= hi)
			blocks[h - lo - 1] = b;
		memcpy(id, b.parent_id, DS_HASH_LEN);
		h--;
	}
	for (; h > lo; h--)
		if (h <= hi && get_block(c, &blocks[h - lo - 1], bufs[h - lo - 1], NULL, h) != 0)
			goto fail;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && !(out = malloc(n)))
			goto fail;
		ds_enc_init(&e, out, n);
		ds_enc_u8(&e, DS_CONS_VERSION);
		ds_enc_u8(&e, DS_CONS_MSG_SYNC_RESP);
		ds_enc_uvar(&e, c->cfg.epoch);
		ds_enc_uvar(&e, c->cfg.self_index);
		ds_enc_uvar(&e, count);
		for (uint32_t i = 0; i < count; i++)
			enc_block(&e, &blocks[i]);
		if (ds_enc_finish(&e, &n) != 0)
			goto fail;
	}
	send_to(c, from, out, n);
	out = NULL;
fail:
	for (uint32_t i = 0; i < DS_CONS_SYNC_BLOCKS_MAX; i++)
		free(bufs[i]);
	free(scratch);
	free(out);
}

static void process_qc(struct ds_cons *c, const struct ds_qc *qc);
static void handle(struct ds_cons *c, uint32_t from, const uint8_t *msg, size_t len);

/* Checks one block from a proposal or sync response: its justify QC and
 * the host's validation. Fills b. Returns 0 or a drop reason + 1. */
static int check_block(struct ds_cons *c, struct ds_cons_block *b, struct ds_qc *qc,
		       uint64_t round, const uint8_t id[DS_HASH_LEN], const uint8_t *payload,
		       size_t payload_len, const uint8_t *qc_bytes, size_t qc_bytes_len)
{
	if (verify_qc(c, qc) != 0)
		return DS_CONS_DROP_BAD_QC + 1;
	if (round <= qc->vote.round)
		return DS_CONS_DROP_MALFORMED + 1;
	memset(b, 0, sizeof(*b));
	memcpy(b->id, id, DS_HASH_LEN);
	memcpy(b->parent_id, qc->vote.block_hash, DS_HASH_LEN);
	b->epoch = c->cfg.epoch;
	b->round = round;
	b->height = qc->vote.height + 1;
	b->payload = payload;
	b->payload_len = payload_len;
	b->justify_qc = qc_bytes;
	b->justify_qc_len = qc_bytes_len;
	if (c->io.validate(c->io.ctx, b) != 0)
		return DS_CONS_DROP_INVALID_BLOCK + 1;
	return 0;
}

static void after_new_blocks(struct ds_cons *c)
{
	if (c->pending_commit) {
		struct ds_qc *qc = malloc(sizeof(*qc));
		if (!qc) {
			fail(c, DS_ENOMEM);
			return;
		}
		copy_qc(qc, &c->pending_qc);
		c->pending_commit = false;
		process_qc(c, qc);
		free(qc);
	}
	if (c->pending_prop && !c->failed) {
		uint8_t *m = c->pending_prop;
		size_t len = c->pending_prop_len;
		c->pending_prop = NULL;
		handle(c, c->pending_from, m, len);
		free(m);
	}
}

static void on_sync_resp(struct ds_cons *c, uint32_t from, struct ds_dec *d)
{
	uint64_t count;
	ds_dec_uvar_max(d, &count, DS_CONS_SYNC_BLOCKS_MAX);
	if (d->err || count == 0) {
		drop(c, DS_CONS_DROP_MALFORMED);
		return;
	}
	if (!c->sync_active) {
		drop(c, DS_CONS_DROP_UNSOLICITED);
		return;
	}
	struct ds_qc *qcs = malloc(sizeof(*qcs) * (size_t)count);
	if (!qcs) {
		fail(c, DS_ENOMEM);
		return;
	}
	uint32_t ok = 0;
	uint64_t top = 0;
	uint8_t prev[DS_HASH_LEN];
	for (uint32_t i = 0; i < count; i++) {
		uint64_t round;
		uint8_t id[DS_HASH_LEN];
		const uint8_t *payload, *qcb;
		size_t plen, qlen;
		struct ds_cons_block b;
		ds_dec_uvar(d, &round);
		ds_dec_fixed(d, id, DS_HASH_LEN);
		ds_dec_bytes(d, &payload, &plen, c->cfg.payload_max_bytes);
		ds_dec_bytes(d, &qcb, &qlen, DS_CONS_QC_MAX);
		if (d->err || qc_decode(&qcs[i], qcb, qlen) != 0) {
			drop(c, DS_CONS_DROP_MALFORMED);
			break;
		}
		/* Parent first: each block must hang off the previous one. */
		if (i > 0 && memcmp(qcs[i].vote.block_hash, prev, DS_HASH_LEN) != 0) {
			drop(c, DS_CONS_DROP_UNSOLICITED);
			break;
		}
		memcpy(prev, id, DS_HASH_LEN);
		if (qcs[i].vote.height + 1 <= c->root->b.height) {
			top = qcs[i].vote.height + 1;
			continue; /* already final here */
		}
		if (!find(c, qcs[i].vote.block_hash)) {
			drop(c, DS_CONS_DROP_UNSOLICITED);
			break;
		}
		int r = check_block(c, &b, &qcs[i], round, id, payload, plen, qcb, qlen);
		if (!r)
			r = store_block(c, &b);
		if (r) {
			drop(c, (enum ds_cons_drop)(r - 1));
			break;
		}
		ok = i + 1;
		top = b.height;
	}
	if (ok > 0) {
		for (uint32_t i = 0; i < ok && !c->failed; i++)
			if (qcs[i].vote.height + 1 > c->root->b.height)
				process_qc(c, &qcs[i]);
		if (find(c, c->sync_id) || c->sync_height <= c->root->b.height) {
			c->sync_active = false;
		} else if (top < c->sync_height && top > c->sync_from) {
			c->sync_from = top;
			send_sync_req(c, from);
		}
		after_new_blocks(c);
	}
	free(qcs);
}

/* ---- commits ---- */

static void try_commit(struct ds_cons *c, const uint8_t id[DS_HASH_LEN], uint64_t height,
		       const struct ds_qc *qc, uint32_t peer)
{
	if (height <= c->root->b.height)
		return;
	struct node *nd = find(c, id);
	if (!nd) {
		/* Final but not here yet: remember the proof, fetch the block. */
		if (!c->pending_commit || c->pending_qc.vote.round < qc->vote.round) {
			copy_qc(&c->pending_qc, qc);
			c->pending_commit = true;
		}
		request_sync(c, peer, id, height);
		return;
	}
	if (nd->b.height != height)
		return; /* only a Byzantine quorum could sign this */
	struct node *path[DS_CONS_TREE_MAX + 1];
	uint32_t len = 0;
	for (struct node *x = nd; x != c->root; x = x->parent) {
		DS_ASSERT(x && len <= DS_CONS_TREE_MAX);
		path[len++] = x;
	}
	while (len > 0 && !c->failed) {
		struct node *x = path[--len];
		int err = c->io.deliver_commit(c->io.ctx, &x->b, qc);
		if (err) {
			fail(c, err);
			return;
		}
		c->stats.blocks_committed++;
	}
	prune(c, nd);
}

/* ---- pacemaker ---- */

static uint64_t round_timeout(const struct ds_cons *c)
{
	uint64_t k = c->round - c->high_qc.vote.round - 1;
	if (k > BACKOFF_EXP_MAX)
		k = BACKOFF_EXP_MAX;
	uint64_t t = c->cfg.base_timeout_ms << k;
	return t > c->cfg.max_timeout_ms ? c->cfg.max_timeout_ms : t;
}

static void propose(struct ds_cons *c)
{
	if (!is_validator(c) || c->round <= c->proposed_round)
		return;
	const struct ds_qc *qc = &c->high_qc;
	struct ds_cons_proposal *p = calloc(1, sizeof(*p));
	uint8_t *msg = NULL;
	size_t len = 0;
	if (!p) {
		fail(c, DS_ENOMEM);
		return;
	}
	p->epoch = c->cfg.epoch;
	p->author = c->cfg.self_index;
	p->round = c->round;
	copy_qc(&p->qc, qc);
	if (c->round != qc->vote.round + 1) {
		if (!c->has_tc || c->high_tc.round + 1 != c->round)
			goto out;
		p->has_tc = true;
		copy_tc(&p->tc, &c->high_tc);
	}
	uint64_t height = qc->vote.height + 1;
	size_t plen = 0;
	if (c->io.propose(c->io.ctx, p->id, c->payload_buf, c->cfg.payload_max_bytes, &plen,
			  c->cfg.epoch, c->round, height, qc->vote.block_hash) != 0 ||
	    plen > c->cfg.payload_max_bytes)
		goto out;
	p->payload = c->payload_buf;
	p->payload_len = plen;
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_proposal(sm, c->cfg.chain_id, c->cfg.epoch, c->round, height,
					    p->id, qc->vote.block_hash);
	c->io.sign(c->io.ctx, sm, sl, p->sig);
	ENCODE_ALLOC(ds_cons_encode_proposal, p, &msg, &len);
	if (!msg) {
		fail(c, DS_ENOMEM);
		goto out;
	}
	/* A restarted leader must not propose a second block in this round. */
	c->proposed_round = c->round;
	int err = persist(c);
	if (err) {
		free(msg);
		fail(c, err);
		goto out;
	}
	c->stats.proposals_sent++;
	broadcast(c, msg, len, true);
out:
	free(p);
}

static void advance_round(struct ds_cons *c, uint64_t round)
{
	if (round <= c->round)
		return;
	c->round = round;
	c->timed_out = false;
	free(c->tmo_msg);
	c->tmo_msg = NULL;
	c->tmo.round = round;
	c->tmo.count = 0;
	memset(c->tmo.have, 0, sizeof(c->tmo.have));
	set_timer(c, c->now_ms + round_timeout(c));
	if (ds_cons_leader(c, round) == c->cfg.self_index)
		propose(c);
}

static void process_tc(struct ds_cons *c, const struct ds_cons_tc *tc)
{
	if (!c->has_tc || tc->round > c->high_tc.round) {
		copy_tc(&c->high_tc, tc);
		c->has_tc = true;
	}
	if (tc->round >= c->round)
		advance_round(c, tc->round + 1);
}

static void process_qc_from(struct ds_cons *c, const struct ds_qc *qc, uint32_t peer)
{
	if (qc->vote.round > c->high_qc.vote.round)
		copy_qc(&c->high_qc, qc);
	/* The decoder guarantees the commit fields are set exactly when the
	 * certified block is one round above its parent. */
	if (c->cfg.test_mutations & DS_CONS_MUT_COMMIT_1CHAIN) {
		if (qc->vote.round > 0)
			try_commit(c, qc->vote.block_hash, qc->vote.height, qc, peer);
	} else if (qc->vote.round != 0 && qc->vote.round == qc->vote.parent_round + 1) {
		try_commit(c, qc->vote.commit_hash, qc->vote.commit_height, qc, peer);
	}
	if (!c->failed && qc->vote.round >= c->round)
		advance_round(c, qc->vote.round + 1);
}

static void process_qc(struct ds_cons *c, const struct ds_qc *qc)
{
	process_qc_from(c, qc, c->cur_peer);
}

static void local_timeout(struct ds_cons *c)
{
	if (!is_validator(c))
		return;
	if (!c->timed_out) {
		const struct ds_cons_tc *tc =
			c->has_tc && c->high_tc.round + 1 == c->round ? &c->high_tc : NULL;
		if (!safe_to_timeout(c, c->round, c->high_qc.vote.round, tc)) {
			/* e.g. restarted behind our own last vote: wait for peers. */
			set_timer(c, c->now_ms + round_timeout(c));
			return;
		}
		struct ds_cons_timeout *t = calloc(1, sizeof(*t));
		if (!t) {
			fail(c, DS_ENOMEM);
			return;
		}
		t->epoch = c->cfg.epoch;
		t->author = c->cfg.self_index;
		t->round = c->round;
		copy_qc(&t->high_qc, &c->high_qc);
		if (tc && c->round != c->high_qc.vote.round + 1) {
			t->has_tc = true;
			copy_tc(&t->tc, tc);
		}
		uint8_t sm[DS_CONS_SIGNED_MAX];
		size_t sl = ds_cons_signed_timeout(sm, c->cfg.chain_id, c->cfg.epoch, c->round,
						   c->high_qc.vote.round);
		c->io.sign(c->io.ctx, sm, sl, t->sig);
		ENCODE_ALLOC(ds_cons_encode_timeout, t, &c->tmo_msg, &c->tmo_len);
		free(t);
		if (!c->tmo_msg) {
			fail(c, DS_ENOMEM);
			return;
		}
		if (c->round > c->last_voted_round)
			c->last_voted_round = c->round;
		int err = persist(c);
		if (err) {
			fail(c, err);
			return;
		}
		c->timed_out = true;
		c->stats.timeouts_sent++;
		loopback(c, c->tmo_msg, c->tmo_len);
	}
	/* Re-sent every period until the round ends: the network may drop. */
	uint8_t *m = malloc(c->tmo_len);
	if (!m) {
		fail(c, DS_ENOMEM);
		return;
	}
	memcpy(m, c->tmo_msg, c->tmo_len);
	broadcast(c, m, c->tmo_len, false);
	set_timer(c, c->now_ms + round_timeout(c));
}

/* ---- message handlers ---- */

static void on_proposal(struct ds_cons *c, uint32_t from, const uint8_t *msg, size_t len)
{
	uint8_t *qb = NULL;
	struct ds_cons_proposal *p = malloc(sizeof(*p));
	if (!p) {
		fail(c, DS_ENOMEM);
		return;
	}
	if (ds_cons_decode_proposal(p, msg, len) != 0) {
		drop(c, DS_CONS_DROP_MALFORMED);
		goto out;
	}
	if (p->author != ds_cons_leader(c, p->round)) {
		drop(c, DS_CONS_DROP_WRONG_LEADER);
		goto out;
	}
	uint64_t height = p->qc.vote.height + 1;
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_proposal(sm, c->cfg.chain_id, p->epoch, p->round, height, p->id,
					    p->qc.vote.block_hash);
	if (c->io.verify(c->io.ctx, c->cfg.valset.v[p->author].pk, sm, sl, p->sig) != 0) {
		drop(c, DS_CONS_DROP_BAD_SIG);
		goto out;
	}
	if (verify_qc(c, &p->qc) != 0) {
		drop(c, DS_CONS_DROP_BAD_QC);
		goto out;
	}
	if (p->has_tc && verify_tc(c, &p->tc) != 0) {
		drop(c, DS_CONS_DROP_BAD_TC);
		goto out;
	}
	process_qc(c, &p->qc);
	if (p->has_tc && !c->failed)
		process_tc(c, &p->tc);
	if (c->failed)
		goto out;
	if (p->round < c->round || (p->round <= c->last_voted_round &&
				    !(c->cfg.test_mutations & DS_CONS_MUT_VOTE_TWICE))) {
		drop(c, DS_CONS_DROP_STALE);
		goto out;
	}
	DS_ASSERT(p->round == c->round); /* decode rules + certificates above */
	if (!find(c, p->qc.vote.block_hash)) {
		if (p->qc.vote.height < c->root->b.height) {
			drop(c, DS_CONS_DROP_STALE);
			goto out;
		}
		/* Parent missing: keep this proposal, fetch the ancestors. */
		free(c->pending_prop);
		c->pending_prop = malloc(len);
		if (c->pending_prop) {
			memcpy(c->pending_prop, msg, len);
			c->pending_prop_len = len;
			c->pending_from = from;
		}
		request_sync(c, from, p->qc.vote.block_hash, p->qc.vote.height);
		goto out;
	}
	size_t ql = qc_len(&p->qc);
	qb = malloc(ql);
	if (!qb) {
		fail(c, DS_ENOMEM);
		goto out;
	}
	qc_encode(qb, ql, &p->qc);
	struct ds_cons_block b;
	int r = check_block(c, &b, &p->qc, p->round, p->id, p->payload, p->payload_len, qb, ql);
	if (!r)
		r = store_block(c, &b);
	if (r) {
		drop(c, (enum ds_cons_drop)(r - 1));
		goto out;
	}
	if (!safe_to_vote(c, p->round, p->qc.vote.round, p->has_tc ? &p->tc : NULL))
		goto out;
	if (!is_validator(c))
		goto out;
	if (p->round > c->last_voted_round)
		c->last_voted_round = p->round;
	if (p->qc.vote.round > c->locked_round)
		c->locked_round = p->qc.vote.round;
	int err = persist(c);
	if (err) {
		fail(c, err);
		goto out;
	}
	struct ds_cons_vote v;
	v.author = c->cfg.self_index;
	ds_cons_make_vote_data(&v.vote, &b, &p->qc.vote);
	sl = ds_cons_signed_vote(sm, c->cfg.chain_id, &v.vote);
	c->io.sign(c->io.ctx, sm, sl, v.sig);
	uint8_t *vm = malloc(256);
	size_t vl;
	if (!vm || ds_cons_encode_vote(vm, 256, &vl, &v) != 0) {
		free(vm);
		fail(c, DS_ENOMEM);
		goto out;
	}
	c->stats.votes_sent++;
	send_to(c, ds_cons_leader(c, p->round + 1), vm, vl);
out:
	free(qb);
	free(p);
}

static void on_vote(struct ds_cons *c, const uint8_t *msg, size_t len)
{
	struct ds_cons_vote v;
	if (ds_cons_decode_vote(&v, msg, len) != 0) {
		drop(c, DS_CONS_DROP_MALFORMED);
		return;
	}
	if (ds_cons_leader(c, v.vote.round + 1) != c->cfg.self_index) {
		drop(c, DS_CONS_DROP_WRONG_LEADER);
		return;
	}
	if (v.vote.round + 1 < c->round) {
		drop(c, DS_CONS_DROP_STALE);
		return;
	}
	uint8_t key[DS_HASH_LEN];
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_vote(sm, c->cfg.chain_id, &v.vote);
	/* One vote per validator per round, whatever it names: a second
	 * one is dropped before its signature costs anything. */
	struct vote_slot *slot = NULL, *lowest = NULL, *free_slot = NULL;
	ds_sha256(key, sm, sl);
	for (uint32_t i = 0; i < VOTE_SLOTS; i++) {
		struct vote_slot *s = c->votes[i];
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (s->vote.round == v.vote.round && s->have[v.author]) {
			drop(c, memcmp(s->key, key, DS_HASH_LEN) == 0 ? DS_CONS_DROP_DUPLICATE
								   : DS_CONS_DROP_EQUIVOCATION);
			return;
		}
		if (memcmp(s->key, key, DS_HASH_LEN) == 0)
			slot = s;
		if (!lowest || s->vote.round < lowest->vote.round)
			lowest = s;
	}
	if (c->io.verify(c->io.ctx, c->cfg.valset.v[v.author].pk, sm, sl, v.sig) != 0) {
		drop(c, DS_CONS_DROP_BAD_SIG);
		return;
	}
	if (!slot) {
		slot = free_slot;
		if (!slot) {
			if (lowest->vote.round > v.vote.round) {
				drop(c, DS_CONS_DROP_STALE);
				return;
			}
			slot = lowest;
		}
		memset(slot->have, 0, sizeof(slot->have));
		slot->used = true;
		slot->formed = false;
		slot->count = 0;
		slot->vote = v.vote;
		memcpy(slot->key, key, DS_HASH_LEN);
	}
	slot->have[v.author] = 1;
	memcpy(slot->sigs[v.author], v.sig, DS_SIG_LEN);
	slot->count++;
	if (slot->formed || slot->count < c->quorum)
		return;
	slot->formed = true;
	struct ds_qc *qc = malloc(sizeof(*qc));
	if (!qc) {
		fail(c, DS_ENOMEM);
		return;
	}
	qc->vote = slot->vote;
	qc->nsigs = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		if (!slot->have[i])
			continue;
		qc->sigs[qc->nsigs].index = i;
		memcpy(qc->sigs[qc->nsigs].sig, slot->sigs[i], DS_SIG_LEN);
		qc->nsigs++;
	}
	c->stats.qcs_formed++;
	process_qc(c, qc);
	free(qc);
}

static void on_timeout(struct ds_cons *c, const uint8_t *msg, size_t len)
{
	struct ds_cons_timeout *t = malloc(sizeof(*t));
	if (!t) {
		fail(c, DS_ENOMEM);
		return;
	}
	if (ds_cons_decode_timeout(t, msg, len) != 0) {
		drop(c, DS_CONS_DROP_MALFORMED);
		goto out;
	}
	if (t->round < c->round && !(t->has_tc ? t->tc.round >= c->round
					       : t->high_qc.vote.round >= c->round)) {
		/* Old round and nothing new in it: not worth a signature check. */
		drop(c, DS_CONS_DROP_STALE);
		goto out;
	}
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_timeout(sm, c->cfg.chain_id, t->epoch, t->round,
					   t->high_qc.vote.round);
	if (c->io.verify(c->io.ctx, c->cfg.valset.v[t->author].pk, sm, sl, t->sig) != 0) {
		drop(c, DS_CONS_DROP_BAD_SIG);
		goto out;
	}
	if (verify_qc(c, &t->high_qc) != 0) {
		drop(c, DS_CONS_DROP_BAD_QC);
		goto out;
	}
	if (t->has_tc && verify_tc(c, &t->tc) != 0) {
		drop(c, DS_CONS_DROP_BAD_TC);
		goto out;
	}
	process_qc(c, &t->high_qc);
	if (t->has_tc && !c->failed)
		process_tc(c, &t->tc);
	if (c->failed)
		goto out;
	if (t->round != c->round) {
		drop(c, DS_CONS_DROP_STALE);
		goto out;
	}
	if (c->tmo.have[t->author]) {
		drop(c, DS_CONS_DROP_DUPLICATE);
		goto out;
	}
	c->tmo.have[t->author] = 1;
	c->tmo.hqc[t->author] = t->high_qc.vote.round;
	memcpy(c->tmo.sigs[t->author], t->sig, DS_SIG_LEN);
	c->tmo.count++;
	/* f+1 timeouts mean at least one honest node gave up on the round:
	 * join it so a TC forms even if our own timer is later. */
	if (c->tmo.count >= c->weak && !c->timed_out)
		local_timeout(c);
	if (c->tmo.count >= c->quorum && !c->failed && c->tmo.round == c->round) {
		struct ds_cons_tc *tc = malloc(sizeof(*tc));
		if (!tc) {
			fail(c, DS_ENOMEM);
			goto out;
		}
		tc->epoch = c->cfg.epoch;
		tc->round = c->round;
		tc->nsigs = 0;
		for (uint32_t i = 0; i < c->n; i++) {
			if (!c->tmo.have[i])
				continue;
			tc->sigs[tc->nsigs].index = i;
			tc->sigs[tc->nsigs].high_qc_round = c->tmo.hqc[i];
			memcpy(tc->sigs[tc->nsigs].sig, c->tmo.sigs[i], DS_SIG_LEN);
			tc->nsigs++;
		}
		c->stats.tcs_formed++;
		process_tc(c, tc);
		free(tc);
	}
out:
	free(t);
}

static void handle(struct ds_cons *c, uint32_t from, const uint8_t *msg, size_t len)
{
	uint8_t type;
	uint64_t epoch;
	uint32_t author;
	if (from >= c->n) {
		drop(c, DS_CONS_DROP_NON_VALIDATOR);
		return;
	}
	if (len > DS_CONS_SYNC_MSG_MAX || ds_cons_peek(&type, &epoch, &author, msg, len) != 0) {
		drop(c, DS_CONS_DROP_MALFORMED);
		return;
	}
	if (epoch != c->cfg.epoch) {
		drop(c, DS_CONS_DROP_WRONG_EPOCH);
		return;
	}
	if (author >= c->n) {
		drop(c, DS_CONS_DROP_NON_VALIDATOR);
		return;
	}
	c->cur_peer = from;
	switch (type) {
	case DS_CONS_MSG_PROPOSAL:
		on_proposal(c, from, msg, len);
		break;
	case DS_CONS_MSG_VOTE:
		on_vote(c, msg, len);
		break;
	case DS_CONS_MSG_TIMEOUT:
		on_timeout(c, msg, len);
		break;
	case DS_CONS_MSG_SYNC_REQ:
	case DS_CONS_MSG_SYNC_RESP: {
		/* Unsigned: only the transport's authenticated peer may speak
		 * for itself, and the content is checked by hash and QC. */
		struct ds_dec d;
		uint8_t v8, t8;
		uint64_t e64;
		uint32_t a32;
		if (author != from) {
			drop(c, DS_CONS_DROP_NON_VALIDATOR);
			break;
		}
		ds_dec_init(&d, msg, len);
		ds_dec_u8(&d, &v8);
		ds_dec_u8(&d, &t8);
		ds_dec_uvar(&d, &e64);
		ds_dec_u32(&d, &a32);
		if (type == DS_CONS_MSG_SYNC_REQ)
			serve_sync(c, from, &d);
		else
			on_sync_resp(c, from, &d);
		break;
	}
	default:
		drop(c, DS_CONS_DROP_MALFORMED);
	}
}

/* ---- entry points ---- */

static int enter(struct ds_cons *c, uint64_t now_ms)
{
	free(c->popped);
	c->popped = NULL;
	if (c->failed)
		return c->failed;
	if (!c->started)
		return DS_ESTATE;
	if (now_ms > c->now_ms)
		c->now_ms = now_ms;
	return 0;
}

static int leave(struct ds_cons *c)
{
	for (uint32_t i = 0; i < LOOPBACK_STEPS && c->loop_count && !c->failed; i++) {
		struct loop_msg m = c->loop[c->loop_head];
		c->loop_head = (c->loop_head + 1) % LOOPBACK_MAX;
		c->loop_count--;
		handle(c, c->cfg.self_index, m.msg, m.len);
		free(m.msg);
	}
	return c->failed;
}

int ds_cons_on_message(struct ds_cons *c, uint64_t now_ms, uint32_t from, const uint8_t *msg,
		       size_t len)
{
	int err = enter(c, now_ms);
	if (err)
		return err;
	handle(c, from, msg, len);
	return leave(c);
}

int ds_cons_on_timer(struct ds_cons *c, uint64_t now_ms)
{
	int err = enter(c, now_ms);
	if (err)
		return err;
	if (c->now_ms >= c->deadline_ms)
		local_timeout(c);
	return leave(c);
}

static void set_root_vote(struct ds_cons *c)
{
	memset(&c->root_vote, 0, sizeof(c->root_vote));
	c->root_vote.epoch = c->cfg.epoch;
	c->root_vote.round = 0;
	c->root_vote.height = c->cfg.genesis.height;
	memcpy(c->root_vote.block_hash, c->cfg.genesis.id, DS_HASH_LEN);
}

static int reset_tree(struct ds_cons *c, const struct ds_cons_root *r)
{
	for (uint32_t i = 0; i < c->ntree; i++)
		node_free(c->tree[i]);
	c->ntree = 0;
	struct ds_cons_block b;
	memset(&b, 0, sizeof(b));
	memcpy(b.id, r->id, DS_HASH_LEN);
	b.epoch = c->cfg.epoch;
	b.round = r->round;
	b.height = r->height;
	struct node *nd = node_new(&b);
	if (!nd)
		return DS_ENOMEM;
	c->root = nd;
	c->tree[c->ntree++] = nd;
	return 0;
}

static void reset_collectors(struct ds_cons *c)
{
	for (uint32_t i = 0; i < VOTE_SLOTS; i++)
		c->votes[i]->used = false;
	c->tmo.count = 0;
	memset(c->tmo.have, 0, sizeof(c->tmo.have));
	c->pending_commit = false;
	free(c->pending_prop);
	c->pending_prop = NULL;
	c->sync_active = false;
}

static int restore(struct ds_cons *c, const uint8_t *p, size_t n)
{
	struct ds_dec d;
	uint8_t ver;
	char chain[DS_CHAIN_ID_MAX + 1];
	uint64_t epoch;
	struct ds_qc *qc = malloc(sizeof(*qc));
	struct ds_cons_tc *tc = malloc(sizeof(*tc));
	bool has_tc = false;
	int err = DS_ECORRUPT;
	if (!qc || !tc) {
		err = DS_ENOMEM;
		goto fail;
	}
	uint64_t lvr, locked, proposed;
	ds_dec_init(&d, p, n);
	ds_dec_u8(&d, &ver);
	ds_dec_str(&d, chain, sizeof(chain));
	ds_dec_uvar(&d, &epoch);
	ds_dec_uvar(&d, &lvr);
	ds_dec_uvar(&d, &locked);
	ds_dec_uvar(&d, &proposed);
	(void)!ds_cons_dec_qc(&d, qc);
	ds_dec_bool(&d, &has_tc);
	if (has_tc)
		(void)!ds_cons_dec_tc(&d, tc);
	if (ds_dec_finish(&d) != 0 || ver != SAFETY_VERSION || strcmp(chain, c->cfg.chain_id) != 0 ||
	    epoch > c->cfg.epoch)
		goto fail;
	if (epoch == c->cfg.epoch) {
		/* Our own disk, but checked anyway: a corrupt high QC must not
		 * be signed over. */
		if (verify_qc(c, qc) != 0 || (has_tc && verify_tc(c, tc) != 0))
			goto fail;
		c->last_voted_round = lvr;
		c->locked_round = locked;
		c->proposed_round = proposed;
		copy_qc(&c->high_qc, qc);
		c->has_tc = has_tc;
		if (has_tc)
			copy_tc(&c->high_tc, tc);
	}
	err = 0;
fail:
	free(qc);
	free(tc);
	return err;
}

int ds_cons_start(struct ds_cons *c, uint64_t now_ms, const uint8_t *safety, size_t safety_len,
		  const struct ds_cons_root *root)
{
	if (c->failed)
		return c->failed;
	if (c->started)
		return DS_ESTATE;
	c->now_ms = now_ms;
	set_root_vote(c);
	c->high_qc.vote = c->root_vote;
	c->high_qc.nsigs = 0;
	if (safety && safety_len) {
		int err = restore(c, safety, safety_len);
		if (err)
			return err;
	}
	struct ds_cons_root r = c->cfg.genesis;
	if (root) {
		if (root->height < c->cfg.genesis.height)
			return DS_EINVAL;
		if (root->height > c->cfg.genesis.height)
			r = *root;
	}
	int err = reset_tree(c, &r);
	if (err)
		return err;
	c->started = true;
	uint64_t start = c->high_qc.vote.round;
	if (c->has_tc && c->high_tc.round > start)
		start = c->high_tc.round;
	c->round = start; /* advance_round moves to start + 1 */
	advance_round(c, start + 1);
	return leave(c);
}

int ds_cons_reconfigure(struct ds_cons *c, uint64_t now_ms, const struct ds_valset *vs,
			uint64_t epoch, const struct ds_cons_root *root)
{
	int err = enter(c, now_ms);
	if (err)
		return err;
	if (epoch <= c->cfg.epoch || vs->epoch != epoch || vs->n == 0 ||
	    vs->n > DS_VALIDATORS_MAX || root->height < c->root->b.height)
		return DS_EINVAL;
	c->cfg.valset = *vs;
	c->cfg.epoch = epoch;
	c->n = vs->n;
	c->quorum = ds_cons_quorum(c->n);
	c->weak = c->n - c->quorum + 1;
	c->cfg.genesis = *root;
	c->cfg.genesis.round = 0;
	set_root_vote(c);
	reset_collectors(c);
	memset(c->qc_cache, 0, sizeof(c->qc_cache));
	err = reset_tree(c, &c->cfg.genesis);
	if (err) {
		fail(c, err);
		return err;
	}
	/* Signatures name the epoch, so safety restarts with the rounds. */
	c->last_voted_round = c->locked_round = c->proposed_round = 0;
	c->high_qc.vote = c->root_vote;
	c->high_qc.nsigs = 0;
	c->has_tc = false;
	c->round = 0;
	err = persist(c);
	if (err) {
		fail(c, err);
		return err;
	}
	advance_round(c, 1);
	return leave(c);
}

int ds_cons_new(struct ds_cons **out, const struct ds_cons_config *cfg, const struct ds_cons_io *io)
{
	*out = NULL;
	static const uint8_t zero[DS_HASH_LEN];
	if (cfg->valset.n == 0 || cfg->valset.n > DS_VALIDATORS_MAX ||
	    cfg->valset.epoch != cfg->epoch || cfg->genesis.round != 0 ||
	    memcmp(cfg->genesis.id, zero, DS_HASH_LEN) == 0 ||
	    (cfg->self_index != UINT32_MAX && cfg->self_index >= cfg->valset.n) ||
	    cfg->base_timeout_ms == 0 || cfg->max_timeout_ms < cfg->base_timeout_ms ||
	    cfg->payload_max_bytes > DS_CONS_PAYLOAD_MAX ||
	    strnlen(cfg->chain_id, sizeof(cfg->chain_id)) == sizeof(cfg->chain_id) ||
	    !io->sign || !io->verify || !io->persist_safety || !io->persist_block ||
	    !io->propose || !io->validate ||
	    !io->deliver_commit)
		return DS_EINVAL;
	struct ds_cons *c = calloc(1, sizeof(*c));
	if (!c)
		return DS_ENOMEM;
	c->cfg = *cfg;
	c->io = *io;
	c->n = cfg->valset.n;
	c->quorum = ds_cons_quorum(c->n);
	c->weak = c->n - c->quorum + 1;
	for (uint32_t i = 0; i < VOTE_SLOTS; i++) {
		c->votes[i] = calloc(1, sizeof(struct vote_slot));
		if (!c->votes[i])
			goto fail;
	}
	if (c->cfg.payload_max_bytes == 0)
		c->cfg.payload_max_bytes = DS_CONS_PAYLOAD_MAX;
	c->payload_buf = malloc(c->cfg.payload_max_bytes);
	if (!c->payload_buf)
		goto fail;
	*out = c;
	return 0;
fail:
	ds_cons_free(c);
	return DS_ENOMEM;
}

void ds_cons_free(struct ds_cons *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->ntree; i++)
		node_free(c->tree[i]);
	for (uint32_t i = 0; i < VOTE_SLOTS; i++)
		free(c->votes[i]);
	while (c->act_count) {
		free((void *)c->acts[c->act_head].msg);
		c->act_head = (c->act_head + 1) % DS_CONS_ACTIONS_MAX;
		c->act_count--;
	}
	while (c->loop_count) {
		free(c->loop[c->loop_head].msg);
		c->loop_head = (c->loop_head + 1) % LOOPBACK_MAX;
		c->loop_count--;
	}
	free(c->popped);
	free(c->tmo_msg);
	free(c->pending_prop);
	free(c->payload_buf);
	free(c);
}

const struct ds_cons_stats *ds_cons_stats(const struct ds_cons *c)
{
	return &c->stats;
}

uint64_t ds_cons_round(const struct ds_cons *c)
{
	return c->round;
}

uint64_t ds_cons_last_voted_round(const struct ds_cons *c)
{
	return c->last_voted_round;
}

uint64_t ds_cons_committed_height(const struct ds_cons *c)
{
	return c->root ? c->root->b.height : 0;
}

const struct ds_qc *ds_cons_high_qc(const struct ds_cons *c)
{
	return &c->high_qc;
}
