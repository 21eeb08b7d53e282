/* vm: one call — allocator with the creation charge and the hard ceiling,
 * count hook, classification of the outcome into a deterministic result. */
#include "vm/vm_internal.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

void ds_vm_limits_default(struct ds_vm_limits *l)
{
	l->instructions_max = 10000000;
	l->memory_bytes_max = 16u << 20;
	l->string_bytes_max = 1u << 20;
	l->call_depth_max = 200;
	l->value_bytes_max = 64u << 10;
	l->writes_max = 1024;
	l->events_max = 256;
}

const char *ds_vm_status_name(enum ds_vm_status s)
{
	switch (s) {
	case DS_VM_OK: return "ok";
	case DS_VM_ERROR: return "error";
	case DS_VM_OUT_OF_INSTRUCTIONS: return "out_of_instructions";
	case DS_VM_OUT_OF_MEMORY: return "out_of_memory";
	case DS_VM_LIMIT: return "limit";
	case DS_VM_FORBIDDEN: return "forbidden";
	case DS_VM_BAD_CALL: return "bad_call";
	}
	return "unknown";
}

void ds_vm_result_free(struct ds_vm_result *r)
{
	ds_buf_free(&r->ret);
}

bool ds__vm_over_budget(const struct ds__sb *sb)
{
	return sb->vm_instr + sb->charged > sb->lim->instructions_max;
}

void ds__vm_set_fatal(struct ds__sb *sb, enum ds_vm_status st, const char *msg)
{
	if (sb->fatal)
		return;
	sb->fatal = st;
	sb->fatal_msg = msg;
	sb->instr_at_fatal = sb->vm_instr + sb->charged;
	sb->logical_at_fatal = sb->logical_bytes;
}

_Noreturn void ds__vm_fatal(lua_State *L, enum ds_vm_status st, const char *msg)
{
	struct ds__sb *sb = ds__vm_sb(L);
	ds__vm_set_fatal(sb, st, msg);
	/* The error value is irrelevant (the result reads sb->fatal); a light
	 * value avoids allocating while memory may be exhausted. */
	lua_pushlightuserdata(L, sb);
	lua_error(L);
	abort(); /* lua_error does not return */
}

_Noreturn void ds__vm_fatalf(lua_State *L, enum ds_vm_status st, const char *fmt, ...)
{
	struct ds__sb *sb = ds__vm_sb(L);
	if (!sb->fatal) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(sb->fatal_buf, sizeof(sb->fatal_buf), fmt, ap);
		va_end(ap);
		ds__vm_set_fatal(sb, st, sb->fatal_buf);
	}
	ds__vm_fatal(L, st, sb->fatal_msg);
}

void ds__vm_charge(lua_State *L, uint64_t n)
{
	struct ds__sb *sb = ds__vm_sb(L);
	if (!sb->metering)
		return;
	sb->charged += n;
	if (ds__vm_over_budget(sb))
		ds__vm_fatal(L, DS_VM_OUT_OF_INSTRUCTIONS, "out of instructions");
}

/* The creation charge (see vm_internal.h): instructions and logical bytes
 * for a new object of nsize bytes. Returns false, with the failure
 * recorded, when the call cannot afford it. Only deterministic quantities
 * reach the receipt from here: the object's kind and requested size. */
static bool charge_creation(struct ds__sb *sb, size_t nsize)
{
	if (nsize > sb->lim->memory_bytes_max ||
	    sb->logical_bytes + nsize > sb->lim->memory_bytes_max) {
		ds__vm_set_fatal(sb, DS_VM_OUT_OF_MEMORY, "out of memory");
		return false;
	}
	sb->logical_bytes += nsize;
	sb->charged += (nsize + DS__VM_BYTES_PER_INSTR - 1) / DS__VM_BYTES_PER_INSTR;
	if (ds__vm_over_budget(sb)) {
		ds__vm_set_fatal(sb, DS_VM_OUT_OF_INSTRUCTIONS, "out of instructions");
		return false;
	}
	return true;
}

