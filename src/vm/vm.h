/* vm — a deterministic, metered Lua 5.4 sandbox for contracts.
 *
 * One call = one fresh Lua state: the contract source is compiled, its main
 * chunk runs and must return a table of methods, then methods[method](args)
 * runs and its one return value is encoded. Nothing survives between calls
 * except what the contract wrote through the host, so the outcome of a call
 * depends only on (limits, host answers, source, method, args) and on the
 * Lua release: every node must run the same Lua 5.4 patch release
 * (instruction counts and object sizes are the engine's).
 *
 * Nothing in a result comes from what the allocator sees (except the
 * diagnostic memory_peak_bytes): stock Lua seeds its string hash from the
 * clock and addresses, so heap sizes and collection points differ between
 * processes. Memory is metered logically, by the objects a call creates at
 * points fixed by the program (docs/CONTRACTS.md, "Logical memory");
 * the live heap has a hard ceiling only as node protection, and passing it
 * yields DS_ENOMEM, never a receipt.
 *
 * Pure module: no I/O, no clock, no randomness. State, events, caller and
 * block come in through struct ds_vm_host.
 *
 * Rollback contract: the vm never undoes anything itself. Every put/del/emit
 * goes to the host, which must stage them in an overlay (write set + event
 * list) and apply the overlay only when ds_vm_call returns 0 with
 * result.status == DS_VM_OK. For any other status, and when ds_vm_call
 * returns an error, the host discards the overlay: a failed call changes
 * nothing but its receipt. get must see the call's own earlier writes.
 *
 * Determinism assumptions the host process must keep: LC_COLLATE and
 * LC_NUMERIC stay "C" (string comparison and number formatting use them;
 * ds_vm_call refuses to run otherwise), and x86-64/IEEE-754 doubles on every
 * node (floats never cross the boundary, but tostring of a float does). */
#ifndef DS_VM_H
#define DS_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* The count hook fires every DS_VM_HOOK_STEP VM instructions; a call's
 * instruction figure counts VM instructions in whole steps (plus charges,
 * see docs/CONTRACTS.md). Changing it changes receipts: protocol. */
#define DS_VM_HOOK_STEP 1000
#define DS_VM_ERROR_MAX 255       /* bytes of result.error (plus NUL) */
#define DS_VM_SRC_MAX (256u << 10) /* bytes of contract source */
#define DS_VM_NAME_MAX 64          /* method and event names */
#define DS_VM_KEY_MAX 256          /* bytes of a state key (contract-relative) */
#define DS_VM_ROLES_MAX 64         /* roles of one caller */

/* Per-call limits. Use ds_vm_limits_default and adjust; a chain parameter. */
struct ds_vm_limits {
	uint64_t instructions_max; /* default 10,000,000 */
	/* Logical memory: total bytes of objects created during the call
	 * (never refunded; see docs/CONTRACTS.md); default 16 MiB. The
	 * live heap is also held under a hard ceiling derived from this and
	 * instructions_max, as node protection (ds_vm_call: DS_ENOMEM). */
	size_t memory_bytes_max;
	size_t string_bytes_max;   /* longest Lua string; default 1 MiB */
	uint32_t call_depth_max;   /* Lua call frames; default 200 */
	size_t value_bytes_max;    /* one encoded put/emit/return value; default 64 KiB */
	uint32_t writes_max;       /* put+del calls per call; default 1024 */
	uint32_t events_max;       /* emit calls per call; default 256 */
};
void ds_vm_limits_default(struct ds_vm_limits *l);

/* What a call may ask its host. All callbacks are called synchronously from
 * inside ds_vm_call, never after it returns. Keys are contract-relative
 * (1..DS_VM_KEY_MAX bytes, any bytes): the host adds the contract's prefix.
 * Values are canonical value encodings (codec.h), already validated.
 *
 * Callback return values: 0 on success; get returns DS_ENOTFOUND for an
 * absent key; DS_ELIMIT refuses the operation deterministically (a host
 * quota) and fails the call with status DS_VM_LIMIT; any other negative code
 * is a host failure: the call is abandoned and ds_vm_call returns that code
 * (no receipt may be written from it). */
