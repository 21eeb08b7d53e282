/* node_credit's pure parts: on-chain record parsing, details checked against
 * a commitment, the details and details_ack frame codecs, and credit.lua
 * event parsing. The node wiring (deliveries through the outbox, erasure on
 * credit.erase, catching up after a restart) runs in tests/cluster/credit.sh;
 * the outbox and cursor files in tests/unit/test_privstore.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "node/node_credit.h"

/* A canonical map built from (key, string) pairs plus optional bool. */
static size_t build_map(uint8_t *out, size_t cap, const char *const *kv, size_t nkv,
			const char *bkey, int bval)
{
	struct ds_enc e;
	size_t n = 0;
	ds_enc_init(&e, out, cap);
	/* keys must be sorted for a canonical map: callers pass them sorted
	 * with bkey in its place, so merge here. */
	uint32_t count = (uint32_t)(nkv + (bkey ? 1 : 0));
	ds_value_enc_map(&e, count);
	bool bdone = bkey == NULL;
	for (size_t i = 0; i < nkv; i++) {
		if (!bdone && strcmp(bkey, kv[2 * i]) < 0) {
			ds_value_enc_key(&e, bkey, strlen(bkey));
			ds_value_enc_bool(&e, bval != 0);
			bdone = true;
		}
		ds_value_enc_key(&e, kv[2 * i], strlen(kv[2 * i]));
		ds_value_enc_str(&e, kv[2 * i + 1], strlen(kv[2 * i + 1]));
	}
	if (!bdone) {
		ds_value_enc_key(&e, bkey, strlen(bkey));
		ds_value_enc_bool(&e, bval != 0);
	}
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(ds_value_check(out, n), 0);
	return n;
}

