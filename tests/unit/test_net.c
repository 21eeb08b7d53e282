/* net: loop services, the handshake key schedule and frames, a 4-node mesh
 * on loopback, refused identities and chains, a tampering man-in-the-middle
 * proxy, queue bounds, restarts, timeouts and keep-alives.
 *
 * Every node runs on one ds_loop in this thread; the tampering proxy and the
 * post producer are plain POSIX threads. Every wait is bounded. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "net/net.h"
#include "net/net_internal.h"

#define WAIT_MS 10000
#define MAXN 4

/* ------------------------------------------------------------ helpers --- */

struct waiter {
	ds_loop *loop;
	bool (*pred)(void *);
	void *ctx;
	uint64_t deadline_ms;
	bool ok;
};

static void wait_tick(void *arg)
{
	struct waiter *w = arg;
	if (w->pred && w->pred(w->ctx)) {
		w->ok = true;
		ds_loop_stop(w->loop);
	} else if (ds_loop_now_ms(w->loop) >= w->deadline_ms) {
		ds_loop_stop(w->loop);
	}
}

/* Runs the loop until pred(ctx) holds or timeout_ms passes; pred NULL just
 * runs for timeout_ms. Returns whether pred held. */
static bool wait_until(ds_loop *loop, bool (*pred)(void *), void *ctx, uint64_t timeout_ms)
{
	struct waiter w = {loop, pred, ctx, ds_loop_now_ms(loop) + timeout_ms, false};
	if (pred && pred(ctx))
		return true;
	ds_timer *t;
	assert_int_equal(ds_timer_new(&t, loop), 0);
	ds_timer_start(t, 2, 2, wait_tick, &w);
	assert_int_equal(ds_loop_run(loop), 0);
	ds_timer_free(t);
	return w.ok || (pred && pred(ctx));
}

static void keypair(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN])
{
	assert_int_equal(ds_ed25519_keypair(pk, sk), 0);
}

struct node {
	ds_net *net;
	uint8_t pk[DS_PK_LEN], sk[DS_SK_LEN];
	uint16_t port;
	size_t idx;
	int ups, downs;
	uint64_t got[MAXN];      /* messages from each peer */
	uint64_t last_seq[MAXN]; /* sequence numbers must increase per sender */
	bool order_error;
	bool content_error;
};

static void cb_up(void *ctx, size_t peer)
{
	struct node *n = ctx;
	(void)peer;
	n->ups++;
}

static void cb_down(void *ctx, size_t peer)
{
	struct node *n = ctx;
	(void)peer;
	n->downs++;
}

/* Message: u64be seq || u8 sender index || filler bytes (sender ^ i). */
static void cb_msg(void *ctx, size_t peer, const uint8_t *msg, size_t len)
{
	struct node *n = ctx;
	if (peer >= MAXN || len < 9) {
		n->content_error = true;
		return;
	}
	uint64_t seq = ds_get_u64be(msg);
	if (msg[8] != peer)
		n->content_error = true;
	for (size_t i = 9; i < len; i++)
		if (msg[i] != (uint8_t)(peer ^ i))
			n->content_error = true;
	if (n->got[peer] > 0 && seq <= n->last_seq[peer])
		n->order_error = true;
	n->last_seq[peer] = seq;
	n->got[peer]++;
}

static size_t make_msg(uint8_t *buf, size_t len, uint64_t seq, size_t sender)
{
	ds_put_u64be(buf, seq);
	buf[8] = (uint8_t)sender;
	for (size_t i = 9; i < len; i++)
		buf[i] = (uint8_t)(sender ^ i);
	return len;
}

struct cluster {
	ds_loop *loop;
	size_t n;
	struct node nodes[MAXN];
	struct ds_net_config base;
	const char *chain;
	/* per node override of a peer's port (proxy); 0 = real port */
	uint16_t port_override[MAXN][MAXN];
};

static int cmp_node(const void *a, const void *b)
{
	return memcmp(((const struct node *)a)->pk, ((const struct node *)b)->pk, DS_PK_LEN);
}

static void test_config(struct ds_net_config *cfg)
{
	ds_net_config_default(cfg);
	cfg->listen_host = "127.0.0.1";
	cfg->frame_max_bytes = 64u << 10;
	cfg->queue_max_bytes = 8u << 20;
	cfg->backoff_min_ms = 20;
	cfg->backoff_max_ms = 200;
	cfg->handshake_timeout_ms = 2000;
	cfg->keepalive_ms = 0;
	cfg->on_peer_up = cb_up;
	cfg->on_peer_down = cb_down;
	cfg->on_message = cb_msg;
}

static void cluster_keys(struct cluster *cl, size_t n)
{
	memset(cl, 0, sizeof(*cl));
	cl->n = n;
	cl->chain = "test-chain";
	for (size_t i = 0; i < n; i++)
		keypair(cl->nodes[i].pk, cl->nodes[i].sk);
	qsort(cl->nodes, n, sizeof(cl->nodes[0]), cmp_node);
	for (size_t i = 0; i < n; i++)
		cl->nodes[i].idx = i;
	test_config(&cl->base);
	assert_int_equal(ds_loop_new(&cl->loop), 0);
}

static void peers_for(struct cluster *cl, size_t i, struct ds_net_peer_cfg *peers)
{
	for (size_t j = 0; j < cl->n; j++) {
		memcpy(peers[j].pk, cl->nodes[j].pk, DS_PK_LEN);
		snprintf(peers[j].host, sizeof(peers[j].host), "127.0.0.1");
		peers[j].port = cl->port_override[i][j] ? cl->port_override[i][j] : cl->nodes[j].port;
	}
}

