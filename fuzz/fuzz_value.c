/* libFuzzer: canonical value reader (and receipts, which embed values).
 * An accepted value, rebuilt with the builders from the walker, must equal
 * the input byte for byte; lookups of every key must find it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reenc(struct ds_enc *e, const struct ds_value *v)
{
	struct ds_value_iter it;
	struct ds_value item, found;
	const uint8_t *k;
	size_t kn;
	switch (v->kind) {
	case DS_VALUE_NULL: ds_value_enc_null(e); break;
	case DS_VALUE_FALSE: ds_value_enc_bool(e, false); break;
	case DS_VALUE_TRUE: ds_value_enc_bool(e, true); break;
	case DS_VALUE_INT: ds_value_enc_int(e, v->i); break;
	case DS_VALUE_STR: ds_value_enc_str(e, v->p, v->len); break;
	case DS_VALUE_BYTES: ds_value_enc_bytes(e, v->p, v->len); break;
	case DS_VALUE_ARRAY:
	case DS_VALUE_MAP:
		if (v->kind == DS_VALUE_ARRAY)
			ds_value_enc_array(e, v->count);
		else
			ds_value_enc_map(e, v->count);
		ds_value_iter_init(&it, v);
		while (ds_value_iter_next(&it, &k, &kn, &item) == 1) {
			if (v->kind == DS_VALUE_MAP) {
				if (ds_value_map_get(&found, v, (const char *)k, kn) != 0 ||
				    found.enc != item.enc)
					abort();
				ds_value_enc_key(e, k, kn);
			}
			reenc(e, &item);
		}
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	struct ds_value v;
	if (ds_value_parse(&v, data, size) == 0) {
		uint8_t *out = malloc(size ? size : 1);
		size_t n;
		if (!out)
			return 0;
		struct ds_enc e;
		ds_enc_init(&e, out, size);
		reenc(&e, &v);
		if (ds_enc_finish(&e, &n) != 0 || n != size || memcmp(out, data, size) != 0)
			abort();
		free(out);
	}
	static struct ds_receipt r;
	static uint8_t rout[1u << 20];
	size_t rn;
	if (size <= sizeof(rout) && ds_receipt_decode(&r, data, size) == 0 &&
	    (ds_receipt_encode(rout, sizeof(rout), &rn, &r) != 0 || rn != size ||
	     memcmp(rout, data, size) != 0))
		abort();
	return 0;
}
