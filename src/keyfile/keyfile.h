/* keyfile — Ed25519 key files and public-key hex helpers.
 *
 * Format (text, ASCII, every line ends in "\n", nothing after the last):
 *
 *   danshari-key v1
 *   type ed25519
 *   seed <64 lowercase hex: the RFC 8032 secret seed>
 *   public <64 lowercase hex: the public key derived from the seed>
 *   check <16 lowercase hex>
 *
 * check = the first 8 bytes of SHA-256 over the exact bytes of the four lines
 * above it (newlines included). The public line lets an operator read the
 * key's identity with `cat`, and a second, independent check: it must match
 * the seed. Files are written atomically with mode 0600 and never overwrite;
 * loading refuses files that group or others may read or write.
 *
 * Errors (each also described in the caller's err buffer, one line):
 *   DS_ENOTFOUND no such file; DS_EIO cannot open/read, not a regular file;
 *   DS_EPERM mode allows group/other access; DS_ETOOBIG over
 *   DS_KEYFILE_MAX bytes; DS_ETAG not a danshari key file (first line) or
 *   unsupported key type; DS_EVERSION a danshari key file of another
 *   version; DS_ETRUNC missing lines or final newline; DS_ECORRUPT malformed
 *   line, bad hex, checksum mismatch or public key not matching the seed;
 *   DS_EEXIST (write) the file exists. */
#ifndef DS_KEYFILE_H
#define DS_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/util.h"

#define DS_KEYFILE_MAX 1024 /* bytes; a valid file is 194 */
#define DS_KEYFILE_MAGIC "danshari-key"
#define DS_KEYFILE_ERR_MAX 256 /* a good size for err buffers */

/* A loaded key pair. sk is secret: wipe with ds_keyfile_wipe when done. */
struct ds_key {
	uint8_t pk[DS_PK_LEN];
	uint8_t sk[DS_SK_LEN]; /* seed || pk (libsodium layout) */
};

/* Fresh random key pair. Returns 0 or DS_ECRYPTO. */
int ds_keyfile_generate(struct ds_key *key) DS_MUST_USE;
/* Key pair from a seed (tests, known vectors). */
int ds_keyfile_from_seed(struct ds_key *key, const uint8_t seed[DS_SEED_LEN]) DS_MUST_USE;
void ds_keyfile_wipe(struct ds_key *key);

/* Writes the file text into out (cap >= DS_KEYFILE_MAX) and *out_len. The
 * caller wipes out afterwards: it holds the seed. */
int ds_keyfile_format(char *out, size_t cap, size_t *out_len, const struct ds_key *key) DS_MUST_USE;
/* Parses file text (no I/O, no mode check). err (cap err_cap, may be NULL)
 * receives a one-line reason on failure; key is zeroed on failure. */
int ds_keyfile_parse(struct ds_key *key, const uint8_t *text, size_t len, char *err,
		     size_t err_cap) DS_MUST_USE;
/* Writes key to path atomically, mode 0600, refusing to overwrite. */
int ds_keyfile_write(const char *path, const struct ds_key *key, char *err, size_t err_cap) DS_MUST_USE;
/* Loads and checks a key file (mode first, then content). */
int ds_keyfile_load(struct ds_key *key, const char *path, char *err, size_t err_cap) DS_MUST_USE;

/* Public keys as text: exactly 64 hex digits (either case accepted, lowercase
 * written). out must hold 2 * DS_PK_LEN + 1 chars. */
int ds_keyfile_pk_from_hex(uint8_t pk[DS_PK_LEN], const char *hex) DS_MUST_USE;
void ds_keyfile_pk_to_hex(char out[2 * DS_PK_LEN + 1], const uint8_t pk[DS_PK_LEN]);

#endif
