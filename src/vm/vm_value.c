/* vm: Lua values <-> canonical values (codec.h).
 *
 * Lua -> value: nil and the `null` sentinel -> null, booleans, integers ->
 * int, floats refused, strings -> string when valid UTF-8 without NUL, else
 * bytes; tables -> array when the keys are exactly 1..n, map when every key
 * is a string (empty table -> empty array), anything else refused.
 * Metatables are ignored (raw access). Value -> Lua: the reverse, with null
 * -> the `null` sentinel so arrays keep their holes. */
#include "vm/vm_internal.h"

#include <string.h>

#include "codec/codec.h"

static void push_item(lua_State *L, const struct ds_value *v, unsigned depth);

static void push_container(lua_State *L, const struct ds_value *v, unsigned depth)
{
	bool map = v->kind == DS_VALUE_MAP;
	lua_createtable(L, map ? 0 : (int)v->count, map ? (int)v->count : 0);
	struct ds_value_iter it;
	ds_value_iter_init(&it, v);
	const uint8_t *k;
	size_t kn;
	struct ds_value item;
	lua_Integer i = 1;
	/* The count was bounded by DS_VALUE_COUNT_MAX when it was parsed. */
	while (ds_value_iter_next(&it, &k, &kn, &item)) {
		if (map)
			lua_pushlstring(L, (const char *)k, kn);
		push_item(L, &item, depth + 1);
		if (map)
			lua_rawset(L, -3);
		else
			lua_rawseti(L, -2, i++);
	}
}

static void push_item(lua_State *L, const struct ds_value *v, unsigned depth)
{
	DS_ASSERT(depth <= DS_VALUE_DEPTH_MAX);
	if (!lua_checkstack(L, 4))
		luaL_error(L, "value nested too deeply");
	switch (v->kind) {
	case DS_VALUE_NULL: lua_pushlightuserdata(L, NULL); break;
	case DS_VALUE_FALSE: lua_pushboolean(L, 0); break;
	case DS_VALUE_TRUE: lua_pushboolean(L, 1); break;
	case DS_VALUE_INT: lua_pushinteger(L, (lua_Integer)v->i); break;
	case DS_VALUE_STR:
	case DS_VALUE_BYTES: lua_pushlstring(L, (const char *)v->p, v->len); break;
	case DS_VALUE_ARRAY:
	case DS_VALUE_MAP: push_container(L, v, depth); break;
	default: DS_ASSERT(0 && "parsed value of unknown kind");
	}
}

void ds__vm_push_value(lua_State *L, const uint8_t *p, size_t len)
{
	struct ds_value v;
	int rc = ds_value_parse(&v, p, len);
	if (rc)
		luaL_error(L, "malformed value: %s", ds_strerror(rc));
	push_item(L, &v, 1);
}

struct kref {
	const char *p;
	size_t n;
};

static int kref_cmp(const void *a, const void *b)
{
	const struct kref *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = n ? memcmp(x->p, y->p, n) : 0;
	if (c)
		return c;
	return x->n < y->n ? -1 : x->n > y->n ? 1 : 0;
}

struct enc_ctx {
	struct ds_enc e;
	const char *what;
};

static _Noreturn void enc_error(lua_State *L, struct enc_ctx *c, const char *msg)
{
	luaL_error(L, "%s: %s", c->what, msg);
	abort();
}

static void enc_item(lua_State *L, struct enc_ctx *c, int idx, unsigned depth);

