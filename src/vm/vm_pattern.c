/* vm: Lua patterns with a step budget — string.find, match, gmatch, gsub.
 *
 * The stock matcher runs inside C where no count hook fires, and patterns
 * such as ("a"):rep(1e5):find(".-.-.-.-b") take polynomial time. This one
 * implements the same pattern language (Lua 5.4 manual §6.4.1) and charges
 * every step (one attempt to match a pattern item at a position, one
 * subject byte scanned) as an instruction, so a pathological pattern runs
 * out of instructions at the same step on every node. Character classes are
 * ASCII and locale-free. */
#include "vm/vm_internal.h"

#include <string.h>

#define CAPS_MAX 32
#define MATCH_DEPTH_MAX 200
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define STEP_BATCH 256

struct ms {
	lua_State *L;
	const char *src, *src_end;
	const char *p_end;
	int depth;
	int level;
	struct {
		const char *init;
		ptrdiff_t len;
	} cap[CAPS_MAX];
	uint64_t steps;
};

static void steps(struct ms *ms, uint64_t n)
{
	ms->steps += n;
	if (ms->steps >= STEP_BATCH) {
		uint64_t c = ms->steps;
		ms->steps = 0;
		ds__vm_charge(ms->L, c);
	}
}

static void steps_flush(struct ms *ms)
{
	uint64_t c = ms->steps;
	ms->steps = 0;
	ds__vm_charge(ms->L, c);
}

static void ms_init(struct ms *ms, lua_State *L, const char *s, size_t ls, const char *p,
		    size_t lp)
{
	ms->L = L;
	ms->src = s;
	ms->src_end = s + ls;
	ms->p_end = p + lp;
	ms->depth = 0;
	ms->level = 0;
	ms->steps = 0;
}

static bool class_match(unsigned char c, unsigned char cl)
{
	unsigned char lo = cl >= 'A' && cl <= 'Z' ? (unsigned char)(cl + 32) : cl;
	bool r;
	bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	bool digit = c >= '0' && c <= '9';
	switch (lo) {
	case 'a': r = alpha; break;
	case 'c': r = c < 32 || c == 127; break;
	case 'd': r = digit; break;
	case 'g': r = c > 32 && c < 127; break;
	case 'l': r = c >= 'a' && c <= 'z'; break;
	case 'p': r = c > 32 && c < 127 && !alpha && !digit; break;
	case 's': r = c == ' ' || (c >= 9 && c <= 13); break;
	case 'u': r = c >= 'A' && c <= 'Z'; break;
	case 'w': r = alpha || digit; break;
	case 'x': r = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); break;
	default: return cl == c;
	}
	return lo != cl ? !r : r;
}

/* p at '[', ec at the closing ']'. */
static bool set_match(struct ms *ms, unsigned char c, const char *p, const char *ec)
{
	bool sig = true;
	steps(ms, (uint64_t)(ec - p));
	p++;
	if (*p == '^') {
		sig = false;
		p++;
	}
	while (p < ec) {
		if (*p == '%') {
			p++;
			if (class_match(c, (unsigned char)*p))
				return sig;
			p++;
		} else if (p + 2 < ec && p[1] == '-') {
			if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
				return sig;
			p += 3;
		} else {
			if ((unsigned char)*p == c)
				return sig;
			p++;
		}
	}
	return !sig;
}

/* Returns the end of the single-character class starting at p. */
static const char *class_end(struct ms *ms, const char *p)
{
	char c = *p++;
	if (c == '%') {
		if (p >= ms->p_end)
			luaL_error(ms->L, "malformed pattern (ends with '%%')");
		return p + 1;
	}
	if (c == '[') {
		if (p < ms->p_end && *p == '^')
			p++;
		do { /* the first character is never the closing ']' */
			if (p >= ms->p_end)
				luaL_error(ms->L, "malformed pattern (missing ']')");
			c = *p++;
			if (c == '%' && p < ms->p_end)
				p++;
		} while (p >= ms->p_end || *p != ']');
		return p + 1;
	}
	return p;
}

