/* node_credit — private details of credit records on a running node
 * (node_credit.h). The chain is the authority: every decision to store,
 * send or erase details follows a committed credit.lua event or a check
 * against the record's on-chain commitment, never a peer's word. */
#include "node/node_credit.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "api/api.h"
#include "codec/codec.h"
#include "node/node_int.h"

#define MOD "credit"
#define STATE_PREFIX "contract/" DS__CREDIT_CONTRACT "/"
#define REC_KEY_MAX (sizeof(STATE_PREFIX) + 4 + DS_PRIVSTORE_ID_MAX)

struct ds__node_credit_entry {
	struct ds_privstore_delivery d;
	uint64_t next_ms; /* loop time of the next attempt (0: now) */
	uint32_t tries;   /* attempts so far (this run) */
};

struct ds__node_credit {
	struct ds_node *n;
	struct ds_privstore *ps;
	pthread_mutex_t mu; /* ps: the loop (hooks, frames) and HTTP threads */
	bool api_loopback;  /* details routes answer only on a loopback API */
	struct ds_metric_series *sent, *received, *refused, *erased, *missing, *acked, *outbox_g;
	/* Loop thread only (and open/close): */
	uint64_t done;  /* last height whose events are applied (memory) */
	uint64_t saved; /* the cursor in the private store */
	bool stuck;     /* an erasure failed: the cursor stays for a restart */
	struct ds__node_credit_entry *ob; /* the outbox, DS_PRIVSTORE_OUTBOX_MAX slots */
	size_t nob;
};

/* Metrics are optional (a registry that is full leaves NULL series). */
static void count(struct ds_metric_series *s, uint64_t k)
{
	if (s)
		ds_metric_inc(s, k);
}

/* ------------------------------------------------------------ pure helpers
 * Commitments are public: comparing them needs no constant time. */

/* Copies a STR member of map into out (cap incl. NUL). */
static int map_str(char *out, size_t cap, const struct ds_value *map, const char *key)
{
	struct ds_value v;
	if (ds_value_map_get(&v, map, key, strlen(key)) != 0 || v.kind != DS_VALUE_STR ||
	    v.len == 0 || v.len >= cap || memchr(v.p, 0, v.len))
		return DS_EINVAL;
	memcpy(out, v.p, v.len);
	out[v.len] = 0;
	return 0;
}

int ds__credit_record_parse(struct ds__credit_record *out, const uint8_t *v, size_t len)
{
	memset(out, 0, sizeof(*out));
	struct ds_value map, c;
	char hex[2 * DS_HASH_LEN + 1];
	if (ds_value_parse(&map, v, len) != 0 || map.kind != DS_VALUE_MAP)
		return DS_EINVAL;
	if (map_str(out->org, sizeof(out->org), &map, "org") ||
	    map_str(out->status, sizeof(out->status), &map, "status") ||
	    ds_value_map_get(&c, &map, "commitment", 10) != 0 || c.kind != DS_VALUE_STR ||
	    c.len != 2 * DS_HASH_LEN) {
		memset(out, 0, sizeof(*out));
		return DS_EINVAL;
	}
	memcpy(hex, c.p, c.len);
	hex[c.len] = 0;
	if (ds_hex_decode(out->commitment, DS_HASH_LEN, hex, c.len) != 0) {
		memset(out, 0, sizeof(*out));
		return DS_EINVAL;
	}
	return 0;
}

int ds__credit_details_check(const uint8_t commitment[DS_HASH_LEN], const uint8_t *details,
			     size_t len)
{
	struct ds_privacy_field *f = calloc(DS_PRIV_FIELDS_MAX, sizeof(*f));
	if (!f)
		return DS_ENOMEM;
	size_t nf = 0;
	uint8_t root[DS_HASH_LEN];
	int rc = ds_privacy_details_decode(f, DS_PRIV_FIELDS_MAX, &nf, details, len);
	if (rc == 0)
		rc = ds_privacy_commitment(root, f, nf);
	if (rc == 0 && memcmp(root, commitment, DS_HASH_LEN) != 0)
		rc = DS_EPROOF;
	ds_memzero(f, DS_PRIV_FIELDS_MAX * sizeof(*f));
	free(f);
	return rc;
}

void ds__credit_frame_encode(struct ds_buf *out, const char *record, const uint8_t *details,
			     size_t len)
{
	uint8_t hdr[2 * DS_UVAR_MAX_LEN + DS_PRIVSTORE_ID_MAX];
	struct ds_enc e;
	size_t n = 0;
	ds_enc_init(&e, hdr, sizeof(hdr));
	ds_enc_str(&e, record);
	ds_enc_uvar(&e, len);
	if (ds_enc_finish(&e, &n) != 0) {
		out->err = DS_ETOOBIG;
		return;
	}
	ds_buf_append(out, hdr, n);
	ds_buf_append(out, details, len);
}

int ds__credit_frame_decode(const uint8_t **record, size_t *record_len, const uint8_t **details,
			    size_t *details_len, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	*record = *details = NULL;
	*record_len = *details_len = 0;
	(void)ds_dec_bytes(&d, record, record_len, DS_PRIVSTORE_ID_MAX);
	(void)ds_dec_bytes(&d, details, details_len, DS_PRIV_DETAILS_MAX);
	int rc = ds_dec_finish(&d);
	if (rc == 0 && (*record_len == 0 || *details_len == 0 ||
			!ds_utf8_valid(*record, *record_len)))
		rc = DS_EINVAL;
	if (rc) {
		*record = *details = NULL;
		*record_len = *details_len = 0;
	}
	return rc;
}

void ds__credit_ack_encode(struct ds_buf *out, const char *record)
{
	uint8_t b[DS_UVAR_MAX_LEN + DS_PRIVSTORE_ID_MAX];
	struct ds_enc e;
	size_t n = 0;
	ds_enc_init(&e, b, sizeof(b));
	ds_enc_str(&e, record);
	if (ds_enc_finish(&e, &n) != 0) {
		out->err = DS_ETOOBIG;
		return;
	}
	ds_buf_append(out, b, n);
}

