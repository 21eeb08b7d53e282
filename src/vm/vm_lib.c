/* vm: the sandbox's global environment — whitelisted libraries, the
 * wrappers that make them deterministic and metered, and the contract API
 * (state, emit, caller, block, null). */
#include "vm/vm_internal.h"

#include <math.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

/* ---- helpers ------------------------------------------------------------ */

/* Pushes a string form of the value at idx that never shows an address:
 * __tostring when present, else the usual text for scalars and the bare type
 * name for tables, functions, threads and userdata. */
static void push_tostring(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	if (luaL_callmeta(L, idx, "__tostring")) {
		if (!lua_isstring(L, -1))
			luaL_error(L, "'__tostring' must return a string");
		return;
	}
	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
	case LUA_TSTRING:
		lua_pushvalue(L, idx);
		lua_tolstring(L, -1, NULL); /* numbers: %d or %.14g, no address */
		break;
	case LUA_TBOOLEAN:
		lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
		break;
	case LUA_TNIL:
		lua_pushliteral(L, "nil");
		break;
	case LUA_TLIGHTUSERDATA:
		lua_pushstring(L, ds__vm_isnull(L, idx) ? "null" : "userdata");
		break;
	default:
		lua_pushstring(L, lua_typename(L, lua_type(L, idx)));
		break;
	}
}

static lua_CFunction upvalue_cfunc(lua_State *L, int i)
{
	lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(i));
	DS_ASSERT(f != NULL);
	return f;
}

/* Replaces t[name] (a C function) by closure(original). */
static void wrap(lua_State *L, int t, const char *name, lua_CFunction w)
{
	lua_getfield(L, t, name);
	DS_ASSERT(lua_iscfunction(L, -1));
	lua_pushcclosure(L, w, 1);
	lua_setfield(L, t, name);
}

static void remove_names(lua_State *L, int t, const char *const *names)
{
	for (size_t i = 0; names[i]; i++) {
		lua_pushnil(L);
		lua_setfield(L, t, names[i]);
	}
}

/* ---- metered pass-through wrappers -------------------------------------- */

/* C library functions that do work proportional to an argument without
 * creating an object (so no creation charge sees it) pay for it here,
 * then run unchanged: the original sees the same stack frame. */
enum meter_mode { M_STR1, M_TLEN1, M_MOVE, M_UNPACK, M_NARGS, M_BYTES };

static uint64_t span(lua_Integer a, lua_Integer b)
{
	return b >= a ? (uint64_t)b - (uint64_t)a + 1 : 0;
}

/* Positions i..j of a string of len bytes, after Lua's rules for negative
 * and out-of-range positions (string.byte, utf8.codepoint): an upper bound
 * of the values the call returns. j defaults to i, i to 1. */
static uint64_t byte_span(lua_State *L, size_t len)
{
	lua_Integer i = lua_isinteger(L, 2) ? lua_tointeger(L, 2) : 1;
	lua_Integer j = lua_isinteger(L, 3) ? lua_tointeger(L, 3) : i;
	lua_Integer n = (lua_Integer)len;
	if (i < 0) /* compared, not negated: -LUA_MININTEGER overflows */
		i = i < -n ? 0 : n + i + 1;
	if (j < 0)
		j = j < -n ? 0 : n + j + 1;
	if (i < 1)
		i = 1;
	if (j > n)
		j = n;
	return span(i, j);
}

static int metered(lua_State *L)
{
	enum meter_mode m = (enum meter_mode)lua_tointeger(L, lua_upvalueindex(2));
	uint64_t c = 1;
	switch (m) {
	case M_STR1:
		if (lua_type(L, 1) == LUA_TSTRING)
			c += lua_rawlen(L, 1) / DS__VM_BYTES_PER_INSTR;
		break;
	case M_TLEN1:
		if (lua_type(L, 1) == LUA_TTABLE)
			c += lua_rawlen(L, 1);
		break;
	case M_MOVE:
		if (lua_isinteger(L, 2) && lua_isinteger(L, 3))
			c += span(lua_tointeger(L, 2), lua_tointeger(L, 3));
		break;
	case M_UNPACK: {
		lua_Integer i = lua_isinteger(L, 2) ? lua_tointeger(L, 2) : 1;
		lua_Integer j = lua_isinteger(L, 3) ? lua_tointeger(L, 3) :
				lua_type(L, 1) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, 1) : 0;
		c += span(i, j);
		break;
	}
	case M_NARGS:
		c += (uint64_t)lua_gettop(L);
		break;
	case M_BYTES:
		/* One per returned value too: each becomes a stack slot, and
		 * {s:byte(1, -1)} turns them into table slots that no creation
		 * charge sees. */
		if (lua_type(L, 1) == LUA_TSTRING) {
			size_t len = lua_rawlen(L, 1);
			c += len / DS__VM_BYTES_PER_INSTR + byte_span(L, len);
		}
		break;
	}
	ds__vm_charge(L, c);
	return upvalue_cfunc(L, 1)(L);
}

