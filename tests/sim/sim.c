/* Deterministic consensus simulator (VOPR / raft-fixture style).
 *
 * Many ds_cons cores in one process, a virtual clock and a seeded network
 * that delays, drops, duplicates, reorders and partitions messages. Nodes
 * crash and restart from their persisted safety state and committed chain;
 * up to f nodes are Byzantine (equivocating leaders, double voters). The
 * earliest event always fires next, ties broken by insertion order, so a
 * seed replays exactly. After every event the checker verifies that no two
 * honest nodes committed different blocks at one height and that every
 * honest chain is a hash-linked prefix of the canonical one. Each run ends
 * with a fault-free phase that must produce commits on every honest node.
 *
 * With --epoch-every K the hosts also change epochs as the node does
 * (docs/PROTOCOL.md §11 "Epochs"): epoch E ends at its first block of
 * height >= E*K (the end block X; a height schedule stands in for the
 * executed validator change), X's descendants in epoch E are empty suffix
 * blocks (decided, never appended to the ledger), and once X is decided the
 * host starts a new core for epoch E+1 rooted at X, its validator set the
 * same keys rotated by one index per epoch. Hosts that missed a switch catch
 * up by block sync (node_sync.c): committed blocks with their commit QCs,
 * asked of a peer through the simulated network and checked against each
 * epoch's set. The checker then also requires that no honest ledger holds a
 * block of epoch E after E's end block and that epochs never decrease.
 *
 *   sim --seeds N --rounds R [--seed S | --first S0] [--nodes n] [--verbose]
 *       [--ed25519] [--mutate no-persist|no-lock|commit-1chain|vote-twice|
 *       epoch-no-suffix] [--expect-fail] [--heal-commits K] [--epoch-every K]
 *       [--no-epoch-check] [--catch TEXT]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "consensus/consensus.h"
#include "crypto/crypto.h"

#define SIM_NODES_MAX 16
#define SIM_EVENTS_MAX 50000
#define SIM_PAYLOAD_LEN 68
#define SIM_CHAIN_MAX 20000

#define SIM_SUFFIX_FLAG 0x80000000u /* in the proposer field: a suffix block */
#define SIM_SYNC_REQ 0xE0         /* host block sync (first byte; core messages start with 1) */
#define SIM_SYNC_RESP 0xE1
#define SIM_SYNC_BLOCKS 16        /* blocks in one sync response, as DS__NODE_SYNC_BLOCKS */
#define SIM_SYNC_TICK_MS 1000
#define SIM_SYNC_RETRY_MS 2000
#define SIM_SYNC_STALL_MS 3000

enum ev_kind { EV_DELIVER = 1, EV_TIMER, EV_CRASH, EV_RESTART, EV_PARTITION, EV_HEAL_PART, EV_SYNC_TICK };

struct event {
	uint64_t t, seq;
	enum ev_kind kind;
	uint32_t from, to;
	uint64_t gen;
	uint8_t *data;
	size_t len;
};

struct cblock { /* one committed block, kept by the host for sync serving */
	uint8_t id[DS_HASH_LEN];
	uint8_t parent[DS_HASH_LEN];
	uint64_t round;
	uint8_t payload[SIM_PAYLOAD_LEN];
	uint8_t *justify;
	size_t justify_len;
	uint8_t *cqc;      /* encoded QC that committed it (ledger chain only) */
	size_t cqc_len;
	uint8_t *sfx;      /* end block: the suffix payloads its QC runs through */
	uint32_t sfx_n;
};

struct sim;

struct snode {
	struct sim *sim;
	uint32_t idx;
	struct ds_cons *c;
	bool up, byz;
	uint8_t secret[DS_SEED_LEN];
	uint8_t sk[DS_SK_LEN];
	uint8_t *safety;
	size_t safety_len;
	struct cblock *chain; /* chain[h] = committed block at height h */
	uint64_t chain_len, chain_cap;
	struct cblock *disk;  /* persisted, not yet committed blocks */
	uint64_t *disk_height;
	uint32_t disk_len;
	uint64_t timer_gen;
	uint64_t heal_height;
	uint64_t nonce;
	struct ds_qc *old_qc;    /* Byzantine: an older QC seen, to fork from */
	struct ds_qc *last_qc;
	/* Epochs (--epoch-every): the running core's epoch and root. */
	uint64_t epoch, ep_root_height;
	uint64_t round_base; /* rounds of the epochs this host left (progress measure) */
	bool epoch_ended, reconf; /* end block decided by this core; switch pending */
	uint64_t end_height;
	/* Block sync (node_sync.c). */
	uint64_t last_commit_t, sync_sent_t;
	uint32_t sync_peer;
	bool syncing, sync_applied;
};

struct sim {
	uint64_t seed, rng;
	uint32_t n, f, nbyz;
	bool verbose, ed25519, no_proof_check, no_epoch_check;
	bool mut_no_suffix;     /* --mutate epoch-no-suffix: host-side epoch bug */
	uint64_t epoch_every;   /* K; 0: one epoch for the whole run */
	uint32_t mutations;
	uint64_t now, seq;
	struct event **heap;
	size_t nheap;
	struct snode nodes[SIM_NODES_MAX];
	struct ds_valset vs;
	uint8_t genesis[DS_HASH_LEN];
	/* Canonical chain: first block committed at each height by anyone. */
	uint8_t (*canon)[DS_HASH_LEN];
	uint64_t canon_len;
	/* Network faults. */
	bool faults;
	uint32_t p_drop, p_dup, p_long; /* per mille */
	uint64_t delay_min, delay_jitter;
	uint8_t side[SIM_NODES_MAX];    /* partition side; same side talks */
	bool partitioned;
	char violation[256];
	uint64_t events, max_round;
	uint64_t epochs, synced; /* highest epoch an honest core ran; blocks applied by sync */
};

static uint64_t rnd(struct sim *s)
{
	/* splitmix64: deterministic per seed, not crypto */
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct sim *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static bool chance(struct sim *s, uint32_t per_mille)
{
	return rnd_below(s, 1000) < per_mille;
}

/* ---- event heap: earliest time first, then insertion order ---- */

static bool ev_less(const struct event *a, const struct event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push_ev(struct sim *s, struct event *e)
{
	if (s->nheap == SIM_EVENTS_MAX) {
		/* Bounded queue: excess traffic is dropped like a full link. */
		free(e->data);
		free(e);
		return;
	}
	e->seq = s->seq++;
	size_t i = s->nheap++;
	s->heap[i] = e;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_less(s->heap[i], s->heap[p]))
			break;
		struct event *t = s->heap[i];
		s->heap[i] = s->heap[p];
		s->heap[p] = t;
		i = p;
	}
}

