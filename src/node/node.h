/* node — one danshari validator: configuration, genesis, and the event loop
 * that wires consensus, the peer network, the mempool, the chain and the
 * HTTP API together. Only this module knows every other one.
 *
 * Files of a node home (docs/PROTOCOL.md):
 *   HOME/config.json   node configuration (ds_node_config_load)
 *   HOME/node.key      Ed25519 identity key (keyfile module, mode 0600)
 *   HOME/data/         the chain's LMDB environment
 *   HOME/consensus/    the consensus log (node_wal.h): the safety state and
 *                      the blocks the core accepted, fsync'd before a vote
 *   HOME/safety, HOME/pending/   an older release's form of the same: read
 *                      at start, removed once the log holds their content
 *   ../genesis.json    the consortium's genesis (or config "genesis")
 *
 * Threads: ds_node_run runs the loop on the calling thread; every other
 * function runs on that loop thread unless it says "any thread". */
#ifndef DS_NODE_H
#define DS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"
#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "util/util.h"

#define DS_NODE_ID_MAX 64         /* bytes of a node id / validator name */
#define DS_NODE_ADDR_MAX 80       /* "host:port", "[v6]:port", "http://host:port" */
#define DS_NODE_PATH_MAX 1024
#define DS_NODE_ORGS_MAX DS_VALIDATORS_MAX
#define DS_NODE_JSON_MAX (1u << 20) /* bytes of a config or genesis file */
#define DS_NODE_COMMIT_HOOKS_MAX 4
#define DS_NODE_GOV_JSON_MAX (512u << 10) /* bytes of genesis.json's governance extras */

/* ------------------------------------------------------------ genesis --- */

struct ds_node_org {
	char name[DS_NODE_ID_MAX + 1];
	uint8_t admin_pk[DS_PK_LEN];
};

/* genesis.json, parsed. g.state/g.nstate are filled by the caller (see
 * ds_node_genesis_state); the parser leaves them empty. */
struct ds_node_genesis {
	struct ds_genesis g;                 /* chain id, time, valset, params */
	/* The network: the epoch-0 validators (indexes 0..valset.n-1) followed by
	 * the observers of genesis.json (valset.n..nnodes-1). Later epochs'
	 * validators must be among these nodes to be reached. */
	uint32_t nnodes;
	char names[DS_VALIDATORS_MAX][DS_NODE_ID_MAX + 1];  /* node names */
	char p2p[DS_VALIDATORS_MAX][DS_NODE_ADDR_MAX + 1];  /* node addresses */
	uint8_t node_pk[DS_VALIDATORS_MAX][DS_PK_LEN];      /* node keys */
	uint64_t round_timeout_ms;           /* consensus base timeout */
	uint64_t round_timeout_max_ms;       /* back-off cap */
	uint64_t empty_block_interval_ms;    /* idle pacing, < round_timeout_ms */
	uint32_t governance_threshold;       /* votes to pass a proposal */
	uint32_t norgs;
	struct ds_node_org orgs[DS_NODE_ORGS_MAX];
	/* Governance extras (organisations' display_name and roles,
	 * validators' org, the "governance" member; docs/PROTOCOL.md) as
	 * compact JSON in the shape of a sparse genesis document, NUL
	 * terminated; "" when the file has none. Written by the parser and by
	 * ds_node_genesis_default_gov, read by ds_node_genesis_state and the
	 * formatter. */
	char gov[DS_NODE_GOV_JSON_MAX];
};

/* Parses genesis JSON text strictly: every member known and of its type,
 * no duplicate keys, ranges checked (see docs/PROTOCOL.md). err (cap
 * err_cap) gets a one-line reason naming the member. Returns 0 or
 * DS_EINVAL / DS_ERANGE / DS_ETOOBIG. */
int ds_node_genesis_parse(struct ds_node_genesis *out, const char *text, size_t len, char *err,
			  size_t err_cap) DS_MUST_USE;
/* Reads and parses a genesis file (at most DS_NODE_JSON_MAX bytes). */
int ds_node_genesis_load(struct ds_node_genesis *out, const char *path, char *err,
			 size_t err_cap) DS_MUST_USE;
/* Canonical JSON text of g (keys in a fixed order, 2-space indent), NUL
 * terminated, appended to out. Parsing it back gives g. */
int ds_node_genesis_format(struct ds_buf *out, const struct ds_node_genesis *g) DS_MUST_USE;

