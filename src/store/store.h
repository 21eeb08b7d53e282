/* store — a small, generic key-value layer over LMDB: one environment per
 * node, a fixed list of named tables, ordered byte-string keys.
 * lmdb.h is included only by files in src/store/. See docs/OPERATIONS.md for
 * the durability model, map growth, disk-full behaviour and backups.
 *
 * Threads: any number of read transactions, from any threads, run beside one
 * writer. ds_store_write() serialises writers itself. A transaction handle and
 * its cursors are used by one thread at a time.
 *
 * Two rules keep map growth deadlock-free (growing needs every transaction in
 * this process to end):
 *  - keep read transactions short (also because a long reader stops LMDB
 *    from reusing pages, so the file grows);
 *  - never call ds_store_write() from a thread that holds a read transaction
 *    (of any store) or from inside a write callback: it returns DS_ESTATE.
 *
 * fork(): a child must not use a store its parent has open (LMDB's rule);
 * close it before forking, or open it afresh in the child after the parent
 * closed it.
 *
 * Failure: after an unexpected LMDB error (I/O error, corruption, panic) the
 * store is marked failed and every later read_begin/write returns DS_ESTATE:
 * a broken store is never half-used. Expected conditions (key missing, key
 * exists, disk full, map at its maximum, transaction too large, reader slots
 * exhausted) do not mark it failed. */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define DS_STORE_TABLES_MAX 32   /* tables per environment */
#define DS_STORE_TABLE_NAME_MAX 64 /* bytes, [a-z0-9_] */
#define DS_STORE_KEY_MAX 511     /* bytes; LMDB's default maximum key size */
#define DS_STORE_VAL_MAX (256u << 20) /* bytes per value */
#define DS_STORE_CURSORS_MAX 8   /* open cursors per transaction */
#define DS_STORE_MAP_MIN (64u << 10) /* smallest map size accepted, bytes */

struct ds_store; /* an open environment; opaque */
struct ds_rtxn;  /* a read transaction, or the read view of a write txn */
struct ds_wtxn;  /* the write transaction passed to a write callback */
struct ds_store_cursor;

struct ds_store_opts {
	/* Table names, borrowed during ds_store_open only. The table id used by
	 * every other call is the index into this array. Tables that do not
	 * exist are created; tables on disk that are not listed are left alone. */
	const char *const *tables;
	size_t tables_len; /* 1..DS_STORE_TABLES_MAX */
	/* Map size at open, bytes (0: 64 MiB). Never below the data already
	 * stored. The map doubles when full, up to map_size_max_bytes. */
	uint64_t map_size_init_bytes;
	uint64_t map_size_max_bytes; /* 0: 256 GiB; >= init */
	/* false (default): every commit is on disk when ds_store_write returns.
	 * true: commits reach the OS page cache only. A process crash loses
	 * nothing; a machine crash may lose the last commits, and on a file
	 * system that reorders writes may corrupt the store. For tests and
	 * throw-away nodes only. */
	bool no_sync;
	unsigned max_readers;       /* concurrent read txns; 0: 126 */
	unsigned resize_wait_ms;    /* how long growth waits for readers; 0: 10000 */
};

/* Creates dir (mode 0700) if missing and opens or creates the environment in
 * it (files data.mdb and lock.mdb, mode 0600). Takes an exclusive lock on dir:
 * a second open of the same dir, from this or another process, fails.
 * *out is owned on success; release it with ds_store_close.
 * Returns 0, DS_EINVAL (bad options or table names; dir not a directory),
 * DS_ESTATE (dir in use), DS_ECORRUPT (data.mdb is not a valid LMDB file or
 * has another version), DS_EPERM, DS_EFULL, DS_ENOMEM or DS_EIO. */
int ds_store_open(struct ds_store **out, const char *dir, const struct ds_store_opts *opts) DS_MUST_USE;

/* Closes the environment. All transactions must have ended (asserted).
 * NULL is a no-op. */
void ds_store_close(struct ds_store *s);

/* True once the store is marked failed (see above). */
bool ds_store_failed(const struct ds_store *s);

/* A write callback. Runs inside one write transaction; returns 0 to commit or
 * any negative DS_E* code to abort (nothing is written and ds_store_write
 * returns that code). It may be run MORE THAN ONCE: when the map is full the
 * transaction is aborted, the map grown and fn run again from the committed
 * state. So fn must (a) reset at its start any in-memory output it builds and
 * (b) have no effects outside the transaction (sending, logging as done,
 * updating caches): do those after ds_store_write returns 0. The wtxn and
 * everything read through it are valid only until fn returns. */
