/* api — the node's HTTP edge: routing, JSON errors, asynchronous replies,
 * Server-Sent Events, static files and Prometheus metrics, on libmicrohttpd.
 *
 * The module knows nothing about the ledger. The node registers handlers;
 * the api enforces every limit before a handler sees a request:
 *   - at most max_conns connections (more are accepted and closed at once by
 *     libmicrohttpd; the server stays up);
 *   - a per-connection inactivity timeout;
 *   - request bodies over max_body_bytes are refused with 413: at once when
 *     Content-Length says so (the body is never read), or, for chunked
 *     uploads, as soon as the running count passes the limit (further bytes
 *     are discarded, and the connection is cut if the client keeps sending
 *     more than another max_body_bytes);
 *   - unknown paths 404, wrong methods 405 (with Allow), all as JSON errors
 *     {"error":{"code":"STABLE_CODE","message":"human text"}}; the code list
 *     is below and in docs/API.md.
 *
 * Threads. libmicrohttpd runs one internal polling thread (epoll where
 * available; `threads` > 1 gives a pool, see ds_api_config). Handlers run
 * on that thread and must not block: read-only work (LMDB read txns) is
 * fine; anything that needs the node loop uses ds_api_async_begin and
 * answers later from any thread. SSE clients and pending async requests are
 * suspended connections: they cost no thread. A small ticker thread of the
 * api fires async timeouts and SSE heartbeats.
 *
 * Ownership: the api copies route patterns and static dirs; ctx pointers are
 * borrowed and must outlive ds_api_stop. Pointers inside a ds_api_req are
 * valid only during the handler call.
 */
#ifndef DS_API_H
#define DS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "metrics/metrics.h"
#include "util/util.h"

#define DS_API_ROUTES_MAX 64      /* handler + SSE routes */
#define DS_API_STATIC_MAX 4       /* static directories */
#define DS_API_PARAMS_MAX 8       /* {name} parameters per pattern */
#define DS_API_SEGMENTS_MAX 16    /* path segments per pattern or request */
#define DS_API_PATH_MAX 1024      /* decoded path bytes */
#define DS_API_HEADERS_MAX 8      /* extra response headers */
#define DS_API_STATIC_FILE_MAX (32u << 20) /* largest static file served */
#define DS_API_ASYNC_TIMEOUT_MAX_MS 120000
#define DS_API_SSE_TYPE_MAX 32    /* event type bytes: [a-z0-9_.-] */
#define DS_API_SSE_FILTER_MAX 8   /* event types a stream may select */
#define DS_API_SSE_DATA_MAX (1u << 20) /* bytes of one event's data */

/* Stable error codes (the "code" member). Node handlers may add their own,
 * in the same UPPER_SNAKE style. */
#define DS_API_E_BAD_REQUEST "BAD_REQUEST"           /* 400 generic */
#define DS_API_E_BAD_JSON "BAD_JSON"                 /* 400 body is not one JSON object */
#define DS_API_E_UNKNOWN_FIELD "UNKNOWN_FIELD"       /* 400 */
#define DS_API_E_MISSING_FIELD "MISSING_FIELD"       /* 400 */
#define DS_API_E_BAD_FIELD "BAD_FIELD"               /* 400 wrong type, bad hex, too long */
#define DS_API_E_BAD_PARAM "BAD_PARAM"               /* 400 bad path or query parameter */
#define DS_API_E_FORBIDDEN "FORBIDDEN"               /* 403 */
#define DS_API_E_NOT_FOUND "NOT_FOUND"               /* 404 */
#define DS_API_E_METHOD_NOT_ALLOWED "METHOD_NOT_ALLOWED" /* 405 */
#define DS_API_E_CONFLICT "CONFLICT"                 /* 409 */
#define DS_API_E_PAYLOAD_TOO_LARGE "PAYLOAD_TOO_LARGE" /* 413 */
#define DS_API_E_UNSUPPORTED_MEDIA_TYPE "UNSUPPORTED_MEDIA_TYPE" /* 415 */
#define DS_API_E_INTERNAL "INTERNAL"                 /* 500 */
#define DS_API_E_UNAVAILABLE "UNAVAILABLE"           /* 503 busy or shutting down */
#define DS_API_E_TOO_MANY_SUBSCRIBERS "TOO_MANY_SUBSCRIBERS" /* 503 */
#define DS_API_E_TIMEOUT "TIMEOUT"                   /* 504 async reply too late */

struct ds_api; /* opaque */