/* (Re)starts node i; nodes it dials (higher keys) must already have ports. */
static void node_start(struct cluster *cl, size_t i)
{
	struct node *nd = &cl->nodes[i];
	struct ds_net_peer_cfg peers[MAXN];
	peers_for(cl, i, peers);
	struct ds_net_config cfg = cl->base;
	cfg.sk = nd->sk;
	cfg.chain_id = cl->chain;
	cfg.listen_port = nd->port;
	cfg.peers = peers;
	cfg.n_peers = cl->n;
	cfg.ctx = nd;
	assert_int_equal(ds_net_new(&nd->net, cl->loop, &cfg), 0);
	nd->port = ds_net_listen_port(nd->net);
	assert_true(nd->port != 0);
	assert_int_equal(ds_net_self(nd->net), i);
}

static void cluster_start(struct cluster *cl)
{
	/* Highest key first: it dials nobody, and each lower node then knows
	 * the ports of every node it dials. */
	for (size_t k = cl->n; k-- > 0;)
		node_start(cl, k);
}

static void cluster_free(struct cluster *cl)
{
	for (size_t i = 0; i < cl->n; i++) {
		ds_net_free(cl->nodes[i].net);
		cl->nodes[i].net = NULL;
	}
	ds_loop_free(cl->loop);
}

static bool all_connected(void *arg)
{
	struct cluster *cl = arg;
	for (size_t i = 0; i < cl->n; i++) {
		if (!cl->nodes[i].net)
			continue;
		struct ds_net_stats st;
		ds_net_stats(cl->nodes[i].net, &st);
		if (st.peers_connected != cl->n - 1)
			return false;
	}
	return true;
}

static struct ds_net_stats stats_of(struct node *n)
{
	struct ds_net_stats st;
	ds_net_stats(n->net, &st);
	return st;
}

/* ----------------------------------------------------- pure protocol --- */

static void test_key_schedule(void **state)
{
	(void)state;
	uint8_t apk[32], ask[32], bpk[32], bsk[32];
	assert_int_equal(ds_x25519_keypair(apk, ask), 0);
	assert_int_equal(ds_x25519_keypair(bpk, bsk), 0);
	struct ds__hs_keys ka, kb, kc;
	assert_int_equal(ds__hs_derive(&ka, "chain-a", ask, apk, bpk), 0);
	assert_int_equal(ds__hs_derive(&kb, "chain-a", bsk, bpk, apk), 0);
	assert_memory_equal(ka.send_key, kb.recv_key, 32);
	assert_memory_equal(ka.recv_key, kb.send_key, 32);
	assert_memory_not_equal(ka.send_key, ka.recv_key, 32);
	assert_memory_equal(ka.challenge, kb.challenge, 32);
	assert_memory_equal(ka.transcript, kb.transcript, 32);
	/* Another chain id changes every derived value. */
	assert_int_equal(ds__hs_derive(&kc, "chain-b", ask, apk, bpk), 0);
	assert_memory_not_equal(ka.send_key, kc.send_key, 32);
	assert_memory_not_equal(ka.challenge, kc.challenge, 32);
	assert_memory_not_equal(ka.transcript, kc.transcript, 32);
	/* A reflected hello and a low-order point are refused. */
	assert_int_equal(ds__hs_derive(&kc, "chain-a", ask, apk, apk), DS_EINVAL);
	uint8_t zero[32] = {0};
	assert_int_equal(ds__hs_derive(&kc, "chain-a", ask, apk, zero), DS_ECRYPTO);
	assert_int_equal(ds__hs_derive(&kc, "", ask, apk, bpk), DS_EINVAL);
	/* Signed bytes: tag || transcript || challenge. */
	uint8_t sb[DS__AUTH_SIGNED_LEN];
	ds__hs_signed_bytes(sb, &ka);
	assert_memory_equal(sb, "danshari/handshake/v1", 21);
	assert_memory_equal(sb + 21, ka.transcript, 32);
	assert_memory_equal(sb + 53, ka.challenge, 32);
}

