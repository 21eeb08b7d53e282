/* net_peer — the validator mesh: listening, dialling with back-off, the
 * handshake state machine, framed encrypted links, batched writes.
 *
 * A link (struct conn) goes CONNECTING -> HELLO -> AUTH -> READY -> CLOSING.
 * Whatever goes wrong, conn_close is the single way out: it unhooks the link
 * from its peer, closes both libuv handles, and the memory goes when the last
 * close callback runs. */
#include <string.h>

#include "net/net_internal.h"

#define MOD "net"
#define RBUF_INIT (64u << 10)
#define LISTEN_BACKLOG 64

enum conn_state { CS_CONNECTING, CS_HELLO, CS_AUTH, CS_READY, CS_CLOSING };
/* How a closing link is accounted for. */
enum close_kind { CK_QUIET, CK_HANDSHAKE, CK_REFUSED, CK_LINK };

struct conn {
	struct ds_net *net;
	struct conn *prev, *next; /* every link of the net */
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake deadline, then keep-alive ticks */
	uv_connect_t creq;
	uv_write_t wreq;
	int handles_open;
	enum conn_state st;
	bool outbound;
	bool writing;
	int peer; /* dialled peer, or the one authenticated; -1 before */
	uint64_t ready_at_ms, last_rx_ms, last_tx_ms;
	char remote[80]; /* "ip:port" for logs */

	uint8_t eph_sk[DS_X25519_LEN], eph_pk[DS_X25519_LEN];
	struct ds__hs_keys keys; /* send/recv keys; transcript+challenge during the handshake */
	uint64_t send_ctr, recv_ctr;

	uint8_t *rbuf;
	size_t rlen, rcap;
	struct ds_buf pend, fly; /* frames waiting / frames handed to uv_write */
	uint32_t pend_frames, fly_frames;
};

struct peer {
	struct ds_net *net;
	struct ds_net_peer_cfg cfg;
	struct sockaddr_storage addr;
	bool dial;          /* our key is lower: we dial this peer */
	struct conn *conn;  /* the READY link, or NULL */
	struct conn *dialing;
	uv_timer_t retry;
	uint32_t backoff_ms;
};

struct ds_net {
	ds_loop *loop;
	uv_loop_t *uv;
	struct ds_net_config cfg; /* pointer fields point at the copies below */
	uint8_t sk[DS_SK_LEN];
	uint8_t pk[DS_PK_LEN];
	char chain_id[DS_NET_CHAIN_ID_MAX + 1];
	char listen_host[DS_NET_HOST_MAX + 1];
	struct peer *peers;
	size_t n_peers, self;
	uv_tcp_t listener;
	uv_prepare_t flusher; /* coalesces one loop iteration's sends into one write */
	uint16_t port;
	int handles_open;
	struct conn *conns;
	size_t n_conns, n_unauth, unauth_max;
	bool freeing;
	struct ds_net_stats st;
};

static void conn_close(struct conn *c, enum close_kind kind, const char *reason, int uverr);
static void schedule_retry(struct ds_net *net, struct peer *p, uint64_t uptime_ms);

static void pk_short(char out[17], const uint8_t *pk)
{
	ds_hex_encode(out, pk, 8);
}

/* ------------------------------------------------------------ writing --- */

static void on_write(uv_write_t *req, int status);

static void conn_flush(struct conn *c)
{
	if (c->writing || c->pend.len == 0 || c->st == CS_CLOSING || c->st == CS_CONNECTING)
		return;
	struct ds_buf t = c->fly;
	c->fly = c->pend;
	c->pend = t;
	c->fly_frames = c->pend_frames;
	c->pend_frames = 0;
	uv_buf_t b = uv_buf_init((char *)c->fly.data, (unsigned)c->fly.len);
	int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc != 0) {
		conn_close(c, CK_LINK, "write failed", rc);
		return;
	}
	c->writing = true;
}