struct ds_api_config {
	const char *bind_addr;      /* IPv4 or IPv6 literal; NULL = "127.0.0.1" */
	uint16_t port;              /* 0 = ephemeral (see ds_api_port) */
	unsigned max_conns;         /* 0 = 64; SSE and suspended count too */
	size_t max_body_bytes;      /* 0 = 1 MiB */
	unsigned conn_timeout_s;    /* inactivity timeout; 0 = 30 */
	unsigned threads;           /* 0 or 1 = one polling thread; n > 1 = a pool
				     * of n (libmicrohttpd then splits max_conns
				     * between the threads) */
	unsigned max_sse_clients;   /* 0 = 32 */
	unsigned sse_queue_max;     /* events queued per subscriber; 0 = 256 */
	size_t sse_queue_bytes_max; /* bytes queued per subscriber; 0 = 4 MiB */
	unsigned sse_heartbeat_ms;  /* comment line on idle streams; 0 = 15000 */
	unsigned sse_replay_batch;  /* events per replay call; 0 = 64 */
	struct ds_metrics *metrics; /* borrowed, must outlive the api; NULL = the
				     * api makes its own (ds_api_metrics) */
};

/* A request as a handler sees it. Every pointer is borrowed and valid only
 * during the handler call. */
struct ds_api_req {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* percent-decoded path, no query string */
	const char *route;        /* the matched pattern, e.g. "/v1/tx/{hash}" */
	const char *content_type; /* Content-Type header, or NULL */
	const uint8_t *body;      /* request body, NUL-terminated (not counted) */
	size_t body_len;
	size_t nparams;           /* path parameters, in pattern order */
	const char *param_name[DS_API_PARAMS_MAX];
	const char *param_value[DS_API_PARAMS_MAX];
	void *ds__conn;           /* internal */
	void *ds__rq;             /* internal */
};

/* A response. Initialise with ds_api_resp_init; the setters replace any
 * earlier content. The api frees what a handler leaves here. */
struct ds_api_resp {
	unsigned status;          /* 0 = nothing set (served as 500 INTERNAL) */
	const char *content_type; /* static string; NULL with json */
	json_t *json;             /* owned; served compact, application/json */
	struct ds_buf body;       /* owned; used when json is NULL */
	size_t nheaders;
	char *header[DS_API_HEADERS_MAX][2]; /* owned name, value */
};

void ds_api_resp_init(struct ds_api_resp *r);
void ds_api_resp_free(struct ds_api_resp *r); /* frees content; r may be reused after init */
/* Takes ownership of j (a NULL j, from a failed jansson allocation, gives a
 * 500 INTERNAL). */
void ds_api_resp_json(struct ds_api_resp *r, unsigned status, json_t *j);
/* Copies n bytes; content_type must be a static string. */
void ds_api_resp_bytes(struct ds_api_resp *r, unsigned status, const char *content_type,
		       const void *p, size_t n);
/* {"error":{"code":code,"message":printf(fmt,...)}}; code is a stable
 * UPPER_SNAKE string (DS_API_E_* or the node's own). */
