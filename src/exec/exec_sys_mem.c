/* An in-memory executor for one transaction at a time (unit tests and
 * `danshari contract test`), genesis state built through it, and the
 * contract test runner. */
#include "exec/exec_sys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "vm/vm.h"

#define MEM_KEY_MAX 1024
#define MEM_VAL_MAX (2 * DS_VM_SRC_MAX)
#define MEM_ENTRIES_MAX (1u << 20)

struct entry {
	uint8_t *key;
	size_t key_len;
	uint8_t *val; /* NULL in the overlay: deleted */
	size_t val_len;
};

struct map {
	struct entry *e;
	size_t n, cap;
};

struct ds_exec_sys_mem {
	struct map committed, overlay;
	struct ds_exec_sys_mem_receipt *r; /* during run */
	char prefix[2 * DS_NAME_MAX + 16]; /* "<module>/" for namespaced calls */
	uint8_t kbuf[MEM_KEY_MAX + 2 * DS_NAME_MAX + 16];
};

static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* Index of key, or of where it would go (*found false). */
static size_t map_find(const struct map *m, const uint8_t *key, size_t key_len, bool *found)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(m->e[mid].key, m->e[mid].key_len, key, key_len);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Sets key to val (copied; val NULL records a deletion). */
static int map_set(struct map *m, const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len)
{
	bool found;
	size_t i = map_find(m, key, key_len, &found);
	uint8_t *v = NULL;
	if (val) {
		v = malloc(val_len ? val_len : 1);
		if (!v)
			return DS_ENOMEM;
		memcpy(v, val, val_len);
	}
	if (found) {
		free(m->e[i].val);
		m->e[i].val = v;
		m->e[i].val_len = val_len;
		return 0;
	}
	if (m->n >= MEM_ENTRIES_MAX) {
		free(v);
		return DS_EFULL;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct entry *e = realloc(m->e, cap * sizeof(*e));
		if (!e) {
			free(v);
			return DS_ENOMEM;
		}
		m->e = e;
		m->cap = cap;
	}
	uint8_t *k = malloc(key_len ? key_len : 1);
	if (!k) {
		free(v);
		return DS_ENOMEM;
	}
	memcpy(k, key, key_len);
	memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(m->e[0]));
	m->e[i] = (struct entry){k, key_len, v, val_len};
	m->n++;
	return 0;
}

static void map_del_at(struct map *m, size_t i)
{
	free(m->e[i].key);
	free(m->e[i].val);
	memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
	m->n--;
}

static void map_clear(struct map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].key);
		free(m->e[i].val);
	}
	m->n = 0;
}

int ds_exec_sys_mem_new(struct ds_exec_sys_mem **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : DS_ENOMEM;
}

void ds_exec_sys_mem_free(struct ds_exec_sys_mem *m)
{
	if (!m)
		return;
	map_clear(&m->committed);
	map_clear(&m->overlay);
	free(m->committed.e);
	free(m->overlay.e);
	free(m);
}

int ds_exec_sys_mem_put(struct ds_exec_sys_mem *m, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	if (key_len == 0 || key_len > MEM_KEY_MAX || (val && val_len > MEM_VAL_MAX))
		return DS_ETOOBIG;
	if (val)
		return map_set(&m->committed, key, key_len, val, val_len);
	bool found;
	size_t i = map_find(&m->committed, key, key_len, &found);
	if (found)
		map_del_at(&m->committed, i);
	return 0;
}

int ds_exec_sys_mem_get(struct ds_exec_sys_mem *m, const uint8_t *key, size_t key_len,
			const uint8_t **val, size_t *val_len)
{
	bool found;
	size_t i = map_find(&m->committed, key, key_len, &found);
	*val = NULL;
	*val_len = 0;
	if (!found)
		return DS_ENOTFOUND;
	*val = m->committed.e[i].val;
	*val_len = m->committed.e[i].val_len;
	return 0;
}