static void on_write(uv_write_t *req, int status)
{
	struct conn *c = req->data;
	c->writing = false;
	if (status == 0)
		c->net->st.bytes_out += c->fly.len;
	ds_buf_reset(&c->fly);
	c->fly_frames = 0;
	if (c->st == CS_CLOSING)
		return;
	if (status < 0) {
		conn_close(c, CK_QUIET, "write failed", status);
		return;
	}
	conn_flush(c);
}

static void on_flush(uv_prepare_t *h)
{
	struct ds_net *net = h->data;
	for (struct conn *c = net->conns; c; c = c->next)
		conn_flush(c);
	uv_prepare_stop(h);
}

static void mark_dirty(struct conn *c)
{
	c->last_tx_ms = uv_now(c->net->uv);
	uv_prepare_start(&c->net->flusher, on_flush);
}

/* Encrypts msg as the next frame into the pending batch. Bounds are the
 * caller's business (handshake and keep-alive frames bypass them). */
static int conn_queue_frame(struct conn *c, const uint8_t *msg, size_t len)
{
	/* The counter never wraps: a link that used 2^64-1 nonces is closed. */
	if (c->send_ctr == UINT64_MAX) {
		conn_close(c, CK_LINK, "send counter exhausted", 0);
		return DS_ECLOSED;
	}
	size_t need = DS__FRAME_HDR_LEN + len + DS_AEAD_TAG_LEN;
	if (ds_buf_reserve(&c->pend, need) != 0) {
		conn_close(c, CK_LINK, "out of memory", 0);
		return DS_ENOMEM;
	}
	int rc = ds__frame_seal(c->pend.data + c->pend.len, msg, len, c->send_ctr, c->keys.send_key);
	if (rc != 0)
		return rc;
	c->send_ctr++;
	c->pend.len += need;
	c->pend_frames++;
	mark_dirty(c);
	return 0;
}

/* ------------------------------------------------------------ closing --- */

static void conn_free_mem(struct conn *c)
{
	struct ds_net *net = c->net;
	if (c->prev)
		c->prev->next = c->next;
	else
		net->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	net->n_conns--;
	ds_memzero(c->eph_sk, sizeof(c->eph_sk));
	ds_memzero(&c->keys, sizeof(c->keys));
	free(c->rbuf);
	ds_buf_free(&c->pend);
	ds_buf_free(&c->fly);
	free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->handles_open == 0)
		conn_free_mem(c);
}

static void conn_close(struct conn *c, enum close_kind kind, const char *reason, int uverr)
{
	if (c->st == CS_CLOSING)
		return;
	struct ds_net *net = c->net;
	enum conn_state was = c->st;
	c->st = CS_CLOSING;
	struct peer *p = c->peer >= 0 ? &net->peers[c->peer] : NULL;
	char who[17] = "-";
	if (p)
		pk_short(who, p->cfg.pk);
	const char *uvmsg = uverr ? uv_strerror(uverr) : "-";
	if (kind == CK_REFUSED) {
		net->st.handshake_failures++; /* logged by the caller, with the key */
	} else if (kind == CK_HANDSHAKE) {
		net->st.handshake_failures++;
		DS_LOGW(MOD, "handshake failed", " reason=\"%s\" remote=%s peer=%s err=\"%s\"", reason,
			c->remote, who, uvmsg);
	} else if (kind == CK_LINK) {
		net->st.link_errors++;
		DS_LOGW(MOD, "link closed on error", " reason=\"%s\" remote=%s peer=%s err=\"%s\"",
			reason, c->remote, who, uvmsg);
	} else if (was == CS_READY) {
		DS_LOGI(MOD, "link closed", " reason=\"%s\" remote=%s peer=%s err=\"%s\"", reason,
			c->remote, who, uvmsg);
	} else {
		DS_LOGD(MOD, "connection attempt ended", " reason=\"%s\" remote=%s err=\"%s\"", reason,
			c->remote, uvmsg);
	}
	bool was_up = false;
	if (p && p->conn == c) {
		p->conn = NULL;
		was_up = true;
	}
	if (p && p->dialing == c)
		p->dialing = NULL;
	if (!c->outbound && was != CS_READY)
		net->n_unauth--;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	if (net->freeing)
		return;
	if (was_up && net->cfg.on_peer_down)
		net->cfg.on_peer_down(net->cfg.ctx, (size_t)c->peer);
	if (c->outbound && p && !p->conn && !p->dialing)
		schedule_retry(net, p, was == CS_READY ? uv_now(net->uv) - c->ready_at_ms : 0);
}

