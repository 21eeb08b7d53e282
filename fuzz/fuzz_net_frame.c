/* libFuzzer: the link layer's pure parsers (src/net/net_proto.c).
 * Byte 0 picks a mode:
 *   0: a received frame, u8 counter || 4-byte header || ciphertext, opened
 *      with a fixed key. Forgery must fail; a frame that opens must be
 *      exactly what ds__frame_seal makes of its plaintext (so a header that
 *      disagrees with the ciphertext length can never be accepted).
 *   1: u8 counter || plaintext: seal then open gives the plaintext back;
 *      the wrong counter, or any flipped byte, is refused.
 *   2: a handshake hello (u8 version || X25519 key) against a fixed own
 *      ephemeral key, as handle_hello does it; then the same bytes as the
 *      peer's secret key: both sides must derive mirrored keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZN_FRAME_MAX (1u << 17)
#define FZN_CHAIN "fuzz-chain"

static void fzn_key(uint8_t key[DS_AEAD_KEY_LEN])
{
	ds_sha256(key, "fuzz-frame-key", 14);
}

static void fzn_x25519_public(uint8_t pk[DS_X25519_LEN], const uint8_t sk[DS_X25519_LEN])
{
	static const uint8_t base[DS_X25519_LEN] = {9};
	if (ds_x25519(pk, sk, base) != 0)
		abort(); /* the base point never yields zero */
}

static void fzn_open(const uint8_t *in, size_t n)
{
	if (n < 1 + DS__FRAME_HDR_LEN || n - 1 - DS__FRAME_HDR_LEN > FZN_FRAME_MAX)
		return;
	uint8_t key[DS_AEAD_KEY_LEN];
	fzn_key(key);
	uint64_t ctr = in[0];
	const uint8_t *hdr = in + 1;
	size_t ct_len = n - 1 - DS__FRAME_HDR_LEN;
	uint8_t *buf = malloc(ct_len + 1);
	uint8_t *again = malloc(DS__FRAME_HDR_LEN + ct_len + 1);
	if (!buf || !again)
		abort();
	memcpy(buf, hdr + DS__FRAME_HDR_LEN, ct_len);
	if (ds__frame_open(hdr, buf, ct_len, ctr, key) == 0) {
		if (ct_len < DS_AEAD_TAG_LEN)
			abort();
		size_t mlen = ct_len - DS_AEAD_TAG_LEN;
		if (ds__frame_seal(again, buf, mlen, ctr, key) != 0 ||
		    memcmp(again, hdr, DS__FRAME_HDR_LEN + ct_len) != 0)
			abort();
	}
	free(buf);
	free(again);
}

static void fzn_seal(const uint8_t *in, size_t n)
{
	if (n < 1 || n - 1 > FZN_FRAME_MAX)
		return;
	uint8_t key[DS_AEAD_KEY_LEN];
	fzn_key(key);
	uint64_t ctr = in[0];
	const uint8_t *msg = in + 1;
	size_t len = n - 1, flen = DS__FRAME_HDR_LEN + len + DS_AEAD_TAG_LEN;
	uint8_t *f = malloc(flen), *g = malloc(flen);
	if (!f || !g)
		abort();
	if (ds__frame_seal(f, msg, len, ctr, key) != 0 || ds_get_u32be(f) != len + DS_AEAD_TAG_LEN)
		abort();
	memcpy(g, f, flen);
	if (ds__frame_open(g, g + DS__FRAME_HDR_LEN, flen - DS__FRAME_HDR_LEN, ctr, key) != 0 ||
	    memcmp(g + DS__FRAME_HDR_LEN, msg, len) != 0)
		abort();
	memcpy(g, f, flen);
	if (ds__frame_open(g, g + DS__FRAME_HDR_LEN, flen - DS__FRAME_HDR_LEN, ctr + 1, key) == 0)
		abort();
	/* One flipped bit anywhere, header included, must be refused. */
	size_t at = (len ? msg[0] : 0) % flen;
	memcpy(g, f, flen);
	g[at] ^= 0x01;
	if (ds__frame_open(g, g + DS__FRAME_HDR_LEN, flen - DS__FRAME_HDR_LEN, ctr, key) == 0)
		abort();
	free(f);
	free(g);
}

static void fzn_hello(const uint8_t *in, size_t n)
{
	if (n < DS__HS_HELLO_LEN)
		return;
	uint8_t own_sk[DS_X25519_LEN], own_pk[DS_X25519_LEN];
	ds_sha256(own_sk, "fuzz-own-ephemeral", 18);
	fzn_x25519_public(own_pk, own_sk);
	struct ds__hs_keys a, b;
	if (in[0] == DS__HS_VERSION) {
		int rc = ds__hs_derive(&a, FZN_CHAIN, own_sk, own_pk, in + 1);
		if (rc != 0 && rc != DS_ECRYPTO && rc != DS_EINVAL)
			abort();
		if (rc == 0) {
			uint8_t sb[DS__AUTH_SIGNED_LEN];
			ds__hs_signed_bytes(sb, &a);
			if (memcmp(sb, DS__HS_TAG, DS__HS_TAG_LEN) != 0)
				abort();
		}
	}
	/* The same 32 bytes as the peer's secret: both ends must agree. */
	uint8_t peer_sk[DS_X25519_LEN], peer_pk[DS_X25519_LEN];
	memcpy(peer_sk, in + 1, DS_X25519_LEN);
	fzn_x25519_public(peer_pk, peer_sk);
	int ra = ds__hs_derive(&a, FZN_CHAIN, own_sk, own_pk, peer_pk);
	int rb = ds__hs_derive(&b, FZN_CHAIN, peer_sk, peer_pk, own_pk);
	if (ra != rb)
		abort();
	if (ra == 0 && (memcmp(a.send_key, b.recv_key, DS_AEAD_KEY_LEN) != 0 ||
			memcmp(a.recv_key, b.send_key, DS_AEAD_KEY_LEN) != 0 ||
			memcmp(a.send_key, a.recv_key, DS_AEAD_KEY_LEN) == 0 ||
			memcmp(a.transcript, b.transcript, DS_HASH_LEN) != 0 ||
			memcmp(a.challenge, b.challenge, DS_HASH_LEN) != 0))
		abort();
	if (ra != 0 && memcmp(own_pk, peer_pk, DS_X25519_LEN) != 0)
		abort(); /* a genuine peer key (made from a scalar) is never refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0: fzn_open(data + 1, size - 1); break;
	case 1: fzn_seal(data + 1, size - 1); break;
	default: fzn_hello(data + 1, size - 1); break;
	}
	return 0;
}
