/* Contract runner: deploy through governance, call, per-method roles,
 * rollback of a failing call, upgrade switching the active version, and the
 * contract test harness on tests/contracts/. In-memory executor. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli_json.h"
#include "exec/exec_sys.h"

struct fx {
	struct ds_exec_sys_mem *m;
	struct ds_exec_module mods[DS_EXEC_SYS_NMODULES];
	struct ds_exec_sys_mem_receipt r;
	uint64_t height;
	uint8_t admin[1][DS_PK_LEN];
	uint8_t caller[DS_PK_LEN], issuer[DS_PK_LEN], plain[DS_PK_LEN], nobody[DS_PK_LEN];
	struct ds_buf args;
	int64_t next_prop;
};

static const char counter_v1[] =
	"local M = {}\n"
	"function M.add(a)\n"
	"  local n = (state.get('n') or 0) + a.by\n"
	"  state.put('n', n)\n"
	"  emit('added', {n = n, by = caller.account})\n"
	"  return n\n"
	"end\n"
	"function M.get() return state.get('n') or 0 end\n"
	"function M.bad() state.put('n', 999); emit('never', 1); error('refused', 0) end\n"
	"function M.whoami() return {org = caller.org, roles = caller.roles, h = block.height} end\n"
	"return M\n";

static const char counter_v2[] =
	"local M = {}\n"
	"function M.get() return (state.get('n') or 0) * 10 end\n"
	"return M\n";

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	memset(f->admin[0], 0xA0, DS_PK_LEN);
	memset(f->caller, 0x01, DS_PK_LEN);
	memset(f->issuer, 0x02, DS_PK_LEN);
	memset(f->plain, 0x03, DS_PK_LEN);
	memset(f->nobody, 0x04, DS_PK_LEN);
	static const char *const org_roles[] = {"contract.call", "issuer:x"};
	static const char *const call_only[] = {"contract.call"};
	struct ds_exec_sys_org org = {"a", "A", (const uint8_t(*)[DS_PK_LEN])f->admin, 1, org_roles, 2};
	struct ds_exec_sys_account accts[3] = {{{0}, "a", call_only, 1}, {{0}, "a", org_roles, 2}, {{0}, "a", NULL, 0}};
	memcpy(accts[0].pk, f->caller, DS_PK_LEN);
	memcpy(accts[1].pk, f->issuer, DS_PK_LEN);
	memcpy(accts[2].pk, f->plain, DS_PK_LEN);
	struct ds_exec_sys_validator val = {{0}, "127.0.0.1:7000", "a"};
	memset(val.pk, 0x70, DS_PK_LEN);
	struct ds_exec_sys_genesis g = {&org, 1, accts, 3, &val, 1, NULL, 0, NULL, 0};
	struct ds_exec_sys_genesis_state gs;
	char err[256];
	int rc = ds_exec_sys_genesis_state(&gs, &g, err, sizeof(err));
	if (rc)
		print_error("genesis: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(ds_exec_sys_mem_new(&f->m), 0);
	assert_int_equal(ds_exec_sys_mem_load(f->m, &gs), 0);
	ds_exec_sys_genesis_free(&gs);
	ds_exec_sys_modules(f->mods);
	f->height = 1;
	f->next_prop = 1;
	ds_buf_init(&f->args);
	*state = f;
	return 0;
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

/* Runs one tx with args j (a JSON value; stolen). */
static bool run_j(struct fx *f, const uint8_t *sender, const char *target, const char *method, json_t *j)
{
	char err[128];
	assert_non_null(j);
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
	assert_int_equal(ds_exec_sys_mem_run(f->m, &f->r, f->mods, DS_EXEC_SYS_NMODULES,
					     ds_exec_sys_authorize, &blk, &tx), 0);
	return f->r.ok;
}

static bool run(struct fx *f, const uint8_t *sender, const char *target, const char *method, const char *json)
{
	return run_j(f, sender, target, method, json_loads(json, JSON_DECODE_ANY, NULL));
}

