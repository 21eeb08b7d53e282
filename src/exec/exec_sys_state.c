/* System modules: record helpers, caller identity, parameters, the
 * authorizer, and the small modules (org, account, params, validators,
 * registry). Governance lives in exec_sys_gov.c. */
#include "exec/exec_sys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

#define KEY_MAX 384 /* longest full state key we build */

int ds__sys_read(struct ds_exec_call *call, const char *key, struct ds_value *out)
{
	const uint8_t *v;
	size_t n;
	memset(out, 0, sizeof(*out));
	int rc = call->get_global(call, (const uint8_t *)key, strlen(key), &v, &n);
	if (rc)
		return rc;
	/* We wrote it as a canonical value; anything else is corruption. */
	if (ds_value_parse(out, v, n) != 0)
		return DS_ECORRUPT;
	return 0;
}

int ds__sys_write(struct ds_exec_call *call, const char *key,
		  void (*build)(struct ds_enc *e, const void *arg), const void *arg)
{
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, NULL, 0);
	build(&e, arg);
	DS_ASSERT(e.err == 0 || e.err == DS_ETOOBIG || e.err == DS_EINVAL);
	if (e.err)
		return e.err;
	uint8_t *buf = malloc(e.len ? e.len : 1);
	if (!buf)
		return DS_ENOMEM;
	size_t want = e.len;
	ds_enc_init(&e, buf, want);
	build(&e, arg);
	int rc = ds_enc_finish(&e, &n);
	if (rc == 0) {
		DS_ASSERT(n == want);
		DS_ASSERT(ds_value_check(buf, n) == 0);
		rc = call->put_global(call, (const uint8_t *)key, strlen(key), buf, n);
	}
	free(buf);
	return rc;
}

bool ds__sys_role_valid(const uint8_t *s, size_t n)
{
	if (n == 0 || n > DS_SYS_ROLE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == ':' || c == '-'))
			return false;
	}
	return true;
}

static const char *const native_names[] = {"account", "contract", "gov", "kv", "org",
					   "params", "registry", "sys", "validators"};

bool ds__sys_is_native(const char *target)
{
	for (size_t i = 0; i < DS_ARRAY_LEN(native_names); i++)
		if (strcmp(target, native_names[i]) == 0)
			return true;
	return false;
}

int ds__sys_str(const struct ds_value *v, char *out, size_t cap)
{
	if (cap)
		out[0] = 0;
	if (v->kind != DS_VALUE_STR || v->len >= cap)
		return DS_EINVAL;
	memcpy(out, v->p, v->len);
	out[v->len] = 0;
	return 0;
}

int ds__sys_field_str(const struct ds_value *map, const char *key, char *out, size_t cap)
{
	struct ds_value v;
	int rc = ds_value_map_get(&v, map, key, strlen(key));
	if (rc)
		return rc;
	return ds__sys_str(&v, out, cap);
}

int ds__sys_field_int(const struct ds_value *map, const char *key, int64_t *out)
{
	struct ds_value v;
	*out = 0;
	int rc = ds_value_map_get(&v, map, key, strlen(key));
	if (rc)
		return rc;
	if (v.kind != DS_VALUE_INT)
		return DS_EINVAL;
	*out = v.i;
	return 0;
}

int ds__sys_args(struct ds_exec_call *call, struct ds_value *map)
{
	const struct ds_tx *tx = call->tx;
	if (ds_value_parse(map, tx->args, tx->args_len) != 0 || map->kind != DS_VALUE_MAP) {
		call->fail(call, "%s.%s: arguments must be a map", tx->target, tx->method);
		return DS_EINVAL;
	}
	return 0;
}

static int bad_arg(struct ds_exec_call *call, const char *key, const char *what)
{
	call->fail(call, "%s.%s: bad argument %s: %s", call->tx->target, call->tx->method, key, what);
	return DS_EINVAL;
}