/* ---------------------------------------------------------- handshake --- */

static void on_timer(uv_timer_t *h)
{
	struct conn *c = h->data;
	struct ds_net *net = c->net;
	if (c->st != CS_READY) {
		conn_close(c, CK_HANDSHAKE, "handshake timeout", 0);
		return;
	}
	uint64_t now = uv_now(net->uv), ka = net->cfg.keepalive_ms;
	if (now - c->last_rx_ms > 3 * ka) {
		conn_close(c, CK_LINK, "idle timeout", 0);
		return;
	}
	if (now - c->last_tx_ms >= ka && c->pend.len == 0 && !c->writing)
		(void)conn_queue_frame(c, NULL, 0);
}

static void conn_start(struct conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static struct conn *conn_new(struct ds_net *net, bool outbound, int peer)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rcap = RBUF_INIT;
	if (c->rcap > net->cfg.frame_max_bytes + DS__FRAME_HDR_LEN + DS_AEAD_TAG_LEN + DS__HS_HELLO_LEN)
		c->rcap = net->cfg.frame_max_bytes + DS__FRAME_HDR_LEN + DS_AEAD_TAG_LEN + DS__HS_HELLO_LEN;
	if (c->rcap < DS__HS_HELLO_LEN + DS__FRAME_HDR_LEN + DS__AUTH_PLAIN_LEN + DS_AEAD_TAG_LEN)
		c->rcap = DS__HS_HELLO_LEN + DS__FRAME_HDR_LEN + DS__AUTH_PLAIN_LEN + DS_AEAD_TAG_LEN;
	c->rbuf = malloc(c->rcap);
	if (!c->rbuf || uv_tcp_init(net->uv, &c->tcp) != 0) {
		free(c->rbuf);
		free(c);
		return NULL;
	}
	DS_ASSERT(uv_timer_init(net->uv, &c->timer) == 0);
	c->handles_open = 2;
	c->tcp.data = c;
	c->timer.data = c;
	c->creq.data = c;
	c->wreq.data = c;
	c->net = net;
	c->outbound = outbound;
	c->peer = peer;
	c->st = CS_CONNECTING;
	ds_buf_init(&c->pend);
	ds_buf_init(&c->fly);
	snprintf(c->remote, sizeof(c->remote), "-");
	c->next = net->conns;
	if (net->conns)
		net->conns->prev = c;
	net->conns = c;
	net->n_conns++;
	uv_timer_start(&c->timer, on_timer, net->cfg.handshake_timeout_ms, 0);
	return c;
}

static void set_remote(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[48] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			uv_ip4_name(a, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(a, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		}
	}
	snprintf(c->remote, sizeof(c->remote), "%s:%d", ip, port);
}

static void conn_start(struct conn *c)
{
	set_remote(c);
	(void)uv_tcp_nodelay(&c->tcp, 1);
	if (ds_x25519_keypair(c->eph_pk, c->eph_sk) != 0) {
		conn_close(c, CK_HANDSHAKE, "ephemeral key generation failed", 0);
		return;
	}
	uint8_t hello[DS__HS_HELLO_LEN];
	hello[0] = DS__HS_VERSION;
	memcpy(hello + 1, c->eph_pk, DS_X25519_LEN);
	ds_buf_append(&c->pend, hello, sizeof(hello));
	if (c->pend.err) {
		conn_close(c, CK_HANDSHAKE, "out of memory", 0);
		return;
	}
	c->st = CS_HELLO;
	c->last_rx_ms = uv_now(c->net->uv);
	mark_dirty(c);
	int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc != 0)
		conn_close(c, CK_QUIET, "read start failed", rc);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	if (c->st == CS_CLOSING)
		return;
	if (status < 0) {
		conn_close(c, CK_QUIET, "connect failed", status);
		return;
	}
	conn_start(c);
}