/* Fixed inputs, so the documented worked example can be checked. */
static void test_key_schedule_fixed(void **state)
{
	(void)state;
	uint8_t ask[32], bsk[32], apk[32], bpk[32];
	for (int i = 0; i < 32; i++) {
		ask[i] = (uint8_t)(0x10 + i);
		bsk[i] = (uint8_t)(0x40 + i);
	}
	/* pk = X25519(sk, 9) */
	uint8_t base[32] = {9};
	assert_int_equal(ds_x25519(apk, ask, base), 0);
	assert_int_equal(ds_x25519(bpk, bsk, base), 0);
	/* Any node must agree: the key schedule is symmetric. */
	struct ds__hs_keys kb;
	assert_int_equal(ds__hs_derive(&kb, "danshari-test", bsk, bpk, apk), 0);
	struct ds__hs_keys k;
	assert_int_equal(ds__hs_derive(&k, "danshari-test", ask, apk, bpk), 0);
	char hex[65];
	/* Pinned worked example (docs/PROTOCOL.md), cross-checked with an
	 * independent Python implementation (pyca/cryptography + hashlib). */
	const struct {
		const char *name;
		const uint8_t *got;
		const char *hex;
	} pin[] = {
		{"eph_a", apk, "d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66"},
		{"eph_b", bpk, "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"},
		{"transcript", k.transcript,
		 "3d607378cae93480282c4d4e83b0d4b2e5daa090c6d312c95bced03fe6edf405"},
		{"a_send", k.send_key, "83d90cec470dfb8c6406377dcf9864fd35f48c91739614e11b59de99d46f9302"},
		{"a_recv", k.recv_key, "1057ad598a830d6825ab0975a7d6907b4dbbe41f786d762010f36bba8b05d4f9"},
		{"challenge", k.challenge,
		 "6cacf98873d62badaa16b4dbfb0b94d3526653c1c07c3fa3cf6b354ef7ddf2f2"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(pin); i++) {
		ds_hex_encode(hex, pin[i].got, 32);
		if (strcmp(hex, pin[i].hex) != 0)
			fail_msg("%s: got %s want %s", pin[i].name, hex, pin[i].hex);
	}
	uint8_t fr1[4 + 5 + 16];
	char frhex[2 * sizeof(fr1) + 1];
	assert_int_equal(ds__frame_seal(fr1, (const uint8_t *)"hello", 5, 1, k.send_key), 0);
	ds_hex_encode(frhex, fr1, sizeof(fr1));
	assert_string_equal(frhex, "000000159f2a764b1fa0928c9351f0ef90a30361bfc7ad60b8");
	/* Transcript recomputed independently from its definition. */
	uint8_t t[32];
	const uint8_t *lo = memcmp(apk, bpk, 32) < 0 ? apk : bpk;
	const uint8_t *hi = lo == apk ? bpk : apk;
	uint8_t in[21 + 1 + 13 + 64];
	memcpy(in, "danshari/handshake/v1", 21);
	in[21] = 13;
	memcpy(in + 22, "danshari-test", 13);
	memcpy(in + 35, lo, 32);
	memcpy(in + 67, hi, 32);
	ds_sha256(t, in, sizeof(in));
	assert_memory_equal(t, k.transcript, 32);
	/* Keys recomputed from HKDF directly. */
	uint8_t shared[32], okm[96];
	assert_int_equal(ds_x25519(shared, ask, bpk), 0);
	assert_int_equal(ds_hkdf_sha256(okm, 96, t, 32, shared, 32,
					(const uint8_t *)"danshari/handshake/v1/keys", 26),
			 0);
	bool a_lo = lo == apk;
	assert_memory_equal(k.send_key, a_lo ? okm : okm + 32, 32);
	assert_memory_equal(k.recv_key, a_lo ? okm + 32 : okm, 32);
	assert_memory_equal(k.challenge, okm + 64, 32);
	assert_memory_equal(kb.send_key, k.recv_key, 32);
}

static void test_frame_seal_open(void **state)
{
	(void)state;
	uint8_t key[32], key2[32];
	ds_random(key, 32);
	ds_random(key2, 32);
	const char *m = "the quick brown fox";
	size_t n = strlen(m);
	uint8_t f[4 + 64 + 16], g[sizeof(f)];
	assert_int_equal(ds__frame_seal(f, (const uint8_t *)m, n, 7, key), 0);
	assert_int_equal(ds_get_u32be(f), n + 16);
	memcpy(g, f, sizeof(f));
	assert_int_equal(ds__frame_open(g, g + 4, n + 16, 7, key), 0);
	assert_memory_equal(g + 4, m, n);
	/* Wrong counter (replay/reorder), wrong key, flipped bit, changed
	 * header: all refused. */
	memcpy(g, f, sizeof(f));
	assert_int_equal(ds__frame_open(g, g + 4, n + 16, 8, key), DS_ECRYPTO);
	memcpy(g, f, sizeof(f));
	assert_int_equal(ds__frame_open(g, g + 4, n + 16, 7, key2), DS_ECRYPTO);
	for (size_t i = 4; i < 4 + n + 16; i++) {
		memcpy(g, f, sizeof(f));
		g[i] ^= 0x01;
		assert_int_equal(ds__frame_open(g, g + 4, n + 16, 7, key), DS_ECRYPTO);
	}
	memcpy(g, f, sizeof(f));
	uint8_t hdr[4];
	ds_put_u32be(hdr, (uint32_t)(n + 17));
	assert_int_equal(ds__frame_open(hdr, g + 4, n + 16, 7, key), DS_ECRYPTO);
	assert_int_equal(ds__frame_open(g, g + 4, 15, 7, key), DS_ECRYPTO);
	uint8_t nonce[12];
	ds__frame_nonce(nonce, 0x0102030405060708ull);
	const uint8_t want[12] = {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
	assert_memory_equal(nonce, want, 12);
}

/* --------------------------------------------------------- loop tests --- */

struct loop_ctx {
	ds_loop *loop;
	pthread_t main_thread;
	atomic_int posted_run;
	int next_expected;
	bool order_bad, wrong_thread;
	int works_done, work_bad_status;
	atomic_int works_off_main;
	int oneshot, repeat;
	ds_timer *rep;
	ds_timer *self_free;
	int reentrant_rc;
	int signals;
	int last_signum;
};

struct post_arg {
	struct loop_ctx *lc;
	int seq;
};

static struct post_arg post_args[1000];

static void posted(void *arg)
{
	struct post_arg *pa = arg;
	struct loop_ctx *lc = pa->lc;
	if (!pthread_equal(pthread_self(), lc->main_thread))
		lc->wrong_thread = true;
	if (pa->seq != lc->next_expected)
		lc->order_bad = true;
	lc->next_expected = pa->seq + 1;
	atomic_fetch_add(&lc->posted_run, 1);
}

static void *producer(void *arg)
{
	struct loop_ctx *lc = arg;
	for (int i = 0; i < 1000; i++) {
		post_args[i] = (struct post_arg){lc, i};
		int rc;
		/* Bounded retry: the queue holds 16384, so EFULL should not occur. */
		for (int tries = 0; (rc = ds_loop_post(lc->loop, posted, &post_args[i])) == DS_EFULL &&
				    tries < 1000;
		     tries++)
			usleep(1000);
		if (rc != 0)
			return (void *)1;
	}
	return NULL;
}

static void work_fn(void *arg)
{
	struct loop_ctx *lc = arg;
	if (!pthread_equal(pthread_self(), lc->main_thread))
		atomic_fetch_add(&lc->works_off_main, 1);
	uint8_t h[32], buf[4096] = {1};
	for (int i = 0; i < 50; i++)
		ds_sha256(h, buf, sizeof(buf));
}

static void work_done(void *arg, int status)
{
	struct loop_ctx *lc = arg;
	if (!pthread_equal(pthread_self(), lc->main_thread))
		lc->wrong_thread = true;
	if (status != 0)
		lc->work_bad_status++;
	lc->works_done++;
}

static void t_oneshot(void *arg)
{
	((struct loop_ctx *)arg)->oneshot++;
}

static void t_repeat(void *arg)
{
	struct loop_ctx *lc = arg;
	if (++lc->repeat == 3)
		ds_timer_stop(lc->rep);
}

static void t_self_free(void *arg)
{
	struct loop_ctx *lc = arg;
	ds_timer_free(lc->self_free);
	lc->self_free = NULL;
	lc->reentrant_rc = ds_loop_run(lc->loop);
	raise(SIGTERM);
}

static void on_sig(void *arg, int signum)
{
	struct loop_ctx *lc = arg;
	lc->signals++;
	lc->last_signum = signum;
}

static bool loop_done(void *arg)
{
	struct loop_ctx *lc = arg;
	return atomic_load(&lc->posted_run) == 1000 && lc->works_done == 64 && lc->oneshot == 1 &&
	       lc->repeat == 3 && lc->self_free == NULL && lc->signals == 1;
}

static void test_loop_services(void **state)
{
	(void)state;
	struct loop_ctx lc = {0};
	assert_int_equal(ds_loop_new(&lc.loop), 0);
	lc.main_thread = pthread_self();
	lc.reentrant_rc = 1;
	assert_int_equal(ds_loop_on_signal(lc.loop, on_sig, &lc), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, producer, &lc), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(ds_loop_work(lc.loop, work_fn, work_done, &lc), 0);
	ds_timer *one;
	assert_int_equal(ds_timer_new(&one, lc.loop), 0);
	ds_timer_start(one, 5, 0, t_oneshot, &lc);
	assert_int_equal(ds_timer_new(&lc.rep, lc.loop), 0);
	ds_timer_start(lc.rep, 1, 3, t_repeat, &lc);
	assert_int_equal(ds_timer_new(&lc.self_free, lc.loop), 0);
	ds_timer_start(lc.self_free, 10, 0, t_self_free, &lc);
	bool ok = wait_until(lc.loop, loop_done, &lc, WAIT_MS);
	void *pres;
	pthread_join(th, &pres);
	assert_null(pres);
	/* Give a stopped repeating timer time to prove it stays stopped. */
	wait_until(lc.loop, NULL, NULL, 30);
	assert_true(ok);
	assert_int_equal(atomic_load(&lc.posted_run), 1000);
	assert_false(lc.order_bad);
	assert_false(lc.wrong_thread);
	assert_int_equal(lc.works_done, 64);
	assert_int_equal(lc.work_bad_status, 0);
	assert_int_equal(atomic_load(&lc.works_off_main), 64);
	assert_int_equal(lc.oneshot, 1);
	assert_int_equal(lc.repeat, 3);
	assert_int_equal(lc.reentrant_rc, DS_ESTATE);
	assert_int_equal(lc.signals, 1);
	assert_int_equal(lc.last_signum, SIGTERM);
	ds_timer_free(one);
	ds_timer_free(lc.rep);
	ds_loop_free(lc.loop);
}

static int drained;
static void count_drained(void *arg)
{
	(void)arg;
	drained++;
}

static void stopper_fn(void *arg)
{
	ds_loop_stop(arg);
}

static void test_loop_post_bound(void **state)
{
	(void)state;
	ds_loop *loop;
	assert_int_equal(ds_loop_new(&loop), 0);
	drained = 0;
	for (unsigned i = 0; i < DS_LOOP_POST_MAX; i++)
		assert_int_equal(ds_loop_post(loop, count_drained, NULL), 0);
	assert_int_equal(ds_loop_post(loop, count_drained, NULL), DS_EFULL);
	/* ds_loop_free runs what is still queued. */
	ds_loop_free(loop);
	assert_int_equal(drained, (int)DS_LOOP_POST_MAX);

	/* A stop requested before run makes run return promptly. */
	assert_int_equal(ds_loop_new(&loop), 0);
	ds_loop_stop(loop);
	assert_int_equal(ds_loop_run(loop), 0);
	/* Stop from a posted closure. */
	assert_int_equal(ds_loop_post(loop, stopper_fn, loop), 0);
	assert_int_equal(ds_loop_run(loop), 0);
	ds_loop_free(loop);
}

/* ------------------------------------------------------ mesh tests --- */

static void test_config_errors(void **state)
{
	(void)state;
	struct cluster cl;
	cluster_keys(&cl, 2);
	struct ds_net_peer_cfg peers[2];
	peers_for(&cl, 0, peers);
	peers[1].port = 9; /* dialled peer needs a port */
	struct ds_net_config cfg = cl.base;
	cfg.sk = cl.nodes[0].sk;
	cfg.chain_id = "c";
	cfg.peers = peers;
	cfg.n_peers = 2;
	ds_net *net = NULL;
	struct ds_net_config bad;
	bad = cfg;
	bad.chain_id = "";
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	bad = cfg;
	bad.n_peers = 1;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	bad = cfg;
	bad.frame_max_bytes = DS_NET_FRAME_HARD_MAX + 1;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	bad = cfg;
	bad.queue_max_bytes = 10;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	bad = cfg;
	bad.backoff_min_ms = 500;
	bad.backoff_max_ms = 100;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	bad = cfg;
	bad.sk = cl.nodes[1].sk; /* fine key, but ... */
	peers[1].port = 0;       /* node 1 dials nobody: ok */
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), 0);
	ds_net_free(net);
	peers[1].port = 9;
	/* Own key not in the set. */
	uint8_t opk[32], osk[64];
	keypair(opk, osk);
	bad = cfg;
	bad.sk = osk;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	/* Seed and public half that do not belong together. */
	uint8_t mixed[64];
	memcpy(mixed, cl.nodes[0].sk, 32);
	memcpy(mixed + 32, cl.nodes[1].pk, 32);
	bad = cfg;
	bad.sk = mixed;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	/* Duplicate key, bad host. */
	struct ds_net_peer_cfg dup[2] = {peers[0], peers[0]};
	bad = cfg;
	bad.peers = dup;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	struct ds_net_peer_cfg badhost[2] = {peers[0], peers[1]};
	snprintf(badhost[1].host, sizeof(badhost[1].host), "not-an-ip");
	bad = cfg;
	bad.peers = badhost;
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	bad = cfg;
	bad.listen_host = "999.1.1.1";
	assert_int_equal(ds_net_new(&net, cl.loop, &bad), DS_EINVAL);
	assert_null(net);
	ds_loop_free(cl.loop);
}