int ds__sys_arg_str(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		    char *out, size_t cap)
{
	struct ds_value v;
	if (ds_value_map_get(&v, map, key, strlen(key)) != 0)
		return bad_arg(call, key, "missing");
	if (v.kind != DS_VALUE_STR)
		return bad_arg(call, key, "not a string");
	if (ds__sys_str(&v, out, cap) != 0)
		return bad_arg(call, key, "too long");
	return 0;
}

int ds__sys_arg_int(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		    int64_t *out)
{
	struct ds_value v;
	*out = 0;
	if (ds_value_map_get(&v, map, key, strlen(key)) != 0)
		return bad_arg(call, key, "missing");
	if (v.kind != DS_VALUE_INT)
		return bad_arg(call, key, "not an integer");
	*out = v.i;
	return 0;
}

static int value_pk(uint8_t pk[DS_PK_LEN], const struct ds_value *v)
{
	if (v->kind == DS_VALUE_BYTES && v->len == DS_PK_LEN) {
		memcpy(pk, v->p, DS_PK_LEN);
		return 0;
	}
	if (v->kind == DS_VALUE_STR && v->len == 2 * DS_PK_LEN)
		return ds_hex_decode(pk, DS_PK_LEN, (const char *)v->p, v->len);
	return DS_EINVAL;
}

int ds__sys_arg_pk(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		   uint8_t pk[DS_PK_LEN])
{
	struct ds_value v;
	if (ds_value_map_get(&v, map, key, strlen(key)) != 0)
		return bad_arg(call, key, "missing");
	if (value_pk(pk, &v) != 0)
		return bad_arg(call, key, "not a public key (32 bytes or 64 hex digits)");
	return 0;
}

static int role_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int ds__sys_roles_parse(struct ds__sys_roles *out, const struct ds_value *arr, char *why,
			size_t why_cap)
{
	out->n = 0;
	if (arr->kind != DS_VALUE_ARRAY) {
		snprintf(why, why_cap, "roles must be an array of strings");
		return DS_EINVAL;
	}
	if (arr->count > DS_SYS_ROLES_MAX) {
		snprintf(why, why_cap, "more than %d roles", DS_SYS_ROLES_MAX);
		return DS_ETOOBIG;
	}
	struct ds_value_iter it;
	struct ds_value item;
	ds_value_iter_init(&it, arr);
	while (ds_value_iter_next(&it, NULL, NULL, &item)) {
		if (item.kind != DS_VALUE_STR || !ds__sys_role_valid(item.p, item.len)) {
			snprintf(why, why_cap, "bad role name (1-%d of a-z 0-9 _ . : -)", DS_SYS_ROLE_MAX);
			return DS_EINVAL;
		}
		memcpy(out->r[out->n], item.p, item.len);
		out->r[out->n][item.len] = 0;
		out->n++;
	}
	qsort(out->r, out->n, sizeof(out->r[0]), role_cmp);
	for (size_t i = 1; i < out->n; i++)
		if (strcmp(out->r[i - 1], out->r[i]) == 0) {
			snprintf(why, why_cap, "role %s listed twice", out->r[i]);
			return DS_EINVAL;
		}
	return 0;
}

int ds__sys_arg_roles(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		      struct ds__sys_roles *out)
{
	struct ds_value v;
	char why[128];
	out->n = 0;
	if (ds_value_map_get(&v, map, key, strlen(key)) != 0)
		return 0;
	if (ds__sys_roles_parse(out, &v, why, sizeof(why)) != 0)
		return bad_arg(call, key, why);
	return 0;
}

void ds__sys_enc_roles(struct ds_enc *e, const struct ds__sys_roles *r)
{
	ds_value_enc_array(e, (uint32_t)r->n);
	for (size_t i = 0; i < r->n; i++)
		ds_value_enc_str(e, r->r[i], strlen(r->r[i]));
}

