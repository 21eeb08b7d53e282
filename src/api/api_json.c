/* api — responses, JSON errors and the strict input helpers handlers use. */
#include "api/api_int.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "codec/codec.h"

void ds_api_resp_init(struct ds_api_resp *r)
{
	memset(r, 0, sizeof(*r));
	ds_buf_init(&r->body);
}

static void resp_clear_body(struct ds_api_resp *r)
{
	if (r->json)
		json_decref(r->json);
	r->json = NULL;
	ds_buf_reset(&r->body);
	r->content_type = NULL;
}

void ds_api_resp_free(struct ds_api_resp *r)
{
	resp_clear_body(r);
	ds_buf_free(&r->body);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->header[i][0]);
		free(r->header[i][1]);
	}
	memset(r, 0, sizeof(*r));
	ds_buf_init(&r->body);
}

void ds_api_resp_json(struct ds_api_resp *r, unsigned status, json_t *j)
{
	resp_clear_body(r);
	if (!j) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "out of memory");
		return;
	}
	r->status = status;
	r->json = j;
}

void ds_api_resp_bytes(struct ds_api_resp *r, unsigned status, const char *content_type,
		       const void *p, size_t n)
{
	resp_clear_body(r);
	ds_buf_append(&r->body, p, n);
	if (r->body.err) {
		ds_api_resp_error(r, 500, DS_API_E_INTERNAL, "out of memory");
		return;
	}
	r->status = status;
	r->content_type = content_type;
}

void ds_api_resp_error(struct ds_api_resp *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages may quote client input: keep only valid UTF-8 so jansson
	 * never refuses the error itself (cut at the first bad byte). */
	size_t n = strlen(msg);
	while (n > 0 && !ds_utf8_valid((const uint8_t *)msg, n))
		n--;
	msg[n] = 0;
	resp_clear_body(r);
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	if (!j) {
		/* A fixed body needs no allocation by jansson. */
		static const char oom[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
		ds_buf_append(&r->body, oom, sizeof(oom) - 1);
		r->status = 500;
		r->content_type = "application/json";
		return;
	}
	r->status = status;
	r->json = j;
}

void ds_api_resp_from_err(struct ds_api_resp *r, int err, const char *message)
{
	unsigned st = 500;
	const char *code = DS_API_E_INTERNAL;
	switch (err) {
	case DS_ENOTFOUND:
		st = 404, code = DS_API_E_NOT_FOUND;
		break;
	case DS_EINVAL: case DS_ETRUNC: case DS_ETRAILING: case DS_ENONMINIMAL: case DS_ETOOBIG:
	case DS_EVERSION: case DS_ETAG: case DS_ESIG: case DS_ECHAIN: case DS_EREPLAY:
	case DS_EEXPIRED: case DS_ERANGE: case DS_EPROOF:
		st = 400, code = DS_API_E_BAD_REQUEST;
		break;
	case DS_EDENIED: case DS_EPERM:
		st = 403, code = DS_API_E_FORBIDDEN;
		break;
	case DS_EEXIST:
		st = 409, code = DS_API_E_CONFLICT;
		break;
	case DS_EFULL: case DS_EAGAIN: case DS_ECLOSED:
		st = 503, code = DS_API_E_UNAVAILABLE;
		break;
	case DS_ETIMEOUT:
		st = 504, code = DS_API_E_TIMEOUT;
		break;
	default:
		break;
	}
	ds_api_resp_error(r, st, code, "%s", message ? message : ds_strerror(err));
}

bool ds__token_ok(const char *s)
{
	/* RFC 9110 tchar */
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (!*s)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return true;
}

int ds_api_resp_header(struct ds_api_resp *r, const char *name, const char *value)
{
	if (!ds__token_ok(name) || strlen(name) > 64 || strlen(value) > 1024)
		return DS_EINVAL;
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return DS_EINVAL;
	if (r->nheaders == DS_API_HEADERS_MAX)
		return DS_EFULL;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return DS_ENOMEM;
	}
	r->header[r->nheaders][0] = n;
	r->header[r->nheaders][1] = v;
	r->nheaders++;
	return 0;
}

bool ds__split_path(const char *path, char *buf, size_t cap, const char **seg, size_t *nseg)
{
	size_t len = strlen(path);
	if (path[0] != '/' || len >= cap)
		return false;
	memcpy(buf, path + 1, len); /* includes the NUL */
	*nseg = 0;
	if (len == 1)
		return true; /* "/" has no segments */
	char *p = buf;
	for (;;) {
		if (*nseg == DS_API_SEGMENTS_MAX)
			return false;
		seg[(*nseg)++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			return true;
		*slash = 0;
		p = slash + 1;
	}
}

const char *ds_api_param(const struct ds_api_req *req, const char *name)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (strcmp(req->param_name[i], name) == 0)
			return req->param_value[i];
	return NULL;
}

