/* consensus: wire strictness, dropped-and-counted inputs, restart safety,
 * a small in-process network reaching commits, light-client QC checks. */
#include "testutil.h"

#include <string.h>

#include "consensus/consensus.h"

#define N 4
#define PAYLOAD_LEN 48

struct tnode;
struct tnet {
	struct tnode *nodes[N];
	struct ds_valset vs;
	uint8_t genesis[DS_HASH_LEN];
	uint64_t now;
	/* FIFO of in-flight messages */
	struct tmsg {
		uint32_t from, to;
		uint8_t *data;
		size_t len;
	} q[4096];
	size_t qh, qn;
};

struct tnode {
	struct tnet *net;
	uint32_t idx;
	struct ds_cons *c;
	uint8_t secret[32];
	uint8_t safety[8192];
	size_t safety_len;
	int persist_calls;
	uint64_t committed;
	uint8_t last_commit[DS_HASH_LEN];
	struct ds_qc *last_qc;
	uint64_t nonce;
	/* what left the node: votes (round, block) */
	uint64_t vote_rounds[64];
	uint8_t vote_blocks[64][DS_HASH_LEN];
	int nvotes;
	int persisted_before_send; /* -1 if a vote left before a persist */
};

static void fsig(uint8_t sig[DS_SIG_LEN], const uint8_t secret[32], const uint8_t *m, size_t n)
{
	struct ds_iov iov[2] = {{secret, 32}, {m, n}};
	ds_sha256_v(sig, iov, 2);
	memset(sig + 32, 0, 32);
}

static void t_sign(void *ctx, const uint8_t *m, size_t n, uint8_t sig[DS_SIG_LEN])
{
	struct tnode *t = ctx;
	fsig(sig, t->secret, m, n);
}

static int t_verify(void *ctx, const uint8_t pk[DS_PK_LEN], const uint8_t *m, size_t n,
		    const uint8_t sig[DS_SIG_LEN])
{
	struct tnode *t = ctx;
	for (uint32_t i = 0; i < N; i++) {
		if (memcmp(t->net->vs.v[i].pk, pk, DS_PK_LEN) != 0)
			continue;
		uint8_t want[DS_SIG_LEN];
		fsig(want, t->net->nodes[i]->secret, m, n);
		return memcmp(want, sig, DS_SIG_LEN) == 0 ? 0 : DS_ESIG;
	}
	return DS_ESIG;
}

static int t_persist(void *ctx, const uint8_t *b, size_t n)
{
	struct tnode *t = ctx;
	if (n > sizeof(t->safety))
		return DS_ETOOBIG;
	memcpy(t->safety, b, n);
	t->safety_len = n;
	t->persist_calls++;
	return 0;
}

static int t_persist_block(void *ctx, const struct ds_cons_block *b)
{
	return 0;
}

static void bid(uint8_t id[DS_HASH_LEN], const uint8_t *p)
{
	ds_sha256(id, p, PAYLOAD_LEN);
}

static int t_propose(void *ctx, uint8_t id[DS_HASH_LEN], uint8_t *p, size_t cap, size_t *len,
		     uint64_t epoch, uint64_t round, uint64_t height, const uint8_t parent[DS_HASH_LEN])
{
	struct tnode *t = ctx;
	if (cap < PAYLOAD_LEN)
		return DS_ETOOBIG;
	ds_put_u64be(p, round);
	ds_put_u64be(p + 8, height ^ (t->nonce++ << 32));
	memcpy(p + 16, parent, 32);
	bid(id, p);
	*len = PAYLOAD_LEN;
	return 0;
}

static int t_validate(void *ctx, const struct ds_cons_block *b)
{
	uint8_t id[DS_HASH_LEN];
	if (b->payload_len != PAYLOAD_LEN)
		return DS_EINVAL;
	bid(id, b->payload);
	if (memcmp(id, b->id, 32) != 0 || ds_get_u64be(b->payload) != b->round ||
	    memcmp(b->payload + 16, b->parent_id, 32) != 0)
		return DS_EINVAL;
	return 0;
}