bool ds__sys_roles_has(const struct ds__sys_roles *r, const char *role)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->r[i], role) == 0)
			return true;
	return false;
}

int ds__sys_caller(struct ds_exec_call *call, const uint8_t pk[DS_PK_LEN], struct ds__sys_caller *out)
{
	char key[KEY_MAX];
	struct ds_value rec, roles, org;
	memset(out, 0, sizeof(*out));
	ds_hex_encode(out->account, pk, DS_PK_LEN);
	snprintf(key, sizeof(key), "sys/account/%s", out->account);
	int rc = ds__sys_read(call, key, &rec);
	if (rc == DS_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (rec.kind != DS_VALUE_MAP || ds__sys_field_str(&rec, "org", out->org, sizeof(out->org)) != 0 ||
	    ds_value_map_get(&roles, &rec, "roles", 5) != 0 || roles.kind != DS_VALUE_ARRAY ||
	    roles.count > DS_SYS_ROLES_MAX)
		return DS_ECORRUPT;
	struct ds_value_iter it;
	struct ds_value item;
	ds_value_iter_init(&it, &roles);
	while (ds_value_iter_next(&it, NULL, NULL, &item)) {
		if (ds__sys_str(&item, out->roles[out->nroles], DS_SYS_ROLE_MAX + 1) != 0)
			return DS_ECORRUPT;
		out->role_ptrs[out->nroles] = out->roles[out->nroles];
		out->nroles++;
	}
	/* An account of a removed organisation has no standing at all. */
	snprintf(key, sizeof(key), "sys/org/%s", out->org);
	rc = ds__sys_read(call, key, &org);
	if (rc == DS_ENOTFOUND) {
		out->org[0] = 0;
		out->nroles = 0;
		return 0;
	}
	return rc;
}

/* ---- parameters ------------------------------------------------------- */
struct param_def {
	const char *name;
	int64_t def, min, max;
};
/* Sorted by name: the record is written in this order. */
static const struct param_def params[] = {
	{"gov.lifetime", 10000, 1, 10000000},
	{"gov.threshold_den", 3, 2, 100},
	{"gov.threshold_num", 2, 1, 99},
	{"kv.open", 0, 0, 1},
	{"vm.instructions_max", 10000000, 1000, 1000000000},
};

static const struct param_def *param_find(const char *name)
{
	for (size_t i = 0; i < DS_ARRAY_LEN(params); i++)
		if (strcmp(params[i].name, name) == 0)
			return &params[i];
	return NULL;
}

int ds_exec_sys_param(struct ds_exec_call *call, const char *name, int64_t *out)
{
	const struct param_def *d = param_find(name);
	struct ds_value rec;
	*out = 0;
	if (!d)
		return DS_ENOTFOUND;
	*out = d->def;
	int rc = ds__sys_read(call, "sys/params", &rec);
	if (rc == DS_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	int64_t v;
	rc = ds__sys_field_int(&rec, name, &v);
	if (rc == DS_ENOTFOUND)
		return 0;
	if (rc)
		return DS_ECORRUPT;
	*out = v;
	return 0;
}

struct params_arg {
	int64_t v[DS_ARRAY_LEN(params)];
};

static void build_params(struct ds_enc *e, const void *arg)
{
	const struct params_arg *a = arg;
	ds_value_enc_map(e, (uint32_t)DS_ARRAY_LEN(params));
	for (size_t i = 0; i < DS_ARRAY_LEN(params); i++) {
		ds_value_enc_key(e, params[i].name, strlen(params[i].name));
		ds_value_enc_int(e, a->v[i]);
	}
}

/* Validates one change against the current values (threshold pairs must
 * stay a sensible super-majority rule). */
static int param_check(struct ds_exec_call *call, struct params_arg *cur, const char *name,
		       int64_t value, char *why, size_t why_cap)
{
	const struct param_def *d = param_find(name);
	if (!d) {
		snprintf(why, why_cap, "unknown parameter %s", name);
		return DS_ENOTFOUND;
	}
	if (value < d->min || value > d->max) {
		snprintf(why, why_cap, "parameter %s must be in %lld..%lld", name, (long long)d->min,
			 (long long)d->max);
		return DS_ERANGE;
	}
	for (size_t i = 0; i < DS_ARRAY_LEN(params); i++) {
		int rc = ds_exec_sys_param(call, params[i].name, &cur->v[i]);
		if (rc) {
			snprintf(why, why_cap, "cannot read parameters: %s", ds_strerror(rc));
			return rc;
		}
		if (&params[i] == d)
			cur->v[i] = value;
	}
	int64_t num = cur->v[param_find("gov.threshold_num") - params],
		den = cur->v[param_find("gov.threshold_den") - params];
	if (!(num < den && 2 * num >= den)) {
		snprintf(why, why_cap, "threshold %lld/%lld must be at least a majority and below 1",
			 (long long)num, (long long)den);
		return DS_ERANGE;
	}
	return 0;
}

int ds__sys_param_set(struct ds_exec_call *call, const char *name, int64_t value, bool apply,
		      char *why, size_t why_cap)
{
	struct params_arg cur;
	int rc = param_check(call, &cur, name, value, why, why_cap);
	if (rc || !apply)
		return rc;
	rc = ds__sys_write(call, "sys/params", build_params, &cur);
	if (rc)
		snprintf(why, why_cap, "cannot write parameters: %s", ds_strerror(rc));
	return rc;
}

/* ---- roles and the authorizer ---------------------------------------- */
int ds_exec_sys_has_role(struct ds_exec_call *call, const char *role)
{
	struct ds__sys_caller c;
	int rc = ds__sys_caller(call, call->tx->sender, &c);
	if (rc)
		return rc;
	for (size_t i = 0; i < c.nroles; i++)
		if (strcmp(c.roles[i], role) == 0)
			return 1;
	return 0;
}

static int deny_role(struct ds_exec_call *call, const char *role, const char *what)
{
	char hex[2 * DS_PK_LEN + 1];
	ds_hex_encode(hex, call->tx->sender, DS_PK_LEN);
	call->fail(call, "account %s lacks role %s for %s", hex, role, what);
	return DS_EDENIED;
}

int ds_exec_sys_require_role(struct ds_exec_call *call, const char *role, const char *what)
{
	int rc = ds_exec_sys_has_role(call, role);
	if (rc < 0) {
		call->fail(call, "cannot read account: %s", ds_strerror(rc));
		return rc;
	}
	return rc ? 0 : deny_role(call, role, what);
}

static int require_member(struct ds_exec_call *call, const char *what)
{
	struct ds__sys_caller c;
	int rc = ds__sys_caller(call, call->tx->sender, &c);
	if (rc) {
		call->fail(call, "cannot read account: %s", ds_strerror(rc));
		return rc;
	}
	if (c.org[0])
		return 0;
	call->fail(call, "account %s is not a member of any organisation (needed for %s)", c.account, what);
	return DS_EDENIED;
}

/* The role a contract method needs: the deploy's {method: role} entry, else
 * its "*" entry, else contract.call. Returns 0 and role ("" = open), or
 * DS_ENOTFOUND when there is no such contract. */
static int contract_role(struct ds_exec_call *call, const char *name, const char *method,
			 char *role, size_t cap)
{
	char key[KEY_MAX];
	struct ds_value rec, versions, ver, roles, r;
	int64_t active;
	snprintf(key, sizeof(key), "sys/contract/%s", name);
	int rc = ds__sys_read(call, key, &rec);
	if (rc)
		return rc;
	if (ds__sys_field_int(&rec, "active", &active) != 0 ||
	    ds_value_map_get(&versions, &rec, "versions", 8) != 0 || versions.kind != DS_VALUE_ARRAY)
		return DS_ECORRUPT;
	struct ds_value_iter it;
	ds_value_iter_init(&it, &versions);
	snprintf(role, cap, "%s", DS_ROLE_CONTRACT_CALL);
	while (ds_value_iter_next(&it, NULL, NULL, &ver)) {
		int64_t v;
		if (ds__sys_field_int(&ver, "version", &v) != 0)
			return DS_ECORRUPT;
		if (v != active)
			continue;
		if (ds_value_map_get(&roles, &ver, "roles", 5) != 0 || roles.kind != DS_VALUE_MAP)
			return DS_ECORRUPT;
		if (ds_value_map_get(&r, &roles, method, strlen(method)) == 0 ||
		    ds_value_map_get(&r, &roles, "*", 1) == 0) {
			if (ds__sys_str(&r, role, cap) != 0)
				return DS_ECORRUPT;
		}
		return 0;
	}
	return DS_ECORRUPT;
}

int ds_exec_sys_authorize(struct ds_exec_call *call)
{
	const char *t = call->tx->target, *m = call->tx->method;
	char what[2 * DS_NAME_MAX + 2];
	snprintf(what, sizeof(what), "%s.%s", t, m);
	bool is_get = strcmp(m, "get") == 0;
	if (strcmp(t, "kv") == 0) {
		int64_t open;
		int rc = ds_exec_sys_param(call, "kv.open", &open);
		if (rc) {
			call->fail(call, "cannot read parameters: %s", ds_strerror(rc));
			return rc;
		}
		return open ? require_member(call, what) : ds_exec_sys_require_role(call, DS_ROLE_WRITER, what);
	}
	if ((strcmp(t, "account") == 0 || strcmp(t, "gov") == 0) && !is_get)
		return ds_exec_sys_require_role(call, DS_ROLE_ADMIN, what);
	if (ds__sys_is_native(t))
		return require_member(call, what);
	char role[DS_SYS_ROLE_MAX + 1];
	int rc = contract_role(call, t, m, role, sizeof(role));
	if (rc == DS_ENOTFOUND)
		return require_member(call, what);
	if (rc) {
		call->fail(call, "cannot read contract %s: %s", t, ds_strerror(rc));
		return rc;
	}
	if (!role[0])
		return 0;
	return ds_exec_sys_require_role(call, role, what);
}

/* ---- small read modules ----------------------------------------------- */
static int return_key(struct ds_exec_call *call, const char *key)
{
	const uint8_t *v;
	size_t n;
	static const uint8_t null_value = DS_VALUE_NULL;
	int rc = call->get_global(call, (const uint8_t *)key, strlen(key), &v, &n);
	if (rc == DS_ENOTFOUND) {
		v = &null_value;
		n = 1;
	} else if (rc) {
		call->fail(call, "cannot read %s: %s", key, ds_strerror(rc));
		return rc;
	}
	return call->set_return(call, v, n);
}

static int no_method(struct ds_exec_call *call)
{
	call->fail(call, "module %s has no method %s", call->tx->target, call->tx->method);
	return DS_ENOTFOUND;
}

/* Reads a name argument for get; refuses anything a key could be built
 * from ambiguously (slashes). */
static int get_by(struct ds_exec_call *call, const char *prefix, const char *argname)
{
	struct ds_value args;
	char name[DS_NAME_MAX + 1], key[KEY_MAX];
	int rc = ds__sys_args(call, &args);
	if (rc)
		return rc;
	rc = ds__sys_arg_str(call, &args, argname, name, sizeof(name));
	if (rc)
		return rc;
	if (!ds_ledger_name_valid(name))
		return bad_arg(call, argname, "not a valid name");
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	return return_key(call, key);
}

static int org_call(struct ds_exec_call *call)
{
	if (strcmp(call->tx->method, "get") != 0)
		return no_method(call);
	if (call->tx->args_len == 1 && call->tx->args[0] == DS_VALUE_NULL)
		return return_key(call, "sys/orgs");
	return get_by(call, "sys/org/", "id");
}

static int params_call(struct ds_exec_call *call)
{
	if (strcmp(call->tx->method, "get") != 0)
		return no_method(call);
	return return_key(call, "sys/params");
}

static int validators_call(struct ds_exec_call *call)
{
	if (strcmp(call->tx->method, "get") != 0)
		return no_method(call);
	if (call->tx->args_len == 1 && call->tx->args[0] == DS_VALUE_NULL)
		return return_key(call, "sys/valset");
	return return_key(call, "sys/valset/next");
}

static int registry_call(struct ds_exec_call *call)
{
	if (strcmp(call->tx->method, "get") != 0)
		return no_method(call);
	return get_by(call, "sys/contract/", "name");
}

/* ---- accounts --------------------------------------------------------- */
struct account_arg {
	const char *org;
	const struct ds__sys_roles *roles;
	int64_t height;
};

static void build_account(struct ds_enc *e, const void *arg)
{
	const struct account_arg *a = arg;
	ds_value_enc_map(e, 3);
	ds_value_enc_key(e, "height", 6);
	ds_value_enc_int(e, a->height);
	ds_value_enc_key(e, "org", 3);
	ds_value_enc_str(e, a->org, strlen(a->org));
	ds_value_enc_key(e, "roles", 5);
	ds__sys_enc_roles(e, a->roles);
}

/* Checks that org exists and holds every role (admin is always grantable). */
int ds__sys_org_grants(struct ds_exec_call *call, const char *org, const struct ds__sys_roles *roles,
		       char *why, size_t why_cap)
{
	char key[KEY_MAX];
	struct ds_value rec, held;
	struct ds__sys_roles h;
	snprintf(key, sizeof(key), "sys/org/%s", org);
	int rc = ds__sys_read(call, key, &rec);
	if (rc) {
		snprintf(why, why_cap, rc == DS_ENOTFOUND ? "no organisation %s" : "cannot read organisation %s",
			 org);
		return rc;
	}
	if (ds_value_map_get(&held, &rec, "roles", 5) != 0 ||
	    ds__sys_roles_parse(&h, &held, why, why_cap) != 0) {
		snprintf(why, why_cap, "organisation %s has a corrupt record", org);
		return DS_ECORRUPT;
	}
	for (size_t i = 0; i < roles->n; i++)
		if (strcmp(roles->r[i], DS_ROLE_ADMIN) != 0 && !ds__sys_roles_has(&h, roles->r[i])) {
			snprintf(why, why_cap, "organisation %s does not hold role %s", org, roles->r[i]);
			return DS_EDENIED;
		}
	return 0;
}

int ds__sys_account_write(struct ds_exec_call *call, const uint8_t pk[DS_PK_LEN], const char *org,
			  const struct ds__sys_roles *roles, int64_t height)
{
	char key[KEY_MAX], hex[2 * DS_PK_LEN + 1];
	ds_hex_encode(hex, pk, DS_PK_LEN);
	snprintf(key, sizeof(key), "sys/account/%s", hex);
	struct account_arg a = {org, roles, height};
	return ds__sys_write(call, key, build_account, &a);
}

static void build_event_account(struct ds_enc *e, const void *arg)
{
	const char *const *s = arg; /* account hex, org */
	ds_value_enc_map(e, 2);
	ds_value_enc_key(e, "account", 7);
	ds_value_enc_str(e, s[0], strlen(s[0]));
	ds_value_enc_key(e, "org", 3);
	ds_value_enc_str(e, s[1], strlen(s[1]));
}

static int emit_built(struct ds_exec_call *call, const char *name,
		      void (*build)(struct ds_enc *e, const void *arg), const void *arg)
{
	uint8_t buf[1024];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	build(&e, arg);
	int rc = ds_enc_finish(&e, &n);
	DS_ASSERT(rc == 0);
	return call->emit(call, name, buf, n);
}

static int account_call(struct ds_exec_call *call)
{
	const char *m = call->tx->method;
	struct ds_value args;
	uint8_t pk[DS_PK_LEN];
	char hex[2 * DS_PK_LEN + 1], key[KEY_MAX], why[192];
	struct ds__sys_caller me, them;
	struct ds__sys_roles roles;
	int rc;
	bool add = strcmp(m, "add") == 0, remove = strcmp(m, "remove") == 0,
	     set = strcmp(m, "set_roles") == 0;
	if (!add && !remove && !set && strcmp(m, "get") != 0)
		return no_method(call);
	if ((rc = ds__sys_args(call, &args)) != 0 || (rc = ds__sys_arg_pk(call, &args, "pk", pk)) != 0)
		return rc;
	ds_hex_encode(hex, pk, DS_PK_LEN);
	snprintf(key, sizeof(key), "sys/account/%s", hex);
	if (!add && !remove && !set)
		return return_key(call, key);
	if ((rc = ds__sys_caller(call, call->tx->sender, &me)) != 0 ||
	    (rc = ds__sys_caller(call, pk, &them)) != 0) {
		call->fail(call, "cannot read accounts: %s", ds_strerror(rc));
		return rc;
	}
	DS_ASSERT(me.org[0]); /* the authorizer required role admin */
	const uint8_t *v;
	size_t vn;
	rc = call->get_global(call, (const uint8_t *)key, strlen(key), &v, &vn);
	bool exists = rc == 0;
	if (rc && rc != DS_ENOTFOUND) {
		call->fail(call, "cannot read account: %s", ds_strerror(rc));
		return rc;
	}
	if (add && exists) {
		call->fail(call, "account %s already exists%s%s", hex, them.org[0] ? " in organisation " : "",
			   them.org);
		return DS_EEXIST;
	}
	if (!add && (!exists || strcmp(them.org, me.org) != 0)) {
		call->fail(call, "account %s is not in organisation %s", hex, me.org);
		return DS_EDENIED;
	}
	if (remove) {
		if (memcmp(pk, call->tx->sender, DS_PK_LEN) == 0) {
			call->fail(call, "an admin cannot remove its own account");
			return DS_EPERM;
		}
		if ((rc = call->del_global(call, (const uint8_t *)key, strlen(key))) != 0) {
			call->fail(call, "cannot delete account: %s", ds_strerror(rc));
			return rc;
		}
		const char *ev[2] = {hex, me.org};
		return emit_built(call, "account.removed", build_event_account, ev);
	}
	if ((rc = ds__sys_arg_roles(call, &args, "roles", &roles)) != 0)
		return rc;
	if ((rc = ds__sys_org_grants(call, me.org, &roles, why, sizeof(why))) != 0) {
		call->fail(call, "%s", why);
		return rc;
	}
	rc = ds__sys_account_write(call, pk, me.org, &roles, (int64_t)call->block->height);
	if (rc) {
		call->fail(call, "cannot write account: %s", ds_strerror(rc));
		return rc;
	}
	const char *ev[2] = {hex, me.org};
	return emit_built(call, add ? "account.added" : "account.roles", build_event_account, ev);
}

const struct ds_exec_module ds_exec_org_module = {"org", org_call, DS_EXEC_MOD_SYSTEM};
const struct ds_exec_module ds_exec_account_module = {"account", account_call, DS_EXEC_MOD_SYSTEM};
const struct ds_exec_module ds_exec_params_module = {"params", params_call, DS_EXEC_MOD_SYSTEM};
const struct ds_exec_module ds_exec_validators_module = {"validators", validators_call, DS_EXEC_MOD_SYSTEM};
const struct ds_exec_module ds_exec_registry_module = {"registry", registry_call, DS_EXEC_MOD_SYSTEM};
