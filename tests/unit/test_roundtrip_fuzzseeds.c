/* Every fuzz target's checks, run in the normal test build over its seed
 * corpus (fuzz/seeds/<target>/) and over seeded random mutations of each
 * seed, so a decoder that stops round-tripping, or a seed that no longer
 * decodes after an encoding change, fails `make test` and not only the
 * fuzz run. The targets are compiled in here with their entry point
 * renamed; a failed check in one calls abort(), which fails this binary
 * (the last "# input" line names the input, and DS_SEED replays it). */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "consensus/consensus.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"
#include "privacy/privacy.h"

#define LLVMFuzzerTestOneInput fz_tx_one
#include "../../fuzz/fuzz_tx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_header_one
#include "../../fuzz/fuzz_header.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_block_one
#include "../../fuzz/fuzz_block.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_qc_one
#include "../../fuzz/fuzz_qc.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_value_one
#include "../../fuzz/fuzz_value.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_smt_proof_one
#include "../../fuzz/fuzz_smt_proof.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_frontier_one
#include "../../fuzz/fuzz_frontier.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_consensus_one
#include "../../fuzz/fuzz_consensus.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_net_frame_one
#include "../../fuzz/fuzz_net_frame.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_api_json_one
#include "../../fuzz/fuzz_api_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_keyfile_one
#include "../../fuzz/fuzz_keyfile.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_privacy_one
#include "../../fuzz/fuzz_privacy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fz_vm_one
#include "../../fuzz/fuzz_vm.c"
#undef LLVMFuzzerTestOneInput

#define SEEDS_MAX 256          /* files read per target */
#define SEED_BYTES_MAX 70000   /* the fuzz run's -max_len */
#define MUTANTS 60             /* per seed */

/* Does a seed still decode? NULL: the target has no single decoder. */
typedef bool (*valid_fn)(const uint8_t *p, size_t n);

static bool v_tx(const uint8_t *p, size_t n)
{
	struct ds_tx t;
	return ds_tx_decode(&t, p, n) == 0 || ds_tx_decode_body(&t, p, n) == 0;
}
static bool v_header(const uint8_t *p, size_t n)
{
	struct ds_header h;
	return ds_header_decode(&h, p, n) == 0;
}
static bool v_block(const uint8_t *p, size_t n)
{
	struct ds_block b;
	return ds_block_decode(&b, p, n) == 0;
}
static bool v_qc(const uint8_t *p, size_t n)
{
	static struct ds_qc qc;
	static struct ds_valset vs;
	return ds_qc_decode(&qc, p, n) == 0 || ds_valset_decode(&vs, p, n) == 0;
}
static bool v_value(const uint8_t *p, size_t n)
{
	static struct ds_receipt r;
	return ds_value_check(p, n) == 0 || ds_receipt_decode(&r, p, n) == 0;
}
static bool v_smt_proof(const uint8_t *p, size_t n)
{
	static struct ds_smt_proof pr;
	return ds_smt_proof_decode(&pr, p, n) == 0;
}
static bool v_frontier(const uint8_t *p, size_t n)
{
	struct ds_merkle_frontier f;
	return ds_merkle_frontier_decode(&f, p, n) == 0;
}
static bool v_keyfile(const uint8_t *p, size_t n)
{
	struct ds_key k;
	bool ok = n > 0 && ds_keyfile_parse(&k, p + 1, n - 1, NULL, 0) == 0;
	ds_keyfile_wipe(&k);
	return ok;
}
static bool v_privacy(const uint8_t *p, size_t n)
{
	static struct ds_privacy_field f[DS_PRIV_FIELDS_MAX];
	static struct ds_privacy_disclosure d;
	struct ds_privacy_subject_key k;
	size_t nf;
	if (n == 0)
		return false;
	switch (p[0] % 3) {
	case 0: return ds_privacy_details_decode(f, DS_PRIV_FIELDS_MAX, &nf, p + 1, n - 1) == 0;
	case 1: return ds_privacy_disclosure_decode(&d, p + 1, n - 1) == 0;
	default: return ds_privacy_subject_key_parse(&k, p + 1, n - 1) == 0;
	}
}
/* A recorded run must still make the core commit: replay it on a fresh
 * validator 0 (self byte 0) and count deliveries. */
