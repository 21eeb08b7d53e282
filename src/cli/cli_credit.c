/* danshari credit … — tools for credit records (docs/PRIVACY.md):
 * consortium subject keys and pseudonyms, details commitments, selective
 * disclosures (checked against a commitment, or through a record's state
 * proof against a block header), subject consents, and unsigned credit.lua
 * transactions (issue, grant, access ...). Nothing here talks
 * to a node. Files written here that hold personal data (details) are mode
 * 0600; outputs are JSON. */
#include "cli/cli.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_json.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"
#include "privacy/privacy.h"

#define CMD "credit"
#define JSON_FILE_MAX (1u << 20)

static const char credit_help[] =
	"usage: danshari credit <subcommand> [options]\n"
	"\n"
	"Offline tools:\n"
	"  subject-key --out FILE [--key-id N]\n"
	"      Generate a consortium subject key (secret; member nodes only).\n"
	"  subject-id --key FILE --kind person|org (--id NATID | --id-file FILE)\n"
	"      Print the pseudonymous subject id (64 hex) of a national id.\n"
	"  commit --fields FILE --out DETAILS\n"
	"      FILE is a JSON object {\"name\": \"value\", ...}. Writes DETAILS (JSON,\n"
	"      mode 0600: fields with fresh salts) and prints the record commitment.\n"
	"  check-details --details DETAILS [--commitment HEX]\n"
	"      Recompute a details file's commitment; compare with HEX if given.\n"
	"  disclose --details DETAILS --field NAME [--out FILE]\n"
	"      Write a disclosure of one field (value, salt, inclusion proof).\n"
	"  check-disclosure --disclosure FILE [--commitment HEX]\n"
	"                   [--record FILE (--state-root HEX | --header FILE)]\n"
	"      Verify a disclosure against a commitment, or against the record's\n"
	"      state proof (JSON {key, value, proof} in hex) and a state root or an\n"
	"      encoded block header (binary or hex). The header itself must come\n"
	"      from a source you verified (danshari query checks its certificate).\n"
	"  consent --key SUBJECT.key --subject HEX --record ID --grantee ORG\n"
	"          --expiry-ms T [--chain-id ID] [--purpose TEXT] [--out FILE]\n"
	"      Sign the subject's consent that ORG may read record ID until T.\n"
	"  check-consent --consent FILE --pk HEX [--now-ms T]\n"
	"      Verify a consent against the subject's registered public key.\n"
	"\n"
	"Transactions (unsigned contract calls to credit.lua; sign with\n"
	"'danshari tx sign --key FILE', submit with POST /v1/tx):\n"
	"  bind-subject --subject HEX --pk HEX --kind person|org --key-id N\n"
	"  issue --subject HEX --category C --severity N --region R --expiry-ms T\n"
	"        (--commitment HEX | --details DETAILS) [--issued-ms T]\n"
	"  correct --record ID --reason TEXT [--commitment HEX | --details DETAILS]\n"
	"          [--severity N] [--expiry-ms T]\n"
	"  revoke|appeal|erase --record ID --reason TEXT\n"
	"  expire --record ID\n"
	"  grant --consent CONSENT [--record ID] [--now-ms T]\n"
	"      (the subject's signed consent, checked here: forged or expired is refused)\n"
	"  grant --record ID --grantee ORG --expiry-ms T --basis consent|legal\n"
	"        [--legal-ref REF] [--purpose TEXT]\n"
	"  access --record ID [--purpose TEXT]\n"
	"  each also takes: --chain-id ID (--sender PUBHEX | --key FILE)\n"
	"                   --expiry-height H [--nonce N] [--out FILE] [--hex 1]\n"
	"\n"
	"Exit status: 0 success, 1 failure (bad signature, proof, file), 2 usage.\n";

/* ---- options ------------------------------------------------------------ */

struct opt {
	const char *name;
	const char *val;
};

/* Parses --name VALUE / --name=VALUE for the names in o. Returns 0 or 2. */
static int opts(const char *sub, int argc, char **argv, struct opt *o, size_t n)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0)
			return ds_cli_usage(CMD, "%s: unexpected argument '%s'", sub, a);
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		struct opt *hit = NULL;
		for (size_t k = 0; k < n; k++)
			if (strlen(o[k].name) == len && strncmp(o[k].name, a + 2, len) == 0)
				hit = &o[k];
		if (!hit)
			return ds_cli_usage(CMD, "%s: unknown option '%.*s'", sub, (int)(len + 2), a);
		if (hit->val)
			return ds_cli_usage(CMD, "%s: option --%s given twice", sub, hit->name);
		if (eq) {
			hit->val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return ds_cli_usage(CMD, "%s: option --%s needs a value", sub, hit->name);
			hit->val = argv[++i];
		}
	}
	return 0;
}

static int need(const char *sub, const struct opt *o)
{
	if (!o->val || !o->val[0])
		return ds_cli_usage(CMD, "%s: --%s is required", sub, o->name);
	return 0;
}

