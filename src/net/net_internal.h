/* net internals shared by src/net/net_*.c; not part of the module contract.
 * The protocol helpers here are pure (no I/O, no allocation) so the unit
 * tests can check the key schedule and frame format byte by byte. */
#ifndef DS_NET_INTERNAL_H
#define DS_NET_INTERNAL_H

#include <uv.h>

#include "net/net.h"

uv_loop_t *ds__loop_uv(ds_loop *loop);

#define DS__HS_TAG "danshari/handshake/v1"
#define DS__HS_TAG_LEN (sizeof(DS__HS_TAG) - 1)
#define DS__HS_KEYS_INFO "danshari/handshake/v1/keys"
#define DS__HS_VERSION 1
#define DS__HS_HELLO_LEN (1 + DS_X25519_LEN)
#define DS__FRAME_HDR_LEN 4
#define DS__AUTH_PLAIN_LEN (DS_PK_LEN + DS_SIG_LEN)
#define DS__AUTH_SIGNED_LEN (DS__HS_TAG_LEN + 2 * DS_HASH_LEN)

/* Result of the key schedule, seen from one side. Wiped by the caller. */
struct ds__hs_keys {
	uint8_t send_key[DS_AEAD_KEY_LEN];
	uint8_t recv_key[DS_AEAD_KEY_LEN];
	uint8_t challenge[DS_HASH_LEN];
	uint8_t transcript[DS_HASH_LEN];
};

/* Transcript hash: SHA-256(tag || u8 len(chain_id) || chain_id || lo || hi),
 * lo/hi being the two ephemeral public keys in byte order. */
void ds__hs_transcript(uint8_t out[DS_HASH_LEN], const char *chain_id,
		       const uint8_t eph_a[DS_X25519_LEN], const uint8_t eph_b[DS_X25519_LEN]);
/* Full key schedule. Returns 0; DS_ECRYPTO when the shared secret is all
 * zero (low-order peer point); DS_EINVAL when both ephemeral keys are equal
 * (a reflected hello) or chain_id is empty or too long. */
int ds__hs_derive(struct ds__hs_keys *out, const char *chain_id,
		  const uint8_t own_eph_sk[DS_X25519_LEN], const uint8_t own_eph_pk[DS_X25519_LEN],
		  const uint8_t peer_eph_pk[DS_X25519_LEN]) DS_MUST_USE;
/* The bytes each side signs: tag || transcript || challenge. */
void ds__hs_signed_bytes(uint8_t out[DS__AUTH_SIGNED_LEN], const struct ds__hs_keys *k);

/* Frame nonce: 4 zero bytes || counter as u64 big-endian. */
void ds__frame_nonce(uint8_t nonce[DS_AEAD_NONCE_LEN], uint64_t counter);
/* Writes header (u32be len+16) and ciphertext: out holds 4 + len + 16 bytes.
 * The header is the AEAD associated data. Returns 0 or DS_ECRYPTO. */
int ds__frame_seal(uint8_t *out, const uint8_t *msg, size_t len, uint64_t counter,
		   const uint8_t key[DS_AEAD_KEY_LEN]) DS_MUST_USE;
/* Opens a frame in place: hdr is its 4-byte header, ct its ct_len bytes
 * (ct_len >= 16); the plaintext (ct_len - 16 bytes) replaces ct. Returns 0
 * or DS_ECRYPTO (wrong key, counter, header or bytes). */
int ds__frame_open(const uint8_t hdr[DS__FRAME_HDR_LEN], uint8_t *ct, size_t ct_len,
		   uint64_t counter, const uint8_t key[DS_AEAD_KEY_LEN]) DS_MUST_USE;

#endif
