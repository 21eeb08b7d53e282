/* Governance: proposals, votes by organisations, the threshold rule, and
 * the actions a passed proposal executes (organisations, validators,
 * parameters, contracts). Every action is checked in full before anything
 * is written, so a refused action leaves the state as it was. */
#include "exec/exec_sys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "vm/vm.h"

#define KEY_MAX 384

#define WHY(...) snprintf(why, why_cap, __VA_ARGS__)

/* ---- org list ---------------------------------------------------------- */
struct org_list {
	size_t n;
	char id[DS_SYS_ORGS_MAX][DS_SYS_ORG_ID_MAX + 1];
};

static int orgs_read(struct ds_exec_call *call, struct org_list *l)
{
	struct ds_value v, item;
	l->n = 0;
	int rc = ds__sys_read(call, "sys/orgs", &v);
	if (rc == DS_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (v.kind != DS_VALUE_ARRAY || v.count > DS_SYS_ORGS_MAX)
		return DS_ECORRUPT;
	struct ds_value_iter it;
	ds_value_iter_init(&it, &v);
	while (ds_value_iter_next(&it, NULL, NULL, &item))
		if (ds__sys_str(&item, l->id[l->n++], DS_SYS_ORG_ID_MAX + 1) != 0)
			return DS_ECORRUPT;
	return 0;
}

static void build_orgs(struct ds_enc *e, const void *arg)
{
	const struct org_list *l = arg;
	ds_value_enc_array(e, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++)
		ds_value_enc_str(e, l->id[i], strlen(l->id[i]));
}

static bool orgs_has(const struct org_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->id[i], id) == 0)
			return true;
	return false;
}

struct org_arg {
	const char *id, *name;
	const struct ds__sys_roles *roles;
	int64_t height;
};

static void build_org(struct ds_enc *e, const void *arg)
{
	const struct org_arg *a = arg;
	ds_value_enc_map(e, 4);
	ds_value_enc_key(e, "height", 6);
	ds_value_enc_int(e, a->height);
	ds_value_enc_key(e, "id", 2);
	ds_value_enc_str(e, a->id, strlen(a->id));
	ds_value_enc_key(e, "name", 4);
	ds_value_enc_str(e, a->name, strlen(a->name));
	ds_value_enc_key(e, "roles", 5);
	ds__sys_enc_roles(e, a->roles);
}

/* ---- validator sets ----------------------------------------------------- */
struct val {
	uint8_t pk[DS_PK_LEN];
	char addr[DS_SYS_ADDR_MAX + 1];
	char org[DS_SYS_ORG_ID_MAX + 1];
};
/* sys/valset ({epoch, validators}) or, pending, sys/valset/next ({epoch,
 * height, validators}: height is the block whose execution created it). */
struct valset {
	int64_t epoch, height;
	bool pending;
	size_t n;
	struct val v[DS_VALIDATORS_MAX];
};

#define VALSET_KEY "sys/valset"

/* Parses a record we wrote, strictly: exactly the fields of its kind, 1 to
 * DS_VALIDATORS_MAX validators with distinct 32-byte keys. DS_ECORRUPT on
 * anything else. */
static int valset_parse(struct valset *s, const struct ds_value *rec, bool pending)
{
	struct ds_value arr, item, pk;
	s->n = 0;
	s->epoch = s->height = 0;
	s->pending = pending;
	if (rec->kind != DS_VALUE_MAP || rec->count != (pending ? 3u : 2u) ||
	    ds__sys_field_int(rec, "epoch", &s->epoch) != 0 || s->epoch < (pending ? 1 : 0) ||
	    (pending && (ds__sys_field_int(rec, "height", &s->height) != 0 || s->height < 0)) ||
	    ds_value_map_get(&arr, rec, "validators", 10) != 0 || arr.kind != DS_VALUE_ARRAY ||
	    arr.count == 0 || arr.count > DS_VALIDATORS_MAX)
		return DS_ECORRUPT;
	struct ds_value_iter it;
	ds_value_iter_init(&it, &arr);
	while (ds_value_iter_next(&it, NULL, NULL, &item)) {
		struct val *v = &s->v[s->n];
		if (item.kind != DS_VALUE_MAP || item.count != 3 || ds_value_map_get(&pk, &item, "pk", 2) != 0 ||
		    pk.kind != DS_VALUE_BYTES || pk.len != DS_PK_LEN ||
		    ds__sys_field_str(&item, "addr", v->addr, sizeof(v->addr)) != 0 || !v->addr[0] ||
		    ds__sys_field_str(&item, "org", v->org, sizeof(v->org)) != 0)
			return DS_ECORRUPT;
		memcpy(v->pk, pk.p, DS_PK_LEN);
		for (size_t j = 0; j < s->n; j++)
			if (memcmp(s->v[j].pk, v->pk, DS_PK_LEN) == 0)
				return DS_ECORRUPT;
		s->n++;
	}
	return 0;
}

static void build_valset(struct ds_enc *e, const void *arg)
{
	const struct valset *s = arg;
	ds_value_enc_map(e, s->pending ? 3 : 2);
	ds_value_enc_key(e, "epoch", 5);
	ds_value_enc_int(e, s->epoch);
	if (s->pending) {
		ds_value_enc_key(e, "height", 6);
		ds_value_enc_int(e, s->height);
	}
	ds_value_enc_key(e, "validators", 10);
	ds_value_enc_array(e, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++) {
		ds_value_enc_map(e, 3);
		ds_value_enc_key(e, "addr", 4);
		ds_value_enc_str(e, s->v[i].addr, strlen(s->v[i].addr));
		ds_value_enc_key(e, "org", 3);
		ds_value_enc_str(e, s->v[i].org, strlen(s->v[i].org));
		ds_value_enc_key(e, "pk", 2);
		ds_value_enc_bytes(e, s->v[i].pk, DS_PK_LEN);
	}
}

/* Reads one of the two records: 0, DS_ENOTFOUND, DS_ECORRUPT or a read error. */
static int valset_read(struct ds_exec_call *call, const char *key, struct valset *s, bool pending)
{
	struct ds_value rec;
	int rc = ds__sys_read(call, key, &rec);
	if (rc)
		return rc;
	return valset_parse(s, &rec, pending);
}

