/* libFuzzer: key file parser. Byte 0 bit 0 set: the fuzzer's text gets a
 * correct check line first (so mutations reach the seed and public lines
 * behind the checksum). An accepted file formats back to identical bytes;
 * a refused one leaves the key zeroed and explains itself in err. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rewrites the 16 hex digits after "check " on the fifth line with the
 * checksum of the four lines above it, if the text has that shape. */
static void fzk_fix_check(uint8_t *t, size_t n)
{
	size_t pos = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *nl = memchr(t + pos, '\n', n - pos);
		if (!nl)
			return;
		pos = (size_t)(nl - t) + 1;
	}
	if (n - pos < 6 + 16 || memcmp(t + pos, "check ", 6) != 0)
		return;
	uint8_t h[DS_HASH_LEN];
	char hex[2 * 8 + 1];
	ds_sha256(h, t, pos);
	ds_hex_encode(hex, h, 8);
	memcpy(t + pos + 6, hex, 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ds_crypto_init() != 0)
		abort();
	if (size == 0 || size > 2 * DS_KEYFILE_MAX)
		return 0;
	size_t n = size - 1;
	uint8_t *text = malloc(n ? n : 1);
	if (!text)
		abort();
	memcpy(text, data + 1, n);
	if (data[0] & 1)
		fzk_fix_check(text, n);
	struct ds_key key;
	char err[DS_KEYFILE_ERR_MAX];
	int rc = ds_keyfile_parse(&key, text, n, err, sizeof(err));
	if (rc == 0) {
		static char out[DS_KEYFILE_MAX];
		size_t len;
		if (ds_keyfile_format(out, sizeof(out), &len, &key) != 0 || len != n ||
		    memcmp(out, text, n) != 0)
			abort();
		ds_memzero(out, sizeof(out));
	} else {
		static const struct ds_key zero;
		if (rc >= 0 || memcmp(&key, &zero, sizeof(key)) != 0 || err[0] == 0 ||
		    memchr(err, 0, sizeof(err)) == NULL || strchr(err, '\n'))
			abort();
	}
	ds_keyfile_wipe(&key);
	free(text);
	return 0;
}