static void meter(lua_State *L, int t, const char *name, enum meter_mode m)
{
	lua_getfield(L, t, name);
	DS_ASSERT(lua_iscfunction(L, -1));
	lua_pushinteger(L, m);
	lua_pushcclosure(L, metered, 2);
	lua_setfield(L, t, name);
}

/* ---- base library replacements ------------------------------------------ */

static int sb_tostring(lua_State *L)
{
	luaL_checkany(L, 1);
	push_tostring(L, 1);
	return 1;
}

/* pairs: keys in a defined order, never hash order. */
struct pkey {
	int rank; /* 0 boolean, 1 number, 2 string */
	bool isint;
	lua_Integer i;
	lua_Number d;
	const char *s;
	size_t n;
	lua_Integer orig;
};

static int cmp_int_flt(lua_Integer i, lua_Number d)
{
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	lua_Number f = floor(d);
	lua_Integer fi = (lua_Integer)f;
	if (i != fi)
		return i < fi ? -1 : 1;
	return f < d ? -1 : 0;
}

static int pkey_cmp(const void *pa, const void *pb)
{
	const struct pkey *a = pa, *b = pb;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	switch (a->rank) {
	case 0:
		return (int)a->i - (int)b->i;
	case 1:
		if (a->isint && b->isint)
			return a->i < b->i ? -1 : a->i > b->i;
		if (a->isint)
			return cmp_int_flt(a->i, b->d);
		if (b->isint)
			return -cmp_int_flt(b->i, a->d);
		return a->d < b->d ? -1 : a->d > b->d;
	default: {
		size_t n = a->n < b->n ? a->n : b->n;
		int c = n ? memcmp(a->s, b->s, n) : 0;
		if (c)
			return c;
		return a->n < b->n ? -1 : a->n > b->n;
	}
	}
}

static int sorted_next(lua_State *L)
{
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(3));
	for (;;) { /* bounded by the number of keys */
		i++;
		if (lua_rawgeti(L, lua_upvalueindex(2), i) == LUA_TNIL) {
			lua_pushinteger(L, i - 1);
			lua_replace(L, lua_upvalueindex(3));
			return 1; /* nil: the end */
		}
		lua_pushvalue(L, -1);
		if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
			break;
		lua_pop(L, 2); /* removed during the traversal: skip it */
	}
	lua_pushinteger(L, i);
	lua_replace(L, lua_upvalueindex(3));
	return 2;
}

static int sb_pairs(lua_State *L)
{
	if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
		lua_pushvalue(L, 1);
		lua_call(L, 1, 3);
		return 3;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_newtable(L); /* 2: keys in traversal order */
	lua_Integer n = 0;
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		lua_pop(L, 1);
		int t = lua_type(L, -1);
		if (t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING)
			luaL_error(L, "pairs: keys of type %s have no defined order",
				   lua_typename(L, t));
		lua_pushvalue(L, -1);
		lua_rawseti(L, 2, ++n);
	}
	uint64_t bits = 1;
	while (bits < 63 && ((uint64_t)1 << bits) < (uint64_t)n)
		bits++;
	ds__vm_charge(L, (uint64_t)n * (1 + bits));
	struct pkey *k = lua_newuserdatauv(L, (size_t)n * sizeof(*k) + 1, 0); /* 3 */
	for (lua_Integer i = 1; i <= n; i++) {
		struct pkey *e = &k[i - 1];
		memset(e, 0, sizeof(*e));
		e->orig = i;
		lua_rawgeti(L, 2, i); /* the string stays alive in table 2 */
		switch (lua_type(L, -1)) {
		case LUA_TBOOLEAN:
			e->rank = 0;
			e->i = lua_toboolean(L, -1);
			break;
		case LUA_TNUMBER:
			e->rank = 1;
			e->isint = lua_isinteger(L, -1);
			if (e->isint)
				e->i = lua_tointeger(L, -1);
			else
				e->d = lua_tonumber(L, -1);
			break;
		default:
			e->rank = 2;
			e->s = lua_tolstring(L, -1, &e->n);
			break;
		}
		lua_pop(L, 1);
	}
	/* Keys are distinct and the order is total, so any sort algorithm
	 * gives the one same result. */
	qsort(k, (size_t)n, sizeof(*k), pkey_cmp);
	lua_createtable(L, (int)n, 0); /* 4: sorted keys */
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, k[i - 1].orig);
		lua_rawseti(L, 4, i);
	}
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 4);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, sorted_next, 3);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* load: source text only, with a fixed chunk name. */
static int sb_load(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	const char *name = luaL_optstring(L, 2, "load");
	if (n > 0 && s[0] == LUA_SIGNATURE[0])
		ds__vm_fatal(L, DS_VM_FORBIDDEN, "binary chunks are not allowed");
	ds__vm_charge(L, n / DS__VM_BYTES_PER_INSTR);
	/* Not a syntax error (nil, message): a sandbox rule, like binary
	 * chunks, so a contract cannot test for it and go on. */
	ds__vm_refuse_varargs(L, s, n, "load: source");
	/* Lua makes the chunk name a string through its C-string cache, which
	 * the collector clears: a long name could be created (and charged) or
	 * found in the cache depending on collection timing. Names of at most
	 * 39 bytes after the '=' are short strings, which are never charged. */
	char cname[DS__VM_SHORTSTR_LEN + 1]; /* "=" and up to 39 bytes */
	snprintf(cname, sizeof(cname), "=%s", name);
	int has_env = !lua_isnone(L, 4);
	int st = luaL_loadbufferx(L, s, n, cname, "t");
	if (st == LUA_ERRMEM)
		lua_error(L);
	if (st != LUA_OK) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2;
	}
	if (has_env) {
		lua_pushvalue(L, 4);
		if (!lua_setupvalue(L, -2, 1))
			lua_pop(L, 1);
	}
	return 1;
}