static void handle_hello(struct conn *c, const uint8_t *hello)
{
	struct ds_net *net = c->net;
	if (hello[0] != DS__HS_VERSION) {
		conn_close(c, CK_HANDSHAKE, "unsupported handshake version", 0);
		return;
	}
	int rc = ds__hs_derive(&c->keys, net->chain_id, c->eph_sk, c->eph_pk, hello + 1);
	ds_memzero(c->eph_sk, sizeof(c->eph_sk));
	if (rc != 0) {
		conn_close(c, CK_HANDSHAKE,
			   rc == DS_ECRYPTO ? "all-zero shared secret" : "reflected ephemeral key", 0);
		return;
	}
	uint8_t auth[DS__AUTH_PLAIN_LEN], signed_bytes[DS__AUTH_SIGNED_LEN];
	memcpy(auth, net->pk, DS_PK_LEN);
	ds__hs_signed_bytes(signed_bytes, &c->keys);
	ds_ed25519_sign(auth + DS_PK_LEN, signed_bytes, sizeof(signed_bytes), net->sk);
	c->st = CS_AUTH;
	(void)conn_queue_frame(c, auth, sizeof(auth));
}

static int find_peer(const struct ds_net *net, const uint8_t *pk)
{
	for (size_t i = 0; i < net->n_peers; i++)
		if (memcmp(net->peers[i].cfg.pk, pk, DS_PK_LEN) == 0)
			return (int)i;
	return -1;
}

static void handle_auth(struct conn *c, const uint8_t *auth)
{
	struct ds_net *net = c->net;
	const uint8_t *id = auth, *sig = auth + DS_PK_LEN;
	char who[17];
	pk_short(who, id);
	int idx = find_peer(net, id);
	const char *refuse = NULL;
	if (idx < 0)
		refuse = "identity key not in the validator set";
	else if ((size_t)idx == net->self)
		refuse = "peer presented our own identity key";
	else if (c->outbound && idx != c->peer)
		refuse = "identity key does not match the dialled validator";
	else if (!c->outbound && net->peers[idx].dial)
		refuse = "peer has the higher key and must be dialled by us";
	if (!refuse) {
		uint8_t signed_bytes[DS__AUTH_SIGNED_LEN];
		ds__hs_signed_bytes(signed_bytes, &c->keys);
		if (ds_ed25519_verify(sig, signed_bytes, sizeof(signed_bytes), id) != 0)
			refuse = "bad handshake signature";
	}
	if (refuse) {
		DS_LOGW(MOD, "peer refused", " reason=\"%s\" remote=%s key=%s", refuse, c->remote, who);
		conn_close(c, CK_REFUSED, refuse, 0);
		return;
	}
	ds_memzero(c->keys.challenge, sizeof(c->keys.challenge));
	struct peer *p = &net->peers[idx];
	/* A newer link from the same validator wins: the old one is most likely
	 * a half-open leftover of a restart. */
	if (p->conn)
		conn_close(p->conn, CK_QUIET, "replaced by a newer link", 0);
	if (!c->outbound)
		net->n_unauth--;
	c->peer = idx;
	c->st = CS_READY;
	p->conn = c;
	if (p->dialing == c)
		p->dialing = NULL;
	c->ready_at_ms = uv_now(net->uv);
	net->st.handshakes_ok++;
	uv_timer_stop(&c->timer);
	if (net->cfg.keepalive_ms)
		uv_timer_start(&c->timer, on_timer, net->cfg.keepalive_ms, net->cfg.keepalive_ms);
	DS_LOGI(MOD, "peer connected", " peer=%d key=%s remote=%s dir=%s", idx, who, c->remote,
		c->outbound ? "out" : "in");
	if (net->cfg.on_peer_up)
		net->cfg.on_peer_up(net->cfg.ctx, (size_t)idx);
}