int ds__credit_ack_decode(const uint8_t **record, size_t *record_len, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	*record = NULL;
	*record_len = 0;
	(void)ds_dec_bytes(&d, record, record_len, DS_PRIVSTORE_ID_MAX);
	int rc = ds_dec_finish(&d);
	if (rc == 0 && (*record_len == 0 || memchr(*record, 0, *record_len) ||
			!ds_utf8_valid(*record, *record_len)))
		rc = DS_EINVAL;
	if (rc) {
		*record = NULL;
		*record_len = 0;
	}
	return rc;
}

int ds__credit_event_parse(struct ds__credit_ev *out, const char *name, const uint8_t *v, size_t len)
{
	memset(out, 0, sizeof(*out));
	enum ds__credit_ev_kind k = DS__CREDIT_EV_NONE;
	if (strcmp(name, "credit.access") == 0)
		k = DS__CREDIT_EV_ACCESS;
	else if (strcmp(name, "credit.erase") == 0)
		k = DS__CREDIT_EV_ERASE;
	else if (strcmp(name, "credit.corrected") == 0)
		k = DS__CREDIT_EV_REPLACED;
	else
		return 0;
	struct ds_value map, b;
	if (ds_value_parse(&map, v, len) != 0 || map.kind != DS_VALUE_MAP)
		return DS_EINVAL;
	int rc;
	switch (k) {
	case DS__CREDIT_EV_ACCESS:
		rc = map_str(out->record, sizeof(out->record), &map, "record");
		if (rc == 0)
			rc = map_str(out->who, sizeof(out->who), &map, "who");
		if (rc == 0 && (ds_value_map_get(&b, &map, "granted", 7) != 0 ||
				(b.kind != DS_VALUE_TRUE && b.kind != DS_VALUE_FALSE)))
			rc = DS_EINVAL;
		out->granted = rc == 0 && b.kind == DS_VALUE_TRUE;
		break;
	case DS__CREDIT_EV_ERASE:
		rc = map_str(out->record, sizeof(out->record), &map, "id");
		break;
	default:
		rc = map_str(out->record, sizeof(out->record), &map, "id");
		if (rc == 0 && (ds_value_map_get(&b, &map, "details_replaced", 16) != 0 ||
				(b.kind != DS_VALUE_TRUE && b.kind != DS_VALUE_FALSE)))
			rc = DS_EINVAL;
		/* A correction that keeps the commitment keeps the details. */
		if (rc == 0 && b.kind == DS_VALUE_FALSE)
			k = DS__CREDIT_EV_NONE;
		break;
	}
	if (rc) {
		memset(out, 0, sizeof(*out));
		return DS_EINVAL;
	}
	out->kind = k;
	return 0;
}

/* --------------------------------------------------------------- chain reads */

/* The record as the chain holds it now (latest executed state). Returns 0,
 * DS_ENOTFOUND, DS_EINVAL (bad id), DS_ECORRUPT (not a record), or a chain
 * error. */
static int record_get(struct ds_chain *c, const char *id, size_t id_len, struct ds__credit_record *r)
{
	if (id_len == 0 || id_len > DS_PRIVSTORE_ID_MAX)
		return DS_EINVAL;
	char key[REC_KEY_MAX];
	int kl = snprintf(key, sizeof(key), STATE_PREFIX "rec/%.*s", (int)id_len, id);
	if (kl < 0 || (size_t)kl >= sizeof(key))
		return DS_EINVAL;
	struct ds_buf v;
	ds_buf_init(&v);
	int rc = ds_chain_state_value(c, (const uint8_t *)key, (size_t)kl, &v);
	if (rc == 0 && v.err)
		rc = DS_ENOMEM;
	if (rc == 0 && ds__credit_record_parse(r, v.data, v.len) != 0)
		rc = DS_ECORRUPT;
	ds_buf_free(&v);
	return rc;
}

/* The organisation of validator index `want` (want < n->n), or with
 * org != NULL the validator index of organisation `org`, from the governed
 * validator set (sys/valset: {epoch, validators: [{pk, addr, org}]}).
 * Indexes are positions in the genesis node list, which the net uses. */
static int valset_lookup(struct ds_node *n, uint32_t want, char out_org[DS__CREDIT_ORG_MAX + 1],
			 const char *org, uint32_t *out_idx)
{
	struct ds_buf v;
	ds_buf_init(&v);
	int rc = ds_chain_state_value(n->chain, (const uint8_t *)"sys/valset", 10, &v);
	struct ds_value map, arr, item;
	if (rc == 0 && v.err)
		rc = DS_ENOMEM;
	if (rc == 0 && (ds_value_parse(&map, v.data, v.len) != 0 || map.kind != DS_VALUE_MAP ||
			ds_value_map_get(&arr, &map, "validators", 10) != 0 ||
			arr.kind != DS_VALUE_ARRAY))
		rc = DS_ECORRUPT;
	if (rc) {
		ds_buf_free(&v);
		return rc;
	}
	rc = DS_ENOTFOUND;
	struct ds_value_iter it;
	ds_value_iter_init(&it, &arr);
	for (uint32_t guard = 0; guard < DS_VALIDATORS_MAX && ds_value_iter_next(&it, NULL, NULL, &item);
	     guard++) {
		struct ds_value pk;
		char o[DS__CREDIT_ORG_MAX + 1];
		if (item.kind != DS_VALUE_MAP || map_str(o, sizeof(o), &item, "org") != 0 ||
		    ds_value_map_get(&pk, &item, "pk", 2) != 0 || pk.kind != DS_VALUE_BYTES ||
		    pk.len != DS_PK_LEN)
			continue;
		uint32_t idx = UINT32_MAX;
		for (uint32_t i = 0; i < n->n; i++)
			if (memcmp(n->gen->node_pk[i], pk.p, DS_PK_LEN) == 0)
				idx = i;
		if (idx == UINT32_MAX)
			continue;
		if (org ? strcmp(o, org) == 0 : idx == want) {
			if (out_org)
				snprintf(out_org, DS__CREDIT_ORG_MAX + 1, "%s", o);
			if (out_idx)
				*out_idx = idx;
			rc = 0;
			break;
		}
	}
	ds_buf_free(&v);
	return rc;
}