static int parse_u64(uint64_t *out, const char *s)
{
	uint64_t v = 0;
	if (!s[0] || (s[0] == '0' && s[1]))
		return DS_EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return DS_EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

static int hex32(uint8_t out[32], const char *s)
{
	return s && strlen(s) == 64 ? ds_hex_decode(out, 32, s, 64) : DS_EINVAL;
}

static json_t *load_json(const char *path, char *err, size_t cap)
{
	uint8_t *p;
	size_t n;
	int rc = ds_file_read(&p, &n, path, JSON_FILE_MAX);
	if (rc) {
		snprintf(err, cap, "cannot read %s: %s", path, ds_strerror(rc));
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
	ds_memzero(p, n);
	free(p);
	if (!j)
		snprintf(err, cap, "%s: not valid JSON (line %d: %s)", path, je.line, je.text);
	return j;
}

/* Writes j to path (mode, atomic, no overwrite) or stdout when path is NULL. */
static int emit_json(const char *path, json_t *j, unsigned mode)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!s)
		return ds_cli_fail(CMD, "out of memory");
	int rc = 0;
	if (path) {
		size_t n = strlen(s);
		s[n] = '\n'; /* json_dumps leaves room for the NUL: reuse it */
		int w = ds_file_write_atomic(path, s, n + 1, mode, 1);
		ds_memzero(s, n + 1);
		if (w)
			rc = ds_cli_fail(CMD, "cannot write %s: %s", path, ds_strerror(w));
	} else {
		puts(s);
		ds_memzero(s, strlen(s));
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
	free(s);
	return rc;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- subject keys and ids -------------------------------------------- */

static int load_subject_key(struct ds_privacy_subject_key *k, const char *path)
{
	struct stat st;
	uint8_t *p;
	size_t n;
	if (stat(path, &st) != 0)
		return ds_cli_fail(CMD, "cannot read %s", path);
	if (st.st_mode & 077)
		return ds_cli_fail(CMD, "%s is readable by others: chmod 600 it (it is the consortium subject key)", path);
	int rc = ds_file_read(&p, &n, path, DS_PRIV_SUBJECT_KEY_FILE_MAX);
	if (rc)
		return ds_cli_fail(CMD, "cannot read %s: %s", path, ds_strerror(rc));
	rc = ds_privacy_subject_key_parse(k, p, n);
	ds_memzero(p, n);
	free(p);
	if (rc == DS_ETAG)
		return ds_cli_fail(CMD, "%s is not a danshari subject key file", path);
	if (rc)
		return ds_cli_fail(CMD, "%s: malformed subject key file", path);
	return 0;
}

static int cmd_subject_key(int argc, char **argv)
{
	struct opt o[] = {{"out", NULL}, {"key-id", NULL}};
	int rc = opts("subject-key", argc, argv, o, 2);
	if (rc || (rc = need("subject-key", &o[0])))
		return rc;
	uint64_t id = 1;
	if (o[1].val && (parse_u64(&id, o[1].val) || id == 0 || id > UINT32_MAX))
		return ds_cli_usage(CMD, "subject-key: --key-id must be 1..4294967295");
	struct ds_privacy_subject_key k = {.key_id = (uint32_t)id};
	char text[DS_PRIV_SUBJECT_KEY_FILE_MAX];
	size_t len;
	ds_random(k.key, sizeof(k.key));
	rc = ds_privacy_subject_key_format(text, sizeof(text), &len, &k);
	DS_ASSERT(rc == 0);
	rc = ds_file_write_atomic(o[0].val, text, len, 0600, 1);
	ds_memzero(text, sizeof(text));
	ds_memzero(&k, sizeof(k));
	if (rc)
		return ds_cli_fail(CMD, "cannot write %s: %s", o[0].val,
				   rc == DS_EEXIST ? "file exists" : ds_strerror(rc));
	printf("key-id %llu\n", (unsigned long long)id);
	return 0;
}

static int cmd_subject_id(int argc, char **argv)
{
	struct opt o[] = {{"key", NULL}, {"kind", NULL}, {"id", NULL}, {"id-file", NULL}};
	int rc = opts("subject-id", argc, argv, o, 4);
	if (rc || (rc = need("subject-id", &o[0])) || (rc = need("subject-id", &o[1])))
		return rc;
	if (!o[2].val == !o[3].val)
		return ds_cli_usage(CMD, "subject-id: give exactly one of --id and --id-file");
	if (strcmp(o[1].val, "person") != 0 && strcmp(o[1].val, "org") != 0)
		return ds_cli_usage(CMD, "subject-id: --kind must be person or org");
	struct ds_privacy_subject_key k;
	if (load_subject_key(&k, o[0].val))
		return 1;
	char idbuf[4 * DS_PRIV_NATID_MAX + 2];
	const char *natid = o[2].val;
	if (o[3].val) {
		uint8_t *p;
		size_t n;
		rc = ds_file_read(&p, &n, o[3].val, sizeof(idbuf) - 1);
		if (rc) {
			ds_memzero(&k, sizeof(k));
			return ds_cli_fail(CMD, "cannot read %s: %s", o[3].val, ds_strerror(rc));
		}
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		memcpy(idbuf, p, n);
		idbuf[n] = 0;
		ds_memzero(p, n);
		free(p);
		natid = idbuf;
	}
	uint8_t sid[32];
	rc = ds_privacy_subject_id(sid, &k, o[1].val, natid);
	ds_memzero(&k, sizeof(k));
	ds_memzero(idbuf, sizeof(idbuf));
	if (rc)
		return ds_cli_fail(CMD, "malformed national id: expected 1..%d of 0-9 A-Z (spaces and '-' ignored)",
				   DS_PRIV_NATID_MAX);
	char hex[65];
	ds_hex_encode(hex, sid, 32);
	printf("%s\n", hex);
	return 0;
}

/* ---- details files ------------------------------------------------------ */

/* A details file held in memory: the JSON (owning the strings) and fields
 * borrowing it. */
struct details {
	json_t *j;
	struct ds_privacy_field f[DS_PRIV_FIELDS_MAX];
	size_t n;
	uint8_t commitment[32];
	bool has_commitment;
};

static int details_load(struct details *d, const char *path)
{
	char err[512];
	memset(d, 0, sizeof(*d));
	d->j = load_json(path, err, sizeof(err));
	if (!d->j)
		return ds_cli_fail(CMD, "%s", err);
	json_t *fs = json_object_get(d->j, "fields");
	json_t *v = json_object_get(d->j, "version");
	if (!json_is_object(d->j) || !json_is_integer(v) || json_integer_value(v) != 1 ||
	    !json_is_array(fs))
		return ds_cli_fail(CMD, "%s: not a version 1 details file", path);
	if (json_array_size(fs) == 0 || json_array_size(fs) > DS_PRIV_FIELDS_MAX)
		return ds_cli_fail(CMD, "%s: 1..%d fields expected", path, DS_PRIV_FIELDS_MAX);
	for (size_t i = 0; i < json_array_size(fs); i++) {
		json_t *e = json_array_get(fs, i);
		const char *name = jstr(e, "name"), *val = jstr(e, "value"), *salt = jstr(e, "salt");
		if (!name || !val || !salt || hex32(d->f[i].salt, salt))
			return ds_cli_fail(CMD, "%s: field %zu needs name, value and a 64-hex salt", path, i);
		d->f[i].name = name;
		d->f[i].name_len = strlen(name);
		d->f[i].value = (const uint8_t *)val;
		d->f[i].value_len = json_string_length(json_object_get(e, "value"));
	}
	d->n = json_array_size(fs);
	if (ds_privacy_fields_check(d->f, d->n))
		return ds_cli_fail(CMD, "%s: field names must be unique, sorted, [a-z0-9_.]; values UTF-8 <= %d bytes",
				   path, DS_PRIV_VALUE_MAX);
	const char *c = jstr(d->j, "commitment");
	if (c) {
		if (hex32(d->commitment, c))
			return ds_cli_fail(CMD, "%s: commitment must be 64 hex digits", path);
		d->has_commitment = true;
	}
	return 0;
}

static void details_free(struct details *d)
{
	json_decref(d->j);
	ds_memzero(d, sizeof(*d));
}

static int cmd_commit(int argc, char **argv)
{
	struct opt o[] = {{"fields", NULL}, {"out", NULL}};
	int rc = opts("commit", argc, argv, o, 2);
	if (rc || (rc = need("commit", &o[0])) || (rc = need("commit", &o[1])))
		return rc;
	char err[512];
	json_t *in = load_json(o[0].val, err, sizeof(err));
	if (!in)
		return ds_cli_fail(CMD, "%s", err);
	struct ds_privacy_field f[DS_PRIV_FIELDS_MAX];
	size_t n = 0;
	const char *key;
	json_t *val;
	json_t *out = NULL;
	rc = 1;
	if (!json_is_object(in) || json_object_size(in) == 0 || json_object_size(in) > DS_PRIV_FIELDS_MAX) {
		ds_cli_fail(CMD, "%s: expected a JSON object of 1..%d string fields", o[0].val, DS_PRIV_FIELDS_MAX);
		goto done;
	}
	json_object_foreach(in, key, val) {
		if (!json_is_string(val)) {
			ds_cli_fail(CMD, "%s: field '%s' is not a string", o[0].val, key);
			goto done;
		}
		f[n] = (struct ds_privacy_field){key, strlen(key), (const uint8_t *)json_string_value(val),
						 json_string_length(val), {0}};
		n++;
	}
	ds_privacy_fields_salt(f, n);
	uint8_t root[32];
	if (ds_privacy_fields_sort(f, n) || ds_privacy_commitment(root, f, n)) {
		ds_cli_fail(CMD, "%s: field names must be 1..%d of [a-z0-9_.]; values UTF-8 without NUL, <= %d bytes",
			    o[0].val, DS_PRIV_NAME_MAX, DS_PRIV_VALUE_MAX);
		goto done;
	}
	char hex[65];
	out = json_object();
	json_t *arr = json_array();
	json_object_set_new(out, "version", json_integer(1));
	json_object_set_new(out, "fields", arr);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_object();
		ds_hex_encode(hex, f[i].salt, 32);
		json_object_set_new(e, "name", json_stringn(f[i].name, f[i].name_len));
		json_object_set_new(e, "value", json_stringn((const char *)f[i].value, f[i].value_len));
		json_object_set_new(e, "salt", json_string(hex));
		json_array_append_new(arr, e);
	}
	ds_hex_encode(hex, root, 32);
	json_object_set_new(out, "commitment", json_string(hex));
	rc = emit_json(o[1].val, out, 0600);
	if (rc == 0)
		printf("%s\n", hex);
done:
	ds_memzero(f, sizeof(f));
	json_decref(out);
	json_decref(in);
	return rc;
}

/* Recomputes d's commitment; checks it against the file's and against
 * want (may be NULL). */
static int details_verify(const struct details *d, const char *path, const uint8_t *want,
			  uint8_t root[32])
{
	int rc = ds_privacy_commitment(root, d->f, d->n);
	DS_ASSERT(rc == 0); /* details_load checked the fields */
	if (d->has_commitment && !ds_memeq_ct(root, d->commitment, 32))
		return ds_cli_fail(CMD, "%s: details do not match their commitment (tampered?)", path);
	if (want && !ds_memeq_ct(root, want, 32))
		return ds_cli_fail(CMD, "%s: details do not match the given commitment", path);
	return 0;
}

static int cmd_check_details(int argc, char **argv)
{
	struct opt o[] = {{"details", NULL}, {"commitment", NULL}};
	int rc = opts("check-details", argc, argv, o, 2);
	if (rc || (rc = need("check-details", &o[0])))
		return rc;
	uint8_t want[32], root[32];
	if (o[1].val && hex32(want, o[1].val))
		return ds_cli_usage(CMD, "check-details: --commitment must be 64 hex digits");
	struct details d;
	rc = details_load(&d, o[0].val) || details_verify(&d, o[0].val, o[1].val ? want : NULL, root);
	details_free(&d);
	if (rc)
		return 1;
	char hex[65];
	ds_hex_encode(hex, root, 32);
	printf("verified %s\n", hex);
	return 0;
}

static int cmd_disclose(int argc, char **argv)
{
	struct opt o[] = {{"details", NULL}, {"field", NULL}, {"out", NULL}};
	int rc = opts("disclose", argc, argv, o, 3);
	if (rc || (rc = need("disclose", &o[0])) || (rc = need("disclose", &o[1])))
		return rc;
	struct details d;
	uint8_t root[32];
	struct ds_privacy_disclosure disc;
	if (details_load(&d, o[0].val) || details_verify(&d, o[0].val, NULL, root)) {
		details_free(&d);
		return 1;
	}
	rc = ds_privacy_disclose(&disc, d.f, d.n, o[1].val, strlen(o[1].val));
	if (rc) {
		details_free(&d);
		return ds_cli_fail(CMD, "%s has no field '%s'", o[0].val, o[1].val);
	}
	char hex[65];
	json_t *out = json_object(), *path = json_array();
	json_object_set_new(out, "version", json_integer(1));
	ds_hex_encode(hex, root, 32);
	json_object_set_new(out, "commitment", json_string(hex));
	json_object_set_new(out, "name", json_stringn(disc.field.name, disc.field.name_len));
	json_object_set_new(out, "value", json_stringn((const char *)disc.field.value, disc.field.value_len));
	ds_hex_encode(hex, disc.field.salt, 32);
	json_object_set_new(out, "salt", json_string(hex));
	json_object_set_new(out, "index", json_integer((json_int_t)disc.index));
	json_object_set_new(out, "count", json_integer((json_int_t)disc.count));
	for (size_t i = 0; i < disc.path_len; i++) {
		ds_hex_encode(hex, disc.path[i], 32);
		json_array_append_new(path, json_string(hex));
	}
	json_object_set_new(out, "path", path);
	rc = emit_json(o[2].val, out, 0600);
	json_decref(out);
	details_free(&d);
	return rc;
}

/* ---- checking a disclosure --------------------------------------------- */

static int jhex_alloc(uint8_t **out, size_t *len, const json_t *o, const char *k, size_t max)
{
	const char *s = jstr(o, k);
	*out = NULL;
	if (!s || strlen(s) % 2 || strlen(s) / 2 > max)
		return DS_EINVAL;
	*len = strlen(s) / 2;
	*out = malloc(*len + 1);
	if (!*out)
		return DS_ENOMEM;
	if (ds_hex_decode(*out, *len, s, 2 * *len)) {
		free(*out);
		*out = NULL;
		return DS_EINVAL;
	}
	return 0;
}

/* The record's commitment, proven by its state proof against root. */
static int record_commitment(uint8_t out[32], const char *path, const uint8_t root[32])
{
	char err[512];
	json_t *j = load_json(path, err, sizeof(err));
	if (!j)
		return ds_cli_fail(CMD, "%s", err);
	uint8_t *key = NULL, *val = NULL, *proof = NULL;
	size_t kl = 0, vl = 0, pl = 0;
	int rc = 1;
	struct ds_smt_proof *sp = malloc(sizeof(*sp));
	if (!sp) {
		ds_cli_fail(CMD, "out of memory");
		goto done;
	}
	if (jhex_alloc(&key, &kl, j, "key", 1024) || jhex_alloc(&val, &vl, j, "value", 1u << 20) ||
	    jhex_alloc(&proof, &pl, j, "proof", DS_SMT_PROOF_ENC_MAX)) {
		ds_cli_fail(CMD, "%s: expected {\"key\", \"value\", \"proof\"} as hex strings", path);
		goto done;
	}
	if (ds_smt_proof_decode(sp, proof, pl)) {
		ds_cli_fail(CMD, "%s: malformed state proof", path);
		goto done;
	}
	if (ds_smt_verify(root, key, kl, val, vl, sp)) {
		ds_cli_fail(CMD, "%s: the state proof does not verify against the state root", path);
		goto done;
	}
	struct ds_value rec, c;
	if (ds_value_parse(&rec, val, vl) || ds_value_map_get(&c, &rec, "commitment", 10) ||
	    c.kind != DS_VALUE_STR || c.len != 64 || ds_hex_decode(out, 32, (const char *)c.p, 64)) {
		ds_cli_fail(CMD, "%s: the proven value is not a credit record with a commitment", path);
		goto done;
	}
	struct ds_value st;
	if (ds_value_map_get(&st, &rec, "status", 6) == 0 && st.kind == DS_VALUE_STR)
		fprintf(stderr, "record status: %.*s\n", (int)st.len, (const char *)st.p);
	rc = 0;
done:
	free(key);
	free(val);
	free(proof);
	free(sp);
	json_decref(j);
	return rc;
}

static int header_state_root(uint8_t root[32], const char *path)
{
	uint8_t *p, bin[DS_HEADER_MAX];
	size_t n, bl;
	int rc = ds_file_read(&p, &n, path, 2 * DS_HEADER_MAX + 2);
	if (rc)
		return ds_cli_fail(CMD, "cannot read %s: %s", path, ds_strerror(rc));
	const uint8_t *h = p;
	bl = n;
	/* A binary header starts with version 0x01, never a hex digit. */
	if (n > 0 && p[0] != 0x01) {
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		if (n % 2 || n / 2 > sizeof(bin) || ds_hex_decode(bin, n / 2, (const char *)p, n)) {
			free(p);
			return ds_cli_fail(CMD, "%s: neither a binary nor a hex block header", path);
		}
		h = bin;
		bl = n / 2;
	}
	struct ds_header hd;
	rc = ds_header_decode(&hd, h, bl);
	free(p);
	if (rc)
		return ds_cli_fail(CMD, "%s: malformed block header: %s", path, ds_strerror(rc));
	memcpy(root, hd.state_root, 32);
	fprintf(stderr, "header: chain %s height %llu, state after height %llu\n", hd.chain_id,
		(unsigned long long)hd.height, (unsigned long long)hd.exec_height);
	return 0;
}

static int cmd_check_disclosure(int argc, char **argv)
{
	struct opt o[] = {{"disclosure", NULL}, {"commitment", NULL}, {"record", NULL},
			  {"state-root", NULL}, {"header", NULL}};
	int rc = opts("check-disclosure", argc, argv, o, 5);
	if (rc || (rc = need("check-disclosure", &o[0])))
		return rc;
	uint8_t want[32], root[32], sroot[32];
	if (o[1].val && hex32(want, o[1].val))
		return ds_cli_usage(CMD, "check-disclosure: --commitment must be 64 hex digits");
	if (o[2].val && !o[3].val == !o[4].val)
		return ds_cli_usage(CMD, "check-disclosure: --record needs exactly one of --state-root and --header");
	if (!o[2].val && (o[3].val || o[4].val))
		return ds_cli_usage(CMD, "check-disclosure: --state-root/--header need --record");
	if (o[3].val && hex32(sroot, o[3].val))
		return ds_cli_usage(CMD, "check-disclosure: --state-root must be 64 hex digits");
	if (o[4].val && header_state_root(sroot, o[4].val))
		return 1;

	char err[512];
	json_t *j = load_json(o[0].val, err, sizeof(err));
	if (!j)
		return ds_cli_fail(CMD, "%s", err);
	struct ds_privacy_disclosure d;
	memset(&d, 0, sizeof(d));
	json_t *path = json_object_get(j, "path");
	json_t *v = json_object_get(j, "version");
	const char *name = jstr(j, "name"), *val = jstr(j, "value");
	json_t *idx = json_object_get(j, "index"), *cnt = json_object_get(j, "count");
	rc = 1;
	if (!json_is_integer(v) || json_integer_value(v) != 1 || !name || !val ||
	    hex32(d.field.salt, jstr(j, "salt")) || !json_is_integer(idx) || !json_is_integer(cnt) ||
	    json_integer_value(idx) < 0 || json_integer_value(cnt) < 1 ||
	    json_integer_value(cnt) > DS_PRIV_FIELDS_MAX || !json_is_array(path) ||
	    json_array_size(path) > DS_MERKLE_INCL_MAX || hex32(root, jstr(j, "commitment"))) {
		ds_cli_fail(CMD, "%s: not a version 1 disclosure", o[0].val);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(path); i++) {
		if (hex32(d.path[i], json_string_value(json_array_get(path, i)))) {
			ds_cli_fail(CMD, "%s: path entries must be 64 hex digits", o[0].val);
			goto done;
		}
	}
	d.field.name = name;
	d.field.name_len = strlen(name);
	d.field.value = (const uint8_t *)val;
	d.field.value_len = json_string_length(json_object_get(j, "value"));
	d.index = (uint64_t)json_integer_value(idx);
	d.count = (uint64_t)json_integer_value(cnt);
	d.path_len = json_array_size(path);
	if (o[1].val && !ds_memeq_ct(want, root, 32)) {
		ds_cli_fail(CMD, "the disclosure is for commitment %s, not the one given", jstr(j, "commitment"));
		goto done;
	}
	if (o[2].val) {
		uint8_t rc_commit[32];
		if (record_commitment(rc_commit, o[2].val, sroot))
			goto done;
		if (!ds_memeq_ct(rc_commit, root, 32)) {
			ds_cli_fail(CMD, "the proven record has another commitment: stale or foreign disclosure");
			goto done;
		}
	}
	int vr = ds_privacy_disclosure_verify(root, &d);
	if (vr) {
		ds_cli_fail(CMD, "disclosure of '%s' does not verify against commitment %s (%s)", name,
			    jstr(j, "commitment"), vr == DS_EINVAL ? "malformed field" : "tampered value, salt or proof");
		goto done;
	}
	printf("verified %s=%s (commitment %s%s)\n", name, val, jstr(j, "commitment"),
	       o[2].val ? ", record proven against the state root" : (o[1].val ? "" : ", not anchored: pass --commitment or --record"));
	rc = 0;
done:
	json_decref(j);
	return rc;
}

/* ---- consents ----------------------------------------------------------- */

static int cmd_consent(int argc, char **argv)
{
	struct opt o[] = {{"key", NULL},	  {"subject", NULL}, {"record", NULL},
			  {"grantee", NULL},	  {"expiry-ms", NULL}, {"chain-id", NULL},
			  {"purpose", NULL},	  {"out", NULL}};
	int rc = opts("consent", argc, argv, o, 8);
	for (size_t i = 0; rc == 0 && i < 5; i++)
		rc = need("consent", &o[i]);
	if (rc)
		return rc;
	struct ds_privacy_consent c = {.chain_id = o[5].val ? o[5].val : "danshari",
				       .record = o[2].val, .grantee = o[3].val,
				       .purpose = o[6].val ? o[6].val : ""};
	if (hex32(c.subject, o[1].val))
		return ds_cli_usage(CMD, "consent: --subject must be 64 hex digits");
	if (parse_u64(&c.expiry_ms, o[4].val))
		return ds_cli_usage(CMD, "consent: --expiry-ms must be a decimal integer");
	if (c.expiry_ms <= ds_now_ms())
		return ds_cli_fail(CMD, "consent: --expiry-ms is in the past");
	struct ds_key key;
	char err[DS_KEYFILE_ERR_MAX];
	if (ds_keyfile_load(&key, o[0].val, err, sizeof(err)))
		return ds_cli_fail(CMD, "%s", err);
	uint8_t sig[64];
	rc = ds_privacy_consent_sign(sig, &c, key.sk);
	char pk[65], sighex[129];
	ds_keyfile_pk_to_hex(pk, key.pk);
	ds_keyfile_wipe(&key);
	if (rc)
		return ds_cli_fail(CMD, "consent: record, grantee, chain id and purpose must be UTF-8, at most %d bytes",
				   DS_PRIV_ID_MAX);
	ds_hex_encode(sighex, sig, 64);
	json_t *out = json_object();
	json_object_set_new(out, "version", json_integer(1));
	json_object_set_new(out, "chain_id", json_string(c.chain_id));
	json_object_set_new(out, "subject", json_string(o[1].val));
	json_object_set_new(out, "record", json_string(c.record));
	json_object_set_new(out, "grantee", json_string(c.grantee));
	json_object_set_new(out, "purpose", json_string(c.purpose));
	json_object_set_new(out, "expiry_ms", json_integer((json_int_t)c.expiry_ms));
	json_object_set_new(out, "pk", json_string(pk));
	json_object_set_new(out, "sig", json_string(sighex));
	rc = emit_json(o[7].val, out, 0644);
	json_decref(out);
	return rc;
}

static int cmd_check_consent(int argc, char **argv)
{
	struct opt o[] = {{"consent", NULL}, {"pk", NULL}, {"now-ms", NULL}};
	int rc = opts("check-consent", argc, argv, o, 3);
	if (rc || (rc = need("check-consent", &o[0])) || (rc = need("check-consent", &o[1])))
		return rc;
	uint8_t pk[32], sig[64];
	uint64_t now = ds_now_ms();
	if (ds_keyfile_pk_from_hex(pk, o[1].val))
		return ds_cli_usage(CMD, "check-consent: --pk must be 64 hex digits");
	if (o[2].val && parse_u64(&now, o[2].val))
		return ds_cli_usage(CMD, "check-consent: --now-ms must be a decimal integer");
	char err[512];
	json_t *j = load_json(o[0].val, err, sizeof(err));
	if (!j)
		return ds_cli_fail(CMD, "%s", err);
	struct ds_privacy_consent c = {.chain_id = jstr(j, "chain_id"), .record = jstr(j, "record"),
				       .grantee = jstr(j, "grantee"), .purpose = jstr(j, "purpose")};
	json_t *e = json_object_get(j, "expiry_ms");
	const char *sh = jstr(j, "sig");
	rc = 1;
	if (!c.chain_id || !c.record || !c.grantee || !c.purpose || !json_is_integer(e) ||
	    json_integer_value(e) < 0 || hex32(c.subject, jstr(j, "subject")) || !sh ||
	    strlen(sh) != 128 || ds_hex_decode(sig, 64, sh, 128)) {
		ds_cli_fail(CMD, "%s: not a consent file", o[0].val);
		goto done;
	}
	c.expiry_ms = (uint64_t)json_integer_value(e);
	int vr = ds_privacy_consent_verify(&c, sig, 64, pk, 32, now);
	if (vr == DS_ESIG)
		ds_cli_fail(CMD, "forged consent: the signature is not the subject key's");
	else if (vr == DS_EEXPIRED)
		ds_cli_fail(CMD, "expired consent (expiry_ms %llu <= now %llu)",
			    (unsigned long long)c.expiry_ms, (unsigned long long)now);
	else if (vr)
		ds_cli_fail(CMD, "%s: malformed consent", o[0].val);
	else {
		printf("verified consent of %s for %s to read %s until %llu\n", jstr(j, "subject"), c.grantee,
		       c.record, (unsigned long long)c.expiry_ms);
		rc = 0;
	}
done:
	json_decref(j);
	return rc;
}

/* ---- contract-call transactions (unsigned, for danshari tx sign) -------- */

/* Options every transaction subcommand takes, after its own. */
#define TXO_CHAIN 0
#define TXO_SENDER 1
#define TXO_KEY 2
#define TXO_EXPIRY 3
#define TXO_NONCE 4
#define TXO_OUT 5
#define TXO_HEX 6
#define TXO_COUNT 7
#define TX_OPTS_MAX 20

static const char *const tx_common[TXO_COUNT] = {"chain-id", "sender", "key", "expiry-height",
						  "nonce", "out", "hex"};

/* Writes credit.<method> with args j as an unsigned transaction (body
 * encoding, like danshari tx build). c = the common options. */
static int emit_credit_tx(const char *sub, const struct opt *c, const char *method, json_t *j)
{
	struct ds_tx tx;
	struct ds_buf args;
	uint8_t *body = NULL;
	char err[256];
	int ret = 0, rc;
	bool hex = false;
	memset(&tx, 0, sizeof(tx));
	ds_buf_init(&args);
	tx.version = 1;
	if (c[TXO_HEX].val) {
		if (strcmp(c[TXO_HEX].val, "1") != 0 && strcmp(c[TXO_HEX].val, "0") != 0)
			return ds_cli_usage(CMD, "%s: --hex takes 1 or 0", sub);
		hex = c[TXO_HEX].val[0] == '1';
	}
	if (!c[TXO_CHAIN].val || !ds_ledger_chain_id_valid(c[TXO_CHAIN].val))
		return ds_cli_usage(CMD, "%s: --chain-id ID is required (1-%d of a-z 0-9 . _ -)", sub,
				    DS_CHAIN_ID_MAX);
	if (!c[TXO_EXPIRY].val || parse_u64(&tx.expiry_height, c[TXO_EXPIRY].val) != 0)
		return ds_cli_usage(CMD, "%s: --expiry-height H is required (a decimal number)", sub);
	if (!!c[TXO_SENDER].val == !!c[TXO_KEY].val)
		return ds_cli_usage(CMD, "%s: give exactly one of --sender and --key", sub);
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", c[TXO_CHAIN].val);
	snprintf(tx.target, sizeof(tx.target), "credit");
	snprintf(tx.method, sizeof(tx.method), "%s", method);
	if (c[TXO_NONCE].val) {
		if (parse_u64(&tx.nonce, c[TXO_NONCE].val) != 0)
			return ds_cli_usage(CMD, "%s: bad --nonce '%s'", sub, c[TXO_NONCE].val);
	} else {
		tx.nonce = ds_random_u64();
	}
	if (c[TXO_SENDER].val) {
		if (ds_keyfile_pk_from_hex(tx.sender, c[TXO_SENDER].val) != 0)
			return ds_cli_usage(CMD, "%s: bad --sender (64 hex digits expected)", sub);
	} else {
		struct ds_key key;
		char kerr[DS_KEYFILE_ERR_MAX + 512];
		if (ds_keyfile_load(&key, c[TXO_KEY].val, kerr, sizeof(kerr)) != 0)
			return ds_cli_fail(CMD, "%s", kerr);
		memcpy(tx.sender, key.pk, DS_PK_LEN);
		ds_keyfile_wipe(&key);
	}
	if ((rc = ds_cli_value_from_json(&args, j, err, sizeof(err))) != 0) {
		ret = ds_cli_usage(CMD, "%s: bad arguments: %s", sub, err);
		goto fail;
	}
	if (args.len > DS_TX_ARGS_MAX) {
		ret = ds_cli_fail(CMD, "%s: arguments encode to %zu bytes, more than %u", sub, args.len,
				  DS_TX_ARGS_MAX);
		goto fail;
	}
	tx.args = args.data;
	tx.args_len = args.len;
	size_t n;
	body = malloc(3 * DS_TX_MAX + 2);
	if (!body) {
		ret = ds_cli_fail(CMD, "out of memory");
		goto fail;
	}
	if ((rc = ds_tx_encode_body(body, DS_TX_MAX, &n, &tx)) != 0) {
		ret = ds_cli_fail(CMD, "%s: cannot encode the transaction: %s", sub, ds_strerror(rc));
		goto fail;
	}
	const uint8_t *data = body;
	size_t len = n;
	if (hex) {
		char *h = (char *)body + n;
		ds_hex_encode(h, body, n);
		h[2 * n] = '\n';
		data = (const uint8_t *)h;
		len = 2 * n + 1;
	}
	if (c[TXO_OUT].val && strcmp(c[TXO_OUT].val, "-") != 0) {
		rc = ds_file_write_atomic(c[TXO_OUT].val, data, len, 0644, 0);
		if (rc)
			ret = ds_cli_fail(CMD, "cannot write %s: %s", c[TXO_OUT].val, ds_strerror(rc));
	} else if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		ret = ds_cli_fail(CMD, "cannot write to stdout");
	}
fail:
	free(body);
	ds_buf_free(&args);
	return ret;
}