struct ds_vm_host {
	void *ctx; /* passed to every callback; may be NULL */
	/* *val borrows host memory valid until the next callback or the end of
	 * the call, whichever comes first. */
	int (*get)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **val,
		   size_t *val_len);
	int (*put)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *val,
		   size_t val_len); /* val copied by the host */
	int (*del)(void *ctx, const uint8_t *key, size_t key_len); /* absent key: 0 */
	/* name: 1..DS_VM_NAME_MAX of [A-Za-z0-9_.], NUL-terminated. */
	int (*emit)(void *ctx, const char *name, const uint8_t *val, size_t val_len);

	/* Caller and block, read-only, borrowed for the call. NUL-terminated
	 * UTF-8 strings; roles may be NULL when nroles == 0. */
	const char *caller_account; /* e.g. hex of the sender's public key */
	const char *caller_org;     /* "" when none */
	const char *const *caller_roles;
	size_t caller_nroles; /* <= DS_VM_ROLES_MAX */
	uint64_t block_height;
	uint64_t block_time_ms;
	/* Benchmarks only: no instruction hook; never for consensus. true
	 * leaves out the count hook, so nothing bounds a loop and the
	 * instruction figure is the charges alone (no VM instructions);
	 * everything else (charges, logical memory, limits) is unchanged.
	 * bench_vm compares calls with and without it to measure the hook's
	 * cost. Every node leaves it false. */
	bool no_meter;
};

enum ds_vm_status {
	DS_VM_OK = 0,
	DS_VM_ERROR = 1,          /* the contract raised an error or a runtime error */
	DS_VM_OUT_OF_INSTRUCTIONS = 2,
	DS_VM_OUT_OF_MEMORY = 3,  /* logical memory (memory_bytes_max), never the heap */
	DS_VM_LIMIT = 4,          /* string size, call depth, value size, writes, events */
	DS_VM_FORBIDDEN = 5,      /* a sandbox rule was broken (%p, __gc, binary chunk …) */
	DS_VM_BAD_CALL = 6,       /* syntax error, no methods table, no such method, bad args */
};
/* Stable lowercase name ("ok", "error", "out_of_instructions" …). */
const char *ds_vm_status_name(enum ds_vm_status s);

/* Outcome of one call. Everything in it is deterministic: identical on every
 * node for identical inputs. ret is owned by the result: ds_vm_result_free. */
struct ds_vm_result {
	enum ds_vm_status status;
	uint64_t instructions;            /* used; exactly instructions_max when out of them */
	char error[DS_VM_ERROR_MAX + 1];  /* "" when OK; valid UTF-8, no addresses */
	size_t error_len;
	struct ds_buf ret;                /* OK: one canonical value (null if none) */
	/* Logical memory: bytes of the objects the call created and paid for
	 * (see memory_bytes_max); deterministic, frozen at a failure. */
	uint64_t memory_bytes;
	/* DIAGNOSTIC ONLY, NOT DETERMINISTIC: the highest live Lua heap the
	 * allocator saw. It moves with Lua's per-process string-hash seed and
	 * the collector; never put it in a receipt, a hash or a decision. */
	uint64_t memory_peak_bytes;
};
void ds_vm_result_free(struct ds_vm_result *r);

/* Runs source[method](args). src: Lua 5.4 source text (binary chunks, and
 * sources using the vararg token '...' outside strings and comments, fail
 * with DS_VM_FORBIDDEN), <= DS_VM_SRC_MAX bytes. chunkname: shown in error
 * positions ("name:line: msg"), 1..DS_VM_NAME_MAX printable ASCII. method: 1..
 * DS_VM_NAME_MAX of [A-Za-z0-9_], not starting with '_'. args: one canonical
 * value, or args_len == 0 for none (the method then gets nil); may be NULL
 * when args_len == 0.
 *
 * Returns 0 when a deterministic outcome is in *res (any status: the call's
 * receipt), which the caller frees with ds_vm_result_free. Returns DS_EINVAL
 * for bad chunkname/method syntax or src too long, DS_ESTATE when the process
 * locale is not "C", DS_ECRYPTO when ds_crypto_init fails (it is called
 * here, for crypto.* in the sandbox), a host callback's error, or DS_ENOMEM
 * when the system allocator failed or the live Lua heap passed the hard
 * ceiling (4 x memory_bytes_max + 128 bytes x instructions_max). DS_ENOMEM
 * is a LOCAL resource failure, not the contract's outcome: it may happen on
 * one node and not another, so the caller must not write a receipt, skip
 * the transaction or go on with the block; an executor abandons the whole
 * block (no state applied) and stops or retries later. *res is then empty
 * (freeing it is harmless). */
int ds_vm_call(struct ds_vm_result *res, const struct ds_vm_limits *lim,
	       const struct ds_vm_host *host, const char *src, size_t src_len,
	       const char *chunkname, const char *method, const uint8_t *args,
	       size_t args_len) DS_MUST_USE;

#endif
