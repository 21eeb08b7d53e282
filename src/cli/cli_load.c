/* danshari load — the load generator that users and benchmarks share.
 *
 * Phases: (1) read nodes.json, ask a node for its height (GET /v1/status);
 * (2) sign every transaction of the run ahead of time on both cores, so the
 * generator's own CPU share while measuring is sending bytes only;
 * (3) the sending window: POST /v1/tx (binary body) at the target rate,
 * spread over the nodes, several keep-alive connections per node with one
 * request in flight each; meanwhile one connection polls
 * GET /v1/blocks/{h} for each new height and matches the block's tx ids;
 * (4) a bounded wait for the commits still missing; (5) one JSON line.
 *
 * Everything from the network is untrusted: responses are size-bounded,
 * parsed strictly, and a broken connection is closed and retried later (a
 * node may be killed under us: the fault tests do exactly that). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"

#define CMD "load"
#define NODES_MAX 64
#define CONNS_PER_NODE_MAX 32
#define KEYS_MAX 1024
#define TXS_MAX 2000000u           /* transactions per run (memory bound) */
#define NODES_JSON_MAX (1u << 20)
#define RESP_MAX (16u << 20)        /* one HTTP response (a block's JSON) */
#define HDR_MAX (64u << 10)
#define POLL_IDLE_NS (4 * 1000000ull)      /* block poll interval when nothing is new */
#define RETRY_NS (250 * 1000000ull)        /* reconnect back-off after a failure */
#define REQ_TIMEOUT_NS (10 * 1000000000ull) /* one request, then the connection is dropped */
#define STALL_NS (1000 * 1000000ull)       /* a node holding its dispatch turn this long loses it */
#define REJECT_CODES_MAX 16

/* Non-static so a test binary can pull this file out of the library: the
 * command itself is only weakly referenced (cli.h). */
const char ds__load_help[];
const char ds__load_help[] =
	"usage: danshari load --nodes DIR/nodes.json --tps N --seconds S\n"
	"                     [--keys K] [--timeout-s T] [--conns C] [--expiry-margin M]\n"
	"                     [--value-bytes B] [--key FILE ...]\n"
	"\n"
	"Signs N*S kv.put transactions, then\n"
	"submits them to the nodes listed in nodes.json at N per second for S seconds\n"
	"over C keep-alive connections per node (default 16), watches the new blocks\n"
	"for their ids and waits at most T seconds (default 5) after the window for\n"
	"the rest. The expiry height is the current height plus M (default 1000,\n"
	"capped by the chain's max_tx_lifetime when genesis.json sits next to\n"
	"nodes.json). Progress goes to stderr when it is a terminal; the result is\n"
	"one JSON line on stdout.\n"
	"Signers: the --key files if given; otherwise the node keys next to\n"
	"nodes.json (DIR/<id>/node.key: accounts of the genesis organisations, so\n"
	"the kv writes pass the chain's permission check); otherwise K fresh keys\n"
	"(default 8), whose writes commit but fail with a permission receipt on a\n"
	"chain that only lets member accounts write.\n"
	"Fields:\n"
	"  submitted  requests sent       accepted  answered 202\n"
	"  rejected   answered 4xx/5xx    failed    no answer (connection lost)\n"
	"  unsent     not sent in the window (the nodes could not keep up)\n"
	"  committed  seen in a block     committed_tps, latency_p50_ms, latency_p99_ms\n"
	"Latency is from writing the request to seeing the tx in a committed block.\n"
	"Exit status 0 when the run completed (whatever the figures), 1 on errors.\n";

/* ---- options (same grammar as the other commands) ------------------------- */


/* Plain decimal in [min, max]; returns 0 or 2 after a usage error. */
static int opt_u64(uint64_t *out, const struct ds_cli_opt *o, uint64_t def, uint64_t min, uint64_t max)
{
	*out = def;
	if (!o->seen)
		return 0;
	const char *s = o->val;
	uint64_t v = 0;
	if (!s[0] || (s[0] == '0' && s[1]))
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	return ds_cli_usage(CMD, "--%s wants a whole number from %llu to %llu, not '%s'", o->name,
			    (unsigned long long)min, (unsigned long long)max, s);
}

/* ---- nodes --------------------------------------------------------------- */

