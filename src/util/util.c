#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name;
	const char *text;
} ds_errors[] = {
	{"OK", "success"},
	{"EINVAL", "invalid argument or malformed input"},
	{"ENOMEM", "out of memory"},
	{"ETRUNC", "input truncated"},
	{"ETRAILING", "trailing bytes after value"},
	{"ENONMINIMAL", "non-minimal integer encoding"},
	{"ETOOBIG", "length or count exceeds maximum"},
	{"EVERSION", "unknown version"},
	{"ETAG", "unknown tag"},
	{"ESIG", "bad signature"},
	{"ECRYPTO", "crypto library failure"},
	{"EIO", "input/output error"},
	{"ENOTFOUND", "not found"},
	{"EEXIST", "already exists"},
	{"EPERM", "permission refused"},
	{"EPROOF", "proof does not verify"},
	{"ECORRUPT", "stored data is corrupt"},
	{"EFULL", "full"},
	{"ECHAIN", "wrong chain id"},
	{"EREPLAY", "replayed transaction or bad nonce"},
	{"EEXPIRED", "expired"},
	{"ESTATE", "wrong state for this operation"},
	{"EDENIED", "access denied"},
	{"ELIMIT", "resource limit exceeded"},
	{"ECONTRACT", "contract error"},
	{"ECLOSED", "closed"},
	{"ETIMEOUT", "timed out"},
	{"ERANGE", "value out of range"},
	{"EAGAIN", "try again"},
};

const char *ds_strerror(int err)
{
	if (err > 0 || err <= DS_E_LAST)
		return "unknown error";
	return ds_errors[-err].text;
}

const char *ds_errname(int err)
{
	if (err > 0 || err <= DS_E_LAST)
		return "EUNKNOWN";
	return ds_errors[-err].name;
}

void ds__assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "danshari: assertion failed: %s (%s:%d %s)\n", expr, file, line, func);
	fflush(stderr);
	abort();
}

void ds_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ds_hex_decode(uint8_t *out, size_t n, const char *hex, size_t hex_len)
{
	if (hex_len != 2 * n)
		return DS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)hex[2 * i]);
		int lo = hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return DS_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void ds_buf_init(struct ds_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void ds_buf_free(struct ds_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void ds_buf_reset(struct ds_buf *b)
{
	b->len = 0;
	b->err = 0;
}

int ds_buf_reserve(struct ds_buf *b, size_t extra)
{
	if (b->err)
		return b->err;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->err = DS_ENOMEM;
		return b->err;
	}
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->err = DS_ENOMEM;
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void ds_buf_append(struct ds_buf *b, const void *p, size_t n)
{
	if (n == 0 || ds_buf_reserve(b, n) != 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void ds_buf_printf(struct ds_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = DS_EINVAL;
		va_end(ap2);
		return;
	}
	if (ds_buf_reserve(b, (size_t)n + 1) == 0) {
		vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

uint64_t ds_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ds_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum ds_log_level log_level = DS_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void ds_log_set_level(enum ds_log_level lvl)
{
	log_level = lvl;
}

enum ds_log_level ds_log_get_level(void)
{
	return log_level;
}

int ds_log_parse_level(enum ds_log_level *out, const char *s)
{
	for (int i = 0; i <= DS_LOG_OFF; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum ds_log_level)i;
			return 0;
		}
	}
	return DS_EINVAL;
}

void ds_log(enum ds_log_level lvl, const char *mod, const char *msg, const char *kvfmt, ...)
{
	if (lvl < log_level || lvl >= DS_LOG_OFF)
		return;
	char line[1024];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s mod=%s msg=\"%s\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl], mod, msg);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line) - 2) {
		va_list ap;
		va_start(ap, kvfmt);
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, kvfmt, ap);
		va_end(ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines from threads never interleave. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

int ds_file_read(uint8_t **out, size_t *out_len, const char *path, size_t max_bytes)
{
	*out = NULL;
	*out_len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? DS_ENOTFOUND : DS_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return DS_EIO;
	}
	if ((uint64_t)st.st_size > max_bytes) {
		close(fd);
		return DS_ETOOBIG;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *p = malloc(len + 1);
	if (!p) {
		close(fd);
		return DS_ENOMEM;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != len) {
		free(p);
		return DS_EIO;
	}
	p[len] = 0; /* convenience for text files; not counted in len */
	*out = p;
	*out_len = len;
	return 0;
}

int ds_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, int excl)
{
	if (excl && access(path, F_OK) == 0)
		return DS_EEXIST;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp)
		return DS_ENOMEM;
	snprintf(tmp, plen + 16, "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		free(tmp);
		return DS_EIO;
	}
	int rc = 0;
	if (fchmod(fd, (mode_t)mode) != 0)
		rc = DS_EIO;
	const uint8_t *p = data;
	size_t done = 0;
	while (rc == 0 && done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = DS_EIO;
		else
			done += (size_t)w;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = DS_EIO;
	close(fd);
	if (rc == 0) {
		if (excl) {
			/* link() fails if the target appeared meanwhile: no overwrite race. */
			if (link(tmp, path) != 0)
				rc = errno == EEXIST ? DS_EEXIST : DS_EIO;
			unlink(tmp);
		} else if (rename(tmp, path) != 0) {
			rc = DS_EIO;
		}
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}