int ds__sys_mem_commit(struct ds_exec_sys_mem *m)
{
	int rc = 0;
	for (size_t i = 0; i < m->overlay.n && rc == 0; i++) {
		struct entry *e = &m->overlay.e[i];
		rc = ds_exec_sys_mem_put(m, e->key, e->key_len, e->val, e->val_len);
	}
	map_clear(&m->overlay);
	return rc;
}

void ds__sys_mem_discard(struct ds_exec_sys_mem *m)
{
	map_clear(&m->overlay);
}

/* ---- the call interface ------------------------------------------------- */
static int g_get(struct ds_exec_call *call, const uint8_t *key, size_t key_len, const uint8_t **val,
		 size_t *val_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	bool found;
	size_t i = map_find(&m->overlay, key, key_len, &found);
	if (found) {
		*val = m->overlay.e[i].val;
		*val_len = m->overlay.e[i].val_len;
		return *val ? 0 : DS_ENOTFOUND;
	}
	return ds_exec_sys_mem_get(m, key, key_len, val, val_len);
}

static int g_put(struct ds_exec_call *call, const uint8_t *key, size_t key_len, const uint8_t *val,
		 size_t val_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (key_len == 0 || key_len > MEM_KEY_MAX || val_len > MEM_VAL_MAX)
		return DS_ETOOBIG;
	if (ds_value_check(val, val_len) != 0)
		return DS_EINVAL;
	return map_set(&m->overlay, key, key_len, val, val_len);
}

static int g_del(struct ds_exec_call *call, const uint8_t *key, size_t key_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (key_len == 0 || key_len > MEM_KEY_MAX)
		return DS_ETOOBIG;
	return map_set(&m->overlay, key, key_len, NULL, 0);
}

static size_t ns_key(struct ds_exec_sys_mem *m, const uint8_t *key, size_t key_len)
{
	size_t pl = strlen(m->prefix);
	memcpy(m->kbuf, m->prefix, pl);
	memcpy(m->kbuf + pl, key, key_len);
	return pl + key_len;
}

static int n_get(struct ds_exec_call *call, const uint8_t *key, size_t key_len, const uint8_t **val,
		 size_t *val_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (key_len > MEM_KEY_MAX)
		return DS_ETOOBIG;
	return g_get(call, m->kbuf, ns_key(m, key, key_len), val, val_len);
}

static int n_put(struct ds_exec_call *call, const uint8_t *key, size_t key_len, const uint8_t *val,
		 size_t val_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (key_len > MEM_KEY_MAX)
		return DS_ETOOBIG;
	return g_put(call, m->kbuf, ns_key(m, key, key_len), val, val_len);
}

static int n_del(struct ds_exec_call *call, const uint8_t *key, size_t key_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (key_len > MEM_KEY_MAX)
		return DS_ETOOBIG;
	return g_del(call, m->kbuf, ns_key(m, key, key_len));
}

static int c_emit(struct ds_exec_call *call, const char *name, const uint8_t *val, size_t val_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	struct ds_exec_sys_mem_receipt *r = m->r;
	if (!r)
		return 0; /* genesis: events are not kept */
	if (!ds_ledger_name_valid(name) || val_len > DS_EVENT_VALUE_MAX || ds_value_check(val, val_len) != 0)
		return DS_EINVAL;
	if (r->nevents >= DS_RECEIPT_EVENTS_MAX)
		return DS_EFULL;
	struct ds_exec_sys_mem_event *ev = &r->events[r->nevents];
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	ds_buf_init(&ev->value);
	ds_buf_append(&ev->value, val, val_len);
	r->nevents++;
	return ev->value.err ? DS_ENOMEM : 0;
}

static int c_set_return(struct ds_exec_call *call, const uint8_t *val, size_t val_len)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (!m->r)
		return 0;
	if (val_len > DS_RECEIPT_RETURN_MAX || ds_value_check(val, val_len) != 0)
		return DS_EINVAL;
	ds_buf_reset(&m->r->ret);
	ds_buf_append(&m->r->ret, val, val_len);
	return m->r->ret.err ? DS_ENOMEM : 0;
}