typedef int (*ds_store_write_fn)(struct ds_wtxn *tx, void *arg);

/* Runs fn in one write transaction and commits it atomically: either every
 * put/del made by fn is durable (unless no_sync) or none is.
 * Returns 0; fn's own error; DS_EFULL (disk full, or map at its maximum: a log
 * line says which; nothing written); DS_ETOOBIG (the transaction dirties more
 * pages than LMDB can hold in one txn, ~512 MiB: split it); DS_ETIMEOUT
 * (growing waited too long for readers; nothing written, retry later);
 * DS_ESTATE (store failed, or called from a thread holding a read txn or from
 * inside fn); DS_EIO or DS_ECORRUPT (unexpected LMDB error; the store is now
 * failed). If a put/del inside fn failed, that error is returned even if fn
 * ignored it and returned 0; nothing is committed. */
int ds_store_write(struct ds_store *s, ds_store_write_fn fn, void *arg) DS_MUST_USE;

/* The read view of a write transaction: sees fn's own uncommitted writes.
 * Use it with ds_store_get and the cursor calls. Never pass it to
 * ds_store_read_end. Valid until fn returns. */
struct ds_rtxn *ds_store_wview(struct ds_wtxn *tx);

/* --- writes (inside a write callback) ---------------------------------- */

enum {
	DS_STORE_NOOVERWRITE = 1u << 0, /* fail with DS_EEXIST if key exists */
	/* The key sorts after every key in the table (bulk loads of keys that
	 * start with a new version): LMDB appends without searching or
	 * shifting, and fills pages completely. A key that does not sort last
	 * fails with DS_EEXIST, nothing written, the txn stays usable. */
	DS_STORE_APPEND = 1u << 1,
};

/* Stores key -> val in table (ids: index into opts.tables). key and val are
 * copied. flags: 0, DS_STORE_NOOVERWRITE or DS_STORE_APPEND.
 * Returns 0, DS_EINVAL (bad table id, key length not 1..DS_STORE_KEY_MAX,
 * value over DS_STORE_VAL_MAX, unknown flag), DS_EEXIST (NOOVERWRITE and the
 * key exists; the txn stays usable), or a transaction error (DS_EFULL,
 * DS_ETOOBIG, DS_EIO...) after which the txn is dead: every later call in it
 * returns the same error, and fn should return it. */
int ds_store_put(struct ds_wtxn *tx, unsigned table, const void *key, size_t key_len,
		 const void *val, size_t val_len, unsigned flags) DS_MUST_USE;

/* Deletes key. Returns 0, DS_ENOTFOUND (no such key; txn stays usable),
 * DS_EINVAL, or a transaction error as for ds_store_put. */
int ds_store_del(struct ds_wtxn *tx, unsigned table, const void *key, size_t key_len) DS_MUST_USE;

/* Deletes keys k with lo <= k < hi in byte order, at most max_count of them
 * (the bound keeps one pruning step small; call again while *deleted_out ==
 * max_count). lo NULL with lo_len 0 means "from the first key"; hi NULL
 * means "to the end of the table". *deleted_out gets the
 * number deleted. Returns 0, DS_EINVAL or a transaction error. */
int ds_store_del_range(struct ds_wtxn *tx, unsigned table, const void *lo, size_t lo_len,
		       const void *hi, size_t hi_len, size_t max_count,
		       size_t *deleted_out) DS_MUST_USE;

/* --- reads ------------------------------------------------------------- */

/* Starts a read transaction: a consistent snapshot of the last commit, not
 * changed by later commits. *out is owned until ds_store_read_end.
 * Returns 0, DS_ESTATE (store failed), DS_ELIMIT (all max_readers slots in
 * use), DS_ETIMEOUT (map growth in progress took too long) or DS_EIO. */
int ds_store_read_begin(struct ds_rtxn **out, struct ds_store *s) DS_MUST_USE;

/* Ends a read transaction and closes its cursors. Every value pointer read
 * through it becomes invalid. Must run on the thread that began it
 * (asserted): the per-thread count of held reads guards ds_store_write.
 * NULL is a no-op. */
void ds_store_read_end(struct ds_rtxn *tx);

/* Looks up key. On success *val and *val_len point INTO THE MAP: read-only, valid
 * only until the transaction ends (or, in a write txn, until the next write
 * to this table). Copy what you keep.
 * Returns 0, DS_ENOTFOUND, DS_EINVAL (bad table or key length) or a
 * transaction error. */
