/* ledger + canonical values: round trips, strictness, signatures, QCs,
 * mutation properties and the worked examples of docs/PROTOCOL.md. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli_json.h"
#include "codec/codec.h"
#include "ledger/ledger.h"

/* ---- helpers ------------------------------------------------------------ */

static void hex_of(char *out, const uint8_t *p, size_t n)
{
	ds_hex_encode(out, p, n);
}

static void keypair_from_byte(uint8_t pk[DS_PK_LEN], uint8_t sk[DS_SK_LEN], uint8_t b)
{
	uint8_t seed[DS_SEED_LEN];
	memset(seed, b, sizeof(seed));
	assert_int_equal(ds_ed25519_seed_keypair(pk, sk, seed), 0);
}

/* Re-encodes a decoded value with the builders: the canonical form. */
static void reenc_value(struct ds_enc *e, const struct ds_value *v)
{
	struct ds_value_iter it;
	struct ds_value item;
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
			if (v->kind == DS_VALUE_MAP)
				ds_value_enc_key(e, k, kn);
			reenc_value(e, &item);
		}
		break;
	}
}

/* Random value generator (bounded depth and size). */
static void gen_value(struct ds_enc *e, uint64_t *rs, unsigned depth)
{
	unsigned kind = (unsigned)(tu_rand(rs) % (depth >= 4 ? 6 : 8));
	switch (kind) {
	case 0: ds_value_enc_null(e); break;
	case 1: ds_value_enc_bool(e, false); break;
	case 2: ds_value_enc_bool(e, true); break;
	case 3: ds_value_enc_int(e, (int64_t)tu_rand(rs) >> (tu_rand(rs) % 64)); break;
	case 4: {
		char s[8];
		size_t n = tu_rand(rs) % sizeof(s);
		for (size_t i = 0; i < n; i++)
			s[i] = (char)('a' + tu_rand(rs) % 26);
		ds_value_enc_str(e, s, n);
		break;
	}
	case 5: {
		uint8_t b[8];
		size_t n = tu_rand(rs) % sizeof(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)tu_rand(rs);
		ds_value_enc_bytes(e, b, n);
		break;
	}
	case 6: {
		uint32_t n = (uint32_t)(tu_rand(rs) % 4);
		ds_value_enc_array(e, n);
		for (uint32_t i = 0; i < n; i++)
			gen_value(e, rs, depth + 1);
		break;
	}
	default: {
		/* Keys "k0" < "k1" < ...: sorted by construction. */
		uint32_t n = (uint32_t)(tu_rand(rs) % 4);
		ds_value_enc_map(e, n);
		for (uint32_t i = 0; i < n; i++) {
			char k[3] = {'k', (char)('0' + i), 0};
			ds_value_enc_key(e, k, 2);
			gen_value(e, rs, depth + 1);
		}
		break;
	}
	}
}

