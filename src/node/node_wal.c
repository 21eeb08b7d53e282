/* The consensus log (node_wal.h). */
#include "node/node_wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crypto/crypto.h"

#define MOD "node"

#define HDR_LEN (4 + 1 + 8 + 4 + DS_HASH_LEN)
#define ZERO_CHUNK (4u << 20) /* zero fill ahead of the writes */
#define SEGS_MAX 4096u

struct seg {
	uint32_t seq;
	bool has_blocks, has_safety;
	uint64_t max_height;
};

struct ds__wal {
	char dir[4096];
	size_t seg_max;
	struct seg *segs; /* ascending seq; the last is being written */
	size_t nsegs;
	int fd;          /* the last segment */
	uint64_t pos;    /* where the next record goes */
	uint64_t zeroed; /* bytes of the last segment that are written (records or zeros) */
	uint8_t *safety; /* the latest safety record's payload, re-written first in a new segment */
	size_t safety_len;
};

static void seg_path(char *out, size_t cap, const struct ds__wal *w, uint32_t seq)
{
	snprintf(out, cap, "%s/wal-%08u.log", w->dir, seq);
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DS_EIO;
	int rc = fsync(fd) == 0 ? 0 : DS_EIO;
	close(fd);
	return rc;
}

static int io_err(int e)
{
	return e == ENOSPC || e == EDQUOT ? DS_EFULL : DS_EIO;
}

