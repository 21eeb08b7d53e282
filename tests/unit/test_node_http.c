/* node_http: the /v1 handlers on a real api server over a real chain (built
 * with the chain's test kit: signed txs, real QCs), with a fake node for
 * status and submission. Every response is checked for its documented
 * shape, every proof is verified with the verify module and by running
 * `danshari query` in-process, bad inputs get their 4xx and change nothing,
 * and the SSE stream replays and goes live. Every wait is bounded. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "chain/chain_int.h"
#include "merkle/merkle.h"
#include "node/node_http.h"
#include "verify/verify.h"

/* Declared here, not through cli/cli.h: there it is a weak symbol, and a
 * weak reference would not pull the command out of the library archive. */
int ds_cli_query(int argc, char **argv);

/* ------------------------------------------------------------ fixture */

#define CHAIN_ID "http-test"
#define TXS_PER_BLOCK 5
#define BLOCKS 3

static struct {
	char *dir;
	struct ds__kit kit;
	struct ds_chain *chain;
	struct ds_api *api;
	struct ds_node_http *http;
	uint16_t port;
	uint64_t rng;
	/* fake node */
	pthread_mutex_t mu;
	int submit_rc;      /* what the fake mempool answers */
	unsigned submitted; /* submissions that reached the fake node */
	pthread_t threads[64];
	unsigned nthreads;
} F;

struct pending_done {
	ds_node_http_done_fn done;
	void *arg;
	int rc;
	uint8_t id[DS_HASH_LEN];
};

static void *done_thread(void *p)
{
	struct pending_done *d = p;
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);
	d->done(d->arg, d->rc, d->id);
	free(d);
	return NULL;
}

static int fake_submit(void *ctx, const uint8_t *tx, size_t len, ds_node_http_done_fn done, void *arg)
{
	(void)ctx;
	struct pending_done *d = calloc(1, sizeof(*d));
	if (!d)
		return DS_ENOMEM;
	d->done = done;
	d->arg = arg;
	ds_tx_id_body(d->id, tx, len - DS_SIG_LEN);
	pthread_mutex_lock(&F.mu);
	d->rc = F.submit_rc;
	F.submitted++;
	int rc = F.nthreads < DS_ARRAY_LEN(F.threads) ?
		 pthread_create(&F.threads[F.nthreads], NULL, done_thread, d) : -1;
	if (rc == 0)
		F.nthreads++;
	pthread_mutex_unlock(&F.mu);
	if (rc != 0) {
		free(d);
		return DS_EFULL;
	}
	return 0;
}

static int fake_status(void *ctx, struct ds_node_http_status *out)
{
	(void)ctx;
	snprintf(out->node_id, sizeof(out->node_id), "node0");
	out->round = 42;
	out->mempool_size = 7;
	out->peers_connected = 2;
	out->nvalidators = F.kit.g.valset.n;
	for (uint32_t i = 0; i < out->nvalidators; i++) {
		memcpy(out->v[i].pk, F.kit.g.valset.v[i].pk, DS_PK_LEN);
		snprintf(out->v[i].p2p, sizeof(out->v[i].p2p), "127.0.0.1:%u", 26600 + 2 * i);
		out->v[i].connected = i < 3;
		out->v[i].last_seen_ms = i < 3 ? 1700000000000ull + i : 0;
	}
	return 0;
}

static bool fake_pending(void *ctx, const uint8_t id[DS_HASH_LEN])
{
	(void)ctx;
	return id[0] == 0xee; /* the tests' stand-in for "in the mempool" */
}

static void commit_block(uint32_t ntx)
{
	struct ds_buf blk;
	ds_buf_init(&blk);
	static struct ds_qc qc;
	assert_int_equal(ds__kit_block(&F.kit, F.chain, ntx, 8, &F.rng, &blk, &qc), 0);
	assert_int_equal(ds_chain_commit(F.chain, blk.data, blk.len, &qc, NULL), 0);
	ds_buf_free(&blk);
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.mu, NULL);
	F.rng = tu_seed() | 1;
	F.dir = tu_tmpdir("node_http");
	assert_int_equal(ds__kit_init(&F.kit, CHAIN_ID, 0, 1000), 0);
	struct ds_chain_options co = {.no_sync = true};
	assert_int_equal(ds_chain_open(&F.chain, F.dir, &F.kit.g, &co), 0);
	for (int i = 0; i < BLOCKS; i++)
		commit_block(TXS_PER_BLOCK);
	struct ds_api_config cfg = {.max_body_bytes = 256u << 10, .sse_heartbeat_ms = 200};
	assert_int_equal(ds_api_start(&F.api, &cfg), 0);
	F.port = ds_api_port(F.api);
	struct ds_node_http_host host = {
		.chain = F.chain,
		.status = fake_status,
		.submit_tx = fake_submit,
		.tx_pending = fake_pending,
	};
	assert_int_equal(ds_node_http_attach(&F.http, F.api, &host), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ds_api_stop(F.api);
	for (unsigned i = 0; i < F.nthreads; i++)
		pthread_join(F.threads[i], NULL);
	ds_node_http_free(F.http);
	ds_chain_close(F.chain);
	ds__kit_free(&F.kit);
	tu_rmrf(F.dir);
	free(F.dir);
	pthread_mutex_destroy(&F.mu);
	return 0;
}