static struct event *pop_ev(struct sim *s)
{
	if (!s->nheap)
		return NULL;
	struct event *top = s->heap[0];
	s->heap[0] = s->heap[--s->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheap && ev_less(s->heap[l], s->heap[m]))
			m = l;
		if (r < s->nheap && ev_less(s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			break;
		struct event *t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

static struct event *new_ev(enum ev_kind k, uint64_t t)
{
	struct event *e = calloc(1, sizeof(*e));
	if (!e) {
		fprintf(stderr, "sim: out of memory\n");
		exit(2);
	}
	e->kind = k;
	e->t = t;
	return e;
}

static void violation(struct sim *s, const char *what, uint32_t node, uint64_t h)
{
	if (s->nodes[node].byz)
		return; /* Byzantine nodes promise nothing */
	if (!s->violation[0])
		snprintf(s->violation, sizeof(s->violation), "%s (node %u height %" PRIu64 " t=%" PRIu64 ")",
			 what, node, h, s->now);
}

/* ---- signatures: fast keyed hash, or real Ed25519 ---- */

static void fake_sig(uint8_t sig[DS_SIG_LEN], const uint8_t secret[DS_SEED_LEN], const uint8_t *msg,
		     size_t len)
{
	struct ds_iov iov[2] = {{secret, DS_SEED_LEN}, {msg, len}};
	ds_sha256_v(sig, iov, 2);
	memset(sig + DS_HASH_LEN, 0, DS_SIG_LEN - DS_HASH_LEN);
}

static void node_sign(struct snode *nd, const uint8_t *msg, size_t len, uint8_t sig[DS_SIG_LEN])
{
	if (nd->sim->ed25519)
		ds_ed25519_sign(sig, msg, len, nd->sk);
	else
		fake_sig(sig, nd->secret, msg, len);
}

static void io_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[DS_SIG_LEN])
{
	node_sign(ctx, msg, len, sig);
}

static int io_verify(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *msg, size_t len,
		     const uint8_t sig[DS_SIG_LEN])
{
	struct snode *nd = ctx;
	struct sim *s = nd->sim;
	if (s->ed25519)
		return ds_ed25519_verify(sig, msg, len, pk);
	/* The fake scheme is still checked: only the key holder can make a
	 * tag, so forged messages are rejected exactly as with Ed25519. */
	for (uint32_t i = 0; i < s->n; i++) {
		if (memcmp(s->vs.v[i].pk, pk, DS_PK_LEN) != 0)
			continue;
		uint8_t want[DS_SIG_LEN];
		fake_sig(want, s->nodes[i].secret, msg, len);
		return memcmp(want, sig, DS_SIG_LEN) == 0 ? 0 : DS_ESIG;
	}
	return DS_ESIG;
}

static int io_persist(void *ctx, const uint8_t *bytes, size_t len)
{
	struct snode *nd = ctx;
	uint8_t *p = malloc(len);
	if (!p)
		return DS_ENOMEM;
	memcpy(p, bytes, len);
	free(nd->safety);
	nd->safety = p;
	nd->safety_len = len;
	return 0;
}

/* Sim block payload: epoch, round, height, parent id, proposer, nonce.
 * id = SHA-256("sim/block" || payload). */
static void block_id(uint8_t id[DS_HASH_LEN], const uint8_t *payload)
{
	struct ds_iov iov[2] = {{"sim/block", 9}, {payload, SIM_PAYLOAD_LEN}};
	ds_sha256_v(id, iov, 2);
}

static void make_payload(uint8_t *p, uint64_t epoch, uint64_t round, uint64_t height,
			 const uint8_t parent[DS_HASH_LEN], uint32_t proposer, uint64_t nonce)
{
	ds_put_u64be(p, epoch);
	ds_put_u64be(p + 8, round);
	ds_put_u64be(p + 16, height);
	memcpy(p + 24, parent, DS_HASH_LEN);
	ds_put_u32be(p + 56, proposer);
	ds_put_u64be(p + 60, nonce);
}

static uint64_t pl_epoch(const uint8_t *p)
{
	return ds_get_u64be(p);
}

static uint64_t pl_height(const uint8_t *p)
{
	return ds_get_u64be(p + 16);
}

static bool pl_suffix(const uint8_t *p)
{
	return (ds_get_u32be(p + 56) & SIM_SUFFIX_FLAG) != 0;
}

/* "Past the change": a block of epoch E at this height ends the epoch or
 * follows its end (the stand-in for the executed validator change). */
static bool past_change(const struct sim *s, uint64_t epoch, uint64_t height)
{
	return s->epoch_every && height >= epoch * s->epoch_every;
}

/* Validator index of node `node` in `epoch`, and back: each epoch's set
 * holds the same keys, rotated by one index per epoch (so leaders, quorum
 * indices and self_index all move across a switch). */
static uint32_t vidx_of(const struct sim *s, uint32_t node, uint64_t epoch)
{
	return (uint32_t)((node + s->n - (epoch - 1) % s->n) % s->n);
}

static uint32_t node_of(const struct sim *s, uint32_t vidx, uint64_t epoch)
{
	return (uint32_t)((vidx + (epoch - 1) % s->n) % s->n);
}

static void valset_for(const struct sim *s, uint64_t epoch, struct ds_valset *vs)
{
	memset(vs, 0, sizeof(*vs));
	vs->epoch = epoch;
	vs->n = s->n;
	for (uint32_t i = 0; i < s->n; i++)
		vs->v[i] = s->vs.v[node_of(s, i, epoch)]; /* s->vs: epoch 1, index = node */
}

/* True if the parent of a block at `height` in the running core's epoch is
 * past the change: the block must then be a suffix block. */
static bool parent_past_change(const struct snode *nd, uint64_t epoch, uint64_t height)
{
	return height - 1 > nd->ep_root_height && past_change(nd->sim, epoch, height - 1);
}

static int io_propose(void *ctx, uint8_t id[DS_HASH_LEN], uint8_t *payload, size_t cap,
		      size_t *len, uint64_t epoch, uint64_t round, uint64_t height,
		      const uint8_t parent[DS_HASH_LEN])
{
	struct snode *nd = ctx;
	if (cap < SIM_PAYLOAD_LEN)
		return DS_ETOOBIG;
	uint32_t flag = 0;
	if (parent_past_change(nd, epoch, height) && !nd->sim->mut_no_suffix)
		flag = SIM_SUFFIX_FLAG; /* the epoch ended at or below the parent */
	make_payload(payload, epoch, round, height, parent, nd->idx | flag, nd->nonce++);
	block_id(id, payload);
	*len = SIM_PAYLOAD_LEN;
	return 0;
}

static int io_validate(void *ctx, const struct ds_cons_block *b)
{
	if (b->payload_len != SIM_PAYLOAD_LEN)
		return DS_EINVAL;
	uint8_t id[DS_HASH_LEN];
	block_id(id, b->payload);
	const uint8_t *p = b->payload;
	if (memcmp(id, b->id, DS_HASH_LEN) != 0 || ds_get_u64be(p) != b->epoch ||
	    ds_get_u64be(p + 8) != b->round || ds_get_u64be(p + 16) != b->height ||
	    memcmp(p + 24, b->parent_id, DS_HASH_LEN) != 0)
		return DS_EINVAL;
	struct snode *nd = ctx;
	if (nd->sim->mut_no_suffix)
		return 0;
	/* After the end block only suffix blocks, and suffix blocks only there. */
	if (pl_suffix(p) != parent_past_change(nd, b->epoch, b->height))
		return DS_EINVAL;
	return 0;
}

/* Epoch of ledger block h (genesis: 0, the "end" of epoch 0). */
static uint64_t blk_epoch(const struct snode *nd, uint64_t h)
{
	return h == 0 ? 0 : pl_epoch(nd->chain[h].payload);
}

/* The epoch a block after the ledger tip must have. */
static uint64_t next_epoch(const struct snode *nd)
{
	uint64_t h = nd->chain_len - 1, e = blk_epoch(nd, h);
	if (h == 0)
		return 1;
	return past_change(nd->sim, e, h) ? e + 1 : e;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);
	if (d && len)
		memcpy(d, p, len);
	return d;
}

/* Appends a ledger block (from deliver_commit or block sync) and runs the
 * checker on it: agreement with the canonical chain, and the epoch rules. */
static int append_block(struct snode *nd, const uint8_t id[DS_HASH_LEN], uint64_t round,
			const uint8_t *payload, const uint8_t *justify, size_t justify_len,
			const uint8_t *cqc, size_t cqc_len)
{
	struct sim *s = nd->sim;
	uint64_t height = nd->chain_len;
	if (s->epoch_every && !s->no_epoch_check) {
		uint64_t want = next_epoch(nd), e = pl_epoch(payload);
		uint64_t te = blk_epoch(nd, height - 1);
		if (pl_suffix(payload))
			violation(s, "a suffix block was appended to the ledger", nd->idx, height);
		else if (e < te)
			violation(s, "epochs decrease along the chain", nd->idx, height);
		else if (e == te && e != want)
			violation(s, "a block of epoch E was appended after the end block of epoch E",
				  nd->idx, height);
		else if (e != want)
			violation(s, "an epoch was skipped or entered before its end block", nd->idx,
				  height);
	}
	if (nd->chain_len == nd->chain_cap) {
		if (nd->chain_cap >= SIM_CHAIN_MAX)
			return DS_EFULL;
		nd->chain_cap *= 2;
		nd->chain = realloc(nd->chain, nd->chain_cap * sizeof(nd->chain[0]));
		if (!nd->chain)
			return DS_ENOMEM;
	}
	struct cblock *cb = &nd->chain[nd->chain_len];
	memset(cb, 0, sizeof(*cb));
	memcpy(cb->id, id, DS_HASH_LEN);
	memcpy(cb->parent, payload + 24, DS_HASH_LEN);
	cb->round = round;
	memcpy(cb->payload, payload, SIM_PAYLOAD_LEN);
	cb->justify = dup_bytes(justify, justify_len);
	cb->cqc = dup_bytes(cqc, cqc_len);
	if (!cb->justify || !cb->cqc) {
		free(cb->justify);
		free(cb->cqc);
		return DS_ENOMEM;
	}
	cb->justify_len = justify_len;
	cb->cqc_len = cqc_len;
	nd->chain_len++;
	nd->last_commit_t = s->now;
	if (nd->byz)
		return 0;
	/* Safety: the first honest commit at a height fixes it for everyone. */
	if (height < s->canon_len) {
		if (memcmp(s->canon[height], id, DS_HASH_LEN) != 0)
			violation(s, "two honest nodes committed different blocks", nd->idx, height);
	} else {
		DS_ASSERT(height == s->canon_len);
		memcpy(s->canon[s->canon_len++], id, DS_HASH_LEN);
	}
	return 0;
}

static int io_deliver(void *ctx, const struct ds_cons_block *b, const struct ds_qc *qc)
{
	struct snode *nd = ctx;
	struct sim *s = nd->sim;
	if (nd->epoch_ended && pl_suffix(b->payload)) {
		/* A suffix block: never part of the ledger; kept with the end
		 * block as the evidence its QC runs through (PROTOCOL §11). */
		struct cblock *x = &nd->chain[nd->end_height];
		if (b->height != nd->end_height + x->sfx_n + 1) {
			violation(s, "suffix blocks decided out of order", nd->idx, b->height);
			return 0;
		}
		uint8_t *p = realloc(x->sfx, (size_t)(x->sfx_n + 1) * SIM_PAYLOAD_LEN);
		if (!p)
			return DS_ENOMEM;
		memcpy(p + (size_t)x->sfx_n * SIM_PAYLOAD_LEN, b->payload, SIM_PAYLOAD_LEN);
		x->sfx = p;
		x->sfx_n++;
		return 0;
	}
	if (s->epoch_every && b->height < nd->chain_len) {
		/* Already applied by block sync: it must be the same block (the
		 * node fails here otherwise, node.c io_deliver_commit). */
		if (memcmp(nd->chain[b->height].id, b->id, DS_HASH_LEN) != 0)
			violation(s, "consensus decided a block that differs from the synced chain",
				  nd->idx, b->height);
		return 0;
	}
	if (b->height != nd->chain_len) {
		violation(s, "commit out of height order", nd->idx, b->height);
		return 0;
	}
	if (memcmp(b->parent_id, nd->chain[nd->chain_len - 1].id, DS_HASH_LEN) != 0) {
		violation(s, "committed block does not extend own chain", nd->idx, b->height);
		return 0;
	}
	if (!s->no_proof_check && qc->vote.commit_height < b->height) {
		violation(s, "commit QC does not cover block", nd->idx, b->height);
		return 0;
	}
	if (s->epoch_every && pl_suffix(b->payload)) {
		/* The node would take it for an end block and append it. */
		violation(s, "a suffix block was decided with no end block before it", nd->idx,
			  b->height);
		return 0;
	}
	uint8_t q[DS_CONS_QC_MAX];
	size_t qlen = 0;
	if (s->epoch_every) {
		struct ds_enc e;
		ds_enc_init(&e, q, sizeof(q));
		ds_cons_enc_qc(&e, qc);
		if (ds_enc_finish(&e, &qlen) != 0)
			return DS_ETOOBIG;
	}
	int rc = append_block(nd, b->id, b->round, b->payload, b->justify_qc, b->justify_qc_len, q,
			      qlen);
	if (rc)
		return rc;
	if (!nd->epoch_ended && b->epoch == nd->epoch && past_change(s, b->epoch, b->height)) {
		/* The end block X: the host starts epoch E+1 rooted at X once
		 * the core call returns (never inside this callback). */
		nd->epoch_ended = true;
		nd->reconf = true;
		nd->end_height = b->height;
	}
	return 0;
}

#define SIM_DISK_BLOCKS 2048

static int io_persist_block(void *ctx, const struct ds_cons_block *b)
{
	struct snode *nd = ctx;
	/* Forget what the committed chain already holds. */
	for (uint32_t i = 0; i < nd->disk_len;) {
		if (nd->disk_height[i] < nd->chain_len) {
			free(nd->disk[i].justify);
			nd->disk[i] = nd->disk[--nd->disk_len];
			nd->disk_height[i] = nd->disk_height[nd->disk_len];
		} else {
			i++;
		}
	}
	if (nd->disk_len == SIM_DISK_BLOCKS)
		return DS_EFULL;
	struct cblock *cb = &nd->disk[nd->disk_len];
	uint8_t *j = malloc(b->justify_qc_len);
	if (!j || b->payload_len != SIM_PAYLOAD_LEN) {
		free(j);
		return DS_ENOMEM;
	}
	memcpy(cb->id, b->id, DS_HASH_LEN);
	memcpy(cb->parent, b->parent_id, DS_HASH_LEN);
	cb->round = b->round;
	memcpy(cb->payload, b->payload, SIM_PAYLOAD_LEN);
	memcpy(j, b->justify_qc, b->justify_qc_len);
	cb->justify = j;
	cb->justify_len = b->justify_qc_len;
	nd->disk_height[nd->disk_len++] = b->height;
	return 0;
}

static int io_load(void *ctx, struct ds_cons_block *b, uint8_t *buf, size_t cap,
		   const uint8_t *id, uint64_t height)
{
	struct snode *nd = ctx;
	struct cblock *cb = NULL;
	if (height > 0 && height < nd->chain_len &&
	    (!id || memcmp(nd->chain[height].id, id, DS_HASH_LEN) == 0))
		cb = &nd->chain[height];
	for (uint32_t i = 0; !cb && id && i < nd->disk_len; i++)
		if (nd->disk_height[i] == height &&
		    memcmp(nd->disk[i].id, id, DS_HASH_LEN) == 0)
			cb = &nd->disk[i];
	if (!cb || cap < SIM_PAYLOAD_LEN + cb->justify_len)
		return DS_ENOTFOUND;
	memset(b, 0, sizeof(*b));
	memcpy(b->id, cb->id, DS_HASH_LEN);
	memcpy(b->parent_id, cb->parent, DS_HASH_LEN);
	b->round = cb->round;
	b->height = height;
	memcpy(buf, cb->payload, SIM_PAYLOAD_LEN);
	memcpy(buf + SIM_PAYLOAD_LEN, cb->justify, cb->justify_len);
	b->payload = buf;
	b->payload_len = SIM_PAYLOAD_LEN;
	b->justify_qc = buf + SIM_PAYLOAD_LEN;
	b->justify_qc_len = cb->justify_len;
	return 0;
}

/* ---- network ---- */

static void net_send(struct sim *s, uint32_t from, uint32_t to, const uint8_t *msg, size_t len)
{
	if (to >= s->n || to == from)
		return;
	if (s->faults) {
		if (s->partitioned && s->side[from] != s->side[to])
			return;
		if (chance(s, s->p_drop))
			return;
	}
	int copies = s->faults && chance(s, s->p_dup) ? 2 : 1;
	for (int k = 0; k < copies; k++) {
		uint64_t d = s->delay_min + rnd_below(s, s->delay_jitter + 1);
		if (s->faults && chance(s, s->p_long))
			d += rnd_below(s, 1500);
		struct event *e = new_ev(EV_DELIVER, s->now + d);
		e->from = from;
		e->to = to;
		e->data = malloc(len);
		if (!e->data) {
			fprintf(stderr, "sim: out of memory\n");
			exit(2);
		}
		memcpy(e->data, msg, len);
		e->len = len;
		push_ev(s, e);
	}
}

/* Byzantine leader: a second, different block for the same round, each
 * version to a different part of the network. */
static void byz_equivocate(struct snode *nd, const uint8_t *msg, size_t len)
{
	struct sim *s = nd->sim;
	struct ds_cons_proposal *p = malloc(sizeof(*p));
	uint8_t *alt = malloc(len + DS_CONS_QC_MAX);
	uint8_t payload[SIM_PAYLOAD_LEN];
	size_t alen;
	if (!p || !alt || ds_cons_decode_proposal(p, msg, len) != 0 ||
	    p->payload_len != SIM_PAYLOAD_LEN)
		goto plain;
	memcpy(payload, p->payload, SIM_PAYLOAD_LEN);
	ds_put_u64be(payload + 60, ds_get_u64be(payload + 60) ^ 0x8000000000000000ULL);
	/* Entered by a TC: the second version forks from an older certified
	 * block, which only the lock rule (TC high-QC check) stops. */
	if (p->has_tc && nd->old_qc && nd->old_qc->vote.round < p->qc.vote.round) {
		p->qc = *nd->old_qc;
		uint64_t h = p->qc.vote.height + 1;
		uint32_t flag = parent_past_change(nd, p->epoch, h) ? SIM_SUFFIX_FLAG : 0;
		make_payload(payload, p->epoch, p->round, h, p->qc.vote.block_hash, nd->idx | flag,
			     ds_get_u64be(payload + 60));
	}
	p->payload = payload;
	block_id(p->id, payload);
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_proposal(sm, "sim", p->epoch, p->round, p->qc.vote.height + 1,
					    p->id, p->qc.vote.block_hash);
	node_sign(nd, sm, sl, p->sig);
	if (ds_cons_encode_proposal(alt, len + DS_CONS_QC_MAX, &alen, p) != 0)
		goto plain;
	for (uint32_t i = 0; i < s->n; i++) {
		uint64_t r = rnd_below(s, 3);
		if (r == 0 || r == 2)
			net_send(s, nd->idx, i, msg, len);
		if (r == 1 || r == 2)
			net_send(s, nd->idx, i, alt, alen);
	}
	free(p);
	free(alt);
	return;
plain:
	free(p);
	free(alt);
	for (uint32_t i = 0; i < s->n; i++)
		net_send(s, nd->idx, i, msg, len);
}

/* Byzantine voter: votes for every proposal it sees, whatever it voted
 * before in that round. */
static void byz_vote(struct snode *nd, const uint8_t *msg, size_t len)
{
	struct sim *s = nd->sim;
	struct ds_cons_proposal *p = malloc(sizeof(*p));
	if (!p || ds_cons_decode_proposal(p, msg, len) != 0) {
		free(p);
		return;
	}
	/* Remember QCs for the stale-fork attack in byz_equivocate. */
	if (!nd->last_qc || p->qc.vote.round > nd->last_qc->vote.round) {
		if (nd->last_qc && !nd->old_qc)
			nd->old_qc = malloc(sizeof(struct ds_qc));
		if (nd->last_qc && nd->old_qc)
			*nd->old_qc = *nd->last_qc;
		if (!nd->last_qc)
			nd->last_qc = malloc(sizeof(struct ds_qc));
		if (nd->last_qc)
			*nd->last_qc = p->qc;
	}
	struct ds_cons_block b;
	memset(&b, 0, sizeof(b));
	memcpy(b.id, p->id, DS_HASH_LEN);
	memcpy(b.parent_id, p->qc.vote.block_hash, DS_HASH_LEN);
	b.epoch = p->epoch;
	b.round = p->round;
	b.height = p->qc.vote.height + 1;
	struct ds_cons_vote v;
	v.author = vidx_of(s, nd->idx, p->epoch);
	ds_cons_make_vote_data(&v.vote, &b, &p->qc.vote);
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_vote(sm, "sim", &v.vote);
	node_sign(nd, sm, sl, v.sig);
	uint8_t out[256];
	size_t olen;
	if (ds_cons_encode_vote(out, sizeof(out), &olen, &v) == 0)
		net_send(s, nd->idx, node_of(s, (uint32_t)((p->round + 1) % s->n), p->epoch), out, olen);
	free(p);
}

static void drain(struct snode *nd)
{
	struct sim *s = nd->sim;
	struct ds_cons_action a;
	while (nd->c && ds_cons_next_action(nd->c, &a)) {
		switch (a.kind) {
		case DS_CONS_ACT_SEND:
			if (a.to < s->n)
				net_send(s, nd->idx, node_of(s, a.to, nd->epoch), a.msg, a.len);
			break;
		case DS_CONS_ACT_BROADCAST:
			if (nd->byz && a.len > 1 && a.msg[1] == DS_CONS_MSG_PROPOSAL) {
				byz_equivocate(nd, a.msg, a.len);
				break;
			}
			for (uint32_t i = 0; i < s->n; i++)
				net_send(s, nd->idx, i, a.msg, a.len);
			break;
		case DS_CONS_ACT_TIMER: {
			struct event *e = new_ev(EV_TIMER, a.at_ms > s->now ? a.at_ms : s->now);
			e->to = nd->idx;
			e->gen = ++nd->timer_gen;
			push_ev(s, e);
			break;
		}
		}
	}
}

static void check_rc(struct snode *nd, int rc, const char *what)
{
	if (rc != 0) {
		char buf[128];
		snprintf(buf, sizeof(buf), "core failed in %s: %s", what, ds_errname(rc));
		violation(nd->sim, buf, nd->idx, nd->chain_len);
	}
}

/* A new core for `epoch`, rooted at the ledger block at root_h (final by
 * fiat) and started on the ledger block at tip_h with the persisted safety
 * state (ds__node_cons_begin). */
static void node_begin(struct snode *nd, uint64_t epoch, uint64_t root_h, uint64_t tip_h)
{
	struct sim *s = nd->sim;
	if (nd->c && epoch > nd->epoch)
		nd->round_base += ds_cons_round(nd->c);
	ds_cons_free(nd->c);
	nd->c = NULL;
	nd->timer_gen++;
	nd->epoch = epoch;
	nd->ep_root_height = root_h;
	nd->epoch_ended = nd->reconf = false;
	if (!nd->byz && epoch > s->epochs)
		s->epochs = epoch;
	struct ds_cons_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.chain_id, sizeof(cfg.chain_id), "sim");
	cfg.epoch = epoch;
	valset_for(s, epoch, &cfg.valset);
	cfg.self_index = vidx_of(s, nd->idx, epoch);
	memcpy(cfg.genesis.id, nd->chain[root_h].id, DS_HASH_LEN);
	cfg.genesis.height = root_h;
	cfg.base_timeout_ms = 200;
	cfg.max_timeout_ms = 3000;
	cfg.payload_max_bytes = 256;
	cfg.test_mutations = nd->byz ? 0 : s->mutations;
	struct ds_cons_io io = {
		.ctx = nd, .sign = io_sign, .verify = io_verify, .persist_safety = io_persist,
		.propose = io_propose, .validate = io_validate, .deliver_commit = io_deliver,
		.load_block = io_load, .persist_block = io_persist_block,
	};
	if (ds_cons_new(&nd->c, &cfg, &io) != 0) {
		fprintf(stderr, "sim: ds_cons_new failed\n");
		exit(2);
	}
	struct ds_cons_root root;
	struct cblock *top = &nd->chain[tip_h];
	memcpy(root.id, top->id, DS_HASH_LEN);
	root.round = tip_h == root_h ? 0 : top->round;
	root.height = tip_h;
	nd->up = true;
	check_rc(nd, ds_cons_start(nd->c, s->now, nd->safety, nd->safety_len, &root), "start");
	drain(nd);
}

