/* mempool: bounds, de-duplication, FIFO batches, marks, removal with byte
 * comparison, expiry, and a seeded property test against a simple model. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "mempool/mempool.h"

/* A fake tx: id from a counter, bytes derived from it (len >= 1). */
static void make(uint8_t id[DS_HASH_LEN], uint8_t *tx, size_t len, uint32_t k)
{
	memset(id, 0, DS_HASH_LEN);
	ds_put_u32be(id, k * 2654435761u);
	ds_put_u32be(id + 28, k);
	for (size_t i = 0; i < len; i++)
		tx[i] = (uint8_t)(k + i);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct ds_mempool *mp = (void *)1;
	assert_int_equal(ds_mempool_new(&mp, 0, 100), DS_EINVAL);
	assert_null(mp);
	assert_int_equal(ds_mempool_new(&mp, 10, 0), DS_EINVAL);
	assert_int_equal(ds_mempool_new(&mp, DS_MEMPOOL_TXS_HARD_MAX + 1, 100), DS_EINVAL);
}

static void test_bounds_and_dedup(void **state)
{
	(void)state;
	struct ds_mempool *mp;
	assert_int_equal(ds_mempool_new(&mp, 3, 1000), 0);
	uint8_t id[DS_HASH_LEN], tx[100];
	for (uint32_t k = 0; k < 3; k++) {
		make(id, tx, 10, k);
		assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), 0);
	}
	make(id, tx, 10, 1);
	assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), DS_EEXIST);
	make(id, tx, 10, 3);
	assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), DS_EFULL);
	assert_int_equal(ds_mempool_count(mp), 3);
	assert_int_equal(ds_mempool_bytes(mp), 30);
	assert_int_equal(ds_mempool_add(mp, id, tx, 0, 100), DS_EINVAL);
	/* Removing one makes room again. */
	make(id, tx, 10, 0);
	assert_true(ds_mempool_remove(mp, id, tx, 10));
	assert_false(ds_mempool_has(mp, id));
	make(id, tx, 10, 3);
	assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), 0);
	ds_mempool_free(mp);

	/* Byte bound. */
	assert_int_equal(ds_mempool_new(&mp, 100, 25), 0);
	make(id, tx, 10, 0);
	assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), 0);
	make(id, tx, 10, 1);
	assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), 0);
	make(id, tx, 10, 2);
	assert_int_equal(ds_mempool_add(mp, id, tx, 10, 100), DS_EFULL);
	make(id, tx, 5, 2);
	assert_int_equal(ds_mempool_add(mp, id, tx, 5, 100), 0);
	assert_int_equal(ds_mempool_bytes(mp), 25);
	ds_mempool_free(mp);
}

static void test_fifo_batch_and_marks(void **state)
{
	(void)state;
	struct ds_mempool *mp;
	assert_int_equal(ds_mempool_new(&mp, 64, 1 << 20), 0);
	uint8_t id[DS_HASH_LEN], tx[64];
	for (uint32_t k = 0; k < 10; k++) {
		make(id, tx, 8 + k, k);
		assert_int_equal(ds_mempool_add(mp, id, tx, 8 + k, 100), 0);
	}
	struct ds_iov iov[16];
	uint8_t ids[16][DS_HASH_LEN];
	size_t n = ds_mempool_batch(mp, iov, ids, 4, SIZE_MAX);
	assert_int_equal(n, 4);
	for (uint32_t k = 0; k < 4; k++) {
		make(id, tx, 8 + k, k);
		assert_memory_equal(ids[k], id, DS_HASH_LEN);
		assert_int_equal(iov[k].n, 8 + k);
		assert_memory_equal(iov[k].p, tx, 8 + k);
	}
	/* Byte limit ends the batch at the first tx that does not fit. */
	n = ds_mempool_batch(mp, iov, ids, 16, 8 + 9 + 5);
	assert_int_equal(n, 2);
	/* Marks exclude, and a new generation forgets them. */
	ds_mempool_mark_begin(mp);
	make(id, tx, 8, 0);
	ds_mempool_mark(mp, id);
	make(id, tx, 10, 2);
	ds_mempool_mark(mp, id);
	n = ds_mempool_batch(mp, iov, ids, 3, SIZE_MAX);
	assert_int_equal(n, 3);
	uint8_t want[DS_HASH_LEN];
	make(want, tx, 9, 1);
	assert_memory_equal(ids[0], want, DS_HASH_LEN);
	make(want, tx, 11, 3);
	assert_memory_equal(ids[1], want, DS_HASH_LEN);
	ds_mempool_mark_begin(mp);
	n = ds_mempool_batch(mp, iov, ids, 16, SIZE_MAX);
	assert_int_equal(n, 10);
	/* Removing from the middle keeps order. */
	make(id, tx, 13, 5);
	assert_true(ds_mempool_remove(mp, id, tx, 13));
	n = ds_mempool_batch(mp, iov, ids, 16, SIZE_MAX);
	assert_int_equal(n, 9);
	make(want, tx, 12, 4);
	assert_memory_equal(ids[4], want, DS_HASH_LEN);
	make(want, tx, 14, 6);
	assert_memory_equal(ids[5], want, DS_HASH_LEN);
	ds_mempool_free(mp);
}