static int t_deliver(void *ctx, const struct ds_cons_block *b, const struct ds_qc *qc)
{
	struct tnode *t = ctx;
	assert_int_equal(b->height, t->committed + 1);
	t->committed = b->height;
	memcpy(t->last_commit, b->id, 32);
	if (!t->last_qc)
		t->last_qc = malloc(sizeof(*t->last_qc));
	assert_non_null(t->last_qc);
	*t->last_qc = *qc;
	return 0;
}

static struct ds_cons_config mkcfg(struct tnet *net, uint32_t idx)
{
	struct ds_cons_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.chain_id, "test-chain");
	cfg.epoch = 1;
	cfg.valset = net->vs;
	cfg.self_index = idx;
	memcpy(cfg.genesis.id, net->genesis, 32);
	cfg.base_timeout_ms = 1000;
	cfg.max_timeout_ms = 8000;
	cfg.payload_max_bytes = 1024;
	return cfg;
}

static const struct ds_cons_io tio = {
	.sign = t_sign, .verify = t_verify, .persist_safety = t_persist,
	.persist_block = t_persist_block, .propose = t_propose, .validate = t_validate,
	.deliver_commit = t_deliver,
};

static void enqueue(struct tnet *net, uint32_t from, uint32_t to, const uint8_t *m, size_t n)
{
	assert_true(net->qn < DS_ARRAY_LEN(net->q));
	struct tmsg *x = &net->q[(net->qh + net->qn++) % DS_ARRAY_LEN(net->q)];
	x->from = from;
	x->to = to;
	x->data = malloc(n);
	assert_non_null(x->data);
	memcpy(x->data, m, n);
	x->len = n;
}

static void drain(struct tnode *t)
{
	struct ds_cons_action a;
	while (t->c && ds_cons_next_action(t->c, &a)) {
		if (a.kind == DS_CONS_ACT_TIMER)
			continue;
		if (a.len > 1 && a.msg[1] == DS_CONS_MSG_VOTE) {
			struct ds_cons_vote v;
			assert_int_equal(ds_cons_decode_vote(&v, a.msg, a.len), 0);
			/* the safety state must already say we voted here */
			if (t->safety_len == 0)
				t->persisted_before_send = -1;
			if (t->nvotes < 64) {
				t->vote_rounds[t->nvotes] = v.vote.round;
				memcpy(t->vote_blocks[t->nvotes], v.vote.block_hash, 32);
				t->nvotes++;
			}
		}
		for (uint32_t i = 0; i < N; i++) {
			if (i == t->idx || (a.kind == DS_CONS_ACT_SEND && a.to != i))
				continue;
			enqueue(t->net, t->idx, i, a.msg, a.len);
		}
	}
}

static void start_node(struct tnet *net, uint32_t i, bool restore)
{
	struct tnode *t = net->nodes[i];
	struct ds_cons_config cfg = mkcfg(net, i);
	struct ds_cons_io io = tio;
	io.ctx = t;
	assert_int_equal(ds_cons_new(&t->c, &cfg, &io), 0);
	assert_int_equal(ds_cons_start(t->c, net->now, restore ? t->safety : NULL,
				       restore ? t->safety_len : 0, NULL), 0);
	drain(t);
}

static struct tnet *net_new(void)
{
	struct tnet *net = calloc(1, sizeof(*net));
	assert_non_null(net);
	ds_sha256(net->genesis, "genesis", 7);
	net->vs.epoch = 1;
	net->vs.n = N;
	for (uint32_t i = 0; i < N; i++) {
		struct tnode *t = calloc(1, sizeof(*t));
		assert_non_null(t);
		t->net = net;
		t->idx = i;
		uint8_t in[4] = {'k', 'e', 'y', (uint8_t)i};
		ds_sha256(t->secret, in, 4);
		ds_sha256(net->vs.v[i].pk, t->secret, 32);
		net->vs.v[i].power = 1;
		net->nodes[i] = t;
	}
	return net;
}

