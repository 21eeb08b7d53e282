/* exec_kv — the native key-value module: put/get/del under the sender's
 * namespace. State key = "kv/" || sender public key (32 raw bytes) || "/" ||
 * key; the stored value is the canonical value encoding from the args. */
#include <string.h>

#include "codec/codec.h"
#include "exec/exec.h"

/* Gas: a flat cost per call plus one unit per key and value byte touched. */
#define KV_GAS_BASE 100

static int arg_key(struct ds_exec_call *c, const struct ds_value *args, uint8_t *k, size_t *kl)
{
	struct ds_value key;
	if (ds_value_map_get(&key, args, "key", 3) != 0 ||
	    (key.kind != DS_VALUE_STR && key.kind != DS_VALUE_BYTES)) {
		c->fail(c, "kv: args need \"key\" (string or bytes)");
		return DS_EINVAL;
	}
	if (key.len == 0 || key.len > DS_EXEC_KV_KEY_MAX) {
		c->fail(c, "kv: key must be 1..%u bytes", DS_EXEC_KV_KEY_MAX);
		return DS_EINVAL;
	}
	memcpy(k, c->tx->sender, DS_PK_LEN);
	k[DS_PK_LEN] = '/';
	memcpy(k + DS_PK_LEN + 1, key.p, key.len);
	*kl = DS_PK_LEN + 1 + key.len;
	return 0;
}

static int emit_key(struct ds_exec_call *c, const char *name, const uint8_t *k, size_t kl)
{
	uint8_t ev[DS_EXEC_KV_KEY_MAX + 8];
	struct ds_enc e;
	ds_enc_init(&e, ev, sizeof(ev));
	ds_value_enc_bytes(&e, k + DS_PK_LEN + 1, kl - DS_PK_LEN - 1);
	size_t n;
	if (ds_enc_finish(&e, &n) != 0)
		return DS_EINVAL;
	return c->emit(c, name, ev, n);
}

static int kv_call(struct ds_exec_call *c)
{
	struct ds_value args;
	if (ds_value_parse(&args, c->tx->args, c->tx->args_len) != 0 || args.kind != DS_VALUE_MAP) {
		c->fail(c, "kv: args must be a map");
		return DS_EINVAL;
	}
	uint8_t k[DS_PK_LEN + 1 + DS_EXEC_KV_KEY_MAX];
	size_t kl;
	int rc = arg_key(c, &args, k, &kl);
	if (rc)
		return rc;
	c->gas_used += KV_GAS_BASE + kl;
	const char *m = c->tx->method;
	if (strcmp(m, "put") == 0) {
		struct ds_value v;
		if (ds_value_map_get(&v, &args, "value", 5) != 0) {
			c->fail(c, "kv: put needs \"value\"");
			return DS_EINVAL;
		}
		c->gas_used += v.enc_len;
		rc = c->put(c, k, kl, v.enc, v.enc_len);
		if (rc) {
			c->fail(c, "kv: put: %s", ds_strerror(rc));
			return rc;
		}
		return emit_key(c, "put", k, kl);
	}
	if (strcmp(m, "get") == 0) {
		const uint8_t *v;
		size_t vl;
		rc = c->get(c, k, kl, &v, &vl);
		if (rc == DS_ENOTFOUND) {
			static const uint8_t null_value = 0x00;
			return c->set_return(c, &null_value, 1);
		}
		if (rc) {
			c->fail(c, "kv: get: %s", ds_strerror(rc));
			return rc;
		}
		c->gas_used += vl;
		return c->set_return(c, v, vl);
	}
	if (strcmp(m, "del") == 0) {
		const uint8_t *v;
		size_t vl;
		rc = c->get(c, k, kl, &v, &vl);
		if (rc && rc != DS_ENOTFOUND) {
			c->fail(c, "kv: del: %s", ds_strerror(rc));
			return rc;
		}
		bool existed = rc == 0;
		if (existed) {
			rc = c->del(c, k, kl);
			if (rc) {
				c->fail(c, "kv: del: %s", ds_strerror(rc));
				return rc;
			}
			rc = emit_key(c, "del", k, kl);
			if (rc)
				return rc;
		}
		const uint8_t ret = existed ? 0x02 : 0x01; /* true / false */
		return c->set_return(c, &ret, 1);
	}
	c->fail(c, "kv: unknown method %s", m);
	return DS_EINVAL;
}

const struct ds_exec_module ds_exec_kv_module = {"kv", kv_call, 0};