/* (Re)starts the core on the ledger tip (ds__node_cons_restart): the tip's
 * epoch rooted at that epoch's root, or the next epoch rooted at the tip
 * when the tip is an end block. */
static void node_boot(struct snode *nd)
{
	uint64_t h = nd->chain_len - 1, e = blk_epoch(nd, h);
	if (h == 0 || past_change(nd->sim, e, h)) {
		node_begin(nd, e + 1, h, h);
		return;
	}
	uint64_t r = h;
	while (r > 0 && blk_epoch(nd, r) == e)
		r--;
	node_begin(nd, e, r, h);
}

/* After each call into the core: an end block it decided starts the next
 * epoch, rooted at it (ds__node_next_epoch). */
static void after_core(struct snode *nd)
{
	if (nd->up && nd->reconf)
		node_begin(nd, nd->epoch + 1, nd->end_height, nd->end_height);
}

static void node_crash(struct snode *nd)
{
	ds_cons_free(nd->c);
	nd->c = NULL;
	nd->up = false;
	nd->timer_gen++;
	nd->epoch_ended = nd->reconf = false; /* memory only: gone with the process */
	nd->syncing = nd->sync_applied = false;
}

/* ---- block sync by height (node_sync.c), through the simulated network ----
 *
 * request  = u8 SIM_SYNC_REQ || u64 from_height
 * response = u8 SIM_SYNC_RESP || u64 responder_tip || u32 count (0..16) ||
 *            count x (payload || u32 len, justify || u32 len, commit QC ||
 *                     u32 k, k suffix payloads), heights from_height upwards */