static void net_free(struct tnet *net)
{
	while (net->qn) {
		free(net->q[net->qh].data);
		net->qh = (net->qh + 1) % DS_ARRAY_LEN(net->q);
		net->qn--;
	}
	for (uint32_t i = 0; i < N; i++) {
		ds_cons_free(net->nodes[i]->c);
		free(net->nodes[i]->last_qc);
		free(net->nodes[i]);
	}
	free(net);
}

/* Delivers up to max messages in FIFO order; `down` nodes lose theirs. */
static void pump(struct tnet *net, size_t max, uint32_t down)
{
	for (size_t k = 0; k < max && net->qn; k++) {
		struct tmsg m = net->q[net->qh];
		net->qh = (net->qh + 1) % DS_ARRAY_LEN(net->q);
		net->qn--;
		struct tnode *t = net->nodes[m.to];
		net->now += 1;
		if (m.to != down && t->c) {
			assert_int_equal(ds_cons_on_message(t->c, net->now, m.from, m.data, m.len), 0);
			drain(t);
		}
		free(m.data);
	}
}

static void test_happy_path_commits(void **state)
{
	(void)state;
	struct tnet *net = net_new();
	for (uint32_t i = 0; i < N; i++)
		start_node(net, i, false);
	pump(net, 2000, UINT32_MAX);
	for (uint32_t i = 0; i < N; i++) {
		struct tnode *t = net->nodes[i];
		assert_true(t->committed >= 5);
		assert_int_equal(t->persisted_before_send, 0);
		/* Light client: the commit QC verifies against the validator
		 * set alone and names the committed block. */
		assert_int_equal(ds_cons_verify_qc(t->last_qc, "test-chain", &net->vs, t_verify, t), 0);
		assert_int_equal(t->last_qc->vote.commit_height, t->committed);
		assert_memory_equal(t->last_qc->vote.commit_hash, t->last_commit, 32);
		assert_int_equal(ds_cons_verify_qc(t->last_qc, "other-chain", &net->vs, t_verify, t),
				 DS_ESIG);
		struct ds_qc bad = *t->last_qc;
		bad.nsigs = 2; /* below quorum */
		assert_int_equal(ds_cons_verify_qc(&bad, "test-chain", &net->vs, t_verify, t), DS_EINVAL);
		bad = *t->last_qc;
		bad.sigs[0].sig[5] ^= 1;
		assert_int_equal(ds_cons_verify_qc(&bad, "test-chain", &net->vs, t_verify, t), DS_ESIG);
	}
	uint64_t h = net->nodes[0]->committed;
	for (uint32_t i = 1; i < N; i++)
		if (net->nodes[i]->committed == h)
			assert_memory_equal(net->nodes[i]->last_commit, net->nodes[0]->last_commit, 32);
	net_free(net);
}

