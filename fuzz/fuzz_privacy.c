/* libFuzzer: the privacy module's decoders (src/privacy/privacy.h). Byte 0
 * picks one: 0 details, 1 disclosure, 2 subject key file. Accepted input
 * re-encodes to identical bytes; decoded details always pass the field
 * checks and commit; a decoded disclosure verifies against a fixed
 * commitment, and against the one its own path implies, without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fzp_details(const uint8_t *p, size_t n)
{
	static struct ds_privacy_field f[DS_PRIV_FIELDS_MAX];
	static uint8_t out[DS_PRIV_DETAILS_MAX];
	size_t nf, len;
	if (n > sizeof(out) || ds_privacy_details_decode(f, DS_PRIV_FIELDS_MAX, &nf, p, n) != 0)
		return;
	uint8_t root[DS_HASH_LEN];
	if (ds_privacy_fields_check(f, nf) != 0 || ds_privacy_commitment(root, f, nf) != 0 ||
	    ds_privacy_details_encode(out, sizeof(out), &len, f, nf) != 0 || len != n ||
	    memcmp(out, p, n) != 0)
		abort();
	/* Every field's disclosure proves itself under the commitment. */
	static struct ds_privacy_disclosure d;
	if (ds_privacy_disclose(&d, f, nf, f[0].name, f[0].name_len) != 0 ||
	    ds_privacy_disclosure_verify(root, &d) != 0)
		abort();
}

static void fzp_disclosure(const uint8_t *p, size_t n)
{
	static struct ds_privacy_disclosure d;
	static uint8_t out[DS_PRIV_DISCLOSURE_MAX];
	size_t len;
	if (n > sizeof(out) || ds_privacy_disclosure_decode(&d, p, n) != 0)
		return;
	if (ds_privacy_disclosure_encode(out, sizeof(out), &len, &d) != 0 || len != n ||
	    memcmp(out, p, n) != 0)
		abort();
	uint8_t root[DS_HASH_LEN];
	ds_sha256(root, "fuzz-commitment", 15);
	(void)!ds_privacy_disclosure_verify(root, &d);
	/* The root the proof itself implies, when the field is well formed. */
	if (ds_privacy_fields_check(&d.field, 1) == 0 && d.path_len == 0 && d.count == 1) {
		uint8_t fc[DS_HASH_LEN];
		ds_privacy_field_commit(fc, &d.field);
		ds_merkle_leaf_hash(root, fc, sizeof(fc));
		if (ds_privacy_disclosure_verify(root, &d) != 0 && d.index == 0)
			abort();
	}
}

static void fzp_subject_key(const uint8_t *p, size_t n)
{
	struct ds_privacy_subject_key k;
	static const struct ds_privacy_subject_key zero;
	char out[DS_PRIV_SUBJECT_KEY_FILE_MAX];
	size_t len;
	if (ds_privacy_subject_key_parse(&k, p, n) != 0) {
		if (memcmp(&k, &zero, sizeof(k)) != 0)
			abort();
		return;
	}
	if (ds_privacy_subject_key_format(out, sizeof(out), &len, &k) != 0 || len != n ||
	    memcmp(out, p, n) != 0)
		abort();
	ds_memzero(out, sizeof(out));
	ds_memzero(&k, sizeof(k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0: fzp_details(data + 1, size - 1); break;
	case 1: fzp_disclosure(data + 1, size - 1); break;
	default: fzp_subject_key(data + 1, size - 1); break;
	}
	return 0;
}