/* ------------------------------------------------------------ HTTP client */

struct res {
	int status;
	char *raw;     /* whole response, heap */
	char *body;    /* into raw */
	json_t *json;  /* parsed body or NULL */
};

static void res_free(struct res *r)
{
	free(r->raw);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(F.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* HTTP/1.0: the server closes after the reply and never chunks it. */
static char g_last_path[128];

static struct res request(const char *method, const char *path, const char *ctype,
			  const void *body, size_t blen)
{
	snprintf(g_last_path, sizeof(g_last_path), "%s %s", method, path);
	int fd = dial();
	char head[4096];
	int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.0\r\nHost: x\r\n", method, path);
	if (ctype)
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "Content-Type: %s\r\n", ctype);
	if (body)
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "Content-Length: %zu\r\n", blen);
	hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n");
	assert_int_equal(send(fd, head, (size_t)hl, MSG_NOSIGNAL), hl);
	for (size_t off = 0; body && off < blen;) {
		ssize_t k = send(fd, (const char *)body + off, blen - off, MSG_NOSIGNAL);
		if (k <= 0)
			break; /* the server may cut an oversize upload short */
		off += (size_t)k;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			assert_true(cap <= (64u << 20));
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		ssize_t k = recv(fd, buf + n, cap - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = 0;
	struct res r = {.raw = buf};
	char *sep = strstr(buf, "\r\n\r\n");
	if (n > 12 && strncmp(buf, "HTTP/1.", 7) == 0 && sep) {
		r.status = atoi(buf + 9);
		r.body = sep + 4;
		r.json = json_loads(r.body, 0, NULL);
	}
	return r;
}

static struct res get(const char *path)
{
	return request("GET", path, NULL, NULL, 0);
}

static void expect_error(struct res *r, int status, const char *code)
{
	json_t *c = json_object_get(json_object_get(r->json, "error"), "code");
	if (r->status != status || !json_is_string(c) || strcmp(json_string_value(c), code) != 0)
		fprintf(stderr, "# %s: expected %d %s, got: %.600s\n", g_last_path, status, code, r->raw);
	assert_int_equal(r->status, status);
	json_t *e = json_object_get(r->json, "error");
	assert_true(json_is_object(e));
	assert_string_equal(json_string_value(json_object_get(e, "code")), code);
	assert_true(json_is_string(json_object_get(e, "message")));
	res_free(r);
}

static uint64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		fprintf(stderr, "# field %s is not an integer\n", k);
	assert_true(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		fprintf(stderr, "# field %s is not a string\n", k);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void jhexlen(json_t *o, const char *k, size_t bytes)
{
	const char *s = jstr(o, k);
	assert_int_equal(strlen(s), 2 * bytes);
	for (const char *p = s; *p; p++)
		assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

static void check_block_shape(json_t *b, bool genesis)
{
	static const char *hashes[] = {"hash", "parent_hash", "tx_root", "state_root", "results_root",
				       "history_root", "valset_hash"};
	for (size_t i = 0; i < DS_ARRAY_LEN(hashes); i++)
		jhexlen(b, hashes[i], DS_HASH_LEN);
	jhexlen(b, "proposer", DS_PK_LEN);
	static const char *ints[] = {"height", "round", "epoch", "time_ms", "tx_count", "exec_height"};
	for (size_t i = 0; i < DS_ARRAY_LEN(ints); i++)
		(void)jint(b, ints[i]);
	assert_true(strlen(jstr(b, "header_hex")) > 100);
	json_t *txs = json_object_get(b, "txs");
	assert_true(json_is_array(txs));
	assert_int_equal(json_array_size(txs), jint(b, "tx_count"));
	json_t *qc = json_object_get(b, "qc");
	if (genesis) {
		assert_true(json_is_null(qc));
		return;
	}
	assert_true(json_is_object(qc));
	(void)jstr(qc, "hex");
	(void)jint(qc, "round");
	jhexlen(qc, "block_hash", DS_HASH_LEN);
	jhexlen(qc, "commit_hash", DS_HASH_LEN);
	(void)jint(qc, "commit_height");
	json_t *signers = json_object_get(qc, "signers");
	assert_true(json_is_array(signers));
	assert_int_equal(json_array_size(signers), 3);
}

static void trust(struct ds_verify_trust *t)
{
	uint8_t pks[DS__KIT_VALS][DS_PK_LEN];
	for (int i = 0; i < DS__KIT_VALS; i++)
		memcpy(pks[i], F.kit.g.valset.v[i].pk, DS_PK_LEN);
	assert_int_equal(ds_verify_trust_init(t, CHAIN_ID, 0, (const uint8_t(*)[DS_PK_LEN])pks,
					      DS__KIT_VALS), 0);
}

static void unhex_field(uint8_t *out, size_t n, json_t *o, const char *k)
{
	const char *s = jstr(o, k);
	assert_int_equal(strlen(s), 2 * n);
	assert_int_equal(ds_hex_decode(out, n, s, 2 * n), 0);
}

/* Verifies a block JSON with the verify module (header + QC). */
static void verify_block(struct ds_verified_header *vh, json_t *b)
{
	struct ds_verify_trust t;
	trust(&t);
	size_t hn, qn;
	uint8_t *he = tu_unhex(jstr(b, "header_hex"), &hn);
	uint8_t *qc = tu_unhex(jstr(json_object_get(b, "qc"), "hex"), &qn);
	char why[256] = "";
	int rc = ds_verify_header(vh, &t, he, hn, qc, qn, NULL, 0, why, sizeof(why));
	if (rc)
		fprintf(stderr, "# %s\n", why);
	assert_int_equal(rc, 0);
	free(he);
	free(qc);
}

static uint64_t tip(void)
{
	struct ds_chain_tip tp;
	assert_int_equal(ds_chain_tip(F.chain, &tp), 0);
	return tp.height;
}

/* Runs `danshari query ARGS... --validators ... --chain-id ...`. */
static int run_query(const char *const *args, size_t n)
{
	char vals[DS__KIT_VALS * (2 * DS_PK_LEN + 1)];
	size_t o = 0;
	for (int i = 0; i < DS__KIT_VALS; i++) {
		if (i)
			vals[o++] = ',';
		ds_hex_encode(vals + o, F.kit.g.valset.v[i].pk, DS_PK_LEN);
		o += 2 * DS_PK_LEN;
	}
	char node[64];
	snprintf(node, sizeof(node), "http://127.0.0.1:%u", F.port);
	char *argv[16];
	int argc = 0;
	argv[argc++] = "query";
	argv[argc++] = "--validators";
	argv[argc++] = vals;
	argv[argc++] = "--chain-id";
	argv[argc++] = CHAIN_ID;
	argv[argc++] = "--node";
	argv[argc++] = node;
	for (size_t i = 0; i < n && argc < 15; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	fflush(stdout);
	int rc = ds_cli_query(argc, argv);
	fflush(stdout);
	return rc;
}

static void save(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ------------------------------------------------------------ tests */

static void test_health_status_validators(void **state)
{
	(void)state;
	struct res r = get("/healthz");
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_int_equal(jint(r.json, "height"), BLOCKS);
	res_free(&r);

	r = get("/v1/status");
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "chain_id"), CHAIN_ID);
	assert_string_equal(jstr(r.json, "node_id"), "node0");
	assert_true(strlen(jstr(r.json, "version")) > 0);
	assert_int_equal(jint(r.json, "height"), BLOCKS);
	jhexlen(r.json, "last_block_hash", DS_HASH_LEN);
	assert_int_equal(jint(r.json, "round"), 42);
	(void)jint(r.json, "epoch");
	assert_int_equal(jint(r.json, "mempool_size"), 7);
	assert_int_equal(jint(r.json, "peers_connected"), 2);
	json_t *vs = json_object_get(r.json, "validators");
	assert_int_equal(json_array_size(vs), DS__KIT_VALS);
	for (size_t i = 0; i < DS__KIT_VALS; i++) {
		json_t *v = json_array_get(vs, i);
		assert_int_equal(jint(v, "index"), i);
		jhexlen(v, "public_key", DS_PK_LEN);
		(void)jstr(v, "p2p");
		assert_true(json_is_boolean(json_object_get(v, "connected")));
		assert_int_equal(json_is_true(json_object_get(v, "connected")), i < 3);
		(void)jint(v, "last_seen_ms");
	}
	res_free(&r);

	r = get("/v1/validators");
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(r.json, "epoch"), 0);
	jhexlen(r.json, "valset_hash", DS_HASH_LEN);
	assert_int_equal(json_array_size(json_object_get(r.json, "validators")), DS__KIT_VALS);
	res_free(&r);

	r = get("/v1/contracts");
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(json_object_get(r.json, "contracts")));
	res_free(&r);
	r = get("/v1/proposals");
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(json_object_get(r.json, "proposals")));
	res_free(&r);

	r = get("/metrics");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "ds_api_requests_total"));
	res_free(&r);
}