static const char COMMIT_HEX[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void test_record_parse(void **st)
{
	(void)st;
	uint8_t buf[1024];
	struct ds__credit_record r;
	const char *ok[] = {"commitment", COMMIT_HEX, "id", "court_d:1", "org", "court_d", "status", "active"};
	size_t n = build_map(buf, sizeof(buf), ok, 4, NULL, 0);
	assert_int_equal(ds__credit_record_parse(&r, buf, n), 0);
	assert_string_equal(r.org, "court_d");
	assert_string_equal(r.status, "active");
	assert_int_equal(r.commitment[0], 0x00);
	assert_int_equal(r.commitment[31], 0xff);

	const char *nocommit[] = {"id", "court_d:1", "org", "court_d", "status", "active"};
	n = build_map(buf, sizeof(buf), nocommit, 3, NULL, 0);
	assert_int_equal(ds__credit_record_parse(&r, buf, n), DS_EINVAL);
	assert_string_equal(r.org, "");

	const char *badhex[] = {"commitment", "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
				"org", "court_d", "status", "active"};
	n = build_map(buf, sizeof(buf), badhex, 3, NULL, 0);
	assert_int_equal(ds__credit_record_parse(&r, buf, n), DS_EINVAL);

	const char *shorthex[] = {"commitment", "0011", "org", "court_d", "status", "active"};
	n = build_map(buf, sizeof(buf), shorthex, 3, NULL, 0);
	assert_int_equal(ds__credit_record_parse(&r, buf, n), DS_EINVAL);

	/* Not a map at all, and trailing garbage. */
	struct ds_enc e;
	ds_enc_init(&e, buf, sizeof(buf));
	ds_value_enc_str(&e, "x", 1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	assert_int_equal(ds__credit_record_parse(&r, buf, n), DS_EINVAL);
	n = build_map(buf, sizeof(buf), ok, 4, NULL, 0);
	buf[n] = 0;
	assert_int_equal(ds__credit_record_parse(&r, buf, n + 1), DS_EINVAL);
}

struct det {
	struct ds_privacy_field f[4];
	size_t n;
	uint8_t enc[4096];
	size_t len;
	uint8_t root[DS_HASH_LEN];
};

static void make_details(struct det *d, const char *name_value)
{
	d->f[0] = (struct ds_privacy_field){.name = "case_no", .name_len = 7,
					    .value = (const uint8_t *)"2026-civ-0042", .value_len = 13};
	d->f[1] = (struct ds_privacy_field){.name = "name", .name_len = 4,
					    .value = (const uint8_t *)name_value,
					    .value_len = strlen(name_value)};
	d->f[2] = (struct ds_privacy_field){.name = "status", .name_len = 6,
					    .value = (const uint8_t *)"closed", .value_len = 6};
	d->n = 3;
	ds_privacy_fields_salt(d->f, d->n);
	assert_int_equal(ds_privacy_fields_sort(d->f, d->n), 0);
	assert_int_equal(ds_privacy_commitment(d->root, d->f, d->n), 0);
	assert_int_equal(ds_privacy_details_encode(d->enc, sizeof(d->enc), &d->len, d->f, d->n), 0);
}

static void test_details_check(void **st)
{
	(void)st;
	struct det d, other;
	make_details(&d, "Test Person");
	assert_int_equal(ds__credit_details_check(d.root, d.enc, d.len), 0);

	/* Same fields, other salts: a different commitment, refused. */
	make_details(&other, "Test Person");
	assert_int_equal(ds__credit_details_check(d.root, other.enc, other.len), DS_EPROOF);

	/* A tampered value byte (still valid UTF-8): refused. */
	uint8_t t[4096];
	memcpy(t, d.enc, d.len);
	uint8_t *hit = memmem(t, d.len, "closed", 6);
	assert_non_null(hit);
	hit[0] = 'C';
	assert_int_equal(ds__credit_details_check(d.root, t, d.len), DS_EPROOF);

	/* Malformed encodings are decode errors, never success. */
	assert_int_equal(ds__credit_details_check(d.root, d.enc, d.len - 1), DS_ETRUNC);
	memcpy(t, d.enc, d.len);
	t[d.len] = 0;
	assert_int_equal(ds__credit_details_check(d.root, t, d.len + 1), DS_ETRAILING);
	t[0] = 2;
	assert_int_equal(ds__credit_details_check(d.root, t, d.len), DS_EVERSION);
}

/* Every single-byte change of a details encoding is refused. */
static void test_details_flip_property(void **st)
{
	(void)st;
	uint64_t s = tu_seed();
	struct det d;
	make_details(&d, "Test Person");
	uint8_t t[4096];
	for (int i = 0; i < 2000; i++) {
		memcpy(t, d.enc, d.len);
		size_t pos = (size_t)(tu_rand(&s) % d.len);
		uint8_t x = (uint8_t)(1 + tu_rand(&s) % 255);
		t[pos] ^= x;
		int rc = ds__credit_details_check(d.root, t, d.len);
		if (rc == 0)
			fail_msg("flip at %zu by %02x accepted", pos, x);
	}
}

static void test_frame_codec(void **st)
{
	(void)st;
	struct det d;
	make_details(&d, "Test Person");
	struct ds_buf b;
	ds_buf_init(&b);
	ds__credit_frame_encode(&b, "court_d:1", d.enc, d.len);
	assert_int_equal(b.err, 0);
	const uint8_t *rid, *det;
	size_t rl, dl;
	assert_int_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, b.data, b.len), 0);
	assert_int_equal(rl, 9);
	assert_memory_equal(rid, "court_d:1", 9);
	assert_int_equal(dl, d.len);
	assert_memory_equal(det, d.enc, d.len);
	assert_int_equal(ds__credit_details_check(d.root, det, dl), 0);

	/* Truncated at every length, then trailing bytes. */
	for (size_t k = 0; k < b.len; k++)
		assert_int_not_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, b.data, k), 0);
	ds_buf_append(&b, "x", 1);
	assert_int_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, b.data, b.len), DS_ETRAILING);
	assert_null(rid);

	/* Empty record id, empty details, record id over the maximum. */
	ds_buf_reset(&b);
	ds__credit_frame_encode(&b, "", d.enc, d.len);
	assert_int_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, b.data, b.len), DS_EINVAL);
	ds_buf_reset(&b);
	ds__credit_frame_encode(&b, "r:1", d.enc, 0);
	assert_int_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, b.data, b.len), DS_EINVAL);
	uint8_t big[300];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, big, sizeof(big));
	ds_enc_uvar(&e, DS_PRIVSTORE_ID_MAX + 1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	memset(big + n, 'a', DS_PRIVSTORE_ID_MAX + 1);
	n += DS_PRIVSTORE_ID_MAX + 1;
	big[n++] = 1;
	big[n++] = 1;
	assert_int_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, big, n), DS_ETOOBIG);
	/* Invalid UTF-8 in the record id. */
	uint8_t bad[] = {2, 0xff, 0xfe, 1, 1};
	assert_int_equal(ds__credit_frame_decode(&rid, &rl, &det, &dl, bad, sizeof(bad)), DS_EINVAL);
	ds_buf_free(&b);
}