/* Receipts never depend on what this allocator sees except through
 * charge_creation and the string cap, both functions of the program. The
 * live-byte figure moves with the hash seed and the collector: it only
 * feeds memory_peak_bytes (diagnostic) and the hard ceiling, whose breach
 * ends the call without a receipt (DS_ENOMEM). */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct ds__sb *sb = ud;
	bool creation = false;
	if (ptr == NULL) {
		/* osize then encodes the kind of object being created (0 for
		 * a raw block: table part, stack, buffer). */
		creation = osize != 0 && nsize > 0 &&
			   !(osize == LUA_TSTRING && nsize <= DS__VM_SHORTSTR_ALLOC_MAX);
		if (sb->metering && !sb->closing && osize == LUA_TSTRING &&
		    nsize > sb->lim->string_bytes_max) {
			ds__vm_set_fatal(sb, DS_VM_LIMIT, "string too large");
			return NULL;
		}
		osize = 0;
	}
	if (nsize == 0) {
		free(ptr);
		DS_ASSERT(sb->live_bytes >= osize);
		sb->live_bytes -= osize;
		return NULL;
	}
	if (nsize <= osize) {
		void *p = realloc(ptr, nsize);
		sb->live_bytes -= osize - nsize;
		return p ? p : ptr; /* a failed shrink keeps the larger block */
	}
	size_t grow = nsize - osize;
	if (!sb->closing) {
		/* After a failure nothing more is granted: the instruction
		 * figure is frozen and the call only has to unwind. A refused
		 * request makes Lua collect and ask again, so a creation must
		 * not be charged twice: the refusal comes first. */
		if (sb->metering && (sb->fatal || sb->hard_oom))
			return NULL;
		if (grow > sb->hard_bytes || sb->live_bytes > sb->hard_bytes - grow) {
			sb->hard_oom = true;
			return NULL;
		}
		if (sb->metering && creation && !charge_creation(sb, nsize))
			return NULL;
	}
	void *p = realloc(ptr, nsize);
	if (!p) {
		sb->sys_oom = true;
		return NULL;
	}
	sb->live_bytes += grow;
	if (sb->live_bytes > sb->peak_bytes)
		sb->peak_bytes = sb->live_bytes;
	return p;
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct ds__sb *sb = ds__vm_sb(L);
	sb->vm_instr += DS_VM_HOOK_STEP;
	if (sb->fatal) /* sticky: code that caught it cannot go on */
		ds__vm_fatal(L, sb->fatal, sb->fatal_msg);
	if (sb->hard_oom) { /* no receipt will be written: just unwind */
		lua_pushlightuserdata(L, sb);
		lua_error(L);
	}
	if (ds__vm_over_budget(sb))
		ds__vm_fatal(L, DS_VM_OUT_OF_INSTRUCTIONS, "out of instructions");
	/* Depth is sampled here, once per step: a chain can grow by at most a
	 * step's worth of calls before it is seen (the hard ceiling is the
	 * backstop), and the sampling points are the same on every node. */
	lua_Debug d;
	if (lua_getstack(L, (int)sb->lim->call_depth_max, &d))
		ds__vm_fatal(L, DS_VM_LIMIT, "call depth exceeded");
}

struct call_args {
	struct ds__sb *sb;
	struct ds_vm_result *res;
	const char *src;
	size_t src_len;
	const char *chunkname;
	const char *method;
	const uint8_t *args;
	size_t args_len;
};

/* Everything that touches Lua runs here, in protected mode. */
static int sb_main(lua_State *L)
{
	struct call_args *a = lua_touserdata(L, 1);
	struct ds__sb *sb = a->sb;
	lua_settop(L, 0);
	ds__vm_open(L);

	sb->metering = true;
	if (!sb->host->no_meter)
		lua_sethook(L, sb_hook, LUA_MASKCOUNT, DS_VM_HOOK_STEP);
	ds__vm_charge(L, a->src_len / DS__VM_BYTES_PER_INSTR);
	if (a->src_len > 0 && a->src[0] == LUA_SIGNATURE[0])
		ds__vm_fatal(L, DS_VM_FORBIDDEN, "binary chunks are not allowed");
	ds__vm_refuse_varargs(L, a->src, a->src_len, "contract source");
	char cname[DS_VM_NAME_MAX + 2];
	snprintf(cname, sizeof(cname), "=%s", a->chunkname);
	int st = luaL_loadbufferx(L, a->src, a->src_len, cname, "t");
	if (st == LUA_ERRMEM)
		lua_error(L);
	if (st != LUA_OK)
		ds__vm_fatalf(L, DS_VM_BAD_CALL, "syntax error: %s", lua_tostring(L, -1));
	lua_call(L, 0, 1);
	if (!lua_istable(L, -1))
		ds__vm_fatal(L, DS_VM_BAD_CALL, "contract must return a table of methods");
	lua_pushstring(L, a->method);
	lua_rawget(L, -2);
	if (!lua_isfunction(L, -1))
		ds__vm_fatalf(L, DS_VM_BAD_CALL, "no such method: %s", a->method);
	if (a->args_len == 0) {
		lua_pushnil(L);
	} else {
		int rc = ds_value_check(a->args, a->args_len);
		if (rc)
			ds__vm_fatalf(L, DS_VM_BAD_CALL, "bad args: %s", ds_strerror(rc));
		ds__vm_charge(L, a->args_len / DS__VM_HOST_BYTE_DIV);
		ds__vm_push_value(L, a->args, a->args_len);
	}
	lua_call(L, 1, 1);
	/* Encoding errors (a float, a function …) are the contract's own. */
	size_t n = ds__vm_encode(L, -1, "return value");
	ds_buf_append(&a->res->ret, sb->scratch, n);
	if (a->res->ret.err) {
		sb->sys_oom = true;
		ds__vm_fatal(L, DS_VM_OUT_OF_MEMORY, "out of memory");
	}
	return 0;
}