static bool mesh_received(void *arg)
{
	struct cluster *cl = arg;
	for (size_t i = 0; i < cl->n; i++)
		for (size_t j = 0; j < cl->n; j++)
			if (i != j && cl->nodes[i].got[j] != 250)
				return false;
	return true;
}

static void test_mesh4(void **state)
{
	(void)state;
	struct cluster cl;
	cluster_keys(&cl, 4);
	cluster_start(&cl);
	assert_true(wait_until(cl.loop, all_connected, &cl, WAIT_MS));
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(cl.nodes[i].ups, 3);
		for (size_t j = 0; j < 4; j++)
			assert_int_equal(ds_net_peer_connected(cl.nodes[i].net, j), i != j);
	}
	uint8_t buf[2048];
	uint64_t seq[MAXN] = {0};
	/* 200 unicast messages to each peer, interleaved with 50 broadcasts,
	 * of varied sizes; both directions of every link are used. */
	for (int r = 0; r < 250; r++) {
		for (size_t i = 0; i < 4; i++) {
			size_t len = 9 + (size_t)(r * 7 + (int)i * 13) % 2000;
			if (r % 5 == 4) {
				make_msg(buf, len, ++seq[i], i);
				assert_int_equal(ds_net_broadcast(cl.nodes[i].net, buf, len), 3);
				continue;
			}
			for (size_t j = 0; j < 4; j++) {
				if (j == i)
					continue;
				make_msg(buf, len, ++seq[i], i);
				assert_int_equal(ds_net_send(cl.nodes[i].net, j, buf, len), 0);
			}
		}
		if (r % 50 == 0)
			wait_until(cl.loop, NULL, NULL, 1);
	}
	assert_int_equal(ds_net_send(cl.nodes[0].net, 0, buf, 10), DS_EINVAL);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 4, buf, 10), DS_EINVAL);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, 0), DS_EINVAL);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, (64u << 10) + 1), DS_EINVAL);
	assert_true(wait_until(cl.loop, mesh_received, &cl, WAIT_MS));
	for (size_t i = 0; i < 4; i++) {
		assert_false(cl.nodes[i].order_error);
		assert_false(cl.nodes[i].content_error);
		struct ds_net_stats st = stats_of(&cl.nodes[i]);
		assert_int_equal(st.peers_connected, 3);
		assert_int_equal(st.frames_in, 750);
		assert_int_equal(st.frames_out, 750);
		assert_int_equal(st.frames_dropped, 0);
		assert_int_equal(st.handshake_failures, 0);
		assert_int_equal(st.link_errors, 0);
		assert_int_equal(st.handshakes_ok, 3);
		assert_true(st.bytes_in > 750 * 9 && st.bytes_out > 750 * 9);
	}
	cluster_free(&cl);
}

