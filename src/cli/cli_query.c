/* danshari query — fetch a transaction (with its receipt), a state value, a
 * block or a history proof from a node and verify it locally against a
 * validator set the user trusts (never the node's own claims). A tiny
 * HTTP/1.1 GET client over a socket: one request per connection, bounded
 * response, bounded time. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli_json.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"
#include "node/node.h"
#include "verify/verify.h"

#define CMD "query"
#define RESP_MAX (16u << 20)   /* bytes of one HTTP response */
#define TIMEOUT_MS_DEFAULT 10000
#define TRUST_FILE_MAX (1u << 20)

/* ------------------------------------------------------------ HTTP client */

struct url {
	char host[256];
	char port[8];
};

/* "http://HOST:PORT" with an optional trailing "/"; HOST a name, an IPv4
 * literal or "[IPv6]". */
static int parse_url(struct url *u, const char *s)
{
	memset(u, 0, sizeof(*u));
	if (strncmp(s, "http://", 7) != 0)
		return DS_EINVAL;
	s += 7;
	const char *end = s + strlen(s);
	if (end > s && end[-1] == '/')
		end--;
	const char *colon;
	const char *hs = s, *he;
	if (*s == '[') {
		const char *rb = memchr(s, ']', (size_t)(end - s));
		if (!rb || rb + 1 >= end || rb[1] != ':')
			return DS_EINVAL;
		hs = s + 1;
		he = rb;
		colon = rb + 1;
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		if (!colon)
			return DS_EINVAL;
		he = colon;
	}
	size_t hl = (size_t)(he - hs), pl = (size_t)(end - colon - 1);
	if (hl == 0 || hl >= sizeof(u->host) || pl == 0 || pl > 5)
		return DS_EINVAL;
	memcpy(u->host, hs, hl);
	memcpy(u->port, colon + 1, pl);
	for (size_t i = 0; i < pl; i++)
		if (u->port[i] < '0' || u->port[i] > '9')
			return DS_EINVAL;
	long p = strtol(u->port, NULL, 10);
	if (p < 1 || p > 65535)
		return DS_EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (u->host[i] <= ' ' || u->host[i] == '/' || u->host[i] == '@')
			return DS_EINVAL;
	return 0;
}

static int remaining_ms(uint64_t deadline_ns)
{
	uint64_t now = ds_mono_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now) / 1000000u;
	return ms > 0 ? (int)ms : 1;
}

static int connect_to(const struct url *u, uint64_t deadline, char *err, size_t cap)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int g = getaddrinfo(u->host, u->port, &hints, &ai);
	if (g != 0) {
		snprintf(err, cap, "cannot resolve %s: %s", u->host, gai_strerror(g));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
			close(fd);
			fd = -1;
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (poll(&p, 1, remaining_ms(deadline)) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		snprintf(err, cap, "cannot connect to %s:%s", u->host, u->port);
	return fd;
}

/* Decodes a chunked body in place. Returns 0 or DS_EINVAL. */
static int dechunk(uint8_t *p, size_t *len)
{
	size_t in = 0, out = 0, n = *len;
	for (;;) {
		const uint8_t *crlf = memmem(p + in, n - in, "\r\n", 2);
		if (!crlf)
			return DS_EINVAL;
		size_t sz = 0;
		size_t digits = 0;
		for (const uint8_t *q = p + in; q < crlf && *q != ';'; q++, digits++) {
			int d = (*q >= '0' && *q <= '9') ? *q - '0' :
				(*q >= 'a' && *q <= 'f') ? *q - 'a' + 10 :
				(*q >= 'A' && *q <= 'F') ? *q - 'A' + 10 : -1;
			if (d < 0 || sz > (RESP_MAX >> 4))
				return DS_EINVAL;
			sz = sz * 16 + (size_t)d;
		}
		if (digits == 0)
			return DS_EINVAL;
		in = (size_t)(crlf - p) + 2;
		if (sz == 0)
			break;
		if (sz > n - in || n - in - sz < 2)
			return DS_EINVAL;
		memmove(p + out, p + in, sz);
		out += sz;
		in += sz + 2;
	}
	*len = out;
	return 0;
}

/* GET path; on success *body (heap, NUL-terminated) and *status. */
static int http_get(const struct url *u, const char *path, int timeout_ms, int *status, char **body,
		    size_t *body_len, char *err, size_t cap)
{
	uint64_t deadline = ds_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	*body = NULL;
	int fd = connect_to(u, deadline, err, cap);
	if (fd < 0)
		return DS_EIO;
	char req[2048];
	int rl = snprintf(req, sizeof(req),
			  "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: application/json\r\n"
			  "User-Agent: danshari/" DS_VERSION "\r\nConnection: close\r\n\r\n",
			  path, u->host, u->port);
	uint8_t *buf = NULL;
	int rc = DS_EIO;
	if (rl <= 0 || (size_t)rl >= sizeof(req)) {
		snprintf(err, cap, "request path too long");
		rc = DS_EINVAL;
		goto fail;
	}
	for (size_t off = 0; off < (size_t)rl;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, remaining_ms(deadline)) != 1) {
			snprintf(err, cap, "timed out sending the request");
			rc = DS_ETIMEOUT;
			goto fail;
		}
		ssize_t k = send(fd, req + off, (size_t)rl - off, MSG_NOSIGNAL);
		if (k < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, cap, "send failed: %s", strerror(errno));
			goto fail;
		}
		if (k > 0)
			off += (size_t)k;
	}
	size_t n = 0, bcap = 1u << 16;
	buf = malloc(bcap + 1);
	if (!buf) {
		rc = DS_ENOMEM;
		goto fail;
	}
	for (;;) {
		if (n == bcap) {
			if (bcap >= RESP_MAX) {
				snprintf(err, cap, "response larger than %u bytes", RESP_MAX);
				rc = DS_ETOOBIG;
				goto fail;
			}
			bcap *= 2;
			uint8_t *nb = realloc(buf, bcap + 1);
			if (!nb) {
				rc = DS_ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, remaining_ms(deadline));
		if (pr == 0 || remaining_ms(deadline) == 0) {
			snprintf(err, cap, "timed out after %d ms waiting for the node", timeout_ms);
			rc = DS_ETIMEOUT;
			goto fail;
		}
		if (pr < 0 && errno == EINTR)
			continue;
		ssize_t k = recv(fd, buf + n, bcap - n, 0);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(err, cap, "receive failed: %s", strerror(errno));
			goto fail;
		}
		n += (size_t)k;
	}
	buf[n] = 0;
	uint8_t *hend = memmem(buf, n, "\r\n\r\n", 4);
	if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !hend) {
		snprintf(err, cap, "not an HTTP response");
		rc = DS_EINVAL;
		goto fail;
	}
	*status = atoi((char *)buf + 9);
	size_t hl = (size_t)(hend - buf) + 4;
	/* Header names are case-insensitive; look for the chunked framing. */
	bool chunked = false;
	for (uint8_t *line = buf; line < hend;) {
		uint8_t *eol = memmem(line, (size_t)(hend + 2 - line), "\r\n", 2);
		if (!eol)
			break;
		*eol = 0;
		if (strncasecmp((char *)line, "transfer-encoding:", 18) == 0 &&
		    strcasestr((char *)line + 18, "chunked"))
			chunked = true;
		*eol = '\r';
		line = eol + 2;
	}
	size_t bl = n - hl;
	memmove(buf, buf + hl, bl);
	if (chunked && dechunk(buf, &bl) != 0) {
		snprintf(err, cap, "bad chunked encoding");
		rc = DS_EINVAL;
		goto fail;
	}
	buf[bl] = 0;
	*body = (char *)buf;
	*body_len = bl;
	close(fd);
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ JSON access */

