/* codec: primitives, strictness, round trips. */
#include "testutil.h"

#include <string.h>

#include "codec/codec.h"

static void test_uvar_roundtrip(void **state)
{
	(void)state;
	const uint64_t vals[] = {0, 1, 127, 128, 255, 300, 16383, 16384, UINT32_MAX,
				 (uint64_t)1 << 56, UINT64_MAX - 1, UINT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t buf[16];
		struct ds_enc e;
		ds_enc_init(&e, buf, sizeof(buf));
		ds_enc_uvar(&e, vals[i]);
		size_t n;
		assert_int_equal(ds_enc_finish(&e, &n), 0);
		assert_int_equal(n, ds_uvar_len(vals[i]));
		struct ds_dec d;
		ds_dec_init(&d, buf, n);
		uint64_t v;
		assert_int_equal(ds_dec_uvar(&d, &v), 0);
		assert_int_equal(ds_dec_finish(&d), 0);
		assert_true(v == vals[i]);
	}
}

static int dec_one(const uint8_t *p, size_t n, uint64_t *v)
{
	struct ds_dec d;
	ds_dec_init(&d, p, n);
	ds_dec_uvar(&d, v);
	return ds_dec_finish(&d);
}

static void test_uvar_strict(void **state)
{
	(void)state;
	uint64_t v;
	const uint8_t nonmin1[] = {0x80, 0x00};
	assert_int_equal(dec_one(nonmin1, 2, &v), DS_ENONMINIMAL);
	const uint8_t nonmin2[] = {0xff, 0x80, 0x00};
	assert_int_equal(dec_one(nonmin2, 3, &v), DS_ENONMINIMAL);
	const uint8_t trunc[] = {0x80};
	assert_int_equal(dec_one(trunc, 1, &v), DS_ETRUNC);
	const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	assert_int_equal(dec_one(over, 10, &v), DS_ERANGE);
	const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(dec_one(max, 10, &v), 0);
	assert_true(v == UINT64_MAX);
	const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	assert_int_equal(dec_one(eleven, 11, &v), DS_ERANGE);
	const uint8_t trailing[] = {0x01, 0x00};
	assert_int_equal(dec_one(trailing, 2, &v), DS_ETRAILING);
	assert_int_equal(dec_one(NULL, 0, &v), DS_ETRUNC);
}

static void test_bytes_and_limits(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct ds_enc e;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_enc_bytes(&e, "hello", 5);
	ds_enc_bool(&e, true);
	ds_enc_str(&e, "x");
	size_t n;
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(n, 1 + 5 + 1 + 1 + 1);

	struct ds_dec d;
	const uint8_t *p;
	size_t len;
	ds_dec_init(&d, buf, n);
	assert_int_equal(ds_dec_bytes(&d, &p, &len, 4), DS_ETOOBIG);
	/* Sticky: later calls keep the first error. */
	bool b;
	assert_int_equal(ds_dec_bool(&d, &b), DS_ETOOBIG);
	assert_int_equal(ds_dec_finish(&d), DS_ETOOBIG);

	ds_dec_init(&d, buf, n);
	assert_int_equal(ds_dec_bytes(&d, &p, &len, 5), 0);
	assert_memory_equal(p, "hello", 5);
	assert_int_equal(ds_dec_bool(&d, &b), 0);
	assert_true(b);
	char s[2];
	assert_int_equal(ds_dec_str(&d, s, sizeof(s)), 0);
	assert_string_equal(s, "x");
	assert_int_equal(ds_dec_finish(&d), 0);

	/* Length past input. */
	const uint8_t past[] = {0x05, 'a', 'b'};
	ds_dec_init(&d, past, sizeof(past));
	assert_int_equal(ds_dec_bytes(&d, &p, &len, 100), DS_ETRUNC);
	/* Bool other than 0/1. */
	const uint8_t two[] = {2};
	ds_dec_init(&d, two, 1);
	assert_int_equal(ds_dec_bool(&d, &b), DS_EINVAL);
	/* Encoder overflow is reported, never written past. */
	uint8_t small[3];
	ds_enc_init(&e, small, sizeof(small));
	ds_enc_bytes(&e, "hello", 5);
	assert_int_equal(ds_enc_finish(&e, &n), DS_ETOOBIG);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(ds_utf8_valid((const uint8_t *)"abc", 3));
	assert_true(ds_utf8_valid((const uint8_t *)"\xe6\x96\xad", 3));
	assert_false(ds_utf8_valid((const uint8_t *)"\xc0\x80", 2));     /* overlong NUL */
	assert_false(ds_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
	assert_false(ds_utf8_valid((const uint8_t *)"\xe6\x96", 2));     /* truncated */
	assert_false(ds_utf8_valid((const uint8_t *)"a\0b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uvar_roundtrip),
		cmocka_unit_test(test_uvar_strict),
		cmocka_unit_test(test_bytes_and_limits),
		cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
