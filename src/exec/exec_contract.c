/* The Lua contract runner: module "contract", the executor's fallback for
 * any target without a native module. Loads the target contract's active
 * source from the registry and runs it in the vm with a host over the
 * contract's own key space (the executor's namespace for the call,
 * "contract/<name>/"). Rollback: the vm's writes go into
 * the executor's transaction overlay; a call whose vm status is not ok
 * returns an error, and the executor drops the overlay (writes and events). */
#include "exec/exec_sys.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "vm/vm.h"

#define KEY_MAX 384

/* Keys reach the executor contract-relative: it owns the namespace of a
 * contract call ("contract/<name>/", exec.h), so a contract can reach
 * nothing else. */
struct host_ctx {
	struct ds_exec_call *call;
};

/* Deterministic refusals (bad sizes, names, quotas) become DS_ELIMIT, which
 * fails the call with a receipt; only errors of this node (memory, disk,
 * corruption) abandon it. */
static int host_err(int rc)
{
	if (rc == 0 || rc == DS_ENOTFOUND || rc == DS_ENOMEM || rc == DS_EIO || rc == DS_ECORRUPT)
		return rc;
	return DS_ELIMIT;
}

static int h_get(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **val, size_t *val_len)
{
	struct host_ctx *h = ctx;
	return host_err(h->call->get(h->call, key, key_len, val, val_len));
}

static int h_put(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len)
{
	struct host_ctx *h = ctx;
	return host_err(h->call->put(h->call, key, key_len, val, val_len));
}

static int h_del(void *ctx, const uint8_t *key, size_t key_len)
{
	struct host_ctx *h = ctx;
	return host_err(h->call->del(h->call, key, key_len));
}

static int h_emit(void *ctx, const char *name, const uint8_t *val, size_t val_len)
{
	struct host_ctx *h = ctx;
	/* Event names on chain are [a-z0-9_.]; the vm also allows capitals. */
	if (!ds_ledger_name_valid(name))
		return DS_ELIMIT;
	return host_err(h->call->emit(h->call, name, val, val_len));
}

static bool vm_method_valid(const char *m)
{
	if (!m[0] || m[0] == '_' || strlen(m) > DS_VM_NAME_MAX)
		return false;
	for (const char *p = m; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

static int contract_call(struct ds_exec_call *call)
{
	const char *name = call->tx->target, *method = call->tx->method;
	char key[KEY_MAX];
	struct ds_value rec, src;
	int64_t active, ins_max;
	struct ds_vm_result res;
	memset(&res, 0, sizeof(res));
	snprintf(key, sizeof(key), "sys/contract/%s", name);
	int rc = ds__sys_read(call, key, &rec);
	if (rc == DS_ENOTFOUND) {
		call->fail(call, "no contract named %s", name);
		return rc;
	}
	if (rc == 0 && ds__sys_field_int(&rec, "active", &active) != 0)
		rc = DS_ECORRUPT;
	if (rc == 0) {
		snprintf(key, sizeof(key), "sys/code/%s/%lld", name, (long long)active);
		rc = ds__sys_read(call, key, &src);
		if (rc == 0 && src.kind != DS_VALUE_BYTES)
			rc = DS_ECORRUPT;
	}
	if (rc) {
		call->fail(call, "cannot load contract %s: %s", name, ds_strerror(rc));
		return rc;
	}
	if (!vm_method_valid(method)) {
		call->fail(call, "contract %s: bad method name %s", name, method);
		return DS_EINVAL;
	}
	struct ds__sys_caller caller;
	if ((rc = ds__sys_caller(call, call->tx->sender, &caller)) != 0 ||
	    (rc = ds_exec_sys_param(call, "vm.instructions_max", &ins_max)) != 0) {
		call->fail(call, "cannot read caller or parameters: %s", ds_strerror(rc));
		return rc;
	}
	struct host_ctx h = {call};
	struct ds_vm_host host = {
		.ctx = &h, .get = h_get, .put = h_put, .del = h_del, .emit = h_emit,
		.caller_account = caller.account, .caller_org = caller.org,
		.caller_roles = caller.nroles ? caller.role_ptrs : NULL,
		.caller_nroles = caller.nroles, .block_height = call->block->height,
		.block_time_ms = call->block->time_ms,
	};
	struct ds_vm_limits lim;
	ds_vm_limits_default(&lim);
	lim.instructions_max = (uint64_t)ins_max;
	rc = ds_vm_call(&res, &lim, &host, (const char *)src.p, src.len, name, method, call->tx->args,
			call->tx->args_len);
	if (rc == DS_EINVAL) {
		/* Bad method name: a property of the transaction, so a receipt. */
		call->fail(call, "contract %s: %s", name, ds_strerror(rc));
		goto fail;
	}
	if (rc) {
		/* Out of memory past the node-protection ceiling, a host or
		 * crypto failure: local to this node, never a receipt (vm.h). */
		ds_exec_call_abort(call, rc);
		goto fail;
	}
	call->gas_used += res.instructions;
	if (res.status != DS_VM_OK) {
		call->fail(call, "%s: %s", ds_vm_status_name(res.status), res.error);
		rc = DS_ECONTRACT;
		goto fail;
	}
	rc = call->set_return(call, res.ret.data, res.ret.len);
	if (rc)
		call->fail(call, "contract %s: return value refused: %s", name, ds_strerror(rc));
fail:
	ds_vm_result_free(&res);
	return rc;
}

/* Not a system module: a contract writes only its own namespace. */
const struct ds_exec_module ds_exec_contract_module = {"contract", contract_call, 0};

void ds_exec_sys_modules(struct ds_exec_module out[DS_EXEC_SYS_NMODULES])
{
	const struct ds_exec_module *all[DS_EXEC_SYS_NMODULES] = {
		&ds_exec_org_module, &ds_exec_account_module, &ds_exec_params_module,
		&ds_exec_validators_module, &ds_exec_registry_module, &ds_exec_gov_module,
		&ds_exec_contract_module,
	};
	for (size_t i = 0; i < DS_EXEC_SYS_NMODULES; i++)
		out[i] = *all[i];
}
