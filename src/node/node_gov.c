/* node_gov — governance wiring of the node: genesis extras, genesis state,
 * the executor's module set, /v1/contracts and /v1/proposals. */
#include "node/node_gov.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_json.h"
#include "node/node_int.h"

#define MOD "node"

/* ------------------------------------------------------------- modules --- */

/* The 7 system modules and kv; static because the chain keeps the pointer
 * for every chain opened afterwards. */
static struct ds_exec_module g_mods[DS_EXEC_SYS_NMODULES + 1];
static pthread_once_t g_mods_once = PTHREAD_ONCE_INIT;

static void register_once(void)
{
	ds_exec_sys_modules(g_mods);
	g_mods[DS_EXEC_SYS_NMODULES] = ds_exec_kv_module;
	ds_chain_set_modules(g_mods, DS_ARRAY_LEN(g_mods), ds_exec_sys_authorize);
}

/* Once per process: several nodes of one process (tests) share the set,
 * and a chain may be executing with it while another node opens. */
void ds_chain_register_modules(void)
{
	(void)pthread_once(&g_mods_once, register_once);
}

/* ------------------------------------------------------ genesis extras --- */

static int jstr_array(json_t *a, size_t max, const char *where, const char *key, char *err, size_t cap)
{
	if (!json_is_array(a) || json_array_size(a) > max) {
		ds__node_err(err, cap, "%s: \"%s\" must be an array of at most %zu strings", where, key, max);
		return DS_EINVAL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			ds__node_err(err, cap, "%s: \"%s\"[%zu] must be a non-empty string", where, key, i);
			return DS_EINVAL;
		}
	}
	return 0;
}

/* Copies obj[key] (when present) into dst under the same key. */
static int copy_member(json_t *dst, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	return json_object_set(dst, key, v) == 0 ? 0 : DS_ENOMEM;
}

static int parse_governance(json_t *gv, char *err, size_t cap)
{
	static const struct ds__node_jfield top[] = {
		{"params", DS__NODE_JOBJ, false},
		{"accounts", DS__NODE_JARR, false},
		{"contracts", DS__NODE_JARR, false},
	};
	static const struct ds__node_jfield acc[] = {
		{"public_key", DS__NODE_JSTR, true},
		{"org", DS__NODE_JSTR, true},
		{"roles", DS__NODE_JARR, false},
	};
	static const struct ds__node_jfield con[] = {
		{"name", DS__NODE_JSTR, true},
		{"org", DS__NODE_JSTR, true},
		{"source", DS__NODE_JSTR, true},
		{"roles", DS__NODE_JOBJ, false},
	};
	const char *w = "genesis: governance";
	int rc = ds__node_json_check(gv, w, top, DS_ARRAY_LEN(top), err, cap);
	if (rc)
		return rc;
	json_t *params = json_object_get(gv, "params");
	const char *key;
	json_t *v;
	if (params) {
		if (json_object_size(params) > 64) {
			ds__node_err(err, cap, "%s: \"params\" holds more than 64 entries", w);
			return DS_ERANGE;
		}
		json_object_foreach(params, key, v) {
			if (!json_is_integer(v)) {
				ds__node_err(err, cap, "%s: params: \"%s\" must be an integer", w, key);
				return DS_EINVAL;
			}
		}
	}
	json_t *accounts = json_object_get(gv, "accounts");
	size_t i;
	if (accounts && json_array_size(accounts) > 4096) {
		ds__node_err(err, cap, "%s: \"accounts\" holds more than 4096 entries", w);
		return DS_ERANGE;
	}
	json_array_foreach(accounts, i, v) {
		char where[64];
		snprintf(where, sizeof(where), "%s: accounts[%zu]", w, i);
		if ((rc = ds__node_json_check(v, where, acc, DS_ARRAY_LEN(acc), err, cap)))
			return rc;
		json_t *r = json_object_get(v, "roles");
		if (r && (rc = jstr_array(r, DS_SYS_ROLES_MAX, where, "roles", err, cap)))
			return rc;
	}
	json_t *contracts = json_object_get(gv, "contracts");
	if (contracts && json_array_size(contracts) > 64) {
		ds__node_err(err, cap, "%s: \"contracts\" holds more than 64 entries", w);
		return DS_ERANGE;
	}
	json_array_foreach(contracts, i, v) {
		char where[64];
		snprintf(where, sizeof(where), "%s: contracts[%zu]", w, i);
		if ((rc = ds__node_json_check(v, where, con, DS_ARRAY_LEN(con), err, cap)))
			return rc;
		json_t *r = json_object_get(v, "roles");
		if (r && json_object_size(r) > DS_SYS_CONTRACT_ROLES_MAX) {
			ds__node_err(err, cap, "%s: \"roles\" holds more than %d entries", where,
				     DS_SYS_CONTRACT_ROLES_MAX);
			return DS_ERANGE;
		}
		json_t *rv;
		json_object_foreach(r, key, rv) {
			if (!json_is_string(rv)) {
				ds__node_err(err, cap, "%s: roles: \"%s\" must be a string", where, key);
				return DS_EINVAL;
			}
		}
	}
	return 0;
}