/* setmetatable: no finalizers (they would run during collection, outside
 * metering, even at lua_close) and no weak tables (their contents would
 * depend on when the collector ran). */
static int sb_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		bool gc = lua_rawget(L, 2) != LUA_TNIL;
		lua_pushliteral(L, "__mode");
		bool mode = lua_rawget(L, 2) != LUA_TNIL;
		lua_pop(L, 2);
		if (gc)
			ds__vm_fatal(L, DS_VM_FORBIDDEN, "setmetatable: __gc is not allowed");
		if (mode)
			ds__vm_fatal(L, DS_VM_FORBIDDEN, "setmetatable: __mode is not allowed");
	}
	return upvalue_cfunc(L, 1)(L);
}

/* pcall/xpcall: sandbox failures (instructions, memory, forbidden) pass
 * through unchanged, so a contract cannot catch its way past a limit. */
static int finish_pcall(lua_State *L, int status, lua_KContext extra)
{
	if (status != LUA_OK && status != LUA_YIELD) {
		struct ds__sb *sb = ds__vm_sb(L);
		if (sb->fatal)
			ds__vm_fatal(L, sb->fatal, sb->fatal_msg);
		if (status == LUA_ERRMEM)
			ds__vm_fatal(L, DS_VM_OUT_OF_MEMORY, "out of memory");
		lua_pushboolean(L, 0);
		lua_pushvalue(L, -2);
		return 2;
	}
	return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L)
{
	luaL_checkany(L, 1);
	lua_pushboolean(L, 1);
	lua_insert(L, 1);
	int st = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, finish_pcall);
	return finish_pcall(L, st, 0);
}

static int sb_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2);
	int st = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall);
	return finish_pcall(L, st, 2);
}

/* ---- string -------------------------------------------------------------- */

static int sb_format(lua_State *L)
{
	size_t fl;
	const char *f = luaL_checklstring(L, 1, &fl);
	int top = lua_gettop(L);
	int arg = 1;
	uint64_t c = 1 + fl / DS__VM_BYTES_PER_INSTR;
	for (size_t i = 0; i < fl; i++) {
		if (f[i] != '%')
			continue;
		if (++i >= fl)
			break;
		if (f[i] == '%')
			continue;
		while (i < fl && f[i] && strchr("-+ #0123456789.", f[i]))
			i++;
		if (i >= fl)
			break; /* the original reports the malformed spec */
		arg++;
		if (f[i] == 'p')
			ds__vm_fatal(L, DS_VM_FORBIDDEN, "string.format: %p is not allowed");
		if (arg > top)
			continue;
		if (f[i] == 's') {
			int t = lua_type(L, arg);
			if (t != LUA_TSTRING && t != LUA_TNUMBER) {
				push_tostring(L, arg);
				lua_replace(L, arg);
			}
		}
		if (lua_type(L, arg) == LUA_TSTRING)
			c += lua_rawlen(L, arg) / DS__VM_BYTES_PER_INSTR;
	}
	ds__vm_charge(L, c);
	return upvalue_cfunc(L, 1)(L);
}

