/* libFuzzer: what a node parses of credit records (src/node/node_credit.h).
 * Byte 0 picks one: 0 a details frame from a peer (accepted frames
 * re-encode to identical bytes; their details are checked against a fixed
 * commitment, which must never match), 1 an on-chain record value, 2..4 a
 * credit.lua event value (access, erase, corrected), 5 a details_ack frame
 * (accepted frames re-encode to identical bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_credit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_frame(const uint8_t *p, size_t n)
{
	const uint8_t *rid, *det;
	size_t rl, dl;
	if (ds__credit_frame_decode(&rid, &rl, &det, &dl, p, n) != 0)
		return;
	if (rl == 0 || rl > DS_PRIVSTORE_ID_MAX || dl == 0)
		abort();
	char id[DS_PRIVSTORE_ID_MAX + 1];
	memcpy(id, rid, rl);
	id[rl] = 0;
	struct ds_buf b;
	ds_buf_init(&b);
	if (memchr(rid, 0, rl) == NULL) {
		ds__credit_frame_encode(&b, id, det, dl);
		if (b.err || b.len != n || memcmp(b.data, p, n) != 0)
			abort();
	}
	ds_buf_free(&b);
	uint8_t c[DS_HASH_LEN];
	memset(c, 0xa5, sizeof(c));
	if (ds__credit_details_check(c, det, dl) == 0)
		abort(); /* would be a SHA-256 preimage */
}

static void fz_ack(const uint8_t *p, size_t n)
{
	const uint8_t *rid;
	size_t rl;
	if (ds__credit_ack_decode(&rid, &rl, p, n) != 0)
		return;
	if (rl == 0 || rl > DS_PRIVSTORE_ID_MAX || memchr(rid, 0, rl) != NULL)
		abort();
	char id[DS_PRIVSTORE_ID_MAX + 1];
	memcpy(id, rid, rl);
	id[rl] = 0;
	struct ds_buf b;
	ds_buf_init(&b);
	ds__credit_ack_encode(&b, id);
	if (b.err || b.len != n || memcmp(b.data, p, n) != 0)
		abort();
	ds_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct ds__credit_record r;
	struct ds__credit_ev ev;
	static const char *const names[] = {"credit.access", "credit.erase", "credit.corrected"};
	switch (data[0] % 6) {
	case 0:
		fz_frame(p, n);
		break;
	case 5:
		fz_ack(p, n);
		break;
	case 1:
		if (ds__credit_record_parse(&r, p, n) == 0 && (r.org[0] == 0 || r.status[0] == 0))
			abort();
		break;
	default:
		if (ds__credit_event_parse(&ev, names[data[0] % 6 - 2], p, n) == 0 &&
		    ev.kind != DS__CREDIT_EV_NONE && ev.record[0] == 0)
			abort();
		break;
	}
	return 0;
}