/* Field readers: each returns false and names the field in why. */
static bool jget_u64(uint64_t *out, json_t *o, const char *k, char *why, size_t cap)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(why, cap, "response field \"%s\" missing or not a non-negative integer", k);
		return false;
	}
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* Hex of any length up to max into a heap buffer (*out, caller frees). */
static bool jget_hex(uint8_t **out, size_t *len, json_t *o, const char *k, size_t max, char *why,
		     size_t cap)
{
	json_t *v = json_object_get(o, k);
	size_t n = json_string_length(v);
	*out = NULL;
	if (!json_is_string(v) || n % 2 || n / 2 > max) {
		snprintf(why, cap, "response field \"%s\" missing or not hex", k);
		return false;
	}
	*out = malloc(n / 2 + 1);
	if (!*out || ds_hex_decode(*out, n / 2, json_string_value(v), n) != 0) {
		free(*out);
		*out = NULL;
		snprintf(why, cap, "response field \"%s\" is not hex", k);
		return false;
	}
	*len = n / 2;
	return true;
}

static bool jget_hash(uint8_t out[DS_HASH_LEN], json_t *o, const char *k, char *why, size_t cap)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v) || json_string_length(v) != 2 * DS_HASH_LEN ||
	    ds_hex_decode(out, DS_HASH_LEN, json_string_value(v), 2 * DS_HASH_LEN) != 0) {
		snprintf(why, cap, "response field \"%s\" missing or not a 32-byte hex hash", k);
		return false;
	}
	return true;
}

/* A JSON array of 32-byte hex hashes into path (DS_MERKLE_INCL_MAX). */
static bool jget_path(uint8_t path[][DS_HASH_LEN], size_t *n, json_t *o, const char *k, char *why,
		      size_t cap)
{
	json_t *a = json_object_get(o, k);
	if (!json_is_array(a) || json_array_size(a) > DS_MERKLE_INCL_MAX) {
		snprintf(why, cap, "response field \"%s\" missing or not a list of at most %d hashes", k,
			 DS_MERKLE_INCL_MAX);
		return false;
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *v = json_array_get(a, i);
		if (!json_is_string(v) || json_string_length(v) != 2 * DS_HASH_LEN ||
		    ds_hex_decode(path[i], DS_HASH_LEN, json_string_value(v), 2 * DS_HASH_LEN) != 0) {
			snprintf(why, cap, "response field \"%s\"[%zu] is not a 32-byte hex hash", k, i);
			return false;
		}
	}
	*n = json_array_size(a);
	return true;
}

static void short_hex(char out[17], const uint8_t *p)
{
	ds_hex_encode(out, p, 8);
}

/* The bytes of a block JSON object: header_hex, qc.hex and qc.chain (heap
 * buffers, released by parts_free). */
struct block_parts {
	uint8_t *he, *qc;
	size_t hn, qn;
	struct ds_iov chain[DS_VERIFY_CHAIN_MAX];
	uint8_t *chain_bufs[DS_VERIFY_CHAIN_MAX];
	size_t nchain;
};

static void parts_free(struct block_parts *b)
{
	free(b->he);
	free(b->qc);
	for (size_t i = 0; i < b->nchain; i++)
		free(b->chain_bufs[i]);
	memset(b, 0, sizeof(*b));
}

static bool block_parts(struct block_parts *b, json_t *blk, char *why, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (!json_is_object(blk)) {
		snprintf(why, cap, "response has no block header to verify against");
		return false;
	}
	if (!jget_hex(&b->he, &b->hn, blk, "header_hex", DS_HEADER_MAX, why, cap))
		goto fail;
	json_t *q = json_object_get(blk, "qc");
	if (json_is_object(q)) {
		if (!jget_hex(&b->qc, &b->qn, q, "hex", DS_QC_MAX, why, cap))
			goto fail;
		json_t *ch = json_object_get(q, "chain");
		if (ch && (!json_is_array(ch) || json_array_size(ch) > DS_VERIFY_CHAIN_MAX)) {
			snprintf(why, cap, "response field \"qc.chain\" is not a short list");
			goto fail;
		}
		for (size_t i = 0; ch && i < json_array_size(ch); i++) {
			json_t *wrap = json_pack("{sO}", "h", json_array_get(ch, i));
			size_t l = 0;
			bool good = wrap && jget_hex(&b->chain_bufs[i], &l, wrap, "h", DS_HEADER_MAX, why, cap);
			json_decref(wrap);
			if (!good)
				goto fail;
			b->chain[i] = (struct ds_iov){b->chain_bufs[i], l};
			b->nchain++;
		}
	} else if (q && !json_is_null(q)) {
		snprintf(why, cap, "response field \"qc\" is neither an object nor null");
		goto fail;
	}
	return true;
fail:
	parts_free(b);
	return false;
}

