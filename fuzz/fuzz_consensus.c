/* libFuzzer: consensus wire decoders and the consensus core.
 *
 * 1. Every message the input holds (and the whole input) goes through the
 *    proposal, vote and timeout decoders; an accepted one re-encodes to
 *    identical bytes.
 * 2. A started core of a 4-validator set (which one it is, or an observer,
 *    is picked by byte 0) receives the input as a script of records:
 *      op & 0x80:  the last requested timer fires (the clock jumps to it);
 *      otherwise:  u16be len || len bytes, a message from validator op & 7
 *                  (4..7 are not validators).
 *    The core must never crash or fail (it only fails on host errors, and
 *    this host has none), must deliver commits in height order, must only
 *    send messages its own decoders accept, and must restart from the
 *    safety state it persisted. Signatures are the forgeable fakes of
 *    fuzz_cons_io.h, so mutated messages reach the rules past the checks.
 * fuzz/gen_seeds.c writes scripts recorded from a live 4-node run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "fuzz_cons_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZC_RECORDS_MAX 256

/* Returns the decoded type (1..3) or 0 when no decoder accepted m. */
static int fzc_roundtrip(const uint8_t *m, size_t n)
{
	static struct ds_cons_proposal p;
	static struct ds_cons_vote v;
	static struct ds_cons_timeout t;
	int kind = 0, rc = 0;
	uint8_t *out = malloc(n ? n : 1);
	size_t len;
	if (!out)
		abort();
	if (ds_cons_decode_proposal(&p, m, n) == 0) {
		kind = DS_CONS_MSG_PROPOSAL;
		rc = ds_cons_encode_proposal(out, n, &len, &p);
	} else if (ds_cons_decode_vote(&v, m, n) == 0) {
		kind = DS_CONS_MSG_VOTE;
		rc = ds_cons_encode_vote(out, n, &len, &v);
	} else if (ds_cons_decode_timeout(&t, m, n) == 0) {
		kind = DS_CONS_MSG_TIMEOUT;
		rc = ds_cons_encode_timeout(out, n, &len, &t);
	}
	if (kind && (rc != 0 || len != n || memcmp(out, m, n) != 0))
		abort();
	free(out);
	return kind;
}

static uint64_t fzc_drain(struct ds_cons *c, uint64_t timer_at)
{
	struct ds_cons_action a;
	size_t k = 0;
	while (ds_cons_next_action(c, &a)) {
		if (++k > DS_CONS_ACTIONS_MAX)
			abort();
		if (a.kind == DS_CONS_ACT_TIMER) {
			timer_at = a.at_ms;
			continue;
		}
		if ((a.kind != DS_CONS_ACT_SEND && a.kind != DS_CONS_ACT_BROADCAST) || !a.msg || !a.len)
			abort();
		uint8_t type;
		uint64_t epoch;
		uint32_t author;
		if (ds_cons_peek(&type, &epoch, &author, a.msg, a.len) != 0)
			abort();
		/* Our own proposals, votes and timeouts must pass our decoders. */
		if (type <= DS_CONS_MSG_TIMEOUT && fzc_roundtrip(a.msg, a.len) != type)
			abort();
	}
	return timer_at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	(void)fzc_roundtrip(data, size);
	if (size == 0)
		return 0;

	static struct fzc_node node;
	static struct ds_cons_config cfg;
	memset(&node, 0, sizeof(node));
	node.self = data[0] % (FZC_N + 1);
	if (node.self == FZC_N)
		node.self = UINT32_MAX;
	fzc_config(&cfg, node.self);
	struct ds_cons_io io = fzc_io;
	io.ctx = &node;
	struct ds_cons *c = NULL;
	uint64_t now = FZC_T0_MS, timer_at = 0;
	if (ds_cons_new(&c, &cfg, &io) != 0 || ds_cons_start(c, now, NULL, 0, NULL) != 0)
		abort();
	timer_at = fzc_drain(c, timer_at);

	size_t pos = 1;
	for (int rec = 0; rec < FZC_RECORDS_MAX && pos < size; rec++) {
		uint8_t op = data[pos++];
		int rc;
		if (op & 0x80) {
			if (timer_at > now)
				now = timer_at;
			rc = ds_cons_on_timer(c, now);
		} else {
			if (size - pos < 2)
				break;
			size_t len = ((size_t)data[pos] << 8) | data[pos + 1];
			pos += 2;
			if (len > size - pos)
				break;
			(void)fzc_roundtrip(data + pos, len);
			now++;
			rc = ds_cons_on_message(c, now, op & 7u, data + pos, len);
			pos += len;
		}
		if (rc != 0)
			abort();
		timer_at = fzc_drain(c, timer_at);
	}
	if (ds_cons_committed_height(c) != node.committed)
		abort();
	ds_cons_free(c);

	/* Restart from what was persisted: the core must accept its own bytes. */
	if (node.safety_len > 0) {
		if (ds_cons_new(&c, &cfg, &io) != 0 ||
		    ds_cons_start(c, now, node.safety, node.safety_len, NULL) != 0)
			abort();
		(void)fzc_drain(c, 0);
		ds_cons_free(c);
	}
	return 0;
}
