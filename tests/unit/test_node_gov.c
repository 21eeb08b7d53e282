/* node_gov: genesis.json's governance members (parse, strict refusals,
 * format round trip), init's defaults, and the genesis state they give. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "node/node.h"

static const char *const PK0 = "13f593faebbab8990130b78f763acbfaad4d6536d9c35a1a6281be494030e819";
static const char *const PK1 = "b3fbe8521188005985ad5647994ae2e22ab77e41a7cb430e09e9f5377d2f8d6a";
static const char *const PK2 = "5d0e2e9a1f4c7b3a8e6d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0918273";

/* A 2-validator, 2-organisation genesis with snippets spliced in:
 * org1_extra after org1's admin_key, val1_extra after node1's p2p, top
 * after the organisations array. */
static char *genesis_text(const char *org1_extra, const char *val1_extra, const char *top)
{
	static char buf[16384];
	snprintf(buf, sizeof(buf),
		 "{\"chain_id\": \"gov-chain\", \"genesis_time_ms\": 1700000000000,"
		 " \"params\": {\"max_tx_lifetime\": 100, \"block_txs_max\": 1000,"
		 " \"retain_versions\": 0, \"round_timeout_ms\": 1000, \"round_timeout_max_ms\": 8000,"
		 " \"empty_block_interval_ms\": 200, \"governance_threshold\": 2},"
		 " \"validators\": ["
		 "{\"name\": \"node0\", \"public_key\": \"%s\", \"p2p\": \"127.0.0.1:26600\"},"
		 "{\"name\": \"node1\", \"public_key\": \"%s\", \"p2p\": \"127.0.0.1:26602\"%s}],"
		 " \"organisations\": [{\"name\": \"org0\", \"admin_key\": \"%s\"},"
		 " {\"name\": \"org1\", \"admin_key\": \"%s\"%s}]%s}",
		 PK0, PK1, val1_extra, PK0, PK1, org1_extra, top);
	return buf;
}

static int parse(struct ds_node_genesis *g, const char *text, char *err, size_t cap)
{
	err[0] = 0;
	return ds_node_genesis_parse(g, text, strlen(text), err, cap);
}

/* The value of state key k (NUL-terminated), or NULL. */
static const struct ds_kv *find(const struct ds_kv *kv, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i].key_len == strlen(k) && memcmp(kv[i].key, k, kv[i].key_len) == 0)
			return &kv[i];
	return NULL;
}