typedef int (*roundtrip_fn)(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* Decode; if accepted, re-encode: must be byte-identical. Returns 1 if accepted. */
static int check_roundtrip(roundtrip_fn fn, const uint8_t *p, size_t n)
{
	static uint8_t out[DS_TX_MAX * 2];
	size_t out_len = 0;
	int rc = fn(p, n, out, sizeof(out), &out_len);
	if (rc < 0)
		return 0;
	assert_int_equal(out_len, n);
	assert_memory_equal(out, p, n);
	return 1;
}

/* Mutations: flip, set, insert, delete and truncate; returns how many of the
 * mutants the decoder accepted (each accepted one re-encoded identically). */
static unsigned mutate_many(roundtrip_fn fn, const uint8_t *orig, size_t n, uint64_t *rs, unsigned iters)
{
	static uint8_t buf[DS_TX_MAX * 2];
	unsigned accepted = 0;
	assert_true(n + 8 < sizeof(buf));
	for (unsigned it = 0; it < iters; it++) {
		memcpy(buf, orig, n);
		size_t len = n;
		unsigned muts = 1 + (unsigned)(tu_rand(rs) % 3);
		for (unsigned m = 0; m < muts && len > 0; m++) {
			size_t pos = tu_rand(rs) % len;
			switch (tu_rand(rs) % 5) {
			case 0: buf[pos] ^= (uint8_t)(1u << (tu_rand(rs) % 8)); break;
			case 1: buf[pos] = (uint8_t)tu_rand(rs); break;
			case 2:
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = (uint8_t)tu_rand(rs);
				len++;
				break;
			case 3:
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
				break;
			default: len = pos; break;
			}
		}
		accepted += (unsigned)check_roundtrip(fn, buf, len);
	}
	return accepted;
}

static int rt_value(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	struct ds_value v;
	int rc = ds_value_parse(&v, p, n);
	if (rc)
		return rc;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	reenc_value(&e, &v);
	return ds_enc_finish(&e, out_len);
}

static int rt_tx(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	struct ds_tx tx;
	int rc = ds_tx_decode(&tx, p, n);
	return rc ? rc : ds_tx_encode(out, cap, out_len, &tx);
}

static int rt_header(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	struct ds_header h;
	int rc = ds_header_decode(&h, p, n);
	return rc ? rc : ds_header_encode(out, cap, out_len, &h);
}

static int rt_qc(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	static struct ds_qc qc;
	int rc = ds_qc_decode(&qc, p, n);
	return rc ? rc : ds_qc_encode(out, cap, out_len, &qc);
}

static int rt_valset(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	static struct ds_valset vs;
	int rc = ds_valset_decode(&vs, p, n);
	return rc ? rc : ds_valset_encode(out, cap, out_len, &vs);
}

static int rt_receipt(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	static struct ds_receipt r;
	int rc = ds_receipt_decode(&r, p, n);
	return rc ? rc : ds_receipt_encode(out, cap, out_len, &r);
}

static int rt_block(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	struct ds_block b;
	struct ds_iov txs[8];
	size_t pos = 0, k = 0;
	const uint8_t *t;
	size_t tn;
	int rc = ds_block_decode(&b, p, n);
	if (rc)
		return rc;
	while (ds_block_tx_next(&b, &pos, &t, &tn) == 1) {
		assert_true(k < 8);
		txs[k].p = t;
		txs[k].n = tn;
		k++;
	}
	return ds_block_encode(out, cap, out_len, &b.header, txs, k);
}

/* A fixed example transaction (also the docs' worked example). */
static const uint8_t example_args[] = {0x07, 0x02, 0x03, 'k', 'e', 'y', 0x04, 0x05, 'a', 'l', 'i',
				       'c', 'e', 0x05, 'v', 'a', 'l', 'u', 'e', 0x03, 0x54};

static void example_tx(struct ds_tx *tx, uint8_t sk[DS_SK_LEN])
{
	memset(tx, 0, sizeof(*tx));
	tx->version = 1;
	snprintf(tx->chain_id, sizeof(tx->chain_id), "%s", "danshari-test");
	keypair_from_byte(tx->sender, sk, 0x01);
	tx->nonce = 1;
	tx->expiry_height = 1000;
	snprintf(tx->target, sizeof(tx->target), "%s", "kv");
	snprintf(tx->method, sizeof(tx->method), "%s", "put");
	tx->args = example_args;
	tx->args_len = sizeof(example_args);
}

static void example_header(struct ds_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version = 1;
	snprintf(h->chain_id, sizeof(h->chain_id), "%s", "danshari-test");
	h->height = 1;
	h->epoch = 0;
	h->round = 1;
	memset(h->parent_hash, 0x11, DS_HASH_LEN);
	memset(h->proposer, 0x22, DS_PK_LEN);
	h->time_ms = 1700000000000ULL;
	h->tx_count = 0;
	ds_sha256(h->tx_root, "", 0); /* RFC 6962 root of the empty list */
	h->exec_height = 0;
	memset(h->state_root, 0x33, DS_HASH_LEN);
	memset(h->results_root, 0x44, DS_HASH_LEN);
	memset(h->history_root, 0x55, DS_HASH_LEN);
	memset(h->valset_hash, 0x66, DS_HASH_LEN);
}

static uint8_t scratch[DS_TX_SCRATCH_LEN];

/* ---- values ------------------------------------------------------------- */

static void test_value_roundtrip_and_api(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_value_enc_map(&e, 4);
	ds_value_enc_key(&e, "a", 1);
	ds_value_enc_int(&e, INT64_MIN);
	ds_value_enc_key(&e, "ab", 2);
	ds_value_enc_array(&e, 3);
	ds_value_enc_null(&e);
	ds_value_enc_bool(&e, true);
	ds_value_enc_bytes(&e, "\x00\x01", 2);
	ds_value_enc_key(&e, "b", 1);
	ds_value_enc_str(&e, "\xe6\x96\xad", 3);
	ds_value_enc_key(&e, "c", 1);
	ds_value_enc_int(&e, -1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(ds_value_check(buf, n), 0);

	struct ds_value v, x;
	assert_int_equal(ds_value_parse(&v, buf, n), 0);
	assert_int_equal(v.kind, DS_VALUE_MAP);
	assert_int_equal(v.count, 4);
	assert_int_equal(ds_value_map_get(&x, &v, "a", 1), 0);
	assert_int_equal(x.kind, DS_VALUE_INT);
	assert_true(x.i == INT64_MIN);
	assert_int_equal(ds_value_map_get(&x, &v, "c", 1), 0);
	assert_true(x.i == -1);
	assert_int_equal(ds_value_map_get(&x, &v, "b", 1), 0);
	assert_int_equal(x.kind, DS_VALUE_STR);
	assert_int_equal(x.len, 3);
	assert_int_equal(ds_value_map_get(&x, &v, "ab", 2), 0);
	assert_int_equal(x.kind, DS_VALUE_ARRAY);
	assert_int_equal(x.count, 3);
	assert_int_equal(ds_value_map_get(&x, &v, "zz", 2), DS_ENOTFOUND);
	assert_int_equal(ds_value_map_get(&x, &v, "", 0), DS_ENOTFOUND);
	struct ds_value scalar;
	assert_int_equal(ds_value_parse(&scalar, (const uint8_t *)"\x00", 1), 0);
	assert_int_equal(ds_value_map_get(&x, &scalar, "a", 1), DS_EINVAL);

	/* Int zigzag: -1 -> 1, 1 -> 2, 63 -> 126, -64 -> 127, 64 -> 128 (2 bytes). */
	const struct { int64_t v; const char *hex; } ints[] = {
		{0, "0300"}, {-1, "0301"}, {1, "0302"}, {-64, "037f"}, {64, "038001"},
		{INT64_MAX, "03feffffffffffffffff01"}, {INT64_MIN, "03ffffffffffffffffff01"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(ints); i++) {
		char hex[64];
		ds_enc_init(&e, buf, sizeof(buf));
		ds_value_enc_int(&e, ints[i].v);
		assert_int_equal(ds_enc_finish(&e, &n), 0);
		hex_of(hex, buf, n);
		assert_string_equal(hex, ints[i].hex);
		assert_int_equal(ds_value_parse(&x, buf, n), 0);
		assert_true(x.i == ints[i].v);
	}
	/* Builders refuse bad UTF-8 and keep the error sticky. */
	ds_enc_init(&e, buf, sizeof(buf));
	ds_value_enc_str(&e, "\xc0\x80", 2);
	ds_value_enc_null(&e);
	assert_int_equal(ds_enc_finish(&e, &n), DS_EINVAL);
}

static int check_hex(const char *hex)
{
	size_t n;
	uint8_t *p = tu_unhex(hex, &n);
	int rc = ds_value_check(p, n);
	free(p);
	return rc;
}

static void test_value_strict(void **state)
{
	(void)state;
	assert_int_equal(check_hex("00"), 0);
	assert_int_equal(check_hex(""), DS_ETRUNC);
	assert_int_equal(check_hex("08"), DS_ETAG);
	assert_int_equal(check_hex("ff"), DS_ETAG);
	assert_int_equal(check_hex("0000"), DS_ETRAILING);
	assert_int_equal(check_hex("038000"), DS_ENONMINIMAL);
	assert_int_equal(check_hex("040161"), 0);
	assert_int_equal(check_hex("0402c080"), DS_EINVAL);   /* overlong UTF-8 */
	assert_int_equal(check_hex("040100"), DS_EINVAL);     /* NUL in string */
	assert_int_equal(check_hex("0405616263"), DS_ETRUNC); /* length past input */
	assert_int_equal(check_hex("0502ff00"), 0);
	assert_int_equal(check_hex("060200"), DS_ETRUNC);     /* count past input */
	assert_int_equal(check_hex("0702016200016100"), DS_EINVAL); /* "b" then "a" */
	assert_int_equal(check_hex("0702016100016100"), DS_EINVAL); /* duplicate key */
	assert_int_equal(check_hex("070201610002616100"), 0);       /* "a" < "aa" */
	assert_int_equal(check_hex("070202616100016100"), DS_EINVAL); /* "aa" then "a" */
}

static void test_value_limits(void **state)
{
	(void)state;
	uint8_t buf[128];
	/* depth: 31 nested arrays + a scalar = 32 levels ok, 33 refused. */
	for (int depth = 32; depth <= 33; depth++) {
		size_t n = 0;
		for (int i = 0; i < depth - 1; i++) {
			buf[n++] = DS_VALUE_ARRAY;
			buf[n++] = 1;
		}
		buf[n++] = DS_VALUE_NULL;
		assert_int_equal(ds_value_check(buf, n), depth == 32 ? 0 : DS_ETOOBIG);
	}
	/* count over max */
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_enc_u8(&e, DS_VALUE_ARRAY);
	ds_enc_uvar(&e, DS_VALUE_COUNT_MAX + 1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(ds_value_check(buf, n), DS_ETOOBIG);
	/* string length over max */
	ds_enc_init(&e, buf, sizeof(buf));
	ds_enc_u8(&e, DS_VALUE_STR);
	ds_enc_uvar(&e, DS_VALUE_LEN_MAX + 1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(ds_value_check(buf, n), DS_ETOOBIG);
	/* key over max */
	ds_enc_init(&e, buf, sizeof(buf));
	ds_enc_u8(&e, DS_VALUE_MAP);
	ds_enc_uvar(&e, 1);
	ds_enc_uvar(&e, DS_VALUE_KEY_MAX + 1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(ds_value_check(buf, n), DS_ETOOBIG);
}

static void test_value_random(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() ^ 0x76616c7565ULL;
	static uint8_t buf[1 << 16], out[1 << 16];
	unsigned accepted = 0;
	for (int i = 0; i < 300; i++) {
		struct ds_enc e;
		size_t n, m;
		ds_enc_init(&e, buf, sizeof(buf));
		gen_value(&e, &rs, 1);
		assert_int_equal(ds_enc_finish(&e, &n), 0);
		assert_int_equal(rt_value(buf, n, out, sizeof(out), &m), 0);
		assert_int_equal(m, n);
		assert_memory_equal(out, buf, n);
		accepted += mutate_many(rt_value, buf, n, &rs, 20);
	}
	fprintf(stderr, "# value mutants accepted (and re-encoded identically): %u of 6000\n", accepted);
}


/* JSON edge (cli_json.c): sorting, $bytes, floats, depth, int64 range. */
static int json_to_hex(char *hex, size_t cap, const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	assert_non_null(j);
	struct ds_buf b;
	ds_buf_init(&b);
	char err[128];
	int rc = ds_cli_value_from_json(&b, j, err, sizeof(err));
	json_decref(j);
	if (rc == 0) {
		assert_true(2 * b.len + 1 <= cap);
		hex_of(hex, b.data, b.len);
	}
	ds_buf_free(&b);
	return rc;
}

static void test_value_json(void **state)
{
	(void)state;
	char hex[512];
	assert_int_equal(json_to_hex(hex, sizeof(hex), "{\"b\":1,\"aa\":null,\"a\":[true,{\"$bytes\":\"00FF\"}]}"), 0);
	assert_string_equal(hex, "07030161060202050200ff0261610001620302");
	assert_int_equal(json_to_hex(hex, sizeof(hex), "-9223372036854775808"), 0);
	assert_string_equal(hex, "03ffffffffffffffffff01");
	assert_int_equal(json_to_hex(hex, sizeof(hex), "1.0"), DS_EINVAL);
	assert_int_equal(json_to_hex(hex, sizeof(hex), "{\"$bytes\":\"0\"}"), DS_EINVAL);
	assert_int_equal(json_to_hex(hex, sizeof(hex), "{\"$bytes\":\"00\",\"x\":1}"), DS_EINVAL);
	char deep[128];
	size_t k = 0;
	for (int i = 0; i < 33; i++)
		deep[k++] = '[';
	for (int i = 0; i < 33; i++)
		deep[k++] = ']';
	deep[k] = 0;
	assert_int_equal(json_to_hex(hex, sizeof(hex), deep), DS_ETOOBIG);
	deep[32] = ' ';
	deep[33] = ' '; /* 32 levels: fine */
	assert_int_equal(json_to_hex(hex, sizeof(hex), deep), 0);
	/* Back to JSON, and the one unrepresentable map. */
	size_t n;
	uint8_t *p = tu_unhex("07030161060202050200ff0261610001620302", &n);
	json_t *j = NULL;
	assert_int_equal(ds_cli_value_to_json(&j, p, n), 0);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"a\":[true,{\"$bytes\":\"00ff\"}],\"aa\":null,\"b\":1}");
	free(text);
	json_decref(j);
	free(p);
	p = tu_unhex("070106246279746573" "0502abcd", &n);
	assert_int_equal(ds_cli_value_to_json(&j, p, n), DS_EINVAL);
	assert_null(j);
	free(p);
}

/* ---- transactions -------------------------------------------------------- */

static void test_tx_roundtrip_sign_verify(void **state)
{
	(void)state;
	struct ds_tx tx, back;
	uint8_t sk[DS_SK_LEN], enc[1024], enc2[1024];
	size_t n, n2;
	example_tx(&tx, sk);
	assert_int_equal(ds_tx_sign(&tx, sk, scratch, sizeof(scratch)), 0);
	assert_int_equal(ds_tx_verify(&tx, scratch, sizeof(scratch)), 0);
	assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &tx), 0);
	assert_int_equal(ds_tx_decode(&back, enc, n), 0);
	assert_int_equal(ds_tx_encode(enc2, sizeof(enc2), &n2, &back), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(enc, enc2, n);
	assert_int_equal(ds_tx_verify(&back, scratch, sizeof(scratch)), 0);

	/* The id covers the body only: same body, same id; id from bytes agrees. */
	uint8_t id1[DS_HASH_LEN], id2[DS_HASH_LEN];
	assert_int_equal(ds_tx_id(id1, &tx), 0);
	ds_tx_id_body(id2, enc, n - DS_SIG_LEN);
	assert_memory_equal(id1, id2, DS_HASH_LEN);
	memset(back.sig, 0, DS_SIG_LEN);
	assert_int_equal(ds_tx_id(id2, &back), 0);
	assert_memory_equal(id1, id2, DS_HASH_LEN);

	/* Body-only decode; a body is not a signed tx and vice versa. */
	assert_int_equal(ds_tx_encode_body(enc2, sizeof(enc2), &n2, &tx), 0);
	assert_int_equal(n2 + DS_SIG_LEN, n);
	assert_int_equal(ds_tx_decode_body(&back, enc2, n2), 0);
	assert_int_equal(ds_tx_decode(&back, enc2, n2), DS_ETRUNC);
	assert_int_not_equal(ds_tx_decode_body(&back, enc, n), 0);

	/* Tampering. */
	struct ds_tx bad = tx;
	bad.sig[5] ^= 1;
	assert_int_equal(ds_tx_verify(&bad, scratch, sizeof(scratch)), DS_ESIG);
	bad = tx;
	bad.nonce++;
	assert_int_equal(ds_tx_verify(&bad, scratch, sizeof(scratch)), DS_ESIG);
	bad = tx;
	snprintf(bad.chain_id, sizeof(bad.chain_id), "%s", "other-chain");
	assert_int_equal(ds_tx_verify(&bad, scratch, sizeof(scratch)), DS_ESIG);
	/* Signing with someone else's key is refused. */
	uint8_t pk2[DS_PK_LEN], sk2[DS_SK_LEN];
	keypair_from_byte(pk2, sk2, 0x02);
	bad = tx;
	assert_int_equal(ds_tx_sign(&bad, sk2, scratch, sizeof(scratch)), DS_EPERM);
	/* Short scratch. */
	assert_int_equal(ds_tx_verify(&tx, scratch, 20), DS_ETOOBIG);
	/* Trailing byte, version 2. */
	enc[n] = 0;
	assert_int_equal(ds_tx_decode(&back, enc, n + 1), DS_ETRAILING);
	enc[0] = 2;
	assert_int_equal(ds_tx_decode(&back, enc, n), DS_EVERSION);
	const char *field = NULL;
	assert_int_equal(ds_tx_decode_diag(&back, &field, enc, n, true), DS_EVERSION);
	assert_string_equal(field, "version");
}

static void test_tx_rules(void **state)
{
	(void)state;
	struct ds_tx tx;
	uint8_t sk[DS_SK_LEN], enc[1024];
	size_t n;
	example_tx(&tx, sk);
	const char *bad_names[] = {"", "Kv", "k v", "kv-1", "k/v",
				   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad_names); i++) {
		assert_false(ds_ledger_name_valid(bad_names[i]));
		struct ds_tx t = tx;
		snprintf(t.method, sizeof(t.method), "%.64s", bad_names[i]);
		if (strlen(bad_names[i]) <= DS_NAME_MAX)
			assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &t), DS_EINVAL);
	}
	assert_true(ds_ledger_name_valid("credit.registry_v2"));
	assert_true(ds_ledger_chain_id_valid("gov-east.prod_1"));
	assert_false(ds_ledger_chain_id_valid("Gov"));
	/* args must be one canonical value */
	struct ds_tx t = tx;
	t.args = (const uint8_t *)"\x00\x00";
	t.args_len = 2;
	assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &t), DS_EINVAL);
	t.args_len = 0;
	assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &t), DS_EINVAL);
	/* a decoder refuses a bad method name in the bytes, naming the field */
	assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &tx), 0);
	uint8_t *m = memmem(enc, n, "\x03put", 4);
	assert_non_null(m);
	m[1] = 'P';
	struct ds_tx back;
	const char *field;
	assert_int_equal(ds_tx_decode_diag(&back, &field, enc, n, true), DS_EINVAL);
	assert_string_equal(field, "method");
	/* args over the limit */
	static uint8_t big[DS_TX_ARGS_MAX + 16];
	struct ds_enc e;
	size_t bn;
	ds_enc_init(&e, big, sizeof(big));
	static uint8_t zeros[DS_TX_ARGS_MAX];
	ds_value_enc_bytes(&e, zeros, DS_TX_ARGS_MAX - 4);
	assert_int_equal(ds_enc_finish(&e, &bn), 0);
	t = tx;
	t.args = big;
	t.args_len = bn;
	static uint8_t encbig[DS_TX_MAX];
	assert_int_equal(ds_tx_encode(encbig, sizeof(encbig), &n, &t), 0);
	assert_true(n <= DS_TX_MAX);
	assert_int_equal(ds_tx_decode(&back, encbig, n), 0);
	ds_enc_init(&e, big, sizeof(big));
	ds_value_enc_bytes(&e, zeros, DS_TX_ARGS_MAX);
	assert_int_equal(ds_enc_finish(&e, &bn), 0);
	t.args_len = bn;
	assert_int_equal(ds_tx_encode(encbig, sizeof(encbig), &n, &t), DS_EINVAL);
}

