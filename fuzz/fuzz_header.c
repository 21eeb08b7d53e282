/* libFuzzer: header decoder. Accepted input must re-encode to identical bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	struct ds_header v;
	static uint8_t out[DS_HEADER_MAX];
	size_t n;
	if (ds_header_decode(&v, data, size) != 0)
		return 0;
	if (ds_header_encode(out, sizeof(out), &n, &v) != 0 || n != size || memcmp(out, data, size) != 0)
		abort();
	uint8_t h[DS_HASH_LEN];
	if (ds_header_hash(h, &v) != 0)
		abort();
	return 0;
}