static int64_t ret_int(struct fx *f)
{
	struct ds_value v;
	assert_int_equal(ds_value_parse(&v, f->r.ret.data, f->r.ret.len), 0);
	assert_int_equal(v.kind, DS_VALUE_INT);
	return v.i;
}

/* Proposes (kind, payload) and votes it through (one org). */
static void govern(struct fx *f, const char *kind, json_t *payload, const char *want_status)
{
	char vote[64];
	if (!run_j(f, f->admin[0], "gov", "propose", json_pack("{s:s, s:o}", "kind", kind, "payload", payload)))
		fail_msg("propose %s: %s", kind, f->r.error);
	snprintf(vote, sizeof(vote), "{\"id\":%lld,\"approve\":true}", (long long)f->next_prop++);
	assert_true(run(f, f->admin[0], "gov", "vote", vote));
	json_t *j;
	assert_int_equal(ds_cli_value_to_json(&j, f->r.ret.data, f->r.ret.len), 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), want_status);
	json_decref(j);
}

static void deploy(struct fx *f, const char *name, const char *src, int version, json_t *roles,
		   bool upgrade)
{
	json_t *p = json_pack("{s:s, s:I, s:s}", "name", name, "version", (json_int_t)version, "source", src);
	if (roles)
		json_object_set_new(p, "roles", roles);
	govern(f, upgrade ? "upgrade_contract" : "deploy_contract", p, "executed");
}

static void test_deploy_and_call(void **state)
{
	struct fx *f = *state;
	/* before deploy: no contract */
	assert_false(run(f, f->issuer, "counter", "get", "null"));
	assert_string_equal(f->r.error, "no contract named counter");
	deploy(f, "counter", counter_v1, 1, json_pack("{s:s, s:s}", "add", "issuer:x", "*", "contract.call"), false);
	assert_true(run(f, f->issuer, "counter", "add", "{\"by\":5}"));
	assert_int_equal(ret_int(f), 5);
	assert_true(f->r.gas_used > 0);
	assert_int_equal(f->r.nevents, 1);
	assert_string_equal(f->r.events[0].name, "added");
	assert_true(run(f, f->caller, "counter", "get", "null"));
	assert_int_equal(ret_int(f), 5);
	/* the value lives in the contract's own key space */
	const uint8_t *v;
	size_t n;
	assert_int_equal(ds_exec_sys_mem_get(f->m, (const uint8_t *)"contract/counter/n", 18, &v, &n), 0);
	/* caller identity reaches the contract */
	assert_true(run(f, f->issuer, "counter", "whoami", "null"));
	json_t *j;
	assert_int_equal(ds_cli_value_to_json(&j, f->r.ret.data, f->r.ret.len), 0);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"h\":6,\"org\":\"a\",\"roles\":[\"contract.call\",\"issuer:x\"]}");
	free(s);
	json_decref(j);
	/* registry: readable, names the deployer org and the proposal */
	assert_true(run(f, f->caller, "registry", "get", "{\"name\":\"counter\"}"));
	assert_int_equal(ds_cli_value_to_json(&j, f->r.ret.data, f->r.ret.len), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "active")), 1);
	json_t *ver = json_array_get(json_object_get(j, "versions"), 0);
	assert_string_equal(json_string_value(json_object_get(ver, "org")), "a");
	assert_int_equal(json_integer_value(json_object_get(ver, "proposal")), 1);
	json_decref(j);
	/* a name taken by a system module, or taken already, is refused */
	assert_false(run_j(f, f->admin[0], "gov", "propose",
			   json_pack("{s:s, s:{s:s, s:i, s:s}}", "kind", "deploy_contract", "payload", "name", "gov",
				     "version", 1, "source", "return {}")));
	assert_non_null(strstr(f->r.error, "not a system module"));
	assert_false(run_j(f, f->admin[0], "gov", "propose",
			   json_pack("{s:s, s:{s:s, s:i, s:s}}", "kind", "deploy_contract", "payload", "name",
				     "counter", "version", 1, "source", "return {}")));
	assert_non_null(strstr(f->r.error, "already exists"));
}

