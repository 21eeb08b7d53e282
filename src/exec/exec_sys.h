/* exec_sys — the native system modules (organisations, accounts, chain
 * parameters, validator set, contract registry, governance), the role-based
 * authorizer, the Lua contract runner, genesis state, and a small in-memory
 * executor used by unit tests and `danshari contract test`.
 *
 * State (docs/PROTOCOL.md has every record field by field). All
 * records are canonical values (codec.h); keys are full state keys:
 *   sys/orgs                   array of org ids (sorted)
 *   sys/org/<id>               {id, name, roles, height}
 *   sys/account/<pk hex>       {org, roles, height}
 *   sys/params                 {name: int, ...}
 *   sys/valset                 {epoch, validators: [{pk, addr, org}]}
 *   sys/valset/next            {epoch, height, validators}  (pending change:
 *                              epoch E+1, height = the block that created it)
 *   sys/contract/<name>        {name, active, versions: [...]}
 *   sys/code/<name>/<version>  bytes: the Lua source of that version
 *   sys/gov/next               int: next proposal id
 *   sys/gov/p/<id, 20 digits>  the proposal with its votes and history
 *   contract/<name>/<key>      a contract's own key space (the executor's
 *                              namespace for contract calls)
 * System modules read and write with get_global/put_global/del_global, so
 * they are flagged DS_EXEC_MOD_SYSTEM; the contract runner is not (it uses
 * the namespaced get/put/del). */
#ifndef DS_EXEC_SYS_H
#define DS_EXEC_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"
#include "codec/codec.h"
#include "exec/exec.h"
#include "util/util.h"

#define DS_SYS_ORGS_MAX 128          /* organisations in a consortium */
#define DS_SYS_ORG_ID_MAX 64         /* bytes of an org id: a DS_NAME (a-z0-9_.) */
#define DS_SYS_ORG_NAME_MAX 128      /* bytes of an org's display name (UTF-8) */
#define DS_SYS_ROLE_MAX 64           /* bytes of a role name: [a-z0-9_.:-] */
#define DS_SYS_ROLES_MAX 64          /* roles of one account or one org */
#define DS_SYS_ADMINS_MAX 16         /* admin keys given when an org is added */
#define DS_SYS_VERSIONS_MAX 256      /* versions kept per contract */
#define DS_SYS_ADDR_MAX 256          /* bytes of a validator's p2p address */
#define DS_SYS_CONTRACT_ROLES_MAX 64 /* entries of a contract's {method: role} map */

/* Roles with a meaning to the system modules. */
#define DS_ROLE_ADMIN "admin"             /* org admin: accounts, proposals, votes */
#define DS_ROLE_WRITER "writer"           /* kv module (unless param kv.open = 1) */
#define DS_ROLE_CONTRACT_CALL "contract.call" /* default for contract methods */

/* Native modules (borrowed static objects). Node: register these plus
 * ds_exec_kv_module with ds_exec_new, and ds_exec_sys_authorize with
 * ds_exec_set_authorizer. ds_exec_contract_module is the fallback "contract". */
extern const struct ds_exec_module ds_exec_org_module;        /* "org": get */
extern const struct ds_exec_module ds_exec_account_module;    /* "account": add remove set_roles get */
extern const struct ds_exec_module ds_exec_params_module;     /* "params": get */
extern const struct ds_exec_module ds_exec_validators_module; /* "validators": get */
extern const struct ds_exec_module ds_exec_registry_module;   /* "registry": get (contracts) */
extern const struct ds_exec_module ds_exec_gov_module;        /* "gov": propose vote expire get */
extern const struct ds_exec_module ds_exec_contract_module;   /* "contract": the Lua runner */
/* Copies all of the above into out (kv is not included: append
 * ds_exec_kv_module). The array must outlive the executor. */
#define DS_EXEC_SYS_NMODULES 7
void ds_exec_sys_modules(struct ds_exec_module out[DS_EXEC_SYS_NMODULES]);

/* The authorizer: 0 to allow, or DS_EDENIED after call->fail("account X lacks
 * role Y for Z") (or another error for an unreadable record). Rules:
 *   kv.*                       role writer, or anyone with an account when kv.open = 1
 *   account.add/remove/set_roles, gov.propose/vote/expire: role admin
 *   org/params/validators/registry/gov .get: any account
 *   contract <name>.<method>   the role its deploy declared for the method
 *                              (or for "*"), else contract.call; a declared
 *                              role "" lets any sender call (even without an
 *                              account)
 *   any other target           an account in an existing organisation
 * A sender "has an account" when sys/account/<pk> exists and its org exists. */
int ds_exec_sys_authorize(struct ds_exec_call *call) DS_MUST_USE;