void ds_api_resp_error(struct ds_api_resp *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a DS_E* code to an error reply: ENOTFOUND 404 NOT_FOUND, EINVAL/
 * ERANGE/ETOOBIG... 400 BAD_REQUEST, EDENIED/EPERM 403, EEXIST 409,
 * EFULL/EAGAIN 503 UNAVAILABLE, ETIMEOUT 504, anything else 500. */
void ds_api_resp_from_err(struct ds_api_resp *r, int err, const char *message);
/* Adds a header (both copied). Names must be tokens, values printable
 * without CR/LF. Returns 0, DS_EINVAL, DS_EFULL or DS_ENOMEM. */
int ds_api_resp_header(struct ds_api_resp *r, const char *name, const char *value) DS_MUST_USE;

/* Starts the server. *out is owned by the caller until ds_api_stop.
 * Returns 0; DS_EINVAL for a bad bind address or config; DS_EIO when the
 * socket cannot be bound; DS_ENOMEM. */
int ds_api_start(struct ds_api **out, const struct ds_api_config *cfg) DS_MUST_USE;
/* Stops accepting, ends SSE streams, answers pending async requests with 503,
 * waits for the server threads, frees everything. NULL is a no-op. */
void ds_api_stop(struct ds_api *api);
/* The bound TCP port (the real one when cfg.port was 0). */
uint16_t ds_api_port(const struct ds_api *api);
/* The registry the api records into (the config's or its own). */
struct ds_metrics *ds_api_metrics(struct ds_api *api);

/* A handler fills resp (or detaches with ds_api_async_begin). */
typedef void (*ds_api_handler_fn)(void *ctx, const struct ds_api_req *req, struct ds_api_resp *resp);

/* Registers method + pattern. A pattern is an absolute path of literal
 * segments and "{name}" segments (each matches one non-empty segment); on
 * several matches the route with a literal at the first differing segment
 * wins ("/v1/blocks/latest" beats "/v1/blocks/{id}"). HEAD is served by GET
 * routes. May be called before or after requests arrive (lock-free
 * publication). Returns 0; DS_EINVAL for a bad method or pattern; DS_EEXIST
 * for a duplicate; DS_EFULL past DS_API_ROUTES_MAX; DS_ENOMEM. */
int ds_api_route(struct ds_api *api, const char *method, const char *pattern,
		 ds_api_handler_fn fn, void *ctx) DS_MUST_USE;

/* Serves regular files under dir for GET/HEAD paths below prefix that no
 * route matched ("/" maps to index.html, and so does a path ending in "/").
 * Each path segment must match [A-Za-z0-9_-][A-Za-z0-9._-]* (no "..", no
 * hidden files); symlinks are not followed; only regular files up to
 * DS_API_STATIC_FILE_MAX. dir is opened now. Returns 0, DS_EINVAL, DS_EIO
 * (dir cannot be opened), DS_EFULL. */
int ds_api_static_dir(struct ds_api *api, const char *prefix, const char *dir) DS_MUST_USE;

/* Serves ds_metrics_render of the api's registry at GET path. */
int ds_api_metrics_route(struct ds_api *api, const char *path) DS_MUST_USE;

/* ---- helpers for handlers (HTTP thread) ---- */

/* Path parameter by name, or NULL. */
const char *ds_api_param(const struct ds_api_req *req, const char *name);
/* Query argument (decoded), or NULL when absent. */
const char *ds_api_query(const struct ds_api_req *req, const char *name);
/* Request header, case-insensitive name, or NULL. */
const char *ds_api_header(const struct ds_api_req *req, const char *name);

/* Integer query argument: absent gives def; otherwise plain decimal digits
 * (no sign, no spaces, no leading zeros except "0") within [min, max].
 * On failure fills resp with 400 BAD_PARAM and returns DS_EINVAL or DS_ERANGE. */
int ds_api_query_u64(uint64_t *out, const struct ds_api_req *req, struct ds_api_resp *resp,
		     const char *name, uint64_t def, uint64_t min, uint64_t max) DS_MUST_USE;
/* Decodes hex (exactly 2n chars, optional "0x" prefix) into out[n]; on
 * failure fills resp with 400 BAD_PARAM naming what, returns DS_EINVAL. */
int ds_api_hex(uint8_t *out, size_t n, const char *hex, struct ds_api_resp *resp,
	       const char *what) DS_MUST_USE;
/* Strict unsigned decimal parse (the rule of ds_api_query_u64). */
int ds_api_parse_u64(uint64_t *out, const char *s) DS_MUST_USE;

/* JSON body schema: every member of the body must be listed (unknown
 * members are refused), required ones present, each of its type. */
enum ds_api_jtype {
	DS_API_JSTR = 1, /* string, UTF-8, byte length <= max (0 = no limit) */
	DS_API_JHEX,     /* string of hex; decoded length == max (0 = any, even) */
	DS_API_JUINT,    /* integer >= 0 (<= max unless max is 0) */
	DS_API_JINT,     /* any integer */
	DS_API_JBOOL,
	DS_API_JOBJ,
	DS_API_JARR,     /* array, at most max elements (0 = no limit) */
	DS_API_JANY,
};
struct ds_api_field {
	const char *name;
	enum ds_api_jtype type;
	bool required;
	uint64_t max;
};
/* Checks Content-Type (application/json, parameters allowed) else 415
 * UNSUPPORTED_MEDIA_TYPE; parses the body strictly (one object, no
 * duplicate keys, nothing after it) else 400 BAD_JSON; then the schema
 * (UNKNOWN_FIELD, MISSING_FIELD, BAD_FIELD, all 400). On success *out is an
 * owned reference (json_decref it). On failure resp holds the error and a
 * negative code is returned. */
int ds_api_json_body(json_t **out, const struct ds_api_req *req, struct ds_api_resp *resp,
		     const struct ds_api_field *fields, size_t nfields) DS_MUST_USE;

/* ---- asynchronous replies ---- */

struct ds_api_async; /* one pending reply */

/* Inside a handler: detach the reply. After 0 the handler returns without
 * filling resp (what it left there is discarded) and the connection waits
 * until ds_api_async_finish or timeout_ms (1..DS_API_ASYNC_TIMEOUT_MAX_MS),
 * after which the client gets 504 TIMEOUT. The token must be passed to
 * ds_api_async_finish exactly once, from any thread, even after a timeout
 * or ds_api_stop (it is freed there). Returns 0, DS_EINVAL (bad timeout or
 * not inside a handler), DS_ECLOSED (the api is stopping), DS_ENOMEM. */
int ds_api_async_begin(struct ds_api_async **out, const struct ds_api_req *req,
		       uint32_t timeout_ms) DS_MUST_USE;
/* Delivers resp (its content is moved out; resp is left initialised and
 * empty) and frees the token. Returns 0 when the client will get it,
 * DS_ETIMEOUT if the request had already timed out, DS_ECLOSED if the api
 * was stopped. */
int ds_api_async_finish(struct ds_api_async *a, struct ds_api_resp *resp);

/* ---- Server-Sent Events ----
 * Wire format per event (text/event-stream):
 *   id: <decimal u64>\nevent: <type>\ndata: <line>\n ... \n\n
 * Event ids are chosen by the node and must increase strictly across
 * everything it publishes (a block height or a sequence number). A client
 * resumes with the Last-Event-ID header (replay from id + 1) or ?from=N
 * (replay from N); the header wins. A stream first sends "retry: 2000",
 * then replayed history (pulled from the node in batches as the client
 * drains it), then live events; live events with an id below the next
 * replay id are skipped so nothing is sent twice. Idle streams get a
 * ": hb" comment every sse_heartbeat_ms. A subscriber whose queue passes
 * sse_queue_max events or sse_queue_bytes_max bytes (it reads too slowly)
 * is disconnected and counted in ds_api_sse_dropped_total. */

struct ds_api_sse; /* one subscriber */

/* Called on the HTTP thread when a client subscribes; may call
 * ds_api_sse_filter. Return 0 to accept, or fill resp with an error and
 * return nonzero to refuse. NULL = accept everything. */
typedef int (*ds_api_sse_open_fn)(void *ctx, const struct ds_api_req *req, struct ds_api_sse *s,
				  struct ds_api_resp *resp);
/* Called on the HTTP thread when the subscriber asked to resume and its
 * replay queue is empty: send events with id >= from_id via ds_api_sse_send,
 * at most max of them, in id order. Return 1 if more history remains, 0 when
 * caught up (live events follow), negative to end the stream. A call that
 * sends nothing counts as caught up. NULL = resumption ignored. */
typedef int (*ds_api_sse_replay_fn)(void *ctx, struct ds_api_sse *s, uint64_t from_id, size_t max);

/* Registers a GET SSE route (pattern rules as ds_api_route). At most
 * max_sse_clients subscribers over all SSE routes; more get 503
 * TOO_MANY_SUBSCRIBERS. Returns as ds_api_route. */
int ds_api_sse_route(struct ds_api *api, const char *pattern, ds_api_sse_open_fn open,
		     ds_api_sse_replay_fn replay, void *ctx) DS_MUST_USE;
/* Inside open: only deliver these event types (comma-separated list).
 * Returns 0, DS_EINVAL (bad type name) or DS_ETOOBIG (over
 * DS_API_SSE_FILTER_MAX types). */
int ds_api_sse_filter(struct ds_api_sse *s, const char *types) DS_MUST_USE;
/* Inside replay: queue one history event for this subscriber. data is
 * copied; CR and LF in it start new data: lines. Returns 0, DS_EINVAL (bad
 * type or data), DS_EFULL (more than max this call), DS_ENOMEM. */
int ds_api_sse_send(struct ds_api_sse *s, const char *type, uint64_t id, const char *data) DS_MUST_USE;
/* From any thread: send an event to every live subscriber whose filter
 * admits type. data is copied once and shared. Returns the number of
 * subscribers it was queued for, or DS_EINVAL / DS_ENOMEM. */
int ds_api_sse_publish(struct ds_api *api, const char *type, uint64_t id, const char *data);
/* Current subscriber count (for tests and metrics). */
unsigned ds_api_sse_clients(struct ds_api *api);

#endif
