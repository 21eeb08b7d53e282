/* net_proto — the handshake key schedule and the frame seal/open, pure. */
#include <string.h>

#include "net/net_internal.h"

void ds__hs_transcript(uint8_t out[DS_HASH_LEN], const char *chain_id,
		       const uint8_t eph_a[DS_X25519_LEN], const uint8_t eph_b[DS_X25519_LEN])
{
	size_t cid_len = strlen(chain_id);
	DS_ASSERT(cid_len <= DS_NET_CHAIN_ID_MAX);
	uint8_t len8 = (uint8_t)cid_len;
	/* Sorting makes the transcript the same on both sides without roles. */
	int a_first = memcmp(eph_a, eph_b, DS_X25519_LEN) < 0;
	struct ds_iov parts[] = {
		{DS__HS_TAG, DS__HS_TAG_LEN},
		{&len8, 1},
		{chain_id, cid_len},
		{a_first ? eph_a : eph_b, DS_X25519_LEN},
		{a_first ? eph_b : eph_a, DS_X25519_LEN},
	};
	ds_sha256_v(out, parts, DS_ARRAY_LEN(parts));
}

int ds__hs_derive(struct ds__hs_keys *out, const char *chain_id,
		  const uint8_t own_eph_sk[DS_X25519_LEN], const uint8_t own_eph_pk[DS_X25519_LEN],
		  const uint8_t peer_eph_pk[DS_X25519_LEN])
{
	size_t cid_len = strlen(chain_id);
	if (cid_len == 0 || cid_len > DS_NET_CHAIN_ID_MAX)
		return DS_EINVAL;
	int cmp = memcmp(own_eph_pk, peer_eph_pk, DS_X25519_LEN);
	if (cmp == 0)
		return DS_EINVAL;
	uint8_t shared[DS_X25519_LEN];
	uint8_t okm[3 * 32];
	int rc = ds_x25519(shared, own_eph_sk, peer_eph_pk);
	if (rc != 0)
		goto fail;
	ds__hs_transcript(out->transcript, chain_id, own_eph_pk, peer_eph_pk);
	rc = ds_hkdf_sha256(okm, sizeof(okm), out->transcript, DS_HASH_LEN, shared, sizeof(shared),
			    (const uint8_t *)DS__HS_KEYS_INFO, sizeof(DS__HS_KEYS_INFO) - 1);
	if (rc != 0)
		goto fail;
	/* okm = key for lo->hi || key for hi->lo || challenge. */
	const uint8_t *lo_to_hi = okm, *hi_to_lo = okm + 32;
	memcpy(out->send_key, cmp < 0 ? lo_to_hi : hi_to_lo, 32);
	memcpy(out->recv_key, cmp < 0 ? hi_to_lo : lo_to_hi, 32);
	memcpy(out->challenge, okm + 64, 32);
fail:
	ds_memzero(shared, sizeof(shared));
	ds_memzero(okm, sizeof(okm));
	return rc;
}

void ds__hs_signed_bytes(uint8_t out[DS__AUTH_SIGNED_LEN], const struct ds__hs_keys *k)
{
	memcpy(out, DS__HS_TAG, DS__HS_TAG_LEN);
	memcpy(out + DS__HS_TAG_LEN, k->transcript, DS_HASH_LEN);
	memcpy(out + DS__HS_TAG_LEN + DS_HASH_LEN, k->challenge, DS_HASH_LEN);
}

void ds__frame_nonce(uint8_t nonce[DS_AEAD_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	ds_put_u64be(nonce + 4, counter);
}

int ds__frame_seal(uint8_t *out, const uint8_t *msg, size_t len, uint64_t counter,
		   const uint8_t key[DS_AEAD_KEY_LEN])
{
	DS_ASSERT(len <= DS_NET_FRAME_HARD_MAX);
	uint8_t nonce[DS_AEAD_NONCE_LEN];
	ds__frame_nonce(nonce, counter);
	ds_put_u32be(out, (uint32_t)(len + DS_AEAD_TAG_LEN));
	return ds_aead_encrypt(out + DS__FRAME_HDR_LEN, msg, len, out, DS__FRAME_HDR_LEN, nonce, key);
}

int ds__frame_open(const uint8_t hdr[DS__FRAME_HDR_LEN], uint8_t *ct, size_t ct_len,
		   uint64_t counter, const uint8_t key[DS_AEAD_KEY_LEN])
{
	if (ct_len < DS_AEAD_TAG_LEN)
		return DS_ECRYPTO;
	uint8_t nonce[DS_AEAD_NONCE_LEN];
	ds__frame_nonce(nonce, counter);
	return ds_aead_decrypt(ct, ct, ct_len, hdr, DS__FRAME_HDR_LEN, nonce, key) == 0 ? 0
											 : DS_ECRYPTO;
}