static bool single_match(struct ms *ms, const char *s, const char *p, const char *ep)
{
	if (s >= ms->src_end)
		return false;
	unsigned char c = (unsigned char)*s;
	switch (*p) {
	case '.': return true;
	case '%': return class_match(c, (unsigned char)p[1]);
	case '[': return set_match(ms, c, p, ep - 1);
	default: return (unsigned char)*p == c;
	}
}

static const char *do_match(struct ms *ms, const char *s, const char *p);

static const char *max_expand(struct ms *ms, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;
	while (single_match(ms, s + i, p, ep)) {
		steps(ms, 1);
		i++;
	}
	for (; i >= 0; i--) { /* longest first */
		const char *r = do_match(ms, s + i, ep + 1);
		if (r)
			return r;
	}
	return NULL;
}

static const char *min_expand(struct ms *ms, const char *s, const char *p, const char *ep)
{
	for (;;) { /* bounded by the subject length */
		const char *r = do_match(ms, s, ep + 1);
		if (r)
			return r;
		if (!single_match(ms, s, p, ep))
			return NULL;
		s++;
	}
}

static const char *start_capture(struct ms *ms, const char *s, const char *p, ptrdiff_t what)
{
	if (ms->level >= CAPS_MAX)
		luaL_error(ms->L, "too many captures");
	ms->cap[ms->level].init = s;
	ms->cap[ms->level].len = what;
	ms->level++;
	const char *r = do_match(ms, s, p);
	if (!r)
		ms->level--;
	return r;
}

static const char *end_capture(struct ms *ms, const char *s, const char *p)
{
	int l = -1;
	for (int i = ms->level - 1; i >= 0; i--) {
		if (ms->cap[i].len == CAP_UNFINISHED) {
			l = i;
			break;
		}
	}
	if (l < 0)
		luaL_error(ms->L, "invalid pattern capture");
	ms->cap[l].len = s - ms->cap[l].init;
	const char *r = do_match(ms, s, p);
	if (!r)
		ms->cap[l].len = CAP_UNFINISHED;
	return r;
}

static const char *match_balance(struct ms *ms, const char *s, const char *p)
{
	if (p + 1 >= ms->p_end)
		luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= ms->src_end || *s != p[0])
		return NULL;
	int depth = 1;
	while (++s < ms->src_end) {
		steps(ms, 1);
		if (*s == p[1]) {
			if (--depth == 0)
				return s + 1;
		} else if (*s == p[0]) {
			depth++;
		}
	}
	return NULL;
}

static const char *match_backref(struct ms *ms, const char *s, char d)
{
	int l = d - '1';
	if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_UNFINISHED)
		luaL_error(ms->L, "invalid capture index %%%d", l + 1);
	size_t len = (size_t)ms->cap[l].len;
	if (ms->cap[l].len == CAP_POSITION)
		len = 0; /* a position capture holds no text */
	steps(ms, len);
	if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cap[l].init, s, len) == 0)
		return s + len;
	return NULL;
}