/* A node outside the set, or on another chain, dials a validator. */
static void refused_common(bool other_chain)
{
	struct cluster cl;
	cluster_keys(&cl, 2);
	/* The intruder must have a lower key than node 1 so that it dials. */
	struct node *in = &cl.nodes[0];
	struct node *target = &cl.nodes[1];
	if (other_chain) {
		/* A real validator (node 0) configured with another chain id. */
	} else {
		int tries = 0;
		do {
			keypair(in->pk, in->sk);
		} while (memcmp(in->pk, target->pk, DS_PK_LEN) > 0 && ++tries < 1000);
		assert_true(memcmp(in->pk, target->pk, DS_PK_LEN) < 0);
	}
	/* Target: knows node 0's original key (or the real one). */
	struct ds_net_peer_cfg tpeers[2];
	uint8_t real0[DS_PK_LEN];
	keypair(real0, (uint8_t[64]){0});
	if (other_chain)
		memcpy(real0, in->pk, DS_PK_LEN);
	while (memcmp(real0, target->pk, DS_PK_LEN) > 0)
		keypair(real0, (uint8_t[64]){0});
	memcpy(tpeers[0].pk, real0, DS_PK_LEN);
	snprintf(tpeers[0].host, sizeof(tpeers[0].host), "127.0.0.1");
	tpeers[0].port = 0;
	memcpy(tpeers[1].pk, target->pk, DS_PK_LEN);
	snprintf(tpeers[1].host, sizeof(tpeers[1].host), "127.0.0.1");
	tpeers[1].port = 0;
	struct ds_net_config cfg = cl.base;
	cfg.sk = target->sk;
	cfg.chain_id = "test-chain";
	cfg.peers = tpeers;
	cfg.n_peers = 2;
	cfg.ctx = target;
	assert_int_equal(ds_net_new(&target->net, cl.loop, &cfg), 0);
	target->port = ds_net_listen_port(target->net);

	struct ds_net_peer_cfg ipeers[2];
	memcpy(ipeers[0].pk, in->pk, DS_PK_LEN);
	snprintf(ipeers[0].host, sizeof(ipeers[0].host), "127.0.0.1");
	ipeers[0].port = 0;
	memcpy(ipeers[1].pk, target->pk, DS_PK_LEN);
	snprintf(ipeers[1].host, sizeof(ipeers[1].host), "127.0.0.1");
	ipeers[1].port = target->port;
	cfg.sk = in->sk;
	cfg.chain_id = other_chain ? "other-chain" : "test-chain";
	cfg.peers = ipeers;
	cfg.ctx = in;
	assert_int_equal(ds_net_new(&in->net, cl.loop, &cfg), 0);

	/* Several refused attempts: the intruder keeps retrying with back-off. */
	struct ds_net_stats st = {0};
	for (int i = 0; i < 500 && st.handshake_failures < 3; i++) {
		wait_until(cl.loop, NULL, NULL, 10);
		ds_net_stats(target->net, &st);
	}
	assert_true(st.handshake_failures >= 3);
	assert_int_equal(st.handshakes_ok, 0);
	assert_int_equal(target->ups, 0);
	assert_int_equal(target->got[0], 0);
	struct ds_net_stats ist = stats_of(in);
	assert_true(ist.dials >= 3);
	if (other_chain) {
		/* Neither side can open the other's auth frame. */
		assert_int_equal(ist.handshakes_ok, 0);
		assert_int_equal(in->ups, 0);
	}
	assert_false(ds_net_peer_connected(target->net, 0));
	cluster_free(&cl);
}