static void test_blocks(void **state)
{
	(void)state;
	struct res r = get("/v1/blocks/latest");
	assert_int_equal(r.status, 200);
	check_block_shape(r.json, false);
	assert_int_equal(jint(r.json, "height"), BLOCKS);
	struct ds_verified_header vh;
	verify_block(&vh, r.json);
	assert_int_equal(vh.h.height, BLOCKS);
	res_free(&r);

	r = get("/v1/blocks/2");
	assert_int_equal(r.status, 200);
	check_block_shape(r.json, false);
	assert_int_equal(jint(r.json, "tx_count"), TXS_PER_BLOCK);
	verify_block(&vh, r.json);
	/* The listed tx ids are the block's. */
	json_t *txs = json_object_get(r.json, "txs");
	uint8_t ids[TXS_PER_BLOCK][DS_HASH_LEN];
	for (size_t i = 0; i < TXS_PER_BLOCK; i++)
		assert_int_equal(ds_hex_decode(ids[i], DS_HASH_LEN, json_string_value(json_array_get(txs, i)),
					       2 * DS_HASH_LEN), 0);
	char why[128];
	assert_int_equal(ds_verify_tx_ids(&vh, (const uint8_t(*)[DS_HASH_LEN])ids, TXS_PER_BLOCK, why,
					  sizeof(why)), 0);
	res_free(&r);

	r = get("/v1/blocks/0");
	assert_int_equal(r.status, 200);
	check_block_shape(r.json, true);
	res_free(&r);

	r = get("/v1/blocks?limit=2");
	assert_int_equal(r.status, 200);
	json_t *bl = json_object_get(r.json, "blocks");
	assert_int_equal(json_array_size(bl), 2);
	assert_int_equal(jint(json_array_get(bl, 0), "height"), BLOCKS);
	assert_int_equal(jint(json_array_get(bl, 1), "height"), BLOCKS - 1);
	for (size_t i = 0; i < 2; i++) {
		json_t *s = json_array_get(bl, i);
		jhexlen(s, "hash", DS_HASH_LEN);
		jhexlen(s, "proposer", DS_PK_LEN);
		(void)jint(s, "time_ms");
		assert_int_equal(jint(s, "tx_count"), TXS_PER_BLOCK);
	}
	res_free(&r);
	r = get("/v1/blocks");
	assert_int_equal(json_array_size(json_object_get(r.json, "blocks")), BLOCKS + 1);
	res_free(&r);

	r = get("/v1/blocks/99");
	expect_error(&r, 404, "NOT_FOUND");
	r = get("/v1/blocks/abc");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/blocks/01");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/blocks/-1");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/blocks?limit=0");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/blocks?limit=101");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/blocks?limit=x");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/nosuch");
	expect_error(&r, 404, "NOT_FOUND");
	r = request("DELETE", "/v1/blocks/1", NULL, NULL, 0);
	expect_error(&r, 405, "METHOD_NOT_ALLOWED");
}

