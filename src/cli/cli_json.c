/* Canonical values <-> JSON (cli_json.h). */
#include "cli/cli_json.h"

#include <stdarg.h>
#include <string.h>

#define BYTES_KEY "$bytes"

static int jfail(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int jfail(char *err, size_t cap, int rc, const char *fmt, ...)
{
	if (err && cap && !err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

struct key_ref {
	const char *k;
	size_t n;
	json_t *v;
};

static int key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = n ? memcmp(x->k, y->k, n) : 0;
	if (c)
		return c;
	return x->n < y->n ? -1 : x->n > y->n ? 1 : 0;
}

static int enc_hex_bytes(struct ds_enc *e, const char *hex, size_t n, char *err, size_t cap)
{
	if (n % 2 || n / 2 > DS_VALUE_LEN_MAX)
		return jfail(err, cap, DS_EINVAL, "\"$bytes\" needs an even number of hex digits");
	uint8_t *b = malloc(n / 2 + 1);
	if (!b)
		return DS_ENOMEM;
	int rc = ds_hex_decode(b, n / 2, hex, n);
	if (rc == 0)
		ds_value_enc_bytes(e, b, n / 2);
	else
		jfail(err, cap, rc, "\"$bytes\" is not hex");
	free(b);
	return rc;
}

/* Depth is bounded by DS_VALUE_DEPTH_MAX; each pass of the caller visits
 * every node once. */
static int enc_json(struct ds_enc *e, const json_t *j, unsigned depth, char *err, size_t cap)
{
	if (depth > DS_VALUE_DEPTH_MAX)
		return jfail(err, cap, DS_ETOOBIG, "nested deeper than %d", DS_VALUE_DEPTH_MAX);
	switch (json_typeof(j)) {
	case JSON_NULL:
		ds_value_enc_null(e);
		return 0;
	case JSON_TRUE:
		ds_value_enc_bool(e, true);
		return 0;
	case JSON_FALSE:
		ds_value_enc_bool(e, false);
		return 0;
	case JSON_INTEGER:
		ds_value_enc_int(e, (int64_t)json_integer_value(j));
		return 0;
	case JSON_REAL:
		return jfail(err, cap, DS_EINVAL,
			     "floating-point numbers are not allowed (use integers or strings)");
	case JSON_STRING: {
		size_t n = json_string_length(j);
		if (n > DS_VALUE_LEN_MAX)
			return jfail(err, cap, DS_ETOOBIG, "string longer than %u bytes", DS_VALUE_LEN_MAX);
		if (!ds_utf8_valid((const uint8_t *)json_string_value(j), n))
			return jfail(err, cap, DS_EINVAL, "string is not valid UTF-8 or holds NUL");
		ds_value_enc_str(e, json_string_value(j), n);
		return 0;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		if (n > DS_VALUE_COUNT_MAX)
			return jfail(err, cap, DS_ETOOBIG, "array longer than %u", DS_VALUE_COUNT_MAX);
		ds_value_enc_array(e, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			int rc = enc_json(e, json_array_get(j, i), depth + 1, err, cap);
			if (rc)
				return rc;
		}
		return 0;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(j);
		json_t *bv = json_object_get(j, BYTES_KEY);
		if (bv) {
			if (n != 1 || !json_is_string(bv))
				return jfail(err, cap, DS_EINVAL,
					     "an object with \"$bytes\" must be {\"$bytes\": \"<hex>\"}");
			return enc_hex_bytes(e, json_string_value(bv), json_string_length(bv), err, cap);
		}
		if (n > DS_VALUE_COUNT_MAX)
			return jfail(err, cap, DS_ETOOBIG, "object larger than %u", DS_VALUE_COUNT_MAX);
		struct key_ref *keys = malloc((n ? n : 1) * sizeof(*keys));
		if (!keys)
			return DS_ENOMEM;
		size_t i = 0;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			if (i >= n)
				break;
			keys[i].k = k;
			keys[i].n = strlen(k);
			keys[i].v = v;
			i++;
		}
		qsort(keys, i, sizeof(*keys), key_ref_cmp);
		int rc = 0;
		ds_value_enc_map(e, (uint32_t)i);
		for (size_t m = 0; m < i && rc == 0; m++) {
			if (keys[m].n > DS_VALUE_KEY_MAX || (m > 0 && key_ref_cmp(&keys[m - 1], &keys[m]) == 0)) {
				rc = jfail(err, cap, DS_EINVAL, "object key too long or repeated");
				break;
			}
			ds_value_enc_key(e, keys[m].k, keys[m].n);
			rc = enc_json(e, keys[m].v, depth + 1, err, cap);
		}
		free(keys);
		return rc;
	}
	}
	return jfail(err, cap, DS_EINVAL, "unsupported JSON type");
}

int ds_cli_value_from_json(struct ds_buf *out, const json_t *j, char *err, size_t err_cap)
{
	struct ds_enc e;
	size_t n;
	if (err && err_cap)
		err[0] = '\0';
	/* Two passes over the same tree: measure, then write into exact space. */
	ds_enc_init(&e, NULL, 0);
	int rc = enc_json(&e, j, 1, err, err_cap);
	if (rc == 0)
		rc = ds_enc_finish(&e, &n);
	if (rc)
		return jfail(err, err_cap, rc, "%s", ds_strerror(rc));
	rc = ds_buf_reserve(out, n);
	if (rc)
		return rc;
	ds_enc_init(&e, out->data + out->len, n);
	rc = enc_json(&e, j, 1, err, err_cap);
	size_t n2;
	if (rc == 0)
		rc = ds_enc_finish(&e, &n2);
	DS_ASSERT(rc != 0 || n2 == n);
	if (rc)
		return rc;
	rc = ds_value_check(out->data + out->len, n);
	DS_ASSERT(rc == 0); /* the builder emitted sorted keys and exact counts */
	out->len += n;
	return 0;
}

static json_t *to_json(const struct ds_value *v, int *rc)
{
	switch (v->kind) {
	case DS_VALUE_NULL:
		return json_null();
	case DS_VALUE_FALSE:
		return json_false();
	case DS_VALUE_TRUE:
		return json_true();
	case DS_VALUE_INT:
		return json_integer((json_int_t)v->i);
	case DS_VALUE_STR:
		return json_stringn((const char *)v->p, v->len);
	case DS_VALUE_BYTES: {
		char *hex = malloc(2 * v->len + 1);
		if (!hex)
			return NULL;
		ds_hex_encode(hex, v->p, v->len);
		json_t *o = json_pack("{s:s}", BYTES_KEY, hex);
		free(hex);
		return o;
	}
	case DS_VALUE_ARRAY:
	case DS_VALUE_MAP: {
		bool map = v->kind == DS_VALUE_MAP;
		json_t *o = map ? json_object() : json_array();
		if (!o)
			return NULL;
		struct ds_value_iter it;
		struct ds_value item;
		const uint8_t *k;
		size_t kn;
		ds_value_iter_init(&it, v);
		while (ds_value_iter_next(&it, &k, &kn, &item) == 1) {
			if (map && v->count == 1 && kn == strlen(BYTES_KEY) && memcmp(k, BYTES_KEY, kn) == 0) {
				*rc = DS_EINVAL; /* would read back as bytes */
				json_decref(o);
				return NULL;
			}
			json_t *c = to_json(&item, rc);
			if (!c) {
				json_decref(o);
				return NULL;
			}
			int r = map ? json_object_setn_new(o, (const char *)k, kn, c) : json_array_append_new(o, c);
			if (r != 0) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	}
	*rc = DS_EINVAL;
	return NULL;
}

int ds_cli_value_to_json(json_t **out, const uint8_t *p, size_t len)
{
	struct ds_value v;
	*out = NULL;
	int rc = ds_value_parse(&v, p, len);
	if (rc)
		return rc;
	rc = DS_ENOMEM;
	*out = to_json(&v, &rc);
	return *out ? 0 : rc;
}