static const char *do_match(struct ms *ms, const char *s, const char *p)
{
	const char *r = NULL;
	if (++ms->depth > MATCH_DEPTH_MAX)
		luaL_error(ms->L, "pattern too complex");
	for (;;) { /* each turn consumes pattern; bounded by its length */
		steps(ms, 1);
		if (p >= ms->p_end) {
			r = s;
			break;
		}
		if (*p == '(') {
			if (p + 1 < ms->p_end && p[1] == ')')
				r = start_capture(ms, s, p + 2, CAP_POSITION);
			else
				r = start_capture(ms, s, p + 1, CAP_UNFINISHED);
			break;
		}
		if (*p == ')') {
			r = end_capture(ms, s, p + 1);
			break;
		}
		if (*p == '$' && p + 1 == ms->p_end) {
			r = s == ms->src_end ? s : NULL;
			break;
		}
		if (*p == '%' && p + 1 < ms->p_end && p[1] == 'b') {
			r = match_balance(ms, s, p + 2);
			if (!r)
				break;
			s = r;
			p += 4;
			continue;
		}
		if (*p == '%' && p + 1 < ms->p_end && p[1] == 'f') {
			p += 2;
			if (p >= ms->p_end || *p != '[')
				luaL_error(ms->L, "missing '[' after '%%f' in pattern");
			const char *ep = class_end(ms, p);
			unsigned char prev = s == ms->src ? 0 : (unsigned char)s[-1];
			unsigned char cur = s < ms->src_end ? (unsigned char)*s : 0;
			if (!set_match(ms, prev, p, ep - 1) && set_match(ms, cur, p, ep - 1)) {
				p = ep;
				continue;
			}
			r = NULL;
			break;
		}
		if (*p == '%' && p + 1 < ms->p_end && p[1] >= '0' && p[1] <= '9') {
			r = match_backref(ms, s, p[1]);
			if (!r)
				break;
			s = r;
			p += 2;
			continue;
		}
		const char *ep = class_end(ms, p);
		bool m = single_match(ms, s, p, ep);
		char q = ep < ms->p_end ? *ep : 0;
		if (q == '?') {
			if (m && (r = do_match(ms, s + 1, ep + 1)) != NULL)
				break;
			p = ep + 1;
			continue;
		}
		if (q == '+') {
			r = m ? max_expand(ms, s + 1, p, ep) : NULL;
			break;
		}
		if (q == '*') {
			r = max_expand(ms, s, p, ep);
			break;
		}
		if (q == '-') {
			r = min_expand(ms, s, p, ep);
			break;
		}
		if (!m) {
			r = NULL;
			break;
		}
		s++;
		p = ep;
	}
	ms->depth--;
	return r;
}

