/* vm benchmark: key-value contract calls per second on one core (fresh
 * sandbox per call, as on a node), the cost of instruction metering (the
 * same calls with the count hook off, ds_vm_host.no_meter: benchmarks
 * only), and the time per charged instruction of crypto.ed25519_verify
 * next to that of interpreted code (the basis of its charge,
 * docs/CONTRACTS.md).
 *
 * Figures are medians of REPS runs; within a run metered and unmetered calls
 * alternate in slices, so that drift on a shared machine hits both, and the
 * overhead is the median over runs of (time metered / time unmetered) - 1.
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time,
 * so that other processes count less; the load average is printed too.
 *
 * bench_vm --only CASE [RUNS]: runs one case RUNS times and prints its
 * rate, for a profiler (perf record, valgrind --tool=callgrind). CASE is
 * kv, loop or arith, with "-nometer" for the hook off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* CPU-bound, arithmetic only: no table, no string, no creation, no host
 * call, so its time is the interpreter's and the hook's alone. */
static const char arith_src[] =
	"return {run = function(n)\n"
	"  local s, x = 0, 1\n"
	"  for i = 1, n do x = (x * 31 + i) % 1000003; s = s + x // 7 end\n"
	"  return s\n"
	"end}\n";

static const char verify_src[] =
	"return {run = function(a)\n"
	"  local n = 0\n"
	"  for i = 1, 50 do if crypto.ed25519_verify(a[1], a[2], a[3]) then n = n + 1 end end\n"
	"  return n\n"
	"end}\n";

#define REPS 9

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns calls per CPU second for `iters` calls; *instr: the last call's
 * instruction figure (without the hook: its charges only). */
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
	uint64_t t0 = cpu_ns();
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
	return iters / ((double)(cpu_ns() - t0) / 1e9);
}

struct bcase {
	const char *name;
	const char *src;
	size_t len;
	const char *method;
	const uint8_t *args;
	size_t args_len;
	int iters; /* calls per run */
};

/* REPS runs of `iters` metered and `iters` unmetered calls. Within a run
 * the two alternate in CHUNKS slices, so that a change of machine speed
 * (a shared machine: other processes, steal time) hits both alike; the
 * overhead is the median of the runs' time ratios. */
#define CHUNKS 10
struct pair {
	double metered, unmetered; /* calls/s, medians */
	double overhead, ov_min, ov_max; /* time metered / unmetered - 1 */
	uint64_t instr;            /* metered instruction figure of one call */
	uint64_t charges;          /* the same call's figure without the hook */
};

static struct pair measure(const struct bcase *c)
{
	double m[REPS], u[REPS], ov[REPS];
	struct pair p = {0};
	int n = c->iters / CHUNKS;
	for (int rep = 0; rep < REPS; rep++) {
		double tm = 0, tu = 0; /* seconds */
		for (int k = 0; k < CHUNKS; k++) {
			tm += n / run(c->src, c->len, c->method, c->args, c->args_len, true, n,
				      &p.instr);
			tu += n / run(c->src, c->len, c->method, c->args, c->args_len, false, n,
				      &p.charges);
		}
		m[rep] = n * CHUNKS / tm;
		u[rep] = n * CHUNKS / tu;
		ov[rep] = tm / tu - 1.0;
	}
	p.metered = median(m, REPS);
	p.unmetered = median(u, REPS);
	p.overhead = median(ov, REPS); /* sorts ov */
	p.ov_min = ov[0];
	p.ov_max = ov[REPS - 1];
	return p;
}

static void print_pair(const char *name, const struct pair *p)
{
	printf("vm_%s_calls_per_sec: %.0f calls/s\n", name, p->metered);
	printf("vm_%s_calls_per_sec_unmetered: %.0f calls/s\n", name, p->unmetered);
	printf("vm_%s_call_us: %.2f us (unmetered %.2f us)\n", name, 1e6 / p->metered,
	       1e6 / p->unmetered);
	printf("vm_%s_call_instructions: %llu instructions (%llu of them charges)\n", name,
	       (unsigned long long)p->instr, (unsigned long long)p->charges);
	printf("vm_metering_overhead_%s: %.1f %% (runs %.1f .. %.1f)\n", name,
	       p->overhead * 100.0, p->ov_min * 100.0, p->ov_max * 100.0);
}

