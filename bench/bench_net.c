/* bench_net — peer-link figures on loopback, all nodes on one loop (one core):
 * a lower bound for one-process-per-node deployments. Prints medians of a
 * few repetitions as "metric: value unit"; never pass/fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "net/net.h"
#include "net/net_internal.h"

#define REPS 3
#define MAXN 4

struct bnode {
	ds_net *net;
	uint8_t pk[DS_PK_LEN], sk[DS_SK_LEN];
	uint16_t port;
	uint64_t rx_msgs, rx_bytes;
};

struct bench {
	ds_loop *loop;
	size_t n;
	struct bnode nodes[MAXN];
	size_t msg_len;
	size_t per_tick;
	bool one_way; /* node 0 -> node 1 only */
	uint64_t deadline_ms;
	bool measuring;
	uint64_t dropped;
};

static void on_msg(void *ctx, size_t peer, const uint8_t *msg, size_t len)
{
	struct bnode *n = ctx;
	(void)peer;
	(void)msg;
	n->rx_msgs++;
	n->rx_bytes += len;
}

static int cmp_node(const void *a, const void *b)
{
	return memcmp(((const struct bnode *)a)->pk, ((const struct bnode *)b)->pk, DS_PK_LEN);
}

static void setup(struct bench *b, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	if (ds_loop_new(&b->loop) != 0)
		exit(1);
	for (size_t i = 0; i < n; i++)
		if (ds_ed25519_keypair(b->nodes[i].pk, b->nodes[i].sk) != 0)
			exit(1);
	qsort(b->nodes, n, sizeof(b->nodes[0]), cmp_node);
}

static void start_nodes(struct bench *b)
{
	for (size_t k = b->n; k-- > 0;) {
		struct ds_net_peer_cfg peers[MAXN];
		for (size_t j = 0; j < b->n; j++) {
			memcpy(peers[j].pk, b->nodes[j].pk, DS_PK_LEN);
			snprintf(peers[j].host, sizeof(peers[j].host), "127.0.0.1");
			peers[j].port = b->nodes[j].port;
		}
		struct ds_net_config cfg;
		ds_net_config_default(&cfg);
		cfg.sk = b->nodes[k].sk;
		cfg.chain_id = "bench";
		cfg.peers = peers;
		cfg.n_peers = b->n;
		cfg.frame_max_bytes = 1u << 20;
		cfg.queue_max_bytes = 8u << 20;
		cfg.on_message = on_msg;
		cfg.ctx = &b->nodes[k];
		if (ds_net_new(&b->nodes[k].net, b->loop, &cfg) != 0)
			exit(1);
		b->nodes[k].port = ds_net_listen_port(b->nodes[k].net);
	}
}

static void teardown(struct bench *b)
{
	for (size_t i = 0; i < b->n; i++)
		ds_net_free(b->nodes[i].net);
	ds_loop_free(b->loop);
}

static void connect_tick(void *arg)
{
	struct bench *b = arg;
	bool all = true;
	for (size_t i = 0; i < b->n; i++) {
		struct ds_net_stats st;
		ds_net_stats(b->nodes[i].net, &st);
		all = all && st.peers_connected == b->n - 1;
	}
	if (all || ds_loop_now_ms(b->loop) > b->deadline_ms)
		ds_loop_stop(b->loop);
}

static void pump_tick(void *arg)
{
	struct bench *b = arg;
	if (ds_loop_now_ms(b->loop) >= b->deadline_ms) {
		ds_loop_stop(b->loop);
		return;
	}
	static uint8_t msg[1u << 20];
	for (size_t i = 0; i < b->n; i++) {
		if (b->one_way && i != 0)
			continue;
		for (size_t k = 0; k < b->per_tick; k++) {
			int rc = b->one_way ? ds_net_send(b->nodes[i].net, 1, msg, b->msg_len)
					    : ds_net_broadcast(b->nodes[i].net, msg, b->msg_len);
			bool full = b->one_way ? rc != 0 : rc < (int)b->n - 1;
			if (full) {
				b->dropped++;
				break; /* queue full: the link is saturated for now */
			}
		}
	}
}