static int sb_rep(lua_State *L)
{
	size_t l, lsep = 0;
	luaL_checklstring(L, 1, &l);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (n > 0 && (l + lsep) > 0) {
		size_t max = ds__vm_sb(L)->lim->string_bytes_max;
		if ((uint64_t)n > (max + lsep) / (l + lsep))
			ds__vm_fatal(L, DS_VM_LIMIT, "string too large");
	}
	return upvalue_cfunc(L, 1)(L);
}

/* ---- table.sort: stable bottom-up merge sort ------------------------------
 * The stock sort picks pivots from clock() and time() on unbalanced input,
 * so its comparison count (and, with ties, its result) could differ between
 * nodes. This one is a pure function of the input. Stack: 1 table,
 * 2 comparator or nil, 3 scratch table. */

static bool sort_less(lua_State *L, bool has_cmp)
{
	ds__vm_charge(L, 1);
	bool r;
	if (has_cmp) {
		lua_pushvalue(L, 2);
		lua_insert(L, -3);
		lua_call(L, 2, 1);
		r = lua_toboolean(L, -1);
		lua_pop(L, 1);
	} else {
		r = lua_compare(L, -2, -1, LUA_OPLT);
		lua_pop(L, 2);
	}
	return r;
}

static void merge(lua_State *L, bool has_cmp, lua_Integer lo, lua_Integer mid, lua_Integer hi)
{
	ds__vm_charge(L, (uint64_t)(hi - lo + 1));
	for (lua_Integer k = lo; k <= hi; k++) {
		lua_rawgeti(L, 1, k);
		lua_rawseti(L, 3, k);
	}
	lua_Integer i = lo, j = mid + 1;
	for (lua_Integer k = lo; k <= hi; k++) {
		bool take_j;
		if (i > mid) {
			take_j = true;
		} else if (j > hi) {
			take_j = false;
		} else {
			lua_rawgeti(L, 3, j);
			lua_rawgeti(L, 3, i);
			take_j = sort_less(L, has_cmp); /* strict: ties keep order */
		}
		lua_rawgeti(L, 3, take_j ? j++ : i++);
		lua_rawseti(L, 1, k);
	}
}

static int sb_sort(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	bool has_cmp = !lua_isnoneornil(L, 2);
	if (has_cmp)
		luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 2);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	if (n < 2)
		return 0;
	lua_createtable(L, (int)(n < 1 << 24 ? n : 1 << 24), 0);
	for (lua_Integer w = 1; w < n; w *= 2) {
		for (lua_Integer lo = 1; lo + w <= n; lo += 2 * w) {
			lua_Integer hi = lo + 2 * w - 1;
			merge(L, has_cmp, lo, lo + w - 1, hi < n ? hi : n);
		}
	}
	return 0;
}

/* ---- coroutines ----------------------------------------------------------
 * Each thread has its own hook counter, so up to a step of instructions per
 * coroutine would go uncounted: creating one costs a full step instead, and
 * a call creates at most DS__VM_COROUTINES_MAX. A
 * failure inside a coroutine that is a sandbox failure is re-raised in the
 * resumer rather than returned. */

static int co_new(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	/* Each coroutine has a stack of its own, which no charge covers: the
	 * count is capped so the stacks stay under the hard ceiling. */
	struct ds__sb *sb = ds__vm_sb(L);
	if (sb->metering && ++sb->coroutines > DS__VM_COROUTINES_MAX)
		ds__vm_fatalf(L, DS_VM_LIMIT, "too many coroutines (at most %d per call)",
			      DS__VM_COROUTINES_MAX);
	ds__vm_charge(L, DS__VM_CHARGE_COROUTINE);
	lua_State *co = lua_newthread(L);
	lua_pushvalue(L, 1);
	lua_xmove(L, co, 1);
	return 1;
}

