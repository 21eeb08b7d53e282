/* The node's consensus log (src/node/node_wal.c): records come back in
 * order after a reopen; a torn or corrupted tail ends the log and is cut so
 * it is never read later; segments roll over with the safety state copied
 * first; retiring old segments keeps the latest safety state; a crash
 * between starting a segment and copying the safety state into it loses
 * nothing. */
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/node_wal.h"
#include "util/util.h"

#define SEG_SMALL 4096

struct seen {
	size_t n;
	uint8_t type[256];
	uint64_t height[256];
	uint8_t first[256]; /* first payload byte */
	size_t len[256];
	uint8_t last_safety[64];
	size_t last_safety_len;
};

static void visit(void *ctx, uint8_t type, uint64_t height, const uint8_t *p, size_t len)
{
	struct seen *s = ctx;
	assert_true(s->n < 256);
	s->type[s->n] = type;
	s->height[s->n] = height;
	s->first[s->n] = len ? p[0] : 0;
	s->len[s->n] = len;
	s->n++;
	if (type == DS__WAL_SAFETY) {
		assert_true(len <= sizeof(s->last_safety));
		memcpy(s->last_safety, p, len);
		s->last_safety_len = len;
	}
}

static struct ds__wal *reopen(const char *dir, size_t seg_max, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	struct ds__wal *w;
	assert_int_equal(ds__wal_open(&w, dir, seg_max, visit, s), 0);
	return w;
}

static void append_block(struct ds__wal *w, uint64_t height, uint8_t fill, size_t len)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	memset(p, fill, len);
	assert_int_equal(ds__wal_append(w, DS__WAL_BLOCK, height, p, len), 0);
	free(p);
}

static void append_safety(struct ds__wal *w, const char *text)
{
	assert_int_equal(ds__wal_append(w, DS__WAL_SAFETY, 0, text, strlen(text)), 0);
}

static char *seg_file(const char *dir, unsigned seq)
{
	char *p = malloc(strlen(dir) + 32);
	assert_non_null(p);
	sprintf(p, "%s/wal-%08u.log", dir, seq);
	return p;
}

static void test_roundtrip(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("wal-rt");
	struct seen s;
	struct ds__wal *w = reopen(dir, 0, &s);
	assert_int_equal(s.n, 0);
	append_block(w, 5, 0xa5, 1000);
	append_safety(w, "safety-1");
	append_block(w, 6, 0xb6, 0);
	append_safety(w, "safety-2");
	assert_int_equal(ds__wal_append(w, 9, 0, "x", 1), DS_EINVAL);
	assert_int_equal(ds__wal_append(w, DS__WAL_BLOCK, 1, "x", DS__WAL_RECORD_MAX + 1), DS_EINVAL);
	ds__wal_close(w);
	w = reopen(dir, 0, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.type[0], DS__WAL_BLOCK);
	assert_int_equal(s.height[0], 5);
	assert_int_equal(s.len[0], 1000);
	assert_int_equal(s.first[0], 0xa5);
	assert_int_equal(s.type[2], DS__WAL_BLOCK);
	assert_int_equal(s.len[2], 0);
	assert_int_equal(s.last_safety_len, 8);
	assert_memory_equal(s.last_safety, "safety-2", 8);
	/* Appends after a reopen follow the old records. */
	append_block(w, 7, 0xc7, 10);
	ds__wal_close(w);
	w = reopen(dir, 0, &s);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.height[4], 7);
	ds__wal_close(w);
	tu_rmrf(dir);
	free(dir);
}

/* A crash mid-append leaves a torn record: the log ends before it, the
 * file is cut there, and a shorter record written in its place is not
 * followed by the torn one's remains. */
