/* node_credit — the node side of credit records (docs/PRIVACY.md, "On the
 * running consortium"): the node's private store of record details, the
 * `details` frame that carries them to a granted organisation's node, the
 * reactions to committed credit.lua events (queue a delivery on a granted
 * access, crypto-shred on erase/expiry/replaced details), the durable
 * outbox of deliveries (resent until acknowledged), the cursor that lets a
 * restarted node apply the events of blocks its hook never saw, and the
 * loopback API routes /v1/records/{id}/details.
 *
 * Internal to src/node (not a public contract); the ds__credit_* helpers
 * are pure and exposed for the unit test. Pointers are borrowed for the
 * call unless a comment says otherwise. */
#ifndef DS_NODE_CREDIT_H
#define DS_NODE_CREDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privacy/privacy.h"
#include "privstore/privstore.h"
#include "util/util.h"

struct ds_node;
struct ds_chain;
struct ds_api;

/* Name of the contract whose events the node acts on; its state keys are
 * "contract/credit/<key>" (exec's per-contract namespace). */
#define DS__CREDIT_CONTRACT "credit"
#define DS__CREDIT_ORG_MAX DS_PRIVSTORE_ORG_MAX
/* A details frame: str(record id) || bytes(details encoding). */
#define DS__CREDIT_FRAME_MAX (2 * DS_UVAR_MAX_LEN + DS_PRIVSTORE_ID_MAX + DS_PRIV_DETAILS_MAX)

/* ---- node wiring (loop thread unless said otherwise) ---- */

/* Opens HOME/private, registers the commit hook and, when api is non-NULL,
 * the details routes. Returns 0 or the privstore/api error. */
int ds__node_credit_open(struct ds_node *n, struct ds_api *api) DS_MUST_USE;
/* After the API and the loop are stopped. NULL-safe on a node whose credit
 * part never opened. */
void ds__node_credit_close(struct ds_node *n);
/* A details frame from peer (frame type byte already stripped). A stored
 * (or already held) copy is acknowledged with a details_ack frame. */
void ds__node_credit_on_details(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len);
/* A details_ack frame from peer: the delivery of that record to the
 * peer's organisation leaves the outbox. */
void ds__node_credit_on_ack(struct ds_node *n, uint32_t peer, const uint8_t *p, size_t len);
/* A link to peer came up: pending deliveries to its organisation are sent
 * now. NULL-safe on a node whose credit part never opened. */
void ds__node_credit_on_peer_up(struct ds_node *n, uint32_t peer);

/* ---- pure helpers (tested alone) ---- */

/* What the node needs of an on-chain record (contract/credit/rec/<id>). */
struct ds__credit_record {
	uint8_t commitment[DS_HASH_LEN];
	char org[DS__CREDIT_ORG_MAX + 1];
	char status[16]; /* active|revoked|expired|erased */
};
/* Parses a record value (canonical map). Returns 0, DS_EINVAL (not a
 * record: missing/ill-typed org, status or commitment). */
int ds__credit_record_parse(struct ds__credit_record *out, const uint8_t *v, size_t len) DS_MUST_USE;

/* Checks details (ds_privacy_details_encode bytes) against commitment.
 * Returns 0, a ds_privacy_details_decode error (malformed), or DS_EPROOF
 * (well-formed but not what the chain committed to). */
int ds__credit_details_check(const uint8_t commitment[DS_HASH_LEN], const uint8_t *details,
			     size_t len) DS_MUST_USE;

/* Frame body codec. encode appends to out (out->err on memory failure);
 * decode borrows p: *record points into p (not NUL-terminated, 1..
 * DS_PRIVSTORE_ID_MAX bytes), *details too. decode returns 0, DS_ETRUNC,
 * DS_ETRAILING, DS_ENONMINIMAL, DS_ETOOBIG or DS_EINVAL (empty record id or
 * empty details). */
void ds__credit_frame_encode(struct ds_buf *out, const char *record, const uint8_t *details,
			     size_t len);
int ds__credit_frame_decode(const uint8_t **record, size_t *record_len, const uint8_t **details,
			    size_t *details_len, const uint8_t *p, size_t len) DS_MUST_USE;

/* details_ack frame body: str(record id). decode borrows p (*record points
 * into it, 1..DS_PRIVSTORE_ID_MAX bytes of UTF-8 without NUL) and returns
 * 0, DS_ETRUNC, DS_ETRAILING, DS_ENONMINIMAL, DS_ETOOBIG or DS_EINVAL. */
void ds__credit_ack_encode(struct ds_buf *out, const char *record);
int ds__credit_ack_decode(const uint8_t **record, size_t *record_len, const uint8_t *p,
			  size_t len) DS_MUST_USE;

/* A credit.lua event the node reacts to, parsed from a receipt. */
enum ds__credit_ev_kind {
	DS__CREDIT_EV_NONE = 0,
	DS__CREDIT_EV_ACCESS,   /* credit.access: who (org), record, granted */
	DS__CREDIT_EV_ERASE,    /* credit.erase: record */
	DS__CREDIT_EV_REPLACED, /* credit.corrected with details_replaced */
};
struct ds__credit_ev {
	enum ds__credit_ev_kind kind;
	char record[DS_PRIVSTORE_ID_MAX + 1];
	char who[DS__CREDIT_ORG_MAX + 1];
	bool granted;
};
/* Parses event (name, canonical value). Events the node ignores give
 * kind NONE and 0; a malformed event of a known name gives DS_EINVAL. */
int ds__credit_event_parse(struct ds__credit_ev *out, const char *name, const uint8_t *v,
			   size_t len) DS_MUST_USE;

#endif
