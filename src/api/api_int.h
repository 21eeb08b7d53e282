/* api internals shared by api_*.c; not part of the contract. */
#ifndef DS_API_INT_H
#define DS_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "api/api.h"

struct ds__route {
	char method[16];
	char *pattern;                      /* owned copy, for labels */
	char *segbuf;                       /* owned; seg[] point into it */
	size_t nseg;
	const char *seg[DS_API_SEGMENTS_MAX];
	bool is_param[DS_API_SEGMENTS_MAX];
	ds_api_handler_fn fn;
	void *ctx;
	bool sse;
	ds_api_sse_open_fn sse_open;
	ds_api_sse_replay_fn sse_replay;
	struct ds_metric_series *lat;       /* latency series for this route */
};

struct ds__static {
	char prefix[DS_API_PATH_MAX];       /* no trailing '/', "" for the root */
	size_t prefix_len;
	int dirfd;
};

enum { DS__ASYNC_WAITING = 1, DS__ASYNC_DONE, DS__ASYNC_TIMEDOUT, DS__ASYNC_CANCELLED };

struct ds_api_async {
	pthread_mutex_t mu;                 /* guards everything below */
	int refs;                           /* connection + completer */
	int state;
	bool suspended;                     /* connection really suspended */
	struct MHD_Connection *conn;
	struct ds_api_resp resp;
	uint64_t deadline_ns;
	struct ds_api_async *next, *prev;   /* api->async list, under api->mu */
};

/* One formatted SSE event, shared by every queue that holds it. */
struct ds__ev {
	_Atomic unsigned refs;
	uint64_t id;
	size_t len;
	char type[DS_API_SSE_TYPE_MAX + 1];
	char text[];
};

struct ds__evq {
	struct ds__ev **v;
	size_t cap, head, len, bytes;
};

struct ds_api_sse {
	struct ds_api *api;
	struct MHD_Connection *conn;
	const struct ds__route *route;
	struct ds_api_sse *next, *prev;     /* api->sse list, under api->mu */
	bool linked;
	struct ds__evq live;                /* published events */
	struct ds__evq replay;              /* history batch from the replay fn */
	struct ds__ev *cur;                 /* event being written */
	size_t cur_off;
	bool resumed;                       /* the client asked to resume */
	bool replaying;                     /* history not yet caught up */
	uint64_t next_id;                   /* first id not yet replayed */
	size_t replay_room;                 /* sends left in this replay call */
	bool dead, suspended, greeted, hb_due;
	uint64_t last_write_ns;
	size_t nfilter;
	char filter[DS_API_SSE_FILTER_MAX][DS_API_SSE_TYPE_MAX + 1];
};

struct ds_api {
	struct MHD_Daemon *d;
	uint16_t port;
	struct ds_api_config cfg;           /* defaults filled in */

	pthread_mutex_t reg_mu;             /* serialises registrations */
	struct ds__route *routes[DS_API_ROUTES_MAX];
	_Atomic size_t nroutes;             /* published with release order */
	struct ds__static statics[DS_API_STATIC_MAX];
	_Atomic size_t nstatic;

	pthread_mutex_t mu;                 /* stopping, sse list, async list */
	pthread_cond_t tick_cv;
	pthread_t ticker;
	bool ticker_started;
	bool stopping;
	struct ds_api_sse *sse_head;
	unsigned nsse;                      /* reserved + linked subscribers */
	struct ds_api_async *async_head;

	struct ds_metrics *metrics;
	bool own_metrics;
	struct ds_metric *m_req, *m_lat, *m_conns, *m_sse, *m_sse_events, *m_sse_drop, *m_async_to;
	struct ds_metric_series *s_conns, *s_sse, *s_sse_events, *s_sse_drop, *s_async_to;
	char metrics_path[DS_API_PATH_MAX];
};

/* Per request state (MHD's con_cls). */
struct ds__rq {
	struct ds_api *api;
	const struct ds__route *route;      /* NULL: static, unmatched or early error */
	const struct ds__static *st;        /* static dir to serve from */
	const char *label;                  /* route label for metrics */
	char method[16];                    /* metrics label */
	uint64_t t0_ns;
	unsigned status;                    /* 0 until a response is queued */
	bool responded;
	bool too_big;
	bool in_handler;
	bool is_head;
	size_t seen;                        /* body bytes received, discarded included */
	struct ds_buf body;
	char *pbuf;                         /* owned copy of the path for params */
	size_t nparams;
	const char *pname[DS_API_PARAMS_MAX];
	const char *pval[DS_API_PARAMS_MAX];
	struct ds_api_async *async;         /* set by ds_api_async_begin */
};

/* api_server.c */
enum MHD_Result ds__queue(struct ds__rq *rq, struct MHD_Connection *conn, struct ds_api_resp *r);
enum MHD_Result ds__queue_error(struct ds__rq *rq, struct MHD_Connection *conn, unsigned status,
				const char *code, const char *msg);
/* api_sse.c */
enum MHD_Result ds__sse_open(struct ds__rq *rq, struct MHD_Connection *conn, const struct ds_api_req *req);
void ds__sse_tick(struct ds_api *api, uint64_t now_ns); /* under api->mu */
void ds__sse_stop_all(struct ds_api *api);              /* under api->mu */
/* api_static.c */
enum MHD_Result ds__static_serve(struct ds__rq *rq, struct MHD_Connection *conn, const char *url);
/* api_json.c */
bool ds__token_ok(const char *s);
bool ds__split_path(const char *path, char *buf, size_t cap, const char **seg, size_t *nseg);

#endif