/* ------------------------------------------------------- outbox and erasure
 * Deliveries: a committed granted access to a record this node's
 * organisation issued puts (record, grantee org) in the outbox, which is
 * saved before the cursor moves past the block. An entry is sent when it
 * is queued, whenever the grantee's node connects, and again with back-off
 * until that node acknowledges it (a details_ack frame) or the delivery
 * stops being due (record no longer active, grant revoked or expired). */

#define RETRY_BASE_MS 2000u
#define RETRY_MAX_MS 300000u
#define SENDS_PER_PASS 64   /* deliveries attempted per retry pass */
#define CURSOR_EVERY 64     /* blocks without events between cursor writes */

static uint64_t backoff_ms(uint32_t tries)
{
	uint64_t d = (uint64_t)RETRY_BASE_MS << (tries < 8 ? tries : 8);
	return d < RETRY_MAX_MS ? d : RETRY_MAX_MS;
}

static void outbox_gauge(struct ds__node_credit *cr)
{
	if (cr->outbox_g)
		ds_metric_set(cr->outbox_g, (int64_t)cr->nob);
}

static void outbox_save(struct ds__node_credit *cr)
{
	struct ds_privstore_delivery *e = NULL;
	if (cr->nob && !(e = calloc(cr->nob, sizeof(*e)))) {
		DS_LOGE(MOD, "cannot save the outbox", " err=%s", ds_errname(DS_ENOMEM));
		return;
	}
	for (size_t i = 0; i < cr->nob; i++)
		e[i] = cr->ob[i].d;
	int rc = ds_privstore_outbox_save(cr->ps, e, cr->nob);
	free(e);
	if (rc)
		DS_LOGE(MOD, "cannot save the outbox", " entries=%zu err=%s", cr->nob, ds_errname(rc));
	outbox_gauge(cr);
}

static ssize_t outbox_find(const struct ds__node_credit *cr, const char *record, const char *org)
{
	for (size_t i = 0; i < cr->nob; i++)
		if (strcmp(cr->ob[i].d.record, record) == 0 && strcmp(cr->ob[i].d.org, org) == 0)
			return (ssize_t)i;
	return -1;
}

static void outbox_remove(struct ds__node_credit *cr, size_t i)
{
	DS_ASSERT(i < cr->nob);
	memmove(&cr->ob[i], &cr->ob[i + 1], (cr->nob - i - 1) * sizeof(cr->ob[0]));
	cr->nob--;
}

/* Whether org still holds a grant for record that credit.access would
 * honour at the tip's time: grant/<record>/<org> present, not revoked, not
 * expired. */
static bool grant_live(struct ds_node *n, const char *record, const char *org)
{
	char key[sizeof(STATE_PREFIX) + 8 + DS_PRIVSTORE_ID_MAX + DS__CREDIT_ORG_MAX];
	int kl = snprintf(key, sizeof(key), STATE_PREFIX "grant/%s/%s", record, org);
	if (kl < 0 || (size_t)kl >= sizeof(key))
		return false;
	struct ds_buf v;
	ds_buf_init(&v);
	bool ok = false;
	struct ds_value map, rv, ev;
	if (ds_chain_state_value(n->chain, (const uint8_t *)key, (size_t)kl, &v) == 0 && !v.err &&
	    ds_value_parse(&map, v.data, v.len) == 0 && map.kind == DS_VALUE_MAP &&
	    ds_value_map_get(&rv, &map, "revoked", 7) == 0 && rv.kind == DS_VALUE_FALSE &&
	    ds_value_map_get(&ev, &map, "expiry_ms", 9) == 0 && ev.kind == DS_VALUE_INT)
		ok = ev.i > 0 && (uint64_t)ev.i > n->tip.header.time_ms;
	ds_buf_free(&v);
	return ok;
}

enum try_result { TRY_SENT, TRY_LATER, TRY_DROP };

/* One delivery attempt of entry e. */
static enum try_result try_deliver(struct ds_node *n, struct ds__node_credit_entry *e)
{
	struct ds__node_credit *cr = n->credit;
	struct ds__credit_record r;
	uint32_t peer;
	const char *rec = e->d.record, *org = e->d.org;
	int rc = record_get(n->chain, rec, strlen(rec), &r);
	if (rc == DS_ENOTFOUND || rc == DS_EINVAL || rc == DS_ECORRUPT ||
	    (rc == 0 && strcmp(r.status, "active") != 0)) {
		DS_LOGI(MOD, "delivery dropped", " record=%s to=%s why=\"record is %s\"", rec, org,
			rc ? "unknown" : r.status);
		return TRY_DROP;
	}
	if (rc)
		return TRY_LATER;
	if (!grant_live(n, rec, org)) {
		DS_LOGI(MOD, "delivery dropped", " record=%s to=%s why=\"grant revoked or expired\"", rec, org);
		return TRY_DROP;
	}
	if (valset_lookup(n, 0, NULL, org, &peer) != 0 || peer == n->self) {
		DS_LOGW(MOD, "granted organisation runs no validator: details not sent", " record=%s org=%s",
			rec, org);
		return TRY_DROP;
	}
	uint8_t *d = NULL;
	size_t dl = 0;
	pthread_mutex_lock(&cr->mu);
	rc = ds_privstore_get(cr->ps, &d, &dl, rec);
	pthread_mutex_unlock(&cr->mu);
	if (rc) {
		/* Kept: the issuer may still post the details. */
		if (e->tries == 0)
			count(cr->missing, 1);
		DS_LOGW(MOD, "granted access but no details held", " record=%s to=%s err=%s", rec, org,
			ds_errname(rc));
		return TRY_LATER;
	}
	/* Never send what no longer matches the chain (a correction replaced
	 * the commitment and the new details were not stored yet). */
	rc = ds__credit_details_check(r.commitment, d, dl);
	if (rc == 0) {
		struct ds_buf f;
		ds_buf_init(&f);
		ds__credit_frame_encode(&f, rec, d, dl);
		rc = f.err ? DS_ENOMEM : ds__node_send(n, peer, DS__NODE_FRAME_DETAILS, f.data, f.len);
		if (f.data)
			ds_memzero(f.data, f.cap);
		ds_buf_free(&f);
	}
	ds_privstore_free(d, dl);
	if (rc) {
		DS_LOGD(MOD, "details not sent", " record=%s to=%s peer=%u err=%s", rec, org, peer,
			ds_errname(rc));
		return TRY_LATER;
	}
	count(cr->sent, 1);
	DS_LOGI(MOD, "details sent", " record=%s to=%s peer=%u try=%u", rec, org, peer, e->tries + 1);
	return TRY_SENT;
}