/* For other native modules (e.g. credit): 1 if the call's sender holds role
 * in an existing organisation, 0 if not, < 0 on a state read error. */
int ds_exec_sys_has_role(struct ds_exec_call *call, const char *role) DS_MUST_USE;
/* 0 if the sender holds role, else DS_EDENIED after call->fail("account X
 * lacks role Y for what"). */
int ds_exec_sys_require_role(struct ds_exec_call *call, const char *role, const char *what) DS_MUST_USE;

/* Chain parameters (sys/params), with their defaults and allowed ranges:
 *   gov.threshold_num 2, gov.threshold_den 3  (passes when for*den > orgs*num;
 *                                              1 <= num < den <= 100, 2num >= den)
 *   gov.lifetime      10000 blocks  (1..10^7)  proposal expiry
 *   kv.open           0             (0..1)
 *   vm.instructions_max 10000000    (1000..10^9)
 * Returns 0 and *out (the stored value or the default), DS_ENOTFOUND for an
 * unknown name, or a state read error. */
int ds_exec_sys_param(struct ds_exec_call *call, const char *name, int64_t *out) DS_MUST_USE;

/* ---- Validator-set epochs ---------------------------------------------
 * A passed add_validator/remove_validator creates the pending record
 * sys/valset/next = {epoch: E+1, height: h, validators} from sys/valset
 * (epoch E), h being the height of the executing block; while it exists,
 * further validator changes are refused (DS_ESTATE). ds_exec_block promotes
 * it (sys/valset := {epoch, validators}, sys/valset/next deleted) before the
 * transactions of the first block whose header epoch equals its epoch.
 *
 * The key is the raw state key: the executor's keys are full keys (module
 * prefix included, no further prefix), and the chain stores them as they
 * are in its latest-values table and state tree, so
 * ds_chain_state_value(c, DS_EXEC_SYS_VALSET_NEXT_KEY, strlen(...)) reads
 * the record as of the latest executed block. */
#define DS_EXEC_SYS_VALSET_NEXT_KEY "sys/valset/next"
/* Parses a stored sys/valset/next value (borrowed; len bytes): out->epoch =
 * the record's epoch (>= 1), out->n its validator count (1..
 * DS_VALIDATORS_MAX), out->v[i].pk in record order with power 1, *since =
 * its height. Returns 0, DS_ECORRUPT on anything malformed (not one
 * canonical value, other fields or types, a key not 32 bytes, a key listed
 * twice, no or too many validators), or DS_ENOMEM. On error *out is empty. */
int ds_exec_sys_valset_next(const uint8_t *val, size_t len, struct ds_valset *out,
			    uint64_t *since) DS_MUST_USE;

/* ---- Genesis --------------------------------------------------------- */
struct ds_exec_sys_org {
	const char *id;                     /* DS_NAME, e.g. "bank1" */
	const char *name;                   /* display name, UTF-8 */
	const uint8_t (*admins)[DS_PK_LEN]; /* accounts created with role admin */
	size_t nadmins;                     /* 1..DS_SYS_ADMINS_MAX */
	const char *const *roles;           /* roles the org may grant (admin implied) */
	size_t nroles;
};
struct ds_exec_sys_account {
	uint8_t pk[DS_PK_LEN];
	const char *org;
	const char *const *roles; /* each must be held by the org (or admin) */
	size_t nroles;
};
struct ds_exec_sys_validator {
	uint8_t pk[DS_PK_LEN];
	const char *addr; /* "host:port" */
	const char *org;
};
struct ds_exec_sys_param_set {
	const char *name;
	int64_t value;
};
struct ds_exec_sys_contract {
	const char *name;       /* DS_NAME, not a native module's name */
	const char *org;        /* deployer org */
	const uint8_t *src;     /* Lua source, <= DS_VM_SRC_MAX */
	size_t src_len;
	const uint8_t *roles;   /* canonical MAP {method: role} or NULL */
	size_t roles_len;
};
struct ds_exec_sys_genesis {
	const struct ds_exec_sys_org *orgs;
	size_t norgs;
	const struct ds_exec_sys_account *accounts;
	size_t naccounts;
	const struct ds_exec_sys_validator *validators;
	size_t nvalidators;
	const struct ds_exec_sys_param_set *params;
	size_t nparams;
	const struct ds_exec_sys_contract *contracts;
	size_t ncontracts;
};
/* Genesis writes, sorted by key; kv[i].key/val point into memory owned by
 * this struct (ds_exec_sys_genesis_free). */
struct ds_exec_sys_genesis_state {
	size_t n;
	struct ds_kv *kv;
};
/* Builds the initial state of the system modules. Every input is validated
 * like the matching governance action (names, duplicates, roles held by the
 * org, params in range, source size). Returns 0 with *out filled, or
 * DS_EINVAL/DS_EEXIST/DS_ENOTFOUND/DS_ERANGE/DS_ENOMEM with a one-line
 * reason in err (err_cap bytes, may be 0). */