static void test_tx_mutations(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() ^ 0x7478ULL;
	struct ds_tx tx;
	uint8_t sk[DS_SK_LEN], enc[1024];
	size_t n;
	example_tx(&tx, sk);
	assert_int_equal(ds_tx_sign(&tx, sk, scratch, sizeof(scratch)), 0);
	assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &tx), 0);
	unsigned acc = mutate_many(rt_tx, enc, n, &rs, 5000);
	/* Every single-byte change breaks decoding or the signature. */
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			struct ds_tx back;
			enc[i] ^= (uint8_t)(1u << bit);
			int ok = ds_tx_decode(&back, enc, n) == 0 &&
				 ds_tx_verify(&back, scratch, sizeof(scratch)) == 0;
			assert_false(ok);
			enc[i] ^= (uint8_t)(1u << bit);
		}
	}
	fprintf(stderr, "# tx mutants accepted: %u of 5000\n", acc);
}

/* ---- headers and blocks -------------------------------------------------- */

static void test_header(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() ^ 0x6864ULL;
	struct ds_header h, back;
	uint8_t enc[DS_HEADER_MAX], enc2[DS_HEADER_MAX];
	size_t n, n2;
	example_header(&h);
	assert_int_equal(ds_header_encode(enc, sizeof(enc), &n, &h), 0);
	assert_int_equal(ds_header_decode(&back, enc, n), 0);
	assert_int_equal(ds_header_encode(enc2, sizeof(enc2), &n2, &back), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(enc, enc2, n);
	uint8_t h1[DS_HASH_LEN], h2[DS_HASH_LEN];
	assert_int_equal(ds_header_hash(h1, &h), 0);
	back.time_ms++;
	assert_int_equal(ds_header_hash(h2, &back), 0);
	assert_memory_not_equal(h1, h2, DS_HASH_LEN);
	back = h;
	back.tx_count = DS_BLOCK_TXS_MAX + 1;
	assert_int_equal(ds_header_encode(enc2, sizeof(enc2), &n2, &back), DS_EINVAL);
	assert_int_equal(ds_header_decode(&back, enc, n - 1), DS_ETRUNC);
	mutate_many(rt_header, enc, n, &rs, 5000);
}

static void test_merkle_root(void **state)
{
	(void)state;
	uint8_t ids[5][DS_HASH_LEN], root[DS_HASH_LEN], want[DS_HASH_LEN];
	for (int i = 0; i < 5; i++)
		memset(ids[i], i + 1, DS_HASH_LEN);
	uint8_t l[5][DS_HASH_LEN], buf[1 + 2 * DS_HASH_LEN];
	for (int i = 0; i < 5; i++) {
		buf[0] = 0;
		memcpy(buf + 1, ids[i], DS_HASH_LEN);
		ds_sha256(l[i], buf, 1 + DS_HASH_LEN);
	}
#define NODE(out, a, b)                                   \
	do {                                              \
		buf[0] = 1;                               \
		memcpy(buf + 1, a, DS_HASH_LEN);          \
		memcpy(buf + 1 + DS_HASH_LEN, b, DS_HASH_LEN); \
		ds_sha256(out, buf, sizeof(buf));         \
	} while (0)
	ds_ledger_merkle_root(root, ids, 0);
	ds_sha256(want, "", 0);
	assert_memory_equal(root, want, DS_HASH_LEN);
	ds_ledger_merkle_root(root, ids, 1);
	assert_memory_equal(root, l[0], DS_HASH_LEN);
	uint8_t n01[DS_HASH_LEN], n23[DS_HASH_LEN], n0123[DS_HASH_LEN], n012[DS_HASH_LEN];
	NODE(n01, l[0], l[1]);
	ds_ledger_merkle_root(root, ids, 2);
	assert_memory_equal(root, n01, DS_HASH_LEN);
	NODE(n012, n01, l[2]); /* RFC 6962: split at 2 for n = 3 */
	ds_ledger_merkle_root(root, ids, 3);
	assert_memory_equal(root, n012, DS_HASH_LEN);
	NODE(n23, l[2], l[3]);
	NODE(n0123, n01, n23);
	NODE(want, n0123, l[4]); /* split at 4 for n = 5 */
	ds_ledger_merkle_root(root, ids, 5);
	assert_memory_equal(root, want, DS_HASH_LEN);
#undef NODE
}

static size_t make_signed_tx(uint8_t *out, size_t cap, const char *chain, uint64_t nonce)
{
	struct ds_tx tx;
	uint8_t sk[DS_SK_LEN];
	size_t n;
	example_tx(&tx, sk);
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", chain);
	tx.nonce = nonce;
	assert_int_equal(ds_tx_sign(&tx, sk, scratch, sizeof(scratch)), 0);
	assert_int_equal(ds_tx_encode(out, cap, &n, &tx), 0);
	return n;
}

static void test_block(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() ^ 0x626bULL;
	uint8_t t[3][512];
	struct ds_iov txs[3];
	uint8_t ids[3][DS_HASH_LEN];
	for (int i = 0; i < 3; i++) {
		txs[i].p = t[i];
		txs[i].n = make_signed_tx(t[i], sizeof(t[i]), "danshari-test", (uint64_t)i);
		ds_tx_id_body(ids[i], t[i], txs[i].n - DS_SIG_LEN);
	}
	struct ds_header h;
	example_header(&h);
	h.tx_count = 3;
	ds_ledger_merkle_root(h.tx_root, ids, 3);
	static uint8_t enc[4096], enc2[4096];
	size_t n, n2;
	assert_int_equal(ds_block_encode(enc, sizeof(enc), &n, &h, txs, 3), 0);
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, enc, n), 0);
	size_t pos = 0, k = 0;
	const uint8_t *tp;
	size_t tn;
	while (ds_block_tx_next(&b, &pos, &tp, &tn) == 1) {
		assert_int_equal(tn, txs[k].n);
		assert_memory_equal(tp, txs[k].p, tn);
		k++;
	}
	assert_int_equal(k, 3);
	assert_int_equal(rt_block(enc, n, enc2, sizeof(enc2), &n2), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(enc, enc2, n);

	/* Wrong root, count, chain. */
	struct ds_header bad = h;
	bad.tx_root[0] ^= 1;
	assert_int_equal(ds_block_encode(enc2, sizeof(enc2), &n2, &bad, txs, 3), DS_EINVAL);
	size_t hn;
	assert_int_equal(ds_header_encode(NULL, 0, &hn, &h), 0);
	uint8_t copy[4096];
	memcpy(copy, enc, n);
	/* tx_root sits before exec_height and the four trailing hashes */
	copy[hn - 4 * DS_HASH_LEN - 1 - 1] ^= 1;
	assert_int_equal(ds_block_decode(&b, copy, n), DS_EPROOF);
	assert_int_equal(ds_block_encode(enc2, sizeof(enc2), &n2, &h, txs, 2), DS_EINVAL);
	uint8_t other[512];
	struct ds_iov txs2[3] = {txs[0], txs[1], {other, make_signed_tx(other, sizeof(other), "other", 2)}};
	ds_tx_id_body(ids[2], other, txs2[2].n - DS_SIG_LEN);
	bad = h;
	ds_ledger_merkle_root(bad.tx_root, ids, 3);
	assert_int_equal(ds_block_encode(enc2, sizeof(enc2), &n2, &bad, txs2, 3), DS_EINVAL);
	assert_int_equal(ds_block_decode(&b, enc, n - 1), DS_ETRUNC);
	unsigned acc = mutate_many(rt_block, enc, n, &rs, 2000);
	fprintf(stderr, "# block mutants accepted: %u of 2000\n", acc);
}

