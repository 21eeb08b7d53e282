/* vm internals shared by vm_*.c. Only src/vm/ includes lua.h. */
#ifndef DS_VM_INTERNAL_H
#define DS_VM_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "vm/vm.h"

/* Allocation growth is charged as instructions, one per this many bytes:
 * C library code (concatenation, string.rep, buffers) does work
 * proportional to what it allocates, and no VM instruction pays for it. */
#define DS__VM_ALLOC_CHARGE_BYTES 32
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
 * machine), rounded up; see docs/parts/contracts.md. Protocol constants. */
#define DS__VM_CHARGE_ED25519 15000
#define DS__VM_ED25519_BYTE_DIV 2 /* the message goes through SHA-512 */
#define DS__VM_CHARGE_SHA256 50
#define DS__VM_SHA256_BYTE_DIV 4

/* One call's sandbox. The allocator's user data: every C function reaches
 * it through ds__vm_sb(L). */
struct ds__sb {
	const struct ds_vm_limits *lim;
	const struct ds_vm_host *host;
	size_t live_bytes;
	size_t peak_bytes;
	uint64_t vm_instr; /* whole hook steps */
	uint64_t charged;  /* allocation, host and library charges */
	bool metering;     /* charges and caps on the contract's behalf */
	bool closing;      /* after the call: no caps, frees only expected */
	bool sys_oom;      /* the system allocator failed: not deterministic */
	int host_err;      /* a host callback failed (negative DS_E*) */
	/* First sandbox-level failure wins and cannot be caught by pcall. */
	enum ds_vm_status fatal;
	const char *fatal_msg; /* static text, or fatal_buf */
	char fatal_buf[DS_VM_ERROR_MAX + 1];
	uint32_t writes;
	uint32_t events;
	uint8_t *scratch; /* value encoding area, value_bytes_max; malloc'd */
};

static inline struct ds__sb *ds__vm_sb(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

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
