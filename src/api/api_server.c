/* api — daemon lifecycle, routing, request state machine, async replies.
 *
 * Threading choice: one libmicrohttpd internal polling thread (epoll) by
 * default. Handlers are short (reads, or a hand-off to the node loop via
 * async), long-lived SSE streams and pending replies are suspended
 * connections, so more threads buy little; and with one thread the
 * connection limit is one global number instead of being divided between
 * pool threads. `threads` > 1 is there for read-heavy deployments.
 */
#include "api/api_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEF_MAX_CONNS 64
#define DEF_MAX_BODY (1u << 20)
#define DEF_TIMEOUT_S 30
#define DEF_SSE_CLIENTS 32
#define DEF_SSE_QUEUE 256
#define DEF_SSE_QUEUE_BYTES (4u << 20)
#define DEF_SSE_HB_MS 15000
#define DEF_SSE_BATCH 64
#define TICK_MS 50

static const double lat_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				     0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* ---------------------------------------------------------------- routes */

static bool method_ok(const char *m)
{
	return ds__token_ok(m) && strlen(m) < 16;
}

/* Parses a pattern into r. Literal segments must be non-empty and free of
 * '{', '}'; a param segment is exactly "{name}" with a token name. */
static int route_parse(struct ds__route *r, const char *pattern)
{
	if (strlen(pattern) >= DS_API_PATH_MAX)
		return DS_EINVAL;
	r->pattern = strdup(pattern);
	r->segbuf = malloc(DS_API_PATH_MAX);
	if (!r->pattern || !r->segbuf)
		return DS_ENOMEM;
	if (!ds__split_path(pattern, r->segbuf, DS_API_PATH_MAX, r->seg, &r->nseg))
		return DS_EINVAL;
	size_t nparams = 0;
	for (size_t i = 0; i < r->nseg; i++) {
		char *s = (char *)r->seg[i];
		size_t n = strlen(s);
		if (n == 0)
			return DS_EINVAL;
		if (s[0] == '{') {
			if (n < 3 || s[n - 1] != '}')
				return DS_EINVAL;
			s[n - 1] = 0;
			r->seg[i] = s + 1;
			if (!ds__token_ok(r->seg[i]) || strchr(r->seg[i], '{') || strchr(r->seg[i], '}'))
				return DS_EINVAL;
			for (size_t k = 0; k < i; k++)
				if (r->is_param[k] && strcmp(r->seg[k], r->seg[i]) == 0)
					return DS_EINVAL;
			r->is_param[i] = true;
			if (++nparams > DS_API_PARAMS_MAX)
				return DS_EINVAL;
		} else if (strchr(s, '{') || strchr(s, '}')) {
			return DS_EINVAL;
		}
	}
	return 0;
}

static void route_free(struct ds__route *r)
{
	if (!r)
		return;
	free(r->pattern);
	free(r->segbuf);
	free(r);
}

static bool same_shape(const struct ds__route *a, const struct ds__route *b)
{
	if (a->nseg != b->nseg)
		return false;
	for (size_t i = 0; i < a->nseg; i++)
		if (a->is_param[i] != b->is_param[i] || (!a->is_param[i] && strcmp(a->seg[i], b->seg[i])))
			return false;
	return true;
}

