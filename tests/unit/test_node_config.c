/* node config and genesis JSON: round trips, defaults, and strict refusal of
 * unknown members, wrong types, bad ranges, duplicates and bad addresses. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "node/node.h"

static const char *const PK0 = "13f593faebbab8990130b78f763acbfaad4d6536d9c35a1a6281be494030e819";
static const char *const PK1 = "b3fbe8521188005985ad5647994ae2e22ab77e41a7cb430e09e9f5377d2f8d6a";

/* A valid genesis with placeholders replaced by the caller's snippets. */
static char *genesis_text(const char *extra_top, const char *params_extra, const char *v1_p2p,
			  const char *pk1)
{
	static char buf[8192];
	snprintf(buf, sizeof(buf),
		 "{\"chain_id\": \"test-chain\", \"genesis_time_ms\": 1700000000000,%s"
		 " \"params\": {\"max_tx_lifetime\": 100, \"block_txs_max\": 1000,"
		 " \"retain_versions\": 0, \"round_timeout_ms\": 1000, \"round_timeout_max_ms\": 8000,"
		 " \"empty_block_interval_ms\": 200, \"governance_threshold\": 2%s},"
		 " \"validators\": ["
		 "{\"name\": \"node0\", \"public_key\": \"%s\", \"p2p\": \"127.0.0.1:26600\"},"
		 "{\"name\": \"node1\", \"public_key\": \"%s\", \"p2p\": \"%s\", \"power\": 1}],"
		 " \"organisations\": [{\"name\": \"org0\", \"admin_key\": \"%s\"},"
		 " {\"name\": \"org1\", \"admin_key\": \"%s\"}]}",
		 extra_top, params_extra, PK0, pk1, v1_p2p, PK0, PK1);
	return buf;
}

static int parse_g(const char *text, char *err)
{
	struct ds_node_genesis *g = malloc(sizeof(*g));
	assert_non_null(g);
	int rc = ds_node_genesis_parse(g, text, strlen(text), err, 256);
	free(g);
	return rc;
}

static void test_genesis_ok_and_roundtrip(void **state)
{
	(void)state;
	struct ds_node_genesis *g = malloc(sizeof(*g)), *g2 = malloc(sizeof(*g2));
	assert_non_null(g);
	assert_non_null(g2);
	char err[256] = "";
	const char *t = genesis_text("", "", "[::1]:26602", PK1);
	int rc = ds_node_genesis_parse(g, t, strlen(t), err, sizeof(err));
	if (rc)
		fail_msg("parse: %s", err);
	assert_string_equal(g->g.chain_id, "test-chain");
	assert_int_equal(g->g.time_ms, 1700000000000ull);
	assert_int_equal(g->g.valset.n, 2);
	assert_int_equal(g->g.valset.epoch, 0);
	assert_int_equal(g->g.valset.v[1].power, 1);
	assert_int_equal(g->g.params.block_txs_max, 1000);
	assert_int_equal(g->g.params.max_tx_lifetime, 100);
	assert_int_equal(g->round_timeout_ms, 1000);
	assert_int_equal(g->empty_block_interval_ms, 200);
	assert_int_equal(g->governance_threshold, 2);
	assert_int_equal(g->norgs, 2);
	assert_string_equal(g->names[1], "node1");
	assert_string_equal(g->p2p[1], "[::1]:26602");
	assert_string_equal(g->orgs[1].name, "org1");
	assert_null(g->g.state);
	struct ds_buf b;
	ds_buf_init(&b);
	assert_int_equal(ds_node_genesis_format(&b, g), 0);
	assert_int_equal(ds_node_genesis_parse(g2, (const char *)b.data, b.len, err, sizeof(err)), 0);
	assert_memory_equal(g, g2, sizeof(*g));
	ds_buf_free(&b);
	free(g);
	free(g2);
}

static void expect_refused(const char *text, const char *needle)
{
	char err[256] = "";
	int rc = parse_g(text, err);
	if (rc == 0)
		fail_msg("accepted, expected an error naming '%s'", needle);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not name '%s'", err, needle);
}