static void test_contract_roles(void **state)
{
	struct fx *f = *state;
	char want[256], hex[2 * DS_PK_LEN + 1];
	deploy(f, "counter", counter_v1, 1, json_pack("{s:s, s:s}", "add", "issuer:x", "*", "contract.call"), false);
	ds_hex_encode(hex, f->caller, DS_PK_LEN);
	assert_false(run(f, f->caller, "counter", "add", "{\"by\":1}"));
	assert_int_equal(f->r.rc, DS_EDENIED);
	snprintf(want, sizeof(want), "account %s lacks role issuer:x for counter.add", hex);
	assert_string_equal(f->r.error, want);
	ds_hex_encode(hex, f->plain, DS_PK_LEN);
	assert_false(run(f, f->plain, "counter", "get", "null"));
	snprintf(want, sizeof(want), "account %s lacks role contract.call for counter.get", hex);
	assert_string_equal(f->r.error, want);
	/* default (no roles map): contract.call for every method */
	deploy(f, "plainc", counter_v2, 1, NULL, false);
	assert_false(run(f, f->plain, "plainc", "get", "null"));
	assert_true(run(f, f->caller, "plainc", "get", "null"));
	/* "" opens a method to any sender, even one without an account */
	deploy(f, "pub", counter_v2, 1, json_pack("{s:s}", "*", ""), false);
	assert_true(run(f, f->nobody, "pub", "get", "null"));
	assert_int_equal(ret_int(f), 0);
	/* malformed role maps are refused at proposal time */
	assert_false(run_j(f, f->admin[0], "gov", "propose",
			   json_pack("{s:s, s:{s:s, s:i, s:s, s:{s:s}}}", "kind", "deploy_contract", "payload",
				     "name", "x", "version", 1, "source", "return {}", "roles", "_hidden",
				     "admin")));
	assert_non_null(strstr(f->r.error, "roles: bad entry"));
}

static void test_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	deploy(f, "counter", counter_v1, 1, json_pack("{s:s}", "*", "contract.call"), false);
	assert_true(run(f, f->caller, "counter", "add", "{\"by\":3}"));
	assert_false(run(f, f->caller, "counter", "bad", "null"));
	assert_int_equal(f->r.rc, DS_ECONTRACT);
	assert_string_equal(f->r.error, "error: refused");
	assert_true(f->r.gas_used > 0);
	assert_int_equal(f->r.nevents, 0);
	assert_true(run(f, f->caller, "counter", "get", "null"));
	assert_int_equal(ret_int(f), 3);
	/* bad args, unknown method: clear receipts, nothing written */
	assert_false(run(f, f->caller, "counter", "add", "{\"by\":\"x\"}"));
	assert_non_null(strstr(f->r.error, "error: counter:3:"));
	assert_false(run(f, f->caller, "counter", "nope", "null"));
	assert_string_equal(f->r.error, "bad_call: no such method: nope");
	/* a runaway call stops at the instruction budget */
	deploy(f, "loop", "return {spin = function() while true do end end}", 1, NULL, false);
	assert_false(run(f, f->caller, "loop", "spin", "null"));
	assert_string_equal(f->r.error, "out_of_instructions: out of instructions");
	assert_true(f->r.gas_used == 10000000);
	assert_true(run(f, f->caller, "counter", "get", "null"));
	assert_int_equal(ret_int(f), 3);
}