static int route_add(struct ds_api *api, struct ds__route *r)
{
	const char *lv[] = {r->pattern, r->method};
	r->lat = ds_metric_get(api->m_lat, lv);
	pthread_mutex_lock(&api->reg_mu);
	int rc = 0;
	size_t n = atomic_load(&api->nroutes);
	if (n == DS_API_ROUTES_MAX)
		rc = DS_EFULL;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (same_shape(api->routes[i], r) && strcmp(api->routes[i]->method, r->method) == 0)
			rc = DS_EEXIST;
	if (rc == 0) {
		api->routes[n] = r;
		atomic_store_explicit(&api->nroutes, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&api->reg_mu);
	return rc;
}

static int route_new(struct ds__route **out, const char *method, const char *pattern)
{
	*out = NULL;
	if (!method_ok(method))
		return DS_EINVAL;
	struct ds__route *r = calloc(1, sizeof(*r));
	if (!r)
		return DS_ENOMEM;
	snprintf(r->method, sizeof(r->method), "%s", method);
	int rc = route_parse(r, pattern);
	if (rc) {
		route_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int ds_api_route(struct ds_api *api, const char *method, const char *pattern, ds_api_handler_fn fn,
		 void *ctx)
{
	struct ds__route *r;
	int rc = route_new(&r, method, pattern);
	if (rc)
		return rc;
	r->fn = fn;
	r->ctx = ctx;
	rc = route_add(api, r);
	if (rc)
		route_free(r);
	return rc;
}

int ds_api_sse_route(struct ds_api *api, const char *pattern, ds_api_sse_open_fn open,
		     ds_api_sse_replay_fn replay, void *ctx)
{
	struct ds__route *r;
	int rc = route_new(&r, "GET", pattern);
	if (rc)
		return rc;
	r->sse = true;
	r->sse_open = open;
	r->sse_replay = replay;
	r->ctx = ctx;
	rc = route_add(api, r);
	if (rc)
		route_free(r);
	return rc;
}

/* Specificity: a literal beats a parameter at the first segment where two
 * matching routes differ, so compare bit masks with segment 0 highest. */
static unsigned route_score(const struct ds__route *r)
{
	unsigned s = 0;
	for (size_t i = 0; i < r->nseg; i++)
		if (!r->is_param[i])
			s |= 1u << (DS_API_SEGMENTS_MAX - 1 - i);
	return s;
}

static bool route_match(const struct ds__route *r, const char *const *seg, size_t nseg)
{
	if (r->nseg != nseg)
		return false;
	for (size_t i = 0; i < nseg; i++) {
		if (r->is_param[i] ? seg[i][0] == 0 : strcmp(r->seg[i], seg[i]) != 0)
			return false;
	}
	return true;
}

/* Finds the route for method + path. On no method match, *allow lists the
 * methods that would match (for 405), else it stays empty. */
static const struct ds__route *route_find(struct ds_api *api, const char *method, const char *const *seg,
					  size_t nseg, char *allow, size_t allow_cap)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	size_t n = atomic_load_explicit(&api->nroutes, memory_order_acquire);
	const struct ds__route *best = NULL;
	unsigned best_score = 0;
	size_t alen = 0;
	allow[0] = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ds__route *r = api->routes[i];
		if (!route_match(r, seg, nseg))
			continue;
		if (strcmp(r->method, m) != 0) {
			if (!strstr(allow, r->method)) {
				int k = snprintf(allow + alen, allow_cap - alen, "%s%s", alen ? ", " : "", r->method);
				if (k > 0 && (size_t)k < allow_cap - alen)
					alen += (size_t)k;
			}
			continue;
		}
		unsigned sc = route_score(r);
		if (!best || sc > best_score) {
			best = r;
			best_score = sc;
		}
	}
	return best;
}

/* ------------------------------------------------------------- responses */

enum MHD_Result ds__queue(struct ds__rq *rq, struct MHD_Connection *conn, struct ds_api_resp *r)
{
	if (r->status < 100 || r->status > 599)
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "handler produced no response");
	char *text = NULL;
	const void *p = r->body.data;
	size_t n = r->body.len;
	const char *ct = r->content_type ? r->content_type : "application/octet-stream";
	if (r->json) {
		text = json_dumps(r->json, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text) {
			ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "response encoding failed");
			text = json_dumps(r->json, JSON_COMPACT);
		}
		p = text ? text : "";
		n = text ? strlen(text) : 0;
		ct = "application/json";
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
	free(text);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->json)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(resp, r->header[i][0], r->header[i][1]);
	rq->status = r->status;
	rq->responded = true;
	enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result ds__queue_error(struct ds__rq *rq, struct MHD_Connection *conn, unsigned status,
				const char *code, const char *msg)
{
	struct ds_api_resp r;
	ds_api_resp_init(&r);
	ds_api_resp_error(&r, status, code, "%s", msg);
	enum MHD_Result ret = ds__queue(rq, conn, &r);
	ds_api_resp_free(&r);
	return ret;
}

/* ------------------------------------------------------------------ async */

static void async_unref(struct ds_api_async *a)
{
	pthread_mutex_lock(&a->mu);
	int left = --a->refs;
	pthread_mutex_unlock(&a->mu);
	if (left == 0) {
		ds_api_resp_free(&a->resp);
		pthread_mutex_destroy(&a->mu);
		free(a);
	}
}

