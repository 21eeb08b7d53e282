/* node_gov — the governance side of a node (internal to src/node):
 * genesis.json's governance extras (organisation display names and roles,
 * validator organisations, the "governance" member), the genesis state they
 * give through ds_exec_sys_genesis_state, the module set blocks execute
 * with, and the /v1/contracts and /v1/proposals listings.
 *
 * Pointers are borrowed for the call unless a function says otherwise. */
#ifndef DS_NODE_GOV_H
#define DS_NODE_GOV_H

#include <jansson.h>

#include "chain/chain.h"
#include "exec/exec_sys.h"
#include "node/node.h"

#define DS__NODE_GOV_PROPOSALS_MAX 100          /* ?limit of /v1/proposals */
#define DS__NODE_GOV_PROPOSALS_DEFAULT 50
#define DS__NODE_GOV_SCAN_MAX 100000            /* records one listing looks at */
#define DS__NODE_GOV_CONTRACTS_MAX 1000         /* contracts one listing returns */

/* Reads the governance extras of a genesis document (root: the whole
 * genesis object, organisations and validators already parsed into g) into
 * g->gov, and checks them by building the genesis state once. Returns 0,
 * or DS_EINVAL / DS_ERANGE / DS_ETOOBIG / DS_ENOTFOUND / DS_EEXIST with a
 * one-line reason in err naming the member. */
int ds__node_gov_parse(struct ds_node_genesis *g, json_t *root, char *err, size_t cap) DS_MUST_USE;
/* Adds g->gov's members back into root (the formatter's organisations and
 * validators arrays, index by index, and "governance"). 0 or DS_ENOMEM. */
int ds__node_gov_format(json_t *root, const struct ds_node_genesis *g) DS_MUST_USE;
/* The system records of g. *out owned by the caller on success
 * (ds_exec_sys_genesis_free). Errors as ds__node_gov_parse. */
int ds__node_gov_state(const struct ds_node_genesis *g, struct ds_exec_sys_genesis_state *out,
		       char *err, size_t cap) DS_MUST_USE;

/* GET /v1/contracts: {"contracts": [...]} from sys/contract/ (latest
 * state). *out owned by the caller. 0, DS_ENOMEM, or a chain read error. */
int ds__node_gov_contracts(struct ds_chain *c, json_t **out) DS_MUST_USE;
/* GET /v1/proposals: {"proposals": [...]} newest first, at most limit
 * (1..DS__NODE_GOV_PROPOSALS_MAX), only those with that status when status
 * is non-NULL. Errors as above. */
int ds__node_gov_proposals(struct ds_chain *c, const char *status, size_t limit,
			   json_t **out) DS_MUST_USE;

#endif
