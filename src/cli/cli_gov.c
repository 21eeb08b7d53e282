/* danshari gov propose|deploy|vote|call — unsigned governance and contract
 * transactions for `danshari tx sign`; danshari contract test FILE.lua. */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_json.h"
#include "codec/codec.h"
#include "exec/exec_sys.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "vm/vm.h"

#define OPTS_MAX 16


/* Options every gov subcommand shares, first in each option table. */
enum { O_CHAIN, O_SENDER, O_KEY, O_EXPIRY, O_NONCE, O_OUT, O_HEX, O_COMMON };
#define COMMON_OPTS                                                                           \
	{"chain-id", false, false, NULL, false, {0}, 0}, {"sender", false, false, NULL, false, {0}, 0}, \
	{"key", false, false, NULL, false, {0}, 0}, {"expiry-height", false, false, NULL, false, {0}, 0}, \
	{"nonce", false, false, NULL, false, {0}, 0}, {"out", false, false, NULL, false, {0}, 0},       \
	{"hex", true, false, NULL, false, {0}, 0}
#define OPT(n) DS_CLI_OPT(n)
#define FLAG(n) DS_CLI_FLAG(n)

static const char common_help[] =
	"common options: --chain-id ID (--sender PUBHEX | --key FILE) --expiry-height H\n"
	"                [--nonce N] [--out FILE] [--hex]\n"
	"The transaction is written unsigned (binary, or hex with --hex) to FILE or\n"
	"stdout; sign it with 'danshari tx sign --key FILE'.\n";

/* Encodes j as the args of tx target.method and writes the unsigned tx. */
static int emit_tx(const char *cmd, const struct ds_cli_opt *o, const char *target, const char *method, json_t *j)
{
	struct ds_tx tx;
	struct ds_buf args;
	uint8_t *body = NULL;
	char err[256];
	int ret = 0, rc;
	memset(&tx, 0, sizeof(tx));
	ds_buf_init(&args);
	tx.version = 1;
	if (!o[O_CHAIN].val || !ds_ledger_chain_id_valid(o[O_CHAIN].val))
		return ds_cli_usage(cmd, "--chain-id ID is required (1-%d of a-z 0-9 . _ -)", DS_CHAIN_ID_MAX);
	if (!o[O_EXPIRY].val || ds_cli_parse_u64(&tx.expiry_height, o[O_EXPIRY].val) != 0)
		return ds_cli_usage(cmd, "--expiry-height H is required (a decimal number)");
	if (!!o[O_SENDER].val == !!o[O_KEY].val)
		return ds_cli_usage(cmd, "give exactly one of --sender and --key");
	if (!ds_ledger_name_valid(target) || !ds_ledger_name_valid(method))
		return ds_cli_usage(cmd, "bad contract or method name (1-%d of a-z 0-9 _ .)", DS_NAME_MAX);
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", o[O_CHAIN].val);
	snprintf(tx.target, sizeof(tx.target), "%s", target);
	snprintf(tx.method, sizeof(tx.method), "%s", method);
	if (o[O_NONCE].val) {
		if (ds_cli_parse_u64(&tx.nonce, o[O_NONCE].val) != 0)
			return ds_cli_usage(cmd, "bad --nonce '%s'", o[O_NONCE].val);
	} else {
		tx.nonce = ds_random_u64();
	}
	if (o[O_SENDER].val) {
		if (ds_keyfile_pk_from_hex(tx.sender, o[O_SENDER].val) != 0)
			return ds_cli_usage(cmd, "bad --sender (64 hex digits expected)");
	} else {
		struct ds_key key;
		char kerr[DS_KEYFILE_ERR_MAX + 512];
		if (ds_keyfile_load(&key, o[O_KEY].val, kerr, sizeof(kerr)) != 0)
			return ds_cli_fail(cmd, "%s", kerr);
		memcpy(tx.sender, key.pk, DS_PK_LEN);
		ds_keyfile_wipe(&key);
	}
	rc = ds_cli_value_from_json(&args, j, err, sizeof(err));
	if (rc) {
		ret = ds_cli_usage(cmd, "bad arguments: %s", err);
		goto fail;
	}
	if (args.len > DS_TX_ARGS_MAX) {
		ret = ds_cli_fail(cmd, "arguments encode to %zu bytes, more than %u", args.len, DS_TX_ARGS_MAX);
		goto fail;
	}
	tx.args = args.data;
	tx.args_len = args.len;
	size_t n;
	body = malloc(3 * DS_TX_MAX + 2);
	if (!body) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto fail;
	}
	if ((rc = ds_tx_encode_body(body, DS_TX_MAX, &n, &tx)) != 0) {
		ret = ds_cli_fail(cmd, "cannot encode the transaction: %s", ds_strerror(rc));
		goto fail;
	}
	const uint8_t *data = body;
	size_t len = n;
	if (o[O_HEX].seen) {
		/* body has room for the hex text after the binary */
		char *hex = (char *)body + n;
		ds_hex_encode(hex, body, n);
		hex[2 * n] = '\n';
		data = (const uint8_t *)hex;
		len = 2 * n + 1;
	}
	if (o[O_OUT].val && strcmp(o[O_OUT].val, "-") != 0) {
		rc = ds_file_write_atomic(o[O_OUT].val, data, len, 0644, 0);
		if (rc)
			ret = ds_cli_fail(cmd, "cannot write %s: %s", o[O_OUT].val, ds_strerror(rc));
	} else if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		ret = ds_cli_fail(cmd, "cannot write to stdout: %s", strerror(errno));
	}