/* The genesis state writes: the system records (exec_sys.h) of the
 * organisations, their admin accounts, the governance accounts, parameters,
 * validators and pre-deployed contracts, sorted by key. *state and what it
 * points to are owned by the caller on success and freed with
 * ds_node_genesis_state_free. Returns 0, or the error of
 * ds_exec_sys_genesis_state (the parser has checked the same already). */
int ds_node_genesis_state(const struct ds_node_genesis *g, struct ds_kv **state,
			  size_t *nstate) DS_MUST_USE;
void ds_node_genesis_state_free(struct ds_kv *state, size_t nstate);

/* A contract pre-deployed by genesis (init). */
struct ds_node_gov_contract {
	const char *name;       /* DS_NAME, e.g. "credit" */
	const char *source;     /* Lua source (UTF-8), borrowed */
	size_t source_len;
	const char *roles_json; /* JSON object {method: role}, or NULL */
};
/* Fills g->gov for a fresh consortium (init; orgs and validators set):
 * every organisation may grant DS_NODE_DEFAULT_ROLES, validator i belongs to
 * organisation i (the last one when there are fewer), parameters
 * gov.threshold_num 2, gov.threshold_den 3, kv.open 1, and the contracts
 * deployed by organisations[0]. Returns 0, or DS_EINVAL / DS_ETOOBIG /
 * DS_ENOMEM with a reason in err. */
#define DS_NODE_DEFAULT_ROLES                                                        \
	"writer", "contract.call", "identity:register", "legal:grant", "legal:erase", \
		"issuer:court.judgment", "issuer:tax.overdue", "issuer:licence.revoked", \
		"issuer:award.honour"
int ds_node_genesis_default_gov(struct ds_node_genesis *g, const struct ds_node_gov_contract *c,
				size_t nc, char *err, size_t err_cap) DS_MUST_USE;

/* "host:port" with a numeric IPv4 address or "[IPv6]:port"; port 1..65535. */
int ds_node_parse_hostport(char *host, size_t host_cap, uint16_t *port, const char *s) DS_MUST_USE;

/* ------------------------------------------------------------- config --- */

struct ds_node_config {
	char node_id[DS_NODE_ID_MAX + 1];
	char home[DS_NODE_PATH_MAX];          /* as written by init (informative) */
	char p2p_listen[DS_NODE_ADDR_MAX + 1]; /* host:port */
	char api_listen[DS_NODE_ADDR_MAX + 1]; /* host:port; loopback by default */
	char log_level[8];                    /* debug|info|warn|error|off */
	char key_file[DS_NODE_PATH_MAX];      /* relative to HOME unless absolute */
	char genesis[DS_NODE_PATH_MAX];       /* "" = HOME/../genesis.json */
	uint64_t mempool_txs_max;             /* default 200000 */
	uint64_t mempool_bytes_max;           /* default 256 MiB */
	uint32_t api_threads;                 /* default 2 */
	uint64_t map_size_max;                /* LMDB map bound, 0 = store default */
	char web_dir[DS_NODE_PATH_MAX];       /* explorer files served at /; "" = none */
};

void ds_node_config_default(struct ds_node_config *c);
/* Parses config JSON strictly (as the genesis parser). */
int ds_node_config_parse(struct ds_node_config *out, const char *text, size_t len, char *err,
			 size_t err_cap) DS_MUST_USE;
int ds_node_config_load(struct ds_node_config *out, const char *path, char *err,
			size_t err_cap) DS_MUST_USE;
int ds_node_config_format(struct ds_buf *out, const struct ds_node_config *c) DS_MUST_USE;

/* ------------------------------------------------------------ running --- */

struct ds_node;
struct ds_api;

struct ds_node_options {
	const char *home;       /* node home directory (borrowed) */
	const char *log_level;  /* overrides the config's, or NULL */
	bool no_sync;           /* tests only: no fsync in the chain */
};

/* Loads config, key, genesis; opens the chain; creates the loop, net,
 * consensus, mempool and API. err gets a one-line reason on failure (e.g.
 * "this node's key is not in the genesis validator set", "data/ belongs to
 * another genesis"). *out owned on success (ds_node_free). */
int ds_node_open(struct ds_node **out, const struct ds_node_options *opt, char *err,
		 size_t err_cap) DS_MUST_USE;
/* Runs until SIGINT/SIGTERM or ds_node_stop, then stops consensus, closes
 * the network and API. Returns 0 after a clean stop, or the error that
 * stopped the node (e.g. DS_EFULL: disk full). */