static void c_fail(struct ds_exec_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void c_fail(struct ds_exec_call *call, const char *fmt, ...)
{
	struct ds_exec_sys_mem *m = call->exec;
	if (!m->r)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->r->error, sizeof(m->r->error), fmt, ap);
	va_end(ap);
}

void ds__sys_mem_call(struct ds_exec_sys_mem *m, struct ds_exec_call *call,
		      const struct ds_exec_block_info *blk, const struct ds_tx *tx)
{
	memset(call, 0, sizeof(*call));
	call->block = blk;
	call->tx = tx;
	call->get = n_get;
	call->put = n_put;
	call->del = n_del;
	call->get_global = g_get;
	call->put_global = g_put;
	call->del_global = g_del;
	call->emit = c_emit;
	call->set_return = c_set_return;
	call->fail = c_fail;
	call->exec = m;
}

void ds_exec_sys_mem_receipt_free(struct ds_exec_sys_mem_receipt *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		ds_buf_free(&r->events[i].value);
	r->nevents = 0;
	ds_buf_free(&r->ret);
}

int ds_exec_sys_mem_run(struct ds_exec_sys_mem *m, struct ds_exec_sys_mem_receipt *r,
			const struct ds_exec_module *mods, size_t nmods,
			int (*authorize)(struct ds_exec_call *call),
			const struct ds_exec_block_info *blk, const struct ds_tx *tx)
{
	static const uint8_t null_value = DS_VALUE_NULL;
	struct ds_exec_call call;
	const struct ds_exec_module *mod = NULL, *fallback = NULL;
	memset(r, 0, sizeof(*r));
	ds_buf_init(&r->ret);
	for (size_t i = 0; i < nmods; i++) {
		if (strcmp(mods[i].name, tx->target) == 0)
			mod = &mods[i];
		if (strcmp(mods[i].name, "contract") == 0)
			fallback = &mods[i];
	}
	if (!mod)
		mod = fallback;
	m->r = r;
	ds__sys_mem_call(m, &call, blk, tx);
	int rc;
	if (!mod) {
		c_fail(&call, "no module or contract named %s", tx->target);
		rc = DS_ENOTFOUND;
	} else {
		/* As the executor: "<module>/", and "contract/<name>/" for contracts. */
		if (strcmp(mod->name, "contract") == 0)
			snprintf(m->prefix, sizeof(m->prefix), "contract/%s/", tx->target);
		else
			snprintf(m->prefix, sizeof(m->prefix), "%s/", mod->name);
		rc = authorize ? authorize(&call) : 0;
		if (rc == 0)
			rc = mod->call(&call);
	}
	m->r = NULL;
	r->rc = rc;
	r->gas_used = call.gas_used;
	if (rc == 0) {
		r->ok = true;
		r->error[0] = 0;
		rc = ds__sys_mem_commit(m);
		if (rc) {
			ds_exec_sys_mem_receipt_free(r);
			return rc;
		}
	} else {
		ds__sys_mem_discard(m);
		r->ok = false;
		if (!r->error[0])
			snprintf(r->error, sizeof(r->error), "%s", ds_strerror(rc));
		for (size_t i = 0; i < r->nevents; i++)
			ds_buf_free(&r->events[i].value);
		r->nevents = 0;
		ds_buf_reset(&r->ret);
	}
	if (r->ret.len == 0)
		ds_buf_append(&r->ret, &null_value, 1);
	return r->ret.err ? DS_ENOMEM : 0;
}