fail:
	free(body);
	ds_buf_free(&args);
	return ret;
}

static json_t *parse_json(const char *cmd, const char *what, const char *text, int *ret)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		*ret = ds_cli_usage(cmd, "%s is not valid JSON: %s", what, jerr.text);
	return j;
}

static const char propose_help[] =
	"usage: danshari gov propose --kind KIND --payload JSON <common options>\n"
	"\n"
	"Builds gov.propose {kind, payload}. Kinds and payloads:\n"
	"  add_org          {\"id\", \"name\", \"admins\": [{\"$bytes\": PK}], \"roles\": [..]}\n"
	"  remove_org       {\"id\"}\n"
	"  set_org_roles    {\"id\", \"roles\": [..]}\n"
	"  add_validator    {\"pk\": {\"$bytes\": PK}, \"addr\": \"host:port\", \"org\"}\n"
	"  remove_validator {\"pk\": {\"$bytes\": PK}}\n"
	"  set_param        {\"name\", \"value\": INT}\n"
	"  deploy_contract / upgrade_contract: use 'danshari gov deploy'\n";

static const char deploy_help[] =
	"usage: danshari gov deploy --name NAME --version V --source FILE.lua\n"
	"                           [--roles JSON] [--upgrade] <common options>\n"
	"\n"
	"Builds a gov.propose deploy_contract (upgrade_contract with --upgrade)\n"
	"carrying the source. --roles maps methods (or \"*\") to the role a caller\n"
	"needs, e.g. '{\"issue\":\"issuer:loans\",\"*\":\"contract.call\"}'; \"\" opens a\n"
	"method to everyone. Default: contract.call for every method.\n";

static const char vote_help[] =
	"usage: danshari gov vote --id N (--approve | --reject) <common options>\n";

static const char call_help[] =
	"usage: danshari gov call --contract NAME --method M [--args JSON] <common options>\n";

static int gov_propose(int argc, char **argv)
{
	const char *cmd = "gov propose";
	struct ds_cli_opt o[] = {COMMON_OPTS, OPT("kind"), OPT("payload")};
	if (ds_cli_wants_help(argc, argv)) {
		printf("%s\n%s", propose_help, common_help);
		return 0;
	}
	int ret = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (ret)
		return ret;
	if (!o[O_COMMON].val || !o[O_COMMON + 1].val)
		return ds_cli_usage(cmd, "--kind and --payload are required");
	json_t *p = parse_json(cmd, "--payload", o[O_COMMON + 1].val, &ret);
	if (!p)
		return ret;
	json_t *j = json_pack("{s:s, s:o}", "kind", o[O_COMMON].val, "payload", p);
	if (!j)
		return ds_cli_fail(cmd, "out of memory");
	ret = emit_tx(cmd, o, "gov", "propose", j);
	json_decref(j);
	return ret;
}