static void sync_request(struct snode *nd, uint32_t peer)
{
	struct sim *s = nd->sim;
	if (peer >= s->n || peer == nd->idx)
		return;
	uint8_t msg[9];
	msg[0] = SIM_SYNC_REQ;
	ds_put_u64be(msg + 1, nd->chain_len);
	net_send(s, nd->idx, peer, msg, sizeof(msg));
	nd->sync_peer = peer;
	nd->sync_sent_t = s->now;
}

static void sync_on_req(struct snode *nd, uint32_t peer, const uint8_t *p, size_t len)
{
	struct sim *s = nd->sim;
	if (len != 9)
		return;
	uint64_t from = ds_get_u64be(p + 1);
	if (from == 0)
		return;
	size_t cap = 13, off = 13;
	uint32_t k = 0;
	for (uint64_t h = from; h < nd->chain_len && k < SIM_SYNC_BLOCKS; h++, k++) {
		const struct cblock *cb = &nd->chain[h];
		cap += SIM_PAYLOAD_LEN + 12 + cb->justify_len + cb->cqc_len +
		       (size_t)cb->sfx_n * SIM_PAYLOAD_LEN;
	}
	uint8_t *m = malloc(cap);
	if (!m)
		return;
	m[0] = SIM_SYNC_RESP;
	ds_put_u64be(m + 1, nd->chain_len - 1);
	ds_put_u32be(m + 9, k);
	for (uint32_t i = 0; i < k; i++) {
		const struct cblock *cb = &nd->chain[from + i];
		memcpy(m + off, cb->payload, SIM_PAYLOAD_LEN);
		off += SIM_PAYLOAD_LEN;
		ds_put_u32be(m + off, (uint32_t)cb->justify_len);
		memcpy(m + off + 4, cb->justify, cb->justify_len);
		off += 4 + cb->justify_len;
		ds_put_u32be(m + off, (uint32_t)cb->cqc_len);
		memcpy(m + off + 4, cb->cqc, cb->cqc_len);
		off += 4 + cb->cqc_len;
		ds_put_u32be(m + off, cb->sfx_n);
		memcpy(m + off + 4, cb->sfx, (size_t)cb->sfx_n * SIM_PAYLOAD_LEN);
		off += 4 + (size_t)cb->sfx_n * SIM_PAYLOAD_LEN;
	}
	DS_ASSERT(off == cap);
	/* A Byzantine host serves forged blocks now and then: the receiver's
	 * checks (ids, links, QCs) must refuse them. */
	if (nd->byz && k > 0 && chance(s, 300))
		m[13 + 8 + rnd_below(s, 8)] ^= 0x01; /* the first block's round */
	net_send(s, nd->idx, peer, m, off);
	free(m);
}