static void print_load(const char *when)
{
	double la[3];
	if (getloadavg(la, 3) == 3)
		printf("vm_loadavg_%s: %.2f %.2f %.2f\n", when, la[0], la[1], la[2]);
}

int main(int argc, char **argv)
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
	uint8_t loop_arg[16];
	ds_enc_init(&e, loop_arg, sizeof(loop_arg));
	ds_value_enc_int(&e, 300000);
	size_t loop_an;
	if (ds_enc_finish(&e, &loop_an) != 0)
		return 1;
	uint8_t arith_arg[16];
	ds_enc_init(&e, arith_arg, sizeof(arith_arg));
	ds_value_enc_int(&e, 100000);
	size_t arith_an;
	if (ds_enc_finish(&e, &arith_an) != 0)
		return 1;

	const struct bcase cases[] = {
		{"kv", kv_src, sizeof(kv_src) - 1, "set", args, an, 20000},
		{"loop", loop_src, sizeof(loop_src) - 1, "run", loop_arg, loop_an, 20},
		{"arith", arith_src, sizeof(arith_src) - 1, "run", arith_arg, arith_an, 100},
	};
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);

	if (argc >= 3 && strcmp(argv[1], "--only") == 0) {
		int runs = argc >= 4 ? atoi(argv[3]) : 10;
		for (size_t i = 0; i < ncases; i++) {
			char nometer[32];
			snprintf(nometer, sizeof(nometer), "%s-nometer", cases[i].name);
			bool meter = strcmp(argv[2], cases[i].name) == 0;
			if (!meter && strcmp(argv[2], nometer) != 0)
				continue;
			uint64_t instr = 0;
			for (int r = 0; r < runs; r++) {
				double rate = run(cases[i].src, cases[i].len, cases[i].method,
						  cases[i].args, cases[i].args_len, meter,
						  cases[i].iters, &instr);
				printf("vm_%s%s: %.0f calls/s, %llu instructions\n", cases[i].name,
				       meter ? "" : "_unmetered", rate,
				       (unsigned long long)instr);
			}
			return 0;
		}
		fprintf(stderr, "usage: bench_vm [--only kv|loop|arith[-nometer] [RUNS]]\n");
		return 2;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: bench_vm [--only kv|loop|arith[-nometer] [RUNS]]\n");
		return 2;
	}

	print_load("start");
	struct pair kv = measure(&cases[0]);
	print_pair("kv", &kv);
	struct pair loop = measure(&cases[1]);
	print_pair("loop", &loop);
	printf("vm_loop_minstr_per_sec: %.1f Minstr/s\n", loop.metered * (double)loop.instr / 1e6);
	struct pair ar = measure(&cases[2]);
	print_pair("arith", &ar);
	/* Where the overhead comes from: the hook's cost per VM instruction
	 * (the arithmetic loop's charges are negligible next to its steps). */
	double ar_vm = (double)(ar.instr - ar.charges);
	double ns_m = 1e9 / (ar.metered * ar_vm);
	printf("vm_arith_ns_per_instr: %.2f ns (unmetered %.2f ns)\n", ns_m,
	       ns_m / (1.0 + ar.overhead));
	printf("vm_hook_ns_per_instr: %.2f ns\n", ns_m - ns_m / (1.0 + ar.overhead));

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
	double ver[REPS];
	uint64_t vinstr = 0;
	for (int rep = 0; rep < REPS; rep++)
		ver[rep] = run(verify_src, sizeof(verify_src) - 1, "run", vargs, vn, true, 10,
			       &vinstr);
	double vm = median(ver, REPS);
	printf("vm_ed25519_verify_us: %.1f us\n", 1e6 / vm / 50.0);
	printf("vm_ed25519_ns_per_charged_instr: %.2f ns\n", 1e9 / (vm * (double)vinstr));
	printf("vm_loop_ns_per_instr: %.2f ns\n", 1e9 / (loop.metered * (double)loop.instr));
	print_load("end");
	return 0;
}
