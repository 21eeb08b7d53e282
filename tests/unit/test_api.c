/* api: a real server on an ephemeral loopback port, driven by a tiny
 * socket HTTP client. Every wait is bounded. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"

/* ------------------------------------------------------------ the client */

struct hres {
	int status;         /* 0: connection closed without a response */
	char head[8192];
	char *body;         /* heap, NUL-terminated */
	size_t body_len;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int tcp_connect(uint16_t port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

/* Decodes chunked framing in place-free fashion: src -> dst, as far as
 * complete chunks go. Returns decoded length; *done when the 0 chunk came. */
static size_t dechunk(const char *src, size_t n, char *dst, bool *done)
{
	size_t i = 0, o = 0;
	*done = false;
	for (;;) {
		const char *crlf = memmem(src + i, n - i, "\r\n", 2);
		if (!crlf)
			break;
		size_t sz = strtoul(src + i, NULL, 16);
		size_t start = (size_t)(crlf - src) + 2;
		if (sz == 0) {
			*done = true;
			break;
		}
		if (start + sz + 2 > n)
			break;
		memcpy(dst + o, src + start, sz);
		o += sz;
		i = start + sz + 2;
	}
	dst[o] = 0;
	return o;
}

static const char *find_header(const struct hres *r, const char *name, char *out, size_t cap)
{
	const char *p = r->head;
	size_t nl = strlen(name);
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t k = strcspn(v, "\r\n");
			if (k >= cap)
				k = cap - 1;
			memcpy(out, v, k);
			out[k] = 0;
			return out;
		}
	}
	return NULL;
}

/* Reads until EOF (requests say Connection: close) and parses. */
static void read_response(int fd, struct hres *r)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		if (n == cap) {
			assert_true(cap < (64u << 20));
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		ssize_t k = recv(fd, buf + n, cap - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = 0;
	memset(r, 0, sizeof(*r));
	char *end = strstr(buf, "\r\n\r\n");
	if (!end || strncmp(buf, "HTTP/1.", 7) != 0) {
		r->body = buf;
		return;
	}
	r->status = atoi(buf + 9);
	size_t hl = (size_t)(end - buf) + 2;
	assert_true(hl < sizeof(r->head));
	memcpy(r->head, buf, hl);
	r->head[hl] = 0;
	char *b = end + 4;
	size_t blen = n - (size_t)(b - buf);
	char te[64];
	r->body = malloc(blen + 1);
	assert_non_null(r->body);
	if (find_header(r, "Transfer-Encoding", te, sizeof(te)) && strcasecmp(te, "chunked") == 0) {
		bool done;
		r->body_len = dechunk(b, blen, r->body, &done);
	} else {
		memcpy(r->body, b, blen);
		r->body[blen] = 0;
		r->body_len = blen;
	}
	free(buf);
}

static void hres_free(struct hres *r)
{
	free(r->body);
	r->body = NULL;
}

static void http_raw(uint16_t port, const char *req, size_t len, struct hres *r)
{
	int fd = tcp_connect(port, 0);
	send_all(fd, req, len);
	read_response(fd, r);
	close(fd);
}

static void http(uint16_t port, const char *method, const char *path, const char *ctype,
		 const char *body, const char *extra, struct hres *r)
{
	char req[16384];
	int k = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s%s%s",
			 method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
			 ctype ? "\r\n" : "", extra ? extra : "");
	assert_true(k > 0 && (size_t)k < sizeof(req));
	size_t blen = body ? strlen(body) : 0;
	if (body)
		k += snprintf(req + k, sizeof(req) - (size_t)k, "Content-Length: %zu\r\n", blen);
	k += snprintf(req + k, sizeof(req) - (size_t)k, "\r\n");
	assert_true((size_t)k + blen < sizeof(req));
	if (body)
		memcpy(req + k, body, blen);
	http_raw(port, req, (size_t)k + blen, r);
}

/* Asserts the JSON error shape and returns nothing; code must match. */
static void assert_error(const struct hres *r, int status, const char *code)
{
	if (r->status != status)
		fail_msg("status %d, wanted %d; body %s", r->status, status, r->body ? r->body : "");
	char ct[128];
	assert_non_null(find_header(r, "Content-Type", ct, sizeof(ct)));
	assert_string_equal(ct, "application/json");
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);
	if (!j)
		fail_msg("error body is not JSON: %s", r->body);
	const char *c = NULL, *m = NULL;
	assert_int_equal(json_unpack(j, "{s:{s:s,s:s}}", "error", "code", &c, "message", &m), 0);
	assert_int_equal(json_object_size(json_object_get(j, "error")), 2);
	assert_string_equal(c, code);
	assert_true(strlen(m) > 0);
	json_decref(j);
}

/* ------------------------------------------------------------ handlers */

static void echo(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	(void)ctx;
	json_t *p = json_object();
	for (size_t i = 0; i < req->nparams; i++)
		json_object_set_new(p, req->param_name[i], json_string(req->param_value[i]));
	ds_api_resp_json(resp, 200, json_pack("{s:s,s:s,s:o}", "route", req->route, "method", req->method,
					      "params", p));
}

