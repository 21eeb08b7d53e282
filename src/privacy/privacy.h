/* privacy — subject pseudonyms, salted field commitments, selective
 * disclosure and consent signing bytes (docs/PRIVACY.md).
 *
 * Pure module: no I/O, no clock (times are passed in), no allocation.
 * Randomness only where a caller asks for fresh salts
 * (ds_privacy_fields_salt). Everything that is hashed or signed here is
 * specified byte for byte in docs/PRIVACY.md, "Formats".
 *
 * Encodings use the codec primitives: str/bytes = uvar length || bytes. */
#ifndef DS_PRIVACY_H
#define DS_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "merkle/merkle.h"
#include "util/util.h"

#define DS_PRIV_KEY_LEN 32        /* consortium subject key */
#define DS_PRIV_SALT_LEN 32
#define DS_PRIV_KIND_MAX 16       /* "person" or "org" */
#define DS_PRIV_NATID_MAX 64      /* normalised national id, characters */
#define DS_PRIV_FIELDS_MAX 64     /* fields of one record's details */
#define DS_PRIV_NAME_MAX 64       /* field name bytes: [a-z0-9_.] */
#define DS_PRIV_VALUE_MAX 4096    /* field value bytes (UTF-8) */
#define DS_PRIV_ID_MAX 128        /* record ids, org ids, chain ids, purposes */
/* Largest details encoding (see ds_privacy_details_encode). */
#define DS_PRIV_DETAILS_MAX \
	(1 + 2 + DS_PRIV_FIELDS_MAX * (2 + DS_PRIV_NAME_MAX + 2 + DS_PRIV_VALUE_MAX + DS_PRIV_SALT_LEN))
#define DS_PRIV_DISCLOSURE_MAX \
	(1 + 2 + DS_PRIV_NAME_MAX + 2 + DS_PRIV_VALUE_MAX + DS_PRIV_SALT_LEN + 2 + 2 + 1 + \
	 DS_MERKLE_INCL_MAX * DS_HASH_LEN)
#define DS_PRIV_CONSENT_BYTES_MAX (64 + 4 * (2 + DS_PRIV_ID_MAX) + DS_HASH_LEN + DS_UVAR_MAX_LEN)

/* ---- Subjects ---------------------------------------------------------- */

/* The consortium subject key: secret, held by member nodes only. key_id
 * names its version (pseudonyms made under different keys differ). */
struct ds_privacy_subject_key {
	uint32_t key_id; /* >= 1 */
	uint8_t key[DS_PRIV_KEY_LEN];
};
#define DS_PRIV_SUBJECT_KEY_FILE_MAX 256
/* Text form (file): "danshari-subject-key v1\nkey-id <n>\nkey <64 hex>\n".
 * format writes it into out (cap >= DS_PRIV_SUBJECT_KEY_FILE_MAX); the caller
 * wipes out afterwards. parse is strict (exact lines, lowercase hex) and
 * returns DS_ETAG (not such a file), DS_ECORRUPT (malformed) or 0; *k is
 * zeroed on error. */
int ds_privacy_subject_key_format(char *out, size_t cap, size_t *out_len,
				  const struct ds_privacy_subject_key *k) DS_MUST_USE;
int ds_privacy_subject_key_parse(struct ds_privacy_subject_key *k, const uint8_t *text,
				 size_t len) DS_MUST_USE;

/* Normalises a national id (citizen id number, unified social credit code):
 * ASCII spaces and '-' dropped, a-z upper-cased; what remains must be 1..
 * DS_PRIV_NATID_MAX characters of [0-9A-Z]. kind must be "person" or "org".
 * out holds DS_PRIV_NATID_MAX + 1. Returns 0 or DS_EINVAL. */
int ds_privacy_normalise_id(char out[DS_PRIV_NATID_MAX + 1], const char *kind,
			    const char *national_id) DS_MUST_USE;
/* Pseudonymous subject id = HMAC-SHA-256(key, "danshari/subject/v1" ||
 * str(kind) || str(normalised id)). Returns 0 or DS_EINVAL (bad kind/id). */
int ds_privacy_subject_id(uint8_t out[DS_HASH_LEN], const struct ds_privacy_subject_key *k,
			  const char *kind, const char *national_id) DS_MUST_USE;

/* ---- Details and field commitments ------------------------------------- */

/* One field of a record's details. name/value borrowed. name: 1..
 * DS_PRIV_NAME_MAX bytes of [a-z0-9_.]; value: 0..DS_PRIV_VALUE_MAX bytes of
 * UTF-8 without NUL. */
struct ds_privacy_field {
	const char *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
	uint8_t salt[DS_PRIV_SALT_LEN];
};

/* Field commitment = SHA-256("danshari/field/v1" || salt || str(name) ||
 * str(value)). Assumes a valid field (see ds_privacy_fields_check). */
void ds_privacy_field_commit(uint8_t out[DS_HASH_LEN], const struct ds_privacy_field *f);
/* Checks 1..DS_PRIV_FIELDS_MAX valid fields, names strictly increasing
 * bytewise (so unique). Returns 0, DS_EINVAL (bad name/value, unsorted or
 * duplicate), DS_ETOOBIG (count or a length over its maximum). */