struct node {
	char id[64];
	char hostport[300]; /* Host header */
	uint64_t down_until_ns; /* a connection to it failed: leave it alone until then */
	uint64_t busy_since_ns; /* its dispatch turn found no free connection since (0: not waiting) */
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

/* "http://HOST:PORT[/]" → resolved address. IPv6 literals in brackets. */
static int parse_api_url(struct node *nd, const char *url)
{
	if (strncmp(url, "http://", 7) != 0)
		return DS_EINVAL;
	const char *h = url + 7;
	size_t n = strcspn(h, "/");
	if (n == 0 || n >= sizeof(nd->hostport) || (h[n] && strcmp(h + n, "/") != 0))
		return DS_EINVAL;
	memcpy(nd->hostport, h, n);
	nd->hostport[n] = 0;
	char host[256], port[8];
	const char *colon = strrchr(nd->hostport, ':');
	if (!colon || colon == nd->hostport || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port))
		return DS_EINVAL;
	size_t hl = (size_t)(colon - nd->hostport);
	const char *hs = nd->hostport;
	if (hs[0] == '[') {
		if (hl < 3 || hs[hl - 1] != ']')
			return DS_EINVAL;
		hs++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return DS_EINVAL;
	memcpy(host, hs, hl);
	host[hl] = 0;
	strcpy(port, colon + 1);
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return DS_ENOTFOUND;
	memcpy(&nd->addr, res->ai_addr, res->ai_addrlen);
	nd->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Reads nodes.json: chain id and the API address of every node. */
static int read_nodes(struct node *nodes, size_t *n, char *chain_id, const char *path)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = ds_file_read(&text, &len, path, NODES_JSON_MAX);
	if (rc)
		return ds_cli_fail(CMD, "cannot read %s: %s", path, ds_strerror(rc));
	json_error_t jerr;
	json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	int ret = 1;
	if (!root) {
		ds_cli_fail(CMD, "%s: not JSON: %s (line %d)", path, jerr.text, jerr.line);
		goto out;
	}
	const char *cid = json_string_value(json_object_get(root, "chain_id"));
	if (!cid || !ds_ledger_chain_id_valid(cid)) {
		ds_cli_fail(CMD, "%s: missing or invalid \"chain_id\"", path);
		goto out;
	}
	strcpy(chain_id, cid);
	json_t *arr = json_object_get(root, "nodes");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > NODES_MAX) {
		ds_cli_fail(CMD, "%s: \"nodes\" must be a list of 1 to %d nodes", path, NODES_MAX);
		goto out;
	}
	*n = json_array_size(arr);
	for (size_t i = 0; i < *n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *api = json_string_value(json_object_get(e, "api"));
		const char *id = json_string_value(json_object_get(e, "id"));
		snprintf(nodes[i].id, sizeof(nodes[i].id), "%s", id ? id : "?");
		if (!api) {
			ds_cli_fail(CMD, "%s: node %zu has no \"api\" address", path, i);
			goto out;
		}
		rc = parse_api_url(&nodes[i], api);
		if (rc) {
			ds_cli_fail(CMD, "%s: node %zu: bad api address '%s' (want http://HOST:PORT)", path, i,
				    api);
			goto out;
		}
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* max_tx_lifetime from the genesis.json beside nodes.json, 0 if unknown. */
static uint64_t genesis_lifetime(const char *nodes_path)
{
	char path[4096];
	const char *slash = strrchr(nodes_path, '/');
	int n = slash ? snprintf(path, sizeof(path), "%.*s/genesis.json", (int)(slash - nodes_path), nodes_path)
		      : snprintf(path, sizeof(path), "genesis.json");
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	uint8_t *text = NULL;
	size_t len = 0;
	if (ds_file_read(&text, &len, path, NODES_JSON_MAX) != 0)
		return 0;
	json_t *root = json_loadb((const char *)text, len, 0, NULL);
	free(text);
	uint64_t v = 0;
	json_t *p = json_object_get(root, "params");
	json_t *l = json_object_get(p ? p : root, "max_tx_lifetime");
	if (json_is_integer(l) && json_integer_value(l) > 0)
		v = (uint64_t)json_integer_value(l);
	else if (json_is_string(l))
		v = strtoull(json_string_value(l), NULL, 10);
	json_decref(root);
	return v;
}

/* ---- HTTP/1.1 client connections ---------------------------------------- */

enum conn_state { C_CLOSED, C_CONNECTING, C_SENDING, C_READING };

struct conn {
	int fd;
	int node;
	enum conn_state st;
	struct ds_buf out;
	size_t out_off;
	struct ds_buf in;
	uint64_t t_send_ns;     /* request written (first byte) */
	uint64_t t_deadline_ns;
	uint64_t retry_at_ns;   /* closed after a failure: not before this */
	uint32_t tx;            /* tx in flight, UINT32_MAX if none */
};

struct resp {
	int status;
	bool close;
	const uint8_t *body;
	size_t body_len;
	size_t consumed;
	struct ds_buf chunked; /* decoded body when chunked */
};

static void conn_init(struct conn *c, int node)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->node = node;
	c->tx = UINT32_MAX;
	ds_buf_init(&c->out);
	ds_buf_init(&c->in);
}

static void conn_close(struct conn *c, uint64_t now, bool failed)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
	ds_buf_reset(&c->out);
	ds_buf_reset(&c->in);
	c->out_off = 0;
	c->retry_at_ns = failed ? now + RETRY_NS : 0;
}

static void conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	ds_buf_free(&c->out);
	ds_buf_free(&c->in);
}

/* Starts a non-blocking connect. Returns 0 or DS_EIO. */
static int conn_open(struct conn *c, const struct node *nd)
{
	int fd = socket(nd->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DS_EIO;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = C_SENDING;
	if (connect(fd, (const struct sockaddr *)&nd->addr, nd->addr_len) != 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return DS_EIO;
		}
		c->st = C_CONNECTING;
	}
	c->fd = fd;
	return 0;
}

/* Queues a request. The body (may be NULL) is copied. */
static void conn_request(struct conn *c, const struct node *nd, const char *method, const char *path,
			 const uint8_t *body, size_t body_len, uint64_t now)
{
	ds_buf_reset(&c->out);
	c->out_off = 0;
	if (body)
		ds_buf_printf(&c->out,
			      "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
			      "Content-Length: %zu\r\n\r\n",
			      method, path, nd->hostport, body_len);
	else
		ds_buf_printf(&c->out, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, path, nd->hostport);
	if (body)
		ds_buf_append(&c->out, body, body_len);
	c->t_send_ns = now;
	c->t_deadline_ns = now + REQ_TIMEOUT_NS;
	if (c->st != C_CONNECTING)
		c->st = C_SENDING;
}

static bool hdr_is(const char *line, size_t n, const char *name, const char **val)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	const char *v = line + k + 1;
	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	*val = v;
	return true;
}

/* Parses one response at the start of p[0..n). Returns 1 when complete (r
 * filled), 0 when more bytes are needed, DS_EINVAL/DS_ETOOBIG when the
 * stream is not a response we accept. */
static int parse_resp(struct resp *r, const uint8_t *p, size_t n)
{
	const char *s = (const char *)p;
	const uint8_t *end = NULL;
	for (size_t i = 3; i < n && i < HDR_MAX; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') {
			end = p + i + 1;
			break;
		}
	if (!end)
		return n >= HDR_MAX ? DS_ETOOBIG : 0;
	if (n < 12 || strncmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
		return DS_EINVAL;
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return DS_EINVAL;
		st = st * 10 + (s[i] - '0');
	}
	r->status = st;
	r->close = s[7] == '0';
	bool chunked = false, have_len = false;
	size_t clen = 0;
	const char *line = strstr(s, "\r\n") + 2;
	while ((const uint8_t *)line < end - 2) {
		const char *eol = memchr(line, '\r', (size_t)((const char *)end - line));
		if (!eol)
			return DS_EINVAL;
		size_t ln = (size_t)(eol - line);
		const char *v;
		if (hdr_is(line, ln, "Content-Length", &v)) {
			clen = 0;
			if (v >= eol)
				return DS_EINVAL;
			for (const char *q = v; q < eol; q++) {
				if (*q < '0' || *q > '9' || clen > RESP_MAX)
					return DS_EINVAL;
				clen = clen * 10 + (size_t)(*q - '0');
			}
			have_len = true;
		} else if (hdr_is(line, ln, "Transfer-Encoding", &v)) {
			chunked = (size_t)(eol - v) >= 7 && strncasecmp(eol - 7, "chunked", 7) == 0;
		} else if (hdr_is(line, ln, "Connection", &v)) {
			if ((size_t)(eol - v) >= 5 && strncasecmp(v, "close", 5) == 0)
				r->close = true;
		}
		line = eol + 2;
	}
	size_t hlen = (size_t)(end - p);
	if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) {
		r->body = end;
		r->body_len = 0;
		r->consumed = hlen;
		return 1;
	}
	if (chunked) {
		ds_buf_reset(&r->chunked);
		size_t pos = hlen;
		for (int guard = 0; guard < 1 << 20; guard++) {
			size_t sz = 0, k = pos;
			int digits = 0;
			while (k < n && p[k] != '\r' && p[k] != ';') {
				int d = p[k] >= '0' && p[k] <= '9' ? p[k] - '0'
					: (p[k] | 32) >= 'a' && (p[k] | 32) <= 'f' ? (p[k] | 32) - 'a' + 10 : -1;
				if (d < 0 || ++digits > 8)
					return DS_EINVAL;
				sz = sz * 16 + (size_t)d;
				k++;
			}
			while (k < n && p[k] != '\n')
				k++;
			if (k >= n)
				return 0;
			k++;
			if (sz == 0) { /* no trailers expected: just the final CRLF */
				if (k + 2 > n)
					return 0;
				r->body = r->chunked.data;
				r->body_len = r->chunked.len;
				r->consumed = k + 2;
				return 1;
			}
			if (r->chunked.len + sz > RESP_MAX)
				return DS_ETOOBIG;
			if (k + sz + 2 > n)
				return 0;
			ds_buf_append(&r->chunked, p + k, sz);
			if (r->chunked.err)
				return DS_ENOMEM;
			pos = k + sz + 2;
		}
		return DS_ETOOBIG;
	}
	if (!have_len) {
		/* Body until close is legal HTTP/1.1, but not something our nodes do:
		 * without a length there is no keep-alive. */
		return DS_EINVAL;
	}
	if (clen > RESP_MAX)
		return DS_ETOOBIG;
	if (n - hlen < clen)
		return 0;
	r->body = end;
	r->body_len = clen;
	r->consumed = hlen + clen;
	return 1;
}

