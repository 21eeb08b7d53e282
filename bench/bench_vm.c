/* vm benchmark: key-value contract calls per second on one core (fresh
 * sandbox per call, as on a node), the cost of instruction metering, and
 * the time per charged instruction of crypto.ed25519_verify next to that of
 * interpreted code (the basis of its charge, docs/CONTRACTS.md).
 * Figures are medians of 5 runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "util/util.h"
#include "vm/vm.h"

/* A one-slot host: enough for a kv contract, no allocation in the loop. */
struct slot {
	uint8_t val[256];
	size_t len;
	bool set;
};

static int h_get(void *ctx, const uint8_t *k, size_t kn, const uint8_t **v, size_t *vn)
{
	struct slot *s = ctx;
	(void)k;
	(void)kn;
	if (!s->set)
		return DS_ENOTFOUND;
	*v = s->val;
	*vn = s->len;
	return 0;
}

static int h_put(void *ctx, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
	struct slot *s = ctx;
	(void)k;
	(void)kn;
	if (vn > sizeof(s->val))
		return DS_ELIMIT;
	memcpy(s->val, v, vn);
	s->len = vn;
	s->set = true;
	return 0;
}

static int h_del(void *ctx, const uint8_t *k, size_t kn)
{
	(void)k;
	(void)kn;
	((struct slot *)ctx)->set = false;
	return 0;
}

static int h_emit(void *ctx, const char *name, const uint8_t *v, size_t vn)
{
	(void)ctx;
	(void)name;
	(void)v;
	(void)vn;
	return 0;
}

static const char kv_src[] =
	"local M = {}\n"
	"function M.set(a)\n"
	"  local old = state.get(a.k)\n"
	"  state.put(a.k, {v = a.v, n = (old and old.n or 0) + 1})\n"
	"  emit('set', a.k)\n"
	"  return true\n"
	"end\n"
	"function M.get(a) return state.get(a.k) end\n"
	"return M\n";

static const char loop_src[] =
	"return {run = function(n)\n"
	"  local t, s = {}, 0\n"
	"  for i = 1, n do t[i % 64 + 1] = i; s = s + (t[(i * 7) % 64 + 1] or 0) end\n"
	"  local str = ''\n"
	"  for i = 1, n // 100 do str = str .. 'x' if #str > 50 then str = '' end end\n"
	"  return s\n"
	"end}\n";

static const char verify_src[] =
	"return {run = function(a)\n"
	"  local n = 0\n"
	"  for i = 1, 50 do if crypto.ed25519_verify(a[1], a[2], a[3]) then n = n + 1 end end\n"
	"  return n\n"
	"end}\n";

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Returns calls per second for `iters` calls. */
static double run(const char *src, size_t len, const char *method, const uint8_t *args,
		  size_t args_len, bool meter, int iters, uint64_t *instr)
{
	struct ds_vm_limits l;
	ds_vm_limits_default(&l);
	l.instructions_max = 100000000;
	struct slot s = {0};
	struct ds_vm_host h = {0};
	h.ctx = &s;
	h.get = h_get;
	h.put = h_put;
	h.del = h_del;
	h.emit = h_emit;
	h.caller_account = "00";
	h.caller_org = "org";
	h.block_height = 1;
	h.block_time_ms = 1;
	h.no_meter = !meter;
	uint64_t t0 = ds_mono_ns();
	for (int i = 0; i < iters; i++) {
		struct ds_vm_result r;
		if (ds_vm_call(&r, &l, &h, src, len, "bench", method, args, args_len) != 0 ||
		    r.status != DS_VM_OK) {
			fprintf(stderr, "bench_vm: call failed: %s %s\n",
				ds_vm_status_name(r.status), r.error);
			exit(1);
		}
		*instr = r.instructions;
		ds_vm_result_free(&r);
	}
	return iters / ((double)(ds_mono_ns() - t0) / 1e9);
}

static double median5(double *v)
{
	qsort(v, 5, sizeof(*v), cmp_double);
	return v[2];
}