static bool name_ok(const char *s, bool method)
{
	size_t n = strnlen(s, DS_VM_NAME_MAX + 1);
	if (n == 0 || n > DS_VM_NAME_MAX)
		return false;
	if (method && s[0] == '_')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (method) {
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '_'))
				return false;
		} else if (c < 0x21 || c > 0x7e) {
			return false;
		}
	}
	return true;
}

static bool locale_is_c(int cat)
{
	const char *l = setlocale(cat, NULL);
	return l && (strcmp(l, "C") == 0 || strcmp(l, "POSIX") == 0);
}

/* Copies msg as valid UTF-8 without control characters (each bad byte
 * becomes '?'), cut at a character boundary to DS_VM_ERROR_MAX bytes. */
static void set_error(struct ds_vm_result *res, const char *msg, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)msg[i];
		size_t cl = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			    (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = cl > 0 && i + cl <= len && ds_utf8_valid((const uint8_t *)msg + i, cl) &&
			  !(cl == 1 && (c < 0x20 || c == 0x7f));
		if (!ok)
			cl = 1;
		if (o + cl > DS_VM_ERROR_MAX)
			break;
		if (ok)
			memcpy(res->error + o, msg + i, cl);
		else
			res->error[o] = '?';
		o += cl;
		i += cl;
	}
	res->error[o] = 0;
	res->error_len = o;
}

static void set_error_from_value(struct ds_vm_result *res, lua_State *L)
{
	char tmp[64];
	switch (lua_type(L, -1)) {
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, -1, &n); /* a string: no allocation */
		set_error(res, s, n);
		return;
	}
	case LUA_TNUMBER:
		/* Formatted here: converting in place would allocate outside
		 * protected mode. */
		if (lua_isinteger(L, -1))
			snprintf(tmp, sizeof(tmp), "%lld", (long long)lua_tointeger(L, -1));
		else
			snprintf(tmp, sizeof(tmp), "%.14g", lua_tonumber(L, -1));
		break;
	default:
		snprintf(tmp, sizeof(tmp), "error object is a %s value",
			 ds__vm_isnull(L, -1) ? "null" : lua_typename(L, lua_type(L, -1)));
		break;
	}
	set_error(res, tmp, strlen(tmp));
}

/* Per-thread encoding area (see ds_vm_call), freed at thread exit. */
static _Thread_local uint8_t *tl_scratch;
static _Thread_local size_t tl_scratch_cap;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	free(p);
}

static void scratch_key_init(void)
{
	DS_ASSERT(pthread_key_create(&scratch_key, scratch_free) == 0);
}

