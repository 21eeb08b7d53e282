/* libFuzzer: tx decoder. Accepted input must re-encode to identical bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	struct ds_tx v;
	static uint8_t out[DS_TX_MAX];
	size_t n;
	if (ds_tx_decode(&v, data, size) == 0) {
		uint8_t id[DS_HASH_LEN];
		if (ds_tx_encode(out, sizeof(out), &n, &v) != 0 || n != size ||
		    memcmp(out, data, size) != 0 || ds_tx_id(id, &v) != 0)
			abort();
	}
	/* The same bytes read as an unsigned body. */
	if (ds_tx_decode_body(&v, data, size) == 0 &&
	    (ds_tx_encode_body(out, sizeof(out), &n, &v) != 0 || n != size || memcmp(out, data, size) != 0))
		abort();
	return 0;
}
