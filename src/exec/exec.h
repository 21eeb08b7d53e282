/* exec — deterministic execution of a block's transactions.
 *
 * Pure: state reads reach the executor through struct ds_exec_host; writes
 * are collected in overlays (one per transaction, merged into the block's on
 * success, dropped on failure) and returned as an ordered write set that the
 * chain layer applies to the state tree and the latest-values table.
 * Output depends only on the inputs: the same block on the same state gives
 * byte-identical receipts, writes and results root on every node.
 *
 * State keys are namespaced by module: "<module>/" followed by the module's
 * own key bytes (docs/PROTOCOL.md "State keys"). */
#ifndef DS_EXEC_H
#define DS_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "util/util.h"

/* What the executor needs from the node's committed state. */
struct ds_exec_host {
	void *ctx;
	/* Committed value of key at the parent version: 0 and *val, *len
	 * (valid until the block's execution ends), DS_ENOTFOUND if absent,
	 * another error aborts the whole block (I/O, corruption). */
	int (*get)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **val,
		   size_t *val_len);
	/* 1 if tx id was committed in an earlier block, 0 if not, < 0 error. */
	int (*tx_seen)(void *ctx, const uint8_t id[DS_HASH_LEN]);
};

struct ds_exec_block_info {
	const char *chain_id;
	uint64_t height;
	uint64_t time_ms;
	uint64_t max_tx_lifetime;
	/* The block header's validator-set epoch. Last, so positional
	 * initialisers of the fields above still compile (epoch 0). When it
	 * equals the epoch of a pending validator change (sys/valset/next),
	 * ds_exec_block promotes that change before the transactions. */
	uint64_t epoch;
};

/* One call into a module: everything a module may touch. */
struct ds_exec_call {
	const struct ds_exec_block_info *block;
	const struct ds_tx *tx;           /* sender, target, method, args */
	const uint8_t *tx_id;
	uint32_t tx_index;
	/* State within the calling module's namespace (the prefix is added by
	 * the executor). get returns DS_ENOTFOUND when absent. */
	int (*get)(struct ds_exec_call *call, const uint8_t *key, size_t key_len,
		   const uint8_t **val, size_t *val_len);
	int (*put)(struct ds_exec_call *call, const uint8_t *key, size_t key_len,
		   const uint8_t *val, size_t val_len);
	int (*del)(struct ds_exec_call *call, const uint8_t *key, size_t key_len);
	/* Reads another module's namespace (read-only; full key incl. prefix). */
	int (*get_global)(struct ds_exec_call *call, const uint8_t *key, size_t key_len,
			  const uint8_t **val, size_t *val_len);
	/* Writes into another module's namespace: system modules only. */
	int (*put_global)(struct ds_exec_call *call, const uint8_t *key, size_t key_len,
			  const uint8_t *val, size_t val_len);
	int (*del_global)(struct ds_exec_call *call, const uint8_t *key, size_t key_len);
	int (*emit)(struct ds_exec_call *call, const char *name, const uint8_t *val, size_t val_len);
	/* Sets the return value (canonical value encoding, copied). */
	int (*set_return)(struct ds_exec_call *call, const uint8_t *val, size_t val_len);
	/* Records the failure text (the call must then return an error). */
	void (*fail)(struct ds_exec_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	uint64_t gas_used; /* modules add what they metered */
	void *exec;        /* executor internals */
};

/* A module: native (kv, system modules) or the contract runner. call()
 * returns 0 on success, an error (after call->fail) to fail the tx. */
struct ds_exec_module {
	const char *name;
	int (*call)(struct ds_exec_call *call);
	unsigned flags; /* DS_EXEC_MOD_*; 0 for an ordinary module */
};
/* A system module may use put_global/del_global (write other namespaces). */
#define DS_EXEC_MOD_SYSTEM 1u

/* Limits enforced on every call (a breach fails the tx with DS_ELIMIT or
 * DS_EINVAL, never the block). */
#define DS_EXEC_KEY_MAX 448              /* bytes of a full state key (prefix included) */
#define DS_EXEC_VALUE_MAX (1u << 20)     /* bytes of one state value */
#define DS_EXEC_TX_WRITES_MAX 16384      /* distinct keys one tx may write */
#define DS_EXEC_BLOCK_BYTES_MAX (512u << 20) /* key+value bytes a block may write */
#define DS_EXEC_KV_KEY_MAX 256           /* bytes of a kv module key */

/* A module calls this (then returns the error) when a call failed for a
 * reason local to this node — out of memory, a library that would not
 * initialise — rather than because of the transaction: such an outcome is
 * not deterministic, so it must not become a receipt. The whole block's
 * execution then fails with err (ds_exec_block returns it) and nothing is
 * applied; the node stops or retries rather than diverging. */
void ds_exec_call_abort(struct ds_exec_call *call, int err);

/* A write produced by a block (val NULL: delete). Keys sorted, unique. */
struct ds_exec_write {
	uint8_t *key;
	size_t key_len;
	uint8_t *val;
	size_t val_len;
};

struct ds_exec_result {
	size_t nwrites;
	struct ds_exec_write *writes;  /* owned */
	size_t nreceipts;
	struct ds_buf *receipts;       /* owned; receipt encodings in tx order */
	uint8_t results_root[DS_HASH_LEN];
	uint64_t gas_total;
	/* Per tx, in block order (nreceipts entries, owned): its id, and
	 * whether it passed the checks (chain id, expiry, replay, signature) so
	 * its id is now spent. A tx refused by a check still has a receipt but
	 * does not spend its id (a forged copy cannot censor the real one). */
	uint8_t (*tx_ids)[DS_HASH_LEN];
	bool *accepted;
};
void ds_exec_result_free(struct ds_exec_result *r);

/* Registers the modules the executor dispatches to (by tx target). A target
 * with no native module goes to the module named "contract" if registered
 * (the Lua contract runner). The array is borrowed for the executor's life. */
struct ds_exec;
int ds_exec_new(struct ds_exec **out, const struct ds_exec_module *mods, size_t nmods) DS_MUST_USE;
void ds_exec_free(struct ds_exec *e);

/* Optional policy hook run before every dispatch (system modules' role-based
 * permissions): returns 0 to allow, or an error after call->fail(...) to
 * fail the transaction with a clear receipt. */
void ds_exec_set_authorizer(struct ds_exec *e, int (*authorize)(struct ds_exec_call *call));

/* Executes block txs (encoded txs as in a block) in order. preverified may be
 * NULL. Before the first transaction, block-level writes are made: when
 * sys/valset/next holds a pending validator change whose epoch equals
 * info->epoch, sys/valset becomes {epoch, validators} of that record and
 * sys/valset/next is deleted (docs/PROTOCOL.md "Validator changes and
 * epochs"); those writes are part of out->writes like any transaction's.
 * Returns 0 with *out filled (caller frees), or an error when the host
 * failed or that record is corrupt (DS_ECORRUPT) (never for a failing
 * transaction: that is a receipt). */
int ds_exec_block(struct ds_exec *e, struct ds_exec_result *out, const struct ds_exec_host *host,
		  const struct ds_exec_block_info *info, const struct ds_block *block,
		  const bool *preverified) DS_MUST_USE;

/* The native kv module: put {key, value}, get {key}, del {key} under the
 * sender's namespace. */
extern const struct ds_exec_module ds_exec_kv_module;

#endif