static void limited(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	(void)ctx;
	uint64_t lim;
	if (ds_api_query_u64(&lim, req, resp, "limit", 10, 1, 100) != 0)
		return;
	uint8_t h[4];
	const char *hp = ds_api_query(req, "h");
	if (hp && ds_api_hex(h, sizeof(h), hp, resp, "h") != 0)
		return;
	ds_api_resp_json(resp, 200, json_pack("{s:I}", "limit", (json_int_t)lim));
}

static const struct ds_api_field tx_fields[] = {
	{"tx", DS_API_JHEX, true, 0},
	{"memo", DS_API_JSTR, false, 8},
	{"n", DS_API_JUINT, false, 1000},
	{"flags", DS_API_JARR, false, 2},
};

static void post_tx(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	(void)ctx;
	json_t *j;
	if (ds_api_json_body(&j, req, resp, tx_fields, DS_ARRAY_LEN(tx_fields)) != 0)
		return;
	ds_api_resp_json(resp, 201, json_pack("{s:O,s:I}", "tx", json_object_get(j, "tx"), "len",
					      (json_int_t)req->body_len));
	json_decref(j);
}

static void plain(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	(void)ctx;
	(void)req;
	ds_api_resp_bytes(resp, 200, "text/plain", "hi", 2);
	assert_int_equal(ds_api_resp_header(resp, "X-Test", "yes"), 0);
}

static struct ds_api *start(struct ds_api_config *cfg)
{
	struct ds_api *api;
	assert_int_equal(ds_api_start(&api, cfg), 0);
	assert_true(ds_api_port(api) != 0);
	return api;
}

static struct ds_api *start_default(void)
{
	struct ds_api_config cfg = {.max_body_bytes = 1024};
	struct ds_api *api = start(&cfg);
	assert_int_equal(ds_api_route(api, "GET", "/v1/blocks/{id}", echo, NULL), 0);
	assert_int_equal(ds_api_route(api, "GET", "/v1/blocks/latest", echo, NULL), 0);
	assert_int_equal(ds_api_route(api, "GET", "/v1/tx/{hash}", echo, NULL), 0);
	assert_int_equal(ds_api_route(api, "POST", "/v1/tx", post_tx, NULL), 0);
	assert_int_equal(ds_api_route(api, "GET", "/v1/{a}/x/{b}", echo, NULL), 0);
	assert_int_equal(ds_api_route(api, "GET", "/v1/list", limited, NULL), 0);
	assert_int_equal(ds_api_route(api, "GET", "/plain", plain, NULL), 0);
	assert_int_equal(ds_api_metrics_route(api, "/metrics"), 0);
	return api;
}

static json_t *body_json(const struct hres *r)
{
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);
	if (!j)
		fail_msg("not JSON: %s", r->body);
	return j;
}

/* ------------------------------------------------------------ the tests */

static void test_helpers(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(ds_api_parse_u64(&v, "0"), 0);
	assert_int_equal(ds_api_parse_u64(&v, "18446744073709551615"), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(ds_api_parse_u64(&v, "18446744073709551616"), DS_ERANGE);
	assert_int_equal(ds_api_parse_u64(&v, "01"), DS_EINVAL);
	assert_int_equal(ds_api_parse_u64(&v, "-1"), DS_EINVAL);
	assert_int_equal(ds_api_parse_u64(&v, " 1"), DS_EINVAL);
	assert_int_equal(ds_api_parse_u64(&v, ""), DS_EINVAL);

	struct ds_api_resp r;
	ds_api_resp_init(&r);
	uint8_t b[2];
	assert_int_equal(ds_api_hex(b, 2, "0xABcd", &r, "x"), 0);
	assert_int_equal(b[0], 0xab);
	assert_int_equal(ds_api_hex(b, 2, "abc", &r, "x"), DS_EINVAL);
	assert_int_equal(r.status, 400);
	assert_int_equal(ds_api_hex(b, 2, "abzz", &r, "x"), DS_EINVAL);
	assert_int_equal(ds_api_resp_header(&r, "Bad Name", "v"), DS_EINVAL);
	assert_int_equal(ds_api_resp_header(&r, "X-A", "line\r\nX-Evil: 1"), DS_EINVAL);
	for (int i = 0; i < DS_API_HEADERS_MAX; i++)
		assert_int_equal(ds_api_resp_header(&r, "X-A", "v"), 0);
	assert_int_equal(ds_api_resp_header(&r, "X-A", "v"), DS_EFULL);
	/* Invalid UTF-8 in a message is cut, never makes the error fail. */
	ds_api_resp_error(&r, 404, DS_API_E_NOT_FOUND, "no %s", "x\xff\xfe");
	assert_int_equal(r.status, 404);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
			    "no x");
	ds_api_resp_from_err(&r, DS_ENOTFOUND, NULL);
	assert_int_equal(r.status, 404);
	ds_api_resp_from_err(&r, DS_EFULL, "busy");
	assert_int_equal(r.status, 503);
	ds_api_resp_free(&r);

	struct ds_api_config cfg = {.bind_addr = "not-an-ip"};
	struct ds_api *api;
	assert_int_equal(ds_api_start(&api, &cfg), DS_EINVAL);
	api = start_default();
	assert_int_equal(ds_api_route(api, "GET", "v1/x", echo, NULL), DS_EINVAL);
	assert_int_equal(ds_api_route(api, "GET", "/v1/{x", echo, NULL), DS_EINVAL);
	assert_int_equal(ds_api_route(api, "GET", "/v1/{x}/{x}", echo, NULL), DS_EINVAL);
	assert_int_equal(ds_api_route(api, "GET", "/v1//x", echo, NULL), DS_EINVAL);
	assert_int_equal(ds_api_route(api, "G T", "/v1/y", echo, NULL), DS_EINVAL);
	assert_int_equal(ds_api_route(api, "GET", "/v1/blocks/{other}", echo, NULL), DS_EEXIST);
	ds_api_stop(api);
}