/* Parses own options o[0..n) followed by the common ones. */
static int tx_opts(const char *sub, int argc, char **argv, struct opt *all, const char *const *own,
		   size_t n)
{
	DS_ASSERT(n + TXO_COUNT <= TX_OPTS_MAX);
	for (size_t i = 0; i < n; i++)
		all[i] = (struct opt){own[i], NULL};
	for (size_t i = 0; i < TXO_COUNT; i++)
		all[n + i] = (struct opt){tx_common[i], NULL};
	return opts(sub, argc, argv, all, n + TXO_COUNT);
}

static int set_text(json_t *j, const char *sub, const char *k, const char *v, size_t max)
{
	size_t n = strlen(v);
	if (n == 0 || n > max || !ds_utf8_valid((const uint8_t *)v, n))
		return ds_cli_usage(CMD, "%s: --%s must be 1..%zu bytes of UTF-8", sub, k, max);
	json_object_set_new(j, k, json_string(v));
	return 0;
}

static int set_u64(json_t *j, const char *sub, const char *k, const char *v, uint64_t max)
{
	uint64_t x;
	if (parse_u64(&x, v) != 0 || x > max)
		return ds_cli_usage(CMD, "%s: --%s must be a decimal integer <= %llu", sub, k,
				    (unsigned long long)max);
	char name[32];
	snprintf(name, sizeof(name), "%s", k);
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	json_object_set_new(j, name, json_integer((json_int_t)x));
	return 0;
}

