/* Receipts of executed transactions (ledger.h). */
#include "ledger/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "merkle/merkle.h"
#include "ledger/ledger_int.h"

#define TAG_RECEIPT_LEN (sizeof(DS_TAG_RECEIPT) - 1)

static bool receipt_valid(const struct ds_receipt *r)
{
	size_t elen = strnlen(r->error, sizeof(r->error));
	if (r->version != 1 || r->status > DS_TX_FAILED || elen > DS_RECEIPT_ERROR_MAX)
		return false;
	if ((r->status == DS_TX_OK) != (elen == 0))
		return false;
	if (!ds_utf8_valid((const uint8_t *)r->error, elen))
		return false;
	if (r->nevents > DS_RECEIPT_EVENTS_MAX)
		return false;
	for (uint32_t i = 0; i < r->nevents; i++) {
		const struct ds_event *ev = &r->events[i];
		if (!ds_ledger_name_valid(ev->name) || ev->value_len > DS_EVENT_VALUE_MAX ||
		    !ev->value || ds_value_check(ev->value, ev->value_len) != 0)
			return false;
	}
	return r->ret && r->ret_len <= DS_RECEIPT_RETURN_MAX && ds_value_check(r->ret, r->ret_len) == 0;
}

int ds_receipt_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_receipt *r)
{
	*out_len = 0;
	if (!receipt_valid(r))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_u8(&e, r->version);
	ds_enc_fixed(&e, r->tx_id, DS_HASH_LEN);
	ds_enc_u8(&e, r->status);
	ds_enc_str(&e, r->error);
	ds_enc_uvar(&e, r->gas_used);
	ds_enc_uvar(&e, r->nevents);
	for (uint32_t i = 0; i < r->nevents; i++) {
		ds_enc_str(&e, r->events[i].name);
		ds_enc_bytes(&e, r->events[i].value, r->events[i].value_len);
	}
	ds_enc_bytes(&e, r->ret, r->ret_len);
	return ds_enc_finish(&e, out_len);
}

static void dec_value(struct ds_dec *d, const uint8_t **p, size_t *n, size_t max)
{
	if (ds_dec_bytes(d, p, n, max))
		return;
	int rc = ds_value_check(*p, *n);
	if (rc)
		ds_dec_fail(d, rc);
}

int ds_receipt_decode(struct ds_receipt *r, const uint8_t *p, size_t len)
{
	struct ds_dec d;
	uint64_t n;
	memset(r, 0, sizeof(*r));
	ds_dec_init(&d, p, len);
	if (ds_dec_u8(&d, &r->version) == 0 && r->version != 1)
		ds_dec_fail(&d, DS_EVERSION);
	ds_dec_fixed(&d, r->tx_id, DS_HASH_LEN);
	if (ds_dec_u8(&d, &r->status) == 0 && r->status > DS_TX_FAILED)
		ds_dec_fail(&d, DS_EINVAL);
	ds_dec_str(&d, r->error, sizeof(r->error));
	if (!d.err && (r->status == DS_TX_OK) != (r->error[0] == '\0'))
		ds_dec_fail(&d, DS_EINVAL);
	ds_dec_uvar(&d, &r->gas_used);
	if (ds_dec_uvar(&d, &n) == 0 && n > DS_RECEIPT_EVENTS_MAX)
		ds_dec_fail(&d, DS_ETOOBIG);
	for (uint64_t i = 0; i < n && !d.err; i++) {
		ds__ledger_dec_name(&d, r->events[i].name, sizeof(r->events[i].name), false);
		dec_value(&d, &r->events[i].value, &r->events[i].value_len, DS_EVENT_VALUE_MAX);
	}
	r->nevents = (uint32_t)n;
	dec_value(&d, &r->ret, &r->ret_len, DS_RECEIPT_RETURN_MAX);
	int rc = ds_dec_finish(&d);
	if (rc)
		memset(r, 0, sizeof(*r));
	return rc;
}

int ds_receipt_hash(uint8_t hash[DS_HASH_LEN], const struct ds_receipt *r, uint8_t *scratch,
		    size_t scratch_cap)
{
	size_t n;
	memset(hash, 0, DS_HASH_LEN);
	int rc = ds_receipt_encode(scratch, scratch_cap, &n, r);
	if (rc)
		return rc;
	ds_receipt_hash_bytes(hash, scratch, n);
	return 0;
}

void ds_receipt_hash_bytes(uint8_t hash[DS_HASH_LEN], const uint8_t *enc, size_t len)
{
	struct ds_iov iov[2] = {{DS_TAG_RECEIPT, TAG_RECEIPT_LEN}, {enc, len}};
	ds_sha256_v(hash, iov, 2);
}

int ds_results_range_root(uint8_t out[DS_HASH_LEN], const uint8_t (*block_roots)[DS_HASH_LEN],
			  uint64_t n)
{
	if (n == 0)
		return DS_EINVAL;
	if (n == 1) {
		memcpy(out, block_roots[0], DS_HASH_LEN);
		return 0;
	}
	if (n > SIZE_MAX / DS_HASH_LEN)
		return DS_ENOMEM;
	uint8_t(*leaves)[DS_HASH_LEN] = malloc((size_t)n * DS_HASH_LEN);
	if (!leaves)
		return DS_ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		ds_merkle_leaf_hash(leaves[i], block_roots[i], DS_HASH_LEN);
	ds_merkle_root_array(out, (const uint8_t(*)[DS_HASH_LEN])leaves, n);
	free(leaves);
	return 0;
}

int ds_results_root_for(uint8_t out[DS_HASH_LEN], uint64_t p, uint64_t x,
			int (*block_root)(void *ctx, uint64_t h, uint8_t root[DS_HASH_LEN]),
			void *ctx)
{
	if (x <= p + 1)
		return block_root(ctx, x, out);
	uint64_t n = x - p;
	if (n > SIZE_MAX / DS_HASH_LEN)
		return DS_ENOMEM;
	uint8_t(*br)[DS_HASH_LEN] = malloc((size_t)n * DS_HASH_LEN);
	if (!br)
		return DS_ENOMEM;
	int rc = 0;
	for (uint64_t i = 0; !rc && i < n; i++)
		rc = block_root(ctx, p + 1 + i, br[i]);
	if (!rc)
		rc = ds_results_range_root(out, (const uint8_t(*)[DS_HASH_LEN])br, n);
	free(br);
	return rc;
}
