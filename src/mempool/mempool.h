/* mempool — the node's pool of verified, not yet committed transactions.
 *
 * A pure, bounded data structure: no I/O, no clock, no threads (a random
 * hash key, from ds_random_u64, is its only outside input).
 * The node decides what goes in (it decodes, checks chain id, expiry and
 * replay, and verifies the signature on its thread pool first) and this
 * module only keeps the result: de-duplicated by tx id, in arrival (FIFO)
 * order, bounded by a count and a byte total.
 *
 * Every transaction in the pool had its signature verified on this node, so
 * when a committed block holds a transaction whose bytes equal the pooled
 * ones, the block's execution may skip that signature check
 * (ds_mempool_remove reports it). The id does not cover the signature, so
 * the bytes are compared in full: a block carrying the same body with
 * another signature is never treated as verified.
 *
 * Not thread-safe: the node uses it from its loop thread only. */
#ifndef DS_MEMPOOL_H
#define DS_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/util.h"

#define DS_MEMPOOL_TXS_HARD_MAX (1u << 22) /* largest txs_max accepted */

struct ds_mempool;

/* Creates an empty pool holding at most txs_max transactions (1..
 * DS_MEMPOOL_TXS_HARD_MAX) and bytes_max bytes of encoded transactions
 * (> 0). *out owned on success (ds_mempool_free). DS_EINVAL, DS_ENOMEM. */
int ds_mempool_new(struct ds_mempool **out, size_t txs_max, size_t bytes_max) DS_MUST_USE;
void ds_mempool_free(struct ds_mempool *mp); /* NULL is a no-op */

/* Adds a verified transaction: id is its tx id, tx its encoding (copied),
 * expiry_height its expiry. Returns 0; DS_EEXIST if the id is pooled;
 * DS_EFULL when either bound would be passed ("mempool full"); DS_EINVAL
 * for len 0 or over DS_TX_MAX; DS_ENOMEM. */
int ds_mempool_add(struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN], const uint8_t *tx,
		   size_t len, uint64_t expiry_height) DS_MUST_USE;

bool ds_mempool_has(const struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN]);

/* Removes the transaction with this id (committed elsewhere or here).
 * Returns true when it was pooled with exactly these bytes (so its
 * signature was verified on this node); false when absent or when the
 * pooled bytes differ (the entry is removed either way: the id is spent). */
bool ds_mempool_remove(struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN], const uint8_t *tx,
		       size_t len);

/* Removes every transaction that can no longer be committed in a block at
 * `next_height` (expiry_height <= next_height). Returns how many. */
size_t ds_mempool_expire(struct ds_mempool *mp, uint64_t next_height);

/* Exclusion marks for building a proposal: ds_mempool_mark_begin forgets
 * earlier marks (O(1)), ds_mempool_mark excludes one id (if pooled) from
 * the next ds_mempool_batch calls, e.g. the transactions of uncommitted
 * ancestor blocks. */
void ds_mempool_mark_begin(struct ds_mempool *mp);
void ds_mempool_mark(struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN]);

/* Fills txs[i] (pointers into the pool, valid until the next call that
 * changes the pool) and ids[i] with the oldest unmarked transactions, at most
 * max_txs of them and at most max_bytes of encodings in total (the first
 * that does not fit ends the batch, keeping FIFO order). Returns the count. */
size_t ds_mempool_batch(const struct ds_mempool *mp, struct ds_iov *txs, uint8_t (*ids)[DS_HASH_LEN],
			size_t max_txs, size_t max_bytes);

size_t ds_mempool_count(const struct ds_mempool *mp);
size_t ds_mempool_bytes(const struct ds_mempool *mp);

#endif