/* Attempts the entries that are due (at most SENDS_PER_PASS), drops those
 * no longer due, and reschedules the rest with back-off. */
static void retry_due(struct ds_node *n)
{
	struct ds__node_credit *cr = n->credit;
	if (!cr->nob || !n->loop)
		return;
	uint64_t now = ds_loop_now_ms(n->loop);
	size_t tried = 0;
	bool dropped = false;
	for (size_t i = 0; i < cr->nob && tried < SENDS_PER_PASS;) {
		struct ds__node_credit_entry *e = &cr->ob[i];
		if (e->next_ms > now) {
			i++;
			continue;
		}
		tried++;
		enum try_result t = try_deliver(n, e);
		if (t == TRY_DROP) {
			outbox_remove(cr, i);
			dropped = true;
			continue;
		}
		e->next_ms = now + backoff_ms(e->tries);
		if (e->tries < UINT32_MAX)
			e->tries++;
		i++;
	}
	if (dropped)
		outbox_save(cr);
}

/* A committed granted access: queue the delivery when this node's
 * organisation issued the record and the grantee is another one. Returns
 * true when the outbox changed. */
static bool queue_delivery(struct ds_node *n, const struct ds__credit_ev *ev)
{
	struct ds__node_credit *cr = n->credit;
	struct ds__credit_record r;
	char self_org[DS__CREDIT_ORG_MAX + 1];
	if (record_get(n->chain, ev->record, strlen(ev->record), &r) != 0)
		return false;
	if (valset_lookup(n, n->self, self_org, NULL, NULL) != 0 || strcmp(self_org, r.org) != 0 ||
	    strcmp(ev->who, self_org) == 0)
		return false;
	ssize_t i = outbox_find(cr, ev->record, ev->who);
	if (i >= 0) {
		cr->ob[i].next_ms = 0; /* a new granted access: try again now */
		return false;
	}
	if (cr->nob == DS_PRIVSTORE_OUTBOX_MAX) {
		DS_LOGE(MOD, "outbox full: details not delivered", " record=%s to=%s entries=%zu",
			ev->record, ev->who, cr->nob);
		return false;
	}
	struct ds__node_credit_entry *e = &cr->ob[cr->nob++];
	memset(e, 0, sizeof(*e));
	snprintf(e->d.record, sizeof(e->d.record), "%s", ev->record);
	snprintf(e->d.org, sizeof(e->d.org), "%s", ev->who);
	return true;
}

/* Returns 0, or the erase error (the cursor then stops advancing so that a
 * restart retries). */
static int erase_details(struct ds__node_credit *cr, const char *record, const char *why)
{
	pthread_mutex_lock(&cr->mu);
	int rc = ds_privstore_erase(cr->ps, record);
	pthread_mutex_unlock(&cr->mu);
	if (rc == 0) {
		count(cr->erased, 1);
		DS_LOGI(MOD, "details erased", " record=%s why=%s", record, why);
	} else if (rc != DS_ENOTFOUND) {
		DS_LOGE(MOD, "cannot erase details", " record=%s err=%s", record, ds_errname(rc));
		return rc;
	}
	return 0;
}

/* credit.corrected with details_replaced: the copy held is stale unless it
 * matches the record's current commitment (the issuer may already have
 * stored the new details, or a later correction restored the old ones). */
static int erase_if_stale(struct ds_node *n, const char *record)
{
	struct ds__node_credit *cr = n->credit;
	struct ds__credit_record r;
	uint8_t *d = NULL;
	size_t dl = 0;
	pthread_mutex_lock(&cr->mu);
	int rc = ds_privstore_get(cr->ps, &d, &dl, record);
	bool keep = rc == 0 && record_get(n->chain, record, strlen(record), &r) == 0 &&
		    strcmp(r.status, "active") == 0 && ds__credit_details_check(r.commitment, d, dl) == 0;
	ds_privstore_free(d, dl);
	pthread_mutex_unlock(&cr->mu);
	if (rc == DS_ENOTFOUND)
		return 0;
	if (keep) {
		DS_LOGD(MOD, "details match the current commitment: kept", " record=%s", record);
		return 0;
	}
	return erase_details(cr, record, "replaced");
}

/* Methods whose receipts can carry the events acted on; other txs are
 * skipped without reading their receipts (the commit path stays cheap). */
static bool method_of_interest(const char *m)
{
	return strcmp(m, "access") == 0 || strcmp(m, "erase") == 0 || strcmp(m, "expire") == 0 ||
	       strcmp(m, "correct") == 0;
}

/* Applies the credit events of committed block b: erasures at once,
 * deliveries into the outbox (sent by the caller). *acted: an event of
 * interest was seen; *queued: the outbox grew. Returns 0, or an erase
 * error (the other events are still applied). */
