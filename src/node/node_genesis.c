/* genesis.json: strict parsing into struct ds_node_genesis, canonical
 * formatting, and the hook for the genesis state. */
#include "node/node_int.h"
#include "node/node_gov.h"

#include <stdio.h>
#include <string.h>

/* Validators (observers false) or observers (true): appended to the node
 * list; validators also make the epoch-0 set. */
static int parse_nodes(struct ds_node_genesis *g, json_t *arr, bool observers, char *err, size_t cap)
{
	static const struct ds__node_jfield fv[] = {
		{"name", DS__NODE_JSTR, true},
		{"public_key", DS__NODE_JSTR, true},
		{"p2p", DS__NODE_JSTR, true},
		{"power", DS__NODE_JUINT, false},
		{"org", DS__NODE_JSTR, false},
	};
	static const struct ds__node_jfield fo[] = {
		{"name", DS__NODE_JSTR, true},
		{"public_key", DS__NODE_JSTR, true},
		{"p2p", DS__NODE_JSTR, true},
	};
	const char *what = observers ? "observers" : "validators";
	size_t n = json_array_size(arr);
	if ((!observers && n == 0) || g->nnodes + n > DS_VALIDATORS_MAX) {
		ds__node_err(err, cap, "genesis: \"%s\" must hold %s..%d entries (validators and observers together at most %d)",
			     what, observers ? "0" : "1", DS_VALIDATORS_MAX, DS_VALIDATORS_MAX);
		return DS_ERANGE;
	}
	if (!observers) {
		g->g.valset.epoch = 0;
		g->g.valset.n = (uint32_t)n;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t i = g->nnodes;
		json_t *v = json_array_get(arr, k);
		char where[48];
		snprintf(where, sizeof(where), "genesis: %s[%zu]", what, k);
		int rc = observers ? ds__node_json_check(v, where, fo, DS_ARRAY_LEN(fo), err, cap)
				   : ds__node_json_check(v, where, fv, DS_ARRAY_LEN(fv), err, cap);
		char pkhex[2 * DS_PK_LEN + 2] = "";
		uint64_t power = 1;
		if (rc || (rc = ds__node_json_str(g->names[i], sizeof(g->names[i]), v, "name", where,
						  err, cap)) ||
		    (rc = ds__node_json_str(pkhex, sizeof(pkhex), v, "public_key", where, err, cap)) ||
		    (rc = ds__node_json_str(g->p2p[i], sizeof(g->p2p[i]), v, "p2p", where, err, cap)) ||
		    (!observers && (rc = ds__node_json_uint(&power, v, "power", 1, 1, where, err, cap))))
			return rc;
		if (!ds__node_name_valid(g->names[i])) {
			ds__node_err(err, cap, "%s: \"name\" must be 1..%d of a-z 0-9 . _ -", where,
				     DS_NODE_ID_MAX);
			return DS_EINVAL;
		}
		if (ds_keyfile_pk_from_hex(g->node_pk[i], pkhex) != 0) {
			ds__node_err(err, cap, "%s: \"public_key\" must be 64 hex digits", where);
			return DS_EINVAL;
		}
		if (!observers) {
			memcpy(g->g.valset.v[i].pk, g->node_pk[i], DS_PK_LEN);
			g->g.valset.v[i].power = power;
		}
		char host[64];
		uint16_t port;
		if (ds_node_parse_hostport(host, sizeof(host), &port, g->p2p[i]) != 0) {
			ds__node_err(err, cap,
				     "%s: \"p2p\" must be a numeric IPv4 host:port or [IPv6]:port, not \"%s\"",
				     where, g->p2p[i]);
			return DS_EINVAL;
		}
		for (uint32_t j = 0; j < i; j++) {
			const char *other = j < g->g.valset.n ? "a validator" : "an observer";
			if (memcmp(g->node_pk[j], g->node_pk[i], DS_PK_LEN) == 0) {
				ds__node_err(err, cap, "%s: public key repeats %s (%s)", where, other, g->names[j]);
				return DS_EINVAL;
			}
			if (strcmp(g->names[j], g->names[i]) == 0) {
				ds__node_err(err, cap, "%s: name repeats %s (%s)", where, other, g->names[j]);
				return DS_EINVAL;
			}
			if (strcmp(g->p2p[j], g->p2p[i]) == 0) {
				ds__node_err(err, cap, "%s: address repeats %s (%s)", where, other, g->names[j]);
				return DS_EINVAL;
			}
		}
		g->nnodes++;
	}
	return 0;
}