struct rblock {
	const uint8_t *payload, *justify, *sfx;
	size_t justify_len;
	uint32_t sfx_n;
	uint8_t id[DS_HASH_LEN];
	struct ds_qc *qc;
};

/* True if suffix payloads sfx[0..k) of end block x (id xid) are hash-linked
 * suffix blocks of x's epoch and the one at `height` has id `want`. */
static bool suffix_names(const struct rblock *x, uint64_t height, const uint8_t want[DS_HASH_LEN])
{
	uint64_t xh = pl_height(x->payload), e = pl_epoch(x->payload);
	uint8_t parent[DS_HASH_LEN], id[DS_HASH_LEN];
	memcpy(parent, x->id, DS_HASH_LEN);
	for (uint32_t i = 0; i < x->sfx_n; i++) {
		const uint8_t *p = x->sfx + (size_t)i * SIM_PAYLOAD_LEN;
		block_id(id, p);
		if (!pl_suffix(p) || pl_epoch(p) != e || pl_height(p) != xh + i + 1 ||
		    memcmp(p + 24, parent, DS_HASH_LEN) != 0)
			return false;
		if (pl_height(p) == height)
			return memcmp(id, want, DS_HASH_LEN) == 0;
		memcpy(parent, id, DS_HASH_LEN);
	}
	return false;
}