int main(void)
{
	uint8_t args[64];
	struct ds_enc e;
	ds_enc_init(&e, args, sizeof(args));
	ds_value_enc_map(&e, 2);
	ds_value_enc_key(&e, "k", 1);
	ds_value_enc_str(&e, "alice", 5);
	ds_value_enc_key(&e, "v", 1);
	ds_value_enc_int(&e, 12345);
	size_t an;
	if (ds_enc_finish(&e, &an) != 0)
		return 1;

	uint64_t instr = 0, kv_instr = 0;
	double kv[5], kv_nometer[5];
	for (int rep = 0; rep < 5; rep++) {
		kv[rep] = run(kv_src, sizeof(kv_src) - 1, "set", args, an, true, 20000, &kv_instr);
		kv_nometer[rep] = run(kv_src, sizeof(kv_src) - 1, "set", args, an, false, 20000, &instr);
	}
	double kvm = median5(kv), kvn = median5(kv_nometer);
	printf("vm_kv_calls_per_sec: %.0f calls/s\n", kvm);
	printf("vm_kv_call_us: %.2f us\n", 1e6 / kvm);
	printf("vm_kv_call_instructions: %llu instructions\n", (unsigned long long)kv_instr);
	printf("vm_kv_calls_per_sec_unmetered: %.0f calls/s\n", kvn);

	uint8_t n_arg[16];
	ds_enc_init(&e, n_arg, sizeof(n_arg));
	ds_value_enc_int(&e, 300000);
	size_t nn;
	if (ds_enc_finish(&e, &nn) != 0)
		return 1;
	double loop[5], loop_nometer[5];
	uint64_t unused;
	for (int rep = 0; rep < 5; rep++) {
		loop[rep] = run(loop_src, sizeof(loop_src) - 1, "run", n_arg, nn, true, 20, &instr);
		loop_nometer[rep] =
			run(loop_src, sizeof(loop_src) - 1, "run", n_arg, nn, false, 20, &unused);
	}
	double lm = median5(loop), ln = median5(loop_nometer);
	printf("vm_loop_instructions: %llu instructions\n", (unsigned long long)instr);
	printf("vm_loop_minstr_per_sec: %.1f Minstr/s\n", lm * (double)instr / 1e6);
	printf("vm_metering_overhead_loop: %.1f %%\n", (ln / lm - 1.0) * 100.0);
	printf("vm_metering_overhead_kv: %.1f %%\n", (kvn / kvm - 1.0) * 100.0);

	/* 50 verifications of a 100-byte message per call. */
	uint8_t seed[DS_SEED_LEN] = {7}, pk[DS_PK_LEN], sk[DS_SK_LEN], sig[DS_SIG_LEN], msg[100];
	memset(msg, 'm', sizeof(msg));
	if (ds_crypto_init() != 0 || ds_ed25519_seed_keypair(pk, sk, seed) != 0)
		return 1;
	ds_ed25519_sign(sig, msg, sizeof(msg), sk);
	uint8_t vargs[256];
	ds_enc_init(&e, vargs, sizeof(vargs));
	ds_value_enc_array(&e, 3);
	ds_value_enc_bytes(&e, sig, sizeof(sig));
	ds_value_enc_bytes(&e, msg, sizeof(msg));
	ds_value_enc_bytes(&e, pk, sizeof(pk));
	size_t vn;
	if (ds_enc_finish(&e, &vn) != 0)
		return 1;
	double ver[5];
	uint64_t vinstr = 0;
	for (int rep = 0; rep < 5; rep++)
		ver[rep] = run(verify_src, sizeof(verify_src) - 1, "run", vargs, vn, true, 10, &vinstr);
	double vm = median5(ver);
	printf("vm_ed25519_verify_us: %.1f us\n", 1e6 / vm / 50.0);
	printf("vm_ed25519_ns_per_charged_instr: %.2f ns\n", 1e9 / (vm * (double)vinstr));
	printf("vm_loop_ns_per_instr: %.2f ns\n", 1e9 / (lm * (double)instr));
	return 0;
}