/* Returns the number of results moved to L, or -1 with the error on top. */
static int co_resume_aux(lua_State *L, lua_State *co, int narg)
{
	int s = lua_status(co);
	const char *bad = NULL;
	if (s == LUA_OK) {
		lua_Debug ar;
		if (lua_getstack(co, 0, &ar))
			bad = "cannot resume non-suspended coroutine";
		else if (lua_gettop(co) == 0)
			bad = "cannot resume dead coroutine";
	} else if (s != LUA_YIELD) {
		bad = "cannot resume dead coroutine";
	}
	if (!bad && !lua_checkstack(co, narg))
		bad = "too many arguments to resume";
	if (bad) {
		lua_pushstring(L, bad);
		return -1;
	}
	lua_xmove(L, co, narg);
	int nres = 0;
	int st = lua_resume(co, L, narg, &nres);
	if (st == LUA_OK || st == LUA_YIELD) {
		if (!lua_checkstack(L, nres + 1)) {
			lua_pop(co, nres);
			lua_pushliteral(L, "too many results to resume");
			return -1;
		}
		lua_xmove(co, L, nres);
		return nres;
	}
	struct ds__sb *sb = ds__vm_sb(L);
	if (sb->fatal)
		ds__vm_fatal(L, sb->fatal, sb->fatal_msg);
	if (st == LUA_ERRMEM)
		ds__vm_fatal(L, DS_VM_OUT_OF_MEMORY, "out of memory");
	lua_xmove(co, L, 1);
	return -1;
}

