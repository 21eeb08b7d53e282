/* Node configuration (HOME/config.json) and the strict JSON helpers shared
 * with the genesis parser. */
#include "node/node_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ds__node_err(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

int ds__node_json_check(json_t *obj, const char *where, const struct ds__node_jfield *f, size_t n,
			char *err, size_t cap)
{
	if (!json_is_object(obj)) {
		ds__node_err(err, cap, "%s must be a JSON object", where);
		return DS_EINVAL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(key, f[i].name) == 0)
				break;
		if (i == n) {
			ds__node_err(err, cap, "%s: unknown member \"%s\"", where, key);
			return DS_EINVAL;
		}
		bool ok;
		switch (f[i].type) {
		case DS__NODE_JSTR:
			ok = json_is_string(v);
			break;
		case DS__NODE_JUINT:
			ok = json_is_integer(v) && json_integer_value(v) >= 0;
			break;
		case DS__NODE_JOBJ:
			ok = json_is_object(v);
			break;
		case DS__NODE_JARR:
			ok = json_is_array(v);
			break;
		default:
			ok = false;
		}
		if (!ok) {
			static const char *const tn[] = {"", "a string", "a non-negative integer",
							 "an object", "an array"};
			ds__node_err(err, cap, "%s: \"%s\" must be %s", where, key, tn[f[i].type]);
			return DS_EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (f[i].required && !json_object_get(obj, f[i].name)) {
			ds__node_err(err, cap, "%s: missing member \"%s\"", where, f[i].name);
			return DS_EINVAL;
		}
	return 0;
}

int ds__node_json_str(char *out, size_t cap, json_t *obj, const char *key, const char *where,
		      char *err, size_t err_cap)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0; /* optional and absent: keep the default */
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len == 0 || len >= cap || strlen(s) != len) {
		ds__node_err(err, err_cap, "%s: \"%s\" must be 1..%zu bytes without NUL", where, key,
			     cap - 1);
		return DS_ERANGE;
	}
	memcpy(out, s, len + 1);
	return 0;
}

int ds__node_json_uint(uint64_t *out, json_t *obj, const char *key, uint64_t min, uint64_t max,
		       const char *where, char *err, size_t err_cap)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	json_int_t x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
		ds__node_err(err, err_cap, "%s: \"%s\" must be in %llu..%llu", where, key,
			     (unsigned long long)min, (unsigned long long)max);
		return DS_ERANGE;
	}
	*out = (uint64_t)x;
	return 0;
}

int ds__node_json_parse(json_t **out, const char *text, size_t len, const char *what, char *err,
			size_t err_cap)
{
	json_error_t je;
	*out = NULL;
	if (len > DS_NODE_JSON_MAX) {
		ds__node_err(err, err_cap, "%s is larger than %u bytes", what, DS_NODE_JSON_MAX);
		return DS_ETOOBIG;
	}
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		ds__node_err(err, err_cap, "%s is not valid JSON: line %d column %d: %s", what, je.line,
			     je.column, je.text);
		return DS_EINVAL;
	}
	*out = j;
	return 0;
}

int ds__node_read_text(char **out, size_t *len, const char *path, const char *what, char *err,
		       size_t err_cap)
{
	uint8_t *p = NULL;
	size_t n = 0;
	int rc = ds_file_read(&p, &n, path, DS_NODE_JSON_MAX);
	if (rc) {
		ds__node_err(err, err_cap, "cannot read %s %s: %s", what, path, ds_strerror(rc));
		return rc;
	}
	*out = (char *)p;
	*len = n;
	return 0;
}

int ds_node_parse_hostport(char *host, size_t host_cap, uint16_t *port, const char *s)
{
	const char *colon;
	const char *h = s;
	size_t hl;
	bool v6 = false;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return DS_EINVAL;
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
		v6 = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return DS_EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= host_cap || hl > 63)
		return DS_EINVAL;
	char tmp[64];
	memcpy(tmp, h, hl);
	tmp[hl] = 0;
	uint8_t addr[16];
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, addr) != 1)
		return DS_EINVAL;
	const char *p = colon + 1;
	if (*p == 0 || strlen(p) > 5 || (p[0] == '0'))
		return DS_EINVAL;
	unsigned long v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return DS_EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return DS_EINVAL;
	memcpy(host, tmp, hl + 1);
	*port = (uint16_t)v;
	return 0;
}

void ds_node_config_default(struct ds_node_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->p2p_listen, sizeof(c->p2p_listen), "127.0.0.1:26600");
	snprintf(c->api_listen, sizeof(c->api_listen), "127.0.0.1:26601");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->key_file, sizeof(c->key_file), "node.key");
	c->mempool_txs_max = 200000;
	c->mempool_bytes_max = 256u << 20;
	c->api_threads = 2;
}