static void test_torn_tail(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("wal-torn");
	struct seen s;
	struct ds__wal *w = reopen(dir, 0, &s);
	append_safety(w, "safety-A");
	append_block(w, 1, 0x11, 300);
	append_block(w, 2, 0x22, 5000);
	ds__wal_close(w);
	char *f = seg_file(dir, 1);
	struct stat st;
	assert_int_equal(stat(f, &st), 0);
	/* Flip a byte inside the last record's payload (a torn write). */
	long rec3 = (long)(49 + 8) + (49 + 300);
	int fd = open(f, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, rec3 + 49 + 4000), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, rec3 + 49 + 4000), 1);
	close(fd);
	w = reopen(dir, 0, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.height[1], 1);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_size, rec3); /* cut at the torn record */
	append_block(w, 3, 0x33, 10);
	ds__wal_close(w);
	w = reopen(dir, 0, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.height[2], 3);
	assert_memory_equal(s.last_safety, "safety-A", 8);
	ds__wal_close(w);
	/* A record cut short (the file ends inside block 3's record): the
	 * same. */
	assert_int_equal(truncate(f, rec3 + 49 + 10 - 30), 0);
	w = reopen(dir, 0, &s);
	assert_int_equal(s.n, 2);
	ds__wal_close(w);
	free(f);
	tu_rmrf(dir);
	free(dir);
}

/* Segments roll over at the size limit with the safety state first;
 * retiring keeps the segment being written and those with blocks still
 * needed, and the safety state survives every retirement. */
static void test_rollover_retire(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("wal-roll");
	struct seen s;
	struct ds__wal *w = reopen(dir, SEG_SMALL, &s);
	append_safety(w, "safety-0");
	for (uint64_t h = 1; h <= 40; h++) {
		append_block(w, h, (uint8_t)h, 700);
		if (h == 20)
			append_safety(w, "safety-20");
	}
	size_t nseg = ds__wal_segments(w);
	assert_true(nseg >= 8);
	ds__wal_close(w);
	w = reopen(dir, SEG_SMALL, &s);
	/* Every block once, in order; safety copies at each segment start. */
	uint64_t next = 1;
	size_t safeties = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.type[i] == DS__WAL_SAFETY) {
			safeties++;
			continue;
		}
		assert_int_equal(s.height[i], next);
		assert_int_equal(s.first[i], (uint8_t)next);
		next++;
	}
	assert_int_equal(next, 41);
	assert_true(safeties >= nseg);
	assert_memory_equal(s.last_safety, "safety-20", 9);
	/* Blocks below 30 are no longer needed. */
	ds__wal_retire(w, 30);
	size_t left = ds__wal_segments(w);
	assert_true(left < nseg);
	assert_true(left >= 2);
	ds__wal_close(w);
	w = reopen(dir, SEG_SMALL, &s);
	assert_memory_equal(s.last_safety, "safety-20", 9);
	bool saw[41] = {false};
	for (size_t i = 0; i < s.n; i++)
		if (s.type[i] == DS__WAL_BLOCK)
			saw[s.height[i]] = true;
	for (uint64_t h = 30; h <= 40; h++)
		assert_true(saw[h]);
	assert_false(saw[1]);
	/* Everything retired but the segment being written. */
	ds__wal_retire(w, UINT64_MAX);
	assert_int_equal(ds__wal_segments(w), 1);
	ds__wal_close(w);
	w = reopen(dir, SEG_SMALL, &s);
	assert_memory_equal(s.last_safety, "safety-20", 9);
	ds__wal_close(w);
	tu_rmrf(dir);
	free(dir);
}

/* A crash right after a new segment was created, before the safety state
 * was copied into it: reopening copies it, so retiring the old segment
 * keeps it. */
static void test_empty_last_segment(void **state)
{
	(void)state;
	char *dir = tu_tmpdir("wal-empty");
	struct seen s;
	struct ds__wal *w = reopen(dir, 0, &s);
	append_safety(w, "safety-X");
	append_block(w, 4, 0x44, 50);
	ds__wal_close(w);
	char *f2 = seg_file(dir, 2);
	int fd = open(f2, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	w = reopen(dir, 0, &s);
	assert_int_equal(ds__wal_segments(w), 2);
	ds__wal_retire(w, 100);
	assert_int_equal(ds__wal_segments(w), 1);
	ds__wal_close(w);
	w = reopen(dir, 0, &s);
	assert_int_equal(s.last_safety_len, 8);
	assert_memory_equal(s.last_safety, "safety-X", 8);
	ds__wal_close(w);
	free(f2);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	tu_seed();
	ds_log_set_level(DS_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_rollover_retire),
		cmocka_unit_test(test_empty_last_segment),
	};
	return cmocka_run_group_tests_name("wal", tests, NULL, NULL);
}