/* ---- votes, QCs, validator sets ----------------------------------------- */

static void make_valset(struct ds_valset *vs, uint8_t sks[][DS_SK_LEN], uint32_t n)
{
	memset(vs, 0, sizeof(*vs));
	vs->epoch = 3;
	vs->n = n;
	for (uint32_t i = 0; i < n; i++) {
		keypair_from_byte(vs->v[i].pk, sks[i], (uint8_t)(0x40 + i));
		vs->v[i].power = 1;
	}
}

static void test_qc(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() ^ 0x7163ULL;
	static struct ds_valset vs;
	static uint8_t sks[7][DS_SK_LEN];
	make_valset(&vs, sks, 4);
	static struct ds_qc qc, back;
	memset(&qc, 0, sizeof(qc));
	qc.vote.epoch = 3;
	qc.vote.round = 9;
	qc.vote.height = 8;
	memset(qc.vote.block_hash, 0xab, DS_HASH_LEN);
	qc.vote.parent_round = 8;
	memset(qc.vote.parent_hash, 0xcd, DS_HASH_LEN);
	qc.vote.commit_height = 7;
	memset(qc.vote.commit_hash, 0xef, DS_HASH_LEN);
	const uint32_t who[] = {0, 2, 3};
	for (int i = 0; i < 3; i++) {
		qc.sigs[i].index = who[i];
		ds_vote_sign(qc.sigs[i].sig, &qc.vote, "danshari-test", sks[who[i]]);
	}
	qc.nsigs = 3;
	assert_int_equal(ds_qc_verify(&qc, &vs, "danshari-test"), 0);
	assert_int_equal(ds_qc_verify(&qc, &vs, "other"), DS_ESIG);

	uint8_t enc[DS_QC_MAX], enc2[DS_QC_MAX];
	size_t n, n2;
	assert_int_equal(ds_qc_encode(enc, sizeof(enc), &n, &qc), 0);
	assert_int_equal(ds_qc_decode(&back, enc, n), 0);
	assert_int_equal(ds_qc_encode(enc2, sizeof(enc2), &n2, &back), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(enc, enc2, n);
	assert_int_equal(ds_qc_verify(&back, &vs, "danshari-test"), 0);

	back = qc;
	back.nsigs = 2;
	assert_int_equal(ds_qc_verify(&back, &vs, "danshari-test"), DS_EPROOF);
	back = qc;
	back.sigs[1].sig[0] ^= 1;
	assert_int_equal(ds_qc_verify(&back, &vs, "danshari-test"), DS_ESIG);
	back = qc;
	back.sigs[1].index = 0; /* duplicate */
	assert_int_equal(ds_qc_verify(&back, &vs, "danshari-test"), DS_EINVAL);
	assert_int_equal(ds_qc_encode(enc2, sizeof(enc2), &n2, &back), DS_EINVAL);
	back = qc;
	back.sigs[2].index = 4; /* >= n */
	assert_int_equal(ds_qc_verify(&back, &vs, "danshari-test"), DS_EINVAL);
	back = qc;
	back.vote.epoch = 4;
	assert_int_equal(ds_qc_verify(&back, &vs, "danshari-test"), DS_EINVAL);
	/* Decoder: duplicate index in the bytes. sigs start after the vote data. */
	size_t vn;
	assert_int_equal(ds_vote_encode(NULL, 0, &vn, &qc.vote), 0);
	memcpy(enc2, enc, n);
	assert_int_equal(enc2[vn], 3);
	enc2[vn + 1 + 1 + DS_SIG_LEN] = 0; /* second index 2 -> 0 */
	assert_int_equal(ds_qc_decode(&back, enc2, n), DS_EINVAL);
	mutate_many(rt_qc, enc, n, &rs, 3000);

	/* Quorum table: floor(2n/3)+1. */
	const uint32_t q[][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 3}, {5, 4}, {6, 5}, {7, 5}, {10, 7}, {100, 67}};
	for (size_t i = 0; i < DS_ARRAY_LEN(q); i++)
		assert_int_equal(ds_qc_quorum(q[i][0]), q[i][1]);

	/* n = 7, f = 2: 5 signatures needed. */
	make_valset(&vs, sks, 7);
	memset(&qc.sigs, 0, sizeof(qc.sigs));
	for (uint32_t i = 0; i < 5; i++) {
		qc.sigs[i].index = i;
		ds_vote_sign(qc.sigs[i].sig, &qc.vote, "danshari-test", sks[i]);
	}
	qc.nsigs = 4;
	assert_int_equal(ds_qc_verify(&qc, &vs, "danshari-test"), DS_EPROOF);
	qc.nsigs = 5;
	assert_int_equal(ds_qc_verify(&qc, &vs, "danshari-test"), 0);
}