int ds_exec_sys_valset_next(const uint8_t *val, size_t len, struct ds_valset *out, uint64_t *since)
{
	struct ds_value rec;
	out->epoch = 0;
	out->n = 0;
	*since = 0;
	if (!val || ds_value_parse(&rec, val, len) != 0)
		return DS_ECORRUPT;
	struct valset *s = malloc(sizeof(*s));
	if (!s)
		return DS_ENOMEM;
	int rc = valset_parse(s, &rec, true);
	if (rc == 0) {
		out->epoch = (uint64_t)s->epoch;
		out->n = (uint32_t)s->n;
		for (size_t i = 0; i < s->n; i++) {
			memcpy(out->v[i].pk, s->v[i].pk, DS_PK_LEN);
			out->v[i].power = 1;
		}
		*since = (uint64_t)s->height;
	}
	free(s);
	return rc;
}

int ds__sys_valset_promote(struct ds_exec_call *call, uint64_t epoch)
{
	struct valset *next = malloc(sizeof(*next)), *cur = malloc(sizeof(*cur));
	int rc = DS_ENOMEM;
	if (!next || !cur)
		goto out;
	rc = valset_read(call, DS_EXEC_SYS_VALSET_NEXT_KEY, next, true);
	if (rc == DS_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc || (uint64_t)next->epoch != epoch)
		goto out;
	/* The pending record was started from sys/valset: epochs follow on. */
	rc = valset_read(call, VALSET_KEY, cur, false);
	if (rc == 0 && cur->epoch + 1 != next->epoch)
		rc = DS_ECORRUPT;
	if (rc)
		goto out;
	next->pending = false;
	next->height = 0;
	if ((rc = ds__sys_write(call, VALSET_KEY, build_valset, next)) == 0)
		rc = call->del_global(call, (const uint8_t *)DS_EXEC_SYS_VALSET_NEXT_KEY,
				      strlen(DS_EXEC_SYS_VALSET_NEXT_KEY));
out:
	free(next);
	free(cur);
	return rc;
}

/* add_validator / remove_validator: starts the pending set of epoch E+1 from
 * sys/valset (epoch E), unless a change is already pending. */
static int valset_change(struct ds_exec_call *call, const struct ds_value *p, bool add, bool apply,
			 char *why, size_t why_cap)
{
	uint8_t pk[DS_PK_LEN];
	struct ds_value v;
	struct valset *next = malloc(sizeof(*next));
	int rc = DS_ENOMEM;
	if (!next) {
		WHY("out of memory");
		goto fail;
	}
	rc = DS_EINVAL;
	if (ds_value_map_get(&v, p, "pk", 2) != 0 || v.kind != DS_VALUE_BYTES || v.len != DS_PK_LEN) {
		WHY("pk must be 32 bytes");
		goto fail;
	}
	memcpy(pk, v.p, DS_PK_LEN);
	rc = valset_read(call, DS_EXEC_SYS_VALSET_NEXT_KEY, next, true);
	if (rc == 0) {
		rc = DS_ESTATE;
		WHY("a validator change for epoch %lld is pending since height %lld; it takes effect "
		    "when that epoch starts; propose again after",
		    (long long)next->epoch, (long long)next->height);
		goto fail;
	}
	if (rc != DS_ENOTFOUND) {
		WHY("cannot read the pending validator set: %s", ds_strerror(rc));
		goto fail;
	}
	rc = valset_read(call, VALSET_KEY, next, false);
	if (rc) {
		if (rc == DS_ENOTFOUND)
			WHY("this ledger has no validator set (%s)", VALSET_KEY);
		else
			WHY("cannot read the validator set: %s", ds_strerror(rc));
		goto fail;
	}
	next->epoch++;
	next->height = (int64_t)call->block->height;
	next->pending = true;
	size_t at = next->n;
	for (size_t i = 0; i < next->n; i++)
		if (memcmp(next->v[i].pk, pk, DS_PK_LEN) == 0)
			at = i;
	char hex[2 * DS_PK_LEN + 1];
	ds_hex_encode(hex, pk, DS_PK_LEN);
	if (add) {
		struct val nv;
		memset(&nv, 0, sizeof(nv));
		memcpy(nv.pk, pk, DS_PK_LEN);
		if (at != next->n) {
			rc = DS_EEXIST;
			WHY("validator %s is already in the set", hex);
			goto fail;
		}
		if (next->n >= DS_VALIDATORS_MAX) {
			rc = DS_EFULL;
			WHY("the validator set is full (%d)", DS_VALIDATORS_MAX);
			goto fail;
		}
		if (ds__sys_field_str(p, "addr", nv.addr, sizeof(nv.addr)) != 0 || !nv.addr[0] ||
		    ds__sys_field_str(p, "org", nv.org, sizeof(nv.org)) != 0) {
			rc = DS_EINVAL;
			WHY("addr (1-%d bytes) and org are required", DS_SYS_ADDR_MAX);
			goto fail;
		}
		char key[KEY_MAX];
		struct ds_value org;
		snprintf(key, sizeof(key), "sys/org/%s", nv.org);
		if (ds__sys_read(call, key, &org) != 0) {
			rc = DS_ENOTFOUND;
			WHY("no organisation %s", nv.org);
			goto fail;
		}
		next->v[next->n++] = nv;
	} else {
		if (at == next->n) {
			rc = DS_ENOTFOUND;
			WHY("validator %s is not in the set", hex);
			goto fail;
		}
		if (next->n <= 1) {
			rc = DS_ERANGE;
			WHY("cannot remove the last validator");
			goto fail;
		}
		memmove(&next->v[at], &next->v[at + 1], (next->n - at - 1) * sizeof(next->v[0]));
		next->n--;
	}
	rc = 0;
	if (apply && (rc = ds__sys_write(call, DS_EXEC_SYS_VALSET_NEXT_KEY, build_valset, next)) != 0)
		WHY("cannot write the validator set: %s", ds_strerror(rc));
fail:
	free(next);
	return rc;
}