static void test_extras_parse_and_state(void **state)
{
	(void)state;
	struct ds_node_genesis *g = malloc(sizeof(*g));
	assert_non_null(g);
	char err[512];
	const char *t = genesis_text(
		", \"display_name\": \"District court\", \"roles\": [\"contract.call\", \"issuer:court.judgment\"]",
		", \"org\": \"org1\"",
		", \"governance\": {\"params\": {\"kv.open\": 1, \"gov.lifetime\": 50},"
		" \"accounts\": [{\"public_key\": \"5d0e2e9a1f4c7b3a8e6d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0918273\","
		" \"org\": \"org1\", \"roles\": [\"issuer:court.judgment\"]}],"
		" \"contracts\": [{\"name\": \"demo\", \"org\": \"org1\","
		" \"source\": \"local M = {} function M.get(a) return 1 end return M\","
		" \"roles\": {\"*\": \"contract.call\", \"get\": \"\"}}]}");
	int rc = parse(g, t, err, sizeof(err));
	if (rc)
		fail_msg("parse: %s", err);
	assert_true(g->gov[0] != 0);
	struct ds_kv *kv = NULL;
	size_t n = 0;
	assert_int_equal(ds_node_genesis_state(g, &kv, &n), 0);
	assert_true(n >= 8);
	for (size_t i = 1; i < n; i++) {
		size_t m = kv[i - 1].key_len < kv[i].key_len ? kv[i - 1].key_len : kv[i].key_len;
		int c = memcmp(kv[i - 1].key, kv[i].key, m);
		assert_true(c < 0 || (c == 0 && kv[i - 1].key_len < kv[i].key_len));
	}
	char key[128];
	assert_non_null(find(kv, n, "sys/orgs"));
	assert_non_null(find(kv, n, "sys/org/org0"));
	const struct ds_kv *o1 = find(kv, n, "sys/org/org1");
	assert_non_null(o1);
	assert_non_null(memmem(o1->val, o1->val_len, "District court", 14));
	assert_non_null(memmem(o1->val, o1->val_len, "issuer:court.judgment", 21));
	snprintf(key, sizeof(key), "sys/account/%s", PK0);
	assert_non_null(find(kv, n, key));
	snprintf(key, sizeof(key), "sys/account/%s", PK2);
	const struct ds_kv *a = find(kv, n, key);
	assert_non_null(a);
	assert_non_null(memmem(a->val, a->val_len, "org1", 4));
	const struct ds_kv *p = find(kv, n, "sys/params");
	assert_non_null(p);
	assert_non_null(memmem(p->val, p->val_len, "gov.lifetime", 12));
	const struct ds_kv *vs = find(kv, n, "sys/valset");
	assert_non_null(vs);
	assert_non_null(memmem(vs->val, vs->val_len, "org1", 4));
	assert_non_null(find(kv, n, "sys/contract/demo"));
	assert_non_null(find(kv, n, "sys/code/demo/1"));
	ds_node_genesis_state_free(kv, n);

	/* Format and parse back: the same extras and the same state. */
	struct ds_buf b;
	ds_buf_init(&b);
	assert_int_equal(ds_node_genesis_format(&b, g), 0);
	struct ds_node_genesis *g2 = malloc(sizeof(*g2));
	assert_non_null(g2);
	rc = parse(g2, (const char *)b.data, err, sizeof(err));
	if (rc)
		fail_msg("re-parse: %s\n%s", err, (const char *)b.data);
	assert_string_equal(g->gov, g2->gov);
	assert_non_null(strstr((const char *)b.data, "\"display_name\": \"District court\""));
	ds_buf_free(&b);
	free(g2);
	free(g);
}

/* Each refusal names what is wrong; nothing half-parsed is returned. */
static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *org1, *val1, *top, *want;
	} cases[] = {
		{"", "", ", \"governance\": {\"foo\": 1}", "unknown member \"foo\""},
		{"", "", ", \"governance\": []", "\"governance\" must be an object"},
		{", \"roles\": \"writer\"", "", "", "\"roles\" must be an array"},
		{", \"roles\": [1]", "", "", "\"roles\"[0] must be a non-empty string"},
		{", \"roles\": [\"Bad Role\"]", "", "", "governance state refused"},
		{", \"display_name\": \"\"", "", "", "\"display_name\" must be 1..128 bytes"},
		{"", ", \"org\": \"nowhere\"", "", "governance state refused"},
		{"", ", \"org\": 7", "", "\"org\" must be a string"},
		{"", "", ", \"governance\": {\"params\": {\"kv.open\": 5}}", "governance state refused"},
		{"", "", ", \"governance\": {\"params\": {\"no.such\": 1}}", "governance state refused"},
		{"", "", ", \"governance\": {\"params\": {\"kv.open\": \"1\"}}", "must be an integer"},
		/* a role org1 may not grant */
		{"", "", ", \"governance\": {\"accounts\": [{\"public_key\": \"5d0e2e9a1f4c7b3a8e6d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0918273\", \"org\": \"org1\", \"roles\": [\"writer\"]}]}",
		 "governance state refused"},
		/* an org admin listed again as an account */
		{"", "", ", \"governance\": {\"accounts\": [{\"public_key\": \"13f593faebbab8990130b78f763acbfaad4d6536d9c35a1a6281be494030e819\", \"org\": \"org0\"}]}",
		 "already exists"},
		{"", "", ", \"governance\": {\"accounts\": [{\"public_key\": \"zz\", \"org\": \"org0\"}]}",
		 "64 hex digits"},
		/* a contract named like a native module */
		{"", "", ", \"governance\": {\"contracts\": [{\"name\": \"kv\", \"org\": \"org0\", \"source\": \"return {}\"}]}",
		 "governance state refused"},
		{"", "", ", \"governance\": {\"contracts\": [{\"name\": \"c\", \"org\": \"org9\", \"source\": \"return {}\"}]}",
		 "governance state refused"},
		{"", "", ", \"governance\": {\"contracts\": [{\"name\": \"c\", \"org\": \"org0\", \"source\": \"return {}\", \"roles\": {\"m\": 1}}]}",
		 "must be a string"},
		{"", "", ", \"governance\": {\"contracts\": [{\"name\": \"c\", \"org\": \"org0\"}]}",
		 "missing member \"source\""},
	};
	struct ds_node_genesis *g = malloc(sizeof(*g));
	assert_non_null(g);
	for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
		char err[512];
		const char *t = genesis_text(cases[i].org1, cases[i].val1, cases[i].top);
		int rc = parse(g, t, err, sizeof(err));
		if (rc == 0 || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, cases[i].want);
	}
	free(g);
}

