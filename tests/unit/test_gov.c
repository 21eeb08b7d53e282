/* System modules: genesis, permissions, accounts, governance (threshold,
 * one vote per org, rejection, expiry, execution effects, history). Runs
 * against the in-memory executor in exec_sys_mem.c. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli_json.h"
#include "exec/exec_sys.h"

#define ORGS 3

struct fx {
	struct ds_exec_sys_mem *m;
	struct ds_exec_module mods[DS_EXEC_SYS_NMODULES + 1];
	struct ds_exec_sys_mem_receipt r;
	uint64_t height;
	uint8_t admin[ORGS + 1][DS_PK_LEN]; /* admin[i] of org i; admin[3] for org "d" */
	uint8_t writer[DS_PK_LEN], nobody[DS_PK_LEN], reader[DS_PK_LEN];
	struct ds_buf args;
};

static const char *const org_ids[] = {"a", "b", "c"};

static void pk_fill(uint8_t pk[DS_PK_LEN], uint8_t b)
{
	memset(pk, b, DS_PK_LEN);
}

static void hexpk(char out[2 * DS_PK_LEN + 1], const uint8_t pk[DS_PK_LEN])
{
	ds_hex_encode(out, pk, DS_PK_LEN);
}

static int fx_setup_params(void **state, int64_t lifetime)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	for (int i = 0; i <= ORGS; i++)
		pk_fill(f->admin[i], (uint8_t)(0xA0 + i));
	pk_fill(f->writer, 0x01);
	pk_fill(f->nobody, 0x02);
	pk_fill(f->reader, 0x03);
	static const char *const roles_a[] = {"writer", "issuer:loans"};
	struct ds_exec_sys_org orgs[ORGS];
	for (int i = 0; i < ORGS; i++) {
		orgs[i] = (struct ds_exec_sys_org){org_ids[i], "Org", (const uint8_t(*)[DS_PK_LEN])f->admin[i], 1,
						   i == 0 ? roles_a : NULL, i == 0 ? 2 : 0};
	}
	static const char *const w[] = {"writer"};
	struct ds_exec_sys_account accts[2] = {{{0}, "a", w, 1}, {{0}, "b", NULL, 0}};
	memcpy(accts[0].pk, f->writer, DS_PK_LEN);
	memcpy(accts[1].pk, f->reader, DS_PK_LEN);
	struct ds_exec_sys_validator vals[3];
	for (int i = 0; i < 3; i++) {
		vals[i] = (struct ds_exec_sys_validator){{0}, "127.0.0.1:7000", org_ids[i]};
		pk_fill(vals[i].pk, (uint8_t)(0x70 + i));
	}
	struct ds_exec_sys_param_set params[] = {{"gov.lifetime", lifetime}};
	struct ds_exec_sys_genesis g = {orgs, ORGS, accts, 2, vals, 3, params, 1, NULL, 0};
	struct ds_exec_sys_genesis_state gs;
	char err[256];
	int rc = ds_exec_sys_genesis_state(&gs, &g, err, sizeof(err));
	if (rc)
		print_error("genesis: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(ds_exec_sys_mem_new(&f->m), 0);
	assert_int_equal(ds_exec_sys_mem_load(f->m, &gs), 0);
	/* sorted and unique keys, every value canonical */
	for (size_t i = 0; i < gs.n; i++) {
		assert_int_equal(ds_value_check(gs.kv[i].val, gs.kv[i].val_len), 0);
		if (i)
			assert_true(memcmp(gs.kv[i - 1].key, gs.kv[i].key,
					   gs.kv[i].key_len < gs.kv[i - 1].key_len ? gs.kv[i].key_len
										   : gs.kv[i - 1].key_len) <= 0);
	}
	ds_exec_sys_genesis_free(&gs);
	ds_exec_sys_modules(f->mods);
	f->mods[DS_EXEC_SYS_NMODULES] = ds_exec_kv_module;
	f->height = 1;
	ds_buf_init(&f->args);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_params(state, 100);
}

static int fx_setup_short(void **state)
{
	return fx_setup_params(state, 5);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	ds_exec_sys_mem_receipt_free(&f->r);
	ds_exec_sys_mem_free(f->m);
	ds_buf_free(&f->args);
	free(f);
	return 0;
}

/* Runs one tx at the next height; args is JSON. Returns ok. */
static bool run(struct fx *f, const uint8_t *sender, const char *target, const char *method,
		const char *json)
{
	json_error_t jerr;
	json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (!j)
		fail_msg("bad test JSON %s: %s", json, jerr.text);
	char err[128];
	ds_buf_reset(&f->args);
	assert_int_equal(ds_cli_value_from_json(&f->args, j, err, sizeof(err)), 0);
	json_decref(j);
	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	strcpy(tx.chain_id, "test");
	memcpy(tx.sender, sender, DS_PK_LEN);
	snprintf(tx.target, sizeof(tx.target), "%s", target);
	snprintf(tx.method, sizeof(tx.method), "%s", method);
	tx.args = f->args.data;
	tx.args_len = f->args.len;
	struct ds_exec_block_info blk = {"test", f->height++, 1700000000000ull, 100, 0};
	ds_exec_sys_mem_receipt_free(&f->r);
	assert_int_equal(ds_exec_sys_mem_run(f->m, &f->r, f->mods, DS_EXEC_SYS_NMODULES + 1,
					     ds_exec_sys_authorize, &blk, &tx), 0);
	return f->r.ok;
}