/* True if block i's commit QC is proven for it by the response: it names
 * block i or a later block j of the same epoch (links checked), or a suffix
 * block carried by such a j (node_sync.c qc_covers). */
static bool qc_covers(const struct rblock *r, size_t i, size_t nr)
{
	const struct ds_vote_data *v = &r[i].qc->vote;
	if (v->round != v->parent_round + 1)
		return false; /* not a commit QC */
	for (size_t j = i; j < nr; j++) {
		uint64_t h = pl_height(r[j].payload);
		if (pl_epoch(r[j].payload) != v->epoch)
			return false;
		if (v->commit_height == h)
			return memcmp(v->commit_hash, r[j].id, DS_HASH_LEN) == 0;
		if (r[j].sfx_n > 0 && v->commit_height > h)
			return suffix_names(&r[j], v->commit_height, v->commit_hash);
	}
	return false;
}

static void caught_up(struct snode *nd)
{
	nd->syncing = false;
	if (nd->sync_applied && nd->up && ds_cons_committed_height(nd->c) < nd->chain_len - 1)
		node_boot(nd); /* the core restarts on the new tip and epoch */
	nd->sync_applied = false;
}

static void sync_on_resp(struct snode *nd, uint32_t peer, const uint8_t *m, size_t len)
{
	struct sim *s = nd->sim;
	struct rblock r[SIM_SYNC_BLOCKS];
	memset(r, 0, sizeof(r));
	size_t nr = 0, off = 13;
	if (len < 13)
		return;
	uint64_t ptip = ds_get_u64be(m + 1);
	uint32_t count = ds_get_u32be(m + 9);
	if (count > SIM_SYNC_BLOCKS)
		return;
	for (; nr < count; nr++) {
		struct rblock *b = &r[nr];
		size_t l;
		if (len - off < SIM_PAYLOAD_LEN + 4)
			break;
		b->payload = m + off;
		off += SIM_PAYLOAD_LEN;
		l = ds_get_u32be(m + off);
		if (len - off - 4 < l + 4)
			break;
		b->justify = m + off + 4;
		b->justify_len = l;
		off += 4 + l;
		l = ds_get_u32be(m + off);
		if (len - off - 4 < l + 4)
			break;
		struct ds_dec d;
		ds_dec_init(&d, m + off + 4, l);
		b->qc = malloc(sizeof(*b->qc));
		if (!b->qc || ds_cons_dec_qc(&d, b->qc) != 0 || ds_dec_finish(&d) != 0)
			break;
		off += 4 + l;
		b->sfx_n = ds_get_u32be(m + off);
		if (b->sfx_n > 64 || len - off - 4 < (size_t)b->sfx_n * SIM_PAYLOAD_LEN)
			break;
		b->sfx = m + off + 4;
		off += 4 + (size_t)b->sfx_n * SIM_PAYLOAD_LEN;
		block_id(b->id, b->payload);
	}
	if (nr != count || off != len)
		goto out; /* malformed */
	/* Parent links inside the response. */
	for (size_t i = 1; i < nr; i++)
		if (pl_height(r[i].payload) != pl_height(r[i - 1].payload) + 1 ||
		    memcmp(r[i].payload + 24, r[i - 1].id, DS_HASH_LEN) != 0) {
			nr = i;
			break;
		}
	size_t applied = 0;
	for (size_t i = 0; i < nr; i++) {
		const uint8_t *p = r[i].payload;
		uint64_t h = pl_height(p), e = pl_epoch(p);
		if (h < nd->chain_len)
			continue;
		struct ds_valset vs;
		valset_for(s, e, &vs);
		/* The ledger rules: the next height, on the tip, in the epoch
		 * the tip calls for, not a suffix block; then the QC. */
		if (h != nd->chain_len || memcmp(p + 24, nd->chain[h - 1].id, DS_HASH_LEN) != 0 ||
		    e != next_epoch(nd) || pl_suffix(p) || !qc_covers(r, i, nr) ||
		    ds_cons_verify_qc(r[i].qc, "sim", &vs, io_verify, nd) != 0)
			break;
		uint8_t q[DS_CONS_QC_MAX];
		size_t qlen;
		struct ds_enc en;
		ds_enc_init(&en, q, sizeof(q));
		ds_cons_enc_qc(&en, r[i].qc);
		if (ds_enc_finish(&en, &qlen) != 0)
			break;
		int rc = append_block(nd, r[i].id, ds_get_u64be(p + 8), p, r[i].justify,
				      r[i].justify_len, q, qlen);
		if (rc) {
			check_rc(nd, rc, "sync");
			break;
		}
		struct cblock *cb = &nd->chain[h];
		if (r[i].sfx_n) {
			cb->sfx = dup_bytes(r[i].sfx, (size_t)r[i].sfx_n * SIM_PAYLOAD_LEN);
			cb->sfx_n = cb->sfx ? r[i].sfx_n : 0;
		}
		applied++;
		s->synced++;
	}
	if (applied)
		nd->sync_applied = true;
	if (ptip > nd->chain_len - 1 && applied) {
		nd->syncing = true;
		sync_request(nd, peer);
	} else if (ptip <= nd->chain_len - 1) {
		caught_up(nd);
	}
out:
	for (size_t i = 0; i < SIM_SYNC_BLOCKS; i++)
		free(r[i].qc);
}

/* Every SIM_SYNC_TICK_MS (ds__node_sync_tick): syncing with a silent peer,
 * or no commit for a while: ask the next peer where it is. */
static void sync_tick(struct snode *nd)
{
	struct sim *s = nd->sim;
	if (!nd->up || s->now - nd->sync_sent_t < SIM_SYNC_RETRY_MS)
		return;
	if (!nd->syncing && s->now - nd->last_commit_t < SIM_SYNC_STALL_MS) {
		if (nd->sync_applied)
			caught_up(nd);
		return;
	}
	uint32_t peer = (nd->sync_peer + 1) % s->n;
	if (peer == nd->idx)
		peer = (peer + 1) % s->n;
	sync_request(nd, peer);
}

static void status(struct sim *s, const char *what)
{
	printf("t=%" PRIu64 " ev=%s\n", s->now, what);
	for (uint32_t i = 0; i < s->n; i++) {
		struct snode *nd = &s->nodes[i];
		if (!nd->up) {
			printf("  node=%u down%s committed=%" PRIu64 "\n", i, nd->byz ? " byz" : "",
			       nd->chain_len - 1);
			continue;
		}
		const struct ds_cons_stats *st = ds_cons_stats(nd->c);
		printf("  node=%u%s round=%" PRIu64 " voted=%" PRIu64 " hqc=%" PRIu64
		       " committed=%" PRIu64 " side=%u",
		       i, nd->byz ? " byz" : "", ds_cons_round(nd->c), ds_cons_last_voted_round(nd->c),
		       ds_cons_high_qc(nd->c)->vote.round, nd->chain_len - 1, s->side[i]);
		for (int k = 0; k < DS_CONS_DROP__COUNT; k++)
			if (st->dropped[k])
				printf(" %s=%" PRIu64, ds_cons_drop_name((enum ds_cons_drop)k), st->dropped[k]);
		printf(" sent=%" PRIu64 "/%" PRIu64 "/%" PRIu64 " sync=%" PRIu64 "\n", st->proposals_sent,
		       st->votes_sent, st->timeouts_sent, st->sync_requests);
	}
}

