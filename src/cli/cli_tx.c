/* danshari tx build|sign|inspect — offline transactions.
 * Files: an unsigned tx is the body encoding; a signed tx is body || sig
 * (docs/PROTOCOL.md). Either may be raw binary or, with --hex, lowercase
 * hex plus a newline; readers accept both (a binary tx starts with the
 * version byte 0x01, which is never a hex digit). */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_json.h"
#include "codec/codec.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"

#define IN_MAX (2 * DS_TX_MAX + 16) /* hex text of the largest tx, plus slack */


/* Reads a whole file or stdin (path NULL or "-"), at most IN_MAX bytes. */
static int read_input(const char *cmd, uint8_t **out, size_t *len, const char *path)
{
	*out = NULL;
	*len = 0;
	if (path && strcmp(path, "-") != 0) {
		int rc = ds_file_read(out, len, path, IN_MAX);
		if (rc == DS_ETOOBIG)
			return ds_cli_fail(cmd, "%s is larger than any transaction (%d bytes)", path, IN_MAX);
		if (rc)
			return ds_cli_fail(cmd, "cannot read %s: %s", path, ds_strerror(rc));
		return 0;
	}
	uint8_t *buf = malloc(IN_MAX + 1);
	if (!buf)
		return ds_cli_fail(cmd, "out of memory");
	size_t n = 0;
	while (n <= IN_MAX) {
		size_t r = fread(buf + n, 1, IN_MAX + 1 - n, stdin);
		if (r == 0)
			break;
		n += r;
	}
	if (ferror(stdin)) {
		free(buf);
		return ds_cli_fail(cmd, "cannot read stdin: %s", strerror(errno));
	}
	if (n > IN_MAX) {
		free(buf);
		return ds_cli_fail(cmd, "stdin is larger than any transaction (%d bytes)", IN_MAX);
	}
	*out = buf;
	*len = n;
	return 0;
}

static bool is_hex_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Turns hex input into bytes in place; binary input is left alone. */
static int unhex_input(const char *cmd, uint8_t *buf, size_t *len)
{
	if (*len == 0)
		return ds_cli_fail(cmd, "input is empty");
	if (!is_hex_char(buf[0]))
		return 0;
	size_t n = *len;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n % 2)
		return ds_cli_fail(cmd, "hex input has an odd number of digits");
	for (size_t i = 0; i < n; i++)
		if (!is_hex_char(buf[i]))
			return ds_cli_fail(cmd, "hex input has a non-hex character at offset %zu", i);
	/* Decoding left to right never overtakes the text being read. */
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t b;
		if (ds_hex_decode(&b, 1, (const char *)buf + 2 * i, 2) != 0)
			return ds_cli_fail(cmd, "bad hex input");
		buf[i] = b;
	}
	*len = n / 2;
	return 0;
}

static int write_output(const char *cmd, const char *path, const uint8_t *data, size_t len, bool hex)
{
	uint8_t *text = NULL;
	if (hex) {
		text = malloc(2 * len + 2);
		if (!text)
			return ds_cli_fail(cmd, "out of memory");
		ds_hex_encode((char *)text, data, len);
		text[2 * len] = '\n';
		data = text;
		len = 2 * len + 1;
	}
	int ret = 0;
	if (path && strcmp(path, "-") != 0) {
		int rc = ds_file_write_atomic(path, data, len, 0644, 0);
		if (rc)
			ret = ds_cli_fail(cmd, "cannot write %s: %s", path, ds_strerror(rc));
	} else if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		ret = ds_cli_fail(cmd, "cannot write to stdout: %s", strerror(errno));
	}
	free(text);
	return ret;
}

static int load_key(const char *cmd, struct ds_key *key, const char *path)
{
	char err[DS_KEYFILE_ERR_MAX + 512];
	int rc = ds_keyfile_load(key, path, err, sizeof(err));
	if (rc)
		return ds_cli_fail(cmd, "%s", err);
	return 0;
}

static const char build_help[] =
	"usage: danshari tx build --chain-id ID (--sender PUBHEX | --key FILE)\n"
	"                         --target NAME --method NAME --expiry-height H\n"
	"                         [--args JSON] [--nonce N] [--out FILE] [--hex]\n"
	"\n"
	"Builds an unsigned transaction (its body encoding) and writes it to FILE or\n"
	"stdout, binary unless --hex. The sender is a 64-hex public key or the key\n"
	"of a key file. --args is one JSON value (integers only, no floats; bytes as\n"
	"{\"$bytes\":\"hex\"}); default null. --nonce defaults to a random number.\n"
	"The transaction is valid while the chain height is below H.\n";