/* Verifies a block JSON object: header_hex and qc (with its linking
 * chain) against the trust, and that the fields shown ("height", "hash")
 * are the verified header's. */
static bool verify_block_json(struct ds_verified_header *vh, const struct ds_verify_trust *t,
			      json_t *blk, char *why, size_t cap)
{
	static struct block_parts b;
	if (!block_parts(&b, blk, why, cap))
		return false;
	bool ok = false;
	if (ds_verify_header(vh, t, b.he, b.hn, b.qc, b.qn, b.chain, b.nchain, why, cap) != 0)
		goto out;
	uint64_t height;
	uint8_t hash[DS_HASH_LEN];
	if (!jget_u64(&height, blk, "height", why, cap) || !jget_hash(hash, blk, "hash", why, cap))
		goto out;
	if (height != vh->h.height || memcmp(hash, vh->hash, DS_HASH_LEN) != 0) {
		snprintf(why, cap, "block fields \"height\"/\"hash\" differ from the certified header");
		goto out;
	}
	ok = true;
out:
	parts_free(&b);
	return ok;
}

/* The epoch whose set must verify a block JSON object: its QC's (the
 * header's for genesis). False when neither decodes (verification then
 * says why). */
static bool block_epoch(json_t *blk, uint64_t *epoch)
{
	static struct block_parts b;
	char why[256];
	if (!block_parts(&b, blk, why, sizeof(why)))
		return false;
	bool ok = false;
	static struct ds_qc q;
	struct ds_header h;
	if (b.qn && ds_qc_decode(&q, b.qc, b.qn) == 0) {
		*epoch = q.vote.epoch;
		ok = true;
	} else if (!b.qn && ds_header_decode(&h, b.he, b.hn) == 0) {
		*epoch = h.epoch;
		ok = true;
	}
	parts_free(&b);
	return ok;
}

static void print_cert(const struct ds_verified_header *vh, const struct ds_verify_trust *t)
{
	char h8[17];
	short_hex(h8, vh->hash);
	printf("certified: block %" PRIu64 " %s… by %" PRIu32 " of %" PRIu32
	       " trusted validators (QC round %" PRIu64 "%s)\n",
	       vh->h.height, h8, vh->qc_signers, t->vs.n, vh->qc_round,
	       vh->final_via != vh->h.height ? ", via descendant" : "");
}

/* ------------------------------------------------------------ the queries */

static bool walk_epochs(struct ds_verify_trust *t, uint64_t target, const struct url *u, int timeout_ms,
			char *why, size_t cap);

static const char *node_receipt_status(json_t *r)
{
	json_t *rc = json_object_get(r, "receipt");
	if (json_is_object(rc) && json_is_string(json_object_get(rc, "status")))
		return json_string_value(json_object_get(rc, "status"));
	return "none yet";
}

/* Verifies "receipt_proof" (docs/PROTOCOL.md §14.7) of a tx already
 * verified in block vh at index: certifies the carrying header (walking
 * the epoch handoffs first when it is of a later epoch than t), then the
 * inclusion and the receipt bytes. Writes the line to print into line.
 * False (why says it) when the proof is there but does not verify. */
static bool q_receipt(json_t *r, struct ds_verify_trust *t, const struct ds_verified_header *vh,
		      const uint8_t id[DS_HASH_LEN], uint64_t index, const struct url *u, int timeout_ms,
		      char *line, size_t line_cap, char *why, size_t cap)
{
	json_t *rp = json_object_get(r, "receipt_proof");
	if (!rp) {
		snprintf(line, line_cap, "receipt status %s (reported by the node, not proven: it serves no receipt proof)",
			 node_receipt_status(r));
		return true;
	}
	if (json_is_string(rp)) {
		const char *st = json_string_value(rp);
		if (strcmp(st, "pending") == 0) {
			snprintf(line, line_cap, "receipt not yet provable: no committed header carries block %" PRIu64
				 "'s results yet (ask again after the next block); the node reports status %s",
				 vh->h.height, node_receipt_status(r));
			return true;
		}
		snprintf(why, cap, "response field \"receipt_proof\" is neither an object nor \"pending\"");
		return false;
	}
	if (!json_is_object(rp)) {
		snprintf(why, cap, "response field \"receipt_proof\" is not an object");
		return false;
	}
	json_t *hdr = json_object_get(rp, "header");
	static struct block_parts b;
	static uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN], rpath[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	uint8_t *rb = NULL, *shown = NULL, *parent = NULL;
	size_t rl = 0, sl = 0, pl = 0;
	struct ds_verify_range range = {0};
	json_t *rj = json_object_get(rp, "range");
	uint64_t pindex, psize, epoch;
	bool ok = false;
	if (!jget_hex(&rb, &rl, rp, "receipt_hex", DS_NODE_JSON_MAX, why, cap) ||
	    !jget_u64(&pindex, rp, "index", why, cap) || !jget_u64(&psize, rp, "tree_size", why, cap) ||
	    !jget_path(path, &pl, rp, "path", why, cap))
		goto out;
	if (pindex != index || psize != vh->h.tx_count) {
		snprintf(why, cap, "receipt proof is for leaf %" PRIu64 " of %" PRIu64 ", the tx is leaf %" PRIu64
			 " of %" PRIu32, pindex, psize, index, vh->h.tx_count);
		goto out;
	}
	/* The receipt the node shows must be the one it proves. */
	if (json_object_get(r, "receipt_hex") &&
	    (!jget_hex(&shown, &sl, r, "receipt_hex", DS_NODE_JSON_MAX, why, cap) || sl != rl ||
	     memcmp(shown, rb, rl) != 0)) {
		snprintf(why, cap, "the node shows a receipt other than the one it proves");
		goto out;
	}
	if (rj && (!json_is_object(rj) ||
		   !jget_hex(&parent, &range.parent_len, rj, "parent_header_hex", DS_NODE_JSON_MAX, why, cap) ||
		   !jget_path(rpath, &range.path_len, rj, "path", why, cap))) {
		if (!json_is_object(rj))
			snprintf(why, cap, "response field \"receipt_proof.range\" is not an object");
		goto out;
	}
	range.parent = parent;
	range.path = (const uint8_t(*)[DS_HASH_LEN])rpath;
	if (!block_parts(&b, hdr, why, cap))
		goto out;
	if (block_epoch(hdr, &epoch) && epoch > t->vs.epoch &&
	    !walk_epochs(t, epoch, u, timeout_ms, why, cap))
		goto out;
	static struct ds_receipt rc;
	static struct ds_verified_header ch;
	if (ds_verify_receipt(&rc, &ch, t, vh, id, index, rb, rl, (const uint8_t(*)[DS_HASH_LEN])path, pl,
			      rj ? &range : NULL, b.he, b.hn, b.qc, b.qn, b.chain, b.nchain, why, cap) != 0)
		goto out;
	uint64_t sh;
	uint8_t shash[DS_HASH_LEN];
	if (!jget_u64(&sh, hdr, "height", why, cap) || !jget_hash(shash, hdr, "hash", why, cap))
		goto out;
	if (sh != ch.h.height || memcmp(shash, ch.hash, DS_HASH_LEN) != 0) {
		snprintf(why, cap, "receipt header fields \"height\"/\"hash\" differ from the certified header");
		goto out;
	}
	char h8[17];
	short_hex(h8, ch.hash);
	snprintf(line, line_cap, "receipt status %s%s%s, gas %" PRIu64 ", %" PRIu32
			 " event%s (proven: leaf %" PRIu64 " under %sresults_root of block %" PRIu64 " %s…, certified by %" PRIu32
			 " of %" PRIu32 " trusted validators%s)",
			 rc.status == DS_TX_OK ? "ok" : "failed", rc.status == DS_TX_OK ? "" : ": ",
			 rc.status == DS_TX_OK ? "" : rc.error, rc.gas_used, rc.nevents,
			 rc.nevents == 1 ? "" : "s", index, rj ? "the range " : "", ch.h.height, h8, ch.qc_signers,
			 t->vs.n, ch.final_via != ch.h.height ? ", via descendant" : "");
	ok = true;
out:
	parts_free(&b);
	free(rb);
	free(shown);
	free(parent);
	return ok;
}

