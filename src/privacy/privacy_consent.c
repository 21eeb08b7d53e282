/* Consent signing bytes, signing and verification. */
#include "privacy/privacy.h"

#include <string.h>

#include "codec/codec.h"

#define CONSENT_TAG "danshari/consent/v1"

static int id_ok(const char *s, int may_be_empty)
{
	size_t n = strnlen(s, DS_PRIV_ID_MAX + 1);
	if (n > DS_PRIV_ID_MAX || (n == 0 && !may_be_empty))
		return 0;
	return n == 0 || ds_utf8_valid((const uint8_t *)s, n);
}

int ds_privacy_consent_bytes(uint8_t *out, size_t cap, size_t *out_len,
			     const struct ds_privacy_consent *c)
{
	if (!id_ok(c->chain_id, 0) || !id_ok(c->record, 0) || !id_ok(c->grantee, 0) ||
	    !id_ok(c->purpose, 1))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_fixed(&e, CONSENT_TAG, strlen(CONSENT_TAG));
	ds_enc_str(&e, c->chain_id);
	ds_enc_fixed(&e, c->subject, DS_HASH_LEN);
	ds_enc_str(&e, c->record);
	ds_enc_str(&e, c->grantee);
	ds_enc_str(&e, c->purpose);
	ds_enc_uvar(&e, c->expiry_ms);
	return ds_enc_finish(&e, out_len);
}

int ds_privacy_consent_sign(uint8_t sig[DS_SIG_LEN], const struct ds_privacy_consent *c,
			    const uint8_t sk[DS_SK_LEN])
{
	uint8_t msg[DS_PRIV_CONSENT_BYTES_MAX];
	size_t len;
	int rc = ds_privacy_consent_bytes(msg, sizeof(msg), &len, c);
	if (rc)
		return rc;
	ds_ed25519_sign(sig, msg, len, sk);
	return 0;
}

int ds_privacy_consent_verify(const struct ds_privacy_consent *c, const uint8_t *sig,
			      size_t sig_len, const uint8_t *pk, size_t pk_len, uint64_t now_ms)
{
	uint8_t msg[DS_PRIV_CONSENT_BYTES_MAX];
	size_t len;
	int rc = ds_privacy_consent_bytes(msg, sizeof(msg), &len, c);
	if (rc)
		return rc;
	rc = ds_ed25519_verify_checked(sig, sig_len, msg, len, pk, pk_len);
	if (rc)
		return DS_ESIG;
	if (now_ms >= c->expiry_ms)
		return DS_EEXPIRED;
	return 0;
}