static int store_gov(struct ds_node_genesis *g, json_t *x, char *err, size_t cap)
{
	char *s = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s) {
		ds__node_err(err, cap, "out of memory");
		return DS_ENOMEM;
	}
	size_t n = strlen(s);
	int rc = 0;
	if (n >= sizeof(g->gov)) {
		ds__node_err(err, cap, "genesis: governance extras take %zu bytes, more than %u", n,
			     DS_NODE_GOV_JSON_MAX - 1);
		rc = DS_ETOOBIG;
	} else {
		memcpy(g->gov, s, n + 1);
	}
	free(s);
	return rc;
}

int ds__node_gov_parse(struct ds_node_genesis *g, json_t *root, char *err, size_t cap)
{
	json_t *x = json_object(), *orgs = json_array(), *vals = json_array();
	struct ds_exec_sys_genesis_state st = {0};
	int rc = DS_ENOMEM;
	bool any = false;
	g->gov[0] = 0;
	if (!x || !orgs || !vals) {
		ds__node_err(err, cap, "out of memory");
		goto fail;
	}
	json_t *jo = json_object_get(root, "organisations");
	for (size_t i = 0; i < json_array_size(jo); i++) {
		json_t *o = json_array_get(jo, i), *e = json_object();
		if (!e || json_array_append_new(orgs, e) != 0)
			goto fail;
		char where[48];
		snprintf(where, sizeof(where), "genesis: organisations[%zu]", i);
		json_t *dn = json_object_get(o, "display_name");
		if (dn && (json_string_length(dn) == 0 || json_string_length(dn) > DS_SYS_ORG_NAME_MAX ||
			   strlen(json_string_value(dn)) != json_string_length(dn))) {
			ds__node_err(err, cap, "%s: \"display_name\" must be 1..%d bytes", where,
				     DS_SYS_ORG_NAME_MAX);
			rc = DS_ERANGE;
			goto fail;
		}
		json_t *r = json_object_get(o, "roles");
		if (r && (rc = jstr_array(r, DS_SYS_ROLES_MAX, where, "roles", err, cap)))
			goto fail;
		rc = DS_ENOMEM;
		if (copy_member(e, o, "display_name") || copy_member(e, o, "roles"))
			goto fail;
		any = any || dn || r;
	}
	json_t *jv = json_object_get(root, "validators");
	for (size_t i = 0; i < json_array_size(jv); i++) {
		json_t *v = json_array_get(jv, i), *e = json_object();
		if (!e || json_array_append_new(vals, e) != 0 || copy_member(e, v, "org"))
			goto fail;
		any = any || json_object_get(v, "org");
	}
	json_t *gv = json_object_get(root, "governance");
	if (gv) {
		if ((rc = parse_governance(gv, err, cap)))
			goto fail;
		rc = DS_ENOMEM;
		if (json_object_set(x, "governance", gv) != 0)
			goto fail;
		any = true;
	}
	if (any) {
		rc = DS_ENOMEM;
		if (json_object_set(x, "organisations", orgs) || json_object_set(x, "validators", vals))
			goto fail;
		if ((rc = store_gov(g, x, err, cap)))
			goto fail;
	}
	/* Strict: what the node would refuse at start is refused here. */
	char why[256] = "";
	if ((rc = ds__node_gov_state(g, &st, why, sizeof(why)))) {
		ds__node_err(err, cap, "genesis: governance state refused: %s", why);
		goto fail;
	}
	rc = 0;
fail:
	ds_exec_sys_genesis_free(&st);
	json_decref(x);
	json_decref(orgs);
	json_decref(vals);
	if (rc)
		g->gov[0] = 0;
	return rc;
}