/* Genesis: the current set directly (epoch 0). */
int ds__sys_valset_genesis(struct ds_exec_call *call, const struct ds_exec_sys_validator *vs, size_t n,
			   char *why, size_t why_cap)
{
	struct valset *s = calloc(1, sizeof(*s));
	int rc = DS_EINVAL;
	if (!s)
		return DS_ENOMEM;
	if (n == 0 || n > DS_VALIDATORS_MAX) {
		WHY("1-%d validators required", DS_VALIDATORS_MAX);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char key[KEY_MAX];
		struct ds_value org;
		if (!vs[i].addr || !vs[i].addr[0] || strlen(vs[i].addr) > DS_SYS_ADDR_MAX ||
		    !vs[i].org || strlen(vs[i].org) > DS_SYS_ORG_ID_MAX) {
			WHY("validator %zu: bad addr or org", i);
			goto fail;
		}
		snprintf(key, sizeof(key), "sys/org/%s", vs[i].org);
		if (ds__sys_read(call, key, &org) != 0) {
			rc = DS_ENOTFOUND;
			WHY("validator %zu: no organisation %s", i, vs[i].org);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (memcmp(vs[i].pk, vs[j].pk, DS_PK_LEN) == 0) {
				rc = DS_EEXIST;
				WHY("validator %zu: key listed twice", i);
				goto fail;
			}
		memcpy(s->v[i].pk, vs[i].pk, DS_PK_LEN);
		snprintf(s->v[i].addr, sizeof(s->v[i].addr), "%s", vs[i].addr);
		snprintf(s->v[i].org, sizeof(s->v[i].org), "%s", vs[i].org);
	}
	s->n = n;
	rc = ds__sys_write(call, "sys/valset", build_valset, s);
	if (rc)
		WHY("cannot write the validator set: %s", ds_strerror(rc));
fail:
	free(s);
	return rc;
}

/* ---- organisations ---------------------------------------------------- */
static int org_add(struct ds_exec_call *call, const struct ds_value *p, bool apply, char *why,
		   size_t why_cap)
{
	char id[DS_SYS_ORG_ID_MAX + 1], name[DS_SYS_ORG_NAME_MAX + 1], key[KEY_MAX];
	struct ds_value admins, roles_v, item;
	struct ds__sys_roles roles, admin_role;
	uint8_t pks[DS_SYS_ADMINS_MAX][DS_PK_LEN];
	size_t npk = 0;
	int rc;
	struct org_list *l = malloc(sizeof(*l));
	if (!l)
		return DS_ENOMEM;
	rc = DS_EINVAL;
	if (ds__sys_field_str(p, "id", id, sizeof(id)) != 0 || !ds_ledger_name_valid(id)) {
		WHY("id must be 1-%d of a-z 0-9 _ .", DS_SYS_ORG_ID_MAX);
		goto fail;
	}
	if (ds__sys_field_str(p, "name", name, sizeof(name)) != 0 || !name[0]) {
		WHY("name must be a string of 1-%d bytes", DS_SYS_ORG_NAME_MAX);
		goto fail;
	}
	roles.n = 0;
	if (ds_value_map_get(&roles_v, p, "roles", 5) == 0 &&
	    (rc = ds__sys_roles_parse(&roles, &roles_v, why, why_cap)) != 0)
		goto fail;
	rc = DS_EINVAL;
	if (ds_value_map_get(&admins, p, "admins", 6) != 0 || admins.kind != DS_VALUE_ARRAY ||
	    admins.count == 0 || admins.count > DS_SYS_ADMINS_MAX) {
		WHY("admins must be an array of 1-%d public keys", DS_SYS_ADMINS_MAX);
		goto fail;
	}
	struct ds_value_iter it;
	ds_value_iter_init(&it, &admins);
	while (ds_value_iter_next(&it, NULL, NULL, &item)) {
		if (item.kind != DS_VALUE_BYTES || item.len != DS_PK_LEN) {
			WHY("admins must be 32-byte public keys");
			goto fail;
		}
		for (size_t j = 0; j < npk; j++)
			if (memcmp(pks[j], item.p, DS_PK_LEN) == 0) {
				WHY("an admin key is listed twice");
				goto fail;
			}
		memcpy(pks[npk++], item.p, DS_PK_LEN);
		char hex[2 * DS_PK_LEN + 1];
		const uint8_t *v;
		size_t vn;
		ds_hex_encode(hex, item.p, DS_PK_LEN);
		snprintf(key, sizeof(key), "sys/account/%s", hex);
		if (call->get_global(call, (const uint8_t *)key, strlen(key), &v, &vn) == 0) {
			rc = DS_EEXIST;
			WHY("account %s already exists", hex);
			goto fail;
		}
	}
	if ((rc = orgs_read(call, l)) != 0) {
		WHY("cannot read organisations: %s", ds_strerror(rc));
		goto fail;
	}
	if (orgs_has(l, id)) {
		rc = DS_EEXIST;
		WHY("organisation %s already exists", id);
		goto fail;
	}
	if (l->n >= DS_SYS_ORGS_MAX) {
		rc = DS_EFULL;
		WHY("at most %d organisations", DS_SYS_ORGS_MAX);
		goto fail;
	}
	rc = 0;
	if (!apply)
		goto fail;
	size_t at = 0;
	while (at < l->n && strcmp(l->id[at], id) < 0)
		at++;
	memmove(l->id[at + 1], l->id[at], (l->n - at) * sizeof(l->id[0]));
	snprintf(l->id[at], sizeof(l->id[at]), "%s", id);
	l->n++;
	struct org_arg oa = {id, name, &roles, (int64_t)call->block->height};
	snprintf(key, sizeof(key), "sys/org/%s", id);
	if ((rc = ds__sys_write(call, "sys/orgs", build_orgs, l)) != 0 ||
	    (rc = ds__sys_write(call, key, build_org, &oa)) != 0) {
		WHY("cannot write organisation: %s", ds_strerror(rc));
		goto fail;
	}
	admin_role.n = 1;
	snprintf(admin_role.r[0], sizeof(admin_role.r[0]), "%s", DS_ROLE_ADMIN);
	for (size_t i = 0; i < npk; i++)
		if ((rc = ds__sys_account_write(call, pks[i], id, &admin_role,
						 (int64_t)call->block->height)) != 0) {
			WHY("cannot write account: %s", ds_strerror(rc));
			goto fail;
		}
fail:
	free(l);
	return rc;
}

static int org_remove_or_roles(struct ds_exec_call *call, const struct ds_value *p, bool remove,
			       bool apply, char *why, size_t why_cap)
{
	char id[DS_SYS_ORG_ID_MAX + 1], name[DS_SYS_ORG_NAME_MAX + 1], key[KEY_MAX];
	struct ds_value rec, roles_v;
	struct ds__sys_roles roles;
	int64_t height;
	int rc = DS_EINVAL;
	struct org_list *l = malloc(sizeof(*l));
	if (!l)
		return DS_ENOMEM;
	if (ds__sys_field_str(p, "id", id, sizeof(id)) != 0 || !ds_ledger_name_valid(id)) {
		WHY("id must be an organisation id");
		goto fail;
	}
	if ((rc = orgs_read(call, l)) != 0) {
		WHY("cannot read organisations: %s", ds_strerror(rc));
		goto fail;
	}
	snprintf(key, sizeof(key), "sys/org/%s", id);
	if (!orgs_has(l, id) || ds__sys_read(call, key, &rec) != 0) {
		rc = DS_ENOTFOUND;
		WHY("no organisation %s", id);
		goto fail;
	}
	if (remove) {
		if (l->n <= 1) {
			rc = DS_ERANGE;
			WHY("cannot remove the last organisation");
			goto fail;
		}
		rc = 0;
		if (!apply)
			goto fail;
		size_t at = 0;
		while (strcmp(l->id[at], id) != 0)
			at++;
		memmove(l->id[at], l->id[at + 1], (l->n - at - 1) * sizeof(l->id[0]));
		l->n--;
		if ((rc = ds__sys_write(call, "sys/orgs", build_orgs, l)) != 0 ||
		    (rc = call->del_global(call, (const uint8_t *)key, strlen(key))) != 0)
			WHY("cannot write organisations: %s", ds_strerror(rc));
		goto fail;
	}
	rc = DS_EINVAL;
	if (ds_value_map_get(&roles_v, p, "roles", 5) != 0) {
		WHY("roles is required");
		goto fail;
	}
	if ((rc = ds__sys_roles_parse(&roles, &roles_v, why, why_cap)) != 0)
		goto fail;
	if (ds__sys_field_str(&rec, "name", name, sizeof(name)) != 0 ||
	    ds__sys_field_int(&rec, "height", &height) != 0) {
		rc = DS_ECORRUPT;
		WHY("organisation %s has a corrupt record", id);
		goto fail;
	}
	rc = 0;
	if (!apply)
		goto fail;
	struct org_arg oa = {id, name, &roles, height};
	if ((rc = ds__sys_write(call, key, build_org, &oa)) != 0)
		WHY("cannot write organisation: %s", ds_strerror(rc));
fail:
	free(l);
	return rc;
}

/* ---- contracts ---------------------------------------------------------- */
static bool method_name_valid(const uint8_t *s, size_t n)
{
	if (n == 1 && s[0] == '*')
		return true;
	if (n == 0 || n > DS_VM_NAME_MAX || s[0] == '_')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

struct contract_arg {
	const char *name;
	int64_t active;
	const struct ds_value *old_versions; /* NULL: none */
	/* the new version */
	int64_t version, height, proposal;
	const char *org;
	uint8_t code_hash[DS_HASH_LEN];
	const uint8_t *roles_enc; /* MAP encoding */
	size_t roles_len;
};

static void build_contract(struct ds_enc *e, const void *arg)
{
	const struct contract_arg *a = arg;
	ds_value_enc_map(e, 3);
	ds_value_enc_key(e, "active", 6);
	ds_value_enc_int(e, a->active);
	ds_value_enc_key(e, "name", 4);
	ds_value_enc_str(e, a->name, strlen(a->name));
	ds_value_enc_key(e, "versions", 8);
	uint32_t old = a->old_versions ? a->old_versions->count : 0;
	ds_value_enc_array(e, old + 1);
	if (old)
		ds_enc_fixed(e, a->old_versions->p, a->old_versions->len);
	ds_value_enc_map(e, 6);
	ds_value_enc_key(e, "code_hash", 9);
	ds_value_enc_bytes(e, a->code_hash, DS_HASH_LEN);
	ds_value_enc_key(e, "height", 6);
	ds_value_enc_int(e, a->height);
	ds_value_enc_key(e, "org", 3);
	ds_value_enc_str(e, a->org, strlen(a->org));
	ds_value_enc_key(e, "proposal", 8);
	ds_value_enc_int(e, a->proposal);
	ds_value_enc_key(e, "roles", 5);
	ds_enc_fixed(e, a->roles_enc, a->roles_len);
	ds_value_enc_key(e, "version", 7);
	ds_value_enc_int(e, a->version);
}

static void build_source(struct ds_enc *e, const void *arg)
{
	const struct ds_value *src = arg;
	ds_value_enc_bytes(e, src->p, src->len);
}

static int contract_put(struct ds_exec_call *call, const struct ds_value *p, bool upgrade,
			bool apply, uint64_t proposal, const char *org, char *why, size_t why_cap)
{
	char name[DS_NAME_MAX + 1], key[KEY_MAX];
	struct ds_value src, roles, rec, versions, item;
	static const uint8_t empty_map[2] = {DS_VALUE_MAP, 0};
	int64_t version, max_version = 0;
	if (ds__sys_field_str(p, "name", name, sizeof(name)) != 0 || !ds_ledger_name_valid(name) ||
	    ds__sys_is_native(name)) {
		WHY("name must be 1-%d of a-z 0-9 _ . and not a system module", DS_NAME_MAX);
		return DS_EINVAL;
	}
	if (ds__sys_field_int(p, "version", &version) != 0 || version < 1) {
		WHY("version must be an integer >= 1");
		return DS_EINVAL;
	}
	if (ds_value_map_get(&src, p, "source", 6) != 0 ||
	    (src.kind != DS_VALUE_BYTES && src.kind != DS_VALUE_STR) || src.len == 0 ||
	    src.len > DS_VM_SRC_MAX) {
		WHY("source must be 1-%u bytes of Lua", DS_VM_SRC_MAX);
		return DS_EINVAL;
	}
	if (ds_value_map_get(&roles, p, "roles", 5) == 0) {
		if (roles.kind != DS_VALUE_MAP || roles.count > DS_SYS_CONTRACT_ROLES_MAX) {
			WHY("roles must be a map {method: role} of at most %d entries",
			    DS_SYS_CONTRACT_ROLES_MAX);
			return DS_EINVAL;
		}
		struct ds_value_iter it;
		const uint8_t *k;
		size_t kl;
		ds_value_iter_init(&it, &roles);
		while (ds_value_iter_next(&it, &k, &kl, &item)) {
			if (!method_name_valid(k, kl) || item.kind != DS_VALUE_STR ||
			    (item.len && !ds__sys_role_valid(item.p, item.len))) {
				WHY("roles: bad entry (method or \"*\" to a role name or \"\")");
				return DS_EINVAL;
			}
		}
	} else {
		int rc = ds_value_parse(&roles, empty_map, sizeof(empty_map));
		DS_ASSERT(rc == 0);
	}
	snprintf(key, sizeof(key), "sys/contract/%s", name);
	int rc = ds__sys_read(call, key, &rec);
	if (rc && rc != DS_ENOTFOUND) {
		WHY("cannot read contract %s: %s", name, ds_strerror(rc));
		return rc;
	}
	if (!upgrade && rc == 0) {
		WHY("contract %s already exists (use upgrade_contract)", name);
		return DS_EEXIST;
	}
	if (upgrade && rc == DS_ENOTFOUND) {
		WHY("no contract %s to upgrade", name);
		return DS_ENOTFOUND;
	}
	bool have = rc == 0;
	if (have) {
		if (ds_value_map_get(&versions, &rec, "versions", 8) != 0 || versions.kind != DS_VALUE_ARRAY) {
			WHY("contract %s has a corrupt record", name);
			return DS_ECORRUPT;
		}
		struct ds_value_iter it;
		ds_value_iter_init(&it, &versions);
		while (ds_value_iter_next(&it, NULL, NULL, &item)) {
			int64_t v;
			if (ds__sys_field_int(&item, "version", &v) != 0)
				return DS_ECORRUPT;
			if (v > max_version)
				max_version = v;
		}
		if (version <= max_version) {
			WHY("version %lld of %s must be above %lld", (long long)version, name,
			    (long long)max_version);
			return DS_ERANGE;
		}
		if (versions.count >= DS_SYS_VERSIONS_MAX) {
			WHY("contract %s has %d versions already", name, DS_SYS_VERSIONS_MAX);
			return DS_EFULL;
		}
	}
	if (!apply)
		return 0;
	struct contract_arg a = {
		.name = name, .active = version, .old_versions = have ? &versions : NULL,
		.version = version, .height = (int64_t)call->block->height,
		.proposal = (int64_t)proposal, .org = org, .roles_enc = roles.enc,
		.roles_len = roles.enc_len,
	};
	ds_sha256(a.code_hash, src.p, src.len);
	/* The source first: the record is rebuilt from state read above. */
	char skey[KEY_MAX];
	snprintf(skey, sizeof(skey), "sys/code/%s/%lld", name, (long long)version);
	if ((rc = ds__sys_write(call, key, build_contract, &a)) != 0 ||
	    (rc = ds__sys_write(call, skey, build_source, &src)) != 0)
		WHY("cannot write contract %s: %s", name, ds_strerror(rc));
	return rc;
}

/* ---- dispatch of kinds ------------------------------------------------ */
static const char *const kinds[] = {"add_org", "remove_org", "set_org_roles", "add_validator",
				    "remove_validator", "set_param", "deploy_contract",
				    "upgrade_contract"};

static int gov_do(struct ds_exec_call *call, const char *kind, const struct ds_value *p, bool apply,
		  uint64_t id, const char *org, char *why, size_t why_cap)
{
	if (p->kind != DS_VALUE_MAP) {
		WHY("payload must be a map");
		return DS_EINVAL;
	}
	if (strcmp(kind, "add_org") == 0)
		return org_add(call, p, apply, why, why_cap);
	if (strcmp(kind, "remove_org") == 0)
		return org_remove_or_roles(call, p, true, apply, why, why_cap);
	if (strcmp(kind, "set_org_roles") == 0)
		return org_remove_or_roles(call, p, false, apply, why, why_cap);
	if (strcmp(kind, "add_validator") == 0)
		return valset_change(call, p, true, apply, why, why_cap);
	if (strcmp(kind, "remove_validator") == 0)
		return valset_change(call, p, false, apply, why, why_cap);
	if (strcmp(kind, "set_param") == 0) {
		char name[DS_NAME_MAX + 1];
		int64_t value;
		if (ds__sys_field_str(p, "name", name, sizeof(name)) != 0 ||
		    ds__sys_field_int(p, "value", &value) != 0) {
			WHY("name (string) and value (integer) are required");
			return DS_EINVAL;
		}
		return ds__sys_param_set(call, name, value, apply, why, why_cap);
	}
	if (strcmp(kind, "deploy_contract") == 0 || strcmp(kind, "upgrade_contract") == 0)
		return contract_put(call, p, kind[0] == 'u', apply, id, org, why, why_cap);
	WHY("unknown proposal kind %s", kind);
	return DS_ETAG;
}

int ds__sys_gov_check(struct ds_exec_call *call, const char *kind, const struct ds_value *payload,
		      char *why, size_t why_cap)
{
	return gov_do(call, kind, payload, false, 0, "", why, why_cap);
}

int ds__sys_gov_apply(struct ds_exec_call *call, const char *kind, const struct ds_value *payload,
		      uint64_t proposal_id, const char *org, char *why, size_t why_cap)
{
	int rc = gov_do(call, kind, payload, false, proposal_id, org, why, why_cap);
	if (rc == 0)
		rc = gov_do(call, kind, payload, true, proposal_id, org, why, why_cap);
	return rc;
}

/* ---- proposals ---------------------------------------------------------- */
struct prop {
	int64_t id, height, expires;
	char kind[32];
	char org[DS_SYS_ORG_ID_MAX + 1];
	char status[16];
	const char *error; /* NULL: none */
	uint8_t proposer[DS_PK_LEN];
	struct ds_value payload;
	struct ds_value history, votes; /* old arrays (kind NULL when new) */
	size_t nhist;
	const char *hist[2];
	bool add_vote;
	uint8_t vote_account[DS_PK_LEN];
	bool vote_approve;
	const char *vote_org;
	int64_t now;
};

static void build_prop(struct ds_enc *e, const void *arg)
{
	const struct prop *p = arg;
	uint32_t oh = p->history.kind == DS_VALUE_ARRAY ? p->history.count : 0;
	uint32_t ov = p->votes.kind == DS_VALUE_ARRAY ? p->votes.count : 0;
	ds_value_enc_map(e, p->error ? 11 : 10);
	if (p->error) {
		ds_value_enc_key(e, "error", 5);
		ds_value_enc_str(e, p->error, strlen(p->error));
	}
	ds_value_enc_key(e, "expires", 7);
	ds_value_enc_int(e, p->expires);
	ds_value_enc_key(e, "height", 6);
	ds_value_enc_int(e, p->height);
	ds_value_enc_key(e, "history", 7);
	ds_value_enc_array(e, oh + (uint32_t)p->nhist);
	if (oh)
		ds_enc_fixed(e, p->history.p, p->history.len);
	for (size_t i = 0; i < p->nhist; i++) {
		ds_value_enc_map(e, 2);
		ds_value_enc_key(e, "height", 6);
		ds_value_enc_int(e, p->now);
		ds_value_enc_key(e, "status", 6);
		ds_value_enc_str(e, p->hist[i], strlen(p->hist[i]));
	}
	ds_value_enc_key(e, "id", 2);
	ds_value_enc_int(e, p->id);
	ds_value_enc_key(e, "kind", 4);
	ds_value_enc_str(e, p->kind, strlen(p->kind));
	ds_value_enc_key(e, "org", 3);
	ds_value_enc_str(e, p->org, strlen(p->org));
	ds_value_enc_key(e, "payload", 7);
	ds_enc_fixed(e, p->payload.enc, p->payload.enc_len);
	ds_value_enc_key(e, "proposer", 8);
	ds_value_enc_bytes(e, p->proposer, DS_PK_LEN);
	ds_value_enc_key(e, "status", 6);
	ds_value_enc_str(e, p->status, strlen(p->status));
	ds_value_enc_key(e, "votes", 5);
	ds_value_enc_array(e, ov + (p->add_vote ? 1 : 0));
	if (ov)
		ds_enc_fixed(e, p->votes.p, p->votes.len);
	if (p->add_vote) {
		ds_value_enc_map(e, 4);
		ds_value_enc_key(e, "account", 7);
		ds_value_enc_bytes(e, p->vote_account, DS_PK_LEN);
		ds_value_enc_key(e, "approve", 7);
		ds_value_enc_bool(e, p->vote_approve);
		ds_value_enc_key(e, "height", 6);
		ds_value_enc_int(e, p->now);
		ds_value_enc_key(e, "org", 3);
		ds_value_enc_str(e, p->vote_org, strlen(p->vote_org));
	}
}

static void prop_key(char *key, size_t cap, int64_t id)
{
	snprintf(key, cap, "sys/gov/p/%020lld", (long long)id);
}

static int prop_load(struct ds_exec_call *call, struct prop *p, int64_t id, struct ds_value *rec)
{
	char key[KEY_MAX];
	struct ds_value pr;
	memset(p, 0, sizeof(*p));
	prop_key(key, sizeof(key), id);
	int rc = ds__sys_read(call, key, rec);
	if (rc == DS_ENOTFOUND) {
		call->fail(call, "no proposal %lld", (long long)id);
		return rc;
	}
	if (rc == 0 &&
	    (ds__sys_field_int(rec, "id", &p->id) != 0 || ds__sys_field_int(rec, "height", &p->height) != 0 ||
	     ds__sys_field_int(rec, "expires", &p->expires) != 0 ||
	     ds__sys_field_str(rec, "kind", p->kind, sizeof(p->kind)) != 0 ||
	     ds__sys_field_str(rec, "org", p->org, sizeof(p->org)) != 0 ||
	     ds__sys_field_str(rec, "status", p->status, sizeof(p->status)) != 0 ||
	     ds_value_map_get(&p->payload, rec, "payload", 7) != 0 ||
	     ds_value_map_get(&p->history, rec, "history", 7) != 0 ||
	     ds_value_map_get(&p->votes, rec, "votes", 5) != 0 ||
	     ds_value_map_get(&pr, rec, "proposer", 8) != 0 || pr.kind != DS_VALUE_BYTES ||
	     pr.len != DS_PK_LEN || p->votes.kind != DS_VALUE_ARRAY))
		rc = DS_ECORRUPT;
	if (rc) {
		call->fail(call, "cannot read proposal %lld: %s", (long long)id, ds_strerror(rc));
		return rc;
	}
	memcpy(p->proposer, pr.p, DS_PK_LEN);
	p->now = (int64_t)call->block->height;
	return 0;
}

static int prop_store(struct ds_exec_call *call, const struct prop *p)
{
	char key[KEY_MAX];
	prop_key(key, sizeof(key), p->id);
	int rc = ds__sys_write(call, key, build_prop, p);
	if (rc)
		call->fail(call, "cannot write proposal: %s", ds_strerror(rc));
	return rc;
}

struct ev_arg {
	int64_t id;
	const char *kind, *org, *status;
	int approve; /* -1: absent */
};

static void build_ev(struct ds_enc *e, const void *arg)
{
	const struct ev_arg *a = arg;
	uint32_t n = 1 + (a->approve >= 0) + !!a->kind + !!a->org + !!a->status;
	ds_value_enc_map(e, n);
	if (a->approve >= 0) {
		ds_value_enc_key(e, "approve", 7);
		ds_value_enc_bool(e, a->approve);
	}
	ds_value_enc_key(e, "id", 2);
	ds_value_enc_int(e, a->id);
	if (a->kind) {
		ds_value_enc_key(e, "kind", 4);
		ds_value_enc_str(e, a->kind, strlen(a->kind));
	}
	if (a->org) {
		ds_value_enc_key(e, "org", 3);
		ds_value_enc_str(e, a->org, strlen(a->org));
	}
	if (a->status) {
		ds_value_enc_key(e, "status", 6);
		ds_value_enc_str(e, a->status, strlen(a->status));
	}
}

static int emit_ev(struct ds_exec_call *call, const char *name, const struct ev_arg *a)
{
	uint8_t buf[512];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	build_ev(&e, a);
	int rc = ds_enc_finish(&e, &n);
	DS_ASSERT(rc == 0);
	return call->emit(call, name, buf, n);
}

static int set_ret(struct ds_exec_call *call, int64_t id, const char *status)
{
	struct ev_arg a = {id, NULL, NULL, status, -1};
	uint8_t buf[128];
	struct ds_enc e;
	size_t n;
	ds_enc_init(&e, buf, sizeof(buf));
	build_ev(&e, &a);
	int rc = ds_enc_finish(&e, &n);
	DS_ASSERT(rc == 0);
	return call->set_return(call, buf, n);
}

static int propose(struct ds_exec_call *call, const struct ds__sys_caller *me)
{
	struct ds_value args, payload, next;
	struct prop *p = calloc(1, sizeof(*p));
	char why[256];
	int rc;
	if (!p) {
		call->fail(call, "out of memory");
		return DS_ENOMEM;
	}
	if ((rc = ds__sys_args(call, &args)) != 0 ||
	    (rc = ds__sys_arg_str(call, &args, "kind", p->kind, sizeof(p->kind))) != 0)
		goto fail;
	rc = DS_ETAG;
	for (size_t i = 0; i < DS_ARRAY_LEN(kinds); i++)
		if (strcmp(p->kind, kinds[i]) == 0)
			rc = 0;
	if (rc) {
		call->fail(call, "gov.propose: unknown kind %s", p->kind);
		goto fail;
	}
	if (ds_value_map_get(&payload, &args, "payload", 7) != 0) {
		call->fail(call, "gov.propose: bad argument payload: missing");
		rc = DS_EINVAL;
		goto fail;
	}
	if ((rc = ds__sys_gov_check(call, p->kind, &payload, why, sizeof(why))) != 0) {
		call->fail(call, "gov.propose %s: %s", p->kind, why);
		goto fail;
	}
	int64_t id = 1, lifetime;
	rc = ds__sys_read(call, "sys/gov/next", &next);
	if (rc == 0) {
		if (next.kind != DS_VALUE_INT || next.i < 1) {
			rc = DS_ECORRUPT;
			call->fail(call, "cannot read sys/gov/next: %s", ds_strerror(rc));
			goto fail;
		}
		id = next.i;
	} else if (rc != DS_ENOTFOUND) {
		call->fail(call, "cannot read governance state: %s", ds_strerror(rc));
		goto fail;
	}
	if ((rc = ds_exec_sys_param(call, "gov.lifetime", &lifetime)) != 0) {
		call->fail(call, "cannot read parameters: %s", ds_strerror(rc));
		goto fail;
	}
	p->id = id;
	p->now = p->height = (int64_t)call->block->height;
	p->expires = p->height + lifetime;
	snprintf(p->org, sizeof(p->org), "%s", me->org);
	snprintf(p->status, sizeof(p->status), "open");
	memcpy(p->proposer, call->tx->sender, DS_PK_LEN);
	p->payload = payload;
	p->nhist = 1;
	p->hist[0] = "open";
	uint8_t nb[16];
	struct ds_enc e;
	size_t nn;
	ds_enc_init(&e, nb, sizeof(nb));
	ds_value_enc_int(&e, id + 1);
	rc = ds_enc_finish(&e, &nn);
	DS_ASSERT(rc == 0);
	if ((rc = call->put_global(call, (const uint8_t *)"sys/gov/next", 12, nb, nn)) != 0) {
		call->fail(call, "cannot write sys/gov/next: %s", ds_strerror(rc));
		goto fail;
	}
	if ((rc = prop_store(call, p)) != 0)
		goto fail;
	struct ev_arg ev = {id, p->kind, me->org, NULL, -1};
	if ((rc = emit_ev(call, "gov.proposed", &ev)) != 0 || (rc = set_ret(call, id, "open")) != 0)
		call->fail(call, "cannot record the result: %s", ds_strerror(rc));
fail:
	free(p);
	return rc;
}

/* Marks an open proposal expired when its lifetime is over: 1 if it did. */
static int maybe_expire(struct ds_exec_call *call, struct prop *p)
{
	if ((uint64_t)p->expires > call->block->height)
		return 0;
	snprintf(p->status, sizeof(p->status), "expired");
	p->nhist = 1;
	p->hist[0] = "expired";
	int rc = prop_store(call, p);
	struct ev_arg ev = {p->id, p->kind, NULL, "expired", -1};
	if (rc == 0 && (rc = emit_ev(call, "gov.expired", &ev)) == 0)
		rc = set_ret(call, p->id, "expired");
	return rc ? rc : 1;
}

static int vote(struct ds_exec_call *call, const struct ds__sys_caller *me, bool expire_only)
{
	struct ds_value args, rec, item, av;
	int64_t id;
	char why[256], vorg[DS_SYS_ORG_ID_MAX + 1], key[KEY_MAX];
	int rc;
	struct prop *p = malloc(sizeof(*p));
	struct org_list *l = malloc(sizeof(*l));
	if (!p || !l) {
		rc = DS_ENOMEM;
		call->fail(call, "out of memory");
		goto fail;
	}
	if ((rc = ds__sys_args(call, &args)) != 0 || (rc = ds__sys_arg_int(call, &args, "id", &id)) != 0 ||
	    (rc = prop_load(call, p, id, &rec)) != 0)
		goto fail;
	if (strcmp(p->status, "open") != 0) {
		call->fail(call, "proposal %lld is %s", (long long)id, p->status);
		rc = DS_ESTATE;
		goto fail;
	}
	rc = maybe_expire(call, p);
	if (rc) {
		if (rc < 0)
			call->fail(call, "cannot expire proposal: %s", ds_strerror(rc));
		rc = rc < 0 ? rc : 0;
		goto fail;
	}
	if (expire_only) {
		call->fail(call, "proposal %lld expires at height %lld", (long long)id, (long long)p->expires);
		rc = DS_ESTATE;
		goto fail;
	}
	if (ds_value_map_get(&av, &args, "approve", 7) != 0 ||
	    (av.kind != DS_VALUE_TRUE && av.kind != DS_VALUE_FALSE)) {
		call->fail(call, "gov.vote: bad argument approve: must be true or false");
		rc = DS_EINVAL;
		goto fail;
	}
	if ((rc = orgs_read(call, l)) != 0) {
		call->fail(call, "cannot read organisations: %s", ds_strerror(rc));
		goto fail;
	}
	/* Count the votes of organisations that still exist. */
	size_t yes = 0, no = 0;
	struct ds_value_iter it;
	ds_value_iter_init(&it, &p->votes);
	while (ds_value_iter_next(&it, NULL, NULL, &item)) {
		struct ds_value a;
		if (ds__sys_field_str(&item, "org", vorg, sizeof(vorg)) != 0 ||
		    ds_value_map_get(&a, &item, "approve", 7) != 0) {
			rc = DS_ECORRUPT;
			call->fail(call, "proposal %lld has a corrupt vote", (long long)id);
			goto fail;
		}
		if (strcmp(vorg, me->org) == 0) {
			call->fail(call, "organisation %s already voted on proposal %lld", me->org, (long long)id);
			rc = DS_EEXIST;
			goto fail;
		}
		if (!orgs_has(l, vorg))
			continue;
		if (a.kind == DS_VALUE_TRUE)
			yes++;
		else
			no++;
	}
	bool approve = av.kind == DS_VALUE_TRUE;
	if (approve)
		yes++;
	else
		no++;
	p->add_vote = true;
	memcpy(p->vote_account, call->tx->sender, DS_PK_LEN);
	p->vote_approve = approve;
	p->vote_org = me->org;
	int64_t num, den;
	if ((rc = ds_exec_sys_param(call, "gov.threshold_num", &num)) != 0 ||
	    (rc = ds_exec_sys_param(call, "gov.threshold_den", &den)) != 0) {
		call->fail(call, "cannot read parameters: %s", ds_strerror(rc));
		goto fail;
	}
	uint64_t orgs = l->n;
	uint64_t left = orgs > yes + no ? orgs - yes - no : 0;
	struct ev_arg ev = {id, NULL, me->org, NULL, approve};
	if ((rc = emit_ev(call, "gov.voted", &ev)) != 0) {
		call->fail(call, "cannot emit: %s", ds_strerror(rc));
		goto fail;
	}
	const char *final = NULL;
	if ((uint64_t)yes * (uint64_t)den > orgs * (uint64_t)num) {
		why[0] = 0;
		rc = ds__sys_gov_apply(call, p->kind, &p->payload, (uint64_t)id, p->org, why, sizeof(why));
		if (rc == DS_ENOMEM || rc == DS_EIO || rc == DS_ECORRUPT) {
			call->fail(call, "proposal %lld: %s", (long long)id, why);
			goto fail;
		}
		p->nhist = 2;
		p->hist[0] = "passed";
		final = p->hist[1] = rc ? "failed" : "executed";
		if (rc)
			p->error = why;
	} else if ((yes + left) * (uint64_t)den <= orgs * (uint64_t)num) {
		p->nhist = 1;
		final = p->hist[0] = "rejected";
	}
	if (final)
		snprintf(p->status, sizeof(p->status), "%s", final);
	if ((rc = prop_store(call, p)) != 0)
		goto fail;
	if (final) {
		struct ev_arg fe = {id, p->kind, NULL, final, -1};
		snprintf(key, sizeof(key), "gov.%s", final);
		if ((rc = emit_ev(call, key, &fe)) != 0) {
			call->fail(call, "cannot emit: %s", ds_strerror(rc));
			goto fail;
		}
	}
	if ((rc = set_ret(call, id, p->status)) != 0)
		call->fail(call, "cannot set the return value: %s", ds_strerror(rc));
fail:
	free(p);
	free(l);
	return rc;
}

static int gov_call(struct ds_exec_call *call)
{
	const char *m = call->tx->method;
	struct ds__sys_caller me;
	if (strcmp(m, "get") == 0) {
		struct ds_value args;
		int64_t id;
		char key[KEY_MAX];
		int rc;
		if ((rc = ds__sys_args(call, &args)) != 0 || (rc = ds__sys_arg_int(call, &args, "id", &id)) != 0)
			return rc;
		prop_key(key, sizeof(key), id);
		const uint8_t *v;
		size_t n;
		if ((rc = call->get_global(call, (const uint8_t *)key, strlen(key), &v, &n)) != 0) {
			call->fail(call, "no proposal %lld", (long long)id);
			return rc;
		}
		return call->set_return(call, v, n);
	}
	bool is_propose = strcmp(m, "propose") == 0, is_vote = strcmp(m, "vote") == 0,
	     is_expire = strcmp(m, "expire") == 0;
	if (!is_propose && !is_vote && !is_expire) {
		call->fail(call, "module gov has no method %s", m);
		return DS_ENOTFOUND;
	}
	int rc = ds__sys_caller(call, call->tx->sender, &me);
	if (rc) {
		call->fail(call, "cannot read account: %s", ds_strerror(rc));
		return rc;
	}
	bool admin = false;
	for (size_t i = 0; i < me.nroles; i++)
		admin |= strcmp(me.roles[i], DS_ROLE_ADMIN) == 0;
	/* The authorizer checked this already; checked again so the module is
	 * safe on an executor that runs without one. */
	if (!admin) {
		call->fail(call, "account %s lacks role %s for gov.%s", me.account, DS_ROLE_ADMIN, m);
		return DS_EDENIED;
	}
	if (is_propose)
		return propose(call, &me);
	return vote(call, &me, is_expire);
}

const struct ds_exec_module ds_exec_gov_module = {"gov", gov_call, DS_EXEC_MOD_SYSTEM};