static void test_routing(void **state)
{
	(void)state;
	struct ds_api *api = start_default();
	uint16_t port = ds_api_port(api);
	struct hres r;
	char hv[128];

	http(port, "GET", "/v1/blocks/42", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	json_t *j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "route")), "/v1/blocks/{id}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"), "id")), "42");
	json_decref(j);
	assert_non_null(find_header(&r, "X-Content-Type-Options", hv, sizeof(hv)));
	hres_free(&r);

	/* Literal beats parameter. */
	http(port, "GET", "/v1/blocks/latest", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "route")), "/v1/blocks/latest");
	json_decref(j);
	hres_free(&r);

	/* Two parameters, percent-decoding, query ignored by matching. */
	http(port, "GET", "/v1/a%20b/x/c?q=1", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	j = body_json(&r);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"), "a")), "a b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"), "b")), "c");
	json_decref(j);
	hres_free(&r);

	http(port, "GET", "/v1/nothing/here", NULL, NULL, NULL, &r);
	assert_error(&r, 404, "NOT_FOUND");
	hres_free(&r);
	http(port, "GET", "/v1/blocks/", NULL, NULL, NULL, &r); /* empty parameter */
	assert_error(&r, 404, "NOT_FOUND");
	hres_free(&r);
	http(port, "GET", "/v1/blocks/1/2", NULL, NULL, NULL, &r);
	assert_error(&r, 404, "NOT_FOUND");
	hres_free(&r);

	http(port, "DELETE", "/v1/blocks/42", NULL, NULL, NULL, &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	assert_non_null(find_header(&r, "Allow", hv, sizeof(hv)));
	assert_string_equal(hv, "GET");
	hres_free(&r);
	http(port, "GET", "/v1/tx", NULL, NULL, NULL, &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	hres_free(&r);

	/* HEAD served by the GET route, without a body. */
	http(port, "HEAD", "/v1/blocks/42", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	hres_free(&r);

	/* Bytes response with an extra header. */
	http(port, "GET", "/plain", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hi");
	assert_non_null(find_header(&r, "X-Test", hv, sizeof(hv)));
	hres_free(&r);

	/* Query helpers. */
	http(port, "GET", "/v1/list?limit=5", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"limit\":5}");
	hres_free(&r);
	http(port, "GET", "/v1/list", NULL, NULL, NULL, &r);
	assert_string_equal(r.body, "{\"limit\":10}");
	hres_free(&r);
	const char *bad[] = {"/v1/list?limit=0", "/v1/list?limit=101", "/v1/list?limit=abc",
			     "/v1/list?limit=007", "/v1/list?limit=-1", "/v1/list?h=123",
			     "/v1/list?h=zzzzzzzz"};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		http(port, "GET", bad[i], NULL, NULL, NULL, &r);
		assert_error(&r, 400, "BAD_PARAM");
		hres_free(&r);
	}
	http(port, "GET", "/v1/list?h=0a0b0c0d", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	hres_free(&r);

	/* Routes may be added while serving. */
	assert_int_equal(ds_api_route(api, "GET", "/late", plain, NULL), 0);
	http(port, "GET", "/late", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	hres_free(&r);
	ds_api_stop(api);
}

static void test_json_body(void **state)
{
	(void)state;
	struct ds_api *api = start_default();
	uint16_t port = ds_api_port(api);
	struct hres r;
	const char *js = "application/json";

	http(port, "POST", "/v1/tx", js, "{\"tx\":\"00ff\",\"memo\":\"hi\",\"n\":3,\"flags\":[1]}", NULL, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "{\"tx\":\"00ff\",\"len\":43}");
	hres_free(&r);
	http(port, "POST", "/v1/tx", "Application/JSON ; charset=utf-8", "{\"tx\":\"00\"}", NULL, &r);
	assert_int_equal(r.status, 201);
	hres_free(&r);

	http(port, "POST", "/v1/tx", "text/plain", "{\"tx\":\"00\"}", NULL, &r);
	assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	hres_free(&r);
	http(port, "POST", "/v1/tx", NULL, "{\"tx\":\"00\"}", NULL, &r);
	assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	hres_free(&r);
	http(port, "POST", "/v1/tx", "application/jsonx", "{\"tx\":\"00\"}", NULL, &r);
	assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	hres_free(&r);

	const char *bad_json[] = {"{", "[1]", "\"s\"", "{\"tx\":\"00\"} x", "{\"tx\":\"00\",\"tx\":\"01\"}",
				  "{\"tx\":\"\\u0000\"}", ""};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad_json); i++) {
		http(port, "POST", "/v1/tx", js, bad_json[i], NULL, &r);
		assert_error(&r, 400, "BAD_JSON");
		hres_free(&r);
	}
	http(port, "POST", "/v1/tx", js, "{\"tx\":\"00\",\"admin\":true}", NULL, &r);
	assert_error(&r, 400, "UNKNOWN_FIELD");
	hres_free(&r);
	http(port, "POST", "/v1/tx", js, "{\"memo\":\"x\"}", NULL, &r);
	assert_error(&r, 400, "MISSING_FIELD");
	const char *bad_field[] = {"{\"tx\":1}", "{\"tx\":\"0\"}", "{\"tx\":\"zz\"}",
				   "{\"tx\":\"00\",\"memo\":\"123456789\"}", "{\"tx\":\"00\",\"n\":-1}",
				   "{\"tx\":\"00\",\"n\":1001}", "{\"tx\":\"00\",\"n\":1.5}",
				   "{\"tx\":\"00\",\"flags\":[1,2,3]}", "{\"tx\":\"00\",\"flags\":{}}"};
	hres_free(&r);
	for (size_t i = 0; i < DS_ARRAY_LEN(bad_field); i++) {
		http(port, "POST", "/v1/tx", js, bad_field[i], NULL, &r);
		assert_error(&r, 400, "BAD_FIELD");
		hres_free(&r);
	}
	ds_api_stop(api);
}

static void test_body_limit(void **state)
{
	(void)state;
	struct ds_api *api = start_default(); /* max_body_bytes 1024 */
	uint16_t port = ds_api_port(api);
	struct hres r;

	/* Content-Length over the limit: refused before any body byte is sent. */
	const char *hdr = "POST /v1/tx HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
			  "Content-Length: 100000000\r\n\r\n";
	http_raw(port, hdr, strlen(hdr), &r);
	assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
	hres_free(&r);

	/* Chunked past the limit: counted while streaming. */
	char req[8192];
	int k = snprintf(req, sizeof(req), "POST /v1/tx HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
					   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		k += snprintf(req + k, sizeof(req) - (size_t)k, "258\r\n");
		memset(req + k, ' ', 600);
		k += 600;
		k += snprintf(req + k, sizeof(req) - (size_t)k, "\r\n");
	}
	k += snprintf(req + k, sizeof(req) - (size_t)k, "0\r\n\r\n");
	http_raw(port, req, (size_t)k, &r);
	assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
	hres_free(&r);

	/* Exactly at the limit is fine. */
	char body[1025];
	memset(body, ' ', 1024);
	memcpy(body, "{\"tx\":\"00\"}", 11);
	body[1024] = 0;
	http(port, "POST", "/v1/tx", "application/json", body, NULL, &r);
	assert_int_equal(r.status, 201);
	hres_free(&r);
	ds_api_stop(api);
}

static void test_conn_limit(void **state)
{
	(void)state;
	struct ds_api_config cfg = {.max_conns = 4, .conn_timeout_s = 10};
	struct ds_api *api = start(&cfg);
	assert_int_equal(ds_api_route(api, "GET", "/plain", plain, NULL), 0);
	uint16_t port = ds_api_port(api);
	int held[4];
	for (int i = 0; i < 4; i++) {
		held[i] = tcp_connect(port, 0);
		assert_true(send_all(held[i], "GET /pla", 8)); /* incomplete request */
	}
	sleep_ms(100);
	/* Over the limit: libmicrohttpd stops accepting, so the connection
	 * waits in the kernel backlog and gets no answer... */
	int extra = tcp_connect(port, 0);
	const char *req = "GET /plain HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	assert_true(send_all(extra, req, strlen(req)));
	struct pollfd pf = {extra, POLLIN, 0};
	assert_int_equal(poll(&pf, 1, 300), 0);
	/* ...while the held connections still work... */
	assert_true(send_all(held[0], "in HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 43));
	struct hres r;
	read_response(held[0], &r);
	assert_int_equal(r.status, 200);
	hres_free(&r);
	close(held[0]);
	/* ...and it is served as soon as a slot frees. */
	read_response(extra, &r);
	assert_int_equal(r.status, 200);
	hres_free(&r);
	close(extra);
	for (int i = 1; i < 4; i++)
		close(held[i]);
	/* Capacity comes back. */
	bool ok = false;
	for (int i = 0; i < 50 && !ok; i++) {
		http(port, "GET", "/plain", NULL, NULL, NULL, &r);
		ok = r.status == 200;
		hres_free(&r);
		if (!ok)
			sleep_ms(20);
	}
	assert_true(ok);
	ds_api_stop(api);
}

/* ---- async ---- */

struct job {
	struct ds_api_async *a;
	unsigned delay_ms;
	int finish_rc;
};

static void *job_main(void *arg)
{
	struct job *jb = arg;
	sleep_ms(jb->delay_ms);
	struct ds_api_resp r;
	ds_api_resp_init(&r);
	ds_api_resp_json(&r, 202, json_pack("{s:b}", "accepted", 1));
	jb->finish_rc = ds_api_async_finish(jb->a, &r);
	ds_api_resp_free(&r);
	return NULL;
}

struct async_ctx {
	pthread_t th[8];
	struct job jobs[8];
	int n;
	unsigned delay_ms, timeout_ms;
	bool inline_finish;
};

static void slow(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	struct async_ctx *c = ctx;
	struct ds_api_async *a;
	ds_api_resp_error(resp, 500, "IGNORED", "discarded after detaching");
	assert_int_equal(ds_api_async_begin(&a, req, c->timeout_ms), 0);
	struct ds_api_async *b;
	assert_int_equal(ds_api_async_begin(&b, req, c->timeout_ms), DS_EINVAL); /* once */
	struct job *jb = &c->jobs[c->n];
	jb->a = a;
	jb->delay_ms = c->delay_ms;
	if (c->inline_finish) {
		job_main(jb);
		c->n++;
		return;
	}
	assert_int_equal(pthread_create(&c->th[c->n], NULL, job_main, jb), 0);
	c->n++;
}

static void join_jobs(struct async_ctx *c)
{
	for (int i = 0; i < c->n; i++)
		if (!c->inline_finish)
			pthread_join(c->th[i], NULL);
}

static void test_async(void **state)
{
	(void)state;
	struct ds_api_config cfg = {0};
	struct ds_api *api = start(&cfg);
	uint16_t port = ds_api_port(api);
	struct async_ctx ok = {.delay_ms = 50, .timeout_ms = 3000};
	struct async_ctx late = {.delay_ms = 700, .timeout_ms = 200};
	struct async_ctx now = {.delay_ms = 0, .timeout_ms = 1000, .inline_finish = true};
	assert_int_equal(ds_api_route(api, "POST", "/ok", slow, &ok), 0);
	assert_int_equal(ds_api_route(api, "POST", "/late", slow, &late), 0);
	assert_int_equal(ds_api_route(api, "POST", "/now", slow, &now), 0);
	assert_int_equal(ds_api_route(api, "GET", "/plain", plain, NULL), 0);

	struct hres r;
	http(port, "POST", "/ok", "application/json", "{}", NULL, &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(r.body, "{\"accepted\":true}");
	hres_free(&r);
	join_jobs(&ok);
	assert_int_equal(ok.jobs[0].finish_rc, 0);

	/* While one request waits, the server keeps serving others. */
	int fd = tcp_connect(port, 0);
	const char *req = "POST /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	ok.delay_ms = 1500;
	assert_true(send_all(fd, req, strlen(req)));
	sleep_ms(50);
	uint64_t t0 = ds_mono_ns();
	http(port, "GET", "/plain", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(ds_mono_ns() - t0 < 1000000000u);
	hres_free(&r);
	read_response(fd, &r);
	close(fd);
	assert_int_equal(r.status, 202);
	hres_free(&r);
	join_jobs(&ok);

	t0 = ds_mono_ns();
	http(port, "POST", "/late", "application/json", "{}", NULL, &r);
	assert_error(&r, 504, "TIMEOUT");
	uint64_t el = ds_mono_ns() - t0;
	assert_true(el >= 190000000u && el < 2000000000u);
	hres_free(&r);
	join_jobs(&late);
	assert_int_equal(late.jobs[0].finish_rc, DS_ETIMEOUT);

	/* Finished before the connection was even suspended. */
	http(port, "POST", "/now", "application/json", "{}", NULL, &r);
	assert_int_equal(r.status, 202);
	hres_free(&r);
	assert_int_equal(now.jobs[0].finish_rc, 0);

	/* Stop with a reply pending: the token still works afterwards. */
	late.n = 0;
	late.delay_ms = 600;
	late.timeout_ms = 5000;
	fd = tcp_connect(port, 0);
	req = "POST /late HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	assert_true(send_all(fd, req, strlen(req)));
	sleep_ms(100);
	ds_api_stop(api);
	read_response(fd, &r);
	close(fd);
	assert_true(r.status == 0 || r.status == 503);
	hres_free(&r);
	join_jobs(&late);
	assert_int_equal(late.jobs[0].finish_rc, DS_ECLOSED);
}

/* ---- SSE ---- */

struct sse_cli {
	int fd;
	char raw[1 << 16];
	size_t rawlen;
	char text[1 << 16];
	size_t textlen;
	bool chunked, eof;
	int status;
};

static void sse_connect(struct sse_cli *c, uint16_t port, const char *path, const char *extra, int rcvbuf)
{
	memset(c, 0, sizeof(*c));
	c->fd = tcp_connect(port, rcvbuf);
	char req[1024];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n%s\r\n", path,
		 extra ? extra : "");
	assert_true(send_all(c->fd, req, strlen(req)));
}

/* Reads until text contains needle (or EOF / timeout). */
static bool sse_wait(struct sse_cli *c, const char *needle, unsigned timeout_ms)
{
	uint64_t end = ds_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		if (needle && strstr(c->text, needle))
			return true;
		if (c->eof)
			return needle == NULL;
		uint64_t now = ds_mono_ns();
		if (now >= end)
			return false;
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) <= 0)
			continue;
		if (c->rawlen == sizeof(c->raw) - 1)
			return false;
		ssize_t k = recv(c->fd, c->raw + c->rawlen, sizeof(c->raw) - 1 - c->rawlen, 0);
		if (k <= 0) {
			c->eof = true;
			continue;
		}
		c->rawlen += (size_t)k;
		c->raw[c->rawlen] = 0;
		char *hend = strstr(c->raw, "\r\n\r\n");
		if (!hend)
			continue;
		c->status = atoi(c->raw + 9);
		c->chunked = strcasestr(c->raw, "transfer-encoding: chunked") != NULL;
		const char *b = hend + 4;
		size_t blen = c->rawlen - (size_t)(b - c->raw);
		if (c->chunked) {
			bool done;
			c->textlen = dechunk(b, blen, c->text, &done);
		} else {
			memcpy(c->text, b, blen);
			c->text[blen] = 0;
			c->textlen = blen;
		}
	}
}

#define HIST 300
struct hist {
	int replay_calls;
	uint64_t last;
};

static int sse_open(void *ctx, const struct ds_api_req *req, struct ds_api_sse *s, struct ds_api_resp *resp)
{
	(void)ctx;
	const char *t = ds_api_query(req, "types");
	if (t && ds_api_sse_filter(s, t) != 0) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_PARAM, "bad types");
		return -1;
	}
	return 0;
}

static int sse_replay(void *ctx, struct ds_api_sse *s, uint64_t from, size_t max)
{
	struct hist *h = ctx;
	h->replay_calls++;
	size_t sent = 0;
	for (uint64_t id = from; id <= h->last && sent < max; id++, sent++) {
		char d[64];
		snprintf(d, sizeof(d), "{\"h\":%llu}", (unsigned long long)id);
		assert_int_equal(ds_api_sse_send(s, "block", id, d), 0);
	}
	if (sent == max) /* the batch bound holds */
		assert_int_equal(ds_api_sse_send(s, "block", h->last + 100, "{}"), DS_EFULL);
	return from + sent <= h->last ? 1 : 0;
}

static void test_sse(void **state)
{
	(void)state;
	struct ds_api_config cfg = {.max_sse_clients = 3, .sse_heartbeat_ms = 200, .sse_replay_batch = 16};
	struct ds_api *api = start(&cfg);
	uint16_t port = ds_api_port(api);
	struct hist h = {.last = 20};
	assert_int_equal(ds_api_sse_route(api, "/v1/events", sse_open, sse_replay, &h), 0);

	/* Replay from 3, then live. */
	struct sse_cli a;
	sse_connect(&a, port, "/v1/events?from=3", NULL, 0);
	assert_true(sse_wait(&a, "id: 20\nevent: block\ndata: {\"h\":20}\n\n", 3000));
	assert_int_equal(a.status, 200);
	assert_true(a.chunked);
	assert_non_null(strstr(a.raw, "Content-Type: text/event-stream"));
	assert_true(strncmp(a.text, "retry: 2000\n\nid: 3\nevent: block\ndata: {\"h\":3}\n\n", 45) == 0);
	assert_null(strstr(a.text, "id: 2\n"));
	/* A live event the replay already covered is not sent twice. */
	assert_true(ds_api_sse_publish(api, "block", 20, "{\"h\":20}") >= 1);
	h.last = 21;
	assert_int_equal(ds_api_sse_publish(api, "block", 21, "{\"h\":21,\n\"x\":1}"), 1);
	if (!sse_wait(&a, "id: 21\nevent: block\ndata: {\"h\":21,\ndata: \"x\":1}\n\n", 3000))
		fail_msg("stream so far:\n%s", a.text);
	char *first20 = strstr(a.text, "id: 20\n");
	assert_null(strstr(first20 + 1, "id: 20\n"));

	/* Resume with Last-Event-ID: starts after it; filter by type. */
	struct sse_cli b;
	sse_connect(&b, port, "/v1/events?from=1&types=block,tx", "Last-Event-ID: 18\r\n", 0);
	assert_true(sse_wait(&b, "id: 21\n", 3000));
	assert_null(strstr(b.text, "id: 18\n"));
	assert_non_null(strstr(b.text, "id: 19\n"));
	struct sse_cli c;
	sse_connect(&c, port, "/v1/events?types=tx", NULL, 0);
	assert_true(sse_wait(&c, "retry: 2000\n\n", 3000));
	assert_int_equal(ds_api_sse_clients(api), 3);
	assert_int_equal(ds_api_sse_publish(api, "block", 22, "{}"), 2);
	assert_int_equal(ds_api_sse_publish(api, "tx", 23, "{\"t\":1}"), 3);
	assert_true(sse_wait(&c, "id: 23\nevent: tx\n", 3000));
	assert_null(strstr(c.text, "id: 22"));
	assert_true(sse_wait(&b, "id: 23\nevent: tx\n", 3000));

	/* Heartbeat on an idle stream. */
	assert_true(sse_wait(&c, ": hb\n\n", 3000));

	/* Limits and bad input. */
	struct hres r;
	http(port, "GET", "/v1/events", NULL, NULL, NULL, &r);
	assert_error(&r, 503, "TOO_MANY_SUBSCRIBERS");
	hres_free(&r);
	close(c.fd);
	assert_int_equal(ds_api_sse_publish(api, "tx", 24, "{}"), 3); /* c not yet noticed */
	bool freed = false;
	for (int i = 0; i < 100 && !freed; i++) {
		freed = ds_api_sse_clients(api) == 2;
		if (!freed) {
			sleep_ms(20);
			(void)ds_api_sse_publish(api, "tx", 25, "{}");
		}
	}
	assert_true(freed);
	http(port, "GET", "/v1/events?from=x", NULL, NULL, NULL, &r);
	assert_error(&r, 400, "BAD_PARAM");
	hres_free(&r);
	http(port, "GET", "/v1/events?types=Bad!", NULL, NULL, NULL, &r);
	assert_error(&r, 400, "BAD_PARAM");
	hres_free(&r);
	assert_int_equal(ds_api_sse_publish(api, "Bad Type", 1, "{}"), DS_EINVAL);
	assert_int_equal(ds_api_sse_publish(api, "tx", 1, "\xff"), DS_EINVAL);

	/* A long history is pulled in batches of 16. */
	h.last = HIST;
	h.replay_calls = 0;
	struct sse_cli d;
	sse_connect(&d, port, "/v1/events?from=1&types=block", NULL, 0);
	char want[64];
	snprintf(want, sizeof(want), "id: %d\nevent: block\ndata: {\"h\":%d}\n\n", HIST, HIST);
	assert_true(sse_wait(&d, want, 5000));
	assert_true(h.replay_calls >= HIST / 16);
	int count = 0;
	for (const char *p = d.text; (p = strstr(p, "\nevent: block\n")) != NULL; p++)
		count++;
	assert_int_equal(count, HIST);

	/* Stopping ends every stream cleanly. */
	ds_api_stop(api);
	assert_true(sse_wait(&a, NULL, 3000));
	assert_true(sse_wait(&b, NULL, 3000));
	assert_true(sse_wait(&d, NULL, 3000));
	close(a.fd);
	close(b.fd);
	close(d.fd);
}

static void test_sse_slow_client(void **state)
{
	(void)state;
	struct ds_api_config cfg = {.sse_queue_max = 8, .sse_queue_bytes_max = 64 << 10};
	struct ds_api *api = start(&cfg);
	uint16_t port = ds_api_port(api);
	assert_int_equal(ds_api_sse_route(api, "/events", NULL, NULL, NULL), 0);
	struct sse_cli slow;
	sse_connect(&slow, port, "/events", NULL, 4096);
	assert_true(sse_wait(&slow, "retry:", 3000)); /* then never read again */

	char *data = malloc(4001);
	assert_non_null(data);
	memset(data, 'x', 4000);
	data[0] = '"';
	data[3999] = '"';
	data[4000] = 0;
	int last = 1;
	int i = 0;
	/* Bounded: the kernel buffers only a few MB before the queue fills. */
	for (; i < 20000 && last == 1; i++) {
		last = ds_api_sse_publish(api, "big", (uint64_t)i, data);
		if (i % 8 == 0)
			sleep_ms(1); /* let the HTTP thread fill the socket */
	}
	free(data);
	assert_int_equal(last, 0);
	print_message("# slow client dropped after %d events of 4 KB\n", i);
	struct ds_buf b;
	ds_buf_init(&b);
	assert_int_equal(ds_metrics_render(&b, ds_api_metrics(api)), 0);
	ds_buf_append(&b, "", 1);
	assert_non_null(strstr((char *)b.data, "ds_api_sse_dropped_total 1\n"));
	ds_buf_free(&b);
	/* The slow client, once it reads, finds the stream ended. */
	char sink[65536];
	bool eof = false;
	uint64_t end = ds_mono_ns() + 5000000000u;
	while (!eof && ds_mono_ns() < end) {
		ssize_t k = recv(slow.fd, sink, sizeof(sink), 0);
		eof = k <= 0;
	}
	assert_true(eof);
	close(slow.fd);
	/* The server is fine: a new subscriber gets new events. */
	struct sse_cli fresh;
	sse_connect(&fresh, port, "/events", NULL, 0);
	assert_true(sse_wait(&fresh, "retry:", 3000));
	assert_int_equal(ds_api_sse_publish(api, "small", 99999, "{}"), 1);
	assert_true(sse_wait(&fresh, "id: 99999\nevent: small\ndata: {}\n\n", 3000));
	close(fresh.fd);
	ds_api_stop(api);
}

/* ---- static files ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_static(void **state)
{
	(void)state;
	char *tmp = tu_tmpdir("api-static");
	char www[2048], p[4096], q[4096];
	snprintf(www, sizeof(www), "%s/www", tmp);
	assert_int_equal(mkdir(www, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", www);
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(www, "index.html", "<h1>explorer</h1>");
	write_file(www, "app.js", "let x=1;");
	write_file(www, "sub/style.css", "b{}");
	write_file(www, "sub/index.html", "sub index");
	write_file(www, ".env", "hidden");
	write_file(tmp, "secret.txt", "SECRET");
	snprintf(p, sizeof(p), "%s/link.txt", www);
	snprintf(q, sizeof(q), "%s/secret.txt", tmp);
	assert_int_equal(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/fifo", www);
	assert_int_equal(mkfifo(p, 0644), 0);

	struct ds_api *api = start_default();
	uint16_t port = ds_api_port(api);
	assert_int_equal(ds_api_static_dir(api, "/", www), 0);
	assert_int_equal(ds_api_static_dir(api, "/ui/", www), 0);
	assert_int_equal(ds_api_static_dir(api, "/ui", www), DS_EEXIST);
	assert_int_equal(ds_api_static_dir(api, "/x", "/nonexistent/dir"), DS_EIO);
	assert_int_equal(ds_api_static_dir(api, "/../x", www), DS_EINVAL);

	struct {
		const char *path, *body, *ctype;
	} good[] = {
		{"/", "<h1>explorer</h1>", "text/html; charset=utf-8"},
		{"/index.html", "<h1>explorer</h1>", "text/html; charset=utf-8"},
		{"/app.js", "let x=1;", "text/javascript; charset=utf-8"},
		{"/sub/style.css", "b{}", "text/css; charset=utf-8"},
		{"/sub/", "sub index", "text/html; charset=utf-8"},
		{"/ui", "<h1>explorer</h1>", "text/html; charset=utf-8"},
		{"/ui/app.js", "let x=1;", "text/javascript; charset=utf-8"},
	};
	struct hres r;
	char ct[128];
	for (size_t i = 0; i < DS_ARRAY_LEN(good); i++) {
		http(port, "GET", good[i].path, NULL, NULL, NULL, &r);
		if (r.status != 200)
			fail_msg("%s: %d %s", good[i].path, r.status, r.body);
		assert_string_equal(r.body, good[i].body);
		assert_non_null(find_header(&r, "Content-Type", ct, sizeof(ct)));
		assert_string_equal(ct, good[i].ctype);
		hres_free(&r);
	}
	/* Routes still win over the static tree. */
	http(port, "GET", "/v1/blocks/1", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	hres_free(&r);

	const char *bad[] = {"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../app.js", "/sub/..%2f..%2fsecret.txt",
			     "/..%2fsecret.txt", "/link.txt", "/.env", "/sub", "/nope.html", "/sub//style.css",
			     "/fifo", "/app.js%00.png", "/ui/../secret.txt", "/./app.js", "/%2fetc%2fpasswd"};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		char req[512];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", bad[i]);
		http_raw(port, req, strlen(req), &r);
		if (r.status != 404 && r.status != 400)
			fail_msg("%s: status %d body %s", bad[i], r.status, r.body ? r.body : "");
		assert_null(strstr(r.body ? r.body : "", "SECRET"));
		assert_null(strstr(r.body ? r.body : "", "hidden"));
		hres_free(&r);
	}
	http(port, "POST", "/app.js", "text/plain", "x", NULL, &r);
	assert_error(&r, 404, "NOT_FOUND");
	hres_free(&r);
	ds_api_stop(api);
	tu_rmrf(tmp);
	free(tmp);
}

