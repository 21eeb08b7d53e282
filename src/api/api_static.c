/* api — static files (the web explorer).
 *
 * Paths are resolved one segment at a time with openat(O_NOFOLLOW) from a
 * directory descriptor opened at registration, so neither "..", nor a
 * symlink, nor a later rename of the directory can lead outside it.
 */
#include "api/api_int.h"

#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *ext;
	const char *type;
} ctypes[] = {
	{"html", "text/html; charset=utf-8"},
	{"htm", "text/html; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"json", "application/json"},
	{"map", "application/json"},
	{"txt", "text/plain; charset=utf-8"},
	{"md", "text/markdown; charset=utf-8"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"webp", "image/webp"},
	{"ico", "image/x-icon"},
	{"wasm", "application/wasm"},
	{"woff", "font/woff"},
	{"woff2", "font/woff2"},
};

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot)
		for (size_t i = 0; i < DS_ARRAY_LEN(ctypes); i++)
			if (strcasecmp(dot + 1, ctypes[i].ext) == 0)
				return ctypes[i].type;
	return "application/octet-stream";
}

static bool segment_ok(const char *s)
{
	if (!*s || *s == '.')
		return false; /* "", ".", "..", hidden files */
	if (strlen(s) > 255)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int ds_api_static_dir(struct ds_api *api, const char *prefix, const char *dir)
{
	size_t plen = strlen(prefix);
	if (prefix[0] != '/' || plen >= DS_API_PATH_MAX)
		return DS_EINVAL;
	char norm[DS_API_PATH_MAX];
	snprintf(norm, sizeof(norm), "%s", prefix);
	while (plen > 0 && norm[plen - 1] == '/')
		norm[--plen] = 0;
	char tmp[DS_API_PATH_MAX];
	const char *seg[DS_API_SEGMENTS_MAX];
	size_t nseg;
	if (plen && (!ds__split_path(norm, tmp, sizeof(tmp), seg, &nseg)))
		return DS_EINVAL;
	for (size_t i = 0; plen && i < nseg; i++)
		if (!segment_ok(seg[i]))
			return DS_EINVAL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DS_EIO;
	pthread_mutex_lock(&api->reg_mu);
	size_t n = atomic_load(&api->nstatic);
	int rc = 0;
	if (n == DS_API_STATIC_MAX)
		rc = DS_EFULL;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (strcmp(api->statics[i].prefix, norm) == 0)
			rc = DS_EEXIST;
	if (rc == 0) {
		struct ds__static *st = &api->statics[n];
		snprintf(st->prefix, sizeof(st->prefix), "%s", norm);
		st->prefix_len = plen;
		st->dirfd = fd;
		atomic_store_explicit(&api->nstatic, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&api->reg_mu);
	if (rc)
		close(fd);
	return rc;
}

static enum MHD_Result not_found(struct ds__rq *rq, struct MHD_Connection *conn)
{
	return ds__queue_error(rq, conn, 404, DS_API_E_NOT_FOUND, "no such file");
}

enum MHD_Result ds__static_serve(struct ds__rq *rq, struct MHD_Connection *conn, const char *url)
{
	const struct ds__static *st = rq->st;
	char rel[DS_API_PATH_MAX + 16];
	const char *r = url + st->prefix_len;
	if (*r == '/')
		r++;
	size_t rlen = strlen(r);
	if (rlen + 16 > sizeof(rel))
		return not_found(rq, conn);
	memcpy(rel, r, rlen + 1);
	if (rlen == 0 || rel[rlen - 1] == '/')
		memcpy(rel + rlen, "index.html", 11);

	int dfd = st->dirfd, fd = -1;
	char *segs[DS_API_SEGMENTS_MAX];
	size_t nseg = 0;
	/* Empty segments ("a//b") are refused, not collapsed. */
	for (char *p = rel;;) {
		if (nseg == DS_API_SEGMENTS_MAX)
			return not_found(rq, conn);
		segs[nseg++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = 0;
		p = slash + 1;
	}
	for (size_t i = 0; i < nseg; i++)
		if (!segment_ok(segs[i]))
			return not_found(rq, conn);
	for (size_t i = 0; i < nseg; i++) {
		bool last = i + 1 == nseg;
		int nfd = openat(dfd, segs[i],
				 O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (last ? 0 : O_DIRECTORY));
		if (dfd != st->dirfd)
			close(dfd);
		if (nfd < 0)
			return not_found(rq, conn);
		if (last)
			fd = nfd;
		else
			dfd = nfd;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > DS_API_STATIC_FILE_MAX) {
		close(fd);
		return not_found(rq, conn);
	}
	/* Regular file: clear O_NONBLOCK (used only so a FIFO could not block open). */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(segs[nseg - 1]));
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	rq->status = 200;
	rq->responded = true;
	enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