/* An id from block 2's tx list. */
static void some_tx_id(char out[2 * DS_HASH_LEN + 1], size_t index)
{
	struct res r = get("/v1/blocks/2");
	assert_int_equal(r.status, 200);
	snprintf(out, 2 * DS_HASH_LEN + 1, "%s",
		 json_string_value(json_array_get(json_object_get(r.json, "txs"), index)));
	res_free(&r);
}

static void test_tx_get_and_query(void **state)
{
	(void)state;
	char id[2 * DS_HASH_LEN + 1], path[128];
	some_tx_id(id, 3);
	snprintf(path, sizeof(path), "/v1/tx/%s", id);
	struct res r = get(path);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "id"), id);
	assert_string_equal(jstr(r.json, "status"), "committed");
	assert_int_equal(jint(r.json, "height"), 2);
	assert_int_equal(jint(r.json, "index"), 3);
	json_t *tx = json_object_get(r.json, "tx");
	assert_string_equal(jstr(tx, "chain_id"), CHAIN_ID);
	jhexlen(tx, "sender", DS_PK_LEN);
	(void)jstr(tx, "nonce");
	(void)jstr(tx, "expiry_height");
	assert_string_equal(jstr(tx, "target"), "kv");
	assert_true(json_is_object(json_object_get(tx, "args")));
	json_t *rc = json_object_get(r.json, "receipt");
	assert_true(json_is_object(rc));
	assert_string_equal(jstr(rc, "status"), "ok");
	(void)jint(rc, "gas_used");
	assert_true(json_is_array(json_object_get(rc, "events")));
	json_t *proof = json_object_get(r.json, "proof");
	assert_string_equal(jstr(proof, "leaf"), id);
	assert_int_equal(jint(proof, "tree_size"), TXS_PER_BLOCK);
	json_t *blk = json_object_get(r.json, "block");
	check_block_shape(blk, false);
	assert_string_equal(jstr(proof, "tx_root"), jstr(blk, "tx_root"));

	/* Verify it with the verify module. */
	struct ds_verified_header vh;
	verify_block(&vh, blk);
	size_t tl;
	uint8_t *txb = tu_unhex(jstr(r.json, "tx_hex"), &tl);
	json_t *pa = json_object_get(proof, "path");
	uint8_t p[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	for (size_t i = 0; i < json_array_size(pa); i++)
		assert_int_equal(ds_hex_decode(p[i], DS_HASH_LEN, json_string_value(json_array_get(pa, i)),
					       2 * DS_HASH_LEN), 0);
	char why[256] = "";
	uint8_t got[DS_HASH_LEN], want[DS_HASH_LEN];
	assert_int_equal(ds_verify_tx(got, &vh, txb, tl, 3, TXS_PER_BLOCK,
				      (const uint8_t(*)[DS_HASH_LEN])p, json_array_size(pa), why,
				      sizeof(why)), 0);
	assert_int_equal(ds_hex_decode(want, DS_HASH_LEN, id, strlen(id)), 0);
	assert_memory_equal(got, want, DS_HASH_LEN);
	free(txb);

	/* And with `danshari query`, live and from saved (tampered) responses. */
	const char *live[] = {"tx", id};
	assert_int_equal(run_query(live, 2), 0);
	char file[512];
	snprintf(file, sizeof(file), "%s/tx.json", F.dir);
	save(file, r.body);
	const char *saved[] = {"--from-file", file, "tx", id};
	assert_int_equal(run_query(saved, 4), 0);
	/* Each tampering: a path hash, the tx bytes, the header, a QC signature. */
	const char *fields[] = {"\"path\":[\"", "\"tx_hex\":\"", "\"header_hex\":\"", "\"hex\":\""};
	for (size_t i = 0; i < DS_ARRAY_LEN(fields); i++) {
		char *copy = strdup(r.body);
		char *at = strstr(copy, fields[i]);
		assert_non_null(at);
		at += strlen(fields[i]) + (i == 3 ? 300 : 100); /* inside the hex */
		if (i == 1)
			at = strstr(copy, fields[i]) + strlen(fields[i]) + 20;
		*at = *at == '0' ? '1' : '0';
		save(file, copy);
		free(copy);
		fprintf(stderr, "# tampered %s: ", fields[i]);
		assert_int_equal(run_query(saved, 4), 1);
	}
	/* Wrong trust: the query for another id than the response's. */
	char other[2 * DS_HASH_LEN + 1];
	some_tx_id(other, 1);
	save(file, r.body);
	const char *mismatch[] = {"--from-file", file, "tx", other};
	assert_int_equal(run_query(mismatch, 4), 1);
	res_free(&r);

	/* Pending, unknown, malformed. */
	char pend[2 * DS_HASH_LEN + 1];
	memset(pend, 'e', 2 * DS_HASH_LEN);
	pend[2 * DS_HASH_LEN] = 0;
	snprintf(path, sizeof(path), "/v1/tx/%s", pend);
	r = get(path);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "status"), "pending");
	res_free(&r);
	const char *pq[] = {"tx", pend};
	assert_int_equal(run_query(pq, 2), 1);
	memset(pend, '1', 2 * DS_HASH_LEN);
	r = get(path[0] ? (snprintf(path, sizeof(path), "/v1/tx/%s", pend), path) : path);
	expect_error(&r, 404, "NOT_FOUND");
	r = get("/v1/tx/xyz");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/tx/abcd");
	expect_error(&r, 400, "BAD_PARAM");
}