static int apply_block(struct ds_node *n, const struct ds_block *b, bool *acted, bool *queued)
{
	size_t pos = 0;
	const uint8_t *tx;
	size_t tl;
	struct ds_chain_txinfo ti;
	int err = 0;
	for (uint32_t i = 0; i < b->header.tx_count; i++) {
		if (ds_block_tx_next(b, &pos, &tx, &tl) != 1)
			break;
		struct ds_tx t;
		uint8_t id[DS_HASH_LEN];
		if (ds_tx_decode(&t, tx, tl) != 0 || strcmp(t.target, DS__CREDIT_CONTRACT) != 0 ||
		    !method_of_interest(t.method) || ds_tx_id(id, &t) != 0)
			continue;
		ds_chain_txinfo_init(&ti);
		struct ds_receipt rcpt;
		if (ds_chain_tx(n->chain, id, &ti) != 0 || !ti.executed || ti.receipt.err ||
		    ds_receipt_decode(&rcpt, ti.receipt.data, ti.receipt.len) != 0 ||
		    rcpt.status != DS_TX_OK) {
			ds_chain_txinfo_free(&ti);
			continue;
		}
		for (uint32_t k = 0; k < rcpt.nevents; k++) {
			struct ds__credit_ev ev;
			int rc = 0;
			if (ds__credit_event_parse(&ev, rcpt.events[k].name, rcpt.events[k].value,
						   rcpt.events[k].value_len) != 0 ||
			    ev.kind == DS__CREDIT_EV_NONE)
				continue;
			*acted = true;
			if (ev.kind == DS__CREDIT_EV_ACCESS && ev.granted)
				*queued |= queue_delivery(n, &ev);
			else if (ev.kind == DS__CREDIT_EV_ERASE)
				rc = erase_details(n->credit, ev.record, "erase");
			else if (ev.kind == DS__CREDIT_EV_REPLACED)
				rc = erase_if_stale(n, ev.record);
			if (rc && !err)
				err = rc;
		}
		ds_chain_txinfo_free(&ti);
	}
	return err;
}

/* Applies the events of every committed block after cr->done up to `to`
 * (the committed block `cur`, when given, is not read back from the
 * store), saving the outbox before the cursor moves past a block that
 * queued a delivery. The cursor is written after every block with events
 * and every CURSOR_EVERY blocks; a restart re-applies at most the blocks
 * after it, which is harmless: erasing twice finds nothing, queueing twice
 * finds the entry (or re-sends details the grantee already holds, which it
 * acknowledges again). */
static void catch_up(struct ds_node *n, uint64_t to, const struct ds_node_commit *cur)
{
	struct ds__node_credit *cr = n->credit;
	struct ds_buf blk, qc;
	ds_buf_init(&blk);
	ds_buf_init(&qc);
	while (cr->done < to) {
		uint64_t h = cr->done + 1;
		struct ds_block b;
		const struct ds_block *bp = NULL;
		if (cur && cur->height == h) {
			bp = cur->decoded;
		} else {
			ds_buf_reset(&blk);
			ds_buf_reset(&qc);
			int rc = ds_chain_block(n->chain, h, &blk, &qc);
			if (rc == 0 && (blk.err || qc.err))
				rc = DS_ENOMEM;
			if (rc == 0)
				rc = ds_block_decode(&b, blk.data, blk.len);
			if (rc) {
				DS_LOGE(MOD, "cannot read a committed block for credit events", " height=%" PRIu64 " err=%s",
					h, ds_errname(rc));
				break;
			}
			bp = &b;
		}
		bool acted = false, queued = false;
		if (apply_block(n, bp, &acted, &queued) != 0 && !cr->stuck) {
			cr->stuck = true;
			DS_LOGE(MOD, "an erasure failed: the credit cursor stays until a restart retries it",
				" height=%" PRIu64 " cursor=%" PRIu64, h, cr->saved);
		}
		if (queued)
			outbox_save(cr);
		cr->done = h;
		if (!cr->stuck && (acted || h - cr->saved >= CURSOR_EVERY)) {
			int rc = ds_privstore_cursor_set(cr->ps, h);
			if (rc == 0)
				cr->saved = h;
			else
				DS_LOGE(MOD, "cannot save the credit cursor", " height=%" PRIu64 " err=%s", h,
					ds_errname(rc));
		}
	}
	ds_buf_free(&blk);
	ds_buf_free(&qc);
}

static void on_commit(void *arg, const struct ds_node_commit *c)
{
	struct ds_node *n = arg;
	catch_up(n, c->height, c);
	retry_due(n);
}

void ds__node_credit_on_peer_up(struct ds_node *n, uint32_t peer)
{
	struct ds__node_credit *cr = n->credit;
	char org[DS__CREDIT_ORG_MAX + 1];
	if (!cr || !cr->nob || valset_lookup(n, peer, org, NULL, NULL) != 0)
		return;
	for (size_t i = 0; i < cr->nob; i++)
		if (strcmp(cr->ob[i].d.org, org) == 0)
			cr->ob[i].next_ms = 0;
	retry_due(n);
}

void ds__node_credit_on_ack(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len)
{
	struct ds__node_credit *cr = n->credit;
	if (!cr)
		return;
	const uint8_t *rid;
	size_t rl;
	char record[DS_PRIVSTORE_ID_MAX + 1], org[DS__CREDIT_ORG_MAX + 1];
	if (ds__credit_ack_decode(&rid, &rl, p, len) != 0) {
		DS_LOGW(MOD, "malformed details ack", " peer=%u len=%zu", peer, len);
		return;
	}
	memcpy(record, rid, rl);
	record[rl] = 0;
	/* A peer acknowledges for its own organisation only. */
	ssize_t i = valset_lookup(n, peer, org, NULL, NULL) == 0 ? outbox_find(cr, record, org) : -1;
	if (i < 0) {
		DS_LOGD(MOD, "details ack for nothing pending", " record=%s peer=%u", record, peer);
		return;
	}
	outbox_remove(cr, (size_t)i);
	outbox_save(cr);
	count(cr->acked, 1);
	DS_LOGI(MOD, "details delivered", " record=%s to=%s peer=%u", record, org, peer);
}

static void send_ack(struct ds_node *n, uint32_t peer, const char *record)
{
	struct ds_buf f;
	ds_buf_init(&f);
	ds__credit_ack_encode(&f, record);
	int rc = f.err ? DS_ENOMEM : ds__node_send(n, peer, DS__NODE_FRAME_DETAILS_ACK, f.data, f.len);
	ds_buf_free(&f);
	if (rc)
		DS_LOGD(MOD, "details ack not sent", " record=%s peer=%u err=%s", record, peer, ds_errname(rc));
}

