/* libFuzzer: reading the node's consensus log (src/node/node_wal.c) from a
 * segment file with any bytes: never a fault, only whole checked records
 * are replayed, and, as an oracle, the log is usable afterwards: a record
 * appended after the replayed ones comes back after them on the next open,
 * with nothing of the input's remains in between. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/node_wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t n;
	uint8_t last_type;
	uint64_t last_height;
	size_t last_len;
	uint8_t last_first;
};

static void visit(void *ctx, uint8_t type, uint64_t height, const uint8_t *p, size_t len)
{
	struct seen *s = ctx;
	if ((type != DS__WAL_BLOCK && type != DS__WAL_SAFETY) || len > DS__WAL_RECORD_MAX)
		abort();
	s->n++;
	s->last_type = type;
	s->last_height = height;
	s->last_len = len;
	s->last_first = len ? p[0] : 0;
}

/* Segments of 128 KiB: inputs (at most 70,000 bytes in CI) never roll over. */
static char dir[64];
static char seg[96];

static void rm_segments(void)
{
	for (unsigned i = 1; i <= 3; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/wal-%08u.log", dir, i);
		unlink(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		strcpy(dir, "/tmp/ds-fuzz-wal-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(seg, sizeof(seg), "%s/wal-00000001.log", dir);
	}
	rm_segments();
	FILE *f = fopen(seg, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	struct seen a = {0}, b = {0};
	struct ds__wal *w;
	if (ds__wal_open(&w, dir, 128u << 10, visit, &a) != 0)
		return 0; /* e.g. out of memory: refused, not a fault */
	static const uint8_t mark[] = {0x5a, 1, 2, 3};
	if (ds__wal_append(w, DS__WAL_BLOCK, 77, mark, sizeof(mark)) != 0)
		abort();
	ds__wal_close(w);
	if (ds__wal_open(&w, dir, 128u << 10, visit, &b) != 0)
		abort();
	ds__wal_close(w);
	/* The same records again, then exactly the appended one. */
	if (b.n != a.n + 1 || b.last_type != DS__WAL_BLOCK || b.last_height != 77 ||
	    b.last_len != sizeof(mark) || b.last_first != 0x5a)
		abort();
	return 0;
}