const char *ds_api_query(const struct ds_api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->ds__conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *ds_api_header(const struct ds_api_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->ds__conn, MHD_HEADER_KIND, name);
}

int ds_api_parse_u64(uint64_t *out, const char *s)
{
	*out = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return DS_EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return DS_EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return DS_ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ds_api_query_u64(uint64_t *out, const struct ds_api_req *req, struct ds_api_resp *resp,
		     const char *name, uint64_t def, uint64_t min, uint64_t max)
{
	*out = def;
	const char *s = ds_api_query(req, name);
	if (!s)
		return 0;
	uint64_t v;
	int rc = ds_api_parse_u64(&v, s);
	if (rc == 0 && (v < min || v > max))
		rc = DS_ERANGE;
	if (rc) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_PARAM,
				  "query parameter %s must be an integer in [%llu, %llu]", name,
				  (unsigned long long)min, (unsigned long long)max);
		return rc;
	}
	*out = v;
	return 0;
}

static int hex_strict(uint8_t *out, size_t n, const char *hex, size_t len)
{
	if (len >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
		hex += 2;
		len -= 2;
	}
	if (len != 2 * n)
		return DS_EINVAL;
	return ds_hex_decode(out, n, hex, len);
}

int ds_api_hex(uint8_t *out, size_t n, const char *hex, struct ds_api_resp *resp, const char *what)
{
	if (!hex || hex_strict(out, n, hex, strlen(hex)) != 0) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_PARAM, "%s must be %zu bytes of hex", what, n);
		return DS_EINVAL;
	}
	return 0;
}

static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == 0 || *ct == ';';
}

static bool hex_field_ok(const char *s, size_t len, uint64_t want)
{
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (len % 2 || (want && len != 2 * want))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static const char *field_check(const struct ds_api_field *f, json_t *v)
{
	switch (f->type) {
	case DS_API_JSTR:
		if (!json_is_string(v))
			return "a string";
		if (f->max && json_string_length(v) > f->max)
			return "a shorter string";
		return NULL;
	case DS_API_JHEX:
		if (!json_is_string(v) || !hex_field_ok(json_string_value(v), json_string_length(v), f->max))
			return f->max ? "hex of the right length" : "hex";
		return NULL;
	case DS_API_JUINT:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (f->max && (uint64_t)json_integer_value(v) > f->max))
			return "a non-negative integer in range";
		return NULL;
	case DS_API_JINT:
		return json_is_integer(v) ? NULL : "an integer";
	case DS_API_JBOOL:
		return json_is_boolean(v) ? NULL : "a boolean";
	case DS_API_JOBJ:
		return json_is_object(v) ? NULL : "an object";
	case DS_API_JARR:
		if (!json_is_array(v))
			return "an array";
		if (f->max && json_array_size(v) > f->max)
			return "a shorter array";
		return NULL;
	case DS_API_JANY:
		return NULL;
	}
	return "valid";
}

int ds_api_json_body(json_t **out, const struct ds_api_req *req, struct ds_api_resp *resp,
		     const struct ds_api_field *fields, size_t nfields)
{
	*out = NULL;
	if (!is_json_type(req->content_type)) {
		ds_api_resp_error(resp, 415, DS_API_E_UNSUPPORTED_MEDIA_TYPE,
				  "Content-Type must be application/json");
		return DS_EINVAL;
	}
	if (req->body_len == 0) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_JSON, "empty body");
		return DS_EINVAL;
	}
	json_error_t jerr;
	json_t *j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_JSON, "invalid JSON at byte %d: %s",
				  jerr.position, jerr.text);
		return DS_EINVAL;
	}
	if (!json_is_object(j)) {
		ds_api_resp_error(resp, 400, DS_API_E_BAD_JSON, "body must be a JSON object");
		json_decref(j);
		return DS_EINVAL;
	}
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val) {
		const struct ds_api_field *f = NULL;
		for (size_t i = 0; i < nfields && !f; i++)
			if (strcmp(fields[i].name, key) == 0)
				f = &fields[i];
		if (!f) {
			ds_api_resp_error(resp, 400, DS_API_E_UNKNOWN_FIELD, "unknown field \"%.64s\"", key);
			json_decref(j);
			return DS_EINVAL;
		}
		const char *want = field_check(f, val);
		if (want) {
			ds_api_resp_error(resp, 400, DS_API_E_BAD_FIELD, "field \"%s\" must be %s", f->name, want);
			json_decref(j);
			return DS_EINVAL;
		}
	}
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].required && !json_object_get(j, fields[i].name)) {
			ds_api_resp_error(resp, 400, DS_API_E_MISSING_FIELD, "missing field \"%s\"",
					  fields[i].name);
			json_decref(j);
			return DS_EINVAL;
		}
	}
	*out = j;
	return 0;
}