static int set_hex32(json_t *j, const char *sub, const char *k, const char *v)
{
	uint8_t b[32];
	bool lower = true;
	for (const char *p = v; *p; p++)
		lower = lower && !(*p >= 'A' && *p <= 'F');
	if (hex32(b, v) != 0 || !lower)
		return ds_cli_usage(CMD, "%s: --%s must be 64 lowercase hex digits", sub, k);
	json_object_set_new(j, k, json_string(v));
	return 0;
}

/* The commitment of a details file (danshari credit commit --out), checked
 * by recomputing it from the fields. */
static int commitment_of_details(json_t *j, const char *sub, const char *path)
{
	struct details d;
	uint8_t root[DS_HASH_LEN];
	char hex[2 * DS_HASH_LEN + 1];
	int rc = details_load(&d, path);
	if (rc) {
		details_free(&d);
		return rc;
	}
	rc = ds_privacy_commitment(root, d.f, d.n);
	details_free(&d);
	if (rc)
		return ds_cli_fail(CMD, "%s: %s: fields refused: %s", sub, path, ds_strerror(rc));
	ds_hex_encode(hex, root, DS_HASH_LEN);
	json_object_set_new(j, "commitment", json_string(hex));
	return 0;
}

#define INT_MAX_JSON ((uint64_t)INT64_MAX)