static double run_for(struct bench *b, ds_loop_fn tick, uint64_t ms)
{
	ds_timer *t;
	if (ds_timer_new(&t, b->loop) != 0)
		exit(1);
	uint64_t t0 = ds_mono_ns();
	b->deadline_ms = ds_loop_now_ms(b->loop) + ms;
	ds_timer_start(t, 0, 1, tick, b);
	if (ds_loop_run(b->loop) != 0)
		exit(1);
	ds_timer_free(t);
	return (double)(ds_mono_ns() - t0) / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static void bench_mesh(size_t msg_len, double *msgs_s, double *mb_s, double *connect_ms)
{
	struct bench b;
	setup(&b, 4);
	uint64_t t0 = ds_mono_ns();
	start_nodes(&b);
	run_for(&b, connect_tick, 5000);
	*connect_ms = (double)(ds_mono_ns() - t0) / 1e6;
	b.msg_len = msg_len;
	b.per_tick = 64;
	run_for(&b, pump_tick, 300); /* warm-up */
	uint64_t m0 = 0, by0 = 0;
	for (size_t i = 0; i < 4; i++) {
		m0 += b.nodes[i].rx_msgs;
		by0 += b.nodes[i].rx_bytes;
	}
	double secs = run_for(&b, pump_tick, 1500);
	uint64_t m1 = 0, by1 = 0;
	for (size_t i = 0; i < 4; i++) {
		m1 += b.nodes[i].rx_msgs;
		by1 += b.nodes[i].rx_bytes;
	}
	*msgs_s = (double)(m1 - m0) / secs;
	*mb_s = (double)(by1 - by0) / secs / 1e6;
	teardown(&b);
}

static double bench_link(size_t msg_len)
{
	struct bench b;
	setup(&b, 2);
	start_nodes(&b);
	run_for(&b, connect_tick, 5000);
	b.msg_len = msg_len;
	b.per_tick = 16;
	b.one_way = true;
	run_for(&b, pump_tick, 200);
	uint64_t by0 = b.nodes[1].rx_bytes;
	double secs = run_for(&b, pump_tick, 1000);
	double mb = (double)(b.nodes[1].rx_bytes - by0) / secs / 1e6;
	teardown(&b);
	return mb;
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	ds_log_set_level(DS_LOG_OFF);
	double a[REPS], c[REPS], d[REPS], e[REPS];

	/* Pure frame seal+open of a 200-byte message. */
	uint8_t key[32], f[4 + 200 + 16], m[200] = {0};
	ds_random(key, sizeof(key));
	for (int r = 0; r < REPS; r++) {
		const int n = 200000;
		uint64_t t0 = ds_mono_ns();
		for (int i = 0; i < n; i++) {
			if (ds__frame_seal(f, m, sizeof(m), (uint64_t)i, key) != 0 ||
			    ds__frame_open(f, f + 4, sizeof(m) + 16, (uint64_t)i, key) != 0)
				return 1;
		}
		a[r] = (double)(ds_mono_ns() - t0) / n;
	}
	printf("net_frame_seal_open_200b: %.0f ns\n", median(a, REPS));

	for (int r = 0; r < REPS; r++)
		bench_mesh(200, &a[r], &c[r], &d[r]);
	printf("net_mesh4_connect: %.1f ms\n", median(d, REPS));
	printf("net_mesh4_200b_msgs: %.0f msg/s\n", median(a, REPS));
	printf("net_mesh4_200b_payload: %.1f MB/s\n", median(c, REPS));
	for (int r = 0; r < REPS; r++)
		bench_mesh(2048, &a[r], &c[r], &d[r]);
	printf("net_mesh4_2k_msgs: %.0f msg/s\n", median(a, REPS));
	printf("net_mesh4_2k_payload: %.1f MB/s\n", median(c, REPS));
	for (int r = 0; r < REPS; r++)
		e[r] = bench_link(64u << 10);
	printf("net_link_64k_payload: %.1f MB/s\n", median(e, REPS));
	return 0;
}