static bool q_tx(json_t *r, struct ds_verify_trust *t, const uint8_t want[DS_HASH_LEN],
		 const struct url *u, int timeout_ms, char *why, size_t cap)
{
	json_t *st = json_object_get(r, "status");
	if (json_is_string(st) && strcmp(json_string_value(st), "pending") == 0) {
		snprintf(why, cap, "transaction is pending: not committed yet, nothing to verify");
		return false;
	}
	static struct ds_verified_header vh;
	if (!verify_block_json(&vh, t, json_object_get(r, "block"), why, cap))
		return false;
	json_t *proof = json_object_get(r, "proof");
	uint64_t index, size, height;
	static uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t pl;
	uint8_t *tx = NULL;
	size_t tl;
	bool ok = false;
	if (!json_is_object(proof)) {
		snprintf(why, cap, "response has no inclusion proof");
		return false;
	}
	if (!jget_u64(&index, proof, "index", why, cap) || !jget_u64(&size, proof, "tree_size", why, cap) ||
	    !jget_path(path, &pl, proof, "path", why, cap) || !jget_u64(&height, r, "height", why, cap) ||
	    !jget_hex(&tx, &tl, r, "tx_hex", DS_TX_MAX, why, cap))
		goto out;
	if (height != vh.h.height) {
		snprintf(why, cap, "transaction height %" PRIu64 " is not the certified block's %" PRIu64,
			 height, vh.h.height);
		goto out;
	}
	uint8_t id[DS_HASH_LEN];
	if (ds_verify_tx(id, &vh, tx, tl, index, size, (const uint8_t(*)[DS_HASH_LEN])path, pl, why,
			 cap) != 0)
		goto out;
	if (memcmp(id, want, DS_HASH_LEN) != 0) {
		snprintf(why, cap, "the node answered with another transaction");
		goto out;
	}
	/* The block's certificate is printed with the set that verified it;
	 * the receipt may need a later epoch's (walked in q_receipt). */
	static struct ds_verify_trust block_trust;
	block_trust = *t;
	char rline[1024];
	if (!q_receipt(r, t, &vh, id, index, u, timeout_ms, rline, sizeof(rline), why, cap))
		goto out;
	char i8[17];
	short_hex(i8, id);
	printf("verified\n");
	printf("tx %s… is leaf %" PRIu64 " of %" PRIu64 " in block %" PRIu64 "\n", i8, index, size,
	       vh.h.height);
	printf("%s\n", rline);
	print_cert(&vh, &block_trust);
	ok = true;
out:
	free(tx);
	return ok;
}

/* Prints a key as text when it is printable ASCII, else as hex. */
static void print_key(const uint8_t *k, size_t n)
{
	bool text = n <= 128;
	for (size_t i = 0; text && i < n; i++)
		text = k[i] >= 0x20 && k[i] < 0x7f;
	if (text) {
		printf("\"%.*s\"", (int)n, (const char *)k);
		return;
	}
	for (size_t i = 0; i < n && i < 64; i++)
		printf("%02x", k[i]);
	if (n > 64)
		printf("…");
}

