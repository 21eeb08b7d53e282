/* Transactions: encoding, id, signature (ledger.h, docs/PROTOCOL.md). */
#include "ledger/ledger.h"

#include <string.h>

#include "codec/codec.h"
#include "ledger/ledger_int.h"

#define TAG_TX_LEN (sizeof(DS_TAG_TX) - 1)
#define TAG_TXID_LEN (sizeof(DS_TAG_TXID) - 1)

static bool name_chars(const char *s, size_t max, bool chain)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
			  (chain && c == '-');
		if (!ok)
			return false;
	}
	return true;
}

bool ds_ledger_name_valid(const char *s)
{
	return name_chars(s, DS_NAME_MAX, false);
}

bool ds_ledger_chain_id_valid(const char *s)
{
	return name_chars(s, DS_CHAIN_ID_MAX, true);
}

int ds__ledger_dec_name(struct ds_dec *d, char *out, size_t cap, bool chain)
{
	if (ds_dec_str(d, out, cap))
		return d->err;
	if (!(chain ? ds_ledger_chain_id_valid(out) : ds_ledger_name_valid(out))) {
		out[0] = '\0';
		return ds_dec_fail(d, DS_EINVAL);
	}
	return 0;
}

static bool tx_valid(const struct ds_tx *tx)
{
	return tx->version == 1 && ds_ledger_chain_id_valid(tx->chain_id) &&
	       ds_ledger_name_valid(tx->target) && ds_ledger_name_valid(tx->method) &&
	       tx->args_len <= DS_TX_ARGS_MAX && tx->args &&
	       ds_value_check(tx->args, tx->args_len) == 0;
}

/* Everything before the args bytes themselves (the args length included):
 * small and bounded, so the id can hash prefix || args without a big copy. */
static void enc_prefix(struct ds_enc *e, const struct ds_tx *tx)
{
	ds_enc_u8(e, tx->version);
	ds_enc_str(e, tx->chain_id);
	ds_enc_fixed(e, tx->sender, DS_PK_LEN);
	ds_enc_uvar(e, tx->nonce);
	ds_enc_uvar(e, tx->expiry_height);
	ds_enc_str(e, tx->target);
	ds_enc_str(e, tx->method);
	ds_enc_uvar(e, tx->args_len);
}
#define TX_PREFIX_MAX (1 + 1 + DS_CHAIN_ID_MAX + DS_PK_LEN + 10 + 10 + 2 * (1 + DS_NAME_MAX) + 10)