static int co_resume(lua_State *L)
{
	lua_State *co = lua_tothread(L, 1);
	luaL_argexpected(L, co, 1, "coroutine");
	int r = co_resume_aux(L, co, lua_gettop(L) - 1);
	if (r < 0) {
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	lua_pushboolean(L, 1);
	lua_insert(L, -(r + 1));
	return r + 1;
}

static int co_wrap_aux(lua_State *L)
{
	lua_State *co = lua_tothread(L, lua_upvalueindex(1));
	int r = co_resume_aux(L, co, lua_gettop(L));
	if (r < 0) {
		if (lua_type(L, -1) == LUA_TSTRING) {
			luaL_where(L, 1);
			lua_insert(L, -2);
			lua_concat(L, 2);
		}
		return lua_error(L);
	}
	return r;
}

static int co_wrap(lua_State *L)
{
	co_new(L);
	lua_pushcclosure(L, co_wrap_aux, 1);
	return 1;
}

/* ---- contract API -------------------------------------------------------- */

static int host_rc(lua_State *L, int rc, const char *what)
{
	if (rc == 0 || rc == DS_ENOTFOUND)
		return rc;
	if (rc == DS_ELIMIT)
		ds__vm_fatalf(L, DS_VM_LIMIT, "%s: refused by host limit", what);
	struct ds__sb *sb = ds__vm_sb(L);
	sb->host_err = rc < 0 ? rc : DS_EINVAL;
	ds__vm_fatal(L, DS_VM_ERROR, "host failure");
}

static const char *check_key(lua_State *L, size_t *n)
{
	const char *k = luaL_checklstring(L, 1, n);
	if (lua_type(L, 1) != LUA_TSTRING)
		luaL_argerror(L, 1, "key must be a string");
	if (*n == 0 || *n > DS_VM_KEY_MAX)
		luaL_argerror(L, 1, "key must be 1..256 bytes");
	return k;
}

static int api_get(lua_State *L)
{
	struct ds__sb *sb = ds__vm_sb(L);
	size_t kn;
	const char *k = check_key(L, &kn);
	ds__vm_charge(L, DS__VM_CHARGE_GET + kn / DS__VM_HOST_BYTE_DIV);
	const uint8_t *v = NULL;
	size_t vn = 0;
	int rc = host_rc(L, sb->host->get(sb->host->ctx, (const uint8_t *)k, kn, &v, &vn),
			 "state.get");
	if (rc == DS_ENOTFOUND) {
		lua_pushnil(L);
		return 1;
	}
	ds__vm_charge(L, vn / DS__VM_HOST_BYTE_DIV);
	if (ds_value_check(v, vn) != 0) {
		sb->host_err = DS_ECORRUPT;
		ds__vm_fatal(L, DS_VM_ERROR, "host failure");
	}
	ds__vm_push_value(L, v, vn);
	return 1;
}

static void count_write(lua_State *L)
{
	struct ds__sb *sb = ds__vm_sb(L);
	if (++sb->writes > sb->lim->writes_max)
		ds__vm_fatal(L, DS_VM_LIMIT, "too many state writes");
}

static int api_put(lua_State *L)
{
	struct ds__sb *sb = ds__vm_sb(L);
	size_t kn;
	const char *k = check_key(L, &kn);
	if (lua_isnoneornil(L, 2))
		luaL_argerror(L, 2, "value is nil (use state.del)");
	count_write(L);
	size_t vn = ds__vm_encode(L, 2, "state.put");
	ds__vm_charge(L, DS__VM_CHARGE_PUT + (kn + vn) / DS__VM_HOST_BYTE_DIV);
	host_rc(L, sb->host->put(sb->host->ctx, (const uint8_t *)k, kn, sb->scratch, vn),
		"state.put");
	return 0;
}

static int api_del(lua_State *L)
{
	struct ds__sb *sb = ds__vm_sb(L);
	size_t kn;
	const char *k = check_key(L, &kn);
	count_write(L);
	ds__vm_charge(L, DS__VM_CHARGE_DEL + kn / DS__VM_HOST_BYTE_DIV);
	host_rc(L, sb->host->del(sb->host->ctx, (const uint8_t *)k, kn), "state.del");
	return 0;
}

static int api_emit(lua_State *L)
{
	struct ds__sb *sb = ds__vm_sb(L);
	size_t nn;
	const char *name = luaL_checklstring(L, 1, &nn);
	bool ok = lua_type(L, 1) == LUA_TSTRING && nn > 0 && nn <= DS_VM_NAME_MAX;
	for (size_t i = 0; ok && i < nn; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '_' || c == '.';
	}
	if (!ok)
		luaL_argerror(L, 1, "event name must be 1..64 of [A-Za-z0-9_.]");
	if (++sb->events > sb->lim->events_max)
		ds__vm_fatal(L, DS_VM_LIMIT, "too many events");
	size_t vn = ds__vm_encode(L, 2, "emit");
	ds__vm_charge(L, DS__VM_CHARGE_EMIT + (nn + vn) / DS__VM_HOST_BYTE_DIV);
	host_rc(L, sb->host->emit(sb->host->ctx, name, sb->scratch, vn), "emit");
	return 0;
}

static int api_has_role(lua_State *L)
{
	const struct ds_vm_host *h = ds__vm_sb(L)->host;
	size_t n;
	const char *r = luaL_checklstring(L, 1, &n);
	bool found = false;
	for (size_t i = 0; i < h->caller_nroles && !found; i++)
		found = strlen(h->caller_roles[i]) == n && memcmp(h->caller_roles[i], r, n) == 0;
	lua_pushboolean(L, found);
	return 1;
}

static void open_api(lua_State *L, const struct ds_vm_host *h)
{
	static const luaL_Reg state[] = {
		{"get", api_get}, {"put", api_put}, {"del", api_del}, {NULL, NULL}};
	luaL_newlib(L, state);
	lua_setglobal(L, "state");
	lua_pushcfunction(L, api_emit);
	lua_setglobal(L, "emit");
	lua_pushlightuserdata(L, NULL);
	lua_setglobal(L, "null");

	lua_createtable(L, 0, 4);
	/* lua_pushlstring, not lua_pushstring: the latter goes through Lua's
	 * C-string cache, whose hits depend on collection timing (a long
	 * string found there is not created, so not charged). */
	lua_pushlstring(L, h->caller_account, strlen(h->caller_account));
	lua_setfield(L, -2, "account");
	lua_pushlstring(L, h->caller_org, strlen(h->caller_org));
	lua_setfield(L, -2, "org");
	lua_createtable(L, (int)h->caller_nroles, 0);
	for (size_t i = 0; i < h->caller_nroles; i++) {
		lua_pushlstring(L, h->caller_roles[i], strlen(h->caller_roles[i]));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "roles");
	lua_pushcfunction(L, api_has_role);
	lua_setfield(L, -2, "has_role");
	lua_setglobal(L, "caller");

	lua_createtable(L, 0, 2);
	lua_pushinteger(L, (lua_Integer)h->block_height);
	lua_setfield(L, -2, "height");
	lua_pushinteger(L, (lua_Integer)h->block_time_ms);
	lua_setfield(L, -2, "time");
	lua_setglobal(L, "block");
}

/* ---- crypto ---------------------------------------------------------------
 * Byte-string arguments must be Lua strings (numbers are not converted).
 * The charge depends only on the argument lengths and is taken before any
 * work, so a call that runs out does so at the same point on every node
 * whatever the bytes are. */

static const char *check_bytes(lua_State *L, int arg, size_t *n)
{
	if (lua_type(L, arg) != LUA_TSTRING)
		luaL_typeerror(L, arg, "string");
	return lua_tolstring(L, arg, n);
}

/* crypto.ed25519_verify(sig, msg, pk): true when sig is a valid signature of
 * msg under pk by the rule of ds_ed25519_verify; false for anything else,
 * wrong lengths included. Says nothing about why. */
static int crypto_ed25519_verify(lua_State *L)
{
	size_t sn, mn, pn;
	const char *sig = check_bytes(L, 1, &sn);
	const char *msg = check_bytes(L, 2, &mn);
	const char *pk = check_bytes(L, 3, &pn);
	ds__vm_charge(L, DS__VM_CHARGE_ED25519 + mn / DS__VM_ED25519_BYTE_DIV);
	bool ok = sn == DS_SIG_LEN && pn == DS_PK_LEN &&
		  ds_ed25519_verify((const uint8_t *)sig, msg, mn, (const uint8_t *)pk) == 0;
	lua_pushboolean(L, ok);
	return 1;
}

/* crypto.sha256(s): the 32-byte SHA-256 digest of s, as a (bytes) string. */
static int crypto_sha256(lua_State *L)
{
	size_t n;
	const char *s = check_bytes(L, 1, &n);
	ds__vm_charge(L, DS__VM_CHARGE_SHA256 + n / DS__VM_SHA256_BYTE_DIV);
	uint8_t h[DS_HASH_LEN];
	ds_sha256(h, s, n);
	lua_pushlstring(L, (const char *)h, sizeof(h));
	return 1;
}

static void open_crypto(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"ed25519_verify", crypto_ed25519_verify}, {"sha256", crypto_sha256}, {NULL, NULL}};
	luaL_newlib(L, fns);
	lua_setglobal(L, "crypto");
}