/* Drives one connection after poll. Returns 1 when a full response is in r,
 * 0 when nothing is complete yet, a negative error when the connection
 * failed (the caller closes it). */
static int conn_io(struct conn *c, short revents, struct resp *r)
{
	if (c->st == C_CONNECTING) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
			return DS_EIO;
		c->st = C_SENDING;
	}
	if (c->st == C_SENDING && c->out.len > c->out_off) {
		for (int guard = 0; guard < 64 && c->out.len > c->out_off; guard++) {
			ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return DS_EIO;
			}
			c->out_off += (size_t)w;
		}
		if (c->out_off == c->out.len)
			c->st = C_READING;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		for (int guard = 0; guard < 1024; guard++) {
			if (ds_buf_reserve(&c->in, 65536) != 0)
				return DS_ENOMEM;
			ssize_t rd = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
			if (rd < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return DS_EIO;
			}
			if (rd == 0) {
				if (c->st == C_READING && c->in.len) {
					int pr = parse_resp(r, c->in.data, c->in.len);
					if (pr == 1) {
						r->close = true;
						return 1;
					}
				}
				return DS_ECLOSED;
			}
			c->in.len += (size_t)rd;
			if (c->in.len > RESP_MAX + HDR_MAX)
				return DS_ETOOBIG;
		}
	}
	if (c->st == C_READING && c->in.len) {
		int pr = parse_resp(r, c->in.data, c->in.len);
		if (pr < 0)
			return pr;
		if (pr == 1) {
			if (r->consumed != c->in.len)
				r->close = true; /* no pipelining: extra bytes mean confusion */
			return 1;
		}
	}
	return 0;
}

/* After a complete response: ready for the next request (or closed). */
static void conn_done(struct conn *c, const struct resp *r, uint64_t now)
{
	if (r->close) {
		conn_close(c, now, false);
		return;
	}
	ds_buf_reset(&c->in);
	ds_buf_reset(&c->out);
	c->out_off = 0;
	c->st = C_SENDING;
}

static bool conn_idle(const struct conn *c)
{
	return (c->st == C_SENDING || c->st == C_CLOSED) && c->out.len == 0;
}

static short conn_events(const struct conn *c)
{
	if (c->st == C_CONNECTING)
		return POLLOUT;
	if (c->st == C_SENDING && c->out.len > c->out_off)
		return POLLOUT | POLLIN;
	return POLLIN;
}

/* One blocking GET with a deadline, for the status request. On 1, *body is
 * a NUL-terminated copy (caller frees). */
static int http_get(int *status, char **body, const struct node *nd, const char *path, uint64_t timeout_ns)
{
	struct conn c;
	struct resp r = {0};
	int ret = DS_EIO;
	*body = NULL;
	conn_init(&c, 0);
	ds_buf_init(&r.chunked);
	uint64_t now = ds_mono_ns(), end = now + timeout_ns;
	if (conn_open(&c, nd) != 0)
		goto out;
	conn_request(&c, nd, "GET", path, NULL, 0, now);
	while ((now = ds_mono_ns()) < end) {
		struct pollfd pfd = {.fd = c.fd, .events = conn_events(&c)};
		int pr = poll(&pfd, 1, (int)((end - now) / 1000000 + 1));
		if (pr < 0 && errno != EINTR)
			goto out;
		if (pr <= 0)
			continue;
		int rc = conn_io(&c, pfd.revents, &r);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			*status = r.status;
			*body = malloc(r.body_len + 1);
			if (!*body) {
				ret = DS_ENOMEM;
				goto out;
			}
			memcpy(*body, r.body, r.body_len);
			(*body)[r.body_len] = 0;
			ret = 0;
			goto out;
		}
	}
	ret = DS_ETIMEOUT;
out:
	conn_free(&c);
	ds_buf_free(&r.chunked);
	return ret;
}

/* ---- transactions ---------------------------------------------------------- */

enum tx_state { TX_UNSENT, TX_INFLIGHT, TX_ACCEPTED, TX_REJECTED, TX_FAILED };

struct txs {
	uint8_t *arena;       /* total × slot bytes */
	uint32_t *len;
	uint8_t (*id)[DS_HASH_LEN];
	uint64_t *t_sent_ns;
	uint64_t *t_commit_ns; /* 0 until seen in a block */
	uint8_t *state;
	uint8_t *retried;
	size_t slot;
	uint32_t total;
	uint32_t *table;      /* open addressing over ids, UINT32_MAX = empty */
	size_t table_mask;
};

struct sign_job {
	struct txs *t;
	const char *chain_id;
	const uint8_t (*pk)[DS_PK_LEN];
	const uint8_t (*sk)[DS_SK_LEN];
	uint32_t nkeys;
	uint64_t nonce0;
	uint64_t expiry;
	const char *run_id;
	uint32_t value_bytes;
	uint32_t from, to;
	int err;
};