static json_t *load_gov(const struct ds_node_genesis *g)
{
	if (!g->gov[0])
		return json_object();
	return json_loads(g->gov, 0, NULL);
}

int ds__node_gov_format(json_t *root, const struct ds_node_genesis *g)
{
	json_t *x = load_gov(g);
	if (!x)
		return DS_ENOMEM;
	static const char *const arrays[] = {"organisations", "validators"};
	for (size_t k = 0; k < DS_ARRAY_LEN(arrays); k++) {
		json_t *src = json_object_get(x, arrays[k]), *dst = json_object_get(root, arrays[k]);
		for (size_t i = 0; i < json_array_size(src) && i < json_array_size(dst); i++)
			if (json_object_update(json_array_get(dst, i), json_array_get(src, i)) != 0)
				goto nomem;
	}
	json_t *gv = json_object_get(x, "governance");
	if (gv && json_object_set(root, "governance", gv) != 0)
		goto nomem;
	json_decref(x);
	return 0;
nomem:
	json_decref(x);
	return DS_ENOMEM;
}

/* String pointers of a JSON array of strings (borrowed from it). */
static void str_ptrs(const char **out, size_t *n, size_t max, json_t *a)
{
	*n = 0;
	for (size_t i = 0; i < json_array_size(a) && *n < max; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (s)
			out[(*n)++] = s;
	}
}

struct gov_scratch {
	struct ds_exec_sys_org orgs[DS_NODE_ORGS_MAX];
	const char *org_roles[DS_NODE_ORGS_MAX][DS_SYS_ROLES_MAX];
	struct ds_exec_sys_validator vals[DS_VALIDATORS_MAX];
	struct ds_exec_sys_param_set params[64];
	struct ds_exec_sys_contract contracts[64];
	struct ds_buf roles_enc[64];
	size_t naccounts;
	struct ds_exec_sys_account *accounts;
	const char *(*acc_roles)[DS_SYS_ROLES_MAX];
};

