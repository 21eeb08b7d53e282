/* node_http — the node's /v1 HTTP API: handlers over the chain's reads, tx
 * submission through the node loop, the SSE event stream and /metrics.
 * Shapes and error codes: docs/API.md.
 *
 * The handlers reach the node through struct ds_node_http_host (function
 * pointers), so they do not depend on the node's internals and can be
 * tested against a real chain with a fake node. ds_node_http_start (the
 * entry point the node calls) fills a host from node.h.
 *
 * Threads: handlers run on the api's HTTP thread and only read the chain
 * (its reads are thread-safe) and the host's status snapshot. Submission
 * goes through host->submit_tx (any thread; its done callback may come
 * from any thread). ds_node_http_publish is called on the node loop thread
 * after each commit. */
#ifndef DS_NODE_HTTP_H
#define DS_NODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "chain/chain.h"
#include "ledger/ledger.h"
#include "util/util.h"

/* Limits of the API (docs/API.md "Limits"). */
#define DS_HTTP_BLOCKS_LIST_MAX 100   /* GET /v1/blocks?limit */
#define DS_HTTP_BLOCKS_LIST_DEFAULT 20
#define DS_HTTP_STATE_KEY_MAX 448     /* bytes of a state key (= DS_EXEC_KEY_MAX) */
#define DS_HTTP_QC_CHAIN_MAX 64       /* linking headers sent with a QC */
#define DS_HTTP_SUBMIT_TIMEOUT_MS 10000
/* SSE ids: height * DS_HTTP_EVENT_ID_BLOCK + slot. Slot 0 is the block;
 * tx i has slot 1 + DS_HTTP_EVENT_TX_SLOTS * i and its contract events
 * the DS_HTTP_EVENT_TX_SLOTS - 1 slots after it, so an id is computed
 * from (height, tx index, event index) alone and a stream resumes
 * anywhere without reading earlier receipts. */
#define DS_HTTP_EVENT_ID_BLOCK 1000000u
#define DS_HTTP_EVENT_TX_SLOTS 49u

#define DS_HTTP_NODE_ID_MAX 64
#define DS_HTTP_ADDR_MAX 128

struct ds_node_http_validator {
	uint8_t pk[DS_PK_LEN];
	char p2p[DS_HTTP_ADDR_MAX]; /* host:port, "" if unknown */
	bool connected;             /* this node is connected to it (self: true) */
	uint64_t last_seen_ms;      /* wall clock of its last message, 0 = never */
};

/* A snapshot of the node, filled by host->status. */
struct ds_node_http_status {
	char node_id[DS_HTTP_NODE_ID_MAX + 1];
	uint64_t round;
	uint64_t epoch;
	uint64_t mempool_size;
	uint32_t peers_connected;
	bool validator;           /* in the current epoch's set (else an observer) */
	uint32_t validator_index; /* its index there, when validator */
	uint32_t nvalidators;
	struct ds_node_http_validator v[DS_VALIDATORS_MAX];
};

typedef void (*ds_node_http_done_fn)(void *arg, int rc, const uint8_t id[DS_HASH_LEN]);

struct ds_node_http_host {
	void *ctx;
	struct ds_chain *chain; /* borrowed; reads only */
	/* Snapshot; 0 or an error (the handler answers 503). */
	int (*status)(void *ctx, struct ds_node_http_status *out);
	/* Hands an encoded tx (copied by the callee) to the mempool. 0: done
	 * will be called exactly once, from any thread, with 0 (accepted) or a
	 * DS_E* refusal; an error return means done is never called. */
	int (*submit_tx)(void *ctx, const uint8_t *tx, size_t len, ds_node_http_done_fn done, void *arg);
	/* Optional (NULL: never pending): true if id waits in the mempool. */
	bool (*tx_pending)(void *ctx, const uint8_t id[DS_HASH_LEN]);
};

struct ds_node_http; /* opaque */

/* Registers every /v1 route, /healthz, /metrics (the api's registry: the
 * node passes its own in ds_api_config.metrics) and the SSE stream on api.
 * host is copied; api and host->chain are borrowed and must outlive
 * ds_node_http_free. Returns 0, DS_EINVAL (no chain or submit_tx),
 * DS_ENOMEM, or the api's registration error. *out is owned by the caller
 * whenever it is non-NULL, also after a failure (routes registered before
 * the failure still point at it): free it after ds_api_stop. */
int ds_node_http_attach(struct ds_node_http **out, struct ds_api *api,
			const struct ds_node_http_host *host) DS_MUST_USE;
/* Frees the handler state: call after ds_api_stop. NULL is a no-op. */
void ds_node_http_free(struct ds_node_http *h);

/* Publishes the SSE events of committed block `height` (block, tx and
 * contract events) to live subscribers; reads block and receipts from the
 * chain, and does nothing when nobody subscribes. Any thread; call after
 * the commit is durable (replay must already be able to return it). */
void ds_node_http_publish(struct ds_node_http *h, uint64_t height);

/* Entry points for the node (node.h): start registers everything on the
 * node's api with the node as host and publishes events from its commit
 * hook; stop frees that state and must come after ds_api_stop (a node that
 * never calls it leaks one small struct at exit, nothing else). */
struct ds_node;
int ds_node_http_start(struct ds_node *n, struct ds_api *api);
void ds_node_http_stop(struct ds_node *n);

#endif