static void *sign_range(void *arg)
{
	struct sign_job *j = arg;
	uint8_t *scratch = malloc(DS_TX_SCRATCH_LEN);
	uint8_t *args = malloc(DS_TX_ARGS_MAX);
	char *val = malloc((size_t)j->value_bytes + 1);
	if (!scratch || !args || !val) {
		j->err = DS_ENOMEM;
		goto out;
	}
	memset(val, 'x', j->value_bytes);
	for (uint32_t i = j->from; i < j->to; i++) {
		char key[96];
		int kl = snprintf(key, sizeof(key), "load/%s/%u", j->run_id, i);
		struct ds_enc e;
		ds_enc_init(&e, args, DS_TX_ARGS_MAX);
		ds_value_enc_map(&e, 2);
		ds_value_enc_key(&e, "key", 3);
		ds_value_enc_str(&e, key, (size_t)kl);
		ds_value_enc_key(&e, "value", 5);
		if (j->value_bytes)
			ds_value_enc_str(&e, val, j->value_bytes);
		else
			ds_value_enc_int(&e, i);
		size_t args_len;
		int rc = ds_enc_finish(&e, &args_len);
		struct ds_tx tx;
		memset(&tx, 0, sizeof(tx));
		tx.version = 1;
		strcpy(tx.chain_id, j->chain_id);
		uint32_t k = i % j->nkeys;
		memcpy(tx.sender, j->pk[k], DS_PK_LEN);
		tx.nonce = j->nonce0 + i;
		tx.expiry_height = j->expiry;
		strcpy(tx.target, "kv");
		strcpy(tx.method, "put");
		tx.args = args;
		tx.args_len = args_len;
		if (!rc)
			rc = ds_tx_sign(&tx, j->sk[k], scratch, DS_TX_SCRATCH_LEN);
		size_t len = 0;
		if (!rc)
			rc = ds_tx_encode(j->t->arena + (size_t)i * j->t->slot, j->t->slot, &len, &tx);
		if (!rc)
			rc = ds_tx_id(j->t->id[i], &tx);
		if (rc) {
			j->err = rc;
			goto out;
		}
		j->t->len[i] = (uint32_t)len;
	}
out:
	free(scratch);
	free(args);
	free(val);
	return NULL;
}

static uint32_t id_slot(const uint8_t id[DS_HASH_LEN])
{
	return ds_get_u32be(id);
}

static void table_insert(struct txs *t, uint32_t i)
{
	size_t h = id_slot(t->id[i]) & t->table_mask;
	for (size_t probe = 0; probe <= t->table_mask; probe++) {
		if (t->table[h] == UINT32_MAX) {
			t->table[h] = i;
			return;
		}
		h = (h + 1) & t->table_mask;
	}
	DS_ASSERT(!"id table full");
}

static uint32_t table_find(const struct txs *t, const uint8_t id[DS_HASH_LEN])
{
	size_t h = id_slot(id) & t->table_mask;
	for (size_t probe = 0; probe <= t->table_mask; probe++) {
		uint32_t i = t->table[h];
		if (i == UINT32_MAX)
			return UINT32_MAX;
		if (memcmp(t->id[i], id, DS_HASH_LEN) == 0)
			return i;
		h = (h + 1) & t->table_mask;
	}
	return UINT32_MAX;
}

static void txs_free(struct txs *t)
{
	free(t->arena);
	free(t->len);
	free(t->id);
	free(t->t_sent_ns);
	free(t->t_commit_ns);
	free(t->state);
	free(t->retried);
	free(t->table);
	memset(t, 0, sizeof(*t));
}

static int txs_alloc(struct txs *t, uint32_t total, size_t slot)
{
	memset(t, 0, sizeof(*t));
	t->total = total;
	t->slot = slot;
	size_t tsize = 1;
	while (tsize < 2 * (size_t)total)
		tsize <<= 1;
	t->table_mask = tsize - 1;
	t->arena = malloc((size_t)total * slot);
	t->len = calloc(total, sizeof(*t->len));
	t->id = calloc(total, sizeof(*t->id));
	t->t_sent_ns = calloc(total, sizeof(*t->t_sent_ns));
	t->t_commit_ns = calloc(total, sizeof(*t->t_commit_ns));
	t->state = calloc(total, 1);
	t->retried = calloc(total, 1);
	t->table = malloc(tsize * sizeof(*t->table));
	if (!t->arena || !t->len || !t->id || !t->t_sent_ns || !t->t_commit_ns || !t->state ||
	    !t->retried || !t->table) {
		txs_free(t);
		return DS_ENOMEM;
	}
	memset(t->table, 0xff, tsize * sizeof(*t->table));
	return 0;
}

/* ---- the run ---------------------------------------------------------------- */

struct reject_count {
	char code[32];
	uint64_t n;
};

struct run {
	struct node nodes[NODES_MAX];
	size_t nnodes;
	struct txs t;
	struct conn *conns;
	size_t nconns;
	size_t rr;           /* the node whose turn it is (send_due) */
	struct conn poller;
	struct resp presp;
	uint64_t next_height;
	uint64_t poll_at_ns;
	uint64_t blocks_seen;
	uint32_t next_tx;    /* next never-sent tx */
	uint32_t *retry_q;   /* txs whose connection died mid-request */
	uint32_t retry_len;
	uint64_t sent, accepted, rejected, failed, committed;
	uint64_t t0_ns, last_commit_ns;
	struct reject_count rej[REJECT_CODES_MAX];
	size_t nrej;
	bool stop;
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	DS_UNUSED(sig);
	interrupted = 1;
}