static void test_valset_receipt(void **state)
{
	(void)state;
	uint64_t rs = tu_seed() ^ 0x7673ULL;
	static struct ds_valset vs, back;
	static uint8_t sks[4][DS_SK_LEN];
	make_valset(&vs, sks, 4);
	uint8_t enc[DS_VALSET_MAX], enc2[DS_VALSET_MAX];
	size_t n, n2;
	assert_int_equal(ds_valset_encode(enc, sizeof(enc), &n, &vs), 0);
	assert_int_equal(ds_valset_decode(&back, enc, n), 0);
	assert_int_equal(ds_valset_encode(enc2, sizeof(enc2), &n2, &back), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(enc, enc2, n);
	uint8_t h1[DS_HASH_LEN], h2[DS_HASH_LEN];
	assert_int_equal(ds_valset_hash(h1, &vs), 0);
	back.v[1].power = 2;
	assert_int_equal(ds_valset_hash(h2, &back), DS_EINVAL);
	back = vs;
	memcpy(back.v[3].pk, back.v[0].pk, DS_PK_LEN);
	assert_int_equal(ds_valset_encode(enc2, sizeof(enc2), &n2, &back), DS_EINVAL);
	back = vs;
	back.n = 0;
	assert_int_equal(ds_valset_encode(enc2, sizeof(enc2), &n2, &back), DS_EINVAL);
	mutate_many(rt_valset, enc, n, &rs, 2000);

	static struct ds_receipt r, rb;
	memset(&r, 0, sizeof(r));
	r.version = 1;
	memset(r.tx_id, 0x5a, DS_HASH_LEN);
	r.status = DS_TX_OK;
	r.gas_used = 12345;
	r.nevents = 2;
	snprintf(r.events[0].name, sizeof(r.events[0].name), "%s", "record.issued");
	r.events[0].value = example_args;
	r.events[0].value_len = sizeof(example_args);
	snprintf(r.events[1].name, sizeof(r.events[1].name), "%s", "audit");
	r.events[1].value = (const uint8_t *)"\x00";
	r.events[1].value_len = 1;
	r.ret = (const uint8_t *)"\x03\x54";
	r.ret_len = 2;
	static uint8_t renc[4096], renc2[4096];
	assert_int_equal(ds_receipt_encode(renc, sizeof(renc), &n, &r), 0);
	assert_int_equal(ds_receipt_decode(&rb, renc, n), 0);
	assert_int_equal(ds_receipt_encode(renc2, sizeof(renc2), &n2, &rb), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(renc, renc2, n);
	assert_int_equal(ds_receipt_hash(h1, &r, renc2, sizeof(renc2)), 0);
	rb = r;
	rb.status = DS_TX_FAILED; /* failed needs an error text */
	assert_int_equal(ds_receipt_encode(renc2, sizeof(renc2), &n2, &rb), DS_EINVAL);
	snprintf(rb.error, sizeof(rb.error), "%s", "not allowed");
	assert_int_equal(ds_receipt_encode(renc2, sizeof(renc2), &n2, &rb), 0);
	assert_int_equal(ds_receipt_hash(h2, &rb, renc2, sizeof(renc2)), 0);
	assert_memory_not_equal(h1, h2, DS_HASH_LEN);
	rb = r;
	snprintf(rb.events[0].name, sizeof(rb.events[0].name), "%s", "Bad");
	assert_int_equal(ds_receipt_encode(renc2, sizeof(renc2), &n2, &rb), DS_EINVAL);
	rb = r;
	rb.nevents = DS_RECEIPT_EVENTS_MAX + 1;
	assert_int_equal(ds_receipt_encode(renc2, sizeof(renc2), &n2, &rb), DS_EINVAL);
	mutate_many(rt_receipt, renc, n, &rs, 3000);
}

/* ---- worked examples of docs/PROTOCOL.md ----------------------------- */
/* The same strings appear in the document; change both together. */
#define DOC_SENDER "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define DOC_TX_BODY \
	"010d64616e73686172692d746573748a88e3dd7409f195fd52db2d3cba5d72ca" \
	"6709bf1d94121bf3748801b40f6f5c01e807026b7603707574150702036b6579" \
	"0405616c6963650576616c75650354"
#define DOC_TX_SIG \
	"360b356e6acc1a192a53687f16550b62afea1d745783ac0c1c3ece2974371406" \
	"5cc46c526a018a3583ce3188b9e128dd6ea7d4603ec14724993769b7aaf36709"
#define DOC_TX_ID "85d2d741d17bd43272e069bb387bf411258b70852994024f203d11d4962357a9"
#define DOC_HEADER \
	"010d64616e73686172692d746573740100011111111111111111111111111111" \
	"1111111111111111111111111111111111112222222222222222222222222222" \
	"22222222222222222222222222222222222280d095ffbc3100e3b0c44298fc1c" \
	"149afbf4c8996fb92427ae41e4649b934ca495991b7852b85500333333333333" \
	"3333333333333333333333333333333333333333333333333333444444444444" \
	"4444444444444444444444444444444444444444444444444444555555555555" \
	"5555555555555555555555555555555555555555555555555555666666666666" \
	"6666666666666666666666666666666666666666666666666666"
#define DOC_HEADER_HASH "259b341b1faf8fdad6bf848f00f997f1159565af3d0fb0d76777e80eb514a732"

/* DS_DOC_PRINT=1 prints the values, for regenerating the document. */
static void doc_check(const char *what, const char *got, const char *want)
{
	if (getenv("DS_DOC_PRINT")) {
		fprintf(stderr, "# %s: %s\n", what, got);
		return;
	}
	assert_string_equal(got, want);
}

static void test_doc_examples(void **state)
{
	(void)state;
	struct ds_tx tx;
	uint8_t sk[DS_SK_LEN], enc[1024], id[DS_HASH_LEN];
	size_t n;
	static char hex[4096];
	example_tx(&tx, sk);
	hex_of(hex, tx.sender, DS_PK_LEN);
	doc_check("DOC_SENDER", hex, DOC_SENDER);
	assert_int_equal(ds_tx_sign(&tx, sk, scratch, sizeof(scratch)), 0);
	assert_int_equal(ds_tx_encode(enc, sizeof(enc), &n, &tx), 0);
	hex_of(hex, enc, n - DS_SIG_LEN);
	doc_check("DOC_TX_BODY", hex, DOC_TX_BODY);
	hex_of(hex, tx.sig, DS_SIG_LEN);
	doc_check("DOC_TX_SIG", hex, DOC_TX_SIG);
	assert_int_equal(ds_tx_id(id, &tx), 0);
	hex_of(hex, id, DS_HASH_LEN);
	doc_check("DOC_TX_ID", hex, DOC_TX_ID);

	struct ds_header h;
	example_header(&h);
	assert_int_equal(ds_header_encode(enc, sizeof(enc), &n, &h), 0);
	hex_of(hex, enc, n);
	doc_check("DOC_HEADER", hex, DOC_HEADER);
	assert_int_equal(ds_header_hash(id, &h), 0);
	hex_of(hex, id, DS_HASH_LEN);
	doc_check("DOC_HEADER_HASH", hex, DOC_HEADER_HASH);
	if (getenv("DS_DOC_PRINT"))
		fail_msg("DS_DOC_PRINT set: values printed, not checked");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_roundtrip_and_api),
		cmocka_unit_test(test_value_strict),
		cmocka_unit_test(test_value_limits),
		cmocka_unit_test(test_value_random),
		cmocka_unit_test(test_value_json),
		cmocka_unit_test(test_tx_roundtrip_sign_verify),
		cmocka_unit_test(test_tx_rules),
		cmocka_unit_test(test_tx_mutations),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_merkle_root),
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_qc),
		cmocka_unit_test(test_valset_receipt),
		cmocka_unit_test(test_doc_examples),
	};
	assert_int_equal(ds_crypto_init(), 0);
	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