void ds__node_credit_on_details(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len)
{
	struct ds__node_credit *cr = n->credit;
	if (!cr)
		return;
	const uint8_t *rid, *d;
	size_t rl, dl;
	char record[DS_PRIVSTORE_ID_MAX + 1] = "";
	char from_org[DS__CREDIT_ORG_MAX + 1] = "";
	struct ds__credit_record r;
	const char *why = NULL;
	int rc = ds__credit_frame_decode(&rid, &rl, &d, &dl, p, len);
	if (rc) {
		why = "malformed frame";
		goto refuse;
	}
	memcpy(record, rid, rl);
	record[rl] = 0;
	if ((rc = record_get(n->chain, record, rl, &r)) != 0) {
		why = "unknown record";
		goto refuse;
	}
	if (strcmp(r.status, "active") != 0) {
		rc = DS_ESTATE;
		why = "record is not active";
		goto refuse;
	}
	/* Details come only from the issuing organisation's node. */
	if ((rc = valset_lookup(n, peer, from_org, NULL, NULL)) != 0 || strcmp(from_org, r.org) != 0) {
		rc = DS_EDENIED;
		why = "sender is not the issuing organisation's node";
		goto refuse;
	}
	if ((rc = ds__credit_details_check(r.commitment, d, dl)) != 0) {
		why = rc == DS_EPROOF ? "details do not match the on-chain commitment" : "malformed details";
		goto refuse;
	}
	pthread_mutex_lock(&cr->mu);
	rc = ds_privstore_put(cr->ps, record, d, dl);
	pthread_mutex_unlock(&cr->mu);
	if (rc == DS_EEXIST) {
		DS_LOGD(MOD, "details already held", " record=%s", record);
		send_ack(n, peer, record);
		return;
	}
	if (rc) {
		DS_LOGE(MOD, "cannot store received details", " record=%s err=%s", record, ds_errname(rc));
		return;
	}
	count(cr->received, 1);
	DS_LOGI(MOD, "details received and verified", " record=%s from=%s peer=%u", record, from_org, peer);
	send_ack(n, peer, record);
	return;
refuse:
	count(cr->refused, 1);
	DS_LOGW(MOD, "details refused", " record=%s peer=%u why=\"%s\" err=%s", record[0] ? record : "-",
		peer, why, ds_errname(rc));
}

/* ------------------------------------------------------------------- HTTP */

static bool loopback_only(struct ds__node_credit *cr, struct ds_api_resp *r)
{
	if (cr->api_loopback)
		return true;
	ds_api_resp_error(r, 403, DS_API_E_FORBIDDEN,
			  "record details are served only on a loopback API (api_listen 127.0.0.1 or [::1])");
	return false;
}

static const char *record_param(const struct ds_api_req *req, struct ds_api_resp *r)
{
	const char *id = ds_api_param(req, "id");
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > DS_PRIVSTORE_ID_MAX || !ds_utf8_valid((const uint8_t *)id, n)) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_PARAM, "record id must be 1..%d bytes of UTF-8",
				  DS_PRIVSTORE_ID_MAX);
		return NULL;
	}
	return id;
}

static int record_or_reply(struct ds_node *n, const char *id, struct ds__credit_record *rec,
			   struct ds_api_resp *r)
{
	int rc = record_get(n->chain, id, strlen(id), rec);
	if (rc == DS_ENOTFOUND)
		ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "no record %s on chain", id);
	else if (rc)
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "cannot read record: %s", ds_strerror(rc));
	return rc;
}

static void hex_of(char out[2 * DS_HASH_LEN + 1], const uint8_t h[DS_HASH_LEN])
{
	ds_hex_encode(out, h, DS_HASH_LEN);
}

/* POST /v1/records/{id}/details {fields: [{name, value, salt}], [commitment],
 * [version]}: the issuing node stores details that match the chain. */