static int parse_orgs(struct ds_node_genesis *g, json_t *arr, char *err, size_t cap)
{
	static const struct ds__node_jfield f[] = {
		{"name", DS__NODE_JSTR, true},
		{"admin_key", DS__NODE_JSTR, true},
		{"display_name", DS__NODE_JSTR, false},
		{"roles", DS__NODE_JARR, false},
	};
	size_t n = json_array_size(arr);
	if (n == 0 || n > DS_NODE_ORGS_MAX) {
		ds__node_err(err, cap, "genesis: \"organisations\" must hold 1..%d entries",
			     DS_NODE_ORGS_MAX);
		return DS_ERANGE;
	}
	g->norgs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		char where[48];
		snprintf(where, sizeof(where), "genesis: organisations[%zu]", i);
		char pkhex[2 * DS_PK_LEN + 2] = "";
		int rc = ds__node_json_check(v, where, f, DS_ARRAY_LEN(f), err, cap);
		if (rc || (rc = ds__node_json_str(g->orgs[i].name, sizeof(g->orgs[i].name), v, "name",
						  where, err, cap)) ||
		    (rc = ds__node_json_str(pkhex, sizeof(pkhex), v, "admin_key", where, err, cap)))
			return rc;
		if (!ds__node_name_valid(g->orgs[i].name)) {
			ds__node_err(err, cap, "%s: \"name\" must be 1..%d of a-z 0-9 . _ -", where,
				     DS_NODE_ID_MAX);
			return DS_EINVAL;
		}
		if (ds_keyfile_pk_from_hex(g->orgs[i].admin_pk, pkhex) != 0) {
			ds__node_err(err, cap, "%s: \"admin_key\" must be 64 hex digits", where);
			return DS_EINVAL;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(g->orgs[k].name, g->orgs[i].name) == 0) {
				ds__node_err(err, cap, "%s: name repeats organisations[%zu]", where, k);
				return DS_EINVAL;
			}
	}
	return 0;
}

int ds_node_genesis_parse(struct ds_node_genesis *out, const char *text, size_t len, char *err,
			  size_t err_cap)
{
	static const struct ds__node_jfield top[] = {
		{"chain_id", DS__NODE_JSTR, true},
		{"genesis_time_ms", DS__NODE_JUINT, true},
		{"params", DS__NODE_JOBJ, true},
		{"validators", DS__NODE_JARR, true},
		{"organisations", DS__NODE_JARR, true},
		{"governance", DS__NODE_JOBJ, false},
		{"observers", DS__NODE_JARR, false},
	};
	static const struct ds__node_jfield params[] = {
		{"max_tx_lifetime", DS__NODE_JUINT, true},
		{"block_txs_max", DS__NODE_JUINT, true},
		{"retain_versions", DS__NODE_JUINT, true},
		{"round_timeout_ms", DS__NODE_JUINT, true},
		{"round_timeout_max_ms", DS__NODE_JUINT, true},
		{"empty_block_interval_ms", DS__NODE_JUINT, true},
		{"governance_threshold", DS__NODE_JUINT, true},
	};
	struct ds_node_genesis *g = calloc(1, sizeof(*g));
	if (!g)
		return DS_ENOMEM;
	json_t *j = NULL;
	const char *w = "genesis";
	const char *wp = "genesis: params";
	int rc = ds__node_json_parse(&j, text, len, "genesis", err, err_cap);
	if (rc)
		goto fail;
	uint64_t btm = 0, thr = 0;
	json_t *p = json_object_get(j, "params");
	if ((rc = ds__node_json_check(j, w, top, DS_ARRAY_LEN(top), err, err_cap)) ||
	    (rc = ds__node_json_check(p, wp, params, DS_ARRAY_LEN(params), err, err_cap)) ||
	    (rc = ds__node_json_str(g->g.chain_id, sizeof(g->g.chain_id), j, "chain_id", w, err,
				    err_cap)) ||
	    (rc = ds__node_json_uint(&g->g.time_ms, j, "genesis_time_ms", 0, (uint64_t)1 << 53, w,
				     err, err_cap)) ||
	    (rc = ds__node_json_uint(&g->g.params.max_tx_lifetime, p, "max_tx_lifetime", 1,
				     1000000000, wp, err, err_cap)) ||
	    (rc = ds__node_json_uint(&btm, p, "block_txs_max", 1, DS_BLOCK_TXS_MAX, wp, err,
				     err_cap)) ||
	    (rc = ds__node_json_uint(&g->g.params.retain_versions, p, "retain_versions", 0,
				     (uint64_t)1 << 40, wp, err, err_cap)) ||
	    (rc = ds__node_json_uint(&g->round_timeout_ms, p, "round_timeout_ms", 50, 600000, wp,
				     err, err_cap)) ||
	    (rc = ds__node_json_uint(&g->round_timeout_max_ms, p, "round_timeout_max_ms", 50,
				     3600000, wp, err, err_cap)) ||
	    (rc = ds__node_json_uint(&g->empty_block_interval_ms, p, "empty_block_interval_ms", 0,
				     600000, wp, err, err_cap)) ||
	    (rc = ds__node_json_uint(&thr, p, "governance_threshold", 1, DS_NODE_ORGS_MAX, wp, err,
				     err_cap)))
		goto fail;
	g->g.params.block_txs_max = (uint32_t)btm;
	g->governance_threshold = (uint32_t)thr;
	rc = DS_EINVAL;
	if (!ds_ledger_chain_id_valid(g->g.chain_id)) {
		ds__node_err(err, err_cap, "genesis: \"chain_id\" must be 1..%d of a-z 0-9 . _ -",
			     DS_CHAIN_ID_MAX);
		goto fail;
	}
	if (g->round_timeout_max_ms < g->round_timeout_ms) {
		ds__node_err(err, err_cap,
			     "genesis: params: \"round_timeout_max_ms\" must be >= \"round_timeout_ms\"");
		goto fail;
	}
	if (g->empty_block_interval_ms >= g->round_timeout_ms) {
		ds__node_err(err, err_cap,
			     "genesis: params: \"empty_block_interval_ms\" must be below \"round_timeout_ms\"");
		goto fail;
	}
	if ((rc = parse_nodes(g, json_object_get(j, "validators"), false, err, err_cap)) ||
	    (rc = parse_nodes(g, json_object_get(j, "observers"), true, err, err_cap)) ||
	    (rc = parse_orgs(g, json_object_get(j, "organisations"), err, err_cap)))
		goto fail;
	if (g->governance_threshold > g->norgs) {
		ds__node_err(err, err_cap,
			     "genesis: params: \"governance_threshold\" %u is more than the %u organisations",
			     g->governance_threshold, g->norgs);
		rc = DS_ERANGE;
		goto fail;
	}
	if ((rc = ds__node_gov_parse(g, j, err, err_cap)))
		goto fail;
	*out = *g;
	rc = 0;
fail:
	json_decref(j);
	free(g);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int ds_node_genesis_load(struct ds_node_genesis *out, const char *path, char *err, size_t err_cap)
{
	char *text;
	size_t len;
	int rc = ds__node_read_text(&text, &len, path, "genesis", err, err_cap);
	if (rc)
		return rc;
	rc = ds_node_genesis_parse(out, text, len, err, err_cap);
	if (rc && err && err_cap) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", err);
		ds__node_err(err, err_cap, "%s: %s", path, tmp);
	}
	free(text);
	return rc;
}