int ds_store_get(struct ds_rtxn *tx, unsigned table, const void *key, size_t key_len,
		 const uint8_t **val, size_t *val_len) DS_MUST_USE;

/* --- cursors: ordered iteration (bytewise key order) -------------------- */

/* One item seen through a cursor; both pointers point into the map with the
 * same lifetime as ds_store_get's value. */
struct ds_store_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *val;
	size_t val_len;
};

/* Opens a cursor over table. With a prefix (copied; NULL/0 for none), the
 * cursor sees only keys that start with it, so a prefix scan is
 * first + next until DS_ENOTFOUND. The cursor belongs to tx: it is closed
 * when tx ends, or earlier by ds_store_cursor_close.
 * Returns 0, DS_EINVAL (bad table, prefix over DS_STORE_KEY_MAX), DS_ELIMIT
 * (DS_STORE_CURSORS_MAX open in tx) or a transaction error. */
int ds_store_cursor_open(struct ds_store_cursor **out, struct ds_rtxn *tx, unsigned table,
			 const void *prefix, size_t prefix_len) DS_MUST_USE;
void ds_store_cursor_close(struct ds_store_cursor *c); /* NULL is a no-op */

/* Each positions the cursor and fills *kv. They return 0, DS_ENOTFOUND (no
 * such item: the position is then undefined until the next first/last/seek)
 * or a transaction error. next on a cursor not yet positioned acts as first,
 * prev as last. seek goes to the first key >= key. */
int ds_store_cursor_first(struct ds_store_cursor *c, struct ds_store_kv *kv) DS_MUST_USE;
int ds_store_cursor_last(struct ds_store_cursor *c, struct ds_store_kv *kv) DS_MUST_USE;
int ds_store_cursor_seek(struct ds_store_cursor *c, const void *key, size_t key_len,
			 struct ds_store_kv *kv) DS_MUST_USE;
int ds_store_cursor_next(struct ds_store_cursor *c, struct ds_store_kv *kv) DS_MUST_USE;
int ds_store_cursor_prev(struct ds_store_cursor *c, struct ds_store_kv *kv) DS_MUST_USE;

/* Deletes the item under the cursor; a following next returns the item after
 * it. Only on a cursor of a write view. Returns 0, DS_EPERM (read txn),
 * DS_ESTATE (cursor not on an item) or a transaction error. */
int ds_store_cursor_del(struct ds_store_cursor *c) DS_MUST_USE;

/* --- helpers ------------------------------------------------------------- */

/* Big-endian u64 keys sort in numeric order (heights, sequence numbers). */
static inline void ds_store_key_u64(uint8_t out[8], uint64_t v)
{
	ds_put_u64be(out, v);
}
/* Returns DS_EINVAL unless key_len == 8. */
static inline int ds_store_key_u64_get(uint64_t *out, const uint8_t *key, size_t key_len)
{
	if (key_len != 8)
		return DS_EINVAL;
	*out = ds_get_u64be(key);
	return 0;
}

struct ds_store_stats {
	uint64_t map_size_bytes;     /* current map size */
	uint64_t map_size_max_bytes; /* configured maximum */
	uint64_t used_bytes;         /* (last used page + 1) * page size */
	uint32_t page_size;
	uint32_t readers_max;
	uint32_t readers_used;       /* reader slots in use (incl. stale) */
	uint64_t map_grow_count;     /* growths since open */
	size_t tables_len;
	uint64_t entries[DS_STORE_TABLES_MAX]; /* per table id */
};

/* Fills *out from a fresh read snapshot. Returns 0 or a read_begin error. */
int ds_store_stats(struct ds_store *s, struct ds_store_stats *out) DS_MUST_USE;

/* Forces buffered commits to disk (only needed with no_sync). Returns 0 or
 * DS_EIO (store now failed). */
int ds_store_sync(struct ds_store *s) DS_MUST_USE;

/* Consistent hot backup: writes a compacted copy of the last commit into a
 * new directory path (must not exist; created 0700, file 0600; built under
 * "<path>.partial" and renamed into place after fsync, so path either holds
 * a complete backup or does not exist). Writers keep running meanwhile; the
 * copy counts as one reader. The backup opens with ds_store_open.
 * Returns 0, DS_EEXIST (path or path.partial exists), DS_EINVAL (path too
 * long), DS_ESTATE (store failed), DS_EFULL or DS_EIO. */
int ds_store_backup(struct ds_store *s, const char *path) DS_MUST_USE;

#endif