static bool q_state(json_t *r, const struct ds_verify_trust *t, const uint8_t *key, size_t klen,
		    char *why, size_t cap)
{
	json_t *hdr = json_object_get(r, "header");
	if (!json_is_object(hdr)) {
		snprintf(why, cap, "no certified header commits this state yet (try again after the next block)");
		return false;
	}
	struct ds_verified_header vh;
	if (!verify_block_json(&vh, t, hdr, why, cap))
		return false;
	uint8_t *k = NULL, *val = NULL, *proof = NULL;
	size_t kl, vl = 0, pl;
	uint64_t version;
	bool ok = false;
	json_t *found = json_object_get(r, "found");
	if (!json_is_boolean(found)) {
		snprintf(why, cap, "response field \"found\" missing");
		goto out;
	}
	if (!jget_hex(&k, &kl, r, "key_hex", DS_NODE_JSON_MAX, why, cap) ||
	    !jget_u64(&version, r, "version", why, cap) ||
	    !jget_hex(&proof, &pl, r, "proof_hex", DS_SMT_PROOF_ENC_MAX, why, cap))
		goto out;
	if (json_is_true(found) && !jget_hex(&val, &vl, r, "value_hex", DS_NODE_JSON_MAX, why, cap))
		goto out;
	if (kl != klen || memcmp(k, key, klen) != 0) {
		snprintf(why, cap, "the node answered for another key");
		goto out;
	}
	if (ds_verify_state(&vh, version, key, klen, json_is_true(found) ? val : NULL, vl, proof, pl,
			    why, cap) != 0)
		goto out;
	printf("verified\n");
	if (json_is_true(found)) {
		json_t *jv = NULL;
		char *txt = NULL;
		if (ds_cli_value_to_json(&jv, val, vl) == 0)
			txt = json_dumps(jv, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("state key ");
		print_key(key, klen);
		printf(" = %s at version %" PRIu64 "\n", txt ? txt : "(not a canonical value)", version);
		free(txt);
		json_decref(jv);
	} else {
		printf("state key ");
		print_key(key, klen);
		printf(" is absent at version %" PRIu64 "\n", version);
	}
	print_cert(&vh, t);
	ok = true;
out:
	free(k);
	free(val);
	free(proof);
	return ok;
}

static bool q_block(json_t *r, const struct ds_verify_trust *t, uint64_t want, char *why, size_t cap)
{
	struct ds_verified_header vh;
	if (!verify_block_json(&vh, t, r, why, cap))
		return false;
	if (vh.h.height != want) {
		snprintf(why, cap, "asked for block %" PRIu64 ", the node sent %" PRIu64, want, vh.h.height);
		return false;
	}
	json_t *txs = json_object_get(r, "txs");
	if (!json_is_array(txs) || json_array_size(txs) > DS_BLOCK_TXS_MAX) {
		snprintf(why, cap, "response field \"txs\" missing or too long");
		return false;
	}
	size_t n = json_array_size(txs);
	uint8_t (*ids)[DS_HASH_LEN] = malloc((n ? n : 1) * DS_HASH_LEN);
	if (!ids) {
		snprintf(why, cap, "out of memory");
		return false;
	}
	bool ok = false;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(txs, i);
		if (!json_is_string(v) || json_string_length(v) != 2 * DS_HASH_LEN ||
		    ds_hex_decode(ids[i], DS_HASH_LEN, json_string_value(v), 2 * DS_HASH_LEN) != 0) {
			snprintf(why, cap, "response field \"txs\"[%zu] is not a tx id", i);
			goto out;
		}
	}
	if (ds_verify_tx_ids(&vh, (const uint8_t(*)[DS_HASH_LEN])ids, n, why, cap) != 0)
		goto out;
	char r8[17];
	short_hex(r8, vh.h.state_root);
	printf("verified\n");
	printf("block %" PRIu64 " with %" PRIu32 " txs (ids match tx_root), state after %" PRIu64
	       " = %s…\n", vh.h.height, vh.h.tx_count, vh.h.exec_height, r8);
	print_cert(&vh, t);
	ok = true;
out:
	free(ids);
	return ok;
}

static bool q_history(json_t *r, const struct ds_verify_trust *t, uint64_t want, char *why, size_t cap)
{
	struct ds_verified_header vh;
	if (!verify_block_json(&vh, t, json_object_get(r, "header"), why, cap))
		return false;
	uint64_t height;
	uint8_t hash[DS_HASH_LEN];
	static uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t pl;
	if (!jget_u64(&height, r, "height", why, cap) || !jget_hash(hash, r, "hash", why, cap) ||
	    !jget_path(path, &pl, r, "path", why, cap))
		return false;
	if (height != want) {
		snprintf(why, cap, "asked for block %" PRIu64 ", the node proved %" PRIu64, want, height);
		return false;
	}
	if (ds_verify_history(&vh, height, hash, (const uint8_t(*)[DS_HASH_LEN])path, pl, why, cap) != 0)
		return false;
	char h8[17];
	short_hex(h8, hash);
	printf("verified\n");
	printf("block %" PRIu64 " has hash %s… in the history of block %" PRIu64 "\n", height, h8,
	       vh.h.height);
	print_cert(&vh, t);
	return true;
}

/* ------------------------------------------------------------ trust input */

static int load_trust(struct ds_verify_trust *t, const char *path, char *err, size_t cap)
{
	uint8_t *text = NULL;
	size_t len;
	int rc = ds_file_read(&text, &len, path, TRUST_FILE_MAX);
	if (rc) {
		snprintf(err, cap, "cannot read %s: %s", path, ds_strerror(rc));
		return rc;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
	json_t *nodes = json_object_get(j, "nodes");
	if (j && json_is_array(nodes)) {
		/* nodes.json: {"chain_id", "nodes": [{"public_key"...}]} in validator order
		 * (the epoch-0 set: trusting a later epoch needs its keys). */
		static uint8_t pks[DS_VALIDATORS_MAX][DS_PK_LEN];
		size_t n = json_array_size(nodes);
		json_t *cid = json_object_get(j, "chain_id");
		rc = DS_EINVAL;
		if (!json_is_string(cid) || n == 0 || n > DS_VALIDATORS_MAX) {
			snprintf(err, cap, "%s: needs \"chain_id\" and 1..%d \"nodes\"", path, DS_VALIDATORS_MAX);
			goto out;
		}
		/* Observers (init --observers) are not in the epoch-0 set. */
		size_t nv = 0;
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(nodes, i);
			if (json_is_true(json_object_get(e, "observer")))
				continue;
			json_t *pk = json_object_get(e, "public_key");
			if (!json_is_string(pk) || ds_keyfile_pk_from_hex(pks[nv++], json_string_value(pk)) != 0) {
				snprintf(err, cap, "%s: nodes[%zu].public_key is not 64 hex digits", path, i);
				goto out;
			}
		}
		rc = ds_verify_trust_init(t, json_string_value(cid), 0, (const uint8_t(*)[DS_PK_LEN])pks, nv);
		if (rc)
			snprintf(err, cap, "%s: bad chain id or repeated key", path);
		goto out;
	}
	/* Otherwise a genesis file, parsed by the node's strict parser. */
	static struct ds_node_genesis g;
	rc = ds_node_genesis_parse(&g, (const char *)text, len, err, cap);
	if (rc)
		goto out;
	*t = (struct ds_verify_trust){0};
	memcpy(t->chain_id, g.g.chain_id, sizeof(t->chain_id));
	t->vs = g.g.valset;
out:
	json_decref(j);
	free(text);
	return rc;
}