static int cmd_build(int argc, char **argv)
{
	const char *cmd = "tx build";
	struct ds_cli_opt o[] = {
		DS_CLI_OPT("chain-id"), DS_CLI_OPT("sender"),
		DS_CLI_OPT("key"),      DS_CLI_OPT("target"),
		DS_CLI_OPT("method"),   DS_CLI_OPT("args"),
		DS_CLI_OPT("nonce"),    DS_CLI_OPT("expiry-height"),
		DS_CLI_OPT("out"),      DS_CLI_FLAG("hex"),
	};
	enum { CHAIN, SENDER, KEY, TARGET, METHOD, ARGS, NONCE, EXPIRY, OUT, HEX };
	if (ds_cli_wants_help(argc, argv)) {
		fputs(build_help, stdout);
		return 0;
	}
	int rc = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (rc)
		return rc;
	if (!o[CHAIN].val)
		return ds_cli_usage(cmd, "--chain-id is required");
	if (!o[TARGET].val || !o[METHOD].val)
		return ds_cli_usage(cmd, "--target and --method are required");
	if (!o[EXPIRY].val)
		return ds_cli_usage(cmd, "--expiry-height is required");
	if (!!o[SENDER].val == !!o[KEY].val)
		return ds_cli_usage(cmd, "give exactly one of --sender and --key");

	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	if (!ds_ledger_chain_id_valid(o[CHAIN].val))
		return ds_cli_usage(cmd, "bad --chain-id '%s' (1-%d of a-z 0-9 . _ -)", o[CHAIN].val,
				    DS_CHAIN_ID_MAX);
	if (!ds_ledger_name_valid(o[TARGET].val))
		return ds_cli_usage(cmd, "bad --target '%s' (1-%d of a-z 0-9 _ .)", o[TARGET].val, DS_NAME_MAX);
	if (!ds_ledger_name_valid(o[METHOD].val))
		return ds_cli_usage(cmd, "bad --method '%s' (1-%d of a-z 0-9 _ .)", o[METHOD].val, DS_NAME_MAX);
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", o[CHAIN].val);
	snprintf(tx.target, sizeof(tx.target), "%s", o[TARGET].val);
	snprintf(tx.method, sizeof(tx.method), "%s", o[METHOD].val);
	if (ds_cli_parse_u64(&tx.expiry_height, o[EXPIRY].val) != 0)
		return ds_cli_usage(cmd, "bad --expiry-height '%s' (a decimal number)", o[EXPIRY].val);
	if (o[NONCE].val) {
		if (ds_cli_parse_u64(&tx.nonce, o[NONCE].val) != 0)
			return ds_cli_usage(cmd, "bad --nonce '%s' (a decimal number)", o[NONCE].val);
	} else {
		tx.nonce = ds_random_u64();
	}
	if (o[SENDER].val) {
		if (ds_keyfile_pk_from_hex(tx.sender, o[SENDER].val) != 0)
			return ds_cli_usage(cmd, "bad --sender (64 hex digits expected)");
	}

	struct ds_buf args;
	ds_buf_init(&args);
	uint8_t *body = NULL;
	int ret = 0;
	if (o[ARGS].val) {
		json_error_t jerr;
		json_t *j = json_loads(o[ARGS].val, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
		if (!j) {
			ret = ds_cli_usage(cmd, "--args is not valid JSON: %s", jerr.text);
			goto fail;
		}
		char err[256];
		rc = ds_cli_value_from_json(&args, j, err, sizeof(err));
		json_decref(j);
		if (rc) {
			ret = ds_cli_usage(cmd, "bad --args: %s", err);
			goto fail;
		}
		if (args.len > DS_TX_ARGS_MAX) {
			ret = ds_cli_usage(cmd, "--args encode to %zu bytes, more than %u", args.len,
					   DS_TX_ARGS_MAX);
			goto fail;
		}
	} else {
		static const uint8_t null_value = DS_VALUE_NULL;
		ds_buf_append(&args, &null_value, 1);
		if (args.err) {
			ret = ds_cli_fail(cmd, "out of memory");
			goto fail;
		}
	}
	tx.args = args.data;
	tx.args_len = args.len;
	if (o[KEY].val) {
		struct ds_key key;
		ret = load_key(cmd, &key, o[KEY].val);
		if (ret)
			goto fail;
		memcpy(tx.sender, key.pk, DS_PK_LEN);
		ds_keyfile_wipe(&key);
	}
	body = malloc(DS_TX_MAX);
	size_t n;
	if (!body) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto fail;
	}
	rc = ds_tx_encode_body(body, DS_TX_MAX, &n, &tx);
	if (rc) {
		ret = ds_cli_fail(cmd, "cannot encode the transaction: %s", ds_strerror(rc));
		goto fail;
	}
	ret = write_output(cmd, o[OUT].val, body, n, o[HEX].seen);
fail:
	free(body);
	ds_buf_free(&args);
	return ret;
}

