/* libFuzzer: QC and validator-set decoders. Accepted input must re-encode to identical bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	static struct ds_qc v;
	static uint8_t out[DS_QC_MAX];
	size_t n;
	if (ds_qc_decode(&v, data, size) == 0 &&
	    (ds_qc_encode(out, sizeof(out), &n, &v) != 0 || n != size || memcmp(out, data, size) != 0))
		abort();

	/* The same bytes as a validator set. */
	static struct ds_valset vs;
	static uint8_t vout[DS_VALSET_MAX];
	if (ds_valset_decode(&vs, data, size) == 0 &&
	    (ds_valset_encode(vout, sizeof(vout), &n, &vs) != 0 || n != size || memcmp(vout, data, size) != 0))
		abort();
	return 0;
}