static int tx_issue(int argc, char **argv)
{
	static const char *const own[] = {"subject", "category", "severity", "region",
					  "expiry-ms", "commitment", "details", "issued-ms"};
	struct opt o[TX_OPTS_MAX];
	int rc = tx_opts("issue", argc, argv, o, own, DS_ARRAY_LEN(own));
	if (rc)
		return rc;
	if ((rc = need("issue", &o[0])) || (rc = need("issue", &o[1])) || (rc = need("issue", &o[2])) ||
	    (rc = need("issue", &o[3])) || (rc = need("issue", &o[4])))
		return rc;
	if (!!o[5].val == !!o[6].val)
		return ds_cli_usage(CMD, "issue: give exactly one of --commitment and --details");
	json_t *j = json_object();
	if (!j)
		return ds_cli_fail(CMD, "out of memory");
	if ((rc = set_hex32(j, "issue", "subject", o[0].val)) ||
	    (rc = set_text(j, "issue", "category", o[1].val, 64)) ||
	    (rc = set_u64(j, "issue", "severity", o[2].val, 1000000)) ||
	    (rc = set_text(j, "issue", "region", o[3].val, 32)) ||
	    (rc = set_u64(j, "issue", "expiry-ms", o[4].val, INT_MAX_JSON)) ||
	    (rc = o[5].val ? set_hex32(j, "issue", "commitment", o[5].val)
			   : commitment_of_details(j, "issue", o[6].val)) ||
	    (o[7].val && (rc = set_u64(j, "issue", "issued-ms", o[7].val, INT_MAX_JSON))))
		goto out;
	rc = emit_credit_tx("issue", o + DS_ARRAY_LEN(own), "issue", j);
out:
	json_decref(j);
	return rc;
}

