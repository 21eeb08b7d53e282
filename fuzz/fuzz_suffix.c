/* libFuzzer: the epoch-end suffix check (ds__chain_check_suffix, used by
 * ds_chain_commit_end for blocks from consensus and from block sync).
 *
 * Each input is used twice:
 *  1. as raw suffix bytes after a fixed end block, with a QC naming
 *     height X+1..X+64 (any bytes: refused or accepted, never a fault; an
 *     accepted suffix must really link X to the QC's block);
 *  2. structure-aware, with an oracle: the input picks the suffix length and
 *     at most one corruption of a well-formed suffix; the check must accept
 *     exactly the uncorrupted ones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"
#include "chain/chain_int.h"
#include "codec/codec.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { C_NONE, C_CHAIN, C_EPOCH, C_HEIGHT, C_PARENT, C_TXS, C_SHORT, C_LONG, C_QCHASH, C_TRAIL,
       C_QCLOW, C__COUNT };

static void end_block(struct ds_header *x, uint64_t height, uint64_t epoch)
{
	memset(x, 0, sizeof(*x));
	x->version = 1;
	strcpy(x->chain_id, "fuzz-chain");
	x->height = height;
	x->epoch = epoch;
	x->round = 7;
	x->time_ms = 1000 + height;
	x->exec_height = height - 1;
	memset(x->parent_hash, 0x11, DS_HASH_LEN);
	memset(x->state_root, 0x22, DS_HASH_LEN);
	memset(x->valset_hash, 0x33, DS_HASH_LEN);
	ds_merkle_empty_root(x->tx_root);
}

static void put_header(struct ds_buf *out, const struct ds_header *h)
{
	uint8_t enc[DS_HEADER_MAX], len_enc[DS_UVAR_MAX_LEN];
	size_t len, ll;
	struct ds_enc e;
	if (ds_header_encode(enc, sizeof(enc), &len, h) != 0)
		abort();
	ds_enc_init(&e, len_enc, sizeof(len_enc));
	ds_enc_uvar(&e, len);
	if (ds_enc_finish(&e, &ll) != 0)
		abort();
	ds_buf_append(out, len_enc, ll);
	ds_buf_append(out, enc, len);
}

/* Raw bytes: whatever is accepted must link x to the QC's block. */
static void raw(const uint8_t *data, size_t size)
{
	struct ds_header x;
	uint8_t xh[DS_HASH_LEN];
	end_block(&x, 10, 2);
	if (ds_header_hash(xh, &x) != 0)
		abort();
	struct ds_qc qc;
	memset(&qc, 0, sizeof(qc));
	qc.vote.epoch = 2;
	qc.vote.commit_height = x.height + 1 + (size ? data[0] % DS_CHAIN_SUFFIX_MAX : 0);
	memset(qc.vote.commit_hash, 0x44, DS_HASH_LEN);
	const char *why;
	if (ds__chain_check_suffix(&x, xh, &qc, data, size, &why) == 0)
		abort(); /* the QC names a hash no header can have */
}

static void oracle(const uint8_t *data, size_t size)
{
	if (size < 4)
		return;
	size_t k = 1 + data[0] % 8;
	unsigned corrupt = data[1] % C__COUNT;
	size_t at = data[2] % k;
	struct ds_header x;
	uint8_t xh[DS_HASH_LEN];
	end_block(&x, 5 + data[3], 1 + data[3] % 3);
	if (ds_header_hash(xh, &x) != 0)
		abort();
	struct ds_buf sfx;
	ds_buf_init(&sfx);
	struct ds_header prev = x, s;
	uint8_t ph[DS_HASH_LEN];
	memcpy(ph, xh, DS_HASH_LEN);
	size_t n = corrupt == C_SHORT ? k - 1 : corrupt == C_LONG ? k + 1 : k;
	for (size_t i = 0; i < n; i++) {
		s = prev;
		s.height = prev.height + 1;
		memcpy(s.parent_hash, ph, DS_HASH_LEN);
		s.round = prev.round + 1 + (i < size ? data[i] % 3 : 0);
		s.time_ms = prev.time_ms + 1;
		s.tx_count = 0;
		if (i == at) {
			if (corrupt == C_CHAIN)
				strcpy(s.chain_id, "fuzz-other");
			else if (corrupt == C_EPOCH)
				s.epoch++;
			else if (corrupt == C_HEIGHT)
				s.height++;
			else if (corrupt == C_PARENT)
				s.parent_hash[i % DS_HASH_LEN] ^= 1;
			else if (corrupt == C_TXS)
				s.tx_count = 1;
		}
		put_header(&sfx, &s);
		if (ds_header_hash(ph, &s) != 0)
			abort();
		prev = s;
	}
	if (corrupt == C_TRAIL)
		ds_buf_append(&sfx, "\x00", 1);
	if (sfx.err)
		abort();
	/* The QC commits S_k: the last header built when nothing is added or
	 * dropped; for C_SHORT / C_LONG it still names height X + k. */
	struct ds_qc qc;
	memset(&qc, 0, sizeof(qc));
	qc.vote.epoch = x.epoch;
	qc.vote.commit_height = x.height + k;
	if (corrupt == C_LONG || corrupt == C_SHORT)
		memset(qc.vote.commit_hash, 0x55, DS_HASH_LEN); /* no header matches */
	else
		memcpy(qc.vote.commit_hash, ph, DS_HASH_LEN);
	if (corrupt == C_QCHASH)
		qc.vote.commit_hash[0] ^= 1;
	if (corrupt == C_QCLOW)
		qc.vote.commit_height = x.height;
	const char *why;
	int rc = ds__chain_check_suffix(&x, xh, &qc, sfx.data, sfx.len, &why);
	if ((rc == 0) != (corrupt == C_NONE))
		abort();
	ds_buf_free(&sfx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	raw(data, size);
	oracle(data, size);
	return 0;
}