/* ---- math -----------------------------------------------------------------
 * Written here rather than taken from luaopen_math: that one seeds its
 * random generator from time() and clock() (a system call per sandbox) for
 * functions the sandbox removes anyway. Only operations IEEE 754 pins down
 * exactly are offered; libm's transcendental functions may differ in the
 * last bit between builds. */

static void push_float_as_int(lua_State *L, lua_Number f)
{
	if (f >= -9223372036854775808.0 && f < 9223372036854775808.0)
		lua_pushinteger(L, (lua_Integer)f);
	else
		lua_pushnumber(L, f);
}

static int m_floor(lua_State *L)
{
	if (lua_isinteger(L, 1))
		lua_settop(L, 1);
	else
		push_float_as_int(L, floor(luaL_checknumber(L, 1)));
	return 1;
}

static int m_ceil(lua_State *L)
{
	if (lua_isinteger(L, 1))
		lua_settop(L, 1);
	else
		push_float_as_int(L, ceil(luaL_checknumber(L, 1)));
	return 1;
}

static int m_abs(lua_State *L)
{
	if (lua_isinteger(L, 1)) {
		lua_Integer n = lua_tointeger(L, 1);
		if (n < 0)
			n = (lua_Integer)(0u - (lua_Unsigned)n);
		lua_pushinteger(L, n);
	} else {
		lua_pushnumber(L, fabs(luaL_checknumber(L, 1)));
	}
	return 1;
}

static int m_fmod(lua_State *L)
{
	if (lua_isinteger(L, 1) && lua_isinteger(L, 2)) {
		lua_Integer d = lua_tointeger(L, 2);
		if (d == 0)
			return luaL_argerror(L, 2, "zero");
		if (d == -1)
			lua_pushinteger(L, 0); /* avoids the INT_MIN % -1 trap */
		else
			lua_pushinteger(L, lua_tointeger(L, 1) % d); /* C truncation, as Lua */
	} else {
		lua_pushnumber(L, fmod(luaL_checknumber(L, 1), luaL_checknumber(L, 2)));
	}
	return 1;
}

static int m_minmax(lua_State *L, bool max)
{
	int n = lua_gettop(L);
	int best = 1;
	luaL_argcheck(L, n >= 1, 1, "number expected");
	for (int i = 1; i <= n; i++) {
		luaL_checknumber(L, i);
		if (i > 1 && lua_compare(L, max ? best : i, max ? i : best, LUA_OPLT))
			best = i;
	}
	lua_pushvalue(L, best);
	return 1;
}

static int m_max(lua_State *L)
{
	return m_minmax(L, true);
}

static int m_min(lua_State *L)
{
	return m_minmax(L, false);
}

static int m_sqrt(lua_State *L)
{
	lua_pushnumber(L, sqrt(luaL_checknumber(L, 1)));
	return 1;
}

static int m_tointeger(lua_State *L)
{
	int ok;
	lua_Integer n = lua_tointegerx(L, 1, &ok);
	if (ok && lua_type(L, 1) == LUA_TNUMBER) {
		lua_pushinteger(L, n);
	} else {
		luaL_checkany(L, 1);
		lua_pushnil(L);
	}
	return 1;
}

static int m_type(lua_State *L)
{
	luaL_checkany(L, 1);
	if (lua_type(L, 1) == LUA_TNUMBER)
		lua_pushstring(L, lua_isinteger(L, 1) ? "integer" : "float");
	else
		lua_pushnil(L);
	return 1;
}

static int m_ult(lua_State *L)
{
	lua_Integer a = luaL_checkinteger(L, 1), b = luaL_checkinteger(L, 2);
	lua_pushboolean(L, (lua_Unsigned)a < (lua_Unsigned)b);
	return 1;
}