static void kv_key(uint8_t *out, size_t *len, const char *k)
{
	memcpy(out, "kv/", 3);
	memcpy(out + 3, F.kit.user_pk, DS_PK_LEN);
	out[3 + DS_PK_LEN] = '/';
	memcpy(out + 4 + DS_PK_LEN, k, strlen(k));
	*len = 4 + DS_PK_LEN + strlen(k);
}

static void test_state(void **state)
{
	(void)state;
	/* Commit one more block so the latest state has a certifying header. */
	uint64_t before = tip();
	commit_block(2);
	(void)before;
	/* Find a key that is present: the kit writes k0..k7. */
	uint8_t key[128];
	size_t kl;
	char khex[2 * 128 + 1], path[512];
	bool found_one = false, absent_one = false;
	for (int i = 0; i < 8 && !(found_one && absent_one); i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		kv_key(key, &kl, k);
		ds_hex_encode(khex, key, kl);
		snprintf(path, sizeof(path), "/v1/state?key=%s&prove=1", khex);
		struct res r = get(path);
		assert_int_equal(r.status, 200);
		assert_string_equal(jstr(r.json, "key_hex"), khex);
		(void)jint(r.json, "version");
		jhexlen(r.json, "root", DS_HASH_LEN);
		json_t *hdr = json_object_get(r.json, "header");
		assert_true(json_is_object(hdr));
		check_block_shape(hdr, false);
		struct ds_verified_header vh;
		verify_block(&vh, hdr);
		bool found = json_is_true(json_object_get(r.json, "found"));
		size_t pn, vn = 0;
		uint8_t *proof = tu_unhex(jstr(r.json, "proof_hex"), &pn);
		uint8_t *val = found ? tu_unhex(jstr(r.json, "value_hex"), &vn) : NULL;
		if (found)
			assert_true(json_is_integer(json_object_get(r.json, "value")));
		char why[256] = "";
		int vrc = ds_verify_state(&vh, jint(r.json, "version"), key, kl, val, vn, proof, pn, why,
					  sizeof(why));
		if (vrc)
			fprintf(stderr, "# %s\n", why);
		assert_int_equal(vrc, 0);
		free(proof);
		free(val);
		const char *q[] = {"state", khex};
		assert_int_equal(run_query(q, 2), 0);
		if (found && !found_one) {
			/* A tampered value is refused by the query. */
			char file[512];
			snprintf(file, sizeof(file), "%s/state.json", F.dir);
			json_t *copy = json_deep_copy(r.json);
			json_object_set_new(copy, "value_hex", json_string("0302"));
			char *t = json_dumps(copy, 0);
			save(file, t);
			free(t);
			json_decref(copy);
			const char *qs[] = {"--from-file", file, "state", khex};
			assert_int_equal(run_query(qs, 4), 1);
		}
		found_one |= found;
		absent_one |= !found;
		res_free(&r);
	}
	assert_true(found_one);

	/* A key never written: absent, and provably so. */
	const char *qs[] = {"--key-str", "state", "no/such/key"};
	assert_int_equal(run_query(qs, 3), 0);
	struct res r = get("/v1/state?key_str=no/such/key&prove=1");
	assert_int_equal(r.status, 200);
	assert_true(json_is_false(json_object_get(r.json, "found")));
	assert_true(json_is_null(json_object_get(r.json, "value_hex")));
	res_free(&r);
	r = get("/v1/state?key_str=abc");
	assert_int_equal(r.status, 200);
	assert_null(json_object_get(r.json, "proof_hex"));
	res_free(&r);

	r = get("/v1/state");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/state?key=abc");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/state?key=zz");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/state?key=00&key_str=a");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/state?key=00&prove=2");
	expect_error(&r, 400, "BAD_PARAM");
	char big[2 * (DS_HTTP_STATE_KEY_MAX + 1) + 64];
	memset(big, 'a', sizeof(big));
	memcpy(big, "/v1/state?key=", 14);
	big[14 + 2 * (DS_HTTP_STATE_KEY_MAX + 1)] = 0;
	r = get(big);
	expect_error(&r, 400, "BAD_PARAM");
}