int ds__node_gov_state(const struct ds_node_genesis *g, struct ds_exec_sys_genesis_state *out,
		       char *err, size_t cap)
{
	struct gov_scratch *s = calloc(1, sizeof(*s));
	json_t *x = load_gov(g);
	struct ds_exec_sys_genesis sg;
	int rc = DS_ENOMEM;
	memset(out, 0, sizeof(*out));
	memset(&sg, 0, sizeof(sg));
	if (!s || !x) {
		ds__node_err(err, cap, "out of memory (or bad governance extras)");
		goto fail;
	}
	for (size_t i = 0; i < DS_ARRAY_LEN(s->roles_enc); i++)
		ds_buf_init(&s->roles_enc[i]);
	json_t *xo = json_object_get(x, "organisations");
	for (uint32_t i = 0; i < g->norgs; i++) {
		struct ds_exec_sys_org *o = &s->orgs[i];
		json_t *e = json_array_get(xo, i);
		const char *dn = json_string_value(json_object_get(e, "display_name"));
		o->id = g->orgs[i].name;
		o->name = dn ? dn : g->orgs[i].name;
		o->admins = (const uint8_t(*)[DS_PK_LEN])g->orgs[i].admin_pk;
		o->nadmins = 1;
		str_ptrs(s->org_roles[i], &o->nroles, DS_SYS_ROLES_MAX, json_object_get(e, "roles"));
		o->roles = s->org_roles[i];
	}
	json_t *xv = json_object_get(x, "validators");
	for (uint32_t i = 0; i < g->g.valset.n; i++) {
		struct ds_exec_sys_validator *v = &s->vals[i];
		memcpy(v->pk, g->g.valset.v[i].pk, DS_PK_LEN);
		v->addr = g->p2p[i];
		v->org = json_string_value(json_object_get(json_array_get(xv, i), "org"));
		/* Default: the organisation this key administers, else the first. */
		for (uint32_t k = 0; !v->org && k < g->norgs; k++)
			if (memcmp(g->orgs[k].admin_pk, v->pk, DS_PK_LEN) == 0)
				v->org = g->orgs[k].name;
		if (!v->org)
			v->org = g->orgs[0].name;
	}
	json_t *gv = json_object_get(x, "governance");
	json_t *params = json_object_get(gv, "params");
	const char *key;
	json_t *jv;
	json_object_foreach(params, key, jv) {
		if (sg.nparams == DS_ARRAY_LEN(s->params))
			break;
		s->params[sg.nparams++] = (struct ds_exec_sys_param_set){key, json_integer_value(jv)};
	}
	json_t *accounts = json_object_get(gv, "accounts");
	s->naccounts = json_array_size(accounts);
	if (s->naccounts) {
		s->accounts = calloc(s->naccounts, sizeof(*s->accounts));
		s->acc_roles = calloc(s->naccounts, sizeof(*s->acc_roles));
		if (!s->accounts || !s->acc_roles) {
			ds__node_err(err, cap, "out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < s->naccounts; i++) {
		json_t *a = json_array_get(accounts, i);
		struct ds_exec_sys_account *acc = &s->accounts[i];
		const char *pk = json_string_value(json_object_get(a, "public_key"));
		if (!pk || ds_keyfile_pk_from_hex(acc->pk, pk) != 0) {
			ds__node_err(err, cap, "accounts[%zu]: \"public_key\" must be 64 hex digits", i);
			rc = DS_EINVAL;
			goto fail;
		}
		acc->org = json_string_value(json_object_get(a, "org"));
		str_ptrs(s->acc_roles[i], &acc->nroles, DS_SYS_ROLES_MAX, json_object_get(a, "roles"));
		acc->roles = s->acc_roles[i];
	}
	json_t *contracts = json_object_get(gv, "contracts");
	for (size_t i = 0; i < json_array_size(contracts) && i < DS_ARRAY_LEN(s->contracts); i++) {
		json_t *c = json_array_get(contracts, i), *r = json_object_get(c, "roles");
		json_t *src = json_object_get(c, "source");
		struct ds_exec_sys_contract *sc = &s->contracts[i];
		sc->name = json_string_value(json_object_get(c, "name"));
		sc->org = json_string_value(json_object_get(c, "org"));
		sc->src = (const uint8_t *)json_string_value(src);
		sc->src_len = json_string_length(src);
		if (r) {
			char why[128] = "";
			if ((rc = ds_cli_value_from_json(&s->roles_enc[i], r, why, sizeof(why)))) {
				ds__node_err(err, cap, "contracts[%zu]: roles: %s", i, why);
				goto fail;
			}
			sc->roles = s->roles_enc[i].data;
			sc->roles_len = s->roles_enc[i].len;
		}
		if (!sc->name || !sc->org || !sc->src) {
			ds__node_err(err, cap, "contracts[%zu]: name, org and source are required", i);
			rc = DS_EINVAL;
			goto fail;
		}
		sg.ncontracts++;
	}
	sg.orgs = s->orgs;
	sg.norgs = g->norgs;
	sg.accounts = s->accounts;
	sg.naccounts = s->naccounts;
	sg.validators = s->vals;
	sg.nvalidators = g->g.valset.n;
	sg.params = s->params;
	sg.contracts = s->contracts;
	rc = ds_exec_sys_genesis_state(out, &sg, err, cap);
fail:
	if (s) {
		for (size_t i = 0; i < DS_ARRAY_LEN(s->roles_enc); i++)
			ds_buf_free(&s->roles_enc[i]);
		free(s->accounts);
		free(s->acc_roles);
	}
	free(s);
	json_decref(x);
	return rc;
}

int ds_node_genesis_state(const struct ds_node_genesis *g, struct ds_kv **state, size_t *nstate)
{
	struct ds_exec_sys_genesis_state st;
	char err[256] = "";
	*state = NULL;
	*nstate = 0;
	int rc = ds__node_gov_state(g, &st, err, sizeof(err));
	if (rc) {
		DS_LOGE(MOD, "genesis state refused", " err=%s why=\"%s\"", ds_errname(rc), err);
		return rc;
	}
	*state = st.kv;
	*nstate = st.n;
	return 0;
}

void ds_node_genesis_state_free(struct ds_kv *state, size_t nstate)
{
	struct ds_exec_sys_genesis_state st = {nstate, state};
	if (state)
		ds_exec_sys_genesis_free(&st);
}

int ds_node_genesis_default_gov(struct ds_node_genesis *g, const struct ds_node_gov_contract *c,
				size_t nc, char *err, size_t err_cap)
{
	static const char *const roles[] = {DS_NODE_DEFAULT_ROLES};
	json_t *x = json_object(), *orgs = json_array(), *vals = json_array();
	json_t *gv = json_object(), *params = json_object(), *cons = json_array();
	int rc = DS_ENOMEM;
	if (!x || !orgs || !vals || !gv || !params || !cons)
		goto fail;
	for (uint32_t i = 0; i < g->norgs; i++) {
		json_t *r = json_array(), *o = json_object();
		if (!r || !o || json_array_append_new(orgs, o) != 0) {
			json_decref(r);
			goto fail;
		}
		for (size_t k = 0; k < DS_ARRAY_LEN(roles); k++)
			if (json_array_append_new(r, json_string(roles[k])) != 0) {
				json_decref(r);
				goto fail;
			}
		if (json_object_set_new(o, "roles", r) != 0)
			goto fail;
	}
	for (uint32_t i = 0; i < g->g.valset.n; i++) {
		uint32_t k = i < g->norgs ? i : g->norgs - 1;
		if (json_array_append_new(vals, json_pack("{s:s}", "org", g->orgs[k].name)) != 0)
			goto fail;
	}
	if (json_object_set_new(params, "gov.threshold_num", json_integer(2)) ||
	    json_object_set_new(params, "gov.threshold_den", json_integer(3)) ||
	    json_object_set_new(params, "kv.open", json_integer(1)))
		goto fail;
	for (size_t i = 0; i < nc; i++) {
		json_t *r = NULL;
		if (c[i].roles_json) {
			json_error_t je;
			r = json_loads(c[i].roles_json, JSON_REJECT_DUPLICATES, &je);
			if (!json_is_object(r)) {
				json_decref(r);
				ds__node_err(err, err_cap, "contract %s: roles must be a JSON object", c[i].name);
				rc = DS_EINVAL;
				goto fail;
			}
		}
		json_t *src = json_stringn(c[i].source, c[i].source_len);
		json_t *o = src ? json_pack("{s:s,s:s,s:o}", "name", c[i].name, "org", g->orgs[0].name,
					    "source", src)
				: NULL;
		if (!o)
			json_decref(r);
		if (!o || (r && json_object_set_new(o, "roles", r) != 0) ||
		    json_array_append_new(cons, o) != 0) {
			if (!src)
				ds__node_err(err, err_cap, "contract %s: source must be UTF-8", c[i].name);
			rc = src ? DS_ENOMEM : DS_EINVAL;
			goto fail;
		}
	}
	if (json_object_set_new(gv, "params", params)) {
		params = NULL;
		goto fail;
	}
	params = NULL;
	if (nc && json_object_set(gv, "contracts", cons))
		goto fail;
	if (json_object_set(x, "organisations", orgs) || json_object_set(x, "validators", vals) ||
	    json_object_set(x, "governance", gv))
		goto fail;
	rc = store_gov(g, x, err, err_cap);
fail:
	if (rc == DS_ENOMEM && err && err_cap && !err[0])
		ds__node_err(err, err_cap, "out of memory");
	json_decref(x);
	json_decref(orgs);
	json_decref(vals);
	json_decref(gv);
	json_decref(params);
	json_decref(cons);
	return rc;
}

/* ---------------------------------------------------------- listings --- */

static json_t *value_json(const uint8_t *v, size_t n)
{
	json_t *j = NULL;
	if (ds_cli_value_to_json(&j, v, n) != 0)
		return NULL;
	return j;
}

static json_t *ji(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v ? json_incref(v) : json_null();
}

struct list_ctx {
	json_t *arr;
	int rc;
	const char *status;
	size_t limit;
};

static int contract_row(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct list_ctx *lc = arg;
	(void)k;
	(void)kl;
	json_t *rec = value_json(v, vl);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return 0; /* a record we do not understand is left out, not fatal */
	}
	json_int_t active = json_integer_value(json_object_get(rec, "active"));
	json_t *vers = json_object_get(rec, "versions"), *cur = NULL;
	for (size_t i = 0; i < json_array_size(vers); i++) {
		json_t *e = json_array_get(vers, i);
		if (json_integer_value(json_object_get(e, "version")) == active)
			cur = e;
	}
	json_t *hash = json_object_get(cur, "code_hash");
	if (json_is_object(hash))
		hash = json_object_get(hash, "$bytes");
	json_t *o = json_object();
	if (!o || json_array_append_new(lc->arr, o) != 0) {
		json_decref(rec);
		lc->rc = DS_ENOMEM;
		return 1;
	}
	json_object_set_new(o, "name", ji(rec, "name"));
	json_object_set_new(o, "version", json_integer(active));
	json_object_set_new(o, "active", json_boolean(active > 0));
	json_object_set_new(o, "code_hash", hash ? json_incref(hash) : json_null());
	json_object_set_new(o, "deployed_height", ji(cur, "height"));
	json_object_set_new(o, "org", ji(cur, "org"));
	json_object_set_new(o, "proposal", ji(cur, "proposal"));
	json_object_set_new(o, "roles", cur && json_object_get(cur, "roles") ? ji(cur, "roles")
									  : json_object());
	json_object_set_new(o, "versions", json_integer((json_int_t)json_array_size(vers)));
	json_decref(rec);
	return json_array_size(lc->arr) >= DS__NODE_GOV_CONTRACTS_MAX;
}

int ds__node_gov_contracts(struct ds_chain *c, json_t **out)
{
	static const char prefix[] = "sys/contract/";
	struct list_ctx lc = {json_array(), 0, NULL, 0};
	*out = NULL;
	if (!lc.arr)
		return DS_ENOMEM;
	int rc = ds_chain_state_scan(c, (const uint8_t *)prefix, sizeof(prefix) - 1,
				     DS__NODE_GOV_CONTRACTS_MAX, contract_row, &lc);
	if (rc == 0)
		rc = lc.rc;
	if (rc) {
		json_decref(lc.arr);
		return rc;
	}
	/* "o" steals the reference, on failure too. */
	*out = json_pack("{s:o}", "contracts", lc.arr);
	return *out ? 0 : DS_ENOMEM;
}

/* A deploy payload carries the whole source: the listing says how big it
 * is and leaves it out (GET /v1/state?key_str=sys/code/... serves it). */
static void trim_payload(json_t *p)
{
	json_t *src = json_object_get(p, "source");
	if (!src)
		return;
	size_t n = json_is_string(src) ? json_string_length(src)
		   : json_string_length(json_object_get(src, "$bytes")) / 2;
	json_object_set_new(p, "source_bytes", json_integer((json_int_t)n));
	json_object_del(p, "source");
}

static int proposal_row(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct list_ctx *lc = arg;
	(void)k;
	(void)kl;
	json_t *rec = value_json(v, vl);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return 0;
	}
	const char *st = json_string_value(json_object_get(rec, "status"));
	if (lc->status && (!st || strcmp(st, lc->status) != 0)) {
		json_decref(rec);
		return 0;
	}
	json_t *votes = json_object_get(rec, "votes"), *vl_out = json_array();
	json_int_t yes = 0, no = 0;
	for (size_t i = 0; vl_out && i < json_array_size(votes); i++) {
		json_t *e = json_array_get(votes, i);
		bool ap = json_is_true(json_object_get(e, "approve"));
		yes += ap;
		no += !ap;
		json_t *acc = json_object_get(e, "account");
		if (json_is_object(acc))
			acc = json_object_get(acc, "$bytes");
		json_array_append_new(vl_out, json_pack("{s:O,s:O,s:b,s:O}", "org",
							 json_object_get(e, "org") ? json_object_get(e, "org") : json_null(),
							 "account", acc ? acc : json_null(), "approve", ap,
							 "height", json_object_get(e, "height") ? json_object_get(e, "height") : json_null()));
	}
	json_t *prop = json_object_get(rec, "proposer");
	if (json_is_object(prop))
		prop = json_object_get(prop, "$bytes");
	json_t *payload = json_object_get(rec, "payload");
	if (json_is_object(payload))
		trim_payload(payload);
	json_t *o = json_object();
	if (!o || !vl_out) {
		json_decref(o);
		json_decref(vl_out);
		json_decref(rec);
		lc->rc = DS_ENOMEM;
		return 1;
	}
	json_object_set_new(o, "id", ji(rec, "id"));
	json_object_set_new(o, "kind", ji(rec, "kind"));
	json_object_set_new(o, "proposer_org", ji(rec, "org"));
	json_object_set_new(o, "proposer", prop ? json_incref(prop) : json_null());
	json_object_set_new(o, "status", ji(rec, "status"));
	json_object_set_new(o, "votes_for", json_integer(yes));
	json_object_set_new(o, "votes_against", json_integer(no));
	json_object_set_new(o, "created_height", ji(rec, "height"));
	json_object_set_new(o, "expires", ji(rec, "expires"));
	json_object_set_new(o, "payload", ji(rec, "payload"));
	json_object_set_new(o, "votes", vl_out);
	json_object_set_new(o, "history", ji(rec, "history"));
	if (json_object_get(rec, "error"))
		json_object_set_new(o, "error", ji(rec, "error"));
	json_decref(rec);
	/* Keys sort by id: keep the newest `limit` seen so far. */
	if (json_array_append_new(lc->arr, o) != 0) {
		lc->rc = DS_ENOMEM;
		return 1;
	}
	if (json_array_size(lc->arr) > lc->limit)
		json_array_remove(lc->arr, 0);
	return 0;
}

int ds__node_gov_proposals(struct ds_chain *c, const char *status, size_t limit, json_t **out)
{
	static const char prefix[] = "sys/gov/p/";
	struct list_ctx lc = {json_array(), 0, status, limit};
	*out = NULL;
	if (!lc.arr)
		return DS_ENOMEM;
	DS_ASSERT(limit >= 1 && limit <= DS__NODE_GOV_PROPOSALS_MAX);
	int rc = ds_chain_state_scan(c, (const uint8_t *)prefix, sizeof(prefix) - 1,
				     DS__NODE_GOV_SCAN_MAX, proposal_row, &lc);
	if (rc == 0)
		rc = lc.rc;
	json_t *rev = rc == 0 ? json_array() : NULL;
	for (size_t i = json_array_size(lc.arr); rev && i > 0; i--)
		if (json_array_append(rev, json_array_get(lc.arr, i - 1)) != 0)
			rc = DS_ENOMEM;
	json_decref(lc.arr);
	if (rc == 0 && !rev)
		rc = DS_ENOMEM;
	if (rc) {
		json_decref(rev);
		return rc;
	}
	*out = json_pack("{s:o}", "proposals", rev);
	return *out ? 0 : DS_ENOMEM;
}