static void record_hash(uint8_t out[DS_HASH_LEN], const uint8_t *hdr13, const void *payload, size_t len)
{
	struct ds_sha256_ctx h;
	ds_sha256_init(&h);
	ds_sha256_update(&h, hdr13, 13);
	ds_sha256_update(&h, payload, len);
	ds_sha256_final(out, &h);
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k = pwrite(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return io_err(k < 0 ? errno : ENOSPC);
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t k = pread(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return DS_ENOTFOUND; /* past the end, or unreadable: the segment ends here */
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* Zero fill [w->zeroed, want) in chunks, so appends overwrite allocated
 * space. */
static int zero_to(struct ds__wal *w, uint64_t want)
{
	static const uint8_t zeros[64 << 10];
	while (w->zeroed < want) {
		size_t n = sizeof(zeros);
		int rc = pwrite_all(w->fd, zeros, n, w->zeroed);
		if (rc)
			return rc;
		w->zeroed += n;
	}
	return 0;
}

static int write_record(struct ds__wal *w, uint8_t type, uint64_t height, const void *payload, size_t len)
{
	uint8_t hdr[HDR_LEN];
	memcpy(hdr, "DSWR", 4);
	hdr[4] = type;
	ds_put_u64be(hdr + 5, height);
	ds_put_u32be(hdr + 13, (uint32_t)len);
	record_hash(hdr + 17, hdr + 4, payload, len);
	uint64_t end = w->pos + HDR_LEN + len;
	if (end > w->zeroed) {
		uint64_t want = end + (w->seg_max < ZERO_CHUNK ? w->seg_max : ZERO_CHUNK);
		int rc = zero_to(w, want - want % (64u << 10));
		if (rc)
			return rc;
	}
	int rc = pwrite_all(w->fd, hdr, HDR_LEN, w->pos);
	if (!rc)
		rc = pwrite_all(w->fd, payload, len, w->pos + HDR_LEN);
	if (!rc && fdatasync(w->fd) != 0)
		rc = io_err(errno);
	if (rc)
		return rc;
	w->pos = end;
	struct seg *s = &w->segs[w->nsegs - 1];
	if (type == DS__WAL_SAFETY)
		s->has_safety = true;
	if (type == DS__WAL_BLOCK) {
		if (!s->has_blocks || height > s->max_height)
			s->max_height = height;
		s->has_blocks = true;
	}
	return 0;
}

static int remember_safety(struct ds__wal *w, const void *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return DS_ENOMEM;
	memcpy(copy, p, len);
	free(w->safety);
	w->safety = copy;
	w->safety_len = len;
	return 0;
}

/* Starts segment seq as the one written, with the latest safety record
 * first. */
static int new_segment(struct ds__wal *w, uint32_t seq)
{
	if (w->nsegs == SEGS_MAX)
		return DS_EFULL;
	char path[4200];
	seg_path(path, sizeof(path), w, seq);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err(errno);
	int rc = sync_dir(w->dir);
	if (rc) {
		close(fd);
		return rc;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->pos = 0;
	w->zeroed = 0;
	w->segs[w->nsegs++] = (struct seg){.seq = seq};
	if (w->safety)
		rc = write_record(w, DS__WAL_SAFETY, 0, w->safety, w->safety_len);
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Replays one segment; returns where its valid records end. */
static int replay(struct ds__wal *w, int fd, struct seg *s, ds__wal_visit_fn visit, void *ctx,
		  uint64_t *end)
{
	uint64_t off = 0;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	for (;;) {
		uint8_t hdr[HDR_LEN];
		if (pread_all(fd, hdr, HDR_LEN, off) != 0 || memcmp(hdr, "DSWR", 4) != 0)
			break;
		uint8_t type = hdr[4];
		uint64_t height = ds_get_u64be(hdr + 5);
		uint32_t len = ds_get_u32be(hdr + 13);
		if ((type != DS__WAL_BLOCK && type != DS__WAL_SAFETY) || len > DS__WAL_RECORD_MAX)
			break;
		if (len > cap) {
			uint8_t *nb = realloc(buf, len);
			if (!nb) {
				rc = DS_ENOMEM;
				break;
			}
			buf = nb;
			cap = len;
		}
		uint8_t want[DS_HASH_LEN];
		if (pread_all(fd, buf, len, off + HDR_LEN) != 0)
			break;
		record_hash(want, hdr + 4, buf, len);
		if (memcmp(want, hdr + 17, DS_HASH_LEN) != 0)
			break; /* torn by a crash */
		if (type == DS__WAL_SAFETY) {
			if ((rc = remember_safety(w, buf, len)) != 0)
				break;
			s->has_safety = true;
		} else {
			if (!s->has_blocks || height > s->max_height)
				s->max_height = height;
			s->has_blocks = true;
		}
		visit(ctx, type, height, buf, len);
		off += HDR_LEN + len;
	}
	free(buf);
	*end = off;
	return rc;
}

int ds__wal_open(struct ds__wal **out, const char *dir, size_t seg_max, ds__wal_visit_fn visit, void *ctx)
{
	*out = NULL;
	struct ds__wal *w = calloc(1, sizeof(*w));
	if (!w)
		return DS_ENOMEM;
	w->fd = -1;
	w->seg_max = seg_max ? seg_max : DS__WAL_SEG_MAX;
	if (strlen(dir) >= sizeof(w->dir) - 32) {
		free(w);
		return DS_EINVAL;
	}
	strcpy(w->dir, dir);
	w->segs = calloc(SEGS_MAX, sizeof(*w->segs));
	uint32_t *seqs = calloc(SEGS_MAX, sizeof(*seqs));
	int rc = w->segs && seqs ? 0 : DS_ENOMEM;
	size_t n = 0;
	DIR *d = rc ? NULL : opendir(dir);
	if (!rc && !d)
		rc = DS_EIO;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		unsigned seq;
		char tail;
		if (strlen(de->d_name) != 16 || sscanf(de->d_name, "wal-%8u.lo%c", &seq, &tail) != 2 ||
		    tail != 'g')
			continue;
		if (n == SEGS_MAX) {
			rc = DS_ELIMIT;
			break;
		}
		seqs[n++] = seq;
	}
	if (d)
		closedir(d);
	if (!rc)
		qsort(seqs, n, sizeof(*seqs), cmp_u32);
	for (size_t i = 0; !rc && i < n; i++) {
		char path[4200];
		seg_path(path, sizeof(path), w, seqs[i]);
		bool last = i + 1 == n;
		int fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			rc = DS_EIO;
			break;
		}
		w->segs[w->nsegs] = (struct seg){.seq = seqs[i]};
		uint64_t end = 0;
		rc = replay(w, fd, &w->segs[w->nsegs], visit, ctx, &end);
		w->nsegs++;
		if (!rc && last) {
			/* Cut what follows the last valid record: a torn write's
			 * remains must never be read as records later. */
			if (ftruncate(fd, (off_t)end) != 0 || fsync(fd) != 0)
				rc = DS_EIO;
			w->fd = fd;
			w->pos = end;
			w->zeroed = end;
		} else {
			close(fd);
		}
	}
	free(seqs);
	if (!rc && n == 0)
		rc = new_segment(w, 1);
	/* A crash between starting a segment and copying the safety state
	 * into it: copy it now, before anything may retire the older one. */
	if (!rc && w->safety && !w->segs[w->nsegs - 1].has_safety)
		rc = write_record(w, DS__WAL_SAFETY, 0, w->safety, w->safety_len);
	if (rc) {
		ds__wal_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

int ds__wal_append(struct ds__wal *w, uint8_t type, uint64_t height, const void *payload, size_t len)
{
	if ((type != DS__WAL_BLOCK && type != DS__WAL_SAFETY) || len > DS__WAL_RECORD_MAX)
		return DS_EINVAL;
	if (w->pos > 0 && w->pos + HDR_LEN + len > w->seg_max) {
		int rc = new_segment(w, w->segs[w->nsegs - 1].seq + 1);
		if (rc)
			return rc;
	}
	int rc = write_record(w, type, height, payload, len);
	if (!rc && type == DS__WAL_SAFETY)
		rc = remember_safety(w, payload, len);
	return rc;
}

void ds__wal_retire(struct ds__wal *w, uint64_t below)
{
	size_t k = 0;
	for (size_t i = 0; i < w->nsegs; i++) {
		struct seg s = w->segs[i];
		if (i + 1 < w->nsegs && (!s.has_blocks || s.max_height < below)) {
			char path[4200];
			seg_path(path, sizeof(path), w, s.seq);
			if (unlink(path) == 0 || errno == ENOENT)
				continue;
		}
		w->segs[k++] = s;
	}
	w->nsegs = k;
}

size_t ds__wal_segments(const struct ds__wal *w)
{
	return w->nsegs;
}

void ds__wal_close(struct ds__wal *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->segs);
	free(w->safety);
	free(w);
}
