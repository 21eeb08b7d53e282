/* api — Server-Sent Events: bounded per-subscriber queues, pull-based
 * replay, heartbeats, slow-client disconnects.
 *
 * A stream is a libmicrohttpd response whose content reader runs on the
 * HTTP thread. When it has nothing to write it suspends its connection;
 * publishers, the ticker (heartbeats) and ds_api_stop resume it. All stream
 * state is guarded by api->mu, and a stream is resumed only by whoever
 * flips its `suspended` flag from true to false under that lock, so a
 * connection is never resumed twice or after it closed.
 */
#include "api/api_int.h"

#include <string.h>

#include "codec/codec.h"

#define SSE_BLOCK 16384
static const char greeting[] = "retry: 2000\n\n";
static const char heartbeat[] = ": hb\n\n";

static void ev_unref(struct ds__ev *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

static bool type_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > DS_API_SSE_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Formats one event; data lines are split at CR, LF or CRLF. */
static int ev_new(struct ds__ev **out, const char *type, uint64_t id, const char *data)
{
	*out = NULL;
	size_t dlen = strlen(data);
	if (!type_ok(type) || dlen > DS_API_SSE_DATA_MAX || !ds_utf8_valid((const uint8_t *)data, dlen))
		return DS_EINVAL;
	size_t lines = 1;
	for (size_t i = 0; i < dlen; i++)
		if (data[i] == '\n' || (data[i] == '\r' && data[i + 1] != '\n'))
			lines++;
	size_t cap = 64 + strlen(type) + dlen + lines * 7 + 2;
	struct ds__ev *e = malloc(sizeof(*e) + cap);
	if (!e)
		return DS_ENOMEM;
	atomic_init(&e->refs, 1);
	e->id = id;
	snprintf(e->type, sizeof(e->type), "%s", type);
	int k = snprintf(e->text, cap, "id: %llu\nevent: %s\ndata: ", (unsigned long long)id, type);
	DS_ASSERT(k > 0 && (size_t)k < cap);
	size_t n = (size_t)k;
	for (size_t i = 0; i < dlen; i++) {
		if (data[i] == '\r' || data[i] == '\n') {
			if (data[i] == '\r' && data[i + 1] == '\n')
				i++;
			memcpy(e->text + n, "\ndata: ", 7);
			n += 7;
		} else {
			e->text[n++] = data[i];
		}
	}
	e->text[n++] = '\n';
	e->text[n++] = '\n';
	DS_ASSERT(n <= cap);
	e->len = n;
	*out = e;
	return 0;
}

static int q_init(struct ds__evq *q, size_t cap)
{
	q->v = calloc(cap, sizeof(*q->v));
	q->cap = cap;
	q->head = q->len = q->bytes = 0;
	return q->v ? 0 : DS_ENOMEM;
}

static void q_clear(struct ds__evq *q)
{
	while (q->len) {
		ev_unref(q->v[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	q->bytes = 0;
}

static void q_push(struct ds__evq *q, struct ds__ev *e)
{
	DS_ASSERT(q->len < q->cap);
	q->v[(q->head + q->len) % q->cap] = e;
	q->len++;
	q->bytes += e->len;
}

static struct ds__ev *q_pop(struct ds__evq *q)
{
	if (!q->len)
		return NULL;
	struct ds__ev *e = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	q->bytes -= e->len;
	return e;
}

/* api->mu held. */
static void sse_wake(struct ds_api_sse *s)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

/* api->mu held: the subscriber fell too far behind; free its queue now so
 * memory is bounded even if its socket never drains, and let the reader
 * end the stream. */
static void sse_kill(struct ds_api_sse *s)
{
	if (s->dead)
		return;
	s->dead = true;
	q_clear(&s->live);
	q_clear(&s->replay);
	ds_metric_inc(s->api->s_sse_drop, 1);
	DS_LOGI("api", "slow SSE subscriber dropped", "%s", "");
	sse_wake(s);
}

static bool admits(const struct ds_api_sse *s, const char *type)
{
	if (!s->nfilter)
		return true;
	for (size_t i = 0; i < s->nfilter; i++)
		if (strcmp(s->filter[i], type) == 0)
			return true;
	return false;
}

int ds_api_sse_filter(struct ds_api_sse *s, const char *types)
{
	char buf[DS_API_SSE_FILTER_MAX * (DS_API_SSE_TYPE_MAX + 1) + 1];
	if (strlen(types) >= sizeof(buf))
		return DS_ETOOBIG;
	snprintf(buf, sizeof(buf), "%s", types);
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!type_ok(t))
			return DS_EINVAL;
		if (n == DS_API_SSE_FILTER_MAX)
			return DS_ETOOBIG;
		snprintf(s->filter[n++], sizeof(s->filter[0]), "%s", t);
	}
	if (n == 0)
		return DS_EINVAL;
	s->nfilter = n;
	return 0;
}

int ds_api_sse_send(struct ds_api_sse *s, const char *type, uint64_t id, const char *data)
{
	struct ds__ev *e;
	int rc = ev_new(&e, type, id, data);
	if (rc)
		return rc;
	struct ds_api *api = s->api;
	pthread_mutex_lock(&api->mu);
	if (s->replay_room == 0 || s->replay.len == s->replay.cap) {
		rc = DS_EFULL;
	} else if (id < s->next_id) {
		rc = DS_EINVAL; /* replay must move forward */
	} else {
		s->replay_room--;
		q_push(&s->replay, e);
		s->next_id = id == UINT64_MAX ? id : id + 1;
		e = NULL;
	}
	pthread_mutex_unlock(&api->mu);
	ev_unref(e);
	return rc;
}

int ds_api_sse_publish(struct ds_api *api, const char *type, uint64_t id, const char *data)
{
	struct ds__ev *e;
	int rc = ev_new(&e, type, id, data);
	if (rc)
		return rc;
	int count = 0;
	pthread_mutex_lock(&api->mu);
	for (struct ds_api_sse *s = api->sse_head; s && !api->stopping; s = s->next) {
		if (s->dead || !admits(s, type))
			continue;
		if (s->live.len == s->live.cap || s->live.bytes + e->len > api->cfg.sse_queue_bytes_max) {
			sse_kill(s);
			continue;
		}
		atomic_fetch_add(&e->refs, 1);
		q_push(&s->live, e);
		count++;
		sse_wake(s);
	}
	pthread_mutex_unlock(&api->mu);
	ds_metric_inc(api->s_sse_events, (uint64_t)count);
	ev_unref(e);
	return count;
}

unsigned ds_api_sse_clients(struct ds_api *api)
{
	pthread_mutex_lock(&api->mu);
	unsigned n = api->nsse;
	pthread_mutex_unlock(&api->mu);
	return n;
}

/* api->mu held. Copies whole or partial events into buf. */
static size_t sse_fill(struct ds_api_sse *s, char *buf, size_t max)
{
	size_t n = 0;
	while (n < max) {
		if (!s->cur) {
			struct ds__ev *e = q_pop(&s->replay);
			if (!e && !s->replaying) {
				e = q_pop(&s->live);
				/* Already sent by the replay. */
				while (e && s->resumed && e->id < s->next_id) {
					ev_unref(e);
					e = q_pop(&s->live);
				}
			}
			if (!e)
				break;
			s->cur = e;
			s->cur_off = 0;
		}
		size_t k = s->cur->len - s->cur_off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, s->cur->text + s->cur_off, k);
		n += k;
		s->cur_off += k;
		if (s->cur_off == s->cur->len) {
			ev_unref(s->cur);
			s->cur = NULL;
		}
	}
	return n;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct ds_api_sse *s = cls;
	struct ds_api *api = s->api;
	size_t n = 0;
	(void)pos;
	pthread_mutex_lock(&api->mu);
	if (!s->greeted && max >= sizeof(greeting)) {
		/* Always write something first, so the headers leave at once. */
		memcpy(buf, greeting, sizeof(greeting) - 1);
		n = sizeof(greeting) - 1;
		s->greeted = true;
	}
	if (s->replaying && !s->dead && !api->stopping && s->replay.len == 0 && !s->cur) {
		uint64_t from = s->next_id;
		s->replay_room = s->replay.cap;
		pthread_mutex_unlock(&api->mu);
		int rc = s->route->sse_replay(s->route->ctx, s, from, s->replay.cap);
		pthread_mutex_lock(&api->mu);
		s->replay_room = 0;
		if (rc < 0)
			s->dead = true;
		else if (rc == 0 || s->replay.len == 0)
			s->replaying = false;
	}
	if (api->stopping || s->dead) {
		bool dead = s->dead;
		pthread_mutex_unlock(&api->mu);
		if (n)
			return (ssize_t)n;
		return dead ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	}
	n += sse_fill(s, buf + n, max - n);
	if (n == 0 && s->hb_due && max >= sizeof(heartbeat)) {
		memcpy(buf, heartbeat, sizeof(heartbeat) - 1);
		n = sizeof(heartbeat) - 1;
	}
	s->hb_due = false;
	if (n == 0) {
		s->suspended = true;
		MHD_suspend_connection(s->conn);
	} else {
		s->last_write_ns = ds_mono_ns();
	}
	pthread_mutex_unlock(&api->mu);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct ds_api_sse *s = cls;
	struct ds_api *api = s->api;
	pthread_mutex_lock(&api->mu);
	if (s->linked) {
		if (s->prev)
			s->prev->next = s->next;
		else
			api->sse_head = s->next;
		if (s->next)
			s->next->prev = s->prev;
	}
	api->nsse--;
	ds_metric_set(api->s_sse, api->nsse);
	q_clear(&s->live);
	q_clear(&s->replay);
	ev_unref(s->cur);
	pthread_mutex_unlock(&api->mu);
	free(s->live.v);
	free(s->replay.v);
	free(s);
}

void ds__sse_tick(struct ds_api *api, uint64_t now)
{
	uint64_t hb = (uint64_t)api->cfg.sse_heartbeat_ms * 1000000u;
	for (struct ds_api_sse *s = api->sse_head; s; s = s->next) {
		if (s->suspended && now - s->last_write_ns >= hb) {
			s->hb_due = true;
			sse_wake(s);
		}
	}
}

void ds__sse_stop_all(struct ds_api *api)
{
	for (struct ds_api_sse *s = api->sse_head; s; s = s->next)
		sse_wake(s);
}

/* Resume point: Last-Event-ID (replay from id + 1) wins over ?from=N. */
static int resume_point(const struct ds_api_req *req, struct ds_api_resp *resp, bool *has, uint64_t *from)
{
	*has = false;
	const char *lei = ds_api_header(req, "Last-Event-ID");
	uint64_t v;
	if (lei) {
		if (ds_api_parse_u64(&v, lei) != 0) {
			ds_api_resp_error(resp, 400, DS_API_E_BAD_PARAM, "Last-Event-ID must be a decimal event id");
			return DS_EINVAL;
		}
		if (v == UINT64_MAX)
			return 0; /* nothing can follow */
		*has = true;
		*from = v + 1;
		return 0;
	}
	const char *f = ds_api_query(req, "from");
	if (f) {
		if (ds_api_parse_u64(&v, f) != 0) {
			ds_api_resp_error(resp, 400, DS_API_E_BAD_PARAM, "from must be a decimal event id");
			return DS_EINVAL;
		}
		*has = true;
		*from = v;
	}
	return 0;
}

enum MHD_Result ds__sse_open(struct ds__rq *rq, struct MHD_Connection *conn, const struct ds_api_req *req)
{
	struct ds_api *api = rq->api;
	const struct ds__route *route = rq->route;
	pthread_mutex_lock(&api->mu);
	bool stopping = api->stopping, full = api->nsse >= api->cfg.max_sse_clients;
	if (!stopping && !full) {
		api->nsse++; /* reserved; released by sse_free or below */
		ds_metric_set(api->s_sse, api->nsse);
	}
	pthread_mutex_unlock(&api->mu);
	if (stopping)
		return ds__queue_error(rq, conn, 503, DS_API_E_UNAVAILABLE, "server shutting down");
	if (full)
		return ds__queue_error(rq, conn, 503, DS_API_E_TOO_MANY_SUBSCRIBERS, "too many event subscribers");

	struct ds_api_resp err;
	ds_api_resp_init(&err);
	struct MHD_Response *resp = NULL;
	struct ds_api_sse *s = calloc(1, sizeof(*s));
	if (!s || q_init(&s->live, api->cfg.sse_queue_max) || q_init(&s->replay, api->cfg.sse_replay_batch)) {
		ds_api_resp_error(&err, 500, DS_API_E_INTERNAL, "out of memory");
		goto refuse;
	}
	s->api = api;
	s->conn = conn;
	s->route = route;
	s->last_write_ns = ds_mono_ns();
	bool has;
	uint64_t from = 0;
	if (resume_point(req, &err, &has, &from) != 0)
		goto refuse;
	if (has && route->sse_replay) {
		s->resumed = s->replaying = true;
		s->next_id = from;
	}
	if (route->sse_open && route->sse_open(route->ctx, req, s, &err) != 0) {
		if (err.status < 400)
			ds_api_resp_error(&err, 403, DS_API_E_FORBIDDEN, "subscription refused");
		goto refuse;
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, s, sse_free);
	if (!resp) {
		ds_api_resp_error(&err, 500, DS_API_E_INTERNAL, "out of memory");
		goto refuse;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	pthread_mutex_lock(&api->mu);
	s->linked = true;
	s->next = api->sse_head;
	if (s->next)
		s->next->prev = s;
	api->sse_head = s;
	pthread_mutex_unlock(&api->mu);
	rq->status = 200;
	rq->responded = true;
	/* From here sse_free (run when the response is destroyed) owns s and
	 * the reservation, whether queueing works or not. */
	enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	ds_api_resp_free(&err);
	return ret;

refuse:
	if (s) {
		free(s->live.v);
		free(s->replay.v);
		free(s);
	}
	pthread_mutex_lock(&api->mu);
	api->nsse--;
	ds_metric_set(api->s_sse, api->nsse);
	pthread_mutex_unlock(&api->mu);
	enum MHD_Result r = ds__queue(rq, conn, &err);
	ds_api_resp_free(&err);
	return r;
}
