/* privstore — a node's encrypted private store of record details.
 *
 * Layout under HOME/private/ (directory mode 0700, files 0600):
 *   master.key          "danshari-private-master v1\nkey <64 hex>\n"
 *   keys/<name>.key     the record's key wrapped under the master key
 *   data/<name>.dat     the record's details encrypted under its own key
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

#endif