static const char *ev_name(enum ev_kind k)
{
	switch (k) {
	case EV_DELIVER: return "deliver";
	case EV_TIMER: return "timer";
	case EV_CRASH: return "crash";
	case EV_RESTART: return "restart";
	case EV_PARTITION: return "partition";
	case EV_HEAL_PART: return "heal-partition";
	case EV_SYNC_TICK: return "sync-tick";
	}
	return "?";
}

static void step(struct sim *s, struct event *e)
{
	s->now = e->t;
	s->events++;
	struct snode *nd = e->to < s->n ? &s->nodes[e->to] : NULL;
	switch (e->kind) {
	case EV_DELIVER: {
		if (!nd->up)
			break;
		if (e->len > 0 && e->data[0] == SIM_SYNC_REQ) {
			sync_on_req(nd, e->from, e->data, e->len);
			break;
		}
		if (e->len > 0 && e->data[0] == SIM_SYNC_RESP) {
			sync_on_resp(nd, e->from, e->data, e->len);
			break;
		}
		uint8_t type;
		uint64_t epoch;
		uint32_t author;
		/* A later epoch than the core's: this host missed a switch, and
		 * only block sync can bring it there (the core drops the message). */
		if (s->epoch_every && ds_cons_peek(&type, &epoch, &author, e->data, e->len) == 0 &&
		    epoch > nd->epoch && s->now - nd->sync_sent_t >= SIM_SYNC_RETRY_MS / 4)
			sync_request(nd, e->from);
		if (nd->byz && e->len > 1 && e->data[1] == DS_CONS_MSG_PROPOSAL)
			byz_vote(nd, e->data, e->len);
		check_rc(nd, ds_cons_on_message(nd->c, s->now, vidx_of(s, e->from, nd->epoch), e->data,
						e->len),
			 "message");
		drain(nd);
		after_core(nd);
		break;
	}
	case EV_TIMER:
		if (!nd->up || e->gen != nd->timer_gen)
			break;
		check_rc(nd, ds_cons_on_timer(nd->c, s->now), "timer");
		drain(nd);
		after_core(nd);
		break;
	case EV_SYNC_TICK: {
		sync_tick(nd);
		struct event *t = new_ev(EV_SYNC_TICK, s->now + SIM_SYNC_TICK_MS);
		t->to = nd->idx;
		push_ev(s, t);
		break;
	}
	case EV_CRASH:
		if (nd->up && s->faults) {
			node_crash(nd);
			struct event *r = new_ev(EV_RESTART, s->now + 50 + rnd_below(s, 2000));
			r->to = nd->idx;
			push_ev(s, r);
		}
		break;
	case EV_RESTART:
		if (!nd->up)
			node_boot(nd);
		break;
	case EV_PARTITION:
		if (s->faults) {
			for (uint32_t i = 0; i < s->n; i++)
				s->side[i] = (uint8_t)rnd_below(s, 2);
			s->partitioned = true;
			struct event *h = new_ev(EV_HEAL_PART, s->now + 100 + rnd_below(s, 2000));
			push_ev(s, h);
		}
		break;
	case EV_HEAL_PART:
		s->partitioned = false;
		memset(s->side, 0, sizeof(s->side));
		break;
	}
	if (s->verbose)
		status(s, ev_name(e->kind));
	for (uint32_t i = 0; i < s->n; i++) {
		struct snode *x = &s->nodes[i];
		if (x->up && !x->byz && x->round_base + ds_cons_round(x->c) > s->max_round)
			s->max_round = x->round_base + ds_cons_round(x->c);
	}
	free(e->data);
	free(e);
}

/* Schedules the fault events of the faulty phase (up to t_end). */
static void plan_faults(struct sim *s, uint64_t t_end)
{
	for (uint64_t t = 500 + rnd_below(s, 4000); t < t_end; t += 2000 + rnd_below(s, 6000))
		push_ev(s, new_ev(EV_PARTITION, t));
	for (uint32_t i = 0; i < s->n; i++) {
		if (s->nodes[i].byz)
			continue;
		for (uint64_t t = 300 + rnd_below(s, 8000); t < t_end; t += 4000 + rnd_below(s, 16000)) {
			struct event *e = new_ev(EV_CRASH, t);
			e->to = i;
			push_ev(s, e);
		}
	}
}

struct run_result {
	bool ok;
	char why[300];
	uint64_t commits, events, rounds, epochs, synced;
};

static bool g_no_proof_check, g_no_epoch_check, g_mut_no_suffix;
static uint64_t g_epoch_every;

static void run_seed(uint64_t seed, uint32_t n, uint64_t rounds, uint32_t heal_commits,
		     bool verbose, bool ed25519, uint32_t mutations, struct run_result *res)
{
	struct sim *s = calloc(1, sizeof(*s));
	if (!s)
		exit(2);
	s->seed = seed;
	s->rng = seed * 0x2545F4914F6CDD1DULL + 1;
	s->n = n;
	s->f = (n - 1) / 3;
	s->verbose = verbose;
	s->ed25519 = ed25519;
	s->mutations = mutations;
	s->no_proof_check = g_no_proof_check;
	s->no_epoch_check = g_no_epoch_check;
	s->mut_no_suffix = g_mut_no_suffix;
	s->epoch_every = g_epoch_every;
	s->heap = calloc(SIM_EVENTS_MAX, sizeof(*s->heap));
	s->canon = calloc(SIM_CHAIN_MAX, DS_HASH_LEN);
	if (!s->heap || !s->canon)
		exit(2);
	s->nbyz = (uint32_t)rnd_below(s, s->f + 1);
	s->p_drop = (uint32_t)rnd_below(s, 150);
	s->p_dup = (uint32_t)rnd_below(s, 100);
	s->p_long = (uint32_t)rnd_below(s, 50);
	s->delay_min = 1 + rnd_below(s, 10);
	s->delay_jitter = rnd_below(s, 60);
	s->faults = true;
	ds_sha256(s->genesis, "sim/genesis", 11);
	s->vs.epoch = 1;
	s->vs.n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct snode *nd = &s->nodes[i];
		nd->sim = s;
		nd->idx = i;
		nd->byz = i >= n - s->nbyz; /* the last nbyz indices */
		uint8_t in[16];
		ds_put_u64be(in, seed);
		ds_put_u64be(in + 8, i);
		ds_sha256(nd->secret, in, sizeof(in));
		if (ed25519) {
			if (ds_ed25519_seed_keypair(s->vs.v[i].pk, nd->sk, nd->secret) != 0)
				exit(2);
		} else {
			struct ds_iov iov[2] = {{"sim/pk", 6}, {nd->secret, DS_SEED_LEN}};
			ds_sha256_v(s->vs.v[i].pk, iov, 2);
		}
		s->vs.v[i].power = 1;
		nd->chain_cap = 256;
		nd->chain = calloc(nd->chain_cap, sizeof(nd->chain[0]));
		nd->disk = calloc(SIM_DISK_BLOCKS, sizeof(nd->disk[0]));
		nd->disk_height = calloc(SIM_DISK_BLOCKS, sizeof(nd->disk_height[0]));
		if (!nd->chain || !nd->disk || !nd->disk_height)
			exit(2);
		memcpy(nd->chain[0].id, s->genesis, DS_HASH_LEN);
		nd->chain_len = 1;
	}
	memcpy(s->canon[0], s->genesis, DS_HASH_LEN);
	s->canon_len = 1;
	uint64_t fault_end = rounds * 3000;
	plan_faults(s, fault_end);
	for (uint32_t i = 0; s->epoch_every && i < n; i++) {
		struct event *t = new_ev(EV_SYNC_TICK, SIM_SYNC_TICK_MS + 37 * i);
		t->to = i;
		push_ev(s, t);
	}
	for (uint32_t i = 0; i < n; i++)
		node_boot(&s->nodes[i]);

	/* Phase 1: faults until the rounds target (or the time cap). */
	struct event *e;
	while (!s->violation[0] && s->max_round < rounds && s->now < fault_end && (e = pop_ev(s)))
		step(s, e);
	/* Phase 2: the network heals, everyone restarts, commits must resume. */
	s->faults = false;
	s->partitioned = false;
	memset(s->side, 0, sizeof(s->side));
	uint64_t heal_start = s->now;
	for (uint32_t i = 0; i < n; i++) {
		struct snode *nd = &s->nodes[i];
		if (!nd->up)
			node_boot(nd);
		nd->heal_height = nd->chain_len;
	}
	bool live = false;
	uint64_t heal_budget = 60000;
	while (!s->violation[0] && s->now < heal_start + heal_budget && (e = pop_ev(s))) {
		step(s, e);
		live = true;
		for (uint32_t i = 0; i < n; i++) {
			struct snode *nd = &s->nodes[i];
			if (!nd->byz && nd->chain_len < nd->heal_height + heal_commits)
				live = false;
		}
		if (live)
			break;
	}
	res->ok = !s->violation[0] && live;
	if (s->violation[0])
		snprintf(res->why, sizeof(res->why), "safety: %s", s->violation);
	else if (!live)
		snprintf(res->why, sizeof(res->why),
			 "liveness: fewer than %u new commits on some honest node %" PRIu64
			 " ms after healing",
			 heal_commits, heal_budget);
	res->commits = s->canon_len - 1;
	res->events = s->events;
	res->rounds = s->max_round;
	res->epochs = s->epochs;
	res->synced = s->synced;
	if (verbose)
		printf("seed=%" PRIu64 " n=%u byz=%u drop=%u dup=%u long=%u delay=%" PRIu64 "+%" PRIu64
		       "\n", seed, n, s->nbyz, s->p_drop, s->p_dup, s->p_long, s->delay_min,
		       s->delay_jitter);
	for (uint32_t i = 0; i < n; i++) {
		struct snode *nd = &s->nodes[i];
		ds_cons_free(nd->c);
		for (uint64_t h = 0; h < nd->chain_len; h++) {
			free(nd->chain[h].justify);
			free(nd->chain[h].cqc);
			free(nd->chain[h].sfx);
		}
		free(nd->chain);
		free(nd->old_qc);
		free(nd->last_qc);
		for (uint32_t h = 0; h < nd->disk_len; h++)
			free(nd->disk[h].justify);
		free(nd->disk);
		free(nd->disk_height);
		free(nd->safety);
	}
	while ((e = pop_ev(s))) {
		free(e->data);
		free(e);
	}
	free(s->heap);
	free(s->canon);
	free(s);
}