int ds_node_genesis_format(struct ds_buf *out, const struct ds_node_genesis *g)
{
	json_t *j = json_object();
	json_t *p = json_object();
	json_t *vs = json_array();
	json_t *os = json_array();
	if (!j || !p || !vs || !os) {
		json_decref(j);
		json_decref(p);
		json_decref(vs);
		json_decref(os);
		return DS_ENOMEM;
	}
	json_object_set_new(j, "chain_id", json_string(g->g.chain_id));
	json_object_set_new(j, "genesis_time_ms", json_integer((json_int_t)g->g.time_ms));
	json_object_set_new(p, "max_tx_lifetime", json_integer((json_int_t)g->g.params.max_tx_lifetime));
	json_object_set_new(p, "block_txs_max", json_integer(g->g.params.block_txs_max));
	json_object_set_new(p, "retain_versions", json_integer((json_int_t)g->g.params.retain_versions));
	json_object_set_new(p, "round_timeout_ms", json_integer((json_int_t)g->round_timeout_ms));
	json_object_set_new(p, "round_timeout_max_ms", json_integer((json_int_t)g->round_timeout_max_ms));
	json_object_set_new(p, "empty_block_interval_ms",
			    json_integer((json_int_t)g->empty_block_interval_ms));
	json_object_set_new(p, "governance_threshold", json_integer(g->governance_threshold));
	json_object_set_new(j, "params", p);
	for (uint32_t i = 0; i < g->g.valset.n; i++) {
		char hex[2 * DS_PK_LEN + 1];
		ds_keyfile_pk_to_hex(hex, g->g.valset.v[i].pk);
		json_t *v = json_object();
		if (!v)
			break;
		json_object_set_new(v, "name", json_string(g->names[i]));
		json_object_set_new(v, "public_key", json_string(hex));
		json_object_set_new(v, "p2p", json_string(g->p2p[i]));
		json_object_set_new(v, "power", json_integer((json_int_t)g->g.valset.v[i].power));
		json_array_append_new(vs, v);
	}
	json_object_set_new(j, "validators", vs);
	if (g->nnodes > g->g.valset.n) {
		json_t *obs = json_array();
		if (!obs) {
			json_decref(j);
			json_decref(os);
			return DS_ENOMEM;
		}
		for (uint32_t i = g->g.valset.n; i < g->nnodes; i++) {
			char hex[2 * DS_PK_LEN + 1];
			ds_keyfile_pk_to_hex(hex, g->node_pk[i]);
			json_array_append_new(obs, json_pack("{s:s,s:s,s:s}", "name", g->names[i],
							     "public_key", hex, "p2p", g->p2p[i]));
		}
		json_object_set_new(j, "observers", obs);
	}
	for (uint32_t i = 0; i < g->norgs; i++) {
		char hex[2 * DS_PK_LEN + 1];
		ds_keyfile_pk_to_hex(hex, g->orgs[i].admin_pk);
		json_t *o = json_object();
		if (!o)
			break;
		json_object_set_new(o, "name", json_string(g->orgs[i].name));
		json_object_set_new(o, "admin_key", json_string(hex));
		json_array_append_new(os, o);
	}
	json_object_set_new(j, "organisations", os);
	if (ds__node_gov_format(j, g) != 0) {
		json_decref(j);
		return DS_ENOMEM;
	}
	return ds__node_json_dump(out, j);
}