int ds_exec_sys_genesis_state(struct ds_exec_sys_genesis_state *out, const struct ds_exec_sys_genesis *g,
			      char *err, size_t err_cap) DS_MUST_USE;
void ds_exec_sys_genesis_free(struct ds_exec_sys_genesis_state *s);

/* ---- In-memory executor (tests, `danshari contract test`) -------------
 * A committed key/value map plus one transaction overlay. run() executes one
 * transaction as the real executor does: authorizer (when set), dispatch to
 * the module named by tx->target or to "contract", apply the overlay on
 * success, drop it on failure. No signatures, no replay checks. */
struct ds_exec_sys_mem;
int ds_exec_sys_mem_new(struct ds_exec_sys_mem **out) DS_MUST_USE;
void ds_exec_sys_mem_free(struct ds_exec_sys_mem *m);
/* Committed writes (key and val copied). val NULL: delete. */
int ds_exec_sys_mem_put(struct ds_exec_sys_mem *m, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len) DS_MUST_USE;
/* Committed value: 0 and *val (valid until the next put/run), DS_ENOTFOUND. */
int ds_exec_sys_mem_get(struct ds_exec_sys_mem *m, const uint8_t *key, size_t key_len,
			const uint8_t **val, size_t *val_len) DS_MUST_USE;

struct ds_exec_sys_mem_event {
	char name[DS_NAME_MAX + 1];
	struct ds_buf value;
};
/* Outcome of one run; free with ds_exec_sys_mem_receipt_free. */
struct ds_exec_sys_mem_receipt {
	bool ok;
	int rc; /* the module's or authorizer's return code */
	char error[DS_RECEIPT_ERROR_MAX + 1];
	uint64_t gas_used;
	size_t nevents;
	struct ds_exec_sys_mem_event events[DS_RECEIPT_EVENTS_MAX];
	struct ds_buf ret; /* canonical value (null when none was set) */
};
void ds_exec_sys_mem_receipt_free(struct ds_exec_sys_mem_receipt *r);
/* Runs tx (borrowed) in block blk. authorize may be NULL. Returns 0 with *r
 * filled (ok or not: that is the receipt), or DS_ENOMEM. */
int ds_exec_sys_mem_run(struct ds_exec_sys_mem *m, struct ds_exec_sys_mem_receipt *r,
			const struct ds_exec_module *mods, size_t nmods,
			int (*authorize)(struct ds_exec_call *call),
			const struct ds_exec_block_info *blk, const struct ds_tx *tx) DS_MUST_USE;
/* Loads a genesis state (from ds_exec_sys_genesis_state) as committed. */
int ds_exec_sys_mem_load(struct ds_exec_sys_mem *m, const struct ds_exec_sys_genesis_state *g) DS_MUST_USE;

/* Contract test runner (`danshari contract test`): deploys src as contract
 * `name` in a fresh in-memory ledger (one org "test" holding contract.call
 * and roles; the caller account holds them all) and runs every function
 * named test_* (globals, or entries of the returned methods table) as its
 * own transaction, in name order, each in a new block. A failed test's
 * writes are rolled back. report (borrowed r) is called once per test.
 * Returns 0 with the counts, or an error with a reason in err: the source
 * does not load (DS_EINVAL), no test_* function (DS_ENOTFOUND), too big,
 * out of memory. */
int ds_exec_sys_contract_test(const char *name, const uint8_t *src, size_t src_len,
			      const char *const *roles, size_t nroles,
			      void (*report)(void *arg, const char *test,
					     const struct ds_exec_sys_mem_receipt *r),
			      void *arg, size_t *passed, size_t *failed, char *err,
			      size_t err_cap) DS_MUST_USE;

/* ---- Internal (exec_sys_*.c only) ------------------------------------- */
/* Record helpers: read a full key into a canonical value that borrows state
 * memory (valid until the next write). */
int ds__sys_read(struct ds_exec_call *call, const char *key, struct ds_value *out) DS_MUST_USE;
/* Encodes with build(e, arg) twice (measure, write) and put_global's it. */
int ds__sys_write(struct ds_exec_call *call, const char *key,
		  void (*build)(struct ds_enc *e, const void *arg), const void *arg) DS_MUST_USE;
/* Argument helpers: each fails the call with "bad argument <key>: ..." and
 * returns DS_EINVAL when the field is missing or of the wrong kind. */