static void test_genesis_strict(void **state)
{
	(void)state;
	expect_refused(genesis_text(" \"extra\": 1,", "", "127.0.0.1:26602", PK1), "unknown member \"extra\"");
	expect_refused(genesis_text("", ", \"gas\": 5", "127.0.0.1:26602", PK1), "unknown member \"gas\"");
	expect_refused(genesis_text("", "", "127.0.0.1:26600", PK1), "address repeats");
	expect_refused(genesis_text("", "", "127.0.0.1:26602", PK0), "public key repeats");
	expect_refused(genesis_text("", "", "localhost:26602", PK1), "numeric");
	expect_refused(genesis_text("", "", "127.0.0.1:0", PK1), "p2p");
	expect_refused(genesis_text("", "", "127.0.0.1:65536", PK1), "p2p");
	expect_refused(genesis_text("", "", "127.0.0.1:26602", "abcd"), "64 hex");
	expect_refused("{\"chain_id\": \"x\",", "not valid JSON");
	expect_refused("[1,2]", "object");
	expect_refused("{\"chain_id\": \"x\", \"chain_id\": \"y\"}", "not valid JSON");
	/* Missing and mistyped members. */
	expect_refused("{\"chain_id\": \"test\", \"genesis_time_ms\": 1, \"params\": {}, "
		       "\"validators\": [], \"organisations\": []}",
		       "missing member \"max_tx_lifetime\"");
	expect_refused("{\"chain_id\": 5}", "\"chain_id\" must be a string");
	expect_refused("{\"genesis_time_ms\": -1}", "non-negative integer");
	/* Ranges and rules, each by replacing one piece of the valid text. */
	const char *base = genesis_text("", "", "127.0.0.1:26602", PK1);
	struct {
		const char *from, *to, *needle;
	} sub[] = {
		{"\"block_txs_max\": 1000", "\"block_txs_max\": 0", "block_txs_max"},
		{"\"block_txs_max\": 1000", "\"block_txs_max\": 20001", "block_txs_max"},
		{"\"empty_block_interval_ms\": 200", "\"empty_block_interval_ms\": 2000", "empty_block_interval_ms"},
		{"\"round_timeout_max_ms\": 8000", "\"round_timeout_max_ms\": 900", "round_timeout_max_ms"},
		{"\"governance_threshold\": 2", "\"governance_threshold\": 3", "governance_threshold"},
		{"test-chain", "Test-chain", "chain_id"},
		{"\"name\": \"node1\"", "\"name\": \"node0\"", "name repeats"},
		{"\"name\": \"org1\"", "\"name\": \"org0\"", "name repeats"},
		{"\"power\": 1", "\"power\": 2", "power"},
		{"\"validators\": [", "\"validators\": 7, \"x\": [", "\"validators\" must be an array"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(sub); i++) {
		static char t[8192];
		const char *at = strstr(base, sub[i].from);
		assert_non_null(at);
		snprintf(t, sizeof(t), "%.*s%s%s", (int)(at - base), base, sub[i].to, at + strlen(sub[i].from));
		expect_refused(t, sub[i].needle);
	}
}

static void test_hostport(void **state)
{
	(void)state;
	char h[64];
	uint16_t port;
	assert_int_equal(ds_node_parse_hostport(h, sizeof(h), &port, "10.1.2.3:443"), 0);
	assert_string_equal(h, "10.1.2.3");
	assert_int_equal(port, 443);
	assert_int_equal(ds_node_parse_hostport(h, sizeof(h), &port, "[fe80::1]:65535"), 0);
	assert_string_equal(h, "fe80::1");
	assert_int_equal(port, 65535);
	const char *bad[] = {"", "1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:080", "1.2.3.4:8a",
			     "::1:80", "[::1]80", "[1.2.3.4]:80", "example.com:80", "1.2.3.4:123456",
			     "1.2.3.256:80"};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++)
		if (ds_node_parse_hostport(h, sizeof(h), &port, bad[i]) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_config(void **state)
{
	(void)state;
	struct ds_node_config c, c2;
	char err[256] = "";
	const char *t = "{\"node_id\": \"node3\", \"p2p_listen\": \"0.0.0.0:26606\","
			" \"api_listen\": \"127.0.0.1:26607\"}";
	assert_int_equal(ds_node_config_parse(&c, t, strlen(t), err, sizeof(err)), 0);
	assert_string_equal(c.node_id, "node3");
	assert_string_equal(c.key_file, "node.key");
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.genesis, "");
	assert_int_equal(c.mempool_txs_max, 200000);
	struct ds_buf b;
	ds_buf_init(&b);
	assert_int_equal(ds_node_config_format(&b, &c), 0);
	assert_int_equal(ds_node_config_parse(&c2, (const char *)b.data, b.len, err, sizeof(err)), 0);
	assert_memory_equal(&c, &c2, sizeof(c));
	ds_buf_free(&b);

	struct {
		const char *text, *needle;
	} bad[] = {
		{"{\"node_id\": \"n\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\", \"peers\": []}",
		 "unknown member \"peers\""},
		{"{\"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\"}", "missing member \"node_id\""},
		{"{\"node_id\": \"N!\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\"}", "node_id"},
		{"{\"node_id\": \"n\", \"p2p_listen\": \"host:1\", \"api_listen\": \"1.2.3.4:2\"}", "p2p_listen"},
		{"{\"node_id\": \"n\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4\"}", "api_listen"},
		{"{\"node_id\": \"n\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\", \"log_level\": \"loud\"}",
		 "log_level"},
		{"{\"node_id\": \"n\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\", \"mempool_txs_max\": 0}",
		 "mempool_txs_max"},
		{"{\"node_id\": \"n\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\", \"api_threads\": \"2\"}",
		 "api_threads"},
		{"{\"node_id\": \"n\", \"p2p_listen\": \"1.2.3.4:1\", \"api_listen\": \"1.2.3.4:2\", \"key_file\": \"\"}",
		 "key_file"},
		{"{\"node_id\": \"n\"", "not valid JSON"},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		err[0] = 0;
		if (ds_node_config_parse(&c, bad[i].text, strlen(bad[i].text), err, sizeof(err)) == 0)
			fail_msg("accepted config %zu", i);
		if (!strstr(err, bad[i].needle))
			fail_msg("config %zu: error '%s' does not name '%s'", i, err, bad[i].needle);
	}
}

static void test_load_files(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("nodecfg");
	char path[4200], err[512] = "";
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	struct ds_node_config c;
	assert_int_not_equal(ds_node_config_load(&c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "missing.json"));
	snprintf(path, sizeof(path), "%s/genesis.json", dir);
	const char *t = genesis_text(" \"bogus\": true,", "", "127.0.0.1:26602", PK1);
	assert_int_equal(ds_file_write_atomic(path, t, strlen(t), 0644, 0), 0);
	struct ds_node_genesis *g = malloc(sizeof(*g));
	assert_non_null(g);
	assert_int_not_equal(ds_node_genesis_load(g, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "genesis.json"));
	assert_non_null(strstr(err, "bogus"));
	free(g);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genesis_ok_and_roundtrip),
		cmocka_unit_test(test_genesis_strict),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_load_files),
	};
	return cmocka_run_group_tests_name("node_config", tests, NULL, NULL);
}
