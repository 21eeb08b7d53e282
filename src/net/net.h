/* net — the node's event loop and its encrypted, authenticated peer links.
 *
 * Two services live here because both sit on libuv, and uv.h is included
 * only by files in src/net/:
 *
 *  1. The loop (ds_loop): timers, a bounded thread-safe "post a closure to the
 *     loop thread" queue (the HTTP thread hands work to the node this way), a
 *     thread-pool job API (signature checks on every core), SIGINT/SIGTERM.
 *  2. The peer network (ds_net): a full TCP mesh between validators. Each link
 *     starts with an X25519 handshake authenticated by the nodes' Ed25519
 *     identity keys, then carries ChaCha20-Poly1305 frames with per-direction
 *     counters. Wire format: docs/PROTOCOL.md.
 *
 * Threads: every function runs on the loop thread (the one inside
 * ds_loop_run, or the one that owns the loop while it is not running) unless
 * its comment says "any thread". Callbacks always run on the loop thread.
 *
 * Failures on a link (bad frame, failed decryption, replay, oversize length,
 * refused identity, timeout) close that link only, are logged with a reason
 * and counted in ds_net_stats; the dialling side reconnects with back-off.
 * Nothing a peer sends can stop the node. */
#ifndef DS_NET_H
#define DS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/util.h"

/* ---------------------------------------------------------------- loop --- */

typedef struct ds_loop ds_loop;
typedef struct ds_timer ds_timer;

typedef void (*ds_loop_fn)(void *arg);
/* status: 0 when work_fn ran, DS_ECLOSED when the job was cancelled before
 * it started (only while the loop is being freed). */
typedef void (*ds_loop_done_fn)(void *arg, int status);
typedef void (*ds_signal_fn)(void *arg, int signum);

/* Closures waiting in the post queue at most; past it ds_loop_post fails. */
#define DS_LOOP_POST_MAX 16384u
/* Thread-pool jobs in flight at most; past it ds_loop_work fails. */
#define DS_LOOP_WORK_MAX 65536u

/* Creates a loop; *out is owned by the caller (ds_loop_free).
 * Returns 0, DS_ENOMEM, or DS_EIO when libuv cannot set up. */
int ds_loop_new(ds_loop **out) DS_MUST_USE;
/* Frees the loop. Every ds_net and ds_timer on it must already be freed, and
 * ds_loop_run must not be executing. Closures still in the post queue are
 * run once (so their arguments are not leaked), thread-pool jobs are waited
 * for and their done callbacks run. Later ds_loop_post calls from other
 * threads are a bug: the caller joins those threads first. */
void ds_loop_free(ds_loop *loop);
/* Runs the loop on the calling thread until ds_loop_stop. Returns 0, or
 * DS_ESTATE when called while already running (re-entrantly). */
int ds_loop_run(ds_loop *loop) DS_MUST_USE;
/* Any thread. Makes ds_loop_run return after the current callback; a stop
 * requested before ds_loop_run starts makes the next run return at once. */
void ds_loop_stop(ds_loop *loop);
/* Loop time in ms (monotonic, cached at the start of each loop iteration). */
uint64_t ds_loop_now_ms(const ds_loop *loop);

/* Any thread. Queues fn(arg) to run on the loop thread, in FIFO order.
 * arg is passed through untouched (ownership is the caller's business).
 * Returns 0, DS_EFULL when DS_LOOP_POST_MAX closures are waiting (fn will
 * not run: the caller still owns arg), DS_ECLOSED once the loop is freeing. */
int ds_loop_post(ds_loop *loop, ds_loop_fn fn, void *arg) DS_MUST_USE;

/* Runs work(arg) on a thread-pool thread, then done(arg, status) on the loop
 * thread. work must not touch loop-thread state. Returns 0, DS_EFULL when
 * DS_LOOP_WORK_MAX jobs are in flight, DS_ENOMEM; on error neither callback
 * is ever called. */
int ds_loop_work(ds_loop *loop, ds_loop_fn work, ds_loop_done_fn done, void *arg) DS_MUST_USE;

/* Calls cb(arg, signum) on the loop thread on each SIGINT or SIGTERM (the
 * default action, terminating the process, is replaced). Calling it again
 * replaces the callback. The signal watchers do not keep the loop running.
 * Returns 0 or DS_EIO. */
int ds_loop_on_signal(ds_loop *loop, ds_signal_fn cb, void *arg) DS_MUST_USE;

/* Timers. A timer is created stopped; start/stop may be repeated; a running
 * timer is restarted by start. Owned by the caller, freed by ds_timer_free
 * (which may be called from the timer's own callback). */
int ds_timer_new(ds_timer **out, ds_loop *loop) DS_MUST_USE;
/* Calls cb(arg) after timeout_ms, then every repeat_ms if repeat_ms > 0. */
void ds_timer_start(ds_timer *t, uint64_t timeout_ms, uint64_t repeat_ms, ds_loop_fn cb, void *arg);
void ds_timer_stop(ds_timer *t);
void ds_timer_free(ds_timer *t); /* NULL is a no-op */

/* ----------------------------------------------------------------- net --- */

typedef struct ds_net ds_net;

#define DS_NET_PEERS_MAX 128        /* validators in one set */
#define DS_NET_HOST_MAX 63          /* numeric IPv4 or IPv6 address */
#define DS_NET_CHAIN_ID_MAX 64
#define DS_NET_FRAME_HARD_MAX (64u << 20) /* largest frame_max_bytes accepted */