int ds_node_config_parse(struct ds_node_config *out, const char *text, size_t len, char *err,
			 size_t err_cap)
{
	static const struct ds__node_jfield fields[] = {
		{"node_id", DS__NODE_JSTR, true},      {"home", DS__NODE_JSTR, false},
		{"p2p_listen", DS__NODE_JSTR, true},   {"api_listen", DS__NODE_JSTR, true},
		{"log_level", DS__NODE_JSTR, false},   {"key_file", DS__NODE_JSTR, false},
		{"genesis", DS__NODE_JSTR, false},     {"mempool_txs_max", DS__NODE_JUINT, false},
		{"mempool_bytes_max", DS__NODE_JUINT, false}, {"api_threads", DS__NODE_JUINT, false},
		{"map_size_max", DS__NODE_JUINT, false}, {"web_dir", DS__NODE_JSTR, false},
	};
	const char *w = "config";
	struct ds_node_config c;
	ds_node_config_default(&c);
	json_t *j;
	int rc = ds__node_json_parse(&j, text, len, "config", err, err_cap);
	if (rc)
		return rc;
	uint64_t threads = c.api_threads;
	if ((rc = ds__node_json_check(j, w, fields, DS_ARRAY_LEN(fields), err, err_cap)) ||
	    (rc = ds__node_json_str(c.node_id, sizeof(c.node_id), j, "node_id", w, err, err_cap)) ||
	    (rc = ds__node_json_str(c.home, sizeof(c.home), j, "home", w, err, err_cap)) ||
	    (rc = ds__node_json_str(c.p2p_listen, sizeof(c.p2p_listen), j, "p2p_listen", w, err,
				    err_cap)) ||
	    (rc = ds__node_json_str(c.api_listen, sizeof(c.api_listen), j, "api_listen", w, err,
				    err_cap)) ||
	    (rc = ds__node_json_str(c.log_level, sizeof(c.log_level), j, "log_level", w, err,
				    err_cap)) ||
	    (rc = ds__node_json_str(c.key_file, sizeof(c.key_file), j, "key_file", w, err, err_cap)) ||
	    (rc = ds__node_json_str(c.genesis, sizeof(c.genesis), j, "genesis", w, err, err_cap)) ||
	    (rc = ds__node_json_str(c.web_dir, sizeof(c.web_dir), j, "web_dir", w, err, err_cap)) ||
	    (rc = ds__node_json_uint(&c.mempool_txs_max, j, "mempool_txs_max", 1,
				     DS_MEMPOOL_TXS_HARD_MAX, w, err, err_cap)) ||
	    (rc = ds__node_json_uint(&c.mempool_bytes_max, j, "mempool_bytes_max", 1u << 20,
				     (uint64_t)1 << 40, w, err, err_cap)) ||
	    (rc = ds__node_json_uint(&threads, j, "api_threads", 1, 64, w, err, err_cap)) ||
	    (rc = ds__node_json_uint(&c.map_size_max, j, "map_size_max", 0, (uint64_t)1 << 50, w, err,
				     err_cap)))
		goto fail;
	c.api_threads = (uint32_t)threads;
	rc = DS_EINVAL;
	if (!ds__node_name_valid(c.node_id)) {
		ds__node_err(err, err_cap, "config: \"node_id\" must be 1..%d of a-z 0-9 . _ -",
			     DS_NODE_ID_MAX);
		goto fail;
	}
	char host[64];
	uint16_t port;
	if (ds_node_parse_hostport(host, sizeof(host), &port, c.p2p_listen) != 0) {
		ds__node_err(err, err_cap,
			     "config: \"p2p_listen\" must be a numeric host:port, not \"%s\"",
			     c.p2p_listen);
		goto fail;
	}
	if (ds_node_parse_hostport(host, sizeof(host), &port, c.api_listen) != 0) {
		ds__node_err(err, err_cap,
			     "config: \"api_listen\" must be a numeric host:port, not \"%s\"",
			     c.api_listen);
		goto fail;
	}
	enum ds_log_level lvl;
	if (ds_log_parse_level(&lvl, c.log_level) != 0) {
		ds__node_err(err, err_cap,
			     "config: \"log_level\" must be debug, info, warn, error or off");
		goto fail;
	}
	*out = c;
	rc = 0;
fail:
	json_decref(j);
	return rc;
}

int ds_node_config_load(struct ds_node_config *out, const char *path, char *err, size_t err_cap)
{
	char *text;
	size_t len;
	int rc = ds__node_read_text(&text, &len, path, "config", err, err_cap);
	if (rc)
		return rc;
	rc = ds_node_config_parse(out, text, len, err, err_cap);
	if (rc && err && err_cap) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", err);
		ds__node_err(err, err_cap, "%s: %s", path, tmp);
	}
	free(text);
	return rc;
}

int ds__node_json_dump(struct ds_buf *out, json_t *j)
{
	if (!j)
		return DS_ENOMEM;
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return DS_ENOMEM;
	ds_buf_append(out, s, strlen(s));
	ds_buf_append(out, "\n", 2);
	free(s);
	if (out->err)
		return DS_ENOMEM;
	out->len--; /* keep the NUL out of the length */
	return 0;
}

int ds_node_config_format(struct ds_buf *out, const struct ds_node_config *c)
{
	json_t *j = json_object();
	if (!j)
		return DS_ENOMEM;
	json_object_set_new(j, "node_id", json_string(c->node_id));
	if (c->home[0])
		json_object_set_new(j, "home", json_string(c->home));
	json_object_set_new(j, "p2p_listen", json_string(c->p2p_listen));
	json_object_set_new(j, "api_listen", json_string(c->api_listen));
	json_object_set_new(j, "log_level", json_string(c->log_level));
	json_object_set_new(j, "key_file", json_string(c->key_file));
	if (c->genesis[0])
		json_object_set_new(j, "genesis", json_string(c->genesis));
	json_object_set_new(j, "mempool_txs_max", json_integer((json_int_t)c->mempool_txs_max));
	json_object_set_new(j, "mempool_bytes_max", json_integer((json_int_t)c->mempool_bytes_max));
	json_object_set_new(j, "api_threads", json_integer((json_int_t)c->api_threads));
	if (c->map_size_max)
		json_object_set_new(j, "map_size_max", json_integer((json_int_t)c->map_size_max));
	if (c->web_dir[0])
		json_object_set_new(j, "web_dir", json_string(c->web_dir));
	return ds__node_json_dump(out, j);
}

bool ds__node_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > DS_NODE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}