static int trust_from_list(struct ds_verify_trust *t, const char *list, const char *chain_id,
			   uint64_t epoch, char *err, size_t cap)
{
	static uint8_t pks[DS_VALIDATORS_MAX][DS_PK_LEN];
	size_t n = 0;
	const char *p = list;
	while (*p) {
		size_t l = strcspn(p, ",");
		char hex[2 * DS_PK_LEN + 1];
		if (n == DS_VALIDATORS_MAX || l != 2 * DS_PK_LEN) {
			snprintf(err, cap, "--validators takes 1..%d public keys of 64 hex digits, comma separated",
				 DS_VALIDATORS_MAX);
			return DS_EINVAL;
		}
		memcpy(hex, p, l);
		hex[l] = 0;
		if (ds_keyfile_pk_from_hex(pks[n], hex) != 0) {
			snprintf(err, cap, "--validators: key %zu is not hex", n);
			return DS_EINVAL;
		}
		n++;
		p += l;
		if (*p == ',')
			p++;
	}
	int rc = ds_verify_trust_init(t, chain_id, epoch, (const uint8_t(*)[DS_PK_LEN])pks, n);
	if (rc)
		snprintf(err, cap, "--validators: empty, repeated key or bad --chain-id");
	return rc;
}

/* ------------------------------------------------------------ epoch handoffs */

/* GET path as a JSON object; false (why says it) on any failure. */
static bool fetch_json(json_t **out, const struct url *u, const char *path, int timeout_ms, char *why,
		       size_t cap)
{
	char *body = NULL;
	size_t blen = 0;
	int status = 0;
	char err[256];
	*out = NULL;
	if (http_get(u, path, timeout_ms, &status, &body, &blen, err, sizeof(err)) != 0) {
		snprintf(why, cap, "%s: %s", path, err);
		return false;
	}
	json_error_t je;
	json_t *j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
	free(body);
	json_t *e = json_object_get(j, "error");
	if (!json_is_object(j) || status != 200 || e) {
		json_t *msg = json_object_get(e, "message");
		snprintf(why, cap, "%s: HTTP %d %s", path, status,
			 json_is_string(msg) ? json_string_value(msg) : "(no JSON object)");
		json_decref(j);
		return false;
	}
	*out = j;
	return true;
}

/* One handoff k -> k+1 (docs/PROTOCOL.md §14.6): the end block X of epoch k
 * that the node names in /v1/epochs (never trusted: ds_verify_handoff
 * proves everything from t) and the state proof of sys/valset/next in the
 * state X commits. */
static bool handoff(struct ds_verify_trust *t, json_t *epochs, const struct url *u, int timeout_ms,
		    char *why, size_t cap)
{
	uint64_t k = t->vs.epoch, root = 0;
	bool listed = false;
	json_t *list = json_object_get(epochs, "epochs");
	for (size_t i = 0; json_is_array(list) && i < json_array_size(list) && !listed; i++) {
		json_t *ep = json_array_get(list, i);
		uint64_t e;
		char w[128];
		if (jget_u64(&e, ep, "epoch", w, sizeof(w)) && e == k + 1 &&
		    jget_u64(&root, ep, "root_height", w, sizeof(w)))
			listed = true;
	}
	if (!listed) {
		snprintf(why, cap, "the node lists no start of epoch %" PRIu64 " in /v1/epochs", k + 1);
		return false;
	}
	char path[256];
	json_t *blk = NULL, *st = NULL;
	static struct block_parts b;
	uint8_t *val = NULL, *proof = NULL;
	size_t vl = 0, pl = 0;
	bool ok = false;
	snprintf(path, sizeof(path), "/v1/blocks/%" PRIu64, root);
	if (!fetch_json(&blk, u, path, timeout_ms, why, cap))
		return false;
	if (!block_parts(&b, blk, why, cap))
		goto out;
	struct ds_header x;
	if (ds_header_decode(&x, b.he, b.hn) != 0) {
		snprintf(why, cap, "epoch %" PRIu64 " end block %" PRIu64 ": header does not decode", k, root);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/state?key_str=%s&version=%" PRIu64 "&prove=1",
		 DS_VERIFY_VALSET_NEXT_KEY, x.exec_height);
	if (!fetch_json(&st, u, path, timeout_ms, why, cap))
		goto out;
	if (!json_is_true(json_object_get(st, "found"))) {
		snprintf(why, cap, "epoch %" PRIu64 " handoff: the node shows no pending validator change at block %" PRIu64, k, root);
		goto out;
	}
	if (!jget_hex(&val, &vl, st, "value_hex", DS_NODE_JSON_MAX, why, cap) ||
	    !jget_hex(&proof, &pl, st, "proof_hex", DS_SMT_PROOF_ENC_MAX, why, cap))
		goto out;
	static struct ds_verified_header vh;
	if (ds_verify_handoff(t, &vh, b.he, b.hn, b.qc, b.qn, b.chain, b.nchain, val, vl, proof, pl, why,
			      cap) != 0)
		goto out;
	char h8[17];
	short_hex(h8, vh.hash);
	printf("epoch handoff: %" PRIu64 " -> %" PRIu64 " proven by block %" PRIu64 " %s… (QC by %" PRIu32
	       " signers%s; sys/valset/next at version %" PRIu64 "): %" PRIu32 " validators\n",
	       k, k + 1, vh.h.height, h8, vh.qc_signers, b.nchain ? ", via suffix" : "", vh.h.exec_height,
	       t->vs.n);
	ok = true;
out:
	parts_free(&b);
	free(val);
	free(proof);
	json_decref(blk);
	json_decref(st);
	return ok;
}