struct ds__sys_roles {
	size_t n;
	char r[DS_SYS_ROLES_MAX][DS_SYS_ROLE_MAX + 1];
};
int ds__sys_args(struct ds_exec_call *call, struct ds_value *map) DS_MUST_USE;
int ds__sys_arg_str(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		    char *out, size_t cap) DS_MUST_USE;
int ds__sys_arg_int(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		    int64_t *out) DS_MUST_USE;
/* A public key: 32 bytes, or a string of 64 hex digits. */
int ds__sys_arg_pk(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		   uint8_t pk[DS_PK_LEN]) DS_MUST_USE;
/* An array of role names: validated, sorted, duplicates refused. Absent: 0 roles. */
int ds__sys_arg_roles(struct ds_exec_call *call, const struct ds_value *map, const char *key,
		      struct ds__sys_roles *out) DS_MUST_USE;
/* Same checks on a value, with the reason in why (no call). */
int ds__sys_roles_parse(struct ds__sys_roles *out, const struct ds_value *arr, char *why,
			size_t why_cap) DS_MUST_USE;
void ds__sys_enc_roles(struct ds_enc *e, const struct ds__sys_roles *r);
bool ds__sys_roles_has(const struct ds__sys_roles *r, const char *role);
/* Copies a STR value into out (cap incl. NUL); DS_EINVAL if not a string or too long. */
int ds__sys_str(const struct ds_value *v, char *out, size_t cap) DS_MUST_USE;
/* Looks up a string field of a record map (DS_ENOTFOUND/DS_EINVAL). */
int ds__sys_field_str(const struct ds_value *map, const char *key, char *out, size_t cap) DS_MUST_USE;
int ds__sys_field_int(const struct ds_value *map, const char *key, int64_t *out) DS_MUST_USE;
/* Parameter change (apply false: only check). */
int ds__sys_param_set(struct ds_exec_call *call, const char *name, int64_t value, bool apply,
		      char *why, size_t why_cap) DS_MUST_USE;
/* 0 if org exists and may grant every role (admin always). */
int ds__sys_org_grants(struct ds_exec_call *call, const char *org, const struct ds__sys_roles *roles,
		       char *why, size_t why_cap) DS_MUST_USE;
/* Block-level promotion (called by ds_exec_block before the transactions,
 * with a system-privileged call whose tx is NULL): when sys/valset/next
 * exists and its epoch equals epoch, writes sys/valset from it and deletes
 * it. Returns 0 (done or nothing to do), DS_ECORRUPT for a malformed record
 * or one that does not follow sys/valset's epoch, or a state error. */
int ds__sys_valset_promote(struct ds_exec_call *call, uint64_t epoch) DS_MUST_USE;
/* Genesis validator set (epoch 0, written as sys/valset). */
int ds__sys_valset_genesis(struct ds_exec_call *call, const struct ds_exec_sys_validator *vs, size_t n,
			   char *why, size_t why_cap) DS_MUST_USE;
int ds__sys_account_write(struct ds_exec_call *call, const uint8_t pk[DS_PK_LEN], const char *org,
			  const struct ds__sys_roles *roles, int64_t height) DS_MUST_USE;
bool ds__sys_role_valid(const uint8_t *s, size_t n);
bool ds__sys_is_native(const char *target);
/* Caller identity: org ("" when none) and roles (up to DS_SYS_ROLES_MAX,
 * NUL-terminated copies in role_buf). Returns 0 (no account: *norg "" and 0
 * roles) or a read error. */
struct ds__sys_caller {
	char account[2 * DS_PK_LEN + 1];
	char org[DS_SYS_ORG_ID_MAX + 1];
	size_t nroles;
	char roles[DS_SYS_ROLES_MAX][DS_SYS_ROLE_MAX + 1];
	const char *role_ptrs[DS_SYS_ROLES_MAX];
};
int ds__sys_caller(struct ds_exec_call *call, const uint8_t pk[DS_PK_LEN], struct ds__sys_caller *out) DS_MUST_USE;
/* Governance actions, validated (check) and applied (apply). payload is the
 * proposal's payload map, org the proposing (deploying) org. A refusal
 * returns an error with its reason in why; apply checks before it writes,
 * so a refused action writes nothing. */
int ds__sys_gov_check(struct ds_exec_call *call, const char *kind, const struct ds_value *payload,
		      char *why, size_t why_cap) DS_MUST_USE;
int ds__sys_gov_apply(struct ds_exec_call *call, const char *kind, const struct ds_value *payload,
		      uint64_t proposal_id, const char *org, char *why, size_t why_cap) DS_MUST_USE;
/* Sets up a call over the mem state for genesis-style direct writes. */
void ds__sys_mem_call(struct ds_exec_sys_mem *m, struct ds_exec_call *call,
		      const struct ds_exec_block_info *blk, const struct ds_tx *tx);
int ds__sys_mem_commit(struct ds_exec_sys_mem *m) DS_MUST_USE;
void ds__sys_mem_discard(struct ds_exec_sys_mem *m);

#endif