static void expect_denied(struct fx *f, const uint8_t *sender, const char *target, const char *method,
			  const char *json, const char *role)
{
	char want[256], hex[2 * DS_PK_LEN + 1];
	hexpk(hex, sender);
	assert_false(run(f, sender, target, method, json));
	assert_int_equal(f->r.rc, DS_EDENIED);
	snprintf(want, sizeof(want), "account %s lacks role %s for %s.%s", hex, role, target, method);
	if (strcmp(f->r.error, want) != 0)
		fail_msg("error '%s', want '%s'", f->r.error, want);
}

/* Returns the JSON text of a committed state value (caller frees). */
static char *state_json(struct fx *f, const char *key)
{
	const uint8_t *v;
	size_t n;
	if (ds_exec_sys_mem_get(f->m, (const uint8_t *)key, strlen(key), &v, &n) != 0)
		return NULL;
	json_t *j;
	assert_int_equal(ds_cli_value_to_json(&j, v, n), 0);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	return s;
}

static void assert_state_has(struct fx *f, const char *key, const char *needle)
{
	char *s = state_json(f, key);
	if (!s)
		fail_msg("no state at %s", key);
	if (!strstr(s, needle))
		fail_msg("%s = %s lacks %s", key, s, needle);
	free(s);
}

static char *ret_json(struct fx *f)
{
	json_t *j;
	assert_int_equal(ds_cli_value_to_json(&j, f->r.ret.data, f->r.ret.len), 0);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	return s;
}

static void assert_ret_has(struct fx *f, const char *needle)
{
	char *s = ret_json(f);
	if (!strstr(s, needle))
		fail_msg("return %s lacks %s", s, needle);
	free(s);
}

static bool has_event(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->r.nevents; i++)
		if (strcmp(f->r.events[i].name, name) == 0)
			return true;
	return false;
}

static void test_genesis_records(void **state)
{
	struct fx *f = *state;
	char key[128], hex[2 * DS_PK_LEN + 1];
	assert_state_has(f, "sys/orgs", "[\"a\",\"b\",\"c\"]");
	assert_state_has(f, "sys/org/a", "\"roles\":[\"issuer:loans\",\"writer\"]");
	hexpk(hex, f->admin[1]);
	snprintf(key, sizeof(key), "sys/account/%s", hex);
	assert_state_has(f, key, "{\"height\":0,\"org\":\"b\",\"roles\":[\"admin\"]}");
	assert_state_has(f, "sys/params", "\"gov.threshold_num\":2");
	assert_state_has(f, "sys/valset", "\"epoch\":0");
}