int ds_vm_call(struct ds_vm_result *res, const struct ds_vm_limits *lim,
	       const struct ds_vm_host *host, const char *src, size_t src_len,
	       const char *chunkname, const char *method, const uint8_t *args,
	       size_t args_len)
{
	memset(res, 0, sizeof(*res));
	ds_buf_init(&res->ret);
	if (src_len > DS_VM_SRC_MAX || !name_ok(chunkname, false) || !name_ok(method, true) ||
	    (args_len > 0 && !args) || host->caller_nroles > DS_VM_ROLES_MAX ||
	    !host->caller_account || !host->caller_org ||
	    (host->caller_nroles > 0 && !host->caller_roles))
		return DS_EINVAL;
	if (!locale_is_c(LC_COLLATE) || !locale_is_c(LC_NUMERIC))
		return DS_ESTATE;
	int crc = ds_crypto_init(); /* crypto.* in the sandbox; idempotent */
	if (crc)
		return crc;

	int rc = 0;
	lua_State *L = NULL;
	struct ds__sb sb;
	memset(&sb, 0, sizeof(sb));
	sb.lim = lim;
	sb.host = host;
	{
		/* Saturating: limits come from chain parameters. */
		uint64_t m = lim->memory_bytes_max;
		uint64_t hard = m > UINT64_MAX / DS__VM_HARD_MEM_FACTOR ?
					UINT64_MAX : m * DS__VM_HARD_MEM_FACTOR;
		uint64_t per = lim->instructions_max > UINT64_MAX / DS__VM_HARD_BYTES_PER_INSTR ?
				       UINT64_MAX : lim->instructions_max * DS__VM_HARD_BYTES_PER_INSTR;
		hard = hard > UINT64_MAX - per ? UINT64_MAX : hard + per;
		uint64_t frames = (uint64_t)lim->call_depth_max + DS_VM_HOOK_STEP;
		uint64_t stacks = (1 + DS__VM_COROUTINES_MAX) *
				  (3 * frames * DS__VM_FRAME_SLOTS * DS__VM_SLOT_BYTES +
				   frames * DS__VM_FRAME_BYTES);
		hard = hard > UINT64_MAX - stacks ? UINT64_MAX : hard + stacks;
		sb.hard_bytes = hard > SIZE_MAX ? SIZE_MAX : (size_t)hard;
	}
	/* The encoding area is kept per thread: allocating and freeing 64 KiB
	 * on every call costs malloc a consolidation pass each time. */
	size_t need = lim->value_bytes_max ? lim->value_bytes_max : 1;
	if (tl_scratch_cap < need) {
		pthread_once(&scratch_once, scratch_key_init);
		uint8_t *p = realloc(tl_scratch, need);
		if (!p)
			return DS_ENOMEM;
		tl_scratch = p;
		tl_scratch_cap = need;
		/* The key's destructor frees the buffer when the thread exits. */
		pthread_setspecific(scratch_key, p);
	}
	sb.scratch = tl_scratch;
	L = lua_newstate(sb_alloc, &sb);
	if (!L) { /* unmetered: only the system or the hard ceiling refuses */
		rc = DS_ENOMEM;
		goto fail;
	}
	struct call_args a = {&sb, res, src, src_len, chunkname, method, args, args_len};
	lua_pushcfunction(L, sb_main);
	lua_pushlightuserdata(L, &a);
	int st = lua_pcall(L, 1, 0, 0);
	sb.closing = true;
	if (sb.host_err) {
		rc = sb.host_err;
		goto fail;
	}
	if (sb.sys_oom || sb.hard_oom) {
		rc = DS_ENOMEM;
		goto fail;
	}
	if (sb.fatal) { /* wins even if something swallowed it: it cannot be caught */
		res->status = sb.fatal;
		set_error(res, sb.fatal_msg, strlen(sb.fatal_msg));
	} else if (st == LUA_OK) {
		res->status = DS_VM_OK;
	} else if (st == LUA_ERRMEM) {
		/* Every deterministic refusal records sb.fatal first; a bare
		 * memory error has no deterministic cause. */
		rc = DS_ENOMEM;
		goto fail;
	} else {
		res->status = DS_VM_ERROR;
		set_error_from_value(res, L);
	}
	if (res->status != DS_VM_OK)
		ds_buf_reset(&res->ret);
	res->instructions = sb.fatal ? sb.instr_at_fatal : sb.vm_instr + sb.charged;
	res->memory_bytes = sb.fatal ? sb.logical_at_fatal : sb.logical_bytes;
	if (res->instructions > lim->instructions_max)
		res->instructions = lim->instructions_max;
	res->memory_peak_bytes = sb.peak_bytes;
	if (L)
		lua_close(L);
	DS_ASSERT(sb.live_bytes == 0);
	return 0;
fail:
	if (L)
		lua_close(L);
	ds_buf_free(&res->ret);
	memset(res, 0, sizeof(*res));
	ds_buf_init(&res->ret);
	return rc;
}