static int tx_correct(int argc, char **argv)
{
	static const char *const own[] = {"record", "reason", "commitment", "details", "severity",
					  "expiry-ms"};
	struct opt o[TX_OPTS_MAX];
	int rc = tx_opts("correct", argc, argv, o, own, DS_ARRAY_LEN(own));
	if (rc || (rc = need("correct", &o[0])) || (rc = need("correct", &o[1])))
		return rc;
	if (o[2].val && o[3].val)
		return ds_cli_usage(CMD, "correct: give at most one of --commitment and --details");
	if (!o[2].val && !o[3].val && !o[4].val && !o[5].val)
		return ds_cli_usage(CMD, "correct: nothing to correct (--details, --commitment, --severity or --expiry-ms)");
	json_t *j = json_object();
	if (!j)
		return ds_cli_fail(CMD, "out of memory");
	if ((rc = set_text(j, "correct", "record", o[0].val, 128)) ||
	    (rc = set_text(j, "correct", "reason", o[1].val, 512)) ||
	    (o[2].val && (rc = set_hex32(j, "correct", "commitment", o[2].val))) ||
	    (o[3].val && (rc = commitment_of_details(j, "correct", o[3].val))) ||
	    (o[4].val && (rc = set_u64(j, "correct", "severity", o[4].val, 1000000))) ||
	    (o[5].val && (rc = set_u64(j, "correct", "expiry-ms", o[5].val, INT_MAX_JSON))))
		goto out;
	rc = emit_credit_tx("correct", o + DS_ARRAY_LEN(own), "correct", j);
out:
	json_decref(j);
	return rc;
}