/* A genesis without governance members still names its organisations,
 * their admins and the validators' orgs (default: the org the key
 * administers). */
static void test_plain_genesis_state(void **state)
{
	(void)state;
	struct ds_node_genesis *g = malloc(sizeof(*g));
	assert_non_null(g);
	char err[512];
	int rc = parse(g, genesis_text("", "", ""), err, sizeof(err));
	if (rc)
		fail_msg("parse: %s", err);
	assert_string_equal(g->gov, "");
	struct ds_kv *kv = NULL;
	size_t n = 0;
	assert_int_equal(ds_node_genesis_state(g, &kv, &n), 0);
	char key[128];
	snprintf(key, sizeof(key), "sys/account/%s", PK1);
	const struct ds_kv *a = find(kv, n, key);
	assert_non_null(a);
	assert_non_null(memmem(a->val, a->val_len, "admin", 5));
	const struct ds_kv *vs = find(kv, n, "sys/valset");
	assert_non_null(vs);
	assert_non_null(memmem(vs->val, vs->val_len, "org1", 4));
	ds_node_genesis_state_free(kv, n);
	free(g);
}

/* init's defaults: roles for every org, validator i in org i, 2/3 and
 * kv.open, contracts deployed by org0; the result parses back. */
static void test_default_gov(void **state)
{
	(void)state;
	struct ds_node_genesis *g = malloc(sizeof(*g)), *g2 = malloc(sizeof(*g2));
	assert_non_null(g);
	assert_non_null(g2);
	char err[512] = "";
	assert_int_equal(parse(g, genesis_text("", "", ""), err, sizeof(err)), 0);
	static const char src[] = "local M = {} function M.get(a) return 2 end return M";
	struct ds_node_gov_contract c = {"demo", src, sizeof(src) - 1, "{\"*\": \"\"}"};
	assert_int_equal(ds_node_genesis_default_gov(g, &c, 1, err, sizeof(err)), 0);
	struct ds_buf b;
	ds_buf_init(&b);
	assert_int_equal(ds_node_genesis_format(&b, g), 0);
	int rc = parse(g2, (const char *)b.data, err, sizeof(err));
	if (rc)
		fail_msg("re-parse: %s", err);
	const char *text = (const char *)b.data;
	assert_non_null(strstr(text, "\"kv.open\": 1"));
	assert_non_null(strstr(text, "\"issuer:tax.overdue\""));
	assert_non_null(strstr(text, "\"org\": \"org1\""));
	struct ds_kv *kv = NULL;
	size_t n = 0;
	assert_int_equal(ds_node_genesis_state(g2, &kv, &n), 0);
	assert_non_null(find(kv, n, "sys/contract/demo"));
	assert_non_null(find(kv, n, "sys/params"));
	ds_node_genesis_state_free(kv, n);
	/* A roles map that is not an object is refused. */
	struct ds_node_gov_contract bad = {"demo", src, sizeof(src) - 1, "[1]"};
	err[0] = 0;
	assert_int_equal(ds_node_genesis_default_gov(g, &bad, 1, err, sizeof(err)), DS_EINVAL);
	assert_non_null(strstr(err, "roles"));
	ds_buf_free(&b);
	free(g);
	free(g2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extras_parse_and_state),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_plain_genesis_state),
		cmocka_unit_test(test_default_gov),
	};
	return cmocka_run_group_tests_name("node_gov", tests, NULL, NULL);
}