/* Moves t up to epoch target, one proven handoff at a time (bounded). */
static bool walk_epochs(struct ds_verify_trust *t, uint64_t target, const struct url *u, int timeout_ms,
			char *why, size_t cap)
{
	uint64_t from = t->vs.epoch;
	if (target - from > DS_VERIFY_HANDOFF_MAX) {
		snprintf(why, cap, "the object is from epoch %" PRIu64 ", more than %d epochs after the trusted %" PRIu64
			 ": trust a newer set (--validators, --epoch)", target, DS_VERIFY_HANDOFF_MAX, from);
		return false;
	}
	char path[64];
	json_t *epochs = NULL;
	snprintf(path, sizeof(path), "/v1/epochs?from=%" PRIu64, from + 1);
	if (!fetch_json(&epochs, u, path, timeout_ms, why, cap))
		return false;
	bool ok = true;
	while (ok && t->vs.epoch < target)
		ok = handoff(t, epochs, u, timeout_ms, why, cap);
	json_decref(epochs);
	if (ok)
		printf("walked epochs %" PRIu64 " -> %" PRIu64 " (%" PRIu64 " handoff%s, each proven from the one before)\n",
		       from, target, target - from, target - from == 1 ? "" : "s");
	return ok;
}

/* ------------------------------------------------------------ the command */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: danshari query [--node URL] (--trust FILE | --validators HEX,HEX... [--chain-id ID])\n"
		"                      [--epoch N] [--genesis-hash HEX] [--timeout-ms N] [--from-file FILE]\n"
		"                      [--key-str] [--newest H] [--print-json]\n"
		"                      (tx ID | state KEY | block H | history H)\n\n"
		"Fetches an object with its proof from a node and verifies it locally:\n"
		"the block header's QC against the validator set YOU trust (never the\n"
		"node's), then the transaction's inclusion under tx_root (and its receipt\n"
		"under the results_root of the later header that executes its block), the\n"
		"state proof under state_root, or the old block under history_root.\n"
		"Prints \"verified\" and a summary, or says exactly what failed (exit 1).\n"
		"An object of a later epoch than the trusted set is reached by walking the\n"
		"epoch handoffs (at most 64, via --node), each proven from the set before.\n\n"
		"  --node URL          http://HOST:PORT (default $DANSHARI_NODE or http://127.0.0.1:26601)\n"
		"  --trust FILE        nodes.json or genesis.json of the consortium\n"
		"  --validators LIST   the trusted public keys, in validator index order\n"
		"  --chain-id ID       with --validators: the chain they sign for\n"
		"  --epoch N           epoch of the trusted set (default 0)\n"
		"  --genesis-hash HEX  trust this genesis hash (needed only for 'block 0')\n"
		"  --from-file FILE    verify a saved response instead of asking a node\n"
		"  --key-str           state KEY is text, not hex\n"
		"  --newest H          history: prove against block H (default: the tip)\n"
		"  --print-json        also print the response\n");
}

struct qopts {
	const char *node, *trust, *validators, *chain_id, *epoch, *genesis_hash, *timeout, *from_file,
		*newest;
	bool key_str, print_json;
	const char *pos[2];
	int npos;
};

static int parse_args(struct qopts *o, int argc, char **argv)
{
	struct {
		const char *name;
		const char **val;
		bool *flag;
	} opts[] = {
		{"node", &o->node, NULL},         {"trust", &o->trust, NULL},
		{"validators", &o->validators, NULL}, {"chain-id", &o->chain_id, NULL},
		{"epoch", &o->epoch, NULL},       {"genesis-hash", &o->genesis_hash, NULL},
		{"timeout-ms", &o->timeout, NULL}, {"from-file", &o->from_file, NULL},
		{"newest", &o->newest, NULL},     {"key-str", NULL, &o->key_str},
		{"print-json", NULL, &o->print_json},
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			if (o->npos == 2)
				return ds_cli_usage(CMD, "unexpected argument '%s'", a);
			o->pos[o->npos++] = a;
			continue;
		}
		const char *eq = strchr(a + 2, '=');
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		size_t k = 0;
		while (k < DS_ARRAY_LEN(opts) &&
		       !(strlen(opts[k].name) == len && strncmp(opts[k].name, a + 2, len) == 0))
			k++;
		if (k == DS_ARRAY_LEN(opts))
			return ds_cli_usage(CMD, "unknown option '%.*s'", (int)len + 2, a);
		if (opts[k].flag) {
			if (eq)
				return ds_cli_usage(CMD, "option --%s takes no value", opts[k].name);
			*opts[k].flag = true;
			continue;
		}
		if (*opts[k].val)
			return ds_cli_usage(CMD, "option --%s given twice", opts[k].name);
		if (eq) {
			*opts[k].val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return ds_cli_usage(CMD, "option --%s needs a value", opts[k].name);
			*opts[k].val = argv[++i];
		}
	}
	return 0;
}