static void test_upgrade(void **state)
{
	struct fx *f = *state;
	deploy(f, "counter", counter_v1, 1, json_pack("{s:s}", "*", "contract.call"), false);
	assert_true(run(f, f->caller, "counter", "add", "{\"by\":4}"));
	deploy(f, "counter", counter_v2, 2, NULL, true);
	/* same key space, new code */
	assert_true(run(f, f->caller, "counter", "get", "null"));
	assert_int_equal(ret_int(f), 40);
	assert_false(run(f, f->caller, "counter", "add", "{\"by\":1}"));
	assert_string_equal(f->r.error, "bad_call: no such method: add");
	/* versions only go up */
	assert_false(run_j(f, f->admin[0], "gov", "propose",
			   json_pack("{s:s, s:{s:s, s:i, s:s}}", "kind", "upgrade_contract", "payload", "name",
				     "counter", "version", 2, "source", "return {}")));
	assert_int_equal(f->r.rc, DS_ERANGE);
	assert_false(run_j(f, f->admin[0], "gov", "propose",
			   json_pack("{s:s, s:{s:s, s:i, s:s}}", "kind", "upgrade_contract", "payload", "name",
				     "nosuch", "version", 2, "source", "return {}")));
	assert_int_equal(f->r.rc, DS_ENOTFOUND);
	/* both sources stay on chain */
	const uint8_t *v;
	size_t n;
	assert_int_equal(ds_exec_sys_mem_get(f->m, (const uint8_t *)"sys/code/counter/1", 18, &v, &n), 0);
	assert_int_equal(ds_exec_sys_mem_get(f->m, (const uint8_t *)"sys/code/counter/2", 18, &v, &n), 0);
}

struct report {
	char names[8][DS_NAME_MAX + 1];
	bool ok[8];
	char error[8][DS_RECEIPT_ERROR_MAX + 1];
	size_t n;
};

static void report_fn(void *arg, const char *test, const struct ds_exec_sys_mem_receipt *r)
{
	struct report *rep = arg;
	assert_true(rep->n < 8);
	snprintf(rep->names[rep->n], sizeof(rep->names[0]), "%s", test);
	snprintf(rep->error[rep->n], sizeof(rep->error[0]), "%s", r->error);
	rep->ok[rep->n++] = r->ok;
}

static void run_file(const char *path, struct report *rep, size_t *passed, size_t *failed, int want_rc)
{
	uint8_t *src;
	size_t len;
	char err[256];
	if (ds_file_read(&src, &len, path, 1 << 20) != 0)
		fail_msg("cannot read %s (run from the repository root)", path);
	memset(rep, 0, sizeof(*rep));
	int rc = ds_exec_sys_contract_test("counter", src, len, NULL, 0, report_fn, rep, passed, failed, err,
					   sizeof(err));
	free(src);
	if (rc != want_rc)
		fail_msg("%s: rc %d (%s)", path, rc, err);
}

static void test_harness(void **state)
{
	(void)state;
	struct report rep;
	size_t p, fl;
	run_file("tests/contracts/counter_pass.lua", &rep, &p, &fl, 0);
	assert_int_equal(p, 3);
	assert_int_equal(fl, 0);
	assert_string_equal(rep.names[0], "test_a_add");
	assert_string_equal(rep.names[2], "test_c_caller_and_block");
	run_file("tests/contracts/counter_fail.lua", &rep, &p, &fl, 0);
	assert_int_equal(p, 2);
	assert_int_equal(fl, 2);
	assert_true(rep.ok[0] && !rep.ok[1] && rep.ok[2] && !rep.ok[3]);
	assert_string_equal(rep.error[1], "error: boom");
	assert_string_equal(rep.error[3], "out_of_instructions: out of instructions");
	/* no tests, or a syntax error: an error, not a pass */
	char err[256];
	static const char none[] = "return {}";
	assert_int_equal(ds_exec_sys_contract_test("x", (const uint8_t *)none, sizeof(none) - 1, NULL, 0,
						   report_fn, &rep, &p, &fl, err, sizeof(err)),
			 DS_ENOTFOUND);
	static const char broken[] = "function test_x( return";
	assert_int_equal(ds_exec_sys_contract_test("x", (const uint8_t *)broken, sizeof(broken) - 1, NULL, 0,
						   report_fn, &rep, &p, &fl, err, sizeof(err)),
			 DS_EINVAL);
	assert_non_null(strstr(err, "syntax error: x:1:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deploy_and_call, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_contract_roles, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_rolls_back, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade, fx_setup, fx_teardown),
		cmocka_unit_test(test_harness),
	};
	return cmocka_run_group_tests_name("contract", tests, NULL, NULL);
}