static int gov_deploy(int argc, char **argv)
{
	const char *cmd = "gov deploy";
	struct ds_cli_opt o[] = {COMMON_OPTS, OPT("name"), OPT("version"), OPT("source"), OPT("roles"), FLAG("upgrade")};
	enum { NAME = O_COMMON, VERSION, SOURCE, ROLES, UPGRADE };
	if (ds_cli_wants_help(argc, argv)) {
		printf("%s\n%s", deploy_help, common_help);
		return 0;
	}
	int ret = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (ret)
		return ret;
	uint64_t version;
	if (!o[NAME].val || !o[VERSION].val || !o[SOURCE].val)
		return ds_cli_usage(cmd, "--name, --version and --source are required");
	if (ds_cli_parse_u64(&version, o[VERSION].val) != 0 || version < 1 || version > INT64_MAX)
		return ds_cli_usage(cmd, "bad --version '%s' (an integer >= 1)", o[VERSION].val);
	uint8_t *src;
	size_t len;
	int rc = ds_file_read(&src, &len, o[SOURCE].val, DS_VM_SRC_MAX);
	if (rc)
		return ds_cli_fail(cmd, "cannot read %s: %s", o[SOURCE].val, ds_strerror(rc));
	char *hex = malloc(2 * len + 1);
	if (!hex) {
		free(src);
		return ds_cli_fail(cmd, "out of memory");
	}
	ds_hex_encode(hex, src, len);
	free(src);
	json_t *p = json_pack("{s:s, s:I, s:{s:s}}", "name", o[NAME].val, "version", (json_int_t)version,
			      "source", "$bytes", hex);
	free(hex);
	if (!p)
		return ds_cli_fail(cmd, "out of memory");
	if (o[ROLES].val) {
		json_t *r = parse_json(cmd, "--roles", o[ROLES].val, &ret);
		if (!r) {
			json_decref(p);
			return ret;
		}
		json_object_set_new(p, "roles", r);
	}
	json_t *j = json_pack("{s:s, s:o}", "kind", o[UPGRADE].seen ? "upgrade_contract" : "deploy_contract",
			      "payload", p);
	if (!j)
		return ds_cli_fail(cmd, "out of memory");
	ret = emit_tx(cmd, o, "gov", "propose", j);
	json_decref(j);
	return ret;
}

static int gov_vote(int argc, char **argv)
{
	const char *cmd = "gov vote";
	struct ds_cli_opt o[] = {COMMON_OPTS, OPT("id"), FLAG("approve"), FLAG("reject")};
	enum { ID = O_COMMON, APPROVE, REJECT };
	if (ds_cli_wants_help(argc, argv)) {
		printf("%s\n%s", vote_help, common_help);
		return 0;
	}
	int ret = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (ret)
		return ret;
	uint64_t id;
	if (!o[ID].val || ds_cli_parse_u64(&id, o[ID].val) != 0 || id > INT64_MAX)
		return ds_cli_usage(cmd, "--id N is required (a proposal number)");
	if (o[APPROVE].seen == o[REJECT].seen)
		return ds_cli_usage(cmd, "give exactly one of --approve and --reject");
	json_t *j = json_pack("{s:I, s:b}", "id", (json_int_t)id, "approve", o[APPROVE].seen);
	if (!j)
		return ds_cli_fail(cmd, "out of memory");
	ret = emit_tx(cmd, o, "gov", "vote", j);
	json_decref(j);
	return ret;
}

static int gov_call(int argc, char **argv)
{
	const char *cmd = "gov call";
	struct ds_cli_opt o[] = {COMMON_OPTS, OPT("contract"), OPT("method"), OPT("args")};
	enum { CONTRACT = O_COMMON, METHOD, ARGS };
	if (ds_cli_wants_help(argc, argv)) {
		printf("%s\n%s", call_help, common_help);
		return 0;
	}
	int ret = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (ret)
		return ret;
	if (!o[CONTRACT].val || !o[METHOD].val)
		return ds_cli_usage(cmd, "--contract and --method are required");
	json_t *j = o[ARGS].val ? parse_json(cmd, "--args", o[ARGS].val, &ret) : json_null();
	if (!j)
		return ret;
	ret = emit_tx(cmd, o, o[CONTRACT].val, o[METHOD].val, j);
	json_decref(j);
	return ret;
}

static const char gov_help[] =
	"usage: danshari gov <propose|deploy|vote|call> [options]\n"
	"\n"
	"Builds unsigned governance and contract transactions:\n"
	"  propose   a proposal of any kind (org, validator, parameter changes)\n"
	"  deploy    a proposal to deploy or upgrade a contract from a .lua file\n"
	"  vote      an organisation admin's vote on a proposal\n"
	"  call      a call of a contract method\n"
	"Run 'danshari gov <sub> --help' for options. Sign with 'danshari tx sign'.\n";

