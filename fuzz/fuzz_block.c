/* libFuzzer: block decoder. An accepted block re-encodes to identical bytes
 * from its header and iterated transactions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TXS_MAX 4096 /* libFuzzer inputs are small; bounded anyway */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	static struct ds_iov txs[FUZZ_TXS_MAX];
	struct ds_block b;
	if (size > (1u << 20) || ds_block_decode(&b, data, size) != 0)
		return 0;
	size_t pos = 0, k = 0;
	const uint8_t *t;
	size_t tn;
	while (ds_block_tx_next(&b, &pos, &t, &tn) == 1) {
		if (k >= FUZZ_TXS_MAX)
			return 0;
		txs[k].p = t;
		txs[k].n = tn;
		k++;
	}
	if (k != b.header.tx_count)
		abort();
	uint8_t *out = malloc(size ? size : 1);
	size_t n;
	if (!out)
		return 0;
	if (ds_block_encode(out, size, &n, &b.header, txs, k) != 0 || n != size ||
	    memcmp(out, data, size) != 0)
		abort();
	free(out);
	return 0;
}