/* Builds a signed proposal for round 1 on the genesis QC by its leader. */
static size_t make_proposal(struct tnet *net, uint8_t *buf, size_t cap, uint64_t nonce,
			    uint32_t author, uint64_t epoch, bool bad_sig)
{
	struct ds_cons_proposal *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->epoch = epoch;
	p->author = author;
	p->round = 1;
	p->qc.vote.epoch = epoch;
	p->qc.vote.height = 0;
	memcpy(p->qc.vote.block_hash, net->genesis, 32);
	uint8_t payload[PAYLOAD_LEN];
	ds_put_u64be(payload, 1);
	ds_put_u64be(payload + 8, 1 ^ (nonce << 32));
	memcpy(payload + 16, net->genesis, 32);
	bid(p->id, payload);
	p->payload = payload;
	p->payload_len = PAYLOAD_LEN;
	uint8_t sm[DS_CONS_SIGNED_MAX];
	size_t sl = ds_cons_signed_proposal(sm, "test-chain", epoch, 1, 1, p->id, net->genesis);
	fsig(p->sig, net->nodes[author < N ? author : 0]->secret, sm, sl);
	if (bad_sig)
		p->sig[0] ^= 1;
	size_t n;
	assert_int_equal(ds_cons_encode_proposal(buf, cap, &n, p), 0);
	/* round trip is exact */
	struct ds_cons_proposal *q = calloc(1, sizeof(*q));
	assert_non_null(q);
	assert_int_equal(ds_cons_decode_proposal(q, buf, n), 0);
	uint8_t again[4096];
	size_t n2;
	assert_int_equal(ds_cons_encode_proposal(again, sizeof(again), &n2, q), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(buf, again, n);
	free(q);
	free(p);
	return n;
}

static void test_restart_never_double_votes(void **state)
{
	(void)state;
	struct tnet *net = net_new();
	struct tnode *t = net->nodes[3];
	start_node(net, 3, false);
	uint8_t a[4096], b[4096];
	size_t la = make_proposal(net, a, sizeof(a), 1, 1, 1, false);
	size_t lb = make_proposal(net, b, sizeof(b), 2, 1, 1, false); /* equivocation */
	assert_int_equal(ds_cons_on_message(t->c, 1, 1, a, la), 0);
	drain(t);
	assert_int_equal(t->nvotes, 1);
	assert_int_equal(t->vote_rounds[0], 1);
	assert_int_equal(ds_cons_last_voted_round(t->c), 1);
	/* Second block for the same round: refused before and after a crash. */
	assert_int_equal(ds_cons_on_message(t->c, 2, 1, b, lb), 0);
	drain(t);
	assert_int_equal(t->nvotes, 1);
	ds_cons_free(t->c);
	t->c = NULL;
	start_node(net, 3, true);
	assert_int_equal(ds_cons_last_voted_round(t->c), 1);
	assert_int_equal(ds_cons_on_message(t->c, 3, 1, b, lb), 0);
	drain(t);
	assert_int_equal(ds_cons_on_message(t->c, 4, 1, a, la), 0);
	drain(t);
	assert_int_equal(t->nvotes, 1);
	assert_true(ds_cons_stats(t->c)->dropped[DS_CONS_DROP_STALE] >= 2);
	/* The mutation that skips the safety write does double-vote: the
	 * test would catch a core that forgot to persist. */
	ds_cons_free(t->c);
	t->c = NULL;
	struct ds_cons_config cfg = mkcfg(net, 3);
	cfg.test_mutations = DS_CONS_MUT_NO_PERSIST;
	struct ds_cons_io io = tio;
	io.ctx = t;
	assert_int_equal(ds_cons_new(&t->c, &cfg, &io), 0);
	assert_int_equal(ds_cons_start(t->c, 5, NULL, 0, NULL), 0);
	drain(t);
	assert_int_equal(ds_cons_on_message(t->c, 6, 1, b, lb), 0);
	drain(t);
	assert_int_equal(t->nvotes, 2);
	assert_int_equal(t->vote_rounds[1], 1);
	assert_memory_not_equal(t->vote_blocks[0], t->vote_blocks[1], 32);
	net_free(net);
}

static void test_drops_counted(void **state)
{
	(void)state;
	struct tnet *net = net_new();
	struct tnode *t = net->nodes[3];
	start_node(net, 3, false);
	const struct ds_cons_stats *st = ds_cons_stats(t->c);
	uint8_t m[4096];
	size_t n = make_proposal(net, m, sizeof(m), 1, 1, 1, false);
	/* from a peer outside the validator set */
	assert_int_equal(ds_cons_on_message(t->c, 1, 7, m, n), 0);
	assert_int_equal(st->dropped[DS_CONS_DROP_NON_VALIDATOR], 1);
	/* author outside the set */
	uint8_t m2[4096];
	size_t n2 = make_proposal(net, m2, sizeof(m2), 1, 9, 1, false);
	assert_int_equal(ds_cons_on_message(t->c, 1, 1, m2, n2), 0);
	assert_int_equal(st->dropped[DS_CONS_DROP_NON_VALIDATOR], 2);
	/* wrong epoch */
	n2 = make_proposal(net, m2, sizeof(m2), 1, 1, 2, false);
	assert_int_equal(ds_cons_on_message(t->c, 1, 1, m2, n2), 0);
	assert_int_equal(st->dropped[DS_CONS_DROP_WRONG_EPOCH], 1);
	/* bad signature */
	n2 = make_proposal(net, m2, sizeof(m2), 1, 1, 1, true);
	assert_int_equal(ds_cons_on_message(t->c, 1, 1, m2, n2), 0);
	assert_int_equal(st->dropped[DS_CONS_DROP_BAD_SIG], 1);
	/* wrong leader for round 1 (leader is 1 % 4 = 1) */
	n2 = make_proposal(net, m2, sizeof(m2), 1, 3, 1, false);
	assert_int_equal(ds_cons_on_message(t->c, 1, 3, m2, n2), 0);
	assert_int_equal(st->dropped[DS_CONS_DROP_WRONG_LEADER], 1);
	/* malformed: every truncation and a trailing byte */
	uint64_t before = st->dropped[DS_CONS_DROP_MALFORMED];
	for (size_t cut = 0; cut < n; cut += 7)
		assert_int_equal(ds_cons_on_message(t->c, 1, 1, m, cut), 0);
	m[n] = 0;
	assert_int_equal(ds_cons_on_message(t->c, 1, 1, m, n + 1), 0);
	assert_true(st->dropped[DS_CONS_DROP_MALFORMED] >= before + n / 7 + 1);
	assert_int_equal(t->nvotes, 0);
	/* random garbage never crashes and never produces a vote */
	uint64_t seed = tu_seed();
	for (int k = 0; k < 2000; k++) {
		uint8_t g[600];
		size_t gl = tu_rand(&seed) % sizeof(g);
		memcpy(g, m, gl < n ? gl : n);
		g[tu_rand(&seed) % sizeof(g)] ^= (uint8_t)tu_rand(&seed);
		assert_int_equal(ds_cons_on_message(t->c, 1, 1, g, gl), 0);
	}
	drain(t);
	/* the intact proposal still gets its one vote */
	assert_int_equal(ds_cons_on_message(t->c, 2, 1, m, n), 0);
	drain(t);
	assert_int_equal(t->nvotes, 1);
	net_free(net);
}

static void enc_vd(uint8_t *buf, size_t *n, const struct ds_vote_data *v)
{
	struct ds_enc e;
	ds_enc_init(&e, buf, 512);
	ds_cons_enc_vote_data(&e, v);
	assert_int_equal(ds_enc_finish(&e, n), 0);
}

static int dec_vd(const uint8_t *buf, size_t n)
{
	struct ds_dec d;
	struct ds_vote_data v;
	ds_dec_init(&d, buf, n);
	(void)!ds_cons_dec_vote_data(&d, &v);
	return ds_dec_finish(&d);
}

static void test_codec_strict(void **state)
{
	(void)state;
	struct ds_vote_data v;
	memset(&v, 0, sizeof(v));
	v.epoch = 1;
	v.round = 5;
	v.height = 3;
	memset(v.block_hash, 0xbb, 32);
	v.parent_round = 4;
	memset(v.parent_hash, 0xaa, 32);
	v.commit_height = 2;
	memset(v.commit_hash, 0xaa, 32);
	uint8_t buf[512];
	size_t n;
	enc_vd(buf, &n, &v);
	assert_int_equal(dec_vd(buf, n), 0);
	assert_int_equal(dec_vd(buf, n - 1), DS_ETRUNC);
	buf[n] = 0;
	assert_int_equal(dec_vd(buf, n + 1), DS_ETRAILING);
	/* consecutive rounds without commit fields: not what honest nodes sign */
	struct ds_vote_data w = v;
	w.commit_height = 0;
	memset(w.commit_hash, 0, 32);
	enc_vd(buf, &n, &w);
	assert_int_equal(dec_vd(buf, n), DS_EINVAL);
	/* commit fields naming a block other than the parent */
	w = v;
	w.commit_hash[0] ^= 1;
	enc_vd(buf, &n, &w);
	assert_int_equal(dec_vd(buf, n), DS_EINVAL);
	/* commit fields when rounds are not consecutive */
	w = v;
	w.parent_round = 3;
	enc_vd(buf, &n, &w);
	assert_int_equal(dec_vd(buf, n), DS_EINVAL);
	/* parent round not below the round */
	w = v;
	w.parent_round = 5;
	enc_vd(buf, &n, &w);
	assert_int_equal(dec_vd(buf, n), DS_EINVAL);

	/* Vote message: round trip, non-minimal uvar refused. */
	struct ds_cons_vote vm = {.author = 2, .vote = v};
	memset(vm.sig, 7, sizeof(vm.sig));
	uint8_t mb[512];
	assert_int_equal(ds_cons_encode_vote(mb, sizeof(mb), &n, &vm), 0);
	struct ds_cons_vote out;
	assert_int_equal(ds_cons_decode_vote(&out, mb, n), 0);
	assert_int_equal(out.author, 2);
	assert_memory_equal(&out.vote, &v, sizeof(v));
	uint8_t nm[520];
	/* envelope: ver, type, epoch(1), author(2) -> make author 0x82 0x00 */
	memcpy(nm, mb, 3);
	nm[3] = 0x82;
	nm[4] = 0x00;
	memcpy(nm + 5, mb + 4, n - 4);
	assert_int_equal(ds_cons_decode_vote(&out, nm, n + 1), DS_ENONMINIMAL);
	mb[0] = 2; /* version */
	assert_int_equal(ds_cons_decode_vote(&out, mb, n), DS_EVERSION);
	mb[0] = 1;
	mb[1] = DS_CONS_MSG_TIMEOUT; /* type */
	assert_int_equal(ds_cons_decode_vote(&out, mb, n), DS_ETAG);

	/* QC: indices must strictly increase. */
	struct ds_qc *qc = calloc(1, sizeof(*qc));
	assert_non_null(qc);
	qc->vote = v;
	qc->nsigs = 3;
	qc->sigs[0].index = 0;
	qc->sigs[1].index = 2;
	qc->sigs[2].index = 2;
	struct ds_enc e;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_cons_enc_qc(&e, qc);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	struct ds_dec d;
	ds_dec_init(&d, buf, n);
	assert_int_equal(ds_cons_dec_qc(&d, qc), DS_EINVAL);
	free(qc);

	/* TC: an entry's high-QC round must be below the TC round. */
	struct ds_cons_tc *tc = calloc(1, sizeof(*tc));
	assert_non_null(tc);
	tc->epoch = 1;
	tc->round = 4;
	tc->nsigs = 1;
	tc->sigs[0].high_qc_round = 4;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_cons_enc_tc(&e, tc);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	ds_dec_init(&d, buf, n);
	assert_int_equal(ds_cons_dec_tc(&d, tc), DS_EINVAL);
	free(tc);

	/* Signed bytes start with the domain tag and the chain id. */
	size_t sl = ds_cons_signed_vote(buf, "c1", &v);
	assert_true(sl > strlen(DS_TAG_VOTE) + 3);
	assert_memory_equal(buf, DS_TAG_VOTE, strlen(DS_TAG_VOTE));
	assert_int_equal(buf[strlen(DS_TAG_VOTE)], 2);
	assert_memory_equal(buf + strlen(DS_TAG_VOTE) + 1, "c1", 2);
	uint8_t b2[DS_CONS_SIGNED_MAX];
	sl = ds_cons_signed_timeout(b2, "c1", 1, 5, 3);
	assert_memory_equal(b2, DS_TAG_TIMEOUT, strlen(DS_TAG_TIMEOUT));
	static const uint8_t tmo_tail[] = {1, 5, 3};
	assert_memory_equal(b2 + sl - 3, tmo_tail, 3);
}

static void test_timeouts_form_tc(void **state)
{
	(void)state;
	/* Leader of round 1 (node 1) is down: the others time out, form a
	 * TC, and round 2 commits continue without it. */
	struct tnet *net = net_new();
	for (uint32_t i = 0; i < N; i++)
		if (i != 1)
			start_node(net, i, false);
	net->nodes[1]->c = NULL;
	pump(net, 100, 1);
	net->now += 1500;
	for (uint32_t i = 0; i < N; i++) {
		struct tnode *t = net->nodes[i];
		if (!t->c)
			continue;
		assert_int_equal(ds_cons_on_timer(t->c, net->now), 0);
		drain(t);
	}
	for (int k = 0; k < 60; k++) {
		pump(net, 200, 1);
		net->now += 9000;
		for (uint32_t i = 0; i < N; i++) {
			if (net->nodes[i]->c) {
				assert_int_equal(ds_cons_on_timer(net->nodes[i]->c, net->now), 0);
				drain(net->nodes[i]);
			}
		}
	}
	for (uint32_t i = 0; i < N; i++) {
		struct tnode *t = net->nodes[i];
		if (!t->c)
			continue;
		assert_true(ds_cons_stats(t->c)->timeouts_sent >= 1);
		assert_true(t->committed >= 1);
	}
	uint64_t tcs = 0;
	for (uint32_t i = 0; i < N; i++)
		if (net->nodes[i]->c)
			tcs += ds_cons_stats(net->nodes[i]->c)->tcs_formed;
	assert_true(tcs >= 1);
	net_free(net);
}

static void test_reconfigure_epoch(void **state)
{
	(void)state;
	struct tnet *net = net_new();
	struct tnode *t = net->nodes[3];
	start_node(net, 3, false);
	struct ds_valset vs2 = net->vs;
	vs2.epoch = 2;
	struct ds_cons_root root;
	memcpy(root.id, net->genesis, 32);
	root.round = 0;
	root.height = 0;
	assert_int_equal(ds_cons_reconfigure(t->c, 10, &vs2, 1, &root), DS_EINVAL); /* not newer */
	assert_int_equal(ds_cons_reconfigure(t->c, 10, &vs2, 2, &root), 0);
	drain(t);
	uint8_t m[4096];
	size_t n = make_proposal(net, m, sizeof(m), 1, 1, 1, false);
	assert_int_equal(ds_cons_on_message(t->c, 11, 1, m, n), 0);
	assert_int_equal(ds_cons_stats(t->c)->dropped[DS_CONS_DROP_WRONG_EPOCH], 1);
	n = make_proposal(net, m, sizeof(m), 1, 1, 2, false);
	assert_int_equal(ds_cons_on_message(t->c, 12, 1, m, n), 0);
	drain(t);
	assert_int_equal(t->nvotes, 1);
	net_free(net);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct tnet *net = net_new();
	struct ds_cons_config cfg = mkcfg(net, 0);
	struct ds_cons *c;
	struct ds_cons_io io = tio;
	cfg.self_index = 4;
	assert_int_equal(ds_cons_new(&c, &cfg, &io), DS_EINVAL);
	cfg = mkcfg(net, 0);
	cfg.valset.epoch = 3;
	assert_int_equal(ds_cons_new(&c, &cfg, &io), DS_EINVAL);
	cfg = mkcfg(net, 0);
	memset(cfg.genesis.id, 0, 32);
	assert_int_equal(ds_cons_new(&c, &cfg, &io), DS_EINVAL);
	cfg = mkcfg(net, 0);
	io.persist_safety = NULL;
	assert_int_equal(ds_cons_new(&c, &cfg, &io), DS_EINVAL);
	/* corrupt safety state is refused, not trusted */
	io = tio;
	io.ctx = net->nodes[0];
	assert_int_equal(ds_cons_new(&c, &cfg, &io), 0);
	const uint8_t junk[] = {1, 2, 3};
	assert_int_equal(ds_cons_start(c, 0, junk, sizeof(junk), NULL), DS_ECORRUPT);
	ds_cons_free(c);
	assert_int_equal(ds_cons_quorum(4), 3);
	assert_int_equal(ds_cons_quorum(7), 5);
	assert_int_equal(ds_cons_quorum(1), 1);
	net_free(net);
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_strict),
		cmocka_unit_test(test_drops_counted),
		cmocka_unit_test(test_restart_never_double_votes),
		cmocka_unit_test(test_happy_path_commits),
		cmocka_unit_test(test_timeouts_form_tc),
		cmocka_unit_test(test_reconfigure_epoch),
		cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests_name("consensus", tests, NULL, NULL);
}
