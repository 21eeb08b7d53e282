/* danshari load against fake nodes: tiny HTTP/1.1 servers in threads that
 * share one fake chain. They verify every submitted tx (signature, chain
 * id, kv.put arguments, expiry from the status height plus the margin),
 * cut blocks every few milliseconds and serve them as /v1/blocks/{h}.
 * The load command runs in-process; its JSON line is read back from a
 * redirected stdout. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "util/util.h"

#define CHAIN "load-test"
#define HEIGHT0 7
#define TXS_CAP 20000
#define BLOCKS_CAP 4000
#define CONNS_CAP 64
#define BLOCK_EVERY_NS (15 * 1000000ull)

struct chain {
	pthread_mutex_t mu;
	uint8_t (*ids)[DS_HASH_LEN]; /* received and accepted, in order */
	uint32_t nids;
	uint32_t *order;             /* indices into ids, committed order */
	uint32_t norder;
	uint32_t bstart[BLOCKS_CAP + 1];
	uint32_t nblocks;
	uint64_t last_block_ns;
	/* checks */
	uint32_t received, bad, dup;
	uint64_t first_ns, last_ns;
	uint64_t expect_expiry;
	uint8_t senders[64][DS_PK_LEN];
	uint32_t nsenders;
	/* behaviour */
	uint32_t reject_every; /* every Nth tx gets 503 MEMPOOL_FULL */
	uint32_t drop_every;   /* every Nth accepted tx is never committed */
	uint32_t close_every;  /* every Nth response closes the connection */
	uint32_t responses;
};

struct fake {
	struct chain *c;
	int lfd;
	uint16_t port;
	pthread_t th;
	volatile int stop;
	uint32_t got; /* txs this server received */
};

struct sconn {
	int fd;
	uint8_t buf[8192];
	size_t len;
};

static void cut_block(struct chain *c, uint64_t now)
{
	if (now - c->last_block_ns < BLOCK_EVERY_NS || c->nblocks >= BLOCKS_CAP)
		return;
	c->last_block_ns = now;
	c->bstart[c->nblocks + 1] = c->norder;
	c->nblocks++;
}

static void reply(struct fake *f, struct sconn *s, int status, const char *body, bool *close_it)
{
	struct chain *c = f->c;
	c->responses++;
	bool cl = c->close_every && c->responses % c->close_every == 0;
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
			 status, strlen(body), cl ? "Connection: close\r\n" : "");
	struct ds_buf b;
	ds_buf_init(&b);
	ds_buf_append(&b, hdr, (size_t)n);
	ds_buf_append(&b, body, strlen(body));
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = send(s->fd, b.data + off, b.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = s->fd, .events = POLLOUT};
			(void)poll(&p, 1, 100);
			continue;
		}
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	ds_buf_free(&b);
	*close_it = cl;
}

/* Checks a submitted tx as a node would, plus what load promises. */
static bool tx_ok(struct chain *c, const uint8_t *p, size_t len, uint8_t id[DS_HASH_LEN])
{
	struct ds_tx tx;
	static uint8_t scratch[DS_TX_SCRATCH_LEN]; /* under c->mu */
	if (ds_tx_decode(&tx, p, len) != 0 || ds_tx_verify(&tx, scratch, sizeof(scratch)) != 0)
		return false;
	if (strcmp(tx.chain_id, CHAIN) != 0 || strcmp(tx.target, "kv") != 0 || strcmp(tx.method, "put") != 0 ||
	    tx.expiry_height != c->expect_expiry)
		return false;
	struct ds_value v, k, val;
	if (ds_value_parse(&v, tx.args, tx.args_len) != 0 || v.kind != DS_VALUE_MAP || v.count != 2 ||
	    ds_value_map_get(&k, &v, "key", 3) != 0 || k.kind != DS_VALUE_STR ||
	    ds_value_map_get(&val, &v, "value", 5) != 0)
		return false;
	bool known = false;
	for (uint32_t i = 0; i < c->nsenders; i++)
		known |= memcmp(c->senders[i], tx.sender, DS_PK_LEN) == 0;
	if (!known && c->nsenders < 64)
		memcpy(c->senders[c->nsenders++], tx.sender, DS_PK_LEN);
	ds_tx_id_body(id, p, len - DS_SIG_LEN);
	return true;
}

