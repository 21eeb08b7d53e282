/* cli_json — canonical values (codec.h) to and from JSON, for the CLI and,
 * later, the HTTP API (jansson lives only at these edges).
 *
 * Mapping: null, false, true, integers (JSON integers in int64 range only:
 * floats and out-of-range numbers are refused so that every node computes
 * the same bytes), strings (UTF-8), arrays, objects (keys sorted bytewise on
 * encoding). Bytes appear in JSON as {"$bytes": "<hex>"}; therefore a map
 * whose only key is "$bytes" cannot be shown as JSON (DS_EINVAL), and an
 * object with a "$bytes" key must have that single key and a hex string. */
#ifndef DS_CLI_JSON_H
#define DS_CLI_JSON_H

#include <jansson.h>

#include "codec/codec.h"
#include "util/util.h"

/* Encodes j as one canonical value appended to out (caller-owned buffer).
 * Returns 0, DS_EINVAL (float, bad "$bytes", invalid UTF-8), DS_ETOOBIG
 * (depth, count or length past the codec maxima), DS_ENOMEM. On error out
 * is left as it was and err (may be NULL) gets a one-line reason. */
int ds_cli_value_from_json(struct ds_buf *out, const json_t *j, char *err, size_t err_cap) DS_MUST_USE;
/* Decodes exactly one canonical value from p[0..len) into a new JSON value
 * (*out owned by the caller: json_decref). Errors as ds_value_check, or
 * DS_EINVAL for an unrepresentable map, DS_ENOMEM. */
int ds_cli_value_to_json(json_t **out, const uint8_t *p, size_t len) DS_MUST_USE;

#endif