static int encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_tx *tx, bool sig)
{
	*out_len = 0;
	if (!tx_valid(tx))
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	enc_prefix(&e, tx);
	ds_enc_fixed(&e, tx->args, tx->args_len);
	if (sig)
		ds_enc_fixed(&e, tx->sig, DS_SIG_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_tx_encode_body(uint8_t *out, size_t cap, size_t *out_len, const struct ds_tx *tx)
{
	return encode(out, cap, out_len, tx, false);
}

int ds_tx_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_tx *tx)
{
	return encode(out, cap, out_len, tx, true);
}

static int decode(struct ds_tx *tx, const uint8_t *p, size_t len, bool sig, const char **field)
{
	struct ds_dec d;
	const char *at = "length";
	memset(tx, 0, sizeof(*tx));
	if (len > DS_TX_MAX) {
		ds_dec_init(&d, p, 0);
		ds_dec_fail(&d, DS_ETOOBIG);
		goto fail;
	}
	ds_dec_init(&d, p, len);
	at = "version";
	if (ds_dec_u8(&d, &tx->version) == 0 && tx->version != 1)
		ds_dec_fail(&d, DS_EVERSION);
	/* Each step is a no-op after the first error: `at` names that step. */
#define STEP(name, expr)           \
	do {                       \
		if (!d.err) {      \
			at = name; \
			expr;      \
		}                  \
	} while (0)
	STEP("chain_id", ds__ledger_dec_name(&d, tx->chain_id, sizeof(tx->chain_id), true));
	STEP("sender", ds_dec_fixed(&d, tx->sender, DS_PK_LEN));
	STEP("nonce", ds_dec_uvar(&d, &tx->nonce));
	STEP("expiry_height", ds_dec_uvar(&d, &tx->expiry_height));
	STEP("target", ds__ledger_dec_name(&d, tx->target, sizeof(tx->target), false));
	STEP("method", ds__ledger_dec_name(&d, tx->method, sizeof(tx->method), false));
	STEP("args", ds_dec_bytes(&d, &tx->args, &tx->args_len, DS_TX_ARGS_MAX));
	STEP("args", {
		int vrc = ds_value_check(tx->args, tx->args_len);
		if (vrc)
			ds_dec_fail(&d, vrc);
	});
	if (sig)
		STEP("signature", ds_dec_fixed(&d, tx->sig, DS_SIG_LEN));
	STEP("end", if (ds_dec_finish(&d)) {});
#undef STEP
	if (!d.err)
		return 0;
fail:
	if (field)
		*field = at;
	memset(tx, 0, sizeof(*tx));
	return d.err;
}

int ds_tx_decode(struct ds_tx *tx, const uint8_t *p, size_t len)
{
	return decode(tx, p, len, true, NULL);
}

int ds_tx_decode_body(struct ds_tx *tx, const uint8_t *p, size_t len)
{
	return decode(tx, p, len, false, NULL);
}

int ds_tx_decode_diag(struct ds_tx *tx, const char **field, const uint8_t *p, size_t len,
		      bool with_sig)
{
	*field = NULL;
	return decode(tx, p, len, with_sig, field);
}

void ds_tx_id_body(uint8_t id[DS_HASH_LEN], const uint8_t *body, size_t body_len)
{
	struct ds_iov iov[2] = {{DS_TAG_TXID, TAG_TXID_LEN}, {body, body_len}};
	ds_sha256_v(id, iov, 2);
}

int ds_tx_id(uint8_t id[DS_HASH_LEN], const struct ds_tx *tx)
{
	memset(id, 0, DS_HASH_LEN);
	if (!tx_valid(tx))
		return DS_EINVAL;
	uint8_t pre[TX_PREFIX_MAX];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, pre, sizeof(pre));
	enc_prefix(&e, tx);
	DS_ASSERT(ds_enc_finish(&e, &n) == 0);
	struct ds_iov iov[3] = {{DS_TAG_TXID, TAG_TXID_LEN}, {pre, n}, {tx->args, tx->args_len}};
	ds_sha256_v(id, iov, 3);
	return 0;
}

static int signing_bytes(uint8_t *scratch, size_t cap, size_t *n, const struct ds_tx *tx)
{
	*n = 0;
	if (cap < TAG_TX_LEN)
		return tx_valid(tx) ? DS_ETOOBIG : DS_EINVAL;
	memcpy(scratch, DS_TAG_TX, TAG_TX_LEN);
	size_t body;
	int rc = ds_tx_encode_body(scratch + TAG_TX_LEN, cap - TAG_TX_LEN, &body, tx);
	if (rc)
		return rc;
	*n = TAG_TX_LEN + body;
	return 0;
}

int ds_tx_sign(struct ds_tx *tx, const uint8_t sk[DS_SK_LEN], uint8_t *scratch, size_t scratch_cap)
{
	if (memcmp(sk + DS_SEED_LEN, tx->sender, DS_PK_LEN) != 0)
		return DS_EPERM;
	size_t n;
	int rc = signing_bytes(scratch, scratch_cap, &n, tx);
	if (rc)
		return rc;
	ds_ed25519_sign(tx->sig, scratch, n, sk);
	return 0;
}

int ds_tx_verify(const struct ds_tx *tx, uint8_t *scratch, size_t scratch_cap)
{
	size_t n;
	int rc = signing_bytes(scratch, scratch_cap, &n, tx);
	if (rc)
		return rc;
	return ds_ed25519_verify(tx->sig, scratch, n, tx->sender) == 0 ? 0 : DS_ESIG;
}