static void handle(struct fake *f, struct sconn *s, const char *method, const char *path,
		   const uint8_t *body, size_t blen, bool *close_it)
{
	struct chain *c = f->c;
	uint64_t now = ds_mono_ns();
	pthread_mutex_lock(&c->mu);
	cut_block(c, now);
	if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/status") == 0) {
		char b[256];
		snprintf(b, sizeof(b), "{\"chain_id\":\"%s\",\"height\":%d,\"node_id\":\"fake\"}", CHAIN, HEIGHT0);
		reply(f, s, 200, b, close_it);
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/tx") == 0) {
		uint8_t id[DS_HASH_LEN];
		c->received++;
		f->got++;
		if (!c->first_ns)
			c->first_ns = now;
		c->last_ns = now;
		if (!tx_ok(c, body, blen, id)) {
			c->bad++;
			reply(f, s, 422, "{\"error\":{\"code\":\"BAD_TX\",\"message\":\"x\"}}", close_it);
		} else if (c->reject_every && c->received % c->reject_every == 0) {
			reply(f, s, 503, "{\"error\":{\"code\":\"MEMPOOL_FULL\",\"message\":\"full\"}}", close_it);
		} else {
			bool dup = false;
			for (uint32_t i = 0; i < c->nids && !dup; i++)
				dup = memcmp(c->ids[i], id, DS_HASH_LEN) == 0;
			if (dup) {
				c->dup++;
				reply(f, s, 409, "{\"error\":{\"code\":\"REPLAY\",\"message\":\"seen\"}}", close_it);
			} else if (c->nids < TXS_CAP) {
				memcpy(c->ids[c->nids], id, DS_HASH_LEN);
				if (!(c->drop_every && (c->nids + 1) % c->drop_every == 0))
					c->order[c->norder++] = c->nids;
				c->nids++;
				reply(f, s, 202, "{\"status\":\"pending\"}", close_it);
			} else {
				reply(f, s, 503, "{\"error\":{\"code\":\"MEMPOOL_FULL\",\"message\":\"cap\"}}", close_it);
			}
		}
	} else if (strcmp(method, "GET") == 0 && strncmp(path, "/v1/blocks/", 11) == 0) {
		unsigned long long h = strtoull(path + 11, NULL, 10);
		if (h <= HEIGHT0) {
			char b[128];
			snprintf(b, sizeof(b), "{\"height\":%llu,\"txs\":[]}", h);
			reply(f, s, 200, b, close_it);
		} else if (h - HEIGHT0 > c->nblocks) {
			reply(f, s, 404, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no\"}}", close_it);
		} else {
			uint32_t k = (uint32_t)(h - HEIGHT0 - 1);
			struct ds_buf b;
			ds_buf_init(&b);
			ds_buf_printf(&b, "{\"height\":%llu,\"txs\":[", h);
			for (uint32_t i = c->bstart[k]; i < c->bstart[k + 1]; i++) {
				char hex[2 * DS_HASH_LEN + 1];
				ds_hex_encode(hex, c->ids[c->order[i]], DS_HASH_LEN);
				ds_buf_printf(&b, "%s\"%s\"", i > c->bstart[k] ? "," : "", hex);
			}
			ds_buf_printf(&b, "]}");
			ds_buf_append(&b, "", 1);
			reply(f, s, 200, (const char *)b.data, close_it);
			ds_buf_free(&b);
		}
	} else {
		reply(f, s, 404, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no\"}}", close_it);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Handles every complete request in s->buf. Returns false to close. */
static bool serve_buf(struct fake *f, struct sconn *s)
{
	for (int guard = 0; guard < 64; guard++) {
		uint8_t *end = memmem(s->buf, s->len, "\r\n\r\n", 4);
		if (!end)
			return s->len < sizeof(s->buf);
		size_t hlen = (size_t)(end - s->buf) + 4;
		char method[8] = {0}, path[128] = {0};
		if (sscanf((const char *)s->buf, "%7s %127s", method, path) != 2)
			return false;
		size_t clen = 0;
		char *cl = strcasestr((char *)s->buf, "Content-Length:");
		if (cl && (uint8_t *)cl < end)
			clen = strtoul(cl + 15, NULL, 10);
		if (clen > sizeof(s->buf) - hlen)
			return false;
		if (s->len < hlen + clen)
			return true;
		bool close_it = false;
		handle(f, s, method, path, s->buf + hlen, clen, &close_it);
		memmove(s->buf, s->buf + hlen + clen, s->len - hlen - clen);
		s->len -= hlen + clen;
		if (close_it)
			return false;
	}
	return true;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct sconn conns[CONNS_CAP];
	size_t n = 0;
	while (!f->stop) {
		struct pollfd p[CONNS_CAP + 1];
		p[0] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			p[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		if (poll(p, n + 1, 5) <= 0) {
			pthread_mutex_lock(&f->c->mu);
			cut_block(f->c, ds_mono_ns());
			pthread_mutex_unlock(&f->c->mu);
			continue;
		}
		if ((p[0].revents & POLLIN) && n < CONNS_CAP) {
			int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				conns[n].fd = fd;
				conns[n].len = 0;
				n++;
			}
		}
		for (size_t i = 0; i < n && i < CONNS_CAP; i++) {
			if (!(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct sconn *s = &conns[i];
			ssize_t r = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, 0);
			bool keep = r > 0;
			if (r > 0) {
				s->len += (size_t)r;
				keep = serve_buf(f, s);
			} else if (r < 0 && errno == EAGAIN) {
				keep = true;
			}
			if (!keep) {
				close(s->fd);
				conns[i] = conns[n - 1];
				p[i + 1] = p[n]; /* the moved conn's events this round */
				n--;
				i--;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		close(conns[i].fd);
	return NULL;
}

static void fake_start(struct fake *f, struct chain *c)
{
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 128), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	f->stop = 1;
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static void chain_init(struct chain *c, uint64_t margin)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->ids = calloc(TXS_CAP, DS_HASH_LEN);
	c->order = calloc(TXS_CAP, sizeof(uint32_t));
	assert_non_null(c->ids);
	assert_non_null(c->order);
	c->expect_expiry = HEIGHT0 + margin;
	c->last_block_ns = ds_mono_ns();
}

static void chain_free(struct chain *c)
{
	free(c->ids);
	free(c->order);
	pthread_mutex_destroy(&c->mu);
}

/* A port where nothing listens (bound then closed). */
static uint16_t dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static char *write_nodes(const char *dir, const uint16_t *ports, size_t n)
{
	char *path = malloc(strlen(dir) + 32);
	sprintf(path, "%s/nodes.json", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "{\"chain_id\":\"%s\",\"nodes\":[", CHAIN);
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%s{\"id\":\"node%zu\",\"public_key\":\"00\",\"p2p\":\"127.0.0.1:1\","
			    "\"api\":\"http://127.0.0.1:%u\"}",
			i ? "," : "", i, ports[i]);
	fprintf(fp, "]}\n");
	fclose(fp);
	return path;
}

/* Runs `danshari load ARGS`, returns its exit code and the parsed JSON line
 * (*out, may be NULL when nothing was printed). */
static int run_load(json_t **out, char **args, int nargs)
{
	char *argv[32];
	argv[0] = "load";
	for (int i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	char tmpl[] = "/tmp/ds-load-out-XXXXXX";
	int tfd = mkstemp(tmpl);
	assert_true(tfd >= 0);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	dup2(tfd, STDOUT_FILENO);
	int rc = ds_cli_load(nargs + 1, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char buf[8192] = {0};
	ssize_t r = pread(tfd, buf, sizeof(buf) - 1, 0);
	close(tfd);
	unlink(tmpl);
	*out = NULL;
	if (r > 0) {
		printf("# load: %s", buf);
		*out = json_loads(buf, 0, NULL);
		assert_non_null(*out);
		assert_non_null(strchr(buf, '\n'));
		assert_ptr_equal(strchr(buf, '\n'), buf + r - 1); /* exactly one line */
	}
	return rc;
}

static long long jint(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);
	assert_true(json_is_integer(v));
	return (long long)json_integer_value(v);
}

static double jnum(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);
	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_basic_two_nodes(void **state)
{
	(void)state;
	struct chain c;
	chain_init(&c, 1000);
	struct fake f[2];
	fake_start(&f[0], &c);
	fake_start(&f[1], &c);
	char *dir = tu_tmpdir("load");
	uint16_t ports[2] = {f[0].port, f[1].port};
	char *nodes = write_nodes(dir, ports, 2);
	char *args[] = {"--nodes", nodes, "--tps", "400", "--seconds", "1", "--keys", "4", "--conns", "2"};
	json_t *j;
	uint64_t t0 = ds_mono_ns();
	int rc = run_load(&j, args, 10);
	double took = (double)(ds_mono_ns() - t0) / 1e9;
	fake_stop(&f[0]);
	fake_stop(&f[1]);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.dup, 0);
	assert_int_equal(c.received, 400);
	assert_int_equal(c.nsenders, 4);
	assert_int_equal(jint(j, "submitted"), 400);
	assert_int_equal(jint(j, "accepted"), 400);
	assert_int_equal(jint(j, "rejected"), 0);
	assert_int_equal(jint(j, "failed"), 0);
	assert_int_equal(jint(j, "committed"), 400);
	assert_int_equal(jint(j, "height_start"), HEIGHT0);
	assert_int_equal(jint(j, "expiry_height"), HEIGHT0 + 1000);
	/* Spread over both nodes. Dispatch is strictly round robin over the
	 * nodes (a busy node's turn waits for it rather than going to the
	 * other one), so with both nodes up and nothing lost or retried the
	 * split is exact whatever the reply times (the old dispatcher, which
	 * skipped a busy node, gave 253/147 under load). */
	printf("# split %u/%u\n", f[0].got, f[1].got);
	assert_int_equal(f[0].got, 200);
	assert_int_equal(f[1].got, 200);
	/* Rate: the submissions span the one-second window. */
	double span = (double)(c.last_ns - c.first_ns) / 1e9;
	printf("# span %.3f s, took %.3f s\n", span, took);
	assert_true(span > 0.85 && span < 1.5);
	assert_true(took < 4.0);
	double p50 = jnum(j, "latency_p50_ms"), p99 = jnum(j, "latency_p99_ms");
	assert_true(p50 > 0 && p50 <= p99 && p99 < 1000);
	assert_true(jnum(j, "committed_tps") > 250 && jnum(j, "committed_tps") <= 401);
	json_decref(j);
	tu_rmrf(dir);
	free(dir);
	free(nodes);
	chain_free(&c);
}

static void test_rejects_and_uncommitted(void **state)
{
	(void)state;
	struct chain c;
	chain_init(&c, 50);
	c.reject_every = 5;
	c.drop_every = 10;
	struct fake f;
	fake_start(&f, &c);
	char *dir = tu_tmpdir("load");
	char *nodes = write_nodes(dir, &f.port, 1);
	char *args[] = {"--nodes", nodes, "--tps", "300", "--seconds", "1", "--timeout-s", "1",
			"--expiry-margin", "50"};
	json_t *j;
	uint64_t t0 = ds_mono_ns();
	int rc = run_load(&j, args, 10);
	double took = (double)(ds_mono_ns() - t0) / 1e9;
	fake_stop(&f);
	assert_int_equal(rc, 0);
	assert_int_equal(c.bad, 0);
	assert_int_equal(jint(j, "submitted"), 300);
	assert_int_equal(jint(j, "rejected"), 60);
	assert_int_equal(jint(j, "accepted"), 240);
	assert_int_equal(jint(j, "committed"), 240 - 24);
	assert_int_equal(jint(json_object_get(j, "rejected_by"), "MEMPOOL_FULL"), 60);
	assert_int_equal(jint(j, "expiry_height"), HEIGHT0 + 50);
	/* It waited for the missing commits, but only --timeout-s. */
	printf("# took %.3f s\n", took);
	assert_true(took > 1.8 && took < 3.5);
	json_decref(j);
	tu_rmrf(dir);
	free(dir);
	free(nodes);
	chain_free(&c);
}

static void test_reconnects_and_dead_node(void **state)
{
	(void)state;
	struct chain c;
	chain_init(&c, 1000);
	c.close_every = 3;
	struct fake f;
	fake_start(&f, &c);
	char *dir = tu_tmpdir("load");
	uint16_t ports[2] = {dead_port(), f.port};
	char *nodes = write_nodes(dir, ports, 2);
	char *args[] = {"--nodes", nodes, "--tps", "200", "--seconds", "1"};
	json_t *j;
	int rc = run_load(&j, args, 6);
	fake_stop(&f);
	assert_int_equal(rc, 0);
	assert_int_equal(c.bad, 0);
	/* Everything reached the live node even though half the connections
	 * point at a dead one and the live one closes every third reply. */
	assert_int_equal(jint(j, "submitted"), 200);
	assert_int_equal(jint(j, "accepted"), 200);
	assert_int_equal(jint(j, "committed"), 200);
	assert_int_equal(jint(j, "failed"), 0);
	assert_int_equal(c.dup, 0);
	json_decref(j);
	tu_rmrf(dir);
	free(dir);
	free(nodes);
	chain_free(&c);
}

static void test_usage_and_errors(void **state)
{
	(void)state;
	json_t *j;
	char *a1[] = {"--tps", "10", "--seconds", "1"};
	assert_int_equal(run_load(&j, a1, 4), 2);
	assert_null(j);
	char *a2[] = {"--nodes", "x", "--tps", "0", "--seconds", "1"};
	assert_int_equal(run_load(&j, a2, 6), 2);
	char *a3[] = {"--nodes", "x", "--tps", "10", "--seconds", "1", "--bogus", "1"};
	assert_int_equal(run_load(&j, a3, 8), 2);
	char *a4[] = {"--nodes", "x", "--tps", "1000000", "--seconds", "100"};
	assert_int_equal(run_load(&j, a4, 6), 2);
	char *dir = tu_tmpdir("load");
	char path[512];
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	FILE *fp = fopen(path, "w");
	fputs("{\"chain_id\":\"x\",\"nodes\":[{\"api\":\"ftp://a\"}]}", fp);
	fclose(fp);
	char *a5[] = {"--nodes", path, "--tps", "10", "--seconds", "1"};
	assert_int_equal(run_load(&j, a5, 6), 1);
	assert_null(j);
	char *a6[] = {"--nodes", "/nonexistent/nodes.json", "--tps", "10", "--seconds", "1"};
	assert_int_equal(run_load(&j, a6, 6), 1);
	uint16_t p = dead_port();
	char *nodes = write_nodes(dir, &p, 1);
	char *a7[] = {"--nodes", nodes, "--tps", "10", "--seconds", "1"};
	assert_int_equal(run_load(&j, a7, 6), 1); /* nobody answers /v1/status */
	assert_null(j);
	free(nodes);
	tu_rmrf(dir);
	free(dir);
}

/* ds_cli_load is weak in cli.h: a strong reference to its file's help text
 * makes the linker take cli_load.o out of the library. */
extern const char ds__load_help[];

int main(void)
{
	assert_int_equal(ds_crypto_init(), 0);
	if (strncmp(ds__load_help, "usage: danshari load", 20) != 0 || !ds_cli_load)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_two_nodes),
		cmocka_unit_test(test_rejects_and_uncommitted),
		cmocka_unit_test(test_reconnects_and_dead_node),
		cmocka_unit_test(test_usage_and_errors),
	};
	return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