/* One validator. host must be a numeric address ("127.0.0.1", "::1"); names
 * are resolved by the caller (node config) before the net is created. */
struct ds_net_peer_cfg {
	uint8_t pk[DS_PK_LEN];
	char host[DS_NET_HOST_MAX + 1];
	uint16_t port;
};

struct ds_net_config {
	/* Own Ed25519 secret key (seed||pk); copied and wiped on ds_net_free. */
	const uint8_t *sk;
	/* 1..DS_NET_CHAIN_ID_MAX bytes, NUL-terminated; copied. */
	const char *chain_id;
	/* Address to listen on (numeric); port 0 picks a free port, see
	 * ds_net_listen_port. Copied. */
	const char *listen_host;
	uint16_t listen_port;
	/* The whole validator set, this node included (found by its public key);
	 * 2..DS_NET_PEERS_MAX entries, no duplicate keys; copied. Peer indexes
	 * in the API are indexes into this array. */
	const struct ds_net_peer_cfg *peers;
	size_t n_peers;
	/* Largest message (plaintext) accepted or sent; 1..DS_NET_FRAME_HARD_MAX. */
	uint32_t frame_max_bytes;
	/* Per-peer send queue bound (encrypted bytes and frames waiting for the
	 * socket); a send past either bound fails with DS_EFULL. */
	size_t queue_max_bytes;
	uint32_t queue_max_frames;
	/* Reconnect back-off: first retry after about backoff_min_ms, doubling up
	 * to backoff_max_ms; back to the minimum after a link stayed up for
	 * backoff_max_ms. 1 <= min <= max. */
	uint32_t backoff_min_ms;
	uint32_t backoff_max_ms;
	/* A link that has not completed its handshake by then is closed. > 0. */
	uint32_t handshake_timeout_ms;
	/* 0: off. Otherwise an empty keep-alive frame goes out after this long
	 * without sending, and a link that received nothing for 3x this long is
	 * closed (half-open TCP links otherwise go unnoticed). */
	uint32_t keepalive_ms;

	/* Callbacks, on the loop thread; any may be NULL. ctx is passed back.
	 * on_message: msg is borrowed until the callback returns. Callbacks may
	 * call ds_net_send/broadcast/stats but must not free the net. */
	void (*on_peer_up)(void *ctx, size_t peer);
	void (*on_peer_down)(void *ctx, size_t peer);
	void (*on_message)(void *ctx, size_t peer, const uint8_t *msg, size_t len);
	void *ctx;
};

/* Fills the defaults: 4 MiB frames, 64 MiB / 65536 frames queue,
 * back-off 100..5000 ms, handshake 5000 ms, keep-alive 2000 ms. The caller
 * sets sk, chain_id, listen address, peers and callbacks. */
void ds_net_config_default(struct ds_net_config *cfg);

/* Validates cfg, binds and listens, and starts dialling the peers this node
 * dials (those with a greater public key, compared as bytes: the lower key
 * always dials, so each pair keeps exactly one link). *out is owned by the
 * caller (ds_net_free). Returns 0, DS_EINVAL (bad config: unknown own key,
 * duplicate keys, bad address, bad limits), DS_EIO (bind/listen failed),
 * DS_ENOMEM. */
int ds_net_new(ds_net **out, ds_loop *loop, const struct ds_net_config *cfg) DS_MUST_USE;
/* Closes every link (no on_peer_down callbacks), wipes keys, frees. Must not
 * be called from a net callback nor while ds_loop_run is executing. NULL ok. */
void ds_net_free(ds_net *net);

/* The port actually bound (useful with listen_port 0). */
uint16_t ds_net_listen_port(const ds_net *net);
/* Own index in the validator list. */
size_t ds_net_self(const ds_net *net);

/* Queues msg (copied, encrypted at once) for peer. Returns 0; DS_EINVAL for a
 * bad index, own index, or len 0 or > frame_max_bytes; DS_ECLOSED when the
 * peer is not connected (nothing is queued across reconnects); DS_EFULL when
 * the peer's queue bound is hit (the message is dropped and counted). */
int ds_net_send(ds_net *net, size_t peer, const uint8_t *msg, size_t len) DS_MUST_USE;
/* Sends to every connected peer but self. Returns the number of peers the
 * message was queued to (>= 0), or DS_EINVAL for a bad length. Peers whose
 * queue is full are skipped and counted as drops. */
int ds_net_broadcast(ds_net *net, const uint8_t *msg, size_t len);

bool ds_net_peer_connected(const ds_net *net, size_t peer);

struct ds_net_stats {
	uint32_t peers_connected;
	uint64_t bytes_in, bytes_out;     /* wire bytes, handshake included */
	uint64_t frames_in, frames_out;   /* data frames (keep-alives excluded) */
	uint64_t frames_dropped;          /* sends refused with DS_EFULL */
	uint64_t handshakes_ok;
	uint64_t handshake_failures;      /* bad key, bad signature, timeout ... */
	uint64_t link_errors;             /* bad frame after the handshake */
	uint64_t dials;                   /* outbound connection attempts */
};
void ds_net_stats(const ds_net *net, struct ds_net_stats *out);

#endif