static void test_ack_codec(void **st)
{
	(void)st;
	struct ds_buf b;
	ds_buf_init(&b);
	ds__credit_ack_encode(&b, "court_d:1");
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "\x09" "court_d:1", 10);
	const uint8_t *rid;
	size_t rl;
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, b.data, b.len), 0);
	assert_int_equal(rl, 9);
	assert_memory_equal(rid, "court_d:1", 9);
	for (size_t k = 0; k < b.len; k++) {
		assert_int_not_equal(ds__credit_ack_decode(&rid, &rl, b.data, k), 0);
		assert_null(rid);
	}
	ds_buf_append(&b, "x", 1);
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, b.data, b.len), DS_ETRAILING);
	assert_null(rid);
	/* Empty id, NUL inside, invalid UTF-8, non-minimal length, too long. */
	static const uint8_t empty[] = {0}, nul[] = {3, 'a', 0, 'b'}, bad[] = {2, 0xff, 0xfe},
			     nonmin[] = {0x81, 0x00, 'a'};
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, empty, sizeof(empty)), DS_EINVAL);
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, nul, sizeof(nul)), DS_EINVAL);
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, bad, sizeof(bad)), DS_EINVAL);
	assert_int_not_equal(ds__credit_ack_decode(&rid, &rl, nonmin, sizeof(nonmin)), 0);
	uint8_t big[2 + DS_PRIVSTORE_ID_MAX + 1];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, big, sizeof(big));
	ds_enc_uvar(&e, DS_PRIVSTORE_ID_MAX + 1);
	assert_int_equal(ds_enc_finish(&e, &n), 0);
	memset(big + n, 'a', DS_PRIVSTORE_ID_MAX + 1);
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, big, n + DS_PRIVSTORE_ID_MAX + 1), DS_ETOOBIG);
	/* The longest id round-trips. */
	char longest[DS_PRIVSTORE_ID_MAX + 1];
	memset(longest, 'r', DS_PRIVSTORE_ID_MAX);
	longest[DS_PRIVSTORE_ID_MAX] = 0;
	ds_buf_reset(&b);
	ds__credit_ack_encode(&b, longest);
	assert_int_equal(ds__credit_ack_decode(&rid, &rl, b.data, b.len), 0);
	assert_int_equal(rl, DS_PRIVSTORE_ID_MAX);
	ds_buf_free(&b);
}

static void test_event_parse(void **st)
{
	(void)st;
	uint8_t buf[1024];
	struct ds__credit_ev ev;
	const char *acc[] = {"grant", "consent", "reason", "", "record", "court_d:1", "who", "bank_c"};
	size_t n = build_map(buf, sizeof(buf), acc, 4, "granted", 1);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.access", buf, n), 0);
	assert_int_equal(ev.kind, DS__CREDIT_EV_ACCESS);
	assert_true(ev.granted);
	assert_string_equal(ev.record, "court_d:1");
	assert_string_equal(ev.who, "bank_c");
	n = build_map(buf, sizeof(buf), acc, 4, "granted", 0);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.access", buf, n), 0);
	assert_false(ev.granted);
	/* granted missing: malformed, nothing acted on. */
	n = build_map(buf, sizeof(buf), acc, 4, NULL, 0);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.access", buf, n), DS_EINVAL);
	assert_int_equal(ev.kind, DS__CREDIT_EV_NONE);

	const char *er[] = {"id", "court_d:1", "why", "erased"};
	n = build_map(buf, sizeof(buf), er, 2, NULL, 0);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.erase", buf, n), 0);
	assert_int_equal(ev.kind, DS__CREDIT_EV_ERASE);
	assert_string_equal(ev.record, "court_d:1");

	const char *co[] = {"id", "court_d:1"};
	n = build_map(buf, sizeof(buf), co, 1, "details_replaced", 1);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.corrected", buf, n), 0);
	assert_int_equal(ev.kind, DS__CREDIT_EV_REPLACED);
	n = build_map(buf, sizeof(buf), co, 1, "details_replaced", 0);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.corrected", buf, n), 0);
	assert_int_equal(ev.kind, DS__CREDIT_EV_NONE);

	/* Events the node does not act on: ignored without parsing. */
	assert_int_equal(ds__credit_event_parse(&ev, "credit.issued", (const uint8_t *)"\xff", 1), 0);
	assert_int_equal(ev.kind, DS__CREDIT_EV_NONE);
	/* A known name with a non-map value. */
	assert_int_equal(ds__credit_event_parse(&ev, "credit.erase", (const uint8_t *)"\x00", 1), DS_EINVAL);
	/* A record id over the store's maximum. */
	char longid[DS_PRIVSTORE_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	const char *lg[] = {"id", longid, "why", "erased"};
	n = build_map(buf, sizeof(buf), lg, 2, NULL, 0);
	assert_int_equal(ds__credit_event_parse(&ev, "credit.erase", buf, n), DS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_details_check),
		cmocka_unit_test(test_details_flip_property),
		cmocka_unit_test(test_frame_codec),
		cmocka_unit_test(test_ack_codec),
		cmocka_unit_test(test_event_parse),
	};
	return cmocka_run_group_tests_name("node_credit", tests, NULL, NULL);
}