static void test_history(void **state)
{
	(void)state;
	uint64_t t = tip();
	for (uint64_t h = 0; h < t; h++) {
		char path[64];
		snprintf(path, sizeof(path), "/v1/history/%" PRIu64, h);
		struct res r = get(path);
		assert_int_equal(r.status, 200);
		assert_int_equal(jint(r.json, "height"), h);
		assert_int_equal(jint(r.json, "newest"), t);
		assert_int_equal(jint(r.json, "tree_size"), t);
		jhexlen(r.json, "history_root", DS_HASH_LEN);
		json_t *hdr = json_object_get(r.json, "header");
		check_block_shape(hdr, false);
		struct ds_verified_header vh;
		verify_block(&vh, hdr);
		uint8_t hash[DS_HASH_LEN];
		unhex_field(hash, DS_HASH_LEN, r.json, "hash");
		json_t *pa = json_object_get(r.json, "path");
		uint8_t p[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
		for (size_t i = 0; i < json_array_size(pa); i++)
			assert_int_equal(ds_hex_decode(p[i], DS_HASH_LEN,
						       json_string_value(json_array_get(pa, i)),
						       2 * DS_HASH_LEN), 0);
		char why[256] = "";
		int vrc = ds_verify_history(&vh, h, hash, (const uint8_t(*)[DS_HASH_LEN])p,
					    json_array_size(pa), why, sizeof(why));
		if (vrc)
			fprintf(stderr, "# %s\n", why);
		assert_int_equal(vrc, 0);
		/* The hash is block h's. */
		char bp[64];
		snprintf(bp, sizeof(bp), "/v1/blocks/%" PRIu64, h);
		struct res b = get(bp);
		assert_string_equal(jstr(b.json, "hash"), jstr(r.json, "hash"));
		res_free(&b);
		char hs[24];
		snprintf(hs, sizeof(hs), "%" PRIu64, h);
		const char *q[] = {"history", hs};
		assert_int_equal(run_query(q, 2), 0);
		if (h == 1) {
			char file[512];
			snprintf(file, sizeof(file), "%s/hist.json", F.dir);
			json_t *copy = json_deep_copy(r.json);
			json_object_set_new(copy, "hash", json_string(jstr(json_object_get(r.json, "header"),
									    "parent_hash")));
			char *txt = json_dumps(copy, 0);
			save(file, txt);
			free(txt);
			json_decref(copy);
			const char *qs[] = {"--from-file", file, "history", hs};
			assert_int_equal(run_query(qs, 4), 1);
		}
		res_free(&r);
	}
	char path[64];
	snprintf(path, sizeof(path), "/v1/history/1?newest=2");
	struct res r = get(path);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(r.json, "newest"), 2);
	res_free(&r);
	const char *qb[] = {"block", "2"};
	assert_int_equal(run_query(qb, 2), 0);

	snprintf(path, sizeof(path), "/v1/history/%" PRIu64, t);
	r = get(path);
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/history/1?newest=999");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/history/x");
	expect_error(&r, 400, "BAD_PARAM");
}

static void new_tx(struct ds_buf *out, const char *key, uint64_t expiry)
{
	assert_int_equal(ds__kit_tx(&F.kit, out, "put", key, 5, expiry), 0);
}

static unsigned submitted(void)
{
	pthread_mutex_lock(&F.mu);
	unsigned n = F.submitted;
	pthread_mutex_unlock(&F.mu);
	return n;
}