static bool v_consensus(const uint8_t *p, size_t n)
{
	if (n == 0 || p[0] != 0)
		return true; /* observer scripts: covered by the crash checks */
	static struct fzc_node nd;
	struct ds_cons_config cfg;
	struct ds_cons_io io = fzc_io;
	struct ds_cons *c = NULL;
	memset(&nd, 0, sizeof(nd));
	fzc_config(&cfg, 0);
	io.ctx = &nd;
	uint64_t now = FZC_T0_MS, at = 0;
	if (ds_cons_new(&c, &cfg, &io) != 0 || ds_cons_start(c, now, NULL, 0, NULL) != 0)
		return false;
	at = fzc_drain(c, at);
	for (size_t pos = 1; pos < n;) {
		uint8_t op = p[pos++];
		int rc;
		if (op & 0x80) {
			now = at > now ? at : now;
			rc = ds_cons_on_timer(c, now);
		} else {
			if (n - pos < 2)
				break;
			size_t len = ((size_t)p[pos] << 8) | p[pos + 1];
			pos += 2;
			if (len > n - pos)
				break;
			rc = ds_cons_on_message(c, ++now, op & 7u, p + pos, len);
			pos += len;
		}
		if (rc != 0)
			break;
		at = fzc_drain(c, at);
	}
	ds_cons_free(c);
	return nd.committed >= 3;
}

struct target {
	const char *name;
	int (*one)(const uint8_t *, size_t);
	valid_fn valid;
};

static const struct target targets[] = {
	{"fuzz_tx", fz_tx_one, v_tx},
	{"fuzz_header", fz_header_one, v_header},
	{"fuzz_block", fz_block_one, v_block},
	{"fuzz_qc", fz_qc_one, v_qc},
	{"fuzz_value", fz_value_one, v_value},
	{"fuzz_smt_proof", fz_smt_proof_one, v_smt_proof},
	{"fuzz_frontier", fz_frontier_one, v_frontier},
	{"fuzz_consensus", fz_consensus_one, v_consensus},
	{"fuzz_net_frame", fz_net_frame_one, NULL},
	{"fuzz_api_json", fz_api_json_one, NULL},
	{"fuzz_keyfile", fz_keyfile_one, v_keyfile},
	{"fuzz_vm", fz_vm_one, NULL},
	{"fuzz_privacy", fz_privacy_one, v_privacy},
};

static const char *seeds_root(void)
{
	const char *env = getenv("DS_FUZZ_SEEDS");
	return env ? env : "fuzz/seeds";
}

/* One mutation of the kinds libFuzzer starts with, so the unit run reaches
 * the error paths next to each valid input. Returns the new length. */