int ds_node_run(struct ds_node *n) DS_MUST_USE;
/* Any thread: asks the loop to stop. */
void ds_node_stop(struct ds_node *n);
/* Frees everything, flushes and closes the chain. NULL is a no-op. */
void ds_node_free(struct ds_node *n);

/* --------------------------------------------- interface for node_http --- */

/* The chain (reads are thread-safe). Valid until ds_node_free. */
struct ds_chain *ds_node_chain(struct ds_node *n);
/* The node's metrics registry (also served by the API at /metrics). */
struct ds_metrics *ds_node_metrics(struct ds_node *n);
/* The running API server, or NULL. */
struct ds_api *ds_node_api(struct ds_node *n);
/* Node id ("node0") and chain id; static for the node's life. */
const char *ds_node_id(const struct ds_node *n);

/* Called with a submission's outcome, on the loop thread: rc is 0 when the
 * transaction entered the pool, else DS_EFULL (mempool full), DS_EREPLAY
 * (already committed), DS_EEXIST (already pooled), DS_EEXPIRED (expiry not
 * in (tip, tip + max_tx_lifetime]), DS_ECHAIN (other chain), DS_ESIG,
 * DS_EINVAL (does not decode), DS_ECLOSED (node stopping). id is the tx id
 * (all zero when the tx did not decode). */
typedef void (*ds_node_submit_fn)(void *arg, int rc, const uint8_t id[DS_HASH_LEN]);
/* Any thread. Copies tx and queues it for admission. Returns 0 when done
 * will be called exactly once; DS_EFULL (the loop's queue is full) or
 * DS_ETOOBIG / DS_EINVAL (size) when it will not be. */
int ds_node_submit_tx(struct ds_node *n, const uint8_t *tx, size_t len, ds_node_submit_fn done,
		      void *arg) DS_MUST_USE;

/* Any thread: true while the tx id waits in this node's mempool. */
bool ds_node_tx_pending(struct ds_node *n, const uint8_t id[DS_HASH_LEN]);

struct ds_node_validator_status {
	uint32_t index;
	char name[DS_NODE_ID_MAX + 1];
	char public_key[2 * DS_PK_LEN + 1]; /* hex */
	char p2p[DS_NODE_ADDR_MAX + 1];
	bool self;
	bool connected;
	uint64_t last_seen_ms; /* wall clock of the last message; 0 = never */
};

struct ds_node_status {
	char chain_id[DS_CHAIN_ID_MAX + 1];
	char node_id[DS_NODE_ID_MAX + 1];
	uint64_t height;                    /* committed tip */
	uint8_t last_block_hash[DS_HASH_LEN];
	uint64_t last_block_time_ms;
	uint64_t txs_total;                 /* committed since genesis */
	uint64_t round, epoch;
	uint64_t mempool_txs, mempool_bytes;
	uint32_t peers_connected;
	uint32_t self_index;
	bool syncing;                       /* block sync by height in progress */
	uint64_t started_ms;
	struct ds_cons_stats cons;
	uint32_t nvalidators;
	struct ds_node_validator_status validators[DS_VALIDATORS_MAX];
};
/* Any thread: a consistent snapshot (refreshed on every commit and every
 * 100 ms). Returns 0. */
int ds_node_status(struct ds_node *n, struct ds_node_status *out) DS_MUST_USE;

/* A committed block, for hooks: everything borrowed for the call only.
 * Receipts are in the chain already: read them with ds_chain_tx. */
struct ds_node_commit {
	uint64_t height;
	const uint8_t *hash;          /* DS_HASH_LEN */
	const uint8_t *block;         /* block encoding */
	size_t block_len;
	const struct ds_block *decoded;
	uint64_t time_ms;             /* header time */
};
typedef void (*ds_node_commit_fn)(void *arg, const struct ds_node_commit *c);
/* Registers a hook called on the loop thread after each committed block
 * (at most DS_NODE_COMMIT_HOOKS_MAX). 0 or DS_EFULL. */
int ds_node_on_commit(struct ds_node *n, ds_node_commit_fn cb, void *arg) DS_MUST_USE;

/* Implemented by src/node/node_http.c (the /v1 routes); weak so the node
 * links without it. Called once after the API server started. */
__attribute__((weak)) int ds_node_http_start(struct ds_node *n, struct ds_api *api);
/* Its counterpart, called after ds_api_stop (no handler runs any more). */
__attribute__((weak)) void ds_node_http_stop(struct ds_node *n);

#endif