static void test_metrics_endpoint(void **state)
{
	(void)state;
	struct ds_api *api = start_default();
	uint16_t port = ds_api_port(api);
	struct hres r;
	for (int i = 0; i < 3; i++) {
		http(port, "GET", "/v1/blocks/1", NULL, NULL, NULL, &r);
		hres_free(&r);
	}
	http(port, "GET", "/no/such/path/1", NULL, NULL, NULL, &r);
	hres_free(&r);
	http(port, "GET", "/no/such/path/2", NULL, NULL, NULL, &r);
	hres_free(&r);
	http(port, "GET", "/metrics", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	char ct[128];
	assert_non_null(find_header(&r, "Content-Type", ct, sizeof(ct)));
	assert_string_equal(ct, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "ds_api_requests_total{route=\"/v1/blocks/{id}\",method=\"GET\",code=\"200\"} 3\n"));
	/* Probed paths collapse into one series. */
	assert_non_null(strstr(r.body, "ds_api_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"} 2\n"));
	assert_null(strstr(r.body, "/no/such"));
	assert_non_null(strstr(r.body, "ds_api_request_duration_seconds_count{route=\"/v1/blocks/{id}\",method=\"GET\"} 3\n"));
	assert_non_null(strstr(r.body, "# TYPE ds_api_connections gauge\n"));
	if (access("/usr/bin/promtool", X_OK) == 0) {
		FILE *p = popen("/usr/bin/promtool check metrics", "w");
		assert_non_null(p);
		fputs(r.body, p);
		int st = pclose(p);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("promtool rejected:\n%s", r.body);
	} else {
		print_message("# promtool absent, format check skipped\n");
	}
	hres_free(&r);
	ds_api_stop(api);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_json_body),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_conn_limit),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_sse),
		cmocka_unit_test(test_sse_slow_client),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_metrics_endpoint),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