/* ------------------------------------------------------------ reading --- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	/* parse() always leaves room: a partial frame is smaller than rcap. */
	DS_ASSERT(c->rlen < c->rcap);
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void parse(struct conn *c)
{
	struct ds_net *net = c->net;
	size_t off = 0, want = 0;
	while (c->st != CS_CLOSING) {
		uint8_t *p = c->rbuf + off;
		size_t avail = c->rlen - off;
		if (c->st == CS_HELLO) {
			if (avail < DS__HS_HELLO_LEN)
				break;
			handle_hello(c, p);
			off += DS__HS_HELLO_LEN;
			continue;
		}
		if (avail < DS__FRAME_HDR_LEN)
			break;
		/* The length is checked before any byte of the body is awaited or
		 * any memory is allocated for it. */
		uint32_t clen = ds_get_u32be(p);
		size_t max = c->st == CS_AUTH ? DS__AUTH_PLAIN_LEN + DS_AEAD_TAG_LEN
					     : (size_t)net->cfg.frame_max_bytes + DS_AEAD_TAG_LEN;
		size_t min = c->st == CS_AUTH ? max : DS_AEAD_TAG_LEN;
		if (clen < min || clen > max) {
			conn_close(c, c->st == CS_AUTH ? CK_HANDSHAKE : CK_LINK, "bad frame length", 0);
			return;
		}
		if (avail < DS__FRAME_HDR_LEN + clen) {
			want = DS__FRAME_HDR_LEN + clen;
			break;
		}
		if (c->recv_ctr == UINT64_MAX) {
			conn_close(c, CK_LINK, "receive counter exhausted", 0);
			return;
		}
		if (ds__frame_open(p, p + DS__FRAME_HDR_LEN, clen, c->recv_ctr, c->keys.recv_key) != 0) {
			if (c->st == CS_AUTH)
				conn_close(c, CK_HANDSHAKE,
					   "auth frame does not decrypt (other chain id or tampering)", 0);
			else
				conn_close(c, CK_LINK,
					   "frame does not decrypt (tampered, replayed or reordered)", 0);
			return;
		}
		c->recv_ctr++;
		off += DS__FRAME_HDR_LEN + clen;
		size_t mlen = clen - DS_AEAD_TAG_LEN;
		if (c->st == CS_AUTH) {
			handle_auth(c, p + DS__FRAME_HDR_LEN);
		} else if (mlen > 0) {
			net->st.frames_in++;
			if (net->cfg.on_message)
				net->cfg.on_message(net->cfg.ctx, (size_t)c->peer, p + DS__FRAME_HDR_LEN,
						    mlen);
		}
	}
	if (c->st == CS_CLOSING)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (want >= c->rcap) {
		/* Grow to the validated size of the frame being received. */
		size_t cap = c->rcap * 2;
		if (cap < want + 1)
			cap = want + 1;
		size_t lim = (size_t)net->cfg.frame_max_bytes + DS__FRAME_HDR_LEN + DS_AEAD_TAG_LEN + 1;
		if (cap > lim)
			cap = lim;
		uint8_t *nb = realloc(c->rbuf, cap);
		if (!nb) {
			conn_close(c, CK_LINK, "out of memory", 0);
			return;
		}
		c->rbuf = nb;
		c->rcap = cap;
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (c->st == CS_CLOSING)
		return;
	if (nread < 0) {
		enum close_kind k = c->st == CS_READY ? CK_QUIET : CK_HANDSHAKE;
		conn_close(c, k, nread == UV_EOF ? "peer closed the connection" : "read failed",
			   nread == UV_EOF ? 0 : (int)nread);
		return;
	}
	if (nread == 0)
		return;
	c->net->st.bytes_in += (uint64_t)nread;
	c->rlen += (size_t)nread;
	c->last_rx_ms = uv_now(c->net->uv);
	parse(c);
}

/* ----------------------------------------------------- dial and accept --- */

static void dial(struct ds_net *net, struct peer *p)
{
	int idx = (int)(p - net->peers);
	struct conn *c = conn_new(net, true, idx);
	if (!c) {
		DS_LOGE(MOD, "cannot allocate a connection", " peer=%d", idx);
		schedule_retry(net, p, 0);
		return;
	}
	net->st.dials++;
	p->dialing = c;
	snprintf(c->remote, sizeof(c->remote), "%s:%u", p->cfg.host, (unsigned)p->cfg.port);
	int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&p->addr, on_connect);
	if (rc != 0)
		conn_close(c, CK_QUIET, "connect failed", rc);
}