static void count_reject(struct run *R, int status, const uint8_t *body, size_t len)
{
	char code[32];
	snprintf(code, sizeof(code), "HTTP_%d", status);
	json_t *j = json_loadb((const char *)body, len, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
	if (c)
		snprintf(code, sizeof(code), "%s", c);
	json_decref(j);
	for (size_t i = 0; i < R->nrej; i++)
		if (strcmp(R->rej[i].code, code) == 0) {
			R->rej[i].n++;
			return;
		}
	if (R->nrej < REJECT_CODES_MAX) {
		strcpy(R->rej[R->nrej].code, code);
		R->rej[R->nrej++].n = 1;
	} else {
		R->rej[REJECT_CODES_MAX - 1].n++;
	}
}

/* Marks every known id of a block's JSON as committed now. Returns 0, or
 * DS_EINVAL when the JSON is not a block. */
static int take_block(struct run *R, const uint8_t *body, size_t len, uint64_t now)
{
	json_t *j = json_loadb((const char *)body, len, 0, NULL);
	json_t *txs = json_object_get(j, "txs");
	if (!json_is_array(txs)) {
		json_decref(j);
		return DS_EINVAL;
	}
	size_t n = json_array_size(txs);
	for (size_t i = 0; i < n && i < DS_BLOCK_TXS_MAX; i++) {
		const char *h = json_string_value(json_array_get(txs, i));
		uint8_t id[DS_HASH_LEN];
		if (!h || strlen(h) != 2 * DS_HASH_LEN || ds_hex_decode(id, DS_HASH_LEN, h, 2 * DS_HASH_LEN) != 0)
			continue;
		uint32_t k = table_find(&R->t, id);
		if (k == UINT32_MAX || R->t.t_commit_ns[k])
			continue;
		R->t.t_commit_ns[k] = now;
		if (!R->t.t_sent_ns[k])
			R->t.t_sent_ns[k] = now; /* sent by a lost connection before we timed it */
		R->committed++;
		R->last_commit_ns = now;
	}
	json_decref(j);
	R->blocks_seen++;
	return 0;
}

static void poller_step(struct run *R, short revents, uint64_t now)
{
	struct conn *p = &R->poller;
	if (p->st == C_CLOSED || p->out.len == 0) {
		if (p->st == C_CLOSED && now < p->retry_at_ns)
			return;
		if (now < R->poll_at_ns)
			return;
		if (p->st == C_CLOSED && conn_open(p, &R->nodes[p->node]) != 0) {
			conn_close(p, now, false);
			p->node = (int)((size_t)(p->node + 1) % R->nnodes);
			R->poll_at_ns = now + RETRY_NS / R->nnodes;
			return;
		}
		char path[64];
		snprintf(path, sizeof(path), "/v1/blocks/%llu", (unsigned long long)R->next_height);
		conn_request(p, &R->nodes[p->node], "GET", path, NULL, 0, now);
		if (p->st == C_SENDING)
			revents |= POLLOUT;
	}
	int rc = conn_io(p, revents, &R->presp);
	if (rc == 0 && now > p->t_deadline_ns)
		rc = DS_ETIMEOUT;
	if (rc < 0) {
		/* That node may be down: ask the next one soon, the same one later. */
		conn_close(p, now, false);
		p->node = (int)((size_t)(p->node + 1) % R->nnodes);
		R->poll_at_ns = now + RETRY_NS / R->nnodes;
		return;
	}
	if (rc == 0)
		return;
	if (R->presp.status == 200 && take_block(R, R->presp.body, R->presp.body_len, now) == 0) {
		R->next_height++;
		R->poll_at_ns = now;
	} else {
		R->poll_at_ns = now + POLL_IDLE_NS;
	}
	conn_done(p, &R->presp, now);
}

/* Next tx to send: retries first, then the schedule. UINT32_MAX if none due. */
static uint32_t next_due(struct run *R, uint64_t due)
{
	if (R->retry_len)
		return R->retry_q[--R->retry_len];
	if (R->next_tx < due && R->next_tx < R->t.total)
		return R->next_tx++;
	return UINT32_MAX;
}

static void tx_lost(struct run *R, uint32_t k, bool maybe_delivered, uint64_t now)
{
	/* Never written: it simply goes to another connection. Written: the
	 * node may or may not have taken it, so it is sent once more elsewhere
	 * and a REPLAY answer to that second copy counts as accepted. */
	if (!maybe_delivered && !R->stop) {
		R->t.state[k] = TX_UNSENT;
		R->retry_q[R->retry_len++] = k;
	} else if (!R->t.retried[k] && !R->stop) {
		R->t.retried[k] = 1;
		R->t.state[k] = TX_UNSENT;
		R->retry_q[R->retry_len++] = k;
	} else {
		R->t.state[k] = TX_FAILED;
		R->failed++;
	}
	DS_UNUSED(now);
}

static void sender_step(struct run *R, struct conn *c, short revents, uint64_t now)
{
	struct resp r = {0};
	ds_buf_init(&r.chunked);
	int rc = conn_io(c, revents, &r);
	if (rc == 0 && c->st != C_CLOSED && c->out.len && now > c->t_deadline_ns)
		rc = DS_ETIMEOUT;
	if (rc < 0) {
		if (c->tx != UINT32_MAX)
			tx_lost(R, c->tx, c->st != C_CONNECTING && c->out_off > 0, now);
		c->tx = UINT32_MAX;
		if (c->st == C_CONNECTING) /* refused: the node is down, not just this socket */
			R->nodes[c->node].down_until_ns = now + RETRY_NS;
		conn_close(c, now, true);
		goto out;
	}
	if (rc == 1) {
		uint32_t k = c->tx;
		c->tx = UINT32_MAX;
		if (k != UINT32_MAX) {
			bool replay_ok = R->t.retried[k] && r.status == 409;
			if ((r.status >= 200 && r.status < 300) || replay_ok) {
				R->t.state[k] = TX_ACCEPTED;
				R->accepted++;
			} else {
				R->t.state[k] = TX_REJECTED;
				R->rejected++;
				count_reject(R, r.status, r.body, r.body_len);
			}
		}
		conn_done(c, &r, now);
	}
out:
	ds_buf_free(&r.chunked);
}

/* The connection of node n to send on now: an open idle one first, else a
 * closed one whose back-off is over (opened by the caller). NULL when
 * every connection of the node has a reply outstanding or is backing off. */
static struct conn *node_idle_conn(struct run *R, size_t n, uint64_t now)
{
	struct conn *closed = NULL;
	for (size_t i = n; i < R->nconns; i += R->nnodes) {
		struct conn *c = &R->conns[i];
		if (!conn_idle(c) || c->tx != UINT32_MAX)
			continue;
		if (c->st != C_CLOSED)
			return c;
		if (!closed && now >= c->retry_at_ns)
			closed = c;
	}
	return closed;
}

/* Dispatch is strictly round robin over the nodes: due transaction j goes
 * to the node whose turn it is, and when all of that node's connections
 * have a reply outstanding the transaction (and every one behind it) waits
 * for that node instead of going to a faster one. Skipping a busy node, as
 * an earlier version did, made the split follow the nodes' reply times
 * (253/147 seen between two equal fake nodes), so a benchmark loaded the
 * fastest node most. A node's C connections are its pipeline depth: a node
 * that cannot keep C requests moving is saturated, and the shortfall shows
 * as "unsent". Two exceptions keep a dead or hung node from stalling the
 * run: a node left alone after a failed connect (down_until_ns) loses its
 * turn, and so does a node that has held its turn for STALL_NS with no
 * connection free, which is then left alone for RETRY_NS like a refused
 * one. While no node loses a turn, the nodes' counts differ by at most
 * one (retries of lost transactions aside). */
static void send_due(struct run *R, uint64_t due, uint64_t now)
{
	/* Bounded: every pass either sends one due tx (at most due of them)
	 * or passes a turn; nnodes passes in a row means no node can take one. */
	for (size_t passes = 0; passes < R->nnodes;) {
		if (!R->retry_len && (R->next_tx >= due || R->next_tx >= R->t.total))
			return;
		struct node *nd = &R->nodes[R->rr];
		size_t turn = R->rr;
		if (now < nd->down_until_ns) {
			nd->busy_since_ns = 0;
			R->rr = (R->rr + 1) % R->nnodes;
			passes++;
			continue;
		}
		struct conn *c = node_idle_conn(R, turn, now);
		if (!c) {
			if (!nd->busy_since_ns)
				nd->busy_since_ns = now;
			if (now - nd->busy_since_ns < STALL_NS)
				return; /* its turn: wait for a reply */
			nd->busy_since_ns = 0;
			nd->down_until_ns = now + RETRY_NS;
			R->rr = (R->rr + 1) % R->nnodes;
			passes++;
			continue;
		}
		nd->busy_since_ns = 0;
		if (c->st == C_CLOSED && conn_open(c, nd) != 0) {
			nd->down_until_ns = now + RETRY_NS;
			conn_close(c, now, true);
			R->rr = (R->rr + 1) % R->nnodes;
			passes++;
			continue;
		}
		uint32_t k = next_due(R, due);
		DS_ASSERT(k != UINT32_MAX); /* checked at the top of the pass */
		R->rr = (R->rr + 1) % R->nnodes;
		passes = 0;
		c->tx = k;
		R->t.state[k] = TX_INFLIGHT;
		if (!R->t.t_sent_ns[k])
			R->sent++;
		R->t.t_sent_ns[k] = now;
		conn_request(c, nd, "POST", "/v1/tx", R->t.arena + (size_t)k * R->t.slot, R->t.len[k], now);
		struct resp dummy = {0};
		ds_buf_init(&dummy.chunked);
		if (c->st == C_SENDING) {
			int rc = conn_io(c, POLLOUT, &dummy); /* write at once: no poll round trip */
			if (rc < 0) {
				/* Back to the retry queue: the next node in turn takes it. */
				tx_lost(R, k, c->out_off > 0, now);
				nd->down_until_ns = now + RETRY_NS;
				c->tx = UINT32_MAX;
				conn_close(c, now, true);
			}
		}
		ds_buf_free(&dummy.chunked);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void progress(const struct run *R, uint64_t now, double secs, bool final)
{
	fprintf(stderr, "\rload: %5.1fs/%.0fs sent %llu accepted %llu rejected %llu committed %llu height %llu   %s",
		(double)(now - R->t0_ns) / 1e9, secs, (unsigned long long)R->sent,
		(unsigned long long)R->accepted, (unsigned long long)R->rejected,
		(unsigned long long)R->committed,
		(unsigned long long)(R->next_height ? R->next_height - 1 : 0), final ? "\n" : "");
	fflush(stderr);
}

/* Chooses the signing keys: --key files, else the node keys beside
 * nodes.json, else fresh keys. Writes at most *nkeys keys and sets *nkeys to
 * the number used. Returns 0, or 1 after a one-line error. */
static int load_signers(uint8_t (*pk)[DS_PK_LEN], uint8_t (*sk)[DS_SK_LEN], uint64_t *nkeys,
			const char **signers, const struct ds_cli_opt *keyopt, const char *nodes_path,
			const struct node *nodes, size_t nnodes)
{
	char err[256];
	struct ds_key key;
	if (keyopt->nvals > 0) {
		if (keyopt->nvals > *nkeys && keyopt->nvals > KEYS_MAX)
			return ds_cli_fail(CMD, "too many --key files (at most %u)", KEYS_MAX);
		for (size_t k = 0; k < keyopt->nvals; k++) {
			if (ds_keyfile_load(&key, keyopt->vals[k], err, sizeof(err)) != 0)
				return ds_cli_fail(CMD, "%s: %s", keyopt->vals[k], err);
			memcpy(pk[k], key.pk, DS_PK_LEN);
			memcpy(sk[k], key.sk, DS_SK_LEN);
			ds_keyfile_wipe(&key);
		}
		*nkeys = keyopt->nvals;
		*signers = "key files";
		return 0;
	}
	const char *slash = strrchr(nodes_path, '/');
	int dlen = slash ? (int)(slash - nodes_path) : 1;
	const char *dir = slash ? nodes_path : ".";
	size_t used = 0;
	for (size_t i = 0; i < nnodes && used < *nkeys; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%.*s/%s/node.key", dlen, dir, nodes[i].id);
		if (ds_keyfile_load(&key, path, err, sizeof(err)) != 0)
			break;
		memcpy(pk[used], key.pk, DS_PK_LEN);
		memcpy(sk[used], key.sk, DS_SK_LEN);
		ds_keyfile_wipe(&key);
		used++;
	}
	if (used == nnodes && used > 0) {
		*nkeys = used;
		*signers = "node keys";
		return 0;
	}
	for (uint64_t k = 0; k < *nkeys; k++)
		if (ds_ed25519_keypair(pk[k], sk[k]) != 0)
			return ds_cli_fail(CMD, "cannot generate keys");
	*signers = "fresh";
	return 0;
}

int ds_cli_load(int argc, char **argv)
{
	if (ds_cli_wants_help(argc, argv)) {
		fputs(ds__load_help, stdout);
		return 0;
	}
	struct ds_cli_opt o[] = {
		DS_CLI_OPT("nodes"),  DS_CLI_OPT("tps"),           DS_CLI_OPT("seconds"),
		DS_CLI_OPT("keys"),   DS_CLI_OPT("timeout-s"),     DS_CLI_OPT("conns"),
		DS_CLI_OPT("expiry-margin"), DS_CLI_OPT("value-bytes"), DS_CLI_MULTI("key"),
	};
	int rc = ds_cli_parse_opts(CMD, argc, argv, o, DS_ARRAY_LEN(o));
	if (rc)
		return rc;
	if (!o[0].seen)
		return ds_cli_usage(CMD, "--nodes is required");
	if (!o[1].seen || !o[2].seen)
		return ds_cli_usage(CMD, "--tps and --seconds are required");
	uint64_t tps, secs, nkeys, tmo_s, conns, margin, vbytes;
	if ((rc = opt_u64(&tps, &o[1], 0, 1, 1000000)) || (rc = opt_u64(&secs, &o[2], 0, 1, 3600)) ||
	    (rc = opt_u64(&nkeys, &o[3], 8, 1, KEYS_MAX)) || (rc = opt_u64(&tmo_s, &o[4], 5, 0, 600)) ||
	    (rc = opt_u64(&conns, &o[5], 16, 1, CONNS_PER_NODE_MAX)) ||
	    (rc = opt_u64(&margin, &o[6], 1000, 1, 1000000)) || (rc = opt_u64(&vbytes, &o[7], 0, 0, 4096)))
		return rc;
	if (tps * secs > TXS_MAX)
		return ds_cli_usage(CMD, "--tps times --seconds is %llu transactions; at most %u per run",
				    (unsigned long long)(tps * secs), TXS_MAX);

	struct run *R = calloc(1, sizeof(*R));
	if (!R)
		return ds_cli_fail(CMD, "out of memory");
	int ret = 1;
	uint8_t (*pk)[DS_PK_LEN] = calloc(nkeys, DS_PK_LEN);
	uint8_t (*sk)[DS_SK_LEN] = calloc(nkeys, DS_SK_LEN);
	char chain_id[DS_CHAIN_ID_MAX + 1];
	conn_init(&R->poller, 0);
	ds_buf_init(&R->presp.chunked);
	if (!pk || !sk) {
		ds_cli_fail(CMD, "out of memory");
		goto fail;
	}
	if (read_nodes(R->nodes, &R->nnodes, chain_id, o[0].val))
		goto fail;

	/* Current height from the first node that answers. */
	uint64_t height = 0;
	bool have_status = false;
	for (size_t i = 0; i < R->nnodes && !have_status; i++) {
		int st = 0;
		char *body = NULL;
		if (http_get(&st, &body, &R->nodes[i], "/v1/status", 3000000000ull) == 0 && st == 200) {
			json_t *j = json_loads(body, 0, NULL);
			json_t *h = json_object_get(j, "height");
			const char *cid = json_string_value(json_object_get(j, "chain_id"));
			if (json_is_integer(h) && json_integer_value(h) >= 0) {
				height = (uint64_t)json_integer_value(h);
				have_status = true;
				if (cid && strcmp(cid, chain_id) != 0) {
					ds_cli_fail(CMD, "node %s serves chain '%s', nodes.json says '%s'",
						    R->nodes[i].id, cid, chain_id);
					json_decref(j);
					free(body);
					goto fail;
				}
			}
			json_decref(j);
		}
		free(body);
	}
	if (!have_status) {
		ds_cli_fail(CMD, "no node answered GET /v1/status (is the network running?)");
		goto fail;
	}
	uint64_t life = genesis_lifetime(o[0].val);
	if (life > 1 && margin >= life)
		margin = life - 1;
	uint64_t expiry = height + margin;

	/* Pre-sign. */
	uint32_t total = (uint32_t)(tps * secs);
	const char *signers = "fresh";
	if (load_signers(pk, sk, &nkeys, &signers, &o[8], o[0].val, R->nodes, R->nnodes) != 0)
		goto fail;
	char run_id[17];
	uint8_t rid[8];
	ds_random(rid, sizeof(rid));
	ds_hex_encode(run_id, rid, sizeof(rid));
	/* Slot size: the largest tx of the run (the last index has the longest
	 * key, uvar nonce at its widest). */
	size_t slot = 1 + 1 + strlen(chain_id) + DS_PK_LEN + 10 + 10 + 3 + 4 + 4 + 48 + 8 + vbytes + 16 +
		      DS_SIG_LEN + 32;
	if (txs_alloc(&R->t, total, slot) != 0) {
		ds_cli_fail(CMD, "out of memory for %u transactions", total);
		goto fail;
	}
	R->retry_q = calloc(total, sizeof(*R->retry_q));
	if (!R->retry_q) {
		ds_cli_fail(CMD, "out of memory");
		goto fail;
	}
	uint64_t t_sign = ds_mono_ns();
	{
		struct sign_job jobs[2];
		pthread_t th[2];
		bool started[2] = {false, false};
		uint64_t nonce0 = ds_random_u64() >> 2;
		for (int i = 0; i < 2; i++) {
			jobs[i] = (struct sign_job){.t = &R->t, .chain_id = chain_id,
				.pk = (const uint8_t (*)[DS_PK_LEN])pk, .sk = (const uint8_t (*)[DS_SK_LEN])sk,
				.nkeys = (uint32_t)nkeys, .nonce0 = nonce0, .expiry = expiry, .run_id = run_id,
				.value_bytes = (uint32_t)vbytes, .from = (uint32_t)((uint64_t)total * i / 2),
				.to = (uint32_t)((uint64_t)total * (i + 1) / 2)};
			started[i] = i > 0 && pthread_create(&th[i], NULL, sign_range, &jobs[i]) == 0;
		}
		sign_range(&jobs[0]);
		if (!started[1])
			sign_range(&jobs[1]);
		else
			pthread_join(th[1], NULL);
		if (jobs[0].err || jobs[1].err) {
			ds_cli_fail(CMD, "cannot sign transactions: %s",
				    ds_strerror(jobs[0].err ? jobs[0].err : jobs[1].err));
			goto fail;
		}
	}
	double sign_ms = (double)(ds_mono_ns() - t_sign) / 1e6;
	for (size_t k = 0; k < nkeys; k++)
		ds_memzero(sk[k], DS_SK_LEN);
	for (uint32_t i = 0; i < total; i++)
		table_insert(&R->t, i);

	/* Connections interleaved by node: those of node n are n, n + nnodes, ... */
	R->nconns = R->nnodes * conns;
	R->conns = calloc(R->nconns, sizeof(*R->conns));
	struct pollfd *pfd = calloc(R->nconns + 1, sizeof(*pfd));
	if (!R->conns || !pfd) {
		free(pfd);
		ds_cli_fail(CMD, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < R->nconns; i++)
		conn_init(&R->conns[i], (int)(i % R->nnodes));
	R->next_height = height + 1;

	struct sigaction sa = {0}, old_int, old_term;
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	bool tty = isatty(STDERR_FILENO);
	R->t0_ns = ds_mono_ns();
	uint64_t window_end = R->t0_ns + secs * 1000000000ull;
	uint64_t wait_end = window_end + tmo_s * 1000000000ull;
	uint64_t next_progress = R->t0_ns + 1000000000ull;
	for (;;) {
		uint64_t now = ds_mono_ns();
		if (interrupted)
			break;
		if (!R->stop && now >= window_end) {
			/* One last pass for what fell due inside the window but found
			 * the loop asleep past its end (a late wake-up is this
			 * process's jitter, not the nodes falling behind). It only uses
			 * free connections, so a saturated node still shows as unsent. */
			send_due(R, R->t.total, now);
			R->stop = true;
			for (uint32_t k = 0; k < R->retry_len; k++) {
				R->t.state[R->retry_q[k]] = TX_FAILED;
				R->failed++;
			}
			R->retry_len = 0;
		}
		if (R->stop) {
			bool inflight = false;
			for (size_t i = 0; i < R->nconns && !inflight; i++)
				inflight = R->conns[i].tx != UINT32_MAX;
			if (now >= wait_end || (!inflight && R->committed >= R->accepted))
				break;
		} else {
			uint64_t due = (now - R->t0_ns) * tps / 1000000000ull + 1;
			send_due(R, due, now);
		}
		if (tty && now >= next_progress) {
			progress(R, now, (double)secs, false);
			next_progress += 1000000000ull;
		}
		/* Poll: senders with something to do, and the block poller. */
		size_t np = 0;
		for (size_t i = 0; i < R->nconns; i++) {
			struct conn *c = &R->conns[i];
			pfd[i].fd = c->fd >= 0 && (c->tx != UINT32_MAX || c->st == C_CONNECTING) ? c->fd : -1;
			pfd[i].events = conn_events(c);
			pfd[i].revents = 0;
		}
		np = R->nconns;
		pfd[np].fd = R->poller.fd >= 0 && R->poller.out.len ? R->poller.fd : -1;
		pfd[np].events = conn_events(&R->poller);
		pfd[np].revents = 0;
		/* Wake for the next scheduled send (1 ms granularity) or poll time. */
		int tmo = 1;
		if (R->stop || R->next_tx >= R->t.total)
			tmo = pfd[np].fd >= 0 ? 5 : (int)(POLL_IDLE_NS / 1000000);
		int pr = poll(pfd, np + 1, tmo);
		if (pr < 0 && errno != EINTR) {
			ds_cli_fail(CMD, "poll: %s", strerror(errno));
			free(pfd);
			goto fail;
		}
		now = ds_mono_ns();
		for (size_t i = 0; i < R->nconns; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents || now > R->conns[i].t_deadline_ns))
				sender_step(R, &R->conns[i], pfd[i].revents, now);
		poller_step(R, pfd[np].fd >= 0 ? pfd[np].revents : 0, now);
	}
	free(pfd);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	uint64_t t_end = ds_mono_ns();
	if (tty)
		progress(R, t_end, (double)secs, true);

	/* Figures. */
	uint64_t unsent = 0, lost = 0;
	uint64_t *lat = malloc((R->committed + 1) * sizeof(*lat));
	size_t nlat = 0;
	if (!lat) {
		ds_cli_fail(CMD, "out of memory");
		goto fail;
	}
	/* Unsent: due in the window as run (an interrupted run ends its window
	 * early) but never sent, because the nodes did not keep up. */
	uint64_t ran_ns = (t_end < window_end ? t_end : window_end) - R->t0_ns;
	uint64_t due_end = ran_ns * tps / 1000000000ull + 1;
	for (uint32_t i = 0; i < total; i++) {
		if (R->t.state[i] == TX_UNSENT && !R->t.t_commit_ns[i] && i < due_end)
			unsent++;
		if (R->t.state[i] == TX_INFLIGHT)
			lost++;
		if (R->t.t_commit_ns[i] && nlat <= R->committed)
			lat[nlat++] = R->t.t_commit_ns[i] - R->t.t_sent_ns[i];
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	double p50 = nlat ? (double)lat[(nlat - 1) / 2] / 1e6 : 0;
	double p99 = nlat ? (double)lat[(nlat * 99 + 99) / 100 - 1] / 1e6 : 0;
	double lat_max = nlat ? (double)lat[nlat - 1] / 1e6 : 0;
	free(lat);
	double span_s = (double)ran_ns / 1e9;
	if (span_s < 0.001)
		span_s = 0.001;
	if (R->last_commit_ns && (double)(R->last_commit_ns - R->t0_ns) / 1e9 > span_s)
		span_s = (double)(R->last_commit_ns - R->t0_ns) / 1e9;
	struct ds_buf out;
	ds_buf_init(&out);
	ds_buf_printf(&out,
		      "{\"target_tps\":%llu,\"seconds\":%llu,\"nodes\":%zu,\"keys\":%llu,\"signers\":\"%s\",\"conns_per_node\":%llu,"
		      "\"signed\":%u,\"sign_ms\":%.1f,\"submitted\":%llu,\"accepted\":%llu,\"rejected\":%llu,"
		      "\"failed\":%llu,\"unsent\":%llu,\"committed\":%llu,\"committed_tps\":%.1f,"
		      "\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f,\"latency_max_ms\":%.2f,"
		      "\"height_start\":%llu,\"height_end\":%llu,\"blocks\":%llu,\"expiry_height\":%llu,"
		      "\"elapsed_s\":%.2f,\"interrupted\":%s,\"rejected_by\":{",
		      (unsigned long long)tps, (unsigned long long)secs, R->nnodes, (unsigned long long)nkeys,
		      signers, (unsigned long long)conns, total, sign_ms, (unsigned long long)R->sent,
		      (unsigned long long)R->accepted, (unsigned long long)R->rejected,
		      (unsigned long long)(R->failed + lost), (unsigned long long)unsent,
		      (unsigned long long)R->committed, (double)R->committed / span_s, p50, p99, lat_max,
		      (unsigned long long)height, (unsigned long long)(R->next_height - 1),
		      (unsigned long long)R->blocks_seen, (unsigned long long)expiry,
		      (double)(t_end - R->t0_ns) / 1e9, interrupted ? "true" : "false");
	for (size_t i = 0; i < R->nrej; i++)
		ds_buf_printf(&out, "%s\"%s\":%llu", i ? "," : "", R->rej[i].code, (unsigned long long)R->rej[i].n);
	ds_buf_printf(&out, "}}\n");
	if (out.err || fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		ds_buf_free(&out);
		ds_cli_fail(CMD, "cannot write the result");
		goto fail;
	}
	ds_buf_free(&out);
	ret = interrupted ? 1 : 0;
fail:
	if (sk) {
		ds_memzero(sk, nkeys * DS_SK_LEN);
		free(sk);
	}
	free(pk);
	if (R->conns)
		for (size_t i = 0; i < R->nconns; i++)
			conn_free(&R->conns[i]);
	free(R->conns);
	conn_free(&R->poller);
	ds_buf_free(&R->presp.chunked);
	free(R->retry_q);
	txs_free(&R->t);
	free(R);
	return ret;
}
