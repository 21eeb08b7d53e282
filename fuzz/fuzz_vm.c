/* libFuzzer: the contract sandbox on hostile source. Input: a method name
 * line, then Lua source. Small limits keep each run short. The call must
 * never crash, must give a well-formed result, and must be deterministic:
 * a second run gives the same status, instruction count, error text and
 * return bytes, and the same host calls. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZV_KEYS_MAX 16
#define FZV_VAL_MAX 256

/* A tiny host store: enough to let put/get/del round trip. */
struct fzv_host {
	size_t n;
	uint8_t key[FZV_KEYS_MAX][DS_VM_KEY_MAX];
	size_t key_len[FZV_KEYS_MAX];
	uint8_t val[FZV_KEYS_MAX][FZV_VAL_MAX];
	size_t val_len[FZV_KEYS_MAX];
	uint32_t events;
	uint64_t digest; /* of every host call, in order */
};

static void fzv_mix(struct fzv_host *h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h->digest = (h->digest ^ p[i]) * 0x100000001b3ull;
	h->digest = (h->digest ^ n) * 0x100000001b3ull;
}

static int fzv_find(struct fzv_host *h, const uint8_t *k, size_t kn)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->key_len[i] == kn && memcmp(h->key[i], k, kn) == 0)
			return (int)i;
	return -1;
}

static int fzv_get(void *ctx, const uint8_t *k, size_t kn, const uint8_t **v, size_t *vn)
{
	struct fzv_host *h = ctx;
	if (kn == 0 || kn > DS_VM_KEY_MAX)
		abort(); /* the vm promised 1..DS_VM_KEY_MAX */
	fzv_mix(h, k, kn);
	int i = fzv_find(h, k, kn);
	if (i < 0)
		return DS_ENOTFOUND;
	*v = h->val[i];
	*vn = h->val_len[i];
	return 0;
}

static int fzv_put(void *ctx, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
	struct fzv_host *h = ctx;
	if (kn == 0 || kn > DS_VM_KEY_MAX || ds_value_check(v, vn) != 0)
		abort(); /* keys in range, values already canonical */
	fzv_mix(h, k, kn);
	fzv_mix(h, v, vn);
	if (vn > FZV_VAL_MAX)
		return DS_ELIMIT;
	int i = fzv_find(h, k, kn);
	if (i < 0) {
		if (h->n == FZV_KEYS_MAX)
			return DS_ELIMIT;
		i = (int)h->n++;
		memcpy(h->key[i], k, kn);
		h->key_len[i] = kn;
	}
	memcpy(h->val[i], v, vn);
	h->val_len[i] = vn;
	return 0;
}

static int fzv_del(void *ctx, const uint8_t *k, size_t kn)
{
	struct fzv_host *h = ctx;
	if (kn == 0 || kn > DS_VM_KEY_MAX)
		abort();
	fzv_mix(h, k, kn);
	int i = fzv_find(h, k, kn);
	if (i >= 0) {
		h->n--;
		memmove(h->key[i], h->key[h->n], sizeof(h->key[0]));
		h->key_len[i] = h->key_len[h->n];
		memmove(h->val[i], h->val[h->n], sizeof(h->val[0]));
		h->val_len[i] = h->val_len[h->n];
	}
	return 0;
}

static int fzv_emit(void *ctx, const char *name, const uint8_t *v, size_t vn)
{
	struct fzv_host *h = ctx;
	size_t nl = strlen(name);
	if (nl == 0 || nl > DS_VM_NAME_MAX || ds_value_check(v, vn) != 0)
		abort();
	fzv_mix(h, (const uint8_t *)name, nl);
	fzv_mix(h, v, vn);
	h->events++;
	return 0;
}

static int fzv_run(struct ds_vm_result *res, struct fzv_host *h, const char *method,
		   const char *src, size_t src_len)
{
	static const char *const roles[] = {"admin", "issuer"};
	struct ds_vm_limits lim;
	ds_vm_limits_default(&lim);
	lim.instructions_max = 200000;
	lim.memory_bytes_max = 4u << 20;
	lim.string_bytes_max = 64u << 10;
	lim.call_depth_max = 64;
	lim.value_bytes_max = 4096;
	lim.writes_max = 64;
	lim.events_max = 16;
	struct ds_vm_host host = {
		.ctx = h, .get = fzv_get, .put = fzv_put, .del = fzv_del, .emit = fzv_emit,
		.caller_account = "00ff", .caller_org = "fuzz-org", .caller_roles = roles,
		.caller_nroles = 2, .block_height = 7, .block_time_ms = 1700000000000ull,
	};
	memset(h, 0, sizeof(*h));
	return ds_vm_call(res, &lim, &host, src, src_len, "fuzz", method, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > DS_VM_SRC_MAX + DS_VM_NAME_MAX + 1)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size < DS_VM_NAME_MAX + 1 ? size : DS_VM_NAME_MAX + 1);
	char method[DS_VM_NAME_MAX + 2];
	size_t mlen = nl ? (size_t)(nl - data) : 0;
	memcpy(method, data, mlen);
	method[mlen] = 0;
	if (!nl || strlen(method) != mlen)
		return 0;
	const char *src = (const char *)nl + 1;
	size_t src_len = size - mlen - 1;

	static struct fzv_host h1, h2;
	struct ds_vm_result r1, r2;
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	int rc1 = fzv_run(&r1, &h1, method, src, src_len);
	int rc2 = fzv_run(&r2, &h2, method, src, src_len);
	/* DS_ENOMEM is the node-protection ceiling on the live heap (vm.h):
	 * not a receipt, and not deterministic by design, so a run that hit it
	 * is not compared with the other. */
	if (rc1 == DS_ENOMEM || rc2 == DS_ENOMEM) {
		ds_vm_result_free(&r1);
		ds_vm_result_free(&r2);
		return 0;
	}
	if (rc1 != rc2 || (rc1 != 0 && rc1 != DS_EINVAL))
		abort();
	if (rc1 == 0) {
		if (r1.status > DS_VM_BAD_CALL || r1.instructions > 200000 ||
		    r1.error_len != strlen(r1.error) || r1.error_len > DS_VM_ERROR_MAX ||
		    (r1.status == DS_VM_OK && r1.error_len != 0) ||
		    (r1.status == DS_VM_OK && ds_value_check(r1.ret.data, r1.ret.len) != 0))
			abort();
		/* Every receipt field must agree, out_of_memory included (the
		 * logical memory meter is deterministic); memory_peak_bytes is a
		 * diagnostic of the allocator and is left out (vm.h). */
		if ((r1.status != r2.status || r1.instructions != r2.instructions ||
		    r1.memory_bytes != r2.memory_bytes ||
		    strcmp(r1.error, r2.error) != 0 || r1.ret.len != r2.ret.len ||
		    (r1.ret.len && memcmp(r1.ret.data, r2.ret.data, r1.ret.len) != 0) ||
		    h1.digest != h2.digest || h1.events != h2.events)) {
			fprintf(stderr, "fuzz_vm: two runs differ: status %d/%d instr %llu/%llu "
				"peak %llu/%llu error \"%s\"/\"%s\"\n", (int)r1.status, (int)r2.status,
				(unsigned long long)r1.instructions, (unsigned long long)r2.instructions,
				(unsigned long long)r1.memory_peak_bytes,
				(unsigned long long)r2.memory_peak_bytes, r1.error, r2.error);
			abort();
		}
	}
	ds_vm_result_free(&r1);
	ds_vm_result_free(&r2);
	return 0;
}
