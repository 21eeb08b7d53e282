/* The consensus log: the node's safety state and the blocks its consensus
 * core accepted, made durable before a vote, timeout or proposal leaves the
 * node (docs/PROTOCOL.md §15).
 *
 * Why a log and not a file per record: a new file costs a journal commit on
 * fsync (create, size, rename), several milliseconds on a busy disk, twice
 * per consensus round. The log is a sequence of segment files
 * DIR/wal-NNNNNNNN.log whose space is zero-filled ahead of the writes, so an
 * append is one pwrite of already allocated blocks plus one fdatasync.
 *
 * Record: "DSWR" || u8 type || u64be height || u32be len ||
 *         SHA-256(type || height || len || payload) || payload.
 * A segment ends at the first record that does not check (zero fill, or a
 * write torn by a crash); on open the last segment is cut there, so stale
 * bytes after a torn write can never be read as records.
 *
 * Segments roll over at a size limit; a new segment starts with the latest
 * safety record, so retiring older segments (once every block in them is
 * below a height the caller no longer needs) never loses the safety state.
 * Not thread-safe: one owner (the node's loop thread). */
#ifndef DS_NODE_WAL_H
#define DS_NODE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum { DS__WAL_BLOCK = 1, DS__WAL_SAFETY = 2 };

#define DS__WAL_SEG_MAX (64u << 20)      /* a segment rolls over past this */
#define DS__WAL_RECORD_MAX (40u << 20)   /* one record's payload */

struct ds__wal;

/* Called by ds__wal_open for every valid record, oldest first. */
typedef void (*ds__wal_visit_fn)(void *ctx, uint8_t type, uint64_t height, const uint8_t *payload,
				 size_t len);

/* Opens (creating when absent) the log in dir (which must exist), replays
 * it through visit, and readies it for appends. seg_max 0 means
 * DS__WAL_SEG_MAX (tests pass a small one). Returns 0, DS_EIO, DS_ENOMEM. */
int ds__wal_open(struct ds__wal **out, const char *dir, size_t seg_max, ds__wal_visit_fn visit,
		 void *ctx) DS_MUST_USE;
/* Appends one record and makes it durable. height is the block's (0 for a
 * safety record). Returns 0, DS_EINVAL (type, or len over
 * DS__WAL_RECORD_MAX), DS_EFULL (no space), DS_EIO, DS_ENOMEM. */
int ds__wal_append(struct ds__wal *w, uint8_t type, uint64_t height, const void *payload,
		   size_t len) DS_MUST_USE;
/* Removes the segments, other than the one being written, whose blocks are
 * all at heights below `below`. */
void ds__wal_retire(struct ds__wal *w, uint64_t below);
/* Segments on disk (for tests and logs). */
size_t ds__wal_segments(const struct ds__wal *w);
void ds__wal_close(struct ds__wal *w); /* NULL is a no-op */

#endif