static void enc_table(lua_State *L, struct enc_ctx *c, int idx, unsigned depth)
{
	/* First pass: classify the keys. */
	size_t count = 0, nint = 0, nstr = 0;
	lua_Integer imax = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (++count > DS_VALUE_COUNT_MAX) {
			lua_pop(L, 1);
			enc_error(L, c, "table has too many entries");
		}
		if (lua_type(L, -1) == LUA_TSTRING) {
			nstr++;
		} else if (lua_isinteger(L, -1)) {
			lua_Integer k = lua_tointeger(L, -1);
			nint++;
			if (k > imax)
				imax = k;
			if (k < 1)
				nint = SIZE_MAX / 2; /* poisons the array check below */
		} else {
			lua_pop(L, 1);
			enc_error(L, c, "table keys must be strings or 1..n");
		}
	}
	ds__vm_charge(L, count);
	if (nstr == 0 && nint == count && (size_t)imax == count) {
		ds_value_enc_array(&c->e, (uint32_t)count);
		for (lua_Integer i = 1; i <= imax; i++) {
			lua_rawgeti(L, idx, i);
			enc_item(L, c, lua_gettop(L), depth + 1);
			lua_pop(L, 1);
		}
		return;
	}
	if (nstr != count)
		enc_error(L, c, "table is neither an array 1..n nor a map with string keys");
	/* Map: keys in bytewise order. The key strings stay alive as keys of
	 * the table, which is not touched while kr is in use. */
	struct kref *kr = lua_newuserdatauv(L, count * sizeof(*kr), 0);
	int kr_idx = lua_gettop(L);
	size_t i = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		DS_ASSERT(i < count);
		kr[i].p = lua_tolstring(L, -1, &kr[i].n);
		i++;
	}
	DS_ASSERT(i == count);
	qsort(kr, count, sizeof(*kr), kref_cmp);
	ds_value_enc_map(&c->e, (uint32_t)count);
	for (i = 0; i < count; i++) {
		if (kr[i].n > DS_VALUE_KEY_MAX)
			enc_error(L, c, "map key too long");
		if (!ds_utf8_valid((const uint8_t *)kr[i].p, kr[i].n))
			enc_error(L, c, "map key is not UTF-8 text");
		ds_value_enc_key(&c->e, kr[i].p, kr[i].n);
		lua_pushlstring(L, kr[i].p, kr[i].n);
		lua_rawget(L, idx);
		enc_item(L, c, lua_gettop(L), depth + 1);
		lua_pop(L, 1);
	}
	lua_remove(L, kr_idx);
}

static void enc_item(lua_State *L, struct enc_ctx *c, int idx, unsigned depth)
{
	if (depth > DS_VALUE_DEPTH_MAX)
		enc_error(L, c, "value nested too deeply");
	if (!lua_checkstack(L, 6))
		enc_error(L, c, "value nested too deeply");
	if (c->e.err == DS_ETOOBIG)
		enc_error(L, c, "value too large");
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		ds_value_enc_null(&c->e);
		break;
	case LUA_TBOOLEAN:
		ds_value_enc_bool(&c->e, lua_toboolean(L, idx));
		break;
	case LUA_TNUMBER:
		if (!lua_isinteger(L, idx))
			enc_error(L, c, "floats are not allowed");
		ds_value_enc_int(&c->e, (int64_t)lua_tointeger(L, idx));
		break;
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		if (n > DS_VALUE_LEN_MAX)
			enc_error(L, c, "value too large");
		if (ds_utf8_valid((const uint8_t *)s, n))
			ds_value_enc_str(&c->e, s, n);
		else
			ds_value_enc_bytes(&c->e, s, n);
		break;
	}
	case LUA_TTABLE:
		enc_table(L, c, idx, depth);
		break;
	case LUA_TLIGHTUSERDATA:
		if (ds__vm_isnull(L, idx)) {
			ds_value_enc_null(&c->e);
			break;
		}
		/* fall through */
	default: {
		char msg[48];
		snprintf(msg, sizeof(msg), "cannot encode a %s value",
			 lua_typename(L, lua_type(L, idx)));
		lua_pushstring(L, msg);
		luaL_error(L, "%s: %s", c->what, lua_tostring(L, -1));
	}
	}
	if (c->e.err == DS_ETOOBIG)
		enc_error(L, c, "value too large");
}

size_t ds__vm_encode(lua_State *L, int idx, const char *what)
{
	struct ds__sb *sb = ds__vm_sb(L);
	struct enc_ctx c;
	c.what = what;
	ds_enc_init(&c.e, sb->scratch, sb->lim->value_bytes_max);
	enc_item(L, &c, lua_absindex(L, idx), 1);
	size_t n;
	int rc = ds_enc_finish(&c.e, &n);
	if (rc == DS_ETOOBIG)
		enc_error(L, &c, "value too large");
	if (rc)
		luaL_error(L, "%s: cannot encode (%s)", what, ds_strerror(rc));
	ds__vm_charge(L, n / DS__VM_HOST_BYTE_DIV);
	return n;
}
