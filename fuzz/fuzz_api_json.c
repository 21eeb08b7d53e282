/* libFuzzer: the API's strict JSON body checker (ds_api_json_body). Byte 0
 * picks the Content-Type, the rest is the body. Accepted bodies must obey
 * the schema (checked here independently); refused ones must carry a 4xx
 * JSON error. Never a crash, never a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ds_api_field fza_fields[] = {
	{"chain_id", DS_API_JSTR, true, 64},
	{"sender", DS_API_JHEX, false, 32},
	{"blob", DS_API_JHEX, false, 0},
	{"nonce", DS_API_JUINT, false, 1000000},
	{"any_uint", DS_API_JUINT, false, 0},
	{"delta", DS_API_JINT, false, 0},
	{"flag", DS_API_JBOOL, false, 0},
	{"meta", DS_API_JOBJ, false, 0},
	{"list", DS_API_JARR, false, 4},
	{"free", DS_API_JANY, false, 0},
};

static const char *const fza_types[] = {
	"application/json", "application/json; charset=utf-8", "text/plain", NULL,
};

static void fza_check(json_t *j)
{
	const char *key;
	json_t *v;
	if (!json_is_object(j))
		abort();
	json_object_foreach(j, key, v) {
		const struct ds_api_field *f = NULL;
		for (size_t i = 0; i < DS_ARRAY_LEN(fza_fields); i++)
			if (strcmp(fza_fields[i].name, key) == 0)
				f = &fza_fields[i];
		if (!f)
			abort();
		bool ok = true;
		switch (f->type) {
		case DS_API_JSTR:
			ok = json_is_string(v) && json_string_length(v) <= f->max;
			break;
		case DS_API_JHEX:
			ok = json_is_string(v) && json_string_length(v) % 2 == 0 &&
			     (!f->max || json_string_length(v) == 2 * f->max ||
			      json_string_length(v) == 2 * f->max + 2);
			break;
		case DS_API_JUINT:
			ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
			     (!f->max || (uint64_t)json_integer_value(v) <= f->max);
			break;
		case DS_API_JINT: ok = json_is_integer(v); break;
		case DS_API_JBOOL: ok = json_is_boolean(v); break;
		case DS_API_JOBJ: ok = json_is_object(v); break;
		case DS_API_JARR: ok = json_is_array(v) && json_array_size(v) <= f->max; break;
		case DS_API_JANY: break;
		}
		if (!ok)
			abort();
	}
	for (size_t i = 0; i < DS_ARRAY_LEN(fza_fields); i++)
		if (fza_fields[i].required && !json_object_get(j, fza_fields[i].name))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > (1u << 20))
		return 0;
	/* The api hands handlers a NUL-terminated body; so does this. */
	uint8_t *body = malloc(size);
	if (!body)
		abort();
	memcpy(body, data + 1, size - 1);
	body[size - 1] = 0;
	struct ds_api_req req;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = "/v1/fuzz";
	req.route = "/v1/fuzz";
	req.content_type = fza_types[data[0] % DS_ARRAY_LEN(fza_types)];
	req.body = body;
	req.body_len = size - 1;
	struct ds_api_resp resp;
	ds_api_resp_init(&resp);
	json_t *j = (json_t *)1;
	int rc = ds_api_json_body(&j, &req, &resp, fza_fields, DS_ARRAY_LEN(fza_fields));
	if (rc == 0) {
		if (!j || resp.status != 0)
			abort();
		fza_check(j);
		json_decref(j);
	} else {
		if (rc > 0 || j != NULL || (resp.status != 400 && resp.status != 415) ||
		    !json_is_object(resp.json) || !json_object_get(resp.json, "error"))
			abort();
	}
	ds_api_resp_free(&resp);
	free(body);
	return 0;
}