static void test_submit(void **state)
{
	(void)state;
	uint64_t h0 = tip();
	unsigned s0 = submitted();
	struct ds_buf tx;
	ds_buf_init(&tx);
	new_tx(&tx, "fresh", h0 + 20);
	uint8_t id[DS_HASH_LEN];
	ds_tx_id_body(id, tx.data, tx.len - DS_SIG_LEN);
	char idhex[2 * DS_HASH_LEN + 1];
	ds_hex_encode(idhex, id, DS_HASH_LEN);

	struct res r = request("POST", "/v1/tx", "application/octet-stream", tx.data, tx.len);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.json, "id"), idhex);
	assert_string_equal(jstr(r.json, "status"), "pending");
	res_free(&r);

	char *hex = malloc(2 * tx.len + 32);
	int n = sprintf(hex, "{\"tx_hex\":\"");
	ds_hex_encode(hex + n, tx.data, tx.len);
	strcat(hex, "\"}");
	r = request("POST", "/v1/tx", "application/json", hex, strlen(hex));
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.json, "id"), idhex);
	res_free(&r);
	assert_int_equal(submitted(), s0 + 2);

	/* The node's refusals map to stable codes. */
	static const struct {
		int rc;
		int status;
		const char *code;
	} refusals[] = {
		{DS_EFULL, 503, "MEMPOOL_FULL"}, {DS_ESIG, 422, "BAD_SIGNATURE"},
		{DS_EEXPIRED, 422, "EXPIRED"},   {DS_EREPLAY, 409, "REPLAY"},
		{DS_EEXIST, 409, "REPLAY"},      {DS_ECHAIN, 422, "WRONG_CHAIN"},
		{DS_EINVAL, 422, "BAD_TX"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(refusals); i++) {
		pthread_mutex_lock(&F.mu);
		F.submit_rc = refusals[i].rc;
		pthread_mutex_unlock(&F.mu);
		r = request("POST", "/v1/tx", "application/octet-stream", tx.data, tx.len);
		expect_error(&r, refusals[i].status, refusals[i].code);
	}
	pthread_mutex_lock(&F.mu);
	F.submit_rc = 0;
	pthread_mutex_unlock(&F.mu);
	unsigned s1 = submitted();

	/* Refused before reaching the node: none of these is submitted. */
	r = request("POST", "/v1/tx", "application/json", "{\"tx_hex\":", strlen("{\"tx_hex\":"));
	expect_error(&r, 400, "BAD_JSON");
	r = request("POST", "/v1/tx", "application/json", "[1]", strlen("[1]"));
	expect_error(&r, 400, "BAD_JSON");
	r = request("POST", "/v1/tx", "application/json", "{\"tx_hex\":\"00\",\"x\":1}", strlen("{\"tx_hex\":\"00\",\"x\":1}"));
	expect_error(&r, 400, "UNKNOWN_FIELD");
	r = request("POST", "/v1/tx", "application/json", "{}", strlen("{}"));
	expect_error(&r, 400, "MISSING_FIELD");
	r = request("POST", "/v1/tx", "application/json", "{\"tx_hex\":12}", strlen("{\"tx_hex\":12}"));
	expect_error(&r, 400, "BAD_FIELD");
	r = request("POST", "/v1/tx", "application/json", "{\"tx_hex\":\"zz\"}", strlen("{\"tx_hex\":\"zz\"}"));
	expect_error(&r, 400, "BAD_FIELD");
	r = request("POST", "/v1/tx", "text/plain", tx.data, tx.len);
	expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	r = request("POST", "/v1/tx", NULL, tx.data, tx.len);
	expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	r = request("POST", "/v1/tx", "application/octet-stream", "", 0);
	expect_error(&r, 400, "BAD_REQUEST");
	r = request("POST", "/v1/tx", "application/octet-stream", "\x01\x02garbage", 9);
	expect_error(&r, 422, "BAD_TX");
	uint8_t *big = calloc(1, DS_TX_MAX + 10);
	r = request("POST", "/v1/tx", "application/octet-stream", big, DS_TX_MAX + 10);
	expect_error(&r, 413, "PAYLOAD_TOO_LARGE");
	free(big);
	big = calloc(1, 300u << 10);
	r = request("POST", "/v1/tx", "application/octet-stream", big, 300u << 10);
	expect_error(&r, 413, "PAYLOAD_TOO_LARGE");
	free(big);
	/* Another chain's tx. */
	struct ds__kit other;
	assert_int_equal(ds__kit_init(&other, "other-chain", 0, 1), 0);
	struct ds_buf otx;
	ds_buf_init(&otx);
	assert_int_equal(ds__kit_tx(&other, &otx, "put", "x", 1, 10), 0);
	r = request("POST", "/v1/tx", "application/octet-stream", otx.data, otx.len);
	expect_error(&r, 422, "WRONG_CHAIN");
	ds_buf_free(&otx);
	ds__kit_free(&other);
	/* A committed tx again. */
	struct res b = get("/v1/blocks/1");
	char path[128];
	snprintf(path, sizeof(path), "/v1/tx/%s",
		 json_string_value(json_array_get(json_object_get(b.json, "txs"), 0)));
	res_free(&b);
	struct res t = get(path);
	const char *th = jstr(t.json, "tx_hex");
	size_t tl;
	uint8_t *tb = tu_unhex(th, &tl);
	res_free(&t);
	r = request("POST", "/v1/tx", "application/octet-stream", tb, tl);
	expect_error(&r, 409, "REPLAY");
	free(tb);
	r = request("PUT", "/v1/tx", "application/octet-stream", tx.data, tx.len);
	expect_error(&r, 405, "METHOD_NOT_ALLOWED");

	assert_int_equal(submitted(), s1);
	assert_int_equal(tip(), h0);
	free(hex);
	ds_buf_free(&tx);
}

/* ------------------------------------------------------------ SSE */