static void on_retry(uv_timer_t *h)
{
	struct peer *p = h->data;
	if (!p->conn && !p->dialing && !p->net->freeing)
		dial(p->net, p);
}

static void schedule_retry(struct ds_net *net, struct peer *p, uint64_t uptime_ms)
{
	if (uptime_ms >= net->cfg.backoff_max_ms)
		p->backoff_ms = net->cfg.backoff_min_ms;
	/* Jitter in [delay/2, delay] keeps restarted nodes from dialling in step. */
	uint32_t delay = p->backoff_ms;
	delay = delay / 2 + (uint32_t)(ds_random_u64() % (delay / 2 + 1));
	uint64_t next = (uint64_t)p->backoff_ms * 2;
	p->backoff_ms = next > net->cfg.backoff_max_ms ? net->cfg.backoff_max_ms : (uint32_t)next;
	uv_timer_start(&p->retry, on_retry, delay, 0);
}

static void on_accept(uv_stream_t *server, int status)
{
	struct ds_net *net = server->data;
	if (status < 0) {
		DS_LOGW(MOD, "accept failed", " err=\"%s\"", uv_strerror(status));
		return;
	}
	struct conn *c = conn_new(net, false, -1);
	if (!c) {
		DS_LOGE(MOD, "cannot allocate a connection", "%s", "");
		return;
	}
	net->n_unauth++;
	int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
	if (rc != 0) {
		conn_close(c, CK_QUIET, "accept failed", rc);
		return;
	}
	/* Unauthenticated links are bounded so a flood of idle sockets cannot
	 * exhaust memory; they also die at the handshake deadline. */
	if (net->n_unauth > net->unauth_max) {
		set_remote(c);
		conn_close(c, CK_HANDSHAKE, "too many unauthenticated connections", 0);
		return;
	}
	conn_start(c);
}

/* -------------------------------------------------------------- setup --- */

static int parse_addr(struct sockaddr_storage *out, const char *host, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
		return 0;
	return DS_EINVAL;
}

void ds_net_config_default(struct ds_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen_host = "127.0.0.1";
	cfg->frame_max_bytes = 4u << 20;
	cfg->queue_max_bytes = 64u << 20;
	cfg->queue_max_frames = 65536;
	cfg->backoff_min_ms = 100;
	cfg->backoff_max_ms = 5000;
	cfg->handshake_timeout_ms = 5000;
	cfg->keepalive_ms = 2000;
}

static int check_config(const struct ds_net_config *cfg)
{
	if (!cfg->sk || !cfg->chain_id || !cfg->listen_host || !cfg->peers)
		return DS_EINVAL;
	size_t cid = strlen(cfg->chain_id);
	if (cid == 0 || cid > DS_NET_CHAIN_ID_MAX || strlen(cfg->listen_host) > DS_NET_HOST_MAX)
		return DS_EINVAL;
	if (cfg->n_peers < 2 || cfg->n_peers > DS_NET_PEERS_MAX)
		return DS_EINVAL;
	if (cfg->frame_max_bytes == 0 || cfg->frame_max_bytes > DS_NET_FRAME_HARD_MAX)
		return DS_EINVAL;
	/* The largest frame must fit an empty queue. */
	if (cfg->queue_max_bytes < (size_t)cfg->frame_max_bytes + DS__FRAME_HDR_LEN + DS_AEAD_TAG_LEN ||
	    cfg->queue_max_frames == 0 || cfg->queue_max_bytes > (1u << 30))
		return DS_EINVAL;
	if (cfg->backoff_min_ms == 0 || cfg->backoff_min_ms > cfg->backoff_max_ms ||
	    cfg->backoff_max_ms > 24u * 3600 * 1000)
		return DS_EINVAL;
	if (cfg->handshake_timeout_ms == 0 || cfg->keepalive_ms > 24u * 3600 * 1000)
		return DS_EINVAL;
	return 0;
}