static void test_unknown_key_refused(void **state)
{
	(void)state;
	refused_common(false);
}

static void test_other_chain_refused(void **state)
{
	(void)state;
	refused_common(true);
}

/* ------------------------------------------------------ MITM proxy --- */

enum { PX_PASS, PX_FLIP, PX_REPLAY, PX_SWAP, PX_OVERSIZE, PX_BLACKHOLE };

struct proxy {
	int lfd;
	uint16_t port, target_port;
	int mode;
	atomic_int tampered;
	atomic_int stop;
	atomic_int accepted;
	pthread_t th;
};

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Relays one client connection; tampers with client->target units (hello,
 * then frames) on the first connection only. */
static void proxy_session(struct proxy *px, int cfd, int tfd, bool tamper)
{
	static uint8_t cbuf[1 << 20];
	size_t clen = 0, unit = 0;
	uint8_t held[1 << 16];
	size_t held_len = 0;
	bool black = false;
	while (!atomic_load(&px->stop)) {
		struct pollfd pf[2] = {{cfd, POLLIN, 0}, {tfd, POLLIN, 0}};
		int r = poll(pf, 2, 50);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return;
		if (pf[1].revents) {
			uint8_t b[65536];
			ssize_t n = recv(tfd, b, sizeof(b), 0);
			if (n <= 0)
				return;
			if (!black && !write_all(cfd, b, (size_t)n))
				return;
		}
		if (!pf[0].revents)
			continue;
		ssize_t n = recv(cfd, cbuf + clen, sizeof(cbuf) - clen, 0);
		if (n <= 0)
			return;
		clen += (size_t)n;
		size_t off = 0;
		for (;;) {
			size_t ulen;
			if (unit == 0) {
				ulen = 33;
			} else {
				if (clen - off < 4)
					break;
				ulen = 4 + ds_get_u32be(cbuf + off);
				if (ulen > sizeof(cbuf))
					return;
			}
			if (clen - off < ulen)
				break;
			uint8_t *u = cbuf + off;
			off += ulen;
			size_t idx = unit++;
			if (black)
				continue;
			/* unit 0: hello, 1: auth, 2..: data frames */
			if (!tamper || idx < 2 || atomic_load(&px->tampered)) {
				if (!write_all(tfd, u, ulen))
					return;
				continue;
			}
			switch (px->mode) {
			case PX_FLIP:
				u[ulen - 1] ^= 0x80;
				atomic_store(&px->tampered, 1);
				if (!write_all(tfd, u, ulen))
					return;
				break;
			case PX_REPLAY:
				atomic_store(&px->tampered, 1);
				if (!write_all(tfd, u, ulen) || !write_all(tfd, u, ulen))
					return;
				break;
			case PX_SWAP:
				if (held_len == 0) {
					if (ulen > sizeof(held))
						return;
					memcpy(held, u, ulen);
					held_len = ulen;
				} else {
					if (!write_all(tfd, u, ulen) || !write_all(tfd, held, held_len))
						return;
					held_len = 0;
					atomic_store(&px->tampered, 1);
				}
				break;
			case PX_OVERSIZE: {
				const uint8_t big[4] = {0x7f, 0xff, 0xff, 0xff};
				atomic_store(&px->tampered, 1);
				if (!write_all(tfd, big, 4))
					return;
				break;
			}
			case PX_BLACKHOLE:
				atomic_store(&px->tampered, 1);
				black = true;
				break;
			default:
				if (!write_all(tfd, u, ulen))
					return;
			}
		}
		memmove(cbuf, cbuf + off, clen - off);
		clen -= off;
	}
}

static void *proxy_main(void *arg)
{
	struct proxy *px = arg;
	while (!atomic_load(&px->stop)) {
		struct pollfd pf = {px->lfd, POLLIN, 0};
		if (poll(&pf, 1, 50) <= 0)
			continue;
		int cfd = accept(px->lfd, NULL, NULL);
		if (cfd < 0)
			continue;
		int tfd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(px->target_port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bool first = atomic_fetch_add(&px->accepted, 1) == 0;
		if (tfd >= 0 && connect(tfd, (struct sockaddr *)&a, sizeof(a)) == 0)
			proxy_session(px, cfd, tfd, first && px->mode != PX_PASS);
		if (tfd >= 0)
			close(tfd);
		close(cfd);
	}
	return NULL;
}

static void proxy_start(struct proxy *px, int mode, uint16_t target_port)
{
	memset(px, 0, sizeof(*px));
	px->mode = mode;
	px->target_port = target_port;
	px->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(px->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(px->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(px->lfd, 16), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(px->lfd, (struct sockaddr *)&a, &al), 0);
	px->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&px->th, NULL, proxy_main, px), 0);
}

static void proxy_stop(struct proxy *px)
{
	atomic_store(&px->stop, 1);
	pthread_join(px->th, NULL);
	close(px->lfd);
}

struct mitm_ctx {
	struct cluster *cl;
	uint64_t want_b_from_a;
	int want_a_ups;
};