static void push_capture(struct ms *ms, int i, const char *s, const char *e)
{
	if (i >= ms->level) {
		if (i != 0)
			luaL_error(ms->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(ms->L, s, (size_t)(e - s));
		return;
	}
	ptrdiff_t l = ms->cap[i].len;
	if (l == CAP_UNFINISHED)
		luaL_error(ms->L, "unfinished capture");
	if (l == CAP_POSITION)
		lua_pushinteger(ms->L, (ms->cap[i].init - ms->src) + 1);
	else
		lua_pushlstring(ms->L, ms->cap[i].init, (size_t)l);
}

/* Pushes the captures, or the whole match when there are none and s != NULL. */
static int push_captures(struct ms *ms, const char *s, const char *e)
{
	int n = (ms->level == 0 && s) ? 1 : ms->level;
	luaL_checkstack(ms->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_capture(ms, i, s, e);
	return n;
}

static size_t init_pos(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0)
		return 1;
	if (pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static bool has_specials(const char *p, size_t lp)
{
	for (size_t i = 0; i < lp; i++)
		if (p[i] && strchr("^$*+?.([%-", p[i]))
			return true;
	return false;
}

static int find_aux(lua_State *L, bool find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = init_pos(luaL_optinteger(L, 3, 1), ls);
	if (init > ls + 1) {
		lua_pushnil(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
		/* memmem is linear; the charge covers the scan. */
		ds__vm_charge(L, 1 + (ls - init + 1 + lp) / 8);
		const char *hit = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);
		if (!hit) {
			lua_pushnil(L);
			return 1;
		}
		lua_pushinteger(L, (hit - s) + 1);
		lua_pushinteger(L, (lua_Integer)((size_t)(hit - s) + lp));
		return 2;
	}
	struct ms ms;
	bool anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	ms_init(&ms, L, s, ls, p, lp);
	const char *s1 = s + init - 1;
	do {
		ms.level = 0;
		ms.depth = 0;
		const char *e = do_match(&ms, s1, p);
		if (e) {
			steps_flush(&ms);
			if (find) {
				lua_pushinteger(L, (s1 - s) + 1);
				lua_pushinteger(L, e - s);
				return push_captures(&ms, NULL, NULL) + 2;
			}
			return push_captures(&ms, s1, e);
		}
	} while (s1++ < ms.src_end && !anchor);
	steps_flush(&ms);
	lua_pushnil(L);
	return 1;
}

static int sb_find(lua_State *L)
{
	return find_aux(L, true);
}

static int sb_match(lua_State *L)
{
	return find_aux(L, false);
}

/* gmatch state: offsets, not pointers, so nothing dangles. */
struct gm {
	size_t pos;
	ptrdiff_t last; /* end of the last match, -1 before the first */
};

static int gmatch_next(lua_State *L)
{
	size_t ls, lp;
	const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
	const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
	struct gm *g = lua_touserdata(L, lua_upvalueindex(3));
	struct ms ms;
	ms_init(&ms, L, s, ls, p, lp);
	for (const char *src = s + g->pos; src <= ms.src_end; src++) {
		ms.level = 0;
		ms.depth = 0;
		const char *e = do_match(&ms, src, p);
		if (e && (g->last < 0 || e != s + g->last)) {
			g->pos = (size_t)(e - s);
			g->last = e - s;
			steps_flush(&ms);
			return push_captures(&ms, src, e);
		}
	}
	g->pos = ls + 1;
	steps_flush(&ms);
	return 0;
}

static int sb_gmatch(lua_State *L)
{
	size_t ls;
	luaL_checklstring(L, 1, &ls);
	luaL_checkstring(L, 2);
	size_t init = init_pos(luaL_optinteger(L, 3, 1), ls);
	lua_settop(L, 2);
	struct gm *g = lua_newuserdatauv(L, sizeof(*g), 0);
	g->pos = init > ls + 1 ? ls + 1 : init - 1;
	g->last = -1;
	lua_pushcclosure(L, gmatch_next, 3);
	return 1;
}

static void add_repl_string(struct ms *ms, luaL_Buffer *b, const char *s, const char *e)
{
	lua_State *L = ms->L;
	size_t l;
	const char *r = lua_tolstring(L, 3, &l);
	for (size_t i = 0; i < l; i++) {
		steps(ms, 1);
		if (r[i] != '%') {
			luaL_addchar(b, r[i]);
			continue;
		}
		i++;
		if (i < l && r[i] == '%') {
			luaL_addchar(b, '%');
		} else if (i < l && r[i] == '0') {
			luaL_addlstring(b, s, (size_t)(e - s));
		} else if (i < l && r[i] >= '1' && r[i] <= '9') {
			push_capture(ms, r[i] - '1', s, e);
			lua_tolstring(L, -1, NULL); /* a position becomes its digits */
			luaL_addvalue(b);
		} else {
			luaL_error(L, "invalid use of '%%' in replacement string");
		}
	}
}

static void add_value(struct ms *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
	lua_State *L = ms->L;
	if (tr == LUA_TFUNCTION) {
		lua_pushvalue(L, 3);
		int n = push_captures(ms, s, e);
		lua_call(L, n, 1);
	} else if (tr == LUA_TTABLE) {
		push_capture(ms, 0, s, e);
		lua_gettable(L, 3);
	} else {
		add_repl_string(ms, b, s, e);
		return;
	}
	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
	} else if (!lua_isstring(L, -1)) {
		luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	} else {
		luaL_addvalue(b);
	}
}

static int sb_gsub(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	int tr = lua_type(L, 3);
	lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
	luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
				    tr == LUA_TTABLE,
			 3, "string/function/table");
	bool anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	struct ms ms;
	ms_init(&ms, L, s, ls, p, lp);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	const char *src = s, *last = NULL;
	lua_Integer n = 0;
	bool changed = false;
	while (n < max_n) { /* each turn consumes a byte or makes a match */
		ms.level = 0;
		ms.depth = 0;
		const char *e = do_match(&ms, src, p);
		if (e && e != last) {
			n++;
			changed = true;
			add_value(&ms, &b, src, e, tr);
			src = last = e;
		} else if (src < ms.src_end) {
			steps(&ms, 1);
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	steps_flush(&ms);
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

void ds__vm_open_patterns(lua_State *L, int t)
{
	static const luaL_Reg fns[] = {{"find", sb_find},
				       {"match", sb_match},
				       {"gmatch", sb_gmatch},
				       {"gsub", sb_gsub},
				       {NULL, NULL}};
	t = lua_absindex(L, t);
	for (const luaL_Reg *f = fns; f->name; f++) {
		lua_pushcfunction(L, f->func);
		lua_setfield(L, t, f->name);
	}
}