static void net_handle_closed(uv_handle_t *h)
{
	struct ds_net *net = h->data;
	net->handles_open--;
}

static void retry_closed(uv_handle_t *h)
{
	struct peer *p = h->data;
	p->net->handles_open--;
}

int ds_net_new(ds_net **out, ds_loop *loop, const struct ds_net_config *cfg)
{
	*out = NULL;
	int rc = check_config(cfg);
	if (rc != 0)
		return rc;
	uint8_t sk2[DS_SK_LEN];
	ds_net *net = calloc(1, sizeof(*net));
	if (!net)
		return DS_ENOMEM;
	net->peers = calloc(cfg->n_peers, sizeof(*net->peers));
	if (!net->peers) {
		free(net);
		return DS_ENOMEM;
	}
	net->loop = loop;
	net->uv = ds__loop_uv(loop);
	net->cfg = *cfg;
	memcpy(net->sk, cfg->sk, DS_SK_LEN);
	/* The public half must belong to the seed: a mismatched key would sign
	 * handshakes no peer accepts. */
	rc = ds_ed25519_seed_keypair(net->pk, sk2, cfg->sk);
	ds_memzero(sk2, sizeof(sk2));
	if (rc != 0 || memcmp(net->pk, cfg->sk + DS_SEED_LEN, DS_PK_LEN) != 0) {
		rc = DS_EINVAL;
		goto fail;
	}
	snprintf(net->chain_id, sizeof(net->chain_id), "%s", cfg->chain_id);
	snprintf(net->listen_host, sizeof(net->listen_host), "%s", cfg->listen_host);
	net->cfg.sk = net->sk;
	net->cfg.chain_id = net->chain_id;
	net->cfg.listen_host = net->listen_host;
	net->cfg.peers = NULL;
	net->n_peers = cfg->n_peers;
	net->unauth_max = 2 * cfg->n_peers + 8;
	int self = -1;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct peer *p = &net->peers[i];
		p->net = net;
		p->cfg = cfg->peers[i];
		p->cfg.host[DS_NET_HOST_MAX] = 0;
		p->backoff_ms = cfg->backoff_min_ms;
		for (size_t j = 0; j < i; j++) {
			if (memcmp(net->peers[j].cfg.pk, p->cfg.pk, DS_PK_LEN) == 0) {
				rc = DS_EINVAL;
				goto fail;
			}
		}
		int cmp = memcmp(net->pk, p->cfg.pk, DS_PK_LEN);
		if (cmp == 0) {
			self = (int)i;
			continue;
		}
		p->dial = cmp < 0;
		if (p->dial && (p->cfg.port == 0 || parse_addr(&p->addr, p->cfg.host, p->cfg.port) != 0)) {
			rc = DS_EINVAL;
			goto fail;
		}
	}
	if (self < 0) {
		rc = DS_EINVAL;
		goto fail;
	}
	net->self = (size_t)self;

	struct sockaddr_storage la;
	if (parse_addr(&la, net->listen_host, cfg->listen_port) != 0) {
		rc = DS_EINVAL;
		goto fail;
	}
	DS_ASSERT(uv_prepare_init(net->uv, &net->flusher) == 0);
	net->flusher.data = net;
	net->handles_open++;
	DS_ASSERT(uv_tcp_init(net->uv, &net->listener) == 0);
	net->listener.data = net;
	net->handles_open++;
	for (size_t i = 0; i < net->n_peers; i++) {
		struct peer *p = &net->peers[i];
		if (!p->dial)
			continue;
		DS_ASSERT(uv_timer_init(net->uv, &p->retry) == 0);
		p->retry.data = p;
		net->handles_open++;
		uv_timer_start(&p->retry, on_retry, 0, 0);
	}
	int uvrc = uv_tcp_bind(&net->listener, (const struct sockaddr *)&la, 0);
	if (uvrc == 0)
		uvrc = uv_listen((uv_stream_t *)&net->listener, LISTEN_BACKLOG, on_accept);
	if (uvrc != 0) {
		DS_LOGE(MOD, "cannot listen", " host=%s port=%u err=\"%s\"", net->listen_host,
			(unsigned)cfg->listen_port, uv_strerror(uvrc));
		ds_net_free(net);
		return DS_EIO;
	}
	struct sockaddr_storage bound;
	int blen = sizeof(bound);
	DS_ASSERT(uv_tcp_getsockname(&net->listener, (struct sockaddr *)&bound, &blen) == 0);
	net->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
						: ntohs(((struct sockaddr_in *)&bound)->sin_port);
	char me[17];
	pk_short(me, net->pk);
	DS_LOGI(MOD, "listening", " host=%s port=%u self=%d key=%s peers=%zu", net->listen_host,
		(unsigned)net->port, self, me, net->n_peers);
	*out = net;
	return 0;