static int open_math(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"abs", m_abs},   {"ceil", m_ceil}, {"floor", m_floor},         {"fmod", m_fmod},
		{"max", m_max},   {"min", m_min},   {"sqrt", m_sqrt},           {"tointeger", m_tointeger},
		{"type", m_type}, {"ult", m_ult},   {NULL, NULL}};
	luaL_newlib(L, fns);
	lua_pushnumber(L, 3.141592653589793238462643383279502884);
	lua_setfield(L, -2, "pi");
	lua_pushnumber(L, HUGE_VAL);
	lua_setfield(L, -2, "huge");
	lua_pushinteger(L, LUA_MAXINTEGER);
	lua_setfield(L, -2, "maxinteger");
	lua_pushinteger(L, LUA_MININTEGER);
	lua_setfield(L, -2, "mininteger");
	return 1;
}

/* ---- assembly ------------------------------------------------------------ */

void ds__vm_open(lua_State *L)
{
	struct ds__sb *sb = ds__vm_sb(L);
	/* Fixed collector parameters: collection points are then a function
	 * of the allocation sequence, the same on every node. */
	lua_gc(L, LUA_GCINC, 200, 100, 13);

	static const struct {
		const char *name;
		lua_CFunction open;
	} libs[] = {
		{LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
		{LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, open_math},
		{LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
	};
	for (size_t i = 0; i < DS_ARRAY_LEN(libs); i++) {
		luaL_requiref(L, libs[i].name, libs[i].open, 1);
		lua_pop(L, 1);
	}
	lua_pushglobaltable(L);
	int g = lua_gettop(L);

	static const char *const base_off[] = {"collectgarbage", "dofile", "loadfile", "next",
					       "print", "warn", "require", NULL};
	remove_names(L, g, base_off);
	lua_pushcfunction(L, sb_tostring);
	lua_setfield(L, g, "tostring");
	lua_pushcfunction(L, sb_pairs);
	lua_setfield(L, g, "pairs");
	lua_pushcfunction(L, sb_load);
	lua_setfield(L, g, "load");
	lua_pushcfunction(L, sb_pcall);
	lua_setfield(L, g, "pcall");
	lua_pushcfunction(L, sb_xpcall);
	lua_setfield(L, g, "xpcall");
	wrap(L, g, "setmetatable", sb_setmetatable);
	meter(L, g, "tonumber", M_STR1);
	meter(L, g, "select", M_NARGS);

	lua_getfield(L, g, LUA_STRLIBNAME); /* also the strings' __index */
	int s = lua_gettop(L);
	static const char *const str_off[] = {"dump", "pack", "packsize", "unpack", NULL};
	remove_names(L, s, str_off);
	wrap(L, s, "format", sb_format);
	wrap(L, s, "rep", sb_rep);
	static const char *const str_metered[] = {"lower", "upper", "reverse", "sub", NULL};
	for (size_t i = 0; str_metered[i]; i++)
		meter(L, s, str_metered[i], M_STR1);
	meter(L, s, "byte", M_BYTES);
	meter(L, s, "char", M_NARGS);
	ds__vm_open_patterns(L, s);
	lua_pop(L, 1);

	lua_getfield(L, g, LUA_TABLIBNAME);
	int t = lua_gettop(L);
	lua_pushcfunction(L, sb_sort);
	lua_setfield(L, t, "sort");
	meter(L, t, "insert", M_TLEN1);
	meter(L, t, "remove", M_TLEN1);
	meter(L, t, "concat", M_TLEN1);
	meter(L, t, "move", M_MOVE);
	meter(L, t, "unpack", M_UNPACK);
	meter(L, t, "pack", M_NARGS);
	lua_pop(L, 1);

	lua_getfield(L, g, LUA_UTF8LIBNAME);
	int u = lua_gettop(L);
	meter(L, u, "len", M_STR1);
	meter(L, u, "offset", M_STR1);
	meter(L, u, "codepoint", M_BYTES);
	meter(L, u, "char", M_NARGS);
	lua_pop(L, 1);

	lua_getfield(L, g, LUA_COLIBNAME);
	int c = lua_gettop(L);
	lua_pushcfunction(L, co_new);
	lua_setfield(L, c, "create");
	lua_pushcfunction(L, co_resume);
	lua_setfield(L, c, "resume");
	lua_pushcfunction(L, co_wrap);
	lua_setfield(L, c, "wrap");
	lua_pop(L, 1);

	open_api(L, sb->host);
	open_crypto(L);
	lua_pop(L, 1); /* g */
}