static int parse_dec(uint64_t *out, const char *s)
{
	uint64_t v = 0;
	if (!s[0] || (s[0] == '0' && s[1]))
		return DS_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return DS_EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int ds_cli_query(int argc, char **argv)
{
	if (ds_cli_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	struct qopts o = {0};
	int rc = parse_args(&o, argc, argv);
	if (rc)
		return rc;
	if (o.npos != 2)
		return ds_cli_usage(CMD, "say what to fetch: tx ID | state KEY | block H | history H");
	if (!o.trust == !o.validators)
		return ds_cli_usage(CMD, "give exactly one of --trust FILE and --validators LIST");
	uint64_t epoch = 0, timeout_ms = TIMEOUT_MS_DEFAULT, num = 0, newest = 0;
	if (o.epoch && parse_dec(&epoch, o.epoch) != 0)
		return ds_cli_usage(CMD, "--epoch must be a decimal number");
	if (o.timeout && (parse_dec(&timeout_ms, o.timeout) != 0 || timeout_ms == 0 ||
			  timeout_ms > 600000))
		return ds_cli_usage(CMD, "--timeout-ms must be 1..600000");
	if (o.newest && (parse_dec(&newest, o.newest) != 0 || newest == 0))
		return ds_cli_usage(CMD, "--newest must be a positive height");

	static struct ds_verify_trust t;
	char err[512];
	if (o.trust)
		rc = load_trust(&t, o.trust, err, sizeof(err));
	else
		rc = trust_from_list(&t, o.validators, o.chain_id, epoch, err, sizeof(err));
	if (rc)
		return ds_cli_fail(CMD, "%s", err);
	if (o.trust && o.chain_id)
		return ds_cli_usage(CMD, "--chain-id goes with --validators (the trust file names the chain)");
	if (o.trust)
		t.vs.epoch = epoch;
	if (o.genesis_hash) {
		if (strlen(o.genesis_hash) != 2 * DS_HASH_LEN ||
		    ds_hex_decode(t.genesis_hash, DS_HASH_LEN, o.genesis_hash, 2 * DS_HASH_LEN) != 0)
			return ds_cli_usage(CMD, "--genesis-hash must be 64 hex digits");
		t.has_genesis_hash = true;
	}

	/* What to fetch, and the path that serves it. */
	const char *kind = o.pos[0], *arg = o.pos[1];
	char path[2 * 1024 + 128];
	uint8_t id[DS_HASH_LEN];
	uint8_t key[448]; /* DS_HTTP_STATE_KEY_MAX */
	size_t klen = 0;
	if (strcmp(kind, "tx") == 0) {
		if (strlen(arg) != 2 * DS_HASH_LEN || ds_hex_decode(id, DS_HASH_LEN, arg, strlen(arg)) != 0)
			return ds_cli_usage(CMD, "tx ID must be 64 hex digits");
		char hx[2 * DS_HASH_LEN + 1];
		ds_hex_encode(hx, id, DS_HASH_LEN);
		snprintf(path, sizeof(path), "/v1/tx/%s", hx);
	} else if (strcmp(kind, "state") == 0) {
		size_t n = strlen(arg);
		if (o.key_str) {
			if (n == 0 || n > sizeof(key))
				return ds_cli_usage(CMD, "state key must be 1..%zu bytes", sizeof(key));
			memcpy(key, arg, n);
			klen = n;
		} else {
			if (n == 0 || n % 2 || n / 2 > sizeof(key) || ds_hex_decode(key, n / 2, arg, n) != 0)
				return ds_cli_usage(CMD, "state KEY must be hex (or use --key-str)");
			klen = n / 2;
		}
		char hx[2 * sizeof(key) + 1];
		ds_hex_encode(hx, key, klen);
		snprintf(path, sizeof(path), "/v1/state?key=%s&prove=1", hx);
	} else if (strcmp(kind, "block") == 0 || strcmp(kind, "history") == 0) {
		if (parse_dec(&num, arg) != 0)
			return ds_cli_usage(CMD, "%s H must be a decimal height", kind);
		if (kind[0] == 'b')
			snprintf(path, sizeof(path), "/v1/blocks/%" PRIu64, num);
		else if (o.newest)
			snprintf(path, sizeof(path), "/v1/history/%" PRIu64 "?newest=%" PRIu64, num, newest);
		else
			snprintf(path, sizeof(path), "/v1/history/%" PRIu64, num);
	} else {
		return ds_cli_usage(CMD, "unknown object '%s' (tx, state, block or history)", kind);
	}

	char *body = NULL;
	size_t blen = 0;
	int status = 200;
	const char *node = o.node ? o.node : getenv("DANSHARI_NODE");
	if (!node)
		node = "http://127.0.0.1:26601";
	struct url u;
	if (parse_url(&u, node) != 0)
		return ds_cli_usage(CMD, "--node must look like http://HOST:PORT");
	if (o.from_file) {
		rc = ds_file_read((uint8_t **)&body, &blen, o.from_file, RESP_MAX);
		if (rc)
			return ds_cli_fail(CMD, "cannot read %s: %s", o.from_file, ds_strerror(rc));
	} else {
		rc = http_get(&u, path, (int)timeout_ms, &status, &body, &blen, err, sizeof(err));
		if (rc)
			return ds_cli_fail(CMD, "%s", err);
	}
	json_error_t je;
	json_t *r = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
	int ret = 1;
	if (o.print_json)
		printf("%.*s\n", (int)blen, body);
	if (!json_is_object(r)) {
		ds_cli_fail(CMD, "NOT verified: the response is not a JSON object (HTTP %d)", status);
		goto out;
	}
	json_t *e = json_object_get(r, "error");
	if (status != 200 || e) {
		json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message");
		ds_cli_fail(CMD, "the node answered HTTP %d %s: %s", status,
			    json_is_string(code) ? json_string_value(code) : "?",
			    json_is_string(msg) ? json_string_value(msg) : "(no message)");
		goto out;
	}
	/* A block of a later epoch: walk the handoffs up to it first. */
	json_t *blk = kind[0] == 't' ? json_object_get(r, "block") : kind[0] == 'b' ? r :
		      json_object_get(r, "header");
	uint64_t target;
	if (blk && block_epoch(blk, &target) && target > t.vs.epoch &&
	    !walk_epochs(&t, target, &u, (int)timeout_ms, err, sizeof(err))) {
		ds_cli_fail(CMD, "NOT verified: %s", err);
		goto out;
	}
	bool ok;
	if (kind[0] == 't')
		ok = q_tx(r, &t, id, &u, (int)timeout_ms, err, sizeof(err));
	else if (kind[0] == 's')
		ok = q_state(r, &t, key, klen, err, sizeof(err));
	else if (kind[0] == 'b')
		ok = q_block(r, &t, num, err, sizeof(err));
	else
		ok = q_history(r, &t, num, err, sizeof(err));
	if (!ok) {
		ds_cli_fail(CMD, "NOT verified: %s", err);
		goto out;
	}
	if (!t.chain_id[0])
		printf("note: no --chain-id given; the chain id was taken from the header\n");
	ret = 0;
out:
	json_decref(r);
	free(body);
	return ret;
}