static void test_genesis_refuses_bad_input(void **state)
{
	(void)state;
	uint8_t pk[1][DS_PK_LEN];
	memset(pk[0], 9, DS_PK_LEN);
	struct ds_exec_sys_org orgs[2] = {{"a", "A", (const uint8_t(*)[DS_PK_LEN])pk, 1, NULL, 0},
					  {"a", "A2", (const uint8_t(*)[DS_PK_LEN])pk, 1, NULL, 0}};
	struct ds_exec_sys_genesis g = {orgs, 2, NULL, 0, NULL, 0, NULL, 0, NULL, 0};
	struct ds_exec_sys_genesis_state gs;
	char err[256];
	/* the same admin key twice is refused first; the same id, too */
	assert_int_not_equal(ds_exec_sys_genesis_state(&gs, &g, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(gs.n, 0);
	static const char *const r[] = {"writer"};
	struct ds_exec_sys_account a = {{0}, "a", r, 1};
	g.norgs = 1;
	g.accounts = &a;
	g.naccounts = 1;
	assert_int_equal(ds_exec_sys_genesis_state(&gs, &g, err, sizeof(err)), DS_EDENIED);
	assert_non_null(strstr(err, "does not hold role writer"));
	struct ds_exec_sys_param_set p = {"gov.threshold_num", 1};
	g.naccounts = 0;
	g.params = &p;
	g.nparams = 1;
	assert_int_equal(ds_exec_sys_genesis_state(&gs, &g, err, sizeof(err)), DS_ERANGE);
	p.name = "no.such";
	assert_int_equal(ds_exec_sys_genesis_state(&gs, &g, err, sizeof(err)), DS_ENOTFOUND);
}

static void test_permissions(void **state)
{
	struct fx *f = *state;
	char json[512], hex[2 * DS_PK_LEN + 1];
	hexpk(hex, f->nobody);
	/* kv needs writer: an account without it, and a stranger. */
	expect_denied(f, f->reader, "kv", "put", "{\"key\":\"k\",\"value\":1}", "writer");
	expect_denied(f, f->nobody, "kv", "put", "{\"key\":\"k\",\"value\":1}", "writer");
	assert_true(run(f, f->writer, "kv", "put", "{\"key\":\"k\",\"value\":1}"));
	/* admin-only actions */
	snprintf(json, sizeof(json), "{\"pk\":\"%s\",\"roles\":[]}", hex);
	expect_denied(f, f->writer, "account", "add", json, "admin");
	expect_denied(f, f->writer, "account", "remove", json, "admin");
	expect_denied(f, f->writer, "account", "set_roles", json, "admin");
	expect_denied(f, f->nobody, "gov", "propose",
		      "{\"kind\":\"set_param\",\"payload\":{\"name\":\"kv.open\",\"value\":1}}", "admin");
	expect_denied(f, f->writer, "gov", "propose",
		      "{\"kind\":\"set_param\",\"payload\":{\"name\":\"kv.open\",\"value\":1}}", "admin");
	expect_denied(f, f->reader, "gov", "vote", "{\"id\":1,\"approve\":true}", "admin");
	expect_denied(f, f->reader, "gov", "expire", "{\"id\":1}", "admin");
	/* reads need membership only */
	assert_false(run(f, f->nobody, "params", "get", "null"));
	assert_int_equal(f->r.rc, DS_EDENIED);
	assert_non_null(strstr(f->r.error, "not a member of any organisation"));
	assert_true(run(f, f->reader, "params", "get", "null"));
	assert_ret_has(f, "\"kv.open\":0");
	/* kv.open lets any member write, still not strangers */
	assert_true(run(f, f->admin[0], "gov", "propose",
			"{\"kind\":\"set_param\",\"payload\":{\"name\":\"kv.open\",\"value\":1}}"));
	for (int i = 0; i < ORGS; i++)
		assert_true(run(f, f->admin[i], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_true(run(f, f->reader, "kv", "put", "{\"key\":\"k\",\"value\":2}"));
	assert_false(run(f, f->nobody, "kv", "put", "{\"key\":\"k\",\"value\":2}"));
	assert_int_equal(f->r.rc, DS_EDENIED);
}

static void test_accounts(void **state)
{
	struct fx *f = *state;
	char json[512], hex[2 * DS_PK_LEN + 1], key[128];
	hexpk(hex, f->nobody);
	snprintf(key, sizeof(key), "sys/account/%s", hex);
	/* a role the org does not hold */
	snprintf(json, sizeof(json), "{\"pk\":\"%s\",\"roles\":[\"auditor\"]}", hex);
	assert_false(run(f, f->admin[0], "account", "add", json));
	assert_string_equal(f->r.error, "organisation a does not hold role auditor");
	snprintf(json, sizeof(json), "{\"pk\":\"%s\",\"roles\":[\"writer\",\"issuer:loans\"]}", hex);
	assert_true(run(f, f->admin[0], "account", "add", json));
	assert_true(has_event(f, "account.added"));
	assert_state_has(f, key, "\"org\":\"a\",\"roles\":[\"issuer:loans\",\"writer\"]");
	assert_true(run(f, f->nobody, "kv", "put", "{\"key\":\"x\",\"value\":1}"));
	/* twice: refused */
	assert_false(run(f, f->admin[0], "account", "add", json));
	assert_int_equal(f->r.rc, DS_EEXIST);
	/* another org's admin cannot touch it */
	snprintf(json, sizeof(json), "{\"pk\":\"%s\"}", hex);
	assert_false(run(f, f->admin[1], "account", "remove", json));
	assert_string_equal(f->r.error, "account " /* hex */ "020202020202020202020202020202020202020202020202020202020202020"
				     "2 is not in organisation b");
	snprintf(json, sizeof(json), "{\"pk\":\"%s\",\"roles\":[]}", hex);
	assert_true(run(f, f->admin[0], "account", "set_roles", json));
	assert_false(run(f, f->nobody, "kv", "put", "{\"key\":\"x\",\"value\":1}"));
	snprintf(json, sizeof(json), "{\"pk\":\"%s\"}", hex);
	assert_true(run(f, f->admin[0], "account", "remove", json));
	assert_null(state_json(f, key));
	/* an admin cannot remove itself */
	hexpk(hex, f->admin[0]);
	snprintf(json, sizeof(json), "{\"pk\":\"%s\"}", hex);
	assert_false(run(f, f->admin[0], "account", "remove", json));
	assert_int_equal(f->r.rc, DS_EPERM);
	/* bad arguments are clear errors */
	assert_false(run(f, f->admin[0], "account", "add", "{\"pk\":\"zz\"}"));
	assert_non_null(strstr(f->r.error, "bad argument pk"));
	assert_false(run(f, f->admin[0], "account", "add", "[1]"));
	assert_non_null(strstr(f->r.error, "arguments must be a map"));
}

static void test_threshold_and_history(void **state)
{
	struct fx *f = *state;
	char json[1024], hex[2 * DS_PK_LEN + 1];
	hexpk(hex, f->admin[3]);
	snprintf(json, sizeof(json),
		 "{\"kind\":\"add_org\",\"payload\":{\"id\":\"d\",\"name\":\"Dept D\","
		 "\"admins\":[{\"$bytes\":\"%s\"}],\"roles\":[\"auditor\"]}}",
		 hex);
	assert_true(run(f, f->admin[0], "gov", "propose", json));
	assert_ret_has(f, "{\"id\":1,\"status\":\"open\"}");
	assert_true(has_event(f, "gov.proposed"));
	assert_true(run(f, f->admin[0], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"open\"");
	/* one vote per organisation, whoever in it votes */
	assert_false(run(f, f->admin[0], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_string_equal(f->r.error, "organisation a already voted on proposal 1");
	/* 2 of 3: 2*3 > 3*2 is false, still open */
	assert_true(run(f, f->admin[1], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"open\"");
	assert_null(state_json(f, "sys/org/d"));
	/* 3 of 3 passes and executes in the same transaction */
	assert_true(run(f, f->admin[2], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"executed\"");
	assert_true(has_event(f, "gov.voted"));
	assert_true(has_event(f, "gov.executed"));
	assert_state_has(f, "sys/orgs", "[\"a\",\"b\",\"c\",\"d\"]");
	assert_state_has(f, "sys/org/d", "\"name\":\"Dept D\"");
	assert_state_has(f, "sys/gov/p/00000000000000000001",
			 "\"history\":[{\"height\":1,\"status\":\"open\"},{\"height\":5,\"status\":\"passed\"},"
			 "{\"height\":5,\"status\":\"executed\"}]");
	assert_state_has(f, "sys/gov/p/00000000000000000001", "\"approve\":true,\"height\":4,\"org\":\"b\"}");
	assert_false(run(f, f->admin[1], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_string_equal(f->r.error, "proposal 1 is executed");
	/* the new org's admin can now propose; 4 orgs: 3 approvals pass (9 > 8) */
	assert_true(run(f, f->admin[3], "gov", "propose",
			"{\"kind\":\"set_param\",\"payload\":{\"name\":\"vm.instructions_max\",\"value\":5000}}"));
	assert_true(run(f, f->admin[3], "gov", "vote", "{\"id\":2,\"approve\":true}"));
	assert_true(run(f, f->admin[0], "gov", "vote", "{\"id\":2,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"open\"");
	assert_true(run(f, f->admin[1], "gov", "vote", "{\"id\":2,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"executed\"");
	assert_state_has(f, "sys/params", "\"vm.instructions_max\":5000");
	assert_true(run(f, f->reader, "gov", "get", "{\"id\":2}"));
	assert_ret_has(f, "\"kind\":\"set_param\"");
}

static void test_rejection(void **state)
{
	struct fx *f = *state;
	assert_true(run(f, f->admin[0], "gov", "propose",
			"{\"kind\":\"remove_org\",\"payload\":{\"id\":\"c\"}}"));
	assert_true(run(f, f->admin[2], "gov", "vote", "{\"id\":1,\"approve\":false}"));
	/* one against of three: 2 approvals at most, 6 > 6 fails: rejected */
	assert_ret_has(f, "\"status\":\"rejected\"");
	assert_true(has_event(f, "gov.rejected"));
	assert_state_has(f, "sys/orgs", "[\"a\",\"b\",\"c\"]");
	assert_false(run(f, f->admin[1], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_int_equal(f->r.rc, DS_ESTATE);
	/* proposals are checked when made */
	assert_false(run(f, f->admin[0], "gov", "propose", "{\"kind\":\"remove_org\",\"payload\":{\"id\":\"zz\"}}"));
	assert_string_equal(f->r.error, "gov.propose remove_org: no organisation zz");
	assert_false(run(f, f->admin[0], "gov", "propose", "{\"kind\":\"make_coffee\",\"payload\":{}}"));
	assert_string_equal(f->r.error, "gov.propose: unknown kind make_coffee");
	assert_false(run(f, f->admin[0], "gov", "propose",
			 "{\"kind\":\"set_param\",\"payload\":{\"name\":\"gov.threshold_num\",\"value\":1}}"));
	assert_non_null(strstr(f->r.error, "at least a majority"));
	/* epoch.blocks was removed: validator changes wait for consensus' epoch end */
	assert_false(run(f, f->admin[0], "gov", "propose",
			 "{\"kind\":\"set_param\",\"payload\":{\"name\":\"epoch.blocks\",\"value\":10}}"));
	assert_string_equal(f->r.error, "gov.propose set_param: unknown parameter epoch.blocks");
	/* a failed tx wrote nothing: next id is still 2 */
	assert_state_has(f, "sys/gov/next", "2");
}

static void test_remove_org_and_validators(void **state)
{
	struct fx *f = *state;
	uint8_t vpk[DS_PK_LEN];
	char json[512], hex[2 * DS_PK_LEN + 1];
	pk_fill(vpk, 0x75);
	hexpk(hex, vpk);
	snprintf(json, sizeof(json),
		 "{\"kind\":\"add_validator\",\"payload\":{\"pk\":{\"$bytes\":\"%s\"},\"addr\":\"10.0.0.5:7000\","
		 "\"org\":\"b\"}}",
		 hex);
	assert_true(run(f, f->admin[1], "gov", "propose", json));
	for (int i = 0; i < ORGS; i++)
		assert_true(run(f, f->admin[i], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	/* executed at height 4: the pending record says since when, not until when */
	assert_state_has(f, "sys/valset/next", "{\"epoch\":1,\"height\":4,\"validators\":[");
	assert_state_has(f, "sys/valset/next", "\"addr\":\"10.0.0.5:7000\",\"org\":\"b\"");
	assert_state_has(f, "sys/valset", "\"epoch\":0");
	/* any change while one is pending is refused at proposal time */
	assert_false(run(f, f->admin[1], "gov", "propose", json));
	assert_int_equal(f->r.rc, DS_ESTATE);
	/* remove org c: a 3/3 vote; afterwards c's admin has no standing */
	assert_true(run(f, f->admin[0], "gov", "propose", "{\"kind\":\"remove_org\",\"payload\":{\"id\":\"c\"}}"));
	for (int i = 0; i < ORGS; i++)
		assert_true(run(f, f->admin[i], "gov", "vote", "{\"id\":2,\"approve\":true}"));
	assert_state_has(f, "sys/orgs", "[\"a\",\"b\"]");
	assert_false(run(f, f->admin[2], "gov", "propose", "{\"kind\":\"remove_org\",\"payload\":{\"id\":\"b\"}}"));
	assert_int_equal(f->r.rc, DS_EDENIED);
}

static void test_expiry(void **state)
{
	struct fx *f = *state; /* gov.lifetime = 5 */
	assert_true(run(f, f->admin[0], "gov", "propose",
			"{\"kind\":\"set_param\",\"payload\":{\"name\":\"kv.open\",\"value\":1}}"));
	assert_false(run(f, f->admin[0], "gov", "expire", "{\"id\":1}"));
	assert_string_equal(f->r.error, "proposal 1 expires at height 6");
	f->height = 6;
	assert_true(run(f, f->admin[1], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"expired\"");
	assert_true(has_event(f, "gov.expired"));
	assert_state_has(f, "sys/gov/p/00000000000000000001", "\"status\":\"expired\"");
	assert_state_has(f, "sys/gov/p/00000000000000000001", "\"votes\":[]");
	assert_false(run(f, f->admin[1], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_string_equal(f->r.error, "proposal 1 is expired");
}

/* ---- validator-set epochs ------------------------------------------------ */
static void validator_json(char *json, size_t cap, const char *kind, uint8_t pk_byte, const char *org)
{
	uint8_t pk[DS_PK_LEN];
	char hex[2 * DS_PK_LEN + 1];
	pk_fill(pk, pk_byte);
	hexpk(hex, pk);
	if (org)
		snprintf(json, cap,
			 "{\"kind\":\"%s\",\"payload\":{\"pk\":{\"$bytes\":\"%s\"},\"addr\":\"10.0.0.%u:7000\","
			 "\"org\":\"%s\"}}",
			 kind, hex, pk_byte, org);
	else
		snprintf(json, cap, "{\"kind\":\"%s\",\"payload\":{\"pk\":{\"$bytes\":\"%s\"}}}", kind, hex);
}

/* A copy of a committed value (NULL, 0 when absent). */
static uint8_t *state_copy(struct fx *f, const char *key, size_t *len)
{
	const uint8_t *v;
	*len = 0;
	if (ds_exec_sys_mem_get(f->m, (const uint8_t *)key, strlen(key), &v, len) != 0)
		return NULL;
	uint8_t *c = malloc(*len);
	assert_non_null(c);
	memcpy(c, v, *len);
	return c;
}

/* Passes an add of validator 0x75 (org b) at height 4: proposal 1. */
static void pass_add_75(struct fx *f)
{
	char json[512];
	validator_json(json, sizeof(json), "add_validator", 0x75, "b");
	assert_int_equal(f->height, 1);
	assert_true(run(f, f->admin[1], "gov", "propose", json));
	for (int i = 0; i < ORGS; i++)
		assert_true(run(f, f->admin[i], "gov", "vote", "{\"id\":1,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"executed\"");
	assert_int_equal(f->height, 5);
}

static void test_valset_pending_refuses_changes(void **state)
{
	struct fx *f = *state;
	char json[512];
	/* two more changes proposed while nothing is pending: they pass the dry run */
	validator_json(json, sizeof(json), "add_validator", 0x76, "c");
	assert_true(run(f, f->admin[2], "gov", "propose", json)); /* id 1, height 1 */
	validator_json(json, sizeof(json), "remove_validator", 0x70, NULL);
	assert_true(run(f, f->admin[0], "gov", "propose", json)); /* id 2, height 2 */
	validator_json(json, sizeof(json), "add_validator", 0x75, "b");
	assert_true(run(f, f->admin[1], "gov", "propose", json)); /* id 3, height 3 */
	for (int i = 0; i < ORGS; i++)
		assert_true(run(f, f->admin[i], "gov", "vote", "{\"id\":3,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"executed\"");
	assert_int_equal(f->height, 7);
	/* created by the block at height 6, from the epoch-0 set, with epoch 1 */
	char *s = state_json(f, "sys/valset/next");
	assert_non_null(s);
	char want[1024];
	snprintf(want, sizeof(want),
		 "{\"epoch\":1,\"height\":6,\"validators\":[{\"addr\":\"127.0.0.1:7000\",\"org\":\"a\",\"pk\":{\"$bytes\":\"%s\"}},",
		 "7070707070707070707070707070707070707070707070707070707070707070");
	if (strncmp(s, want, strlen(want)) != 0)
		fail_msg("sys/valset/next = %s, want prefix %s", s, want);
	assert_non_null(strstr(s, "{\"addr\":\"10.0.0.117:7000\",\"org\":\"b\",\"pk\":{\"$bytes\":\"7575"));
	free(s);
	assert_state_has(f, "sys/valset", "{\"epoch\":0,\"validators\":[");
	size_t next_len, cur_len;
	uint8_t *next0 = state_copy(f, "sys/valset/next", &next_len);
	uint8_t *cur0 = state_copy(f, "sys/valset", &cur_len);
	/* a new proposal is refused at once, with the reason */
	validator_json(json, sizeof(json), "remove_validator", 0x71, NULL);
	assert_false(run(f, f->admin[0], "gov", "propose", json));
	assert_int_equal(f->r.rc, DS_ESTATE);
	assert_string_equal(f->r.error, "gov.propose remove_validator: a validator change for epoch 1 is "
					"pending since height 6; it takes effect when that epoch starts; "
					"propose again after");
	/* the earlier proposals pass but fail to execute, and change nothing */
	for (int id = 1; id <= 2; id++) {
		char vote[64];
		snprintf(vote, sizeof(vote), "{\"id\":%d,\"approve\":true}", id);
		for (int i = 0; i < ORGS; i++)
			assert_true(run(f, f->admin[i], "gov", "vote", vote));
		assert_ret_has(f, "\"status\":\"failed\"");
		char key[64];
		snprintf(key, sizeof(key), "sys/gov/p/%020d", id);
		assert_state_has(f, key, "\"error\":\"a validator change for epoch 1 is pending since height 6;");
	}
	size_t l1, l2;
	uint8_t *next1 = state_copy(f, "sys/valset/next", &l1), *cur1 = state_copy(f, "sys/valset", &l2);
	assert_int_equal(l1, next_len);
	assert_memory_equal(next1, next0, next_len);
	assert_int_equal(l2, cur_len);
	assert_memory_equal(cur1, cur0, cur_len);
	free(next0);
	free(cur0);
	free(next1);
	free(cur1);
}

/* The mem state as an executor host (no tx was committed before). */
static int mem_get(void *ctx, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl)
{
	return ds_exec_sys_mem_get(ctx, k, kl, v, vl);
}

static int mem_seen(void *ctx, const uint8_t id[DS_HASH_LEN])
{
	(void)ctx;
	(void)id;
	return 0;
}

/* Executes one block at f->height with header epoch `epoch` through the
 * real executor: one tx, validators.get of the current set by the writer
 * (signature marked preverified). Returns ds_exec_block's code; on 0 the
 * writes are committed to the mem state and *ret holds the tx's return
 * value as JSON (caller frees). */
static int exec_block(struct fx *f, uint64_t epoch, struct ds_exec_result *res, char **ret)
{
	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	strcpy(tx.chain_id, "test");
	memcpy(tx.sender, f->writer, DS_PK_LEN);
	tx.expiry_height = f->height + 10;
	snprintf(tx.target, sizeof(tx.target), "validators");
	snprintf(tx.method, sizeof(tx.method), "get");
	static const uint8_t null_arg = DS_VALUE_NULL;
	tx.args = &null_arg;
	tx.args_len = 1;
	uint8_t txb[1024], blk[2048], id[DS_HASH_LEN];
	size_t txl, bl;
	assert_int_equal(ds_tx_encode(txb, sizeof(txb), &txl, &tx), 0);
	struct ds_header h;
	memset(&h, 0, sizeof(h));
	h.version = 1;
	strcpy(h.chain_id, "test");
	h.height = f->height;
	h.epoch = epoch;
	h.time_ms = 1700000000000ull;
	h.tx_count = 1;
	ds_tx_id_body(id, txb, txl - DS_SIG_LEN);
	ds_ledger_merkle_root(h.tx_root, (const uint8_t(*)[DS_HASH_LEN])id, 1);
	struct ds_iov iov = {txb, txl};
	assert_int_equal(ds_block_encode(blk, sizeof(blk), &bl, &h, &iov, 1), 0);
	struct ds_block b;
	assert_int_equal(ds_block_decode(&b, blk, bl), 0);
	struct ds_exec *e;
	assert_int_equal(ds_exec_new(&e, f->mods, DS_EXEC_SYS_NMODULES + 1), 0);
	ds_exec_set_authorizer(e, ds_exec_sys_authorize);
	struct ds_exec_host host = {f->m, mem_get, mem_seen};
	struct ds_exec_block_info info = {"test", f->height++, h.time_ms, 100, epoch};
	static const bool pre[1] = {true};
	int rc = ds_exec_block(e, res, &host, &info, &b, pre);
	ds_exec_free(e);
	if (rc)
		return rc;
	struct ds_receipt r;
	assert_int_equal(ds_receipt_decode(&r, res->receipts[0].data, res->receipts[0].len), 0);
	if (r.status != DS_TX_OK)
		fail_msg("validators.get failed: %s", r.error);
	json_t *j;
	assert_int_equal(ds_cli_value_to_json(&j, r.ret, r.ret_len), 0);
	*ret = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	for (size_t i = 0; i < res->nwrites; i++)
		assert_int_equal(ds_exec_sys_mem_put(f->m, res->writes[i].key, res->writes[i].key_len,
						     res->writes[i].val, res->writes[i].val_len), 0);
	return 0;
}

static bool writes_key(const struct ds_exec_result *r, const char *key, bool deleted)
{
	for (size_t i = 0; i < r->nwrites; i++)
		if (r->writes[i].key_len == strlen(key) && memcmp(r->writes[i].key, key, strlen(key)) == 0)
			return deleted == (r->writes[i].val == NULL);
	return false;
}

static void test_valset_promotion(void **state)
{
	struct fx *f = *state;
	struct ds_exec_result res;
	char *ret, json[512];
	pass_add_75(f);
	/* still in epoch 0: no promotion, no block-level writes */
	assert_int_equal(exec_block(f, 0, &res, &ret), 0);
	assert_int_equal(res.nwrites, 0);
	assert_non_null(strstr(ret, "{\"epoch\":0,"));
	free(ret);
	ds_exec_result_free(&res);
	assert_state_has(f, "sys/valset/next", "{\"epoch\":1,\"height\":4,");
	/* the first block of epoch 1 promotes before its transactions */
	uint64_t at = f->height;
	assert_int_equal(exec_block(f, 1, &res, &ret), 0);
	assert_non_null(strstr(ret, "{\"epoch\":1,\"validators\":["));
	assert_non_null(strstr(ret, "\"addr\":\"10.0.0.117:7000\",\"org\":\"b\""));
	free(ret);
	assert_int_equal(res.nwrites, 2);
	assert_true(writes_key(&res, "sys/valset", false));
	assert_true(writes_key(&res, "sys/valset/next", true));
	ds_exec_result_free(&res);
	assert_null(state_json(f, "sys/valset/next"));
	char *s = state_json(f, "sys/valset");
	assert_non_null(s);
	static const char want[] = "{\"epoch\":1,\"validators\":[";
	if (strncmp(s, want, strlen(want)) != 0)
		fail_msg("sys/valset = %s, want prefix %s", s, want);
	assert_null(strstr(s, "height"));
	assert_non_null(strstr(s, "{\"addr\":\"10.0.0.117:7000\",\"org\":\"b\",\"pk\":{\"$bytes\":\"7575"));
	free(s);
	/* the next block of epoch 1 writes nothing more */
	assert_int_equal(exec_block(f, 1, &res, &ret), 0);
	assert_int_equal(res.nwrites, 0);
	free(ret);
	ds_exec_result_free(&res);
	/* changes are possible again: the next one is for epoch 2 */
	f->height = at + 10;
	validator_json(json, sizeof(json), "remove_validator", 0x70, NULL);
	assert_true(run(f, f->admin[0], "gov", "propose", json));
	for (int i = 0; i < ORGS; i++)
		assert_true(run(f, f->admin[i], "gov", "vote", "{\"id\":2,\"approve\":true}"));
	assert_ret_has(f, "\"status\":\"executed\"");
	snprintf(json, sizeof(json), "{\"epoch\":2,\"height\":%llu,\"validators\":[{\"addr\":\"127.0.0.1:7000\",\"org\":\"b\"",
		 (unsigned long long)(f->height - 1));
	assert_state_has(f, "sys/valset/next", json);
	/* a block whose epoch is not the pending one's promotes nothing */
	assert_int_equal(exec_block(f, 3, &res, &ret), 0);
	assert_int_equal(res.nwrites, 0);
	free(ret);
	ds_exec_result_free(&res);
}

static void test_valset_promotion_refuses_corrupt(void **state)
{
	struct fx *f = *state;
	struct ds_exec_result res;
	char *ret = NULL;
	pass_add_75(f);
	size_t len;
	uint8_t *next = state_copy(f, "sys/valset/next", &len);
	assert_non_null(next);
	/* a pending epoch that does not follow sys/valset's (0): corrupt */
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, next, len);
	/* map tag, count 3, key "epoch" (uvar 5, 5 bytes), int tag, zigzag(1) = 2 */
	assert_int_equal(bad[8], DS_VALUE_INT);
	assert_int_equal(bad[9], 2);
	bad[9] = 4; /* epoch 2 */
	assert_int_equal(ds_exec_sys_mem_put(f->m, (const uint8_t *)"sys/valset/next", 15, bad, len), 0);
	assert_int_equal(exec_block(f, 2, &res, &ret), DS_ECORRUPT);
	/* and a block of epoch 1 leaves it alone */
	assert_int_equal(exec_block(f, 1, &res, &ret), 0);
	assert_int_equal(res.nwrites, 0);
	free(ret);
	ds_exec_result_free(&res);
	/* not a validator-set record at all */
	assert_int_equal(ds_exec_sys_mem_put(f->m, (const uint8_t *)"sys/valset/next", 15,
					     (const uint8_t *)"\x03\x02", 2),
			 0);
	assert_int_equal(exec_block(f, 1, &res, &ret), DS_ECORRUPT);
	free(bad);
	free(next);
}

/* A hand-built sys/valset/next value; each flag breaks one thing. */
struct rec_opts {
	uint32_t n;
	size_t pk_len;
	bool epoch_str, no_height, extra, dup, item_extra;
	int64_t epoch, height;
};

static size_t enc_rec(uint8_t *buf, size_t cap, const struct rec_opts *o)
{
	struct ds_enc e;
	size_t len;
	uint8_t pk[DS_PK_LEN + 1];
	ds_enc_init(&e, buf, cap);
	ds_value_enc_map(&e, 3 - o->no_height + o->extra);
	ds_value_enc_key(&e, "epoch", 5);
	if (o->epoch_str)
		ds_value_enc_str(&e, "1", 1);
	else
		ds_value_enc_int(&e, o->epoch);
	if (!o->no_height) {
		ds_value_enc_key(&e, "height", 6);
		ds_value_enc_int(&e, o->height);
	}
	ds_value_enc_key(&e, "validators", 10);
	ds_value_enc_array(&e, o->n);
	for (uint32_t i = 0; i < o->n; i++) {
		memset(pk, (int)(o->dup && i ? 1 : i + 1), sizeof(pk));
		pk[0] = (uint8_t)(o->dup ? 0 : i >> 8);
		ds_value_enc_map(&e, 3 + o->item_extra);
		ds_value_enc_key(&e, "addr", 4);
		ds_value_enc_str(&e, "h:1", 3);
		ds_value_enc_key(&e, "org", 3);
		ds_value_enc_str(&e, "a", 1);
		ds_value_enc_key(&e, "pk", 2);
		ds_value_enc_bytes(&e, pk, o->pk_len);
		if (o->item_extra) {
			ds_value_enc_key(&e, "power", 5);
			ds_value_enc_int(&e, 1);
		}
	}
	if (o->extra) {
		ds_value_enc_key(&e, "x", 1);
		ds_value_enc_null(&e);
	}
	assert_int_equal(ds_enc_finish(&e, &len), 0);
	return len;
}

static void test_valset_next_parser(void **state)
{
	struct fx *f = *state;
	struct ds_valset *vs = malloc(sizeof(*vs));
	uint64_t since;
	size_t len;
	assert_non_null(vs);
	pass_add_75(f);
	/* the real record */
	uint8_t *rec = state_copy(f, DS_EXEC_SYS_VALSET_NEXT_KEY, &len);
	assert_non_null(rec);
	assert_int_equal(ds_exec_sys_valset_next(rec, len, vs, &since), 0);
	assert_int_equal(vs->epoch, 1);
	assert_int_equal(since, 4);
	assert_int_equal(vs->n, 4);
	static const uint8_t order[4] = {0x70, 0x71, 0x72, 0x75};
	for (uint32_t i = 0; i < vs->n; i++) {
		uint8_t pk[DS_PK_LEN];
		pk_fill(pk, order[i]);
		assert_memory_equal(vs->v[i].pk, pk, DS_PK_LEN);
		assert_int_equal(vs->v[i].power, 1);
	}
	/* trailing bytes, truncation, not a value */
	uint8_t *longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, rec, len);
	longer[len] = 0;
	assert_int_equal(ds_exec_sys_valset_next(longer, len + 1, vs, &since), DS_ECORRUPT);
	assert_int_equal(vs->n, 0);
	assert_int_equal(ds_exec_sys_valset_next(rec, len - 1, vs, &since), DS_ECORRUPT);
	assert_int_equal(ds_exec_sys_valset_next((const uint8_t *)"\x03\x02", 2, vs, &since), DS_ECORRUPT);
	free(longer);
	free(rec);
	/* hand-built records: the good one parses, each defect is refused */
	size_t cap = 64u << 10;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	const struct rec_opts good = {.n = 3, .pk_len = DS_PK_LEN, .epoch = 7, .height = 9};
	len = enc_rec(buf, cap, &good);
	assert_int_equal(ds_exec_sys_valset_next(buf, len, vs, &since), 0);
	assert_int_equal(vs->epoch, 7);
	assert_int_equal(since, 9);
	assert_int_equal(vs->n, 3);
	assert_int_equal(vs->v[2].pk[5], 3);
	struct rec_opts max = good;
	max.n = DS_VALIDATORS_MAX;
	len = enc_rec(buf, cap, &max);
	assert_int_equal(ds_exec_sys_valset_next(buf, len, vs, &since), 0);
	assert_int_equal(vs->n, DS_VALIDATORS_MAX);
	struct rec_opts bad[11];
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++)
		bad[i] = good;
	bad[0].n = DS_VALIDATORS_MAX + 1; /* too many validators */
	bad[1].n = 0;                     /* none */
	bad[2].pk_len = DS_PK_LEN - 1;    /* bad key length */
	bad[3].pk_len = DS_PK_LEN + 1;
	bad[4].epoch_str = true; /* wrong type */
	bad[5].no_height = true; /* missing field */
	bad[6].extra = true;     /* unknown field */
	bad[7].dup = true;       /* a key listed twice */
	bad[8].epoch = 0;        /* a pending epoch follows epoch >= 0 */
	bad[9].height = -1;
	bad[10].item_extra = true;
	for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
		len = enc_rec(buf, cap, &bad[i]);
		int rc = ds_exec_sys_valset_next(buf, len, vs, &since);
		if (rc != DS_ECORRUPT)
			fail_msg("bad record %zu: rc %d, want DS_ECORRUPT", i, rc);
		assert_int_equal(vs->n, 0);
		assert_int_equal(since, 0);
	}
	free(buf);
	free(vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_genesis_records, fx_setup, fx_teardown),
		cmocka_unit_test(test_genesis_refuses_bad_input),
		cmocka_unit_test_setup_teardown(test_permissions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_accounts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_threshold_and_history, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rejection, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_org_and_validators, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_expiry, fx_setup_short, fx_teardown),
		cmocka_unit_test_setup_teardown(test_valset_pending_refuses_changes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_valset_promotion, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_valset_promotion_refuses_corrupt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_valset_next_parser, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("gov", tests, NULL, NULL);
}