/* Decodes a signed tx, or failing that an unsigned body. The two readings
 * never both succeed (args must end exactly where the input or the signature
 * begins), so the result is unambiguous. Reports the reading that got further. */
static int decode_any(const char *cmd, struct ds_tx *tx, bool *has_sig, const uint8_t *p, size_t len)
{
	static const char *const order[] = {"length", "version", "chain_id", "sender", "nonce",
					    "expiry_height", "target", "method", "args",
					    "signature", "end"};
	const char *f_signed, *f_body;
	int rc_signed = ds_tx_decode_diag(tx, &f_signed, p, len, true);
	*has_sig = true;
	if (rc_signed == 0)
		return 0;
	int rc_body = ds_tx_decode_diag(tx, &f_body, p, len, false);
	*has_sig = false;
	if (rc_body == 0)
		return 0;
	size_t is = 0, ib = 0;
	for (size_t i = 0; i < DS_ARRAY_LEN(order); i++) {
		if (strcmp(order[i], f_signed) == 0)
			is = i;
		if (strcmp(order[i], f_body) == 0)
			ib = i;
	}
	bool use_body = ib > is;
	const char *f = use_body ? f_body : f_signed;
	int rc = use_body ? rc_body : rc_signed;
	if (strcmp(f, "end") == 0)
		return ds_cli_fail(cmd, "invalid transaction: trailing bytes after the %s",
				   use_body ? "body" : "signature");
	return ds_cli_fail(cmd, "invalid transaction: field %s: %s", f, ds_strerror(rc));
}

static const char sign_help[] =
	"usage: danshari tx sign --key FILE [--in FILE] [--out FILE] [--hex]\n"
	"\n"
	"Signs an unsigned transaction (from 'danshari tx build', binary or hex) with\n"
	"the key in FILE and writes the signed transaction, binary unless --hex.\n"
	"Refuses when the key is not the transaction's sender. A signed input is\n"
	"signed again. Reads stdin and writes stdout when --in/--out are omitted.\n";

static int cmd_sign(int argc, char **argv)
{
	const char *cmd = "tx sign";
	struct ds_cli_opt o[] = {
		DS_CLI_OPT("key"),
		DS_CLI_OPT("in"),
		DS_CLI_OPT("out"),
		DS_CLI_FLAG("hex"),
	};
	enum { KEY, IN, OUT, HEX };
	if (ds_cli_wants_help(argc, argv)) {
		fputs(sign_help, stdout);
		return 0;
	}
	int rc = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (rc)
		return rc;
	if (!o[KEY].val)
		return ds_cli_usage(cmd, "--key FILE is required");

	uint8_t *in = NULL, *scratch = NULL, *out = NULL;
	size_t len;
	struct ds_key key;
	struct ds_tx tx;
	bool has_sig;
	int ret;
	memset(&key, 0, sizeof(key));
	ret = read_input(cmd, &in, &len, o[IN].val);
	if (ret)
		goto fail;
	ret = unhex_input(cmd, in, &len);
	if (ret)
		goto fail;
	ret = decode_any(cmd, &tx, &has_sig, in, len);
	if (ret)
		goto fail;
	ret = load_key(cmd, &key, o[KEY].val);
	if (ret)
		goto fail;
	if (memcmp(key.pk, tx.sender, DS_PK_LEN) != 0) {
		char a[2 * DS_PK_LEN + 1], b[2 * DS_PK_LEN + 1];
		ds_keyfile_pk_to_hex(a, key.pk);
		ds_keyfile_pk_to_hex(b, tx.sender);
		ret = ds_cli_fail(cmd, "key %s is %s but the transaction's sender is %s", o[KEY].val, a, b);
		goto fail;
	}
	scratch = malloc(DS_TX_SCRATCH_LEN);
	out = malloc(DS_TX_MAX);
	if (!scratch || !out) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto fail;
	}
	rc = ds_tx_sign(&tx, key.sk, scratch, DS_TX_SCRATCH_LEN);
	size_t n = 0;
	if (rc == 0)
		rc = ds_tx_encode(out, DS_TX_MAX, &n, &tx);
	if (rc) {
		ret = ds_cli_fail(cmd, "cannot sign: %s", ds_strerror(rc));
		goto fail;
	}
	ret = write_output(cmd, o[OUT].val, out, n, o[HEX].seen);