/* revoke, appeal, erase: {record, reason}; expire: {record}. */
static int tx_record_reason(const char *method, bool with_reason, int argc, char **argv)
{
	static const char *const own[] = {"record", "reason"};
	size_t nown = with_reason ? 2 : 1;
	struct opt o[TX_OPTS_MAX];
	int rc = tx_opts(method, argc, argv, o, own, nown);
	if (rc || (rc = need(method, &o[0])) || (with_reason && (rc = need(method, &o[1]))))
		return rc;
	json_t *j = json_object();
	if (!j)
		return ds_cli_fail(CMD, "out of memory");
	if ((rc = set_text(j, method, "record", o[0].val, 128)) ||
	    (with_reason && (rc = set_text(j, method, "reason", o[1].val, 512))))
		goto out;
	rc = emit_credit_tx(method, o + nown, method, j);
out:
	json_decref(j);
	return rc;
}

static int tx_revoke(int argc, char **argv)
{
	return tx_record_reason("revoke", true, argc, argv);
}
static int tx_appeal(int argc, char **argv)
{
	return tx_record_reason("appeal", true, argc, argv);
}
static int tx_erase(int argc, char **argv)
{
	return tx_record_reason("erase", true, argc, argv);
}
static int tx_expire(int argc, char **argv)
{
	return tx_record_reason("expire", false, argc, argv);
}

static int tx_access(int argc, char **argv)
{
	static const char *const own[] = {"record", "purpose"};
	struct opt o[TX_OPTS_MAX];
	int rc = tx_opts("access", argc, argv, o, own, DS_ARRAY_LEN(own));
	if (rc || (rc = need("access", &o[0])))
		return rc;
	json_t *j = json_object();
	if (!j)
		return ds_cli_fail(CMD, "out of memory");
	if ((rc = set_text(j, "access", "record", o[0].val, 128)) ||
	    (o[1].val && (rc = set_text(j, "access", "purpose", o[1].val, 128))))
		goto out;
	rc = emit_credit_tx("access", o + DS_ARRAY_LEN(own), "access", j);
out:
	json_decref(j);
	return rc;
}

static int tx_bind_subject(int argc, char **argv)
{
	static const char *const own[] = {"subject", "pk", "kind", "key-id"};
	struct opt o[TX_OPTS_MAX];
	int rc = tx_opts("bind-subject", argc, argv, o, own, DS_ARRAY_LEN(own));
	if (rc)
		return rc;
	for (size_t i = 0; i < 4; i++)
		if ((rc = need("bind-subject", &o[i])))
			return rc;
	if (strcmp(o[2].val, "person") != 0 && strcmp(o[2].val, "org") != 0)
		return ds_cli_usage(CMD, "bind-subject: --kind must be person or org");
	json_t *j = json_object();
	if (!j)
		return ds_cli_fail(CMD, "out of memory");
	if ((rc = set_hex32(j, "bind-subject", "subject", o[0].val)) ||
	    (rc = set_hex32(j, "bind-subject", "pk", o[1].val)) ||
	    (rc = set_text(j, "bind-subject", "kind", o[2].val, 16)) ||
	    (rc = set_u64(j, "bind-subject", "key-id", o[3].val, UINT32_MAX)))
		goto out;
	if (json_integer_value(json_object_get(j, "key_id")) < 1) {
		rc = ds_cli_usage(CMD, "bind-subject: --key-id must be >= 1");
		goto out;
	}
	rc = emit_credit_tx("bind-subject", o + DS_ARRAY_LEN(own), "bind_subject", j);
out:
	json_decref(j);
	return rc;
}

