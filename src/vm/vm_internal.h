/* vm internals shared by vm_*.c. Only src/vm/ includes lua.h. */
#ifndef DS_VM_INTERNAL_H
#define DS_VM_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "vm/vm.h"

/* Byte-proportional work costs one instruction per this many bytes: the
 * creation charge (below), source text, and library functions that walk
 * their arguments. Protocol constant. */
#define DS__VM_BYTES_PER_INSTR 32
/* Creation charge and logical memory. Lua reports an object's creation to
 * the allocator with ptr == NULL and osize == the object's type tag; a
 * creation happens at a point fixed by the program (no cache, no
 * collector involvement) for every kind except short strings, which are
 * interned: whether "abc" is allocated depends on whether an earlier "abc"
 * has been collected yet. Short strings are recognised by size: a Lua
 * 5.4.4 x86-64 TString has a 24-byte header, contents up to
 * LUAI_MAXSHORTLEN (40) bytes plus a NUL. Everything else the allocator
 * sees (table parts, stacks, the string table, buffer growth) moves with
 * the hash seed and the collector, so it is never charged. */
#define DS__VM_SHORTSTR_LEN 40
#define DS__VM_SHORTSTR_ALLOC_MAX (24 + DS__VM_SHORTSTR_LEN + 1)
/* Rule for C code in src/vm: strings that may be longer than
 * DS__VM_SHORTSTR_LEN are pushed with lua_pushlstring (or built with a
 * luaL_Buffer), never lua_pushstring/lua_getfield/lua_setfield, whose
 * C-string cache lets collection timing decide whether a long string is
 * created. The main chunk's name is safe: it is the first such lookup in a
 * fresh state; load() names are cut to DS__VM_SHORTSTR_LEN - 1 bytes. */
/* Node protection only (no receipt): the live heap may not pass
 * DS__VM_HARD_MEM_FACTOR x memory_bytes_max + DS__VM_HARD_BYTES_PER_INSTR
 * x instructions_max, plus the stack allowance below. The second term
 * covers what the budget lets a contract hold without a creation charge
 * (table slots, short strings); see docs/CONTRACTS.md "Memory". */
#define DS__VM_HARD_MEM_FACTOR 4
#define DS__VM_HARD_BYTES_PER_INSTR 128
/* Lua stacks are not charged: each thread's stack is bounded instead, and
 * the ceiling holds (1 + DS__VM_COROUTINES_MAX) of them. A thread's chain is
 * at most call_depth_max + DS_VM_HOOK_STEP frames deep (depth is sampled
 * once per step), a frame at most DS__VM_FRAME_SLOTS slots of
 * DS__VM_SLOT_BYTES, and a growing stack briefly holds its old and new copy
 * (x 3); DS__VM_FRAME_BYTES covers a frame's CallInfo. */
#define DS__VM_COROUTINES_MAX 16 /* coroutine.create/wrap per call */
#define DS__VM_FRAME_SLOTS 256
#define DS__VM_SLOT_BYTES 16
#define DS__VM_FRAME_BYTES 128
/* Fixed charges (instructions) for host calls and coroutines; bytes moved
 * through the host cost one instruction per DS__VM_HOST_BYTE_DIV. */
#define DS__VM_CHARGE_GET 200
#define DS__VM_CHARGE_PUT 500
#define DS__VM_CHARGE_DEL 300
#define DS__VM_CHARGE_EMIT 500
#define DS__VM_HOST_BYTE_DIV 8
#define DS__VM_CHARGE_COROUTINE DS_VM_HOOK_STEP
/* crypto.*: a fixed charge plus one instruction per DS__VM_*_BYTE_DIV bytes
 * hashed, taken before any work. Set near time parity with interpreted code
 * (about 4 ns per metered instruction, 55 us per verification, 2 ns per
 * byte of SHA-512 and under 1 ns per byte of SHA-256 on the reference
 * machine), rounded up; see docs/CONTRACTS.md. Protocol constants. */