fail:
	ds_keyfile_wipe(&key);
	free(in);
	free(scratch);
	free(out);
	return ret;
}

static const char inspect_help[] =
	"usage: danshari tx inspect [--in FILE]\n"
	"\n"
	"Decodes a signed or unsigned transaction (binary or hex), checks its\n"
	"signature and prints it as JSON: every field, args as JSON, the tx id and\n"
	"\"signature\": \"valid\", \"missing\" or \"invalid\". nonce and\n"
	"expiry_height are decimal strings (64-bit values). Exits 1 with a one-line\n"
	"error if the transaction is malformed or its signature is invalid.\n";

static int cmd_inspect(int argc, char **argv)
{
	const char *cmd = "tx inspect";
	struct ds_cli_opt o[] = {DS_CLI_OPT("in")};
	if (ds_cli_wants_help(argc, argv)) {
		fputs(inspect_help, stdout);
		return 0;
	}
	int rc = ds_cli_parse_opts(cmd, argc, argv, o, DS_ARRAY_LEN(o));
	if (rc)
		return rc;

	uint8_t *in = NULL, *scratch = NULL;
	size_t len;
	struct ds_tx tx;
	bool has_sig;
	json_t *j = NULL, *args = NULL;
	int ret = read_input(cmd, &in, &len, o[0].val);
	if (ret)
		goto fail;
	ret = unhex_input(cmd, in, &len);
	if (ret)
		goto fail;
	ret = decode_any(cmd, &tx, &has_sig, in, len);
	if (ret)
		goto fail;
	const char *sig_state = "missing";
	if (has_sig) {
		scratch = malloc(DS_TX_SCRATCH_LEN);
		if (!scratch) {
			ret = ds_cli_fail(cmd, "out of memory");
			goto fail;
		}
		sig_state = ds_tx_verify(&tx, scratch, DS_TX_SCRATCH_LEN) == 0 ? "valid" : "invalid";
	}
	uint8_t id[DS_HASH_LEN];
	ds_tx_id_body(id, in, has_sig ? len - DS_SIG_LEN : len);
	char id_hex[2 * DS_HASH_LEN + 1], sender_hex[2 * DS_PK_LEN + 1], sig_hex[2 * DS_SIG_LEN + 1];
	char nonce[24], expiry[24];
	ds_hex_encode(id_hex, id, DS_HASH_LEN);
	ds_hex_encode(sender_hex, tx.sender, DS_PK_LEN);
	ds_hex_encode(sig_hex, tx.sig, DS_SIG_LEN);
	snprintf(nonce, sizeof(nonce), "%llu", (unsigned long long)tx.nonce);
	snprintf(expiry, sizeof(expiry), "%llu", (unsigned long long)tx.expiry_height);
	rc = ds_cli_value_to_json(&args, tx.args, tx.args_len);
	if (rc) {
		ret = ds_cli_fail(cmd, "args cannot be shown as JSON: %s", ds_strerror(rc));
		goto fail;
	}
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "id", id_hex, "version",
		      (int)tx.version, "chain_id", tx.chain_id, "sender", sender_hex, "nonce", nonce,
		      "expiry_height", expiry, "target", tx.target, "method", tx.method, "args", args,
		      "signature", sig_state);
	if (j && has_sig)
		json_object_set_new(j, "sig", json_string(sig_hex));
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto fail;
	}
	printf("%s\n", text);
	free(text);
	if (fflush(stdout) != 0) {
		ret = ds_cli_fail(cmd, "cannot write to stdout: %s", strerror(errno));
		goto fail;
	}
	if (strcmp(sig_state, "invalid") == 0)
		ret = ds_cli_fail(cmd, "signature does not verify for sender %s", sender_hex);
fail:
	json_decref(args);
	json_decref(j);
	free(in);
	free(scratch);
	return ret;
}

static const char tx_help[] =
	"usage: danshari tx <build|sign|inspect> [options]\n"
	"\n"
	"  build    build an unsigned transaction\n"
	"  sign     sign it with a key file\n"
	"  inspect  decode, verify and print a transaction as JSON\n"
	"\n"
	"Run 'danshari tx <subcommand> --help' for its options.\n";

int ds_cli_tx(int argc, char **argv)
{
	if (argc < 2)
		return ds_cli_usage("tx", "missing subcommand (build, sign or inspect)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(tx_help, stdout);
		return 0;
	}
	if (strcmp(argv[1], "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "inspect") == 0)
		return cmd_inspect(argc - 1, argv + 1);
	return ds_cli_usage("tx", "unknown subcommand '%s'", argv[1]);
}