static void h_details_post(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds__node_credit *cr = ctx;
	struct ds_node *n = cr->n;
	static const struct ds_api_field fields[] = {
		{"fields", DS_API_JARR, true, DS_PRIV_FIELDS_MAX},
		{"commitment", DS_API_JHEX, false, DS_HASH_LEN},
		{"version", DS_API_JUINT, false, 1},
	};
	if (!loopback_only(cr, r))
		return;
	const char *id = record_param(req, r);
	if (!id)
		return;
	json_t *j = NULL;
	if (ds_api_json_body(&j, req, r, fields, DS_ARRAY_LEN(fields)) != 0)
		return;
	struct ds_privacy_field *f = calloc(DS_PRIV_FIELDS_MAX, sizeof(*f));
	uint8_t *enc = malloc(DS_PRIV_DETAILS_MAX);
	size_t nf = 0, el = 0;
	struct ds__credit_record rec;
	char self_org[DS__CREDIT_ORG_MAX + 1];
	char hex[2 * DS_HASH_LEN + 1];
	uint8_t root[DS_HASH_LEN];
	bool locked = false;
	int rc;
	if (!f || !enc) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "out of memory");
		goto out;
	}
	json_t *arr = json_object_get(j, "fields");
	nf = json_array_size(arr);
	if (nf == 0) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_FIELD, "fields: at least one field");
		goto out;
	}
	for (size_t i = 0; i < nf; i++) {
		json_t *e = json_array_get(arr, i);
		json_t *jn = json_object_get(e, "name"), *jv = json_object_get(e, "value"),
		       *js = json_object_get(e, "salt");
		const char *sh = json_string_value(js);
		if (!json_is_object(e) || json_object_size(e) != 3 || !json_is_string(jn) ||
		    !json_is_string(jv) || !sh || strlen(sh) != 2 * DS_PRIV_SALT_LEN ||
		    ds_hex_decode(f[i].salt, DS_PRIV_SALT_LEN, sh, strlen(sh)) != 0) {
			ds_api_resp_error(r, 400, DS_API_E_BAD_FIELD,
					  "fields[%zu] must be {name, value, salt (64 hex)}", i);
			goto out;
		}
		f[i].name = json_string_value(jn);
		f[i].name_len = json_string_length(jn);
		f[i].value = (const uint8_t *)json_string_value(jv);
		f[i].value_len = json_string_length(jv);
	}
	if ((rc = ds_privacy_fields_sort(f, nf)) != 0 || (rc = ds_privacy_commitment(root, f, nf)) != 0 ||
	    (rc = ds_privacy_details_encode(enc, DS_PRIV_DETAILS_MAX, &el, f, nf)) != 0) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_FIELD,
				  "fields refused (names 1..%d of [a-z0-9_.], unique; values UTF-8 without NUL, <= %d bytes): %s",
				  DS_PRIV_NAME_MAX, DS_PRIV_VALUE_MAX, ds_strerror(rc));
		goto out;
	}
	const char *ch = json_string_value(json_object_get(j, "commitment"));
	hex_of(hex, root);
	if (ch && strcmp(ch, hex) != 0) {
		ds_api_resp_error(r, 400, DS_API_E_BAD_FIELD,
				  "commitment given does not match the fields (computed %s)", hex);
		goto out;
	}
	/* Check and store under the lock: an erase hook for this record then
	 * runs either before the check (which sees the new status, since the
	 * state is executed before hooks run) or after the store (and erases
	 * the new copy). */
	pthread_mutex_lock(&cr->mu);
	locked = true;
	if (record_or_reply(n, id, &rec, r) != 0)
		goto out;
	if (valset_lookup(n, n->self, self_org, NULL, NULL) != 0 || strcmp(self_org, rec.org) != 0) {
		ds_api_resp_error(r, 403, DS_API_E_FORBIDDEN,
				  "record %s was issued by %s, not by this node's organisation", id, rec.org);
		goto out;
	}
	if (strcmp(rec.status, "active") != 0) {
		ds_api_resp_error(r, 409, DS_API_E_CONFLICT, "record %s is %s", id, rec.status);
		goto out;
	}
	if (memcmp(root, rec.commitment, DS_HASH_LEN) != 0) {
		ds_api_resp_error(r, 409, "COMMITMENT_MISMATCH",
				  "details do not match the record's on-chain commitment");
		goto out;
	}
	rc = ds_privstore_put(cr->ps, id, enc, el);
	pthread_mutex_unlock(&cr->mu);
	locked = false;
	if (rc == DS_EEXIST) {
		ds_api_resp_error(r, 409, DS_API_E_CONFLICT, "details of record %s are already stored", id);
		goto out;
	}
	if (rc) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "cannot store details: %s", ds_strerror(rc));
		goto out;
	}
	DS_LOGI(MOD, "details stored", " record=%s fields=%zu", id, nf);
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "record", json_string(id));
		json_object_set_new(o, "commitment", json_string(hex));
		json_object_set_new(o, "stored", json_true());
	}
	ds_api_resp_json(r, o ? 201 : 500, o);
out:
	if (locked)
		pthread_mutex_unlock(&cr->mu);
	if (enc) {
		ds_memzero(enc, DS_PRIV_DETAILS_MAX);
		free(enc);
	}
	if (f) {
		ds_memzero(f, DS_PRIV_FIELDS_MAX * sizeof(*f));
		free(f);
	}
	json_decref(j);
}

/* GET /v1/records/{id}/details: the details this node holds, and whether
 * they still match the chain. */
static void h_details_get(void *ctx, const struct ds_api_req *req, struct ds_api_resp *r)
{
	struct ds__node_credit *cr = ctx;
	if (!loopback_only(cr, r))
		return;
	const char *id = record_param(req, r);
	if (!id)
		return;
	struct ds__credit_record rec;
	if (record_or_reply(cr->n, id, &rec, r) != 0)
		return;
	uint8_t *d = NULL;
	size_t dl = 0;
	pthread_mutex_lock(&cr->mu);
	int rc = ds_privstore_get(cr->ps, &d, &dl, id);
	pthread_mutex_unlock(&cr->mu);
	if (rc == DS_ENOTFOUND) {
		ds_api_resp_error(r, 404, DS_API_E_NOT_FOUND, "this node holds no details of record %s", id);
		return;
	}
	if (rc) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "cannot read details: %s", ds_strerror(rc));
		return;
	}
	struct ds_privacy_field *f = calloc(DS_PRIV_FIELDS_MAX, sizeof(*f));
	size_t nf = 0;
	uint8_t root[DS_HASH_LEN];
	char hex[2 * DS_HASH_LEN + 1], salt[2 * DS_PRIV_SALT_LEN + 1];
	json_t *o = json_object(), *arr = json_array();
	if (!f || !o || !arr) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "out of memory");
		goto out;
	}
	if ((rc = ds_privacy_details_decode(f, DS_PRIV_FIELDS_MAX, &nf, d, dl)) != 0 ||
	    (rc = ds_privacy_commitment(root, f, nf)) != 0) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "stored details are malformed: %s",
				  ds_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < nf; i++) {
		json_t *e = json_object();
		if (!e)
			continue;
		ds_hex_encode(salt, f[i].salt, DS_PRIV_SALT_LEN);
		json_object_set_new(e, "name", json_stringn(f[i].name, f[i].name_len));
		json_object_set_new(e, "value", json_stringn((const char *)f[i].value, f[i].value_len));
		json_object_set_new(e, "salt", json_string(salt));
		json_array_append_new(arr, e);
	}
	json_object_set_new(o, "record", json_string(id));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "fields", arr);
	arr = NULL;
	hex_of(hex, root);
	json_object_set_new(o, "commitment", json_string(hex));
	hex_of(hex, rec.commitment);
	json_object_set_new(o, "onchain_commitment", json_string(hex));
	json_object_set_new(o, "status", json_string(rec.status));
	json_object_set_new(o, "verified", json_boolean(memcmp(root, rec.commitment, DS_HASH_LEN) == 0));
	ds_api_resp_json(r, 200, o);
	o = NULL;