fail:
	ds_memzero(net->sk, sizeof(net->sk));
	free(net->peers);
	free(net);
	return rc;
}

void ds_net_free(ds_net *net)
{
	if (!net)
		return;
	net->freeing = true;
	/* conn_close unlinks nothing from the list; memory goes in callbacks. */
	for (struct conn *c = net->conns; c; c = c->next)
		conn_close(c, CK_QUIET, "shutting down", 0);
	for (size_t i = 0; i < net->n_peers; i++)
		if (net->peers[i].dial)
			uv_close((uv_handle_t *)&net->peers[i].retry, retry_closed);
	uv_close((uv_handle_t *)&net->listener, net_handle_closed);
	uv_close((uv_handle_t *)&net->flusher, net_handle_closed);
	/* Close callbacks run in the loop's closing phase: one or two turns. */
	for (int i = 0; i < 100000 && (net->n_conns > 0 || net->handles_open > 0); i++)
		uv_run(net->uv, UV_RUN_NOWAIT);
	DS_ASSERT(net->n_conns == 0 && net->handles_open == 0);
	ds_memzero(net->sk, sizeof(net->sk));
	free(net->peers);
	free(net);
}

uint16_t ds_net_listen_port(const ds_net *net)
{
	return net->port;
}

size_t ds_net_self(const ds_net *net)
{
	return net->self;
}

bool ds_net_peer_connected(const ds_net *net, size_t peer)
{
	return peer < net->n_peers && net->peers[peer].conn != NULL;
}

/* ------------------------------------------------------------ sending --- */

static int send_one(ds_net *net, struct peer *p, const uint8_t *msg, size_t len)
{
	struct conn *c = p->conn;
	if (!c)
		return DS_ECLOSED;
	size_t need = DS__FRAME_HDR_LEN + len + DS_AEAD_TAG_LEN;
	if (c->pend.len + c->fly.len + need > net->cfg.queue_max_bytes ||
	    c->pend_frames + c->fly_frames >= net->cfg.queue_max_frames) {
		net->st.frames_dropped++;
		return DS_EFULL;
	}
	int rc = conn_queue_frame(c, msg, len);
	if (rc == 0)
		net->st.frames_out++;
	return rc;
}

int ds_net_send(ds_net *net, size_t peer, const uint8_t *msg, size_t len)
{
	if (peer >= net->n_peers || peer == net->self || len == 0 || len > net->cfg.frame_max_bytes)
		return DS_EINVAL;
	return send_one(net, &net->peers[peer], msg, len);
}

int ds_net_broadcast(ds_net *net, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > net->cfg.frame_max_bytes)
		return DS_EINVAL;
	int n = 0;
	for (size_t i = 0; i < net->n_peers; i++)
		if (i != net->self && send_one(net, &net->peers[i], msg, len) == 0)
			n++;
	return n;
}

void ds_net_stats(const ds_net *net, struct ds_net_stats *out)
{
	*out = net->st;
	out->peers_connected = 0;
	for (size_t i = 0; i < net->n_peers; i++)
		if (net->peers[i].conn)
			out->peers_connected++;
}