static size_t mutate(uint8_t *buf, size_t n, size_t cap, uint64_t *rng)
{
	uint64_t r = tu_rand(rng);
	size_t at = n ? (size_t)(tu_rand(rng) % n) : 0;
	switch (r % 6) {
	case 0: /* flip a bit */
		if (n)
			buf[at] ^= (uint8_t)(1u << (r >> 8) % 8);
		return n;
	case 1: /* set a byte to an edge value */
		if (n) {
			static const uint8_t edge[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
			buf[at] = edge[(r >> 8) % sizeof(edge)];
		}
		return n;
	case 2: /* truncate */
		return at;
	case 3: /* drop one byte */
		if (n)
			memmove(buf + at, buf + at + 1, n - at - 1);
		return n ? n - 1 : 0;
	case 4: /* insert one byte */
		if (n >= cap)
			return n;
		memmove(buf + at + 1, buf + at, n - at);
		buf[at] = (uint8_t)(r >> 16);
		return n + 1;
	default: /* append a copy of a short slice */
		if (n == 0)
			return n;
		size_t k = 1 + (size_t)((r >> 8) % 16);
		if (k > n - at)
			k = n - at;
		if (n + k > cap)
			return n;
		memcpy(buf + n, buf + at, k);
		return n + k;
	}
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_target(const struct target *t)
{
	char dir[512], path[1024];
	snprintf(dir, sizeof(dir), "%s/%s", seeds_root(), t->name);
	struct dirent **ents = NULL;
	int ne = scandir(dir, &ents, NULL, name_cmp);
	if (ne < 0) {
		print_message("# no seed dir %s (run fuzz/make_seeds.sh)\n", dir);
		fail();
	}
	uint64_t rng = tu_seed() ^ (uint64_t)strlen(t->name) * 0x9e3779b97f4a7c15ull;
	size_t nseeds = 0;
	uint8_t *buf = malloc(SEED_BYTES_MAX + 64);
	assert_non_null(buf);
	for (int i = 0; i < ne; i++) {
		const char *fn = ents[i]->d_name;
		if (fn[0] == '.' || nseeds >= SEEDS_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, fn);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t n = fread(buf, 1, SEED_BYTES_MAX + 1, f);
		fclose(f);
		assert_true(n <= SEED_BYTES_MAX);
		nseeds++;
		print_message("# input %s\n", path);
		/* Seeds named regress-* are inputs that once crashed; they need
		 * not be valid. Generated seeds must still decode. */
		if (t->valid && strncmp(fn, "regress-", 8) != 0 && !t->valid(buf, n)) {
			print_message("# seed %s no longer decodes: regenerate with fuzz/make_seeds.sh\n", path);
			fail();
		}
		assert_int_equal(t->one(buf, n), 0);
		uint8_t *m = malloc(SEED_BYTES_MAX + 64);
		assert_non_null(m);
		for (int k = 0; k < MUTANTS; k++) {
			size_t mn = n;
			memcpy(m, buf, n);
			for (uint64_t steps = 1 + tu_rand(&rng) % 3; steps; steps--)
				mn = mutate(m, mn, SEED_BYTES_MAX, &rng);
			assert_int_equal(t->one(m, mn), 0);
		}
		free(m);
	}
	for (int i = 0; i < ne; i++)
		free(ents[i]);
	free(ents);
	free(buf);
	if (nseeds == 0) {
		print_message("# %s has no seeds\n", dir);
		fail();
	}
}

#define TARGET_TEST(i, name) \
	static void test_##name(void **state) { (void)state; run_target(&targets[i]); }
TARGET_TEST(0, tx)
TARGET_TEST(1, header)
TARGET_TEST(2, block)
TARGET_TEST(3, qc_valset)
TARGET_TEST(4, value_receipt)
TARGET_TEST(5, smt_proof)
TARGET_TEST(6, frontier)
TARGET_TEST(7, consensus)
TARGET_TEST(8, net_frame)
TARGET_TEST(9, api_json)
TARGET_TEST(10, keyfile)
TARGET_TEST(11, vm)
TARGET_TEST(12, privacy)

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	(void)tu_seed();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx),        cmocka_unit_test(test_header),
		cmocka_unit_test(test_block),     cmocka_unit_test(test_qc_valset),
		cmocka_unit_test(test_value_receipt), cmocka_unit_test(test_smt_proof),
		cmocka_unit_test(test_frontier),  cmocka_unit_test(test_consensus),
		cmocka_unit_test(test_net_frame), cmocka_unit_test(test_api_json),
		cmocka_unit_test(test_keyfile),   cmocka_unit_test(test_vm),
		cmocka_unit_test(test_privacy),
	};
	return cmocka_run_group_tests_name("roundtrip_fuzzseeds", tests, NULL, NULL);
}