static void usage(void)
{
	fprintf(stderr, "usage: sim --seeds N --rounds R [--seed S | --first S0] [--nodes n]\n"
			"           [--verbose] [--ed25519] [--heal-commits K] [--expect-fail]\n"
			"           [--no-proof-check] [--epoch-every K] [--no-epoch-check]\n"
			"           [--catch TEXT] (count only failures whose reason has TEXT)\n"
			"           [--mutate no-persist|no-lock|commit-1chain|vote-twice|epoch-no-suffix]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seeds = 1, first = 1, rounds = 200;
	char extra[256] = ""; /* flags a replay needs besides seed/rounds/nodes */
	uint32_t n = 4, heal_commits = 5, mutations = 0;
	bool verbose = false, ed = false, expect_fail = false;
	const char *catch_what = NULL; /* --catch: only failures naming this count */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--verbose")) {
			verbose = true;
		} else if (!strcmp(a, "--ed25519")) {
			ed = true;
		} else if (!strcmp(a, "--no-proof-check")) {
			/* only the agreement check: shows it catches bugs alone */
			g_no_proof_check = true;
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --no-proof-check");
		} else if (!strcmp(a, "--no-epoch-check")) {
			/* epochs without the epoch invariants: agreement alone */
			g_no_epoch_check = true;
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --no-epoch-check");
		} else if (v && !strcmp(a, "--catch")) {
			catch_what = v, i++;
		} else if (v && !strcmp(a, "--epoch-every")) {
			g_epoch_every = strtoull(v, NULL, 0), i++;
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --epoch-every %s", v);
		} else if (!strcmp(a, "--expect-fail")) {
			expect_fail = true;
		} else if (v && !strcmp(a, "--seeds")) {
			seeds = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--seed")) {
			first = strtoull(v, NULL, 0), seeds = 1, i++;
		} else if (v && !strcmp(a, "--first")) {
			first = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--rounds")) {
			rounds = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--nodes")) {
			n = (uint32_t)strtoul(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--heal-commits")) {
			heal_commits = (uint32_t)strtoul(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--mutate")) {
			if (!strcmp(v, "no-persist"))
				mutations |= DS_CONS_MUT_NO_PERSIST;
			else if (!strcmp(v, "no-lock"))
				mutations |= DS_CONS_MUT_NO_LOCK;
			else if (!strcmp(v, "commit-1chain"))
				mutations |= DS_CONS_MUT_COMMIT_1CHAIN;
			else if (!strcmp(v, "vote-twice"))
				mutations |= DS_CONS_MUT_VOTE_TWICE;
			else if (!strcmp(v, "epoch-no-suffix"))
				g_mut_no_suffix = true;
			else
				usage();
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --mutate %s", v);
			i++;
		} else {
			usage();
		}
	}
	if (n < 1 || n > SIM_NODES_MAX || rounds == 0 || seeds == 0)
		usage();
	if (ds_crypto_init() != 0)
		return 2;
	if ((g_mut_no_suffix && !g_epoch_every) || (catch_what && !expect_fail))
		usage();
	uint64_t failed = 0, commits = 0, events = 0, first_fail = 0, min_rounds = UINT64_MAX;
	uint64_t min_epochs = UINT64_MAX, synced = 0;
	for (uint64_t k = 0; k < seeds; k++) {
		uint64_t seed = first + k;
		struct run_result r;
		memset(&r, 0, sizeof(r));
		run_seed(seed, n, rounds, heal_commits, verbose, ed, mutations, &r);
		commits += r.commits;
		events += r.events;
		if (r.rounds < min_rounds)
			min_rounds = r.rounds;
		if (r.epochs < min_epochs)
			min_epochs = r.epochs;
		synced += r.synced;
		if (!r.ok && catch_what && !strstr(r.why, catch_what))
			continue; /* another symptom: not the one this run looks for */
		if (!r.ok) {
			if (!failed)
				first_fail = seed;
			failed++;
			printf("FAIL seed=%" PRIu64 " n=%u: %s (replay: --seed %" PRIu64 " --rounds %" PRIu64
			       " --nodes %u%s%s)\n",
			       seed, n, r.why, seed, rounds, n, ed ? " --ed25519" : "", extra);
			if (expect_fail)
				break;
		}
	}
	printf("seeds=%" PRIu64 " failed=%" PRIu64 " first_failed=%" PRIu64 " commits=%" PRIu64
	       " events=%" PRIu64 " min_rounds=%" PRIu64, seeds, failed, first_fail, commits,
	       events, min_rounds);
	if (g_epoch_every)
		printf(" min_epochs=%" PRIu64 " synced_blocks=%" PRIu64, min_epochs, synced);
	printf("\n");
	if (expect_fail)
		return failed ? 0 : 1;
	return failed ? 1 : 0;
}