int ds_privacy_fields_check(const struct ds_privacy_field *f, size_t n) DS_MUST_USE;
/* Sorts f by name (bytewise), then checks as above. */
int ds_privacy_fields_sort(struct ds_privacy_field *f, size_t n) DS_MUST_USE;
/* Fills every field's salt with fresh random bytes. */
void ds_privacy_fields_salt(struct ds_privacy_field *f, size_t n);
/* Record commitment: RFC 6962 root over leaf_i = SHA-256(0x00 || field
 * commitment_i), fields in name order. Returns 0 or ds_privacy_fields_check's
 * error. */
int ds_privacy_commitment(uint8_t root[DS_HASH_LEN], const struct ds_privacy_field *f,
			  size_t n) DS_MUST_USE;

/* Details encoding (private store, node-to-node transfer):
 *   u8 version (1) || uvar n || n x (str name || str value || fixed32 salt)
 * names strictly increasing. encode returns 0 and *out_len, a
 * ds_privacy_fields_check error, or DS_ETOOBIG (cap). decode fills f[0..*n)
 * (cap entries) with pointers borrowing p; strict: DS_EVERSION, DS_ETRUNC,
 * DS_ETRAILING, DS_ENONMINIMAL, DS_ETOOBIG, DS_EINVAL. */
int ds_privacy_details_encode(uint8_t *out, size_t cap, size_t *out_len,
			      const struct ds_privacy_field *f, size_t n) DS_MUST_USE;
int ds_privacy_details_decode(struct ds_privacy_field *f, size_t cap, size_t *n, const uint8_t *p,
			      size_t len) DS_MUST_USE;

/* ---- Selective disclosure ---------------------------------------------- */

/* One disclosed field and its inclusion proof in the record commitment.
 * Pointers borrow the fields or the decoded input. */
struct ds_privacy_disclosure {
	struct ds_privacy_field field;
	uint64_t index; /* position of the field in name order */
	uint64_t count; /* number of fields */
	size_t path_len;
	uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
};
/* Builds the disclosure of field `name` from the sorted, checked fields
 * (borrowed by *d). Returns 0, DS_ENOTFOUND, or a fields error. */
int ds_privacy_disclose(struct ds_privacy_disclosure *d, const struct ds_privacy_field *f,
			size_t n, const char *name, size_t name_len) DS_MUST_USE;
/* Returns 0 if d proves its field under commitment, DS_EINVAL for a
 * malformed field, DS_EPROOF otherwise. */
int ds_privacy_disclosure_verify(const uint8_t commitment[DS_HASH_LEN],
				 const struct ds_privacy_disclosure *d) DS_MUST_USE;
/* Encoding: u8 version (1) || str name || str value || fixed32 salt ||
 * uvar index || uvar count || uvar path_len (<= 64) || path_len x fixed32.
 * decode borrows p; strict like ds_privacy_details_decode; it checks the
 * shape, not the proof. */
int ds_privacy_disclosure_encode(uint8_t *out, size_t cap, size_t *out_len,
				 const struct ds_privacy_disclosure *d) DS_MUST_USE;
int ds_privacy_disclosure_decode(struct ds_privacy_disclosure *d, const uint8_t *p,
				 size_t len) DS_MUST_USE;

/* ---- Consent ----------------------------------------------------------- */

/* A subject's consent that grantee may read the details of one record
 * until expiry_ms. Strings NUL-terminated, borrowed, 1..DS_PRIV_ID_MAX bytes
 * (purpose may be ""). */
struct ds_privacy_consent {
	const char *chain_id;
	uint8_t subject[DS_HASH_LEN];
	const char *record;
	const char *grantee;
	const char *purpose;
	uint64_t expiry_ms;
};
/* Signing bytes: "danshari/consent/v1" || str chain_id || fixed32 subject ||
 * str record || str grantee || str purpose || uvar expiry_ms.
 * Returns 0 and *out_len, DS_EINVAL (a string empty/too long/not UTF-8), or
 * DS_ETOOBIG (cap; DS_PRIV_CONSENT_BYTES_MAX always suffices). */
int ds_privacy_consent_bytes(uint8_t *out, size_t cap, size_t *out_len,
			     const struct ds_privacy_consent *c) DS_MUST_USE;
/* Signs with the subject's Ed25519 key (sk: seed || pk). */
int ds_privacy_consent_sign(uint8_t sig[DS_SIG_LEN], const struct ds_privacy_consent *c,
			    const uint8_t sk[DS_SK_LEN]) DS_MUST_USE;
/* Returns 0 if sig is pk's signature of c and now_ms < expiry_ms; DS_EINVAL
 * (malformed consent), DS_ESIG (bad signature), DS_EEXPIRED. The signature
 * is checked before the expiry so a forged consent is always DS_ESIG. */
int ds_privacy_consent_verify(const struct ds_privacy_consent *c, const uint8_t *sig,
			      size_t sig_len, const uint8_t *pk, size_t pk_len,
			      uint64_t now_ms) DS_MUST_USE;

#endif