static void test_remove_compares_bytes(void **state)
{
	(void)state;
	struct ds_mempool *mp;
	assert_int_equal(ds_mempool_new(&mp, 8, 1024), 0);
	uint8_t id[DS_HASH_LEN], tx[32];
	make(id, tx, 32, 7);
	assert_int_equal(ds_mempool_add(mp, id, tx, 32, 100), 0);
	/* Same id, another signature: not "verified here", but the id is spent. */
	tx[31] ^= 1;
	assert_false(ds_mempool_remove(mp, id, tx, 32));
	assert_false(ds_mempool_has(mp, id));
	assert_int_equal(ds_mempool_count(mp), 0);
	assert_false(ds_mempool_remove(mp, id, tx, 32));
	/* Different length. */
	make(id, tx, 32, 8);
	assert_int_equal(ds_mempool_add(mp, id, tx, 32, 100), 0);
	assert_false(ds_mempool_remove(mp, id, tx, 31));
	ds_mempool_free(mp);
}

static void test_expiry(void **state)
{
	(void)state;
	struct ds_mempool *mp;
	assert_int_equal(ds_mempool_new(&mp, 16, 1024), 0);
	uint8_t id[DS_HASH_LEN], tx[8];
	for (uint32_t k = 0; k < 10; k++) {
		make(id, tx, 8, k);
		assert_int_equal(ds_mempool_add(mp, id, tx, 8, 10 + (k % 5)), 0);
	}
	assert_int_equal(ds_mempool_expire(mp, 9), 0);
	assert_int_equal(ds_mempool_expire(mp, 11), 4); /* expiry 10 and 11 */
	assert_int_equal(ds_mempool_count(mp), 6);
	for (uint32_t k = 0; k < 10; k++) {
		make(id, tx, 8, k);
		assert_int_equal(ds_mempool_has(mp, id), (k % 5) >= 2);
	}
	assert_int_equal(ds_mempool_expire(mp, 100), 6);
	assert_int_equal(ds_mempool_count(mp), 0);
	assert_int_equal(ds_mempool_bytes(mp), 0);
	ds_mempool_free(mp);
}

/* Random adds/removes/expiries against a plain array model. */
static void test_property(void **state)
{
	(void)state;
	uint64_t seed = tu_seed(), rs = seed;
	enum { CAP = 300, KEYS = 1000 };
	struct ds_mempool *mp;
	assert_int_equal(ds_mempool_new(&mp, CAP, SIZE_MAX), 0);
	static bool in[KEYS];
	static uint64_t exp_of[KEYS];
	static uint64_t seq_of[KEYS]; /* model FIFO: insertion sequence */
	memset(in, 0, sizeof(in));
	size_t count = 0;
	uint64_t seq = 0;
	uint8_t id[DS_HASH_LEN], tx[16];
	for (int step = 0; step < 20000; step++) {
		uint32_t k = (uint32_t)(tu_rand(&rs) % KEYS);
		uint64_t op = tu_rand(&rs) % 10;
		make(id, tx, 16, k);
		if (op < 6) {
			uint64_t e = 50 + tu_rand(&rs) % 50;
			int rc = ds_mempool_add(mp, id, tx, 16, e);
			if (in[k]) {
				assert_int_equal(rc, DS_EEXIST);
			} else if (count == CAP) {
				assert_int_equal(rc, DS_EFULL);
			} else {
				assert_int_equal(rc, 0);
				in[k] = true;
				exp_of[k] = e;
				seq_of[k] = seq++;
				count++;
			}
		} else if (op < 9) {
			assert_int_equal(ds_mempool_remove(mp, id, tx, 16), in[k]);
			if (in[k]) {
				in[k] = false;
				count--;
			}
		} else if (tu_rand(&rs) % 50 == 0) {
			uint64_t h = 50 + tu_rand(&rs) % 60;
			size_t want = 0;
			for (uint32_t j = 0; j < KEYS; j++)
				if (in[j] && exp_of[j] <= h) {
					in[j] = false;
					want++;
				}
			assert_int_equal(ds_mempool_expire(mp, h), want);
			count -= want;
		}
		assert_int_equal(ds_mempool_count(mp), count);
		assert_int_equal(ds_mempool_has(mp, id), in[k]);
	}
	/* Final FIFO check: batch order equals model insertion order. */
	static struct ds_iov iov[CAP];
	static uint8_t ids[CAP][DS_HASH_LEN];
	size_t n = ds_mempool_batch(mp, iov, ids, CAP, SIZE_MAX);
	assert_int_equal(n, count);
	uint64_t last = 0;
	size_t j = 0;
	for (; j < n; j++) {
		uint32_t k = ds_get_u32be(ids[j] + 28);
		if (k >= KEYS || !in[k] || (j > 0 && seq_of[k] <= last))
			fail_msg("seed %llu: FIFO mismatch at %zu", (unsigned long long)seed, j);
		last = seq_of[k];
	}
	assert_int_equal(j, n);
	ds_mempool_free(mp);
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_bounds_and_dedup),
		cmocka_unit_test(test_fifo_batch_and_marks),
		cmocka_unit_test(test_remove_compares_bytes),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_property),
	};
	return cmocka_run_group_tests_name("mempool", tests, NULL, NULL);
}