static bool mitm_recovered(void *arg)
{
	struct mitm_ctx *m = arg;
	return m->cl->nodes[0].ups >= m->want_a_ups && ds_net_peer_connected(m->cl->nodes[0].net, 1) &&
	       ds_net_peer_connected(m->cl->nodes[1].net, 0);
}

static bool b_got(void *arg)
{
	struct mitm_ctx *m = arg;
	return m->cl->nodes[1].got[0] >= m->want_b_from_a;
}

static bool b_link_error(void *arg)
{
	struct cluster *cl = arg;
	return stats_of(&cl->nodes[1]).link_errors >= 1;
}

static bool a_link_error(void *arg)
{
	struct cluster *cl = arg;
	return stats_of(&cl->nodes[0]).link_errors >= 1;
}

/* Nodes A < B < C; A reaches B through the proxy; A-C and B-C are direct. */
static void mitm_case(int mode)
{
	struct cluster cl;
	cluster_keys(&cl, 3);
	if (mode == PX_BLACKHOLE)
		cl.base.keepalive_ms = 100;
	node_start(&cl, 2);
	node_start(&cl, 1);
	struct proxy px;
	proxy_start(&px, mode, cl.nodes[1].port);
	cl.port_override[0][1] = px.port;
	node_start(&cl, 0);
	assert_true(wait_until(cl.loop, all_connected, &cl, WAIT_MS));
	assert_int_equal(cl.nodes[0].ups, 2);

	uint8_t buf[64];
	uint64_t seq = 0;
	for (int i = 0; i < 4; i++)
		assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 40, ++seq, 0)), 0);
	if (mode == PX_BLACKHOLE) {
		/* The silent link is noticed by the keep-alive deadline on A. */
		assert_true(wait_until(cl.loop, a_link_error, &cl, WAIT_MS));
	} else {
		assert_true(wait_until(cl.loop, b_link_error, &cl, WAIT_MS));
	}
	assert_int_equal(atomic_load(&px.tampered), 1);
	struct ds_net_stats bst = stats_of(&cl.nodes[1]);
	if (mode != PX_BLACKHOLE)
		assert_int_equal(bst.link_errors, 1);
	/* The tampered stream never delivered a bad message. */
	assert_false(cl.nodes[1].content_error);
	assert_false(cl.nodes[1].order_error);
	if (mode == PX_FLIP || mode == PX_OVERSIZE || mode == PX_SWAP)
		assert_int_equal(cl.nodes[1].got[0], 0);
	if (mode == PX_REPLAY)
		assert_int_equal(cl.nodes[1].got[0], 1);

	/* A redials through the (now honest) proxy; the nodes kept running. */
	struct mitm_ctx m = {&cl, 0, 3};
	assert_true(wait_until(cl.loop, mitm_recovered, &m, WAIT_MS));
	m.want_b_from_a = cl.nodes[1].got[0] + 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 40, ++seq, 0)), 0);
	assert_true(wait_until(cl.loop, b_got, &m, WAIT_MS));
	assert_false(cl.nodes[1].content_error);
	/* The B-C link was never disturbed. */
	assert_int_equal(stats_of(&cl.nodes[2]).link_errors, 0);
	assert_int_equal(cl.nodes[2].downs, 0);
	assert_true(ds_net_peer_connected(cl.nodes[1].net, 2));
	assert_true(atomic_load(&px.accepted) >= 2);
	cluster_free(&cl);
	proxy_stop(&px);
}

static void test_mitm_flip(void **state)
{
	(void)state;
	mitm_case(PX_FLIP);
}

static void test_mitm_replay(void **state)
{
	(void)state;
	mitm_case(PX_REPLAY);
}

static void test_mitm_swap(void **state)
{
	(void)state;
	mitm_case(PX_SWAP);
}

static void test_mitm_oversize(void **state)
{
	(void)state;
	mitm_case(PX_OVERSIZE);
}

static void test_keepalive_blackhole(void **state)
{
	(void)state;
	mitm_case(PX_BLACKHOLE);
}

/* ------------------------------------------- bounds, restarts, timeouts --- */

static bool b_got_n(void *arg)
{
	struct mitm_ctx *m = arg;
	return m->cl->nodes[1].got[0] >= m->want_b_from_a;
}

static void test_queue_full(void **state)
{
	(void)state;
	struct cluster cl;
	cluster_keys(&cl, 2);
	cl.base.frame_max_bytes = 1000;
	cl.base.queue_max_bytes = 4 * 1020;
	cl.base.queue_max_frames = 8;
	cluster_start(&cl);
	assert_true(wait_until(cl.loop, all_connected, &cl, WAIT_MS));
	wait_until(cl.loop, NULL, NULL, 30); /* handshake writes completed */
	uint8_t buf[1000];
	uint64_t seq = 0;
	/* Frame bound: 8 small frames fit, the 9th is refused and counted. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 20, ++seq, 0)), 0);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 20, ++seq, 0)), DS_EFULL);
	assert_int_equal(ds_net_broadcast(cl.nodes[0].net, buf, 20), 0);
	assert_int_equal(stats_of(&cl.nodes[0]).frames_dropped, 2);
	struct mitm_ctx m = {&cl, 8, 0};
	assert_true(wait_until(cl.loop, b_got_n, &m, WAIT_MS));
	wait_until(cl.loop, NULL, NULL, 20);
	/* Byte bound: four 1000-byte frames (1020 bytes on the wire) fit. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 1000, ++seq, 0)), 0);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 1000, ++seq, 0)), DS_EFULL);
	assert_int_equal(stats_of(&cl.nodes[0]).frames_dropped, 3);
	m.want_b_from_a = 12;
	assert_true(wait_until(cl.loop, b_got_n, &m, WAIT_MS));
	/* The queue drained: sending works again. */
	wait_until(cl.loop, NULL, NULL, 20);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 1000, ++seq, 0)), 0);
	m.want_b_from_a = 13;
	assert_true(wait_until(cl.loop, b_got_n, &m, WAIT_MS));
	assert_false(cl.nodes[1].content_error);
	assert_false(cl.nodes[1].order_error);
	cluster_free(&cl);
}

