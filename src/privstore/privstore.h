/* privstore — a node's encrypted private store of record details.
 *
 * Layout under HOME/private/ (directory mode 0700, files 0600):
 *   master.key          "danshari-private-master v1\nkey <64 hex>\n"
 *   keys/<name>.key     the record's key wrapped under the master key
 *   data/<name>.dat     the record's details encrypted under its own key
 *   cursor, outbox      the node's bookkeeping (below), no personal data
 * name = hex(SHA-256("danshari/privstore/name/v1" || record id)), so file
 * names carry no record text. Exact byte layouts: docs/PRIVACY.md.
 *
 * Every record has its own random 32-byte key (XChaCha20-Poly1305, random
 * 24-byte nonces); details are encrypted in memory before anything is
 * written, so plaintext never reaches the disk. Erasure crypto-shreds:
 * both files are overwritten in place (zeros for the wrapped key, random
 * bytes for the ciphertext), synced and unlinked. See docs/PRIVACY.md for
 * what overwriting can and cannot promise on journaling file systems and
 * SSDs.
 *
 * Not thread-safe: one owner (the node loop) per handle. The contents
 * (details bytes) are opaque here; callers check them against on-chain
 * commitments (privacy.h). */
#ifndef DS_PRIVSTORE_H
#define DS_PRIVSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define DS_PRIVSTORE_DETAILS_MAX (1u << 20) /* bytes of one record's details */
#define DS_PRIVSTORE_ID_MAX 128             /* bytes of a record id */

struct ds_privstore;

/* Opens (creating when absent) HOME/private and its master key. Returns 0
 * and *out (owned: ds_privstore_close), DS_EIO (cannot create/read),
 * DS_EPERM (directory or master key readable by group/other), DS_ECORRUPT
 * (malformed master key file), DS_ENOMEM. home is copied. */
int ds_privstore_open(struct ds_privstore **out, const char *home) DS_MUST_USE;
/* Wipes the master key from memory and frees. NULL is fine. */
void ds_privstore_close(struct ds_privstore *ps);

/* Stores details (copied, encrypted) under record_id (1..DS_PRIVSTORE_ID_MAX
 * bytes, UTF-8). Returns 0, DS_EINVAL (bad id, empty details), DS_ETOOBIG,
 * DS_EEXIST (already stored: erase first), DS_EIO, DS_ECRYPTO. */
int ds_privstore_put(struct ds_privstore *ps, const char *record_id, const uint8_t *details,
		     size_t len) DS_MUST_USE;
/* Decrypts the details of record_id into *out (owned by the caller: free
 * with ds_privstore_free, which wipes it). Returns 0, DS_EINVAL,
 * DS_ENOTFOUND (never stored, or erased), DS_ECORRUPT (files fail
 * authentication: tampered, truncated, or another record's), DS_EIO. */
int ds_privstore_get(struct ds_privstore *ps, uint8_t **out, size_t *out_len,
		     const char *record_id) DS_MUST_USE;
void ds_privstore_free(uint8_t *p, size_t len);
/* 1 if record_id is stored, 0 if not, or DS_EINVAL. */
int ds_privstore_has(struct ds_privstore *ps, const char *record_id) DS_MUST_USE;
/* Crypto-shreds record_id (see above). Returns 0, DS_ENOTFOUND (nothing
 * stored), DS_EINVAL, DS_EIO. After 0, get returns DS_ENOTFOUND. */
int ds_privstore_erase(struct ds_privstore *ps, const char *record_id) DS_MUST_USE;

/* ---- the node's bookkeeping beside the records ----
 * Two small files, not encrypted: they hold only block heights, record ids
 * and organisation names, which the chain shows everyone (audit entries).
 * Both are written atomically (temp file, fsync, rename). */

/* The cursor: the last block height whose credit events this node has
 * applied (erasures, deliveries queued). File "cursor", exactly
 * "danshari-private-cursor v1\nheight <decimal, no leading zero>\n".
 * get returns 0, DS_ENOTFOUND (no file yet), DS_ECORRUPT, DS_EIO. */
int ds_privstore_cursor_get(struct ds_privstore *ps, uint64_t *height) DS_MUST_USE;
/* Returns 0 or DS_EIO. */
int ds_privstore_cursor_set(struct ds_privstore *ps, uint64_t height) DS_MUST_USE;

/* The outbox: record details this (issuing) node still has to deliver to a
 * granted organisation's node, until that node acknowledges them. File
 * "outbox": "DSPO" || 0x01 || uvar n (0..DS_PRIVSTORE_OUTBOX_MAX) ||
 * n x (str record id || str org), decoded strictly. */
#define DS_PRIVSTORE_ORG_MAX 64
#define DS_PRIVSTORE_OUTBOX_MAX 1024
struct ds_privstore_delivery {
	char record[DS_PRIVSTORE_ID_MAX + 1]; /* 1..DS_PRIVSTORE_ID_MAX bytes, UTF-8 */
	char org[DS_PRIVSTORE_ORG_MAX + 1];   /* 1..DS_PRIVSTORE_ORG_MAX bytes, UTF-8 */
};
/* Loads up to cap entries into out (*n of them; 0 when there is no file).
 * Returns 0, DS_ECORRUPT (malformed file), DS_ETOOBIG (more than cap
 * entries), DS_EIO. */
int ds_privstore_outbox_load(struct ds_privstore *ps, struct ds_privstore_delivery *out, size_t cap,
			     size_t *n) DS_MUST_USE;
/* Replaces the outbox with e[0..n). Returns 0, DS_EINVAL (a bad record id
 * or org), DS_ETOOBIG (n > DS_PRIVSTORE_OUTBOX_MAX), DS_ENOMEM, DS_EIO. */
int ds_privstore_outbox_save(struct ds_privstore *ps, const struct ds_privstore_delivery *e,
			     size_t n) DS_MUST_USE;

#endif