int ds_api_async_begin(struct ds_api_async **out, const struct ds_api_req *req, uint32_t timeout_ms)
{
	*out = NULL;
	struct ds__rq *rq = req->ds__rq;
	if (!rq || !rq->in_handler || rq->async || timeout_ms == 0 ||
	    timeout_ms > DS_API_ASYNC_TIMEOUT_MAX_MS)
		return DS_EINVAL;
	struct ds_api_async *a = calloc(1, sizeof(*a));
	if (!a)
		return DS_ENOMEM;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return DS_ENOMEM;
	}
	a->refs = 2;
	a->state = DS__ASYNC_WAITING;
	a->conn = req->ds__conn;
	a->deadline_ns = ds_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	ds_api_resp_init(&a->resp);
	struct ds_api *api = rq->api;
	pthread_mutex_lock(&api->mu);
	bool stopping = api->stopping;
	if (!stopping) {
		a->next = api->async_head;
		if (a->next)
			a->next->prev = a;
		api->async_head = a;
	}
	pthread_mutex_unlock(&api->mu);
	if (stopping) {
		pthread_mutex_destroy(&a->mu);
		free(a);
		return DS_ECLOSED;
	}
	rq->async = a;
	*out = a;
	return 0;
}

int ds_api_async_finish(struct ds_api_async *a, struct ds_api_resp *resp)
{
	int rc;
	pthread_mutex_lock(&a->mu);
	if (a->state == DS__ASYNC_WAITING) {
		ds_api_resp_free(&a->resp);
		a->resp = *resp;
		ds_api_resp_init(resp);
		a->state = DS__ASYNC_DONE;
		if (a->suspended) {
			a->suspended = false;
			MHD_resume_connection(a->conn);
		}
		rc = 0;
	} else {
		rc = a->state == DS__ASYNC_TIMEDOUT ? DS_ETIMEOUT : DS_ECLOSED;
		ds_api_resp_free(resp);
	}
	pthread_mutex_unlock(&a->mu);
	async_unref(a);
	return rc;
}

/* Called by the ticker (api->mu held): time out overdue replies. */
static void async_tick(struct ds_api *api, uint64_t now)
{
	for (struct ds_api_async *a = api->async_head; a; a = a->next) {
		pthread_mutex_lock(&a->mu);
		if (a->state == DS__ASYNC_WAITING && now >= a->deadline_ns) {
			a->state = DS__ASYNC_TIMEDOUT;
			ds_metric_inc(api->s_async_to, 1);
			if (a->suspended) {
				a->suspended = false;
				MHD_resume_connection(a->conn);
			}
		}
		pthread_mutex_unlock(&a->mu);
	}
}

static enum MHD_Result async_answer(struct ds__rq *rq, struct MHD_Connection *conn);

/* After the handler detached: suspend unless the reply (or a timeout)
 * already came, in which case answer now. */
static enum MHD_Result async_park_or_answer(struct ds__rq *rq, struct MHD_Connection *conn)
{
	struct ds_api_async *a = rq->async;
	pthread_mutex_lock(&a->mu);
	if (a->state == DS__ASYNC_WAITING) {
		MHD_suspend_connection(conn);
		a->suspended = true;
		pthread_mutex_unlock(&a->mu);
		return MHD_YES;
	}
	pthread_mutex_unlock(&a->mu);
	return async_answer(rq, conn);
}

static enum MHD_Result async_answer(struct ds__rq *rq, struct MHD_Connection *conn)
{
	struct ds_api_async *a = rq->async;
	struct ds_api_resp r;
	ds_api_resp_init(&r);
	pthread_mutex_lock(&a->mu);
	int state = a->state;
	if (state == DS__ASYNC_DONE) {
		r = a->resp;
		ds_api_resp_init(&a->resp);
	}
	pthread_mutex_unlock(&a->mu);
	if (state == DS__ASYNC_WAITING)
		return MHD_YES; /* spurious call; keep waiting */
	if (state == DS__ASYNC_TIMEDOUT)
		ds_api_resp_error(&r, 504, DS_API_E_TIMEOUT, "the node did not answer in time");
	else if (state == DS__ASYNC_CANCELLED)
		ds_api_resp_error(&r, 503, DS_API_E_UNAVAILABLE, "server shutting down");
	enum MHD_Result ret = ds__queue(rq, conn, &r);
	ds_api_resp_free(&r);
	return ret;
}