struct stream {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static void stream_open(struct stream *s, const char *path, const char *last_id)
{
	s->fd = dial();
	s->len = 0;
	char head[512];
	int n = snprintf(head, sizeof(head), "GET %s HTTP/1.0\r\nHost: x\r\n%s%s%s\r\n", path,
			 last_id ? "Last-Event-ID: " : "", last_id ? last_id : "", last_id ? "\r\n" : "");
	assert_int_equal(send(s->fd, head, (size_t)n, MSG_NOSIGNAL), n);
}

/* Reads until `needle` appears or timeout_ms passes. */
static bool stream_wait(struct stream *s, const char *needle, int timeout_ms)
{
	uint64_t end = ds_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		s->buf[s->len] = 0;
		if (strstr(s->buf, needle))
			return true;
		uint64_t now = ds_mono_ns();
		if (now >= end || s->len + 1 >= sizeof(s->buf))
			return false;
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) <= 0)
			continue;
		ssize_t k = recv(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len, 0);
		if (k <= 0)
			return false;
		s->len += (size_t)k;
	}
}

/* Every "id: N" in order; checks they increase strictly. */
static size_t stream_ids(struct stream *s, uint64_t *ids, size_t max)
{
	size_t n = 0;
	for (const char *p = s->buf; (p = strstr(p, "\nid: ")) != NULL && n < max; p += 5) {
		ids[n] = strtoull(p + 5, NULL, 10);
		if (n)
			assert_true(ids[n] > ids[n - 1]);
		n++;
	}
	return n;
}

static void test_events(void **state)
{
	(void)state;
	static struct stream s;
	uint64_t t = tip();
	char want[128];
	/* Replay from genesis to the tip. */
	stream_open(&s, "/v1/events?from=0", NULL);
	snprintf(want, sizeof(want), "id: %" PRIu64 "\nevent: block\n", t * DS_HTTP_EVENT_ID_BLOCK);
	assert_true(stream_wait(&s, want, 10000));
	/* The last block's tx events follow its block event. */
	snprintf(want, sizeof(want), "\"height\":%" PRIu64, t);
	assert_true(stream_wait(&s, "event: tx\n", 5000));
	static uint64_t ids[4096];
	size_t n = stream_ids(&s, ids, DS_ARRAY_LEN(ids));
	assert_true(n >= t + 1);
	assert_int_equal(ids[0], 0);
	assert_non_null(strstr(s.buf, "event: tx\ndata: {"));
	assert_non_null(strstr(s.buf, "\"method\":\"put\""));

	/* Live: a new block is published after its commit. */
	commit_block(3);
	ds_node_http_publish(F.http, t + 1);
	snprintf(want, sizeof(want), "id: %" PRIu64 "\nevent: block\n", (t + 1) * DS_HTTP_EVENT_ID_BLOCK);
	assert_true(stream_wait(&s, want, 10000));
	snprintf(want, sizeof(want), "id: %" PRIu64 "\nevent: tx\n",
		 (t + 1) * DS_HTTP_EVENT_ID_BLOCK + 1 + 2 * DS_HTTP_EVENT_TX_SLOTS);
	assert_true(stream_wait(&s, want, 10000));
	n = stream_ids(&s, ids, DS_ARRAY_LEN(ids));
	close(s.fd);

	/* Resume after block 2's event with Last-Event-ID: nothing earlier. */
	char last[32];
	snprintf(last, sizeof(last), "%" PRIu64, 2 * (uint64_t)DS_HTTP_EVENT_ID_BLOCK);
	stream_open(&s, "/v1/events?types=block", last);
	snprintf(want, sizeof(want), "id: %" PRIu64 "\n", (t + 1) * DS_HTTP_EVENT_ID_BLOCK);
	assert_true(stream_wait(&s, want, 10000));
	n = stream_ids(&s, ids, DS_ARRAY_LEN(ids));
	assert_int_equal(n, t + 1 - 2);
	assert_int_equal(ids[0], 3 * (uint64_t)DS_HTTP_EVENT_ID_BLOCK);
	assert_null(strstr(s.buf, "event: tx"));
	close(s.fd);

	/* Resume in the middle of a block: from its second tx on. */
	uint64_t mid = 2 * (uint64_t)DS_HTTP_EVENT_ID_BLOCK + 1 + DS_HTTP_EVENT_TX_SLOTS;
	snprintf(want, sizeof(want), "/v1/events?from=%" PRIu64 "&types=tx", mid);
	stream_open(&s, want, NULL);
	assert_true(stream_wait(&s, "\"height\":4", 10000) || stream_wait(&s, "\"height\":3", 1000));
	n = stream_ids(&s, ids, DS_ARRAY_LEN(ids));
	assert_true(n > 0);
	assert_int_equal(ids[0], mid);
	close(s.fd);

	/* Bad resumption and filters. */
	struct res r = get("/v1/events?from=x");
	expect_error(&r, 400, "BAD_PARAM");
	r = get("/v1/events?types=Bad!");
	expect_error(&r, 400, "BAD_PARAM");
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_status_validators),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_tx_get_and_query),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_submit),
		cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests_name("node_http", tests, setup, teardown);
}