/* grant: with --consent FILE (danshari credit consent) the subject's signed
 * consent is checked here first (forged or expired: refused before anything
 * is sent) and carried in the call; with --basis legal, --legal-ref. */
static int tx_grant(int argc, char **argv)
{
	static const char *const own[] = {"record", "grantee", "expiry-ms", "consent",
					  "basis", "legal-ref", "purpose", "now-ms"};
	struct opt o[TX_OPTS_MAX];
	json_t *cj = NULL;
	int rc = tx_opts("grant", argc, argv, o, own, DS_ARRAY_LEN(own));
	if (rc)
		return rc;
	json_t *j = json_object();
	if (!j)
		return ds_cli_fail(CMD, "out of memory");
	if (o[3].val) {
		char err[512];
		uint8_t pk[32], sig[64];
		uint64_t now = ds_now_ms();
		if (o[7].val && parse_u64(&now, o[7].val) != 0) {
			rc = ds_cli_usage(CMD, "grant: --now-ms must be a decimal integer");
			goto out;
		}
		if (o[1].val || o[2].val || o[4].val || o[5].val || o[6].val) {
			rc = ds_cli_usage(CMD, "grant: --consent carries record, grantee, expiry and purpose; give only --record to check it");
			goto out;
		}
		if (!(cj = load_json(o[3].val, err, sizeof(err)))) {
			rc = ds_cli_fail(CMD, "%s", err);
			goto out;
		}
		struct ds_privacy_consent c = {.chain_id = jstr(cj, "chain_id"), .record = jstr(cj, "record"),
					       .grantee = jstr(cj, "grantee"), .purpose = jstr(cj, "purpose")};
		json_t *e = json_object_get(cj, "expiry_ms");
		const char *sh = jstr(cj, "sig");
		if (!c.chain_id || !c.record || !c.grantee || !c.purpose || !json_is_integer(e) ||
		    json_integer_value(e) < 0 || hex32(c.subject, jstr(cj, "subject")) ||
		    hex32(pk, jstr(cj, "pk")) || !sh || strlen(sh) != 128 || ds_hex_decode(sig, 64, sh, 128)) {
			rc = ds_cli_fail(CMD, "grant: %s: not a consent file", o[3].val);
			goto out;
		}
		c.expiry_ms = (uint64_t)json_integer_value(e);
		if (o[0].val && strcmp(o[0].val, c.record) != 0) {
			rc = ds_cli_fail(CMD, "grant: the consent is for record %s, not %s", c.record, o[0].val);
			goto out;
		}
		if (o[TXO_CHAIN + DS_ARRAY_LEN(own)].val &&
		    strcmp(o[TXO_CHAIN + DS_ARRAY_LEN(own)].val, c.chain_id) != 0) {
			rc = ds_cli_fail(CMD, "grant: the consent is for chain %s", c.chain_id);
			goto out;
		}
		int vr = ds_privacy_consent_verify(&c, sig, 64, pk, 32, now);
		if (vr) {
			rc = ds_cli_fail(CMD, "grant: %s",
					 vr == DS_ESIG ? "forged consent: the signature is not the subject key's"
					 : vr == DS_EEXPIRED ? "expired consent"
							     : "malformed consent");
			goto out;
		}
		json_object_set_new(j, "record", json_string(c.record));
		json_object_set_new(j, "grantee", json_string(c.grantee));
		json_object_set_new(j, "expiry_ms", json_integer((json_int_t)c.expiry_ms));
		if (c.purpose[0])
			json_object_set_new(j, "purpose", json_string(c.purpose));
		json_object_set_new(j, "basis", json_string("consent"));
		json_object_set_new(j, "chain_id", json_string(c.chain_id));
		json_t *b = json_object();
		json_object_set_new(b, "$bytes", json_string(sh));
		json_object_set_new(j, "sig", b);
	} else {
		if ((rc = need("grant", &o[0])) || (rc = need("grant", &o[1])) || (rc = need("grant", &o[2])) ||
		    (rc = need("grant", &o[4])))
			goto out;
		if (strcmp(o[4].val, "consent") != 0 && strcmp(o[4].val, "legal") != 0) {
			rc = ds_cli_usage(CMD, "grant: --basis must be consent (sent by the subject's key) or legal");
			goto out;
		}
		if ((strcmp(o[4].val, "legal") == 0) != !!o[5].val) {
			rc = ds_cli_usage(CMD, "grant: --legal-ref is required with --basis legal and only then");
			goto out;
		}
		if ((rc = set_text(j, "grant", "record", o[0].val, 128)) ||
		    (rc = set_text(j, "grant", "grantee", o[1].val, 128)) ||
		    (rc = set_u64(j, "grant", "expiry-ms", o[2].val, INT_MAX_JSON)) ||
		    (rc = set_text(j, "grant", "basis", o[4].val, 16)) ||
		    (o[5].val && (rc = set_text(j, "grant", "legal_ref", o[5].val, 128))) ||
		    (o[6].val && (rc = set_text(j, "grant", "purpose", o[6].val, 128))))
			goto out;
	}
	rc = emit_credit_tx("grant", o + DS_ARRAY_LEN(own), "grant", j);
out:
	json_decref(cj);
	json_decref(j);
	return rc;
}

int ds_cli_credit(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{"subject-key", cmd_subject_key},   {"subject-id", cmd_subject_id},
		{"commit", cmd_commit},             {"check-details", cmd_check_details},
		{"disclose", cmd_disclose},         {"check-disclosure", cmd_check_disclosure},
		{"consent", cmd_consent},           {"check-consent", cmd_check_consent},
		{"bind-subject", tx_bind_subject},  {"issue", tx_issue},
		{"correct", tx_correct},            {"revoke", tx_revoke},
		{"appeal", tx_appeal},              {"erase", tx_erase},
		{"expire", tx_expire},              {"grant", tx_grant},
		{"access", tx_access},
	};
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(credit_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (ds_cli_wants_help(argc, argv)) {
		fputs(credit_help, stdout);
		return 0;
	}
	for (size_t i = 0; i < DS_ARRAY_LEN(subs); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	return ds_cli_usage(CMD, "unknown subcommand '%s'", argv[1]);
}