/* ------------------------------------------------------- request handling */

static void rq_set_method(struct ds__rq *rq, const char *m)
{
	static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	const char *lbl = "OTHER";
	for (size_t i = 0; i < DS_ARRAY_LEN(known); i++)
		if (strcmp(m, known[i]) == 0)
			lbl = known[i];
	snprintf(rq->method, sizeof(rq->method), "%s", lbl);
}

static const struct ds__static *static_find(struct ds_api *api, const char *url)
{
	size_t n = atomic_load_explicit(&api->nstatic, memory_order_acquire);
	const struct ds__static *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct ds__static *st = &api->statics[i];
		if (strncmp(url, st->prefix, st->prefix_len) != 0)
			continue;
		char c = url[st->prefix_len];
		if (c != '/' && c != 0)
			continue;
		if (!best || st->prefix_len > best->prefix_len)
			best = st;
	}
	return best;
}

/* First call for a request: route it and check what the headers promise. */
static enum MHD_Result on_headers(struct ds__rq *rq, struct MHD_Connection *conn, const char *url,
				  const char *method)
{
	struct ds_api *api = rq->api;
	rq->label = "unmatched";
	rq->is_head = strcmp(method, "HEAD") == 0;
	if (api->stopping)
		return ds__queue_error(rq, conn, 503, DS_API_E_UNAVAILABLE, "server shutting down");
	const char *seg[DS_API_SEGMENTS_MAX];
	size_t nseg;
	rq->pbuf = malloc(DS_API_PATH_MAX);
	if (!rq->pbuf)
		return MHD_NO;
	if (!ds__split_path(url, rq->pbuf, DS_API_PATH_MAX, seg, &nseg))
		return ds__queue_error(rq, conn, 404, DS_API_E_NOT_FOUND, "no such path");
	char allow[128];
	const struct ds__route *r = route_find(api, method, seg, nseg, allow, sizeof(allow));
	if (r) {
		rq->route = r;
		rq->label = r->pattern;
		for (size_t i = 0; i < nseg; i++) {
			if (r->is_param[i]) {
				rq->pname[rq->nparams] = r->seg[i];
				rq->pval[rq->nparams++] = seg[i];
			}
		}
	} else if (allow[0]) {
		struct ds_api_resp e;
		ds_api_resp_init(&e);
		ds_api_resp_error(&e, 405, DS_API_E_METHOD_NOT_ALLOWED, "method %s not allowed here", rq->method);
		if (ds_api_resp_header(&e, "Allow", allow) != 0)
			DS_LOGW("api", "allow header dropped", "%s", "");
		enum MHD_Result ret = ds__queue(rq, conn, &e);
		ds_api_resp_free(&e);
		return ret;
	} else if ((strcmp(method, "GET") == 0 || rq->is_head) && (rq->st = static_find(api, url))) {
		rq->label = "static";
	} else {
		return ds__queue_error(rq, conn, 404, DS_API_E_NOT_FOUND, "no such path");
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t len = 0;
	if (cl && (ds_api_parse_u64(&len, cl) != 0 || len > api->cfg.max_body_bytes))
		return ds__queue_error(rq, conn, 413, DS_API_E_PAYLOAD_TOO_LARGE, "request body too large");
	return MHD_YES;
}

static enum MHD_Result on_complete_request(struct ds__rq *rq, struct MHD_Connection *conn, const char *url,
					   const char *method)
{
	if (rq->too_big)
		return ds__queue_error(rq, conn, 413, DS_API_E_PAYLOAD_TOO_LARGE, "request body too large");
	if (rq->st)
		return ds__static_serve(rq, conn, url);
	ds_buf_append(&rq->body, "", 1); /* NUL terminator, not counted */
	if (rq->body.err)
		return ds__queue_error(rq, conn, 500, DS_API_E_INTERNAL, "out of memory");
	struct ds_api_req req = {
		.method = method,
		.path = url,
		.route = rq->route->pattern,
		.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = rq->body.data,
		.body_len = rq->body.len - 1,
		.nparams = rq->nparams,
		.ds__conn = conn,
		.ds__rq = rq,
	};
	for (size_t i = 0; i < rq->nparams; i++) {
		req.param_name[i] = rq->pname[i];
		req.param_value[i] = rq->pval[i];
	}
	if (rq->route->sse)
		return ds__sse_open(rq, conn, &req);
	struct ds_api_resp resp;
	ds_api_resp_init(&resp);
	rq->in_handler = true;
	rq->route->fn(rq->route->ctx, &req, &resp);
	rq->in_handler = false;
	if (rq->async) {
		ds_api_resp_free(&resp);
		return async_park_or_answer(rq, conn);
	}
	enum MHD_Result ret = ds__queue(rq, conn, &resp);
	ds_api_resp_free(&resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct ds_api *api = cls;
	struct ds__rq *rq = *con_cls;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->api = api;
		rq->t0_ns = ds_mono_ns();
		ds_buf_init(&rq->body);
		rq_set_method(rq, method);
		*con_cls = rq;
		return on_headers(rq, conn, url, method);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rq->responded)
			return MHD_YES;
		rq->seen += n;
		if (rq->seen > api->cfg.max_body_bytes) {
			/* A chunked upload past the limit: stop storing, and cut a
			 * client that keeps going well beyond it. */
			rq->too_big = true;
			ds_buf_free(&rq->body);
			return rq->seen > 2 * api->cfg.max_body_bytes ? MHD_NO : MHD_YES;
		}
		ds_buf_append(&rq->body, upload_data, n);
		return MHD_YES;
	}
	if (rq->responded)
		return MHD_YES;
	if (rq->async)
		return async_answer(rq, conn);
	return on_complete_request(rq, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct ds_api *api = cls;
	struct ds__rq *rq = *con_cls;
	if (!rq)
		return;
	*con_cls = NULL;
	char code[16];
	if (rq->status)
		snprintf(code, sizeof(code), "%u", rq->status);
	else
		snprintf(code, sizeof(code), "none");
	const char *lv[] = {rq->label ? rq->label : "unmatched", rq->method, code};
	ds_metric_inc(ds_metric_get(api->m_req, lv), 1);
	if (!(rq->route && rq->route->sse) && rq->status) {
		double secs = (double)(ds_mono_ns() - rq->t0_ns) / 1e9;
		struct ds_metric_series *s = rq->route && strcmp(rq->route->method, rq->method) == 0
						     ? rq->route->lat
						     : ds_metric_get(api->m_lat, lv);
		ds_metric_observe(s, secs);
	}
	if (rq->async) {
		struct ds_api_async *a = rq->async;
		pthread_mutex_lock(&api->mu);
		if (a->prev)
			a->prev->next = a->next;
		else
			api->async_head = a->next;
		if (a->next)
			a->next->prev = a->prev;
		pthread_mutex_unlock(&api->mu);
		pthread_mutex_lock(&a->mu);
		if (a->state == DS__ASYNC_WAITING)
			a->state = DS__ASYNC_CANCELLED; /* client gone */
		pthread_mutex_unlock(&a->mu);
		async_unref(a);
	}
	ds_buf_free(&rq->body);
	free(rq->pbuf);
	free(rq);
	(void)conn;
	(void)toe;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct ds_api *api = cls;
	ds_metric_add(api->s_conns, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	(void)conn;
	(void)socket_context;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %HH like libmicrohttpd's default, except that %00 stays as it
 * is: a decoded NUL would silently cut the C string every handler sees
 * ("/a.js%00.png" would become "/a.js"). Paths and arguments therefore
 * never contain NUL. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
			*w++ = (char)(hi * 16 + lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
	(void)cls;
	(void)c;
	return (size_t)(w - s);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *p = msg; *p; p++)
		if (*p == '"' || *p == '\n' || *p == '\r')
			*p = ' ';
	DS_LOGD("api", "libmicrohttpd", " detail=\"%s\"", msg);
	(void)cls;
}

/* ---------------------------------------------------------------- metrics */

static void metrics_handler(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp)
{
	struct ds_api *api = ctx;
	(void)req;
	struct ds_buf b;
	ds_buf_init(&b);
	if (ds_metrics_render(&b, api->metrics) != 0) {
		ds_buf_free(&b);
		ds_api_resp_error(resp, 500, DS_API_E_INTERNAL, "out of memory");
		return;
	}
	ds_api_resp_bytes(resp, 200, DS_METRICS_CONTENT_TYPE, b.data, b.len);
	ds_buf_free(&b);
}

int ds_api_metrics_route(struct ds_api *api, const char *path)
{
	return ds_api_route(api, "GET", path, metrics_handler, api);
}

static int metrics_init(struct ds_api *api)
{
	static const char *const l_req[] = {"route", "method", "code", NULL};
	static const char *const l_lat[] = {"route", "method", NULL};
	const struct ds_metric_desc d[] = {
		{DS_METRIC_COUNTER, "ds_api_requests_total",
		 "HTTP requests answered, by route pattern, method and status code.", l_req, NULL, 0, 1024},
		{DS_METRIC_HISTOGRAM, "ds_api_request_duration_seconds",
		 "Time from request headers to the end of the response (SSE streams excluded).", l_lat,
		 lat_buckets, DS_ARRAY_LEN(lat_buckets), 256},
		{DS_METRIC_GAUGE, "ds_api_connections", "Open HTTP connections.", NULL, NULL, 0, 0},
		{DS_METRIC_GAUGE, "ds_api_sse_clients", "Connected Server-Sent Events subscribers.", NULL,
		 NULL, 0, 0},
		{DS_METRIC_COUNTER, "ds_api_sse_events_total", "Events queued to SSE subscribers.", NULL,
		 NULL, 0, 0},
		{DS_METRIC_COUNTER, "ds_api_sse_dropped_total",
		 "SSE subscribers disconnected because their queue overflowed.", NULL, NULL, 0, 0},
		{DS_METRIC_COUNTER, "ds_api_async_timeouts_total",
		 "Asynchronous replies that timed out (504).", NULL, NULL, 0, 0},
	};
	struct ds_metric **dst[] = {&api->m_req,        &api->m_lat,      &api->m_conns,   &api->m_sse,
				    &api->m_sse_events, &api->m_sse_drop, &api->m_async_to};
	for (size_t i = 0; i < DS_ARRAY_LEN(d); i++) {
		int rc = ds_metrics_add(dst[i], api->metrics, &d[i]);
		if (rc)
			return rc;
	}
	api->s_conns = ds_metric_get(api->m_conns, NULL);
	api->s_sse = ds_metric_get(api->m_sse, NULL);
	api->s_sse_events = ds_metric_get(api->m_sse_events, NULL);
	api->s_sse_drop = ds_metric_get(api->m_sse_drop, NULL);
	api->s_async_to = ds_metric_get(api->m_async_to, NULL);
	return 0;
}

/* ----------------------------------------------------------------- ticker */

static void *ticker_main(void *arg)
{
	struct ds_api *api = arg;
	pthread_mutex_lock(&api->mu);
	while (!api->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&api->tick_cv, &api->mu, &ts);
		if (api->stopping)
			break;
		uint64_t now = ds_mono_ns();
		async_tick(api, now);
		ds__sse_tick(api, now);
	}
	pthread_mutex_unlock(&api->mu);
	return NULL;
}

/* -------------------------------------------------------------- lifecycle */

static void fill_defaults(struct ds_api_config *c)
{
	if (!c->bind_addr)
		c->bind_addr = "127.0.0.1";
	if (!c->max_conns)
		c->max_conns = DEF_MAX_CONNS;
	if (!c->max_body_bytes)
		c->max_body_bytes = DEF_MAX_BODY;
	if (!c->conn_timeout_s)
		c->conn_timeout_s = DEF_TIMEOUT_S;
	if (!c->threads)
		c->threads = 1;
	if (!c->max_sse_clients)
		c->max_sse_clients = DEF_SSE_CLIENTS;
	if (!c->sse_queue_max)
		c->sse_queue_max = DEF_SSE_QUEUE;
	if (!c->sse_queue_bytes_max)
		c->sse_queue_bytes_max = DEF_SSE_QUEUE_BYTES;
	if (!c->sse_heartbeat_ms)
		c->sse_heartbeat_ms = DEF_SSE_HB_MS;
	if (!c->sse_replay_batch)
		c->sse_replay_batch = DEF_SSE_BATCH;
}

static void api_free(struct ds_api *api)
{
	size_t n = atomic_load(&api->nroutes);
	for (size_t i = 0; i < n; i++)
		route_free(api->routes[i]);
	n = atomic_load(&api->nstatic);
	for (size_t i = 0; i < n; i++)
		close(api->statics[i].dirfd);
	if (api->own_metrics)
		ds_metrics_free(api->metrics);
	pthread_cond_destroy(&api->tick_cv);
	pthread_mutex_destroy(&api->mu);
	pthread_mutex_destroy(&api->reg_mu);
	free(api);
}

int ds_api_start(struct ds_api **out, const struct ds_api_config *cfg)
{
	*out = NULL;
	struct ds_api *api = calloc(1, sizeof(*api));
	if (!api)
		return DS_ENOMEM;
	api->cfg = *cfg;
	fill_defaults(&api->cfg);
	if (api->cfg.threads > 64 || api->cfg.max_conns > 100000 ||
	    api->cfg.max_body_bytes > ((size_t)1 << 30) || api->cfg.sse_queue_max > 1000000 ||
	    api->cfg.sse_replay_batch > 100000) {
		free(api);
		return DS_EINVAL;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&api->mu, NULL);
	pthread_mutex_init(&api->reg_mu, NULL);
	pthread_cond_init(&api->tick_cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&api->nroutes, 0);
	atomic_init(&api->nstatic, 0);

	int rc;
	if (cfg->metrics) {
		api->metrics = cfg->metrics;
	} else {
		rc = ds_metrics_new(&api->metrics);
		if (rc)
			goto fail;
		api->own_metrics = true;
	}
	rc = metrics_init(api);
	if (rc)
		goto fail;

	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, api->cfg.bind_addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(api->cfg.port);
		sa = (const struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, api->cfg.bind_addr, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(api->cfg.port);
		sa = (const struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		rc = DS_EINVAL;
		goto fail;
	}
	api->d = MHD_start_daemon(
		flags, api->cfg.port, NULL, NULL, on_request, api,
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)api->cfg.max_conns,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)api->cfg.conn_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, api,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, api,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(api->cfg.threads > 1 ? api->cfg.threads : 0),
		MHD_OPTION_END);
	if (!api->d) {
		DS_LOGE("api", "cannot start HTTP server", " addr=%s port=%u errno=%d", api->cfg.bind_addr,
			(unsigned)api->cfg.port, errno);
		rc = DS_EIO;
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->d, MHD_DAEMON_INFO_BIND_PORT);
	api->port = info ? info->port : api->cfg.port;
	if (pthread_create(&api->ticker, NULL, ticker_main, api) != 0) {
		rc = DS_ENOMEM;
		goto fail;
	}
	api->ticker_started = true;
	DS_LOGI("api", "listening", " addr=%s port=%u", api->cfg.bind_addr, (unsigned)api->port);
	*out = api;
	return 0;
fail:
	if (api->d)
		MHD_stop_daemon(api->d);
	api_free(api);
	return rc;
}

void ds_api_stop(struct ds_api *api)
{
	if (!api)
		return;
	/* Nothing may stay suspended when the daemon stops: end every stream,
	 * cancel every pending reply, and resume their connections. */
	MHD_socket lfd = MHD_quiesce_daemon(api->d);
	pthread_mutex_lock(&api->mu);
	api->stopping = true;
	for (struct ds_api_async *a = api->async_head; a; a = a->next) {
		pthread_mutex_lock(&a->mu);
		if (a->state == DS__ASYNC_WAITING)
			a->state = DS__ASYNC_CANCELLED;
		if (a->suspended) {
			a->suspended = false;
			MHD_resume_connection(a->conn);
		}
		pthread_mutex_unlock(&a->mu);
	}
	ds__sse_stop_all(api);
	pthread_cond_broadcast(&api->tick_cv);
	pthread_mutex_unlock(&api->mu);
	if (api->ticker_started)
		pthread_join(api->ticker, NULL);
	MHD_stop_daemon(api->d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd); /* quiesce handed the listening socket to us */
	api_free(api);
}

uint16_t ds_api_port(const struct ds_api *api)
{
	return api->port;
}

struct ds_metrics *ds_api_metrics(struct ds_api *api)
{
	return api->metrics;
}