static bool one_up(void *arg)
{
	struct cluster *cl = arg;
	return cl->nodes[0].net && cl->nodes[1].net && ds_net_peer_connected(cl->nodes[0].net, 1) &&
	       ds_net_peer_connected(cl->nodes[1].net, 0);
}

static bool a_sees_down(void *arg)
{
	struct cluster *cl = arg;
	return !ds_net_peer_connected(cl->nodes[0].net, 1);
}

static bool a_got_from_b(void *arg)
{
	struct cluster *cl = arg;
	return cl->nodes[0].got[1] >= 1;
}

static void test_restart(void **state)
{
	(void)state;
	struct cluster cl;
	cluster_keys(&cl, 2);
	cluster_start(&cl);
	assert_true(wait_until(cl.loop, one_up, &cl, WAIT_MS));
	uint8_t buf[64];
	/* The dialled node (B) restarts on the same port. */
	ds_net_free(cl.nodes[1].net);
	cl.nodes[1].net = NULL;
	assert_true(wait_until(cl.loop, a_sees_down, &cl, WAIT_MS));
	assert_int_equal(cl.nodes[0].downs, 1);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, 20), DS_ECLOSED);
	wait_until(cl.loop, NULL, NULL, 100); /* a few refused dials */
	memset(cl.nodes[1].got, 0, sizeof(cl.nodes[1].got));
	node_start(&cl, 1);
	assert_true(wait_until(cl.loop, one_up, &cl, WAIT_MS));
	assert_int_equal(cl.nodes[0].ups, 2);
	assert_int_equal(ds_net_send(cl.nodes[0].net, 1, buf, make_msg(buf, 30, 1, 0)), 0);
	struct mitm_ctx m = {&cl, 1, 0};
	assert_true(wait_until(cl.loop, b_got_n, &m, WAIT_MS));
	assert_true(stats_of(&cl.nodes[0]).dials >= 2);

	/* The dialling node (A) restarts: B accepts the new link. */
	int b_ups = cl.nodes[1].ups;
	ds_net_free(cl.nodes[0].net);
	cl.nodes[0].net = NULL;
	cl.nodes[0].port = 0;
	node_start(&cl, 0);
	assert_true(wait_until(cl.loop, one_up, &cl, WAIT_MS));
	assert_int_equal(cl.nodes[1].ups, b_ups + 1);
	assert_int_equal(ds_net_send(cl.nodes[1].net, 0, buf, make_msg(buf, 30, 1, 1)), 0);
	assert_true(wait_until(cl.loop, a_got_from_b, &cl, WAIT_MS));
	assert_int_equal(cl.nodes[0].got[1], 1);
	cluster_free(&cl);
}

static bool hs_failed(void *arg)
{
	struct cluster *cl = arg;
	return stats_of(&cl->nodes[1]).handshake_failures >= 2;
}

static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads until EOF (bounded by the loop-side timeout and a poll limit);
 * returns the byte count, or -1 if the socket stayed open. */
static ssize_t drain_to_eof(struct cluster *cl, int fd)
{
	ssize_t total = 0;
	for (int i = 0; i < 1000; i++) {
		wait_until(cl->loop, NULL, NULL, 5);
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, 0) <= 0)
			continue;
		uint8_t b[256];
		ssize_t n = recv(fd, b, sizeof(b), 0);
		if (n <= 0)
			return n == 0 ? total : -1;
		total += n;
	}
	return -1;
}

static void test_handshake_timeout_and_garbage(void **state)
{
	(void)state;
	struct cluster cl;
	cluster_keys(&cl, 2);
	cl.base.handshake_timeout_ms = 100;
	node_start(&cl, 1);
	/* Silent client: closed at the handshake deadline, after our hello. */
	int fd = raw_connect(cl.nodes[1].port);
	ssize_t got = drain_to_eof(&cl, fd);
	close(fd);
	assert_int_equal(got, 33);
	/* Client with an unknown handshake version. */
	fd = raw_connect(cl.nodes[1].port);
	uint8_t hello[33] = {2};
	assert_true(write_all(fd, hello, sizeof(hello)));
	got = drain_to_eof(&cl, fd);
	close(fd);
	assert_true(got >= 0 && got <= 33);
	assert_true(wait_until(cl.loop, hs_failed, &cl, WAIT_MS));
	/* Low-order ephemeral key (all zero). */
	fd = raw_connect(cl.nodes[1].port);
	hello[0] = 1;
	assert_true(write_all(fd, hello, sizeof(hello)));
	got = drain_to_eof(&cl, fd);
	close(fd);
	assert_true(got >= 0 && got <= 33);
	assert_int_equal(stats_of(&cl.nodes[1]).handshake_failures, 3);
	assert_int_equal(cl.nodes[1].ups, 0);
	cluster_free(&cl);
}

int main(void)
{
	assert_int_equal(ds_crypto_init(), 0);
	ds_log_set_level(getenv("DS_NET_LOG") ? DS_LOG_DEBUG : DS_LOG_OFF);
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_schedule),
		cmocka_unit_test(test_key_schedule_fixed),
		cmocka_unit_test(test_frame_seal_open),
		cmocka_unit_test(test_loop_services),
		cmocka_unit_test(test_loop_post_bound),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_mesh4),
		cmocka_unit_test(test_unknown_key_refused),
		cmocka_unit_test(test_other_chain_refused),
		cmocka_unit_test(test_mitm_flip),
		cmocka_unit_test(test_mitm_replay),
		cmocka_unit_test(test_mitm_swap),
		cmocka_unit_test(test_mitm_oversize),
		cmocka_unit_test(test_keepalive_blackhole),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_handshake_timeout_and_garbage),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