int ds_exec_sys_mem_load(struct ds_exec_sys_mem *m, const struct ds_exec_sys_genesis_state *g)
{
	for (size_t i = 0; i < g->n; i++) {
		int rc = ds_exec_sys_mem_put(m, g->kv[i].key, g->kv[i].key_len, g->kv[i].val, g->kv[i].val_len);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- genesis ------------------------------------------------------------ */
void ds_exec_sys_genesis_free(struct ds_exec_sys_genesis_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free((void *)s->kv[i].key);
		free((void *)s->kv[i].val);
	}
	free(s->kv);
	s->kv = NULL;
	s->n = 0;
}

#define GERR(...) (snprintf(err, err_cap, __VA_ARGS__), rc ? rc : DS_EINVAL)

/* Encodes a payload map for an org or contract so genesis goes through the
 * very checks governance uses. */
static int org_payload(struct ds_buf *b, const struct ds_exec_sys_org *o)
{
	struct ds_enc e;
	for (int pass = 0; pass < 2; pass++) {
		ds_enc_init(&e, pass ? b->data : NULL, pass ? b->cap : 0);
		ds_value_enc_map(&e, 4);
		ds_value_enc_key(&e, "admins", 6);
		ds_value_enc_array(&e, (uint32_t)o->nadmins);
		for (size_t i = 0; i < o->nadmins; i++)
			ds_value_enc_bytes(&e, o->admins[i], DS_PK_LEN);
		ds_value_enc_key(&e, "id", 2);
		ds_value_enc_str(&e, o->id ? o->id : "", o->id ? strlen(o->id) : 0);
		ds_value_enc_key(&e, "name", 4);
		ds_value_enc_str(&e, o->name ? o->name : "", o->name ? strlen(o->name) : 0);
		ds_value_enc_key(&e, "roles", 5);
		ds_value_enc_array(&e, (uint32_t)o->nroles);
		for (size_t i = 0; i < o->nroles; i++)
			ds_value_enc_str(&e, o->roles[i], strlen(o->roles[i]));
		if (e.err)
			return e.err;
		if (!pass) {
			ds_buf_reset(b);
			if (ds_buf_reserve(b, e.len) != 0)
				return DS_ENOMEM;
		}
	}
	b->len = e.len;
	return 0;
}

static int contract_payload(struct ds_buf *b, const struct ds_exec_sys_contract *c)
{
	struct ds_enc e;
	for (int pass = 0; pass < 2; pass++) {
		ds_enc_init(&e, pass ? b->data : NULL, pass ? b->cap : 0);
		ds_value_enc_map(&e, c->roles ? 4 : 3);
		ds_value_enc_key(&e, "name", 4);
		ds_value_enc_str(&e, c->name ? c->name : "", c->name ? strlen(c->name) : 0);
		if (c->roles) {
			ds_value_enc_key(&e, "roles", 5);
			ds_enc_fixed(&e, c->roles, c->roles_len);
		}
		ds_value_enc_key(&e, "source", 6);
		ds_value_enc_bytes(&e, c->src, c->src_len);
		ds_value_enc_key(&e, "version", 7);
		ds_value_enc_int(&e, 1);
		if (e.err)
			return e.err;
		if (!pass) {
			ds_buf_reset(b);
			if (ds_buf_reserve(b, e.len) != 0)
				return DS_ENOMEM;
		}
	}
	b->len = e.len;
	return ds_value_check(b->data, b->len);
}

int ds_exec_sys_genesis_state(struct ds_exec_sys_genesis_state *out, const struct ds_exec_sys_genesis *g,
			      char *err, size_t err_cap)
{
	static const struct ds_exec_block_info blk = {"genesis", 0, 0, 0, 0};
	struct ds_exec_sys_mem *m = NULL;
	struct ds_exec_call call;
	struct ds_buf b;
	struct ds_value payload;
	char why[256];
	int rc;
	memset(out, 0, sizeof(*out));
	ds_buf_init(&b);
	if (err_cap)
		err[0] = 0;
	if ((rc = ds_exec_sys_mem_new(&m)) != 0) {
		rc = GERR("out of memory");
		goto fail;
	}
	ds__sys_mem_call(m, &call, &blk, NULL);
	if (g->norgs == 0) {
		rc = GERR("at least one organisation is required");
		goto fail;
	}
	for (size_t i = 0; i < g->norgs; i++) {
		if (g->orgs[i].nadmins > DS_SYS_ADMINS_MAX || g->orgs[i].nroles > DS_SYS_ROLES_MAX) {
			rc = GERR("organisation %zu: too many admins or roles", i);
			goto fail;
		}
		if ((rc = org_payload(&b, &g->orgs[i])) != 0 ||
		    (rc = ds_value_parse(&payload, b.data, b.len)) != 0) {
			rc = GERR("organisation %zu: %s", i, ds_strerror(rc));
			goto fail;
		}
		if ((rc = ds__sys_gov_apply(&call, "add_org", &payload, 0, "", why, sizeof(why))) != 0) {
			rc = GERR("organisation %zu: %s", i, why);
			goto fail;
		}
	}
	for (size_t i = 0; i < g->naccounts; i++) {
		const struct ds_exec_sys_account *a = &g->accounts[i];
		struct ds__sys_roles roles;
		char hex[2 * DS_PK_LEN + 1], key[128];
		const uint8_t *v;
		size_t vn;
		roles.n = 0;
		if (!a->org || a->nroles > DS_SYS_ROLES_MAX) {
			rc = GERR("account %zu: org missing or too many roles", i);
			goto fail;
		}
		for (size_t k = 0; k < a->nroles; k++) {
			if (!ds__sys_role_valid((const uint8_t *)a->roles[k], strlen(a->roles[k])) ||
			    ds__sys_roles_has(&roles, a->roles[k])) {
				rc = GERR("account %zu: bad or repeated role", i);
				goto fail;
			}
			/* insertion keeps the list sorted as the record wants */
			size_t at = roles.n;
			while (at > 0 && strcmp(roles.r[at - 1], a->roles[k]) > 0) {
				memcpy(roles.r[at], roles.r[at - 1], sizeof(roles.r[0]));
				at--;
			}
			snprintf(roles.r[at], sizeof(roles.r[at]), "%s", a->roles[k]);
			roles.n++;
		}
		if ((rc = ds__sys_org_grants(&call, a->org, &roles, why, sizeof(why))) != 0) {
			rc = GERR("account %zu: %s", i, why);
			goto fail;
		}
		ds_hex_encode(hex, a->pk, DS_PK_LEN);
		snprintf(key, sizeof(key), "sys/account/%s", hex);
		if (g_get(&call, (const uint8_t *)key, strlen(key), &v, &vn) == 0) {
			rc = DS_EEXIST;
			rc = GERR("account %zu: %s already exists", i, hex);
			goto fail;
		}
		if ((rc = ds__sys_account_write(&call, a->pk, a->org, &roles, 0)) != 0) {
			rc = GERR("account %zu: %s", i, ds_strerror(rc));
			goto fail;
		}
	}
	for (size_t i = 0; i < g->nparams; i++)
		if ((rc = ds__sys_param_set(&call, g->params[i].name, g->params[i].value, true, why,
					    sizeof(why))) != 0) {
			rc = GERR("param %s: %s", g->params[i].name, why);
			goto fail;
		}
	if (g->nvalidators &&
	    (rc = ds__sys_valset_genesis(&call, g->validators, g->nvalidators, why, sizeof(why))) != 0) {
		rc = GERR("validators: %s", why);
		goto fail;
	}
	for (size_t i = 0; i < g->ncontracts; i++) {
		const struct ds_exec_sys_contract *c = &g->contracts[i];
		if ((rc = contract_payload(&b, c)) != 0 || (rc = ds_value_parse(&payload, b.data, b.len)) != 0) {
			rc = GERR("contract %zu: %s", i, ds_strerror(rc));
			goto fail;
		}
		if (!c->org || ds__sys_org_grants(&call, c->org, &(struct ds__sys_roles){0}, why, sizeof(why)) != 0) {
			rc = DS_ENOTFOUND;
			rc = GERR("contract %s: no organisation %s", c->name ? c->name : "?", c->org ? c->org : "");
			goto fail;
		}
		if ((rc = ds__sys_gov_apply(&call, "deploy_contract", &payload, 0, c->org, why, sizeof(why))) != 0) {
			rc = GERR("contract %zu: %s", i, why);
			goto fail;
		}
	}
	if ((rc = ds__sys_mem_commit(m)) != 0) {
		rc = GERR("out of memory");
		goto fail;
	}
	out->kv = calloc(m->committed.n ? m->committed.n : 1, sizeof(*out->kv));
	if (!out->kv) {
		rc = GERR("out of memory");
		goto fail;
	}
	for (size_t i = 0; i < m->committed.n; i++) {
		struct entry *e = &m->committed.e[i];
		/* Ownership moves from the map to the result. */
		out->kv[i] = (struct ds_kv){e->key, e->key_len, e->val, e->val_len};
		e->key = NULL;
		e->val = NULL;
	}
	out->n = m->committed.n;
	rc = 0;
fail:
	ds_buf_free(&b);
	ds_exec_sys_mem_free(m);
	if (rc)
		ds_exec_sys_genesis_free(out);
	return rc;
}

/* ---- contract test runner ---------------------------------------------- */
/* The contract's chunk runs inside a function so that its returned methods
 * table and the globals it defines can both be searched for test_*; the
 * prefix shares the first line so error positions keep their line numbers. */
static const char test_prefix[] = "local __ds_m = (function() ";
static const char test_suffix[] =
	"\nend)()\n"
	"local __ds_api = {}\n"
	"local function __ds_take(t)\n"
	"  pcall(function()\n"
	"    for k, v in pairs(t) do\n"
	"      if type(k) == 'string' and k:sub(1, 5) == 'test_' and type(v) == 'function'\n"
	"         and __ds_api[k] == nil then __ds_api[k] = v end\n"
	"    end\n"
	"  end)\n"
	"end\n"
	"__ds_take(_G)\n"
	"if type(__ds_m) == 'table' then __ds_take(__ds_m) end\n"
	"local __ds_list = {}\n"
	"for k in pairs(__ds_api) do __ds_list[#__ds_list + 1] = k end\n"
	"__ds_api.ds_list_tests = function() return __ds_list end\n"
	"return __ds_api\n";

#define TEST_ADMIN_BYTE 0xAA
#define TEST_CALLER_BYTE 0x11

int ds_exec_sys_contract_test(const char *name, const uint8_t *src, size_t src_len,
			      const char *const *roles, size_t nroles,
			      void (*report)(void *arg, const char *test,
					     const struct ds_exec_sys_mem_receipt *r),
			      void *arg, size_t *passed, size_t *failed, char *err, size_t err_cap)
{
	struct ds_exec_module mods[DS_EXEC_SYS_NMODULES];
	struct ds_exec_sys_mem *m = NULL;
	struct ds_exec_sys_genesis_state gs = {0, NULL};
	struct ds_exec_sys_mem_receipt r;
	uint8_t *wrapped = NULL;
	const char *test_roles[DS_SYS_ROLES_MAX];
	int rc;
	*passed = *failed = 0;
	memset(&r, 0, sizeof(r));
	if (nroles + 1 > DS_SYS_ROLES_MAX) {
		snprintf(err, err_cap, "too many roles");
		return DS_ETOOBIG;
	}
	size_t wlen = sizeof(test_prefix) - 1 + src_len + sizeof(test_suffix) - 1;
	if (src_len > DS_VM_SRC_MAX || wlen > DS_VM_SRC_MAX) {
		snprintf(err, err_cap, "source is larger than %u bytes", DS_VM_SRC_MAX);
		return DS_ETOOBIG;
	}
	wrapped = malloc(wlen);
	if (!wrapped) {
		snprintf(err, err_cap, "out of memory");
		return DS_ENOMEM;
	}
	memcpy(wrapped, test_prefix, sizeof(test_prefix) - 1);
	memcpy(wrapped + sizeof(test_prefix) - 1, src, src_len);
	memcpy(wrapped + sizeof(test_prefix) - 1 + src_len, test_suffix, sizeof(test_suffix) - 1);

	uint8_t admin[1][DS_PK_LEN];
	memset(admin[0], TEST_ADMIN_BYTE, DS_PK_LEN);
	test_roles[0] = DS_ROLE_CONTRACT_CALL;
	for (size_t i = 0; i < nroles; i++)
		test_roles[i + 1] = roles[i];
	struct ds_exec_sys_org org = {"test", "contract test", (const uint8_t(*)[DS_PK_LEN])admin, 1,
				      test_roles, nroles + 1};
	struct ds_exec_sys_account acct = {{0}, "test", test_roles, nroles + 1};
	memset(acct.pk, TEST_CALLER_BYTE, DS_PK_LEN);
	struct ds_exec_sys_validator val = {{0}, "127.0.0.1:0", "test"};
	memset(val.pk, 0x77, DS_PK_LEN);
	struct ds_exec_sys_contract c = {name, "test", wrapped, wlen, NULL, 0};
	struct ds_exec_sys_genesis g = {&org, 1, &acct, 1, &val, 1, NULL, 0, &c, 1};
	if ((rc = ds_exec_sys_genesis_state(&gs, &g, err, err_cap)) != 0)
		goto fail;
	if ((rc = ds_exec_sys_mem_new(&m)) != 0 || (rc = ds_exec_sys_mem_load(m, &gs)) != 0) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	ds_exec_sys_modules(mods);

	static const uint8_t null_args = DS_VALUE_NULL;
	struct ds_exec_block_info blk = {"contract-test", 1, 1700000000000ull, 100, 0};
	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", blk.chain_id);
	memcpy(tx.sender, acct.pk, DS_PK_LEN);
	snprintf(tx.target, sizeof(tx.target), "%s", name);
	snprintf(tx.method, sizeof(tx.method), "ds_list_tests");
	tx.args = &null_args;
	tx.args_len = 1;
	tx.expiry_height = 1000000;
	if ((rc = ds_exec_sys_mem_run(m, &r, mods, DS_EXEC_SYS_NMODULES, ds_exec_sys_authorize, &blk,
				      &tx)) != 0) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	struct ds_value list, item;
	if (!r.ok) {
		snprintf(err, err_cap, "cannot load the contract: %s", r.error);
		rc = DS_EINVAL;
		goto fail;
	}
	/* The list lives in r.ret: copy it out before r is reused. */
	struct ds_buf names;
	ds_buf_init(&names);
	ds_buf_append(&names, r.ret.data, r.ret.len);
	ds_exec_sys_mem_receipt_free(&r);
	if (names.err || ds_value_parse(&list, names.data, names.len) != 0 ||
	    (list.kind != DS_VALUE_ARRAY && !(list.kind == DS_VALUE_MAP && list.count == 0))) {
		ds_buf_free(&names);
		snprintf(err, err_cap, "cannot list the tests");
		rc = DS_EINVAL;
		goto fail;
	}
	if (list.count == 0) {
		ds_buf_free(&names);
		snprintf(err, err_cap, "no function named test_* found");
		rc = DS_ENOTFOUND;
		goto fail;
	}
	struct ds_value_iter it;
	ds_value_iter_init(&it, &list);
	while (ds_value_iter_next(&it, NULL, NULL, &item)) {
		if (item.kind != DS_VALUE_STR || item.len > DS_NAME_MAX)
			continue;
		memcpy(tx.method, item.p, item.len);
		tx.method[item.len] = 0;
		tx.nonce++;
		blk.height++;
		blk.time_ms += 1000;
		rc = ds_exec_sys_mem_run(m, &r, mods, DS_EXEC_SYS_NMODULES, ds_exec_sys_authorize, &blk, &tx);
		if (rc) {
			ds_buf_free(&names);
			snprintf(err, err_cap, "out of memory");
			goto fail;
		}
		if (r.ok)
			(*passed)++;
		else
			(*failed)++;
		report(arg, tx.method, &r);
		ds_exec_sys_mem_receipt_free(&r);
	}
	ds_buf_free(&names);
	rc = 0;
fail:
	ds_exec_sys_mem_receipt_free(&r);
	ds_exec_sys_mem_free(m);
	ds_exec_sys_genesis_free(&gs);
	free(wrapped);
	return rc;
}