#define DS__VM_CHARGE_ED25519 15000
#define DS__VM_ED25519_BYTE_DIV 2 /* the message goes through SHA-512 */
#define DS__VM_CHARGE_SHA256 50
#define DS__VM_SHA256_BYTE_DIV 4

/* One call's sandbox. The allocator's user data: every C function reaches
 * it through ds__vm_sb(L). */
struct ds__sb {
	const struct ds_vm_limits *lim;
	const struct ds_vm_host *host;
	size_t live_bytes; /* diagnostic and node protection only */
	size_t peak_bytes; /* diagnostic only */
	size_t hard_bytes; /* live_bytes ceiling (node protection) */
	uint64_t logical_bytes; /* deterministic: bytes of charged creations */
	uint64_t vm_instr; /* whole hook steps */
	uint64_t charged;  /* creation, host and library charges */
	uint64_t instr_at_fatal; /* the figures when the first failure was set */
	uint64_t logical_at_fatal;
	bool metering;     /* charges and caps on the contract's behalf */
	bool closing;      /* after the call: no caps, frees only expected */
	bool sys_oom;      /* the system allocator failed: not deterministic */
	bool hard_oom;     /* the hard ceiling was hit: not deterministic */
	int host_err;      /* a host callback failed (negative DS_E*) */
	/* First sandbox-level failure wins and cannot be caught by pcall. */
	enum ds_vm_status fatal;
	const char *fatal_msg; /* static text, or fatal_buf */
	char fatal_buf[DS_VM_ERROR_MAX + 1];
	uint32_t writes;
	uint32_t events;
	uint32_t coroutines; /* created in this call */
	uint8_t *scratch; /* value encoding area, value_bytes_max; malloc'd */
};

static inline struct ds__sb *ds__vm_sb(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

/* Records a sandbox-level failure (first one wins) without raising; the
 * instruction figure is frozen there, since what runs between this point
 * and the end of the call may differ between nodes. */
void ds__vm_set_fatal(struct ds__sb *sb, enum ds_vm_status st, const char *msg);
/* Records a sandbox-level failure (first one wins) and raises it. */
_Noreturn void ds__vm_fatal(lua_State *L, enum ds_vm_status st, const char *msg);
/* Like ds__vm_fatal with a formatted message (bounded, truncated). */
_Noreturn void ds__vm_fatalf(lua_State *L, enum ds_vm_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds n instructions; raises out-of-instructions past the budget. */
void ds__vm_charge(lua_State *L, uint64_t n);
/* True when the budget is spent (allocator side: cannot raise). */
bool ds__vm_over_budget(const struct ds__sb *sb);

/* Installs the whitelisted libraries, wrappers and the contract API in a
 * fresh state (vm_lib.c). Raises on allocation failure. */
void ds__vm_open(lua_State *L);
/* Metered Lua-pattern functions (vm_pattern.c): sets find, match, gmatch
 * and gsub on the string table at index t. */
void ds__vm_open_patterns(lua_State *L, int t);

/* The vararg ban (vm_scan.c): the 1-based line of the first '...' token of
 * Lua source src[0..len) outside strings and comments, or 0 when it has
 * none. Follows Lua 5.4's lexer; see the file for why. */
uint32_t ds__vm_find_vararg(const char *src, size_t len);
/* Raises DS_VM_FORBIDDEN "<what> uses '...' (varargs), which the sandbox
 * refuses: line N" when src has a '...' token; returns otherwise. */
void ds__vm_refuse_varargs(lua_State *L, const char *src, size_t len, const char *what);

/* Values (vm_value.c). The null sentinel is a NULL light userdata. */
static inline bool ds__vm_isnull(lua_State *L, int idx)
{
	return lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL;
}
/* Pushes the Lua form of one canonical value (p[0..len) must parse).
 * Raises a Lua error on a malformed value. */
void ds__vm_push_value(lua_State *L, const uint8_t *p, size_t len);
/* Encodes the value at idx into sb->scratch; returns its length. Raises a
 * Lua error (prefixed by what) for floats, functions, mixed tables, too
 * deep or too large values. nil encodes as null. */
size_t ds__vm_encode(lua_State *L, int idx, const char *what);

#endif