out:
	json_decref(o);
	json_decref(arr);
	if (f) {
		ds_memzero(f, DS_PRIV_FIELDS_MAX * sizeof(*f));
		free(f);
	}
	ds_privstore_free(d, dl);
}

/* ----------------------------------------------------------------- wiring */

static struct ds_metric_series *counter(struct ds_metrics *reg, const char *name, const char *help)
{
	struct ds_metric *m;
	struct ds_metric_desc d = {.type = DS_METRIC_COUNTER, .name = name, .help = help};
	if (!reg || ds_metrics_add(&m, reg, &d) != 0)
		return NULL;
	return ds_metric_get(m, NULL);
}

static struct ds_metric_series *gauge(struct ds_metrics *reg, const char *name, const char *help)
{
	struct ds_metric *m;
	struct ds_metric_desc d = {.type = DS_METRIC_GAUGE, .name = name, .help = help};
	if (!reg || ds_metrics_add(&m, reg, &d) != 0)
		return NULL;
	return ds_metric_get(m, NULL);
}

/* At start: reloads the outbox and applies the credit events of every
 * block committed after the cursor (blocks this node committed while its
 * hook could not run: a crash or stop between a durable commit and the
 * hook, blocks written to the store before the node started). Nothing is
 * sent yet: deliveries go out when the grantees' nodes connect. */
static int credit_resume(struct ds_node *n)
{
	struct ds__node_credit *cr = n->credit;
	struct ds_privstore_delivery *d = calloc(DS_PRIVSTORE_OUTBOX_MAX, sizeof(*d));
	cr->ob = calloc(DS_PRIVSTORE_OUTBOX_MAX, sizeof(*cr->ob));
	if (!d || !cr->ob) {
		free(d);
		return DS_ENOMEM;
	}
	size_t nd = 0;
	int rc = ds_privstore_outbox_load(cr->ps, d, DS_PRIVSTORE_OUTBOX_MAX, &nd);
	if (rc) {
		/* Lost deliveries are not lost accesses: the grantee may call
		 * access again. Refusing to start would be worse. */
		DS_LOGE(MOD, "cannot read the outbox: pending deliveries dropped", " err=%s", ds_errname(rc));
		nd = 0;
	}
	for (size_t i = 0; i < nd; i++)
		cr->ob[i].d = d[i];
	cr->nob = nd;
	free(d);
	outbox_gauge(cr);
	uint64_t h = 0;
	rc = ds_privstore_cursor_get(cr->ps, &h);
	if (rc && rc != DS_ENOTFOUND)
		DS_LOGW(MOD, "unreadable credit cursor: rescanning from height 1", " err=%s", ds_errname(rc));
	cr->done = cr->saved = rc ? 0 : h;
	struct ds_chain_tip tip;
	if ((rc = ds_chain_tip(n->chain, &tip)) != 0)
		return rc;
	if (cr->done < tip.height)
		DS_LOGI(MOD, "applying credit events of blocks committed since the cursor",
			" from=%" PRIu64 " to=%" PRIu64 " outbox=%zu", cr->done + 1, tip.height, cr->nob);
	catch_up(n, tip.height, NULL);
	return 0;
}

static bool host_is_loopback(const char *hostport)
{
	char host[64];
	uint16_t port;
	if (ds_node_parse_hostport(host, sizeof(host), &port, hostport) != 0)
		return false;
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

int ds__node_credit_open(struct ds_node *n, struct ds_api *api)
{
	struct ds__node_credit *cr = calloc(1, sizeof(*cr));
	if (!cr)
		return DS_ENOMEM;
	cr->n = n;
	pthread_mutex_init(&cr->mu, NULL);
	cr->api_loopback = host_is_loopback(n->cfg.api_listen);
	int rc = ds_privstore_open(&cr->ps, n->home);
	if (rc) {
		DS_LOGE(MOD, "cannot open the private store", " home=%s err=%s", n->home, ds_errname(rc));
		pthread_mutex_destroy(&cr->mu);
		free(cr);
		return rc;
	}
	n->credit = cr;
	struct ds_metrics *reg = n->metrics;
	cr->sent = counter(reg, "danshari_credit_details_sent_total",
			   "Record details sent to a granted organisation's node.");
	cr->received = counter(reg, "danshari_credit_details_received_total",
			       "Record details received and verified against the chain.");
	cr->refused = counter(reg, "danshari_credit_details_refused_total",
			      "Record details received and refused (mismatch, unknown record, wrong sender).");
	cr->erased = counter(reg, "danshari_credit_details_erased_total",
			     "Record details crypto-shredded after erase, expiry or replacement.");
	cr->missing = counter(reg, "danshari_credit_details_missing_total",
			      "Granted accesses this node could not serve (no details held).");
	cr->acked = counter(reg, "danshari_credit_details_acked_total",
			    "Record details the grantee's node acknowledged (delivery done).");
	cr->outbox_g = gauge(reg, "danshari_credit_outbox_entries",
			     "Deliveries of record details waiting for the grantee node's acknowledgement.");
	if ((rc = credit_resume(n)) != 0)
		return rc;
	if ((rc = ds_node_on_commit(n, on_commit, n)) != 0)
		return rc;
	if (api) {
		if ((rc = ds_api_route(api, "POST", "/v1/records/{id}/details", h_details_post, cr)) ||
		    (rc = ds_api_route(api, "GET", "/v1/records/{id}/details", h_details_get, cr)))
			return rc;
	}
	return 0;
}

void ds__node_credit_close(struct ds_node *n)
{
	struct ds__node_credit *cr = n->credit;
	if (!cr)
		return;
	if (cr->ps && !cr->stuck && cr->done > cr->saved &&
	    ds_privstore_cursor_set(cr->ps, cr->done) != 0)
		DS_LOGW(MOD, "cannot save the credit cursor", " height=%" PRIu64, cr->done);
	ds_privstore_close(cr->ps);
	pthread_mutex_destroy(&cr->mu);
	free(cr->ob);
	free(cr);
	n->credit = NULL;
}