int ds_cli_gov(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(gov_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "propose") == 0)
		return gov_propose(argc - 1, argv + 1);
	if (strcmp(argv[1], "deploy") == 0)
		return gov_deploy(argc - 1, argv + 1);
	if (strcmp(argv[1], "vote") == 0)
		return gov_vote(argc - 1, argv + 1);
	if (strcmp(argv[1], "call") == 0)
		return gov_call(argc - 1, argv + 1);
	return ds_cli_usage("gov", "unknown subcommand '%s'", argv[1]);
}

/* ---- contract test -------------------------------------------------------- */
static void report(void *arg, const char *test, const struct ds_exec_sys_mem_receipt *r)
{
	(void)arg;
	if (r->ok)
		printf("pass  %-40s instructions=%llu events=%zu\n", test, (unsigned long long)r->gas_used,
		       r->nevents);
	else
		printf("fail  %-40s instructions=%llu error=\"%s\"\n", test, (unsigned long long)r->gas_used,
		       r->error);
}

static const char contract_help[] =
	"usage: danshari contract test FILE.lua [--name NAME] [--role ROLE]...\n"
	"\n"
	"Loads FILE as a contract into an in-memory ledger and runs every function\n"
	"named test_* (global, or in the returned methods table) as its own\n"
	"transaction, in name order; a failing test's writes are rolled back.\n"
	"Prints pass or fail per test with its receipt (instructions used, error)\n"
	"and exits 1 if any test fails. The caller is an account of org \"test\"\n"
	"holding contract.call and every --role. NAME (default: from the file name)\n"
	"is the contract name in error positions.\n";

static void name_from_path(char *out, size_t cap, const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t n = 0;
	for (const char *p = b; *p && *p != '.' && n + 1 < cap && n < DS_NAME_MAX; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '_';
		out[n++] = c;
	}
	out[n] = 0;
	if (!n || ds__sys_is_native(out))
		snprintf(out, cap, "contract_test");
}

int ds_cli_contract(int argc, char **argv)
{
	const char *cmd = "contract test";
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(contract_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "test") != 0)
		return ds_cli_usage("contract", "unknown subcommand '%s'", argv[1]);
	if (ds_cli_wants_help(argc - 1, argv + 1)) {
		fputs(contract_help, stdout);
		return 0;
	}
	if (argc < 3 || strncmp(argv[2], "--", 2) == 0)
		return ds_cli_usage(cmd, "FILE.lua is required");
	const char *path = argv[2];
	struct ds_cli_opt o[] = {OPT("name"), DS_CLI_MULTI("role")};
	int ret = ds_cli_parse_opts(cmd, argc - 2, argv + 2, o, DS_ARRAY_LEN(o));
	if (ret)
		return ret;
	char name[DS_NAME_MAX + 1];
	if (o[0].val) {
		if (!ds_ledger_name_valid(o[0].val) || ds__sys_is_native(o[0].val))
			return ds_cli_usage(cmd, "bad --name '%s'", o[0].val);
		snprintf(name, sizeof(name), "%s", o[0].val);
	} else {
		name_from_path(name, sizeof(name), path);
	}
	for (size_t i = 0; i < o[1].nvals; i++)
		if (!ds__sys_role_valid((const uint8_t *)o[1].vals[i], strlen(o[1].vals[i])) ||
		    strcmp(o[1].vals[i], DS_ROLE_CONTRACT_CALL) == 0)
			return ds_cli_usage(cmd, "bad or repeated --role '%s'", o[1].vals[i]);
	uint8_t *src;
	size_t len;
	int rc = ds_file_read(&src, &len, path, DS_VM_SRC_MAX);
	if (rc == DS_ETOOBIG)
		return ds_cli_fail(cmd, "%s is larger than %u bytes", path, DS_VM_SRC_MAX);
	if (rc)
		return ds_cli_fail(cmd, "cannot read %s: %s", path, ds_strerror(rc));
	size_t passed, failed;
	char err[512];
	rc = ds_exec_sys_contract_test(name, src, len, o[1].vals, o[1].nvals, report, NULL, &passed, &failed,
				       err, sizeof(err));
	free(src);
	if (rc)
		return ds_cli_fail(cmd, "%s: %s", path, err);
	printf("%zu passed, %zu failed\n", passed, failed);
	return failed ? 1 : 0;
}
