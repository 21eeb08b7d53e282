/* danshari init (write a consortium) and danshari node (run one node). */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "keyfile/keyfile.h"
#include "node/node.h"

static const char init_help[] =
	"usage: danshari init --nodes N --dir DIR [--observers K] [--base-port P]\n"
	"                     [--chain-id ID] [--host ADDR] [--api-host ADDR]\n"
	"\n"
	"Writes a new consortium of N validators (1..128) for a devnet or as a\n"
	"starting point for a real one (docs/OPERATIONS.md):\n"
	"  DIR/genesis.json        chain id, validators, parameters, organisations\n"
	"  DIR/nodes.json          node ids, public keys, p2p and API addresses\n"
	"  DIR/nodeI/config.json   node I's configuration\n"
	"  DIR/nodeI/node.key      node I's Ed25519 key (mode 0600)\n"
	"--observers K adds nodes N..N+K-1 that connect and follow the chain but do\n"
	"not validate until governance adds them (genesis \"observers\").\n"
	"Ports: p2p = P + 2I, API = P + 2I + 1 (default P = 26600). Validators\n"
	"advertise ADDR (default 127.0.0.1, numeric); APIs listen on --api-host\n"
	"(default 127.0.0.1, loopback). Organisation orgI has node I's key as its\n"
	"admin key and may grant the default roles (writer, contract.call,\n"
	"identity:register, legal:grant, legal:erase, issuer:<category>); kv is\n"
	"open to every account (kv.open = 1); the shipped contracts/credit.lua and\n"
	"contracts/identity.lua are deployed at genesis by org0 when found next to\n"
	"the binary, and config.json's web_dir points at the repository's web/.\n"
	"An existing DIR/genesis.json is never overwritten.\n";

static const char node_help[] =
	"usage: danshari node --home DIR [--log-level debug|info|warn|error|off]\n"
	"\n"
	"Runs one validator from its home DIR (config.json, node.key, data/;\n"
	"the genesis is DIR/../genesis.json unless config.json names another).\n"
	"Logs go to stderr in logfmt. SIGINT or SIGTERM stops the node cleanly\n"
	"(exit status 0).\n";

static int opt_val(const char *cmd, int argc, char **argv, int *i, const char *name, const char **out)
{
	size_t nl = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, nl) != 0)
		return 0;
	if (a[nl] == '=') {
		if (*out)
			return -ds_cli_usage(cmd, "%s given twice", name);
		*out = a + nl + 1;
		return 1;
	}
	if (a[nl] != 0)
		return 0;
	if (*i + 1 >= argc)
		return -ds_cli_usage(cmd, "%s needs a value", name);
	if (*out)
		return -ds_cli_usage(cmd, "%s given twice", name);
	*out = argv[++*i];
	return 1;
}

static int parse_uint(uint64_t *out, const char *s, uint64_t min, uint64_t max)
{
	if (!s[0] || strlen(s) > 19)
		return -1;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int write_text(const char *cmd, const char *path, const struct ds_buf *b, unsigned mode)
{
	int rc = ds_file_write_atomic(path, b->data, b->len, mode, 1);
	if (rc == DS_EEXIST)
		return ds_cli_fail(cmd, "%s exists already; refusing to overwrite it", path);
	if (rc)
		return ds_cli_fail(cmd, "cannot write %s: %s", path, ds_strerror(rc));
	return 0;
}

static bool numeric_host(const char *h)
{
	char tmp[128], host[64];
	uint16_t port;
	if (strchr(h, ':'))
		snprintf(tmp, sizeof(tmp), "[%s]:1", h);
	else
		snprintf(tmp, sizeof(tmp), "%s:1", h);
	return ds_node_parse_hostport(host, sizeof(host), &port, tmp) == 0;
}

static void hostport(char *out, size_t cap, const char *host, unsigned port)
{
	if (strchr(host, ':'))
		snprintf(out, cap, "[%s]:%u", host, port);
	else
		snprintf(out, cap, "%s:%u", host, port);
}

/* The repository (or install) directory holding contracts/ and web/: the
 * parent of the binary's directory (build/danshari), else the working
 * directory. "" when neither has them. */
static void find_repo(char *out, size_t cap)
{
	char exe[PATH_MAX], cand[2][PATH_MAX + 8];
	size_t nc = 0;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *sl = strrchr(exe, '/');
		if (sl) {
			*sl = 0;
			snprintf(cand[nc++], sizeof(cand[0]), "%s/..", exe);
		}
	}
	if (getcwd(cand[nc], PATH_MAX))
		nc++;
	out[0] = 0;
	for (size_t i = 0; i < nc; i++) {
		char probe[PATH_MAX + 64], real[PATH_MAX];
		snprintf(probe, sizeof(probe), "%.4096s/web/index.html", cand[i]);
		bool web = access(probe, R_OK) == 0;
		snprintf(probe, sizeof(probe), "%.4096s/contracts/credit.lua", cand[i]);
		if ((web || access(probe, R_OK) == 0) && realpath(cand[i], real) && strlen(real) < cap) {
			snprintf(out, cap, "%s", real);
			return;
		}
	}
}

/* The shipped contracts and the roles their methods need at the
 * authorizer (the contracts check issuer:<category>, legal:* and
 * identity:register themselves). Methods a subject calls with its own key
 * (appeal, consent grants, key rotation) are open to senders without an
 * account. */
static const struct {
	const char *name, *roles;
} shipped[] = {
	{"credit", "{\"*\":\"contract.call\",\"appeal\":\"\",\"grant\":\"\",\"revoke_grant\":\"\"}"},
	{"identity", "{\"*\":\"contract.call\",\"rotate_key\":\"\"}"},
};

/* Governance defaults plus the shipped contracts found under repo. */
static int init_gov(const char *cmd, struct ds_node_genesis *g, const char *repo)
{
	struct ds_node_gov_contract c[DS_ARRAY_LEN(shipped)];
	uint8_t *src[DS_ARRAY_LEN(shipped)] = {0};
	size_t nc = 0;
	int ret = 0;
	for (size_t i = 0; repo[0] && i < DS_ARRAY_LEN(shipped); i++) {
		char path[PATH_MAX + 64];
		size_t len;
		snprintf(path, sizeof(path), "%s/contracts/%s.lua", repo, shipped[i].name);
		int rc = ds_file_read(&src[nc], &len, path, 256u << 10);
		if (rc == DS_ENOTFOUND)
			continue;
		if (rc) {
			ret = ds_cli_fail(cmd, "cannot read %s: %s", path, ds_strerror(rc));
			goto out;
		}
		c[nc] = (struct ds_node_gov_contract){shipped[i].name, (const char *)src[nc], len,
						      shipped[i].roles};
		nc++;
	}
	char err[256] = "";
	if (ds_node_genesis_default_gov(g, c, nc, err, sizeof(err)) != 0) {
		ret = ds_cli_fail(cmd, "cannot write the governance part of genesis: %s", err);
		goto out;
	}
	if (nc)
		printf("genesis deploys %zu contract(s) from %s/contracts\n", nc, repo);
	else
		printf("no contracts found to deploy at genesis (looked in %s/contracts)\n",
		       repo[0] ? repo : "<repo>");
out:
	for (size_t i = 0; i < DS_ARRAY_LEN(src); i++)
		free(src[i]);
	return ret;
}

int ds_cli_init(int argc, char **argv)
{
	const char *cmd = "init";
	if (ds_cli_wants_help(argc, argv)) {
		fputs(init_help, stdout);
		return 0;
	}
	const char *nodes_s = NULL, *dir = NULL, *port_s = NULL, *chain = NULL, *host = NULL,
		   *api_host = NULL, *obs_s = NULL;
	for (int i = 1; i < argc; i++) {
		int r;
		if ((r = opt_val(cmd, argc, argv, &i, "--nodes", &nodes_s)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--dir", &dir)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--observers", &obs_s)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--base-port", &port_s)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--chain-id", &chain)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--host", &host)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--api-host", &api_host))) {
			if (r < 0)
				return -r;
			continue;
		}
		return ds_cli_usage(cmd, "unexpected argument '%s'", argv[i]);
	}
	uint64_t nn, base = 26600, no = 0;
	if (!nodes_s || !dir)
		return ds_cli_usage(cmd, "--nodes N and --dir DIR are required");
	if (parse_uint(&nn, nodes_s, 1, DS_VALIDATORS_MAX) != 0)
		return ds_cli_usage(cmd, "bad --nodes '%s' (1..%d)", nodes_s, DS_VALIDATORS_MAX);
	if (obs_s && parse_uint(&no, obs_s, 0, DS_VALIDATORS_MAX - nn) != 0)
		return ds_cli_usage(cmd, "bad --observers '%s' (0..%llu with %llu validators)", obs_s,
				    (unsigned long long)(DS_VALIDATORS_MAX - nn), (unsigned long long)nn);
	if (port_s && parse_uint(&base, port_s, 1, 65535) != 0)
		return ds_cli_usage(cmd, "bad --base-port '%s'", port_s);
	if (base + 2 * (nn + no) - 1 > 65535)
		return ds_cli_usage(cmd, "--base-port %llu leaves no room for %llu nodes (ports up to %llu)",
				    (unsigned long long)base, (unsigned long long)(nn + no),
				    (unsigned long long)(base + 2 * (nn + no) - 1));
	if (!chain)
		chain = "danshari-devnet";
	if (!ds_ledger_chain_id_valid(chain))
		return ds_cli_usage(cmd, "bad --chain-id '%s' (1-%d of a-z 0-9 . _ -)", chain, DS_CHAIN_ID_MAX);
	if (!host)
		host = "127.0.0.1";
	if (!api_host)
		api_host = "127.0.0.1";
	if (!numeric_host(host) || !numeric_host(api_host))
		return ds_cli_usage(cmd, "--host and --api-host must be numeric IPv4 or IPv6 addresses");
	if (strlen(dir) > 900)
		return ds_cli_usage(cmd, "--dir path too long");

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ds_cli_fail(cmd, "cannot create %s: %s", dir, strerror(errno));
	char absdir[PATH_MAX];
	if (!realpath(dir, absdir))
		return ds_cli_fail(cmd, "cannot resolve %s: %s", dir, strerror(errno));
	if (strlen(absdir) > 900)
		return ds_cli_fail(cmd, "%s: path too long", absdir);
	char gpath[PATH_MAX + 32];
	snprintf(gpath, sizeof(gpath), "%s/genesis.json", absdir);
	if (access(gpath, F_OK) == 0)
		return ds_cli_fail(cmd, "%s exists already; refusing to overwrite a consortium", gpath);

	char repo[PATH_MAX], web[PATH_MAX + 8] = "";
	find_repo(repo, sizeof(repo));
	if (repo[0]) {
		snprintf(web, sizeof(web), "%s/web", repo);
		char probe[PATH_MAX + 32];
		snprintf(probe, sizeof(probe), "%s/index.html", web);
		if (access(probe, R_OK) != 0 || strlen(web) > 1000)
			web[0] = 0;
	}
	struct ds_node_genesis *g = calloc(1, sizeof(*g));
	struct ds_buf buf;
	ds_buf_init(&buf);
	json_t *nodes = json_array();
	int ret = 1;
	if (!g || !nodes) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto out;
	}
	snprintf(g->g.chain_id, sizeof(g->g.chain_id), "%s", chain);
	g->g.time_ms = ds_now_ms();
	g->g.params.max_tx_lifetime = 10000;
	g->g.params.block_txs_max = 5000;
	g->g.params.retain_versions = 0;
	g->round_timeout_ms = 1500;
	g->round_timeout_max_ms = 10000;
	g->empty_block_interval_ms = 500;
	g->governance_threshold = (uint32_t)(2 * nn / 3 + 1);
	if (g->governance_threshold > nn)
		g->governance_threshold = (uint32_t)nn;
	g->g.valset.epoch = 0;
	g->g.valset.n = (uint32_t)nn;
	g->norgs = (uint32_t)nn;
	g->nnodes = (uint32_t)(nn + no);
	for (uint64_t i = 0; i < nn + no; i++) {
		char home[PATH_MAX + 64], path[PATH_MAX + 96], p2p[DS_NODE_ADDR_MAX + 1],
			api[DS_NODE_ADDR_MAX + 1], apiurl[DS_NODE_ADDR_MAX + 16], hex[2 * DS_PK_LEN + 1];
		unsigned pp = (unsigned)(base + 2 * i), ap = (unsigned)(base + 2 * i + 1);
		snprintf(home, sizeof(home), "%s/node%llu", absdir, (unsigned long long)i);
		if (mkdir(home, 0700) != 0 && errno != EEXIST) {
			ret = ds_cli_fail(cmd, "cannot create %s: %s", home, strerror(errno));
			goto out;
		}
		struct ds_key key;
		char kerr[DS_KEYFILE_ERR_MAX];
		if (ds_keyfile_generate(&key) != 0) {
			ret = ds_cli_fail(cmd, "cannot generate a key");
			goto out;
		}
		snprintf(path, sizeof(path), "%s/node.key", home);
		int rc = ds_keyfile_write(path, &key, kerr, sizeof(kerr));
		memcpy(g->node_pk[i], key.pk, DS_PK_LEN);
		ds_keyfile_wipe(&key);
		if (rc) {
			ret = ds_cli_fail(cmd, "%s", kerr);
			goto out;
		}
		snprintf(g->names[i], sizeof(g->names[i]), "node%llu", (unsigned long long)i);
		hostport(p2p, sizeof(p2p), host, pp);
		snprintf(g->p2p[i], sizeof(g->p2p[i]), "%s", p2p);
		if (i < nn) {
			memcpy(g->g.valset.v[i].pk, g->node_pk[i], DS_PK_LEN);
			g->g.valset.v[i].power = 1;
			snprintf(g->orgs[i].name, sizeof(g->orgs[i].name), "org%llu", (unsigned long long)i);
			memcpy(g->orgs[i].admin_pk, g->node_pk[i], DS_PK_LEN);
		}

		struct ds_node_config c;
		ds_node_config_default(&c);
		snprintf(c.node_id, sizeof(c.node_id), "%s", g->names[i]);
		snprintf(c.home, sizeof(c.home), "%.1000s", home);
		/* Listen where the genesis says peers will dial. */
		snprintf(c.p2p_listen, sizeof(c.p2p_listen), "%s", p2p);
		hostport(api, sizeof(api), api_host, ap);
		snprintf(c.api_listen, sizeof(c.api_listen), "%s", api);
		snprintf(c.web_dir, sizeof(c.web_dir), "%.1000s", web);
		ds_buf_reset(&buf);
		if (ds_node_config_format(&buf, &c) != 0) {
			ret = ds_cli_fail(cmd, "out of memory");
			goto out;
		}
		snprintf(path, sizeof(path), "%s/config.json", home);
		if ((ret = write_text(cmd, path, &buf, 0644)) != 0)
			goto out;
		ret = 1;
		ds_keyfile_pk_to_hex(hex, g->node_pk[i]);
		snprintf(apiurl, sizeof(apiurl), "http://%s", api);
		json_array_append_new(nodes, json_pack("{s:s,s:s,s:s,s:s,s:b}", "id", g->names[i],
						       "public_key", hex, "p2p", p2p, "api", apiurl,
						       "observer", i >= nn));
	}
	if ((ret = init_gov(cmd, g, repo)) != 0)
		goto out;
	ret = 1;
	if (!web[0])
		printf("no web/ explorer found next to the binary: the nodes will serve no explorer\n");
	/* nodes.json before genesis.json: genesis is the "consortium exists" mark. */
	ds_buf_reset(&buf);
	json_t *nj = json_pack("{s:s,s:o}", "chain_id", chain, "nodes", nodes);
	nodes = NULL;
	char *ns = nj ? json_dumps(nj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(nj);
	if (!ns) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto out;
	}
	ds_buf_append(&buf, ns, strlen(ns));
	ds_buf_append(&buf, "\n", 1);
	free(ns);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/nodes.json", absdir);
	if (buf.err || (ret = write_text(cmd, path, &buf, 0644)) != 0)
		goto out;
	ret = 1;
	ds_buf_reset(&buf);
	if (ds_node_genesis_format(&buf, g) != 0) {
		ret = ds_cli_fail(cmd, "out of memory");
		goto out;
	}
	/* Parse what we wrote: init must never emit a genesis the node refuses. */
	char perr[512];
	struct ds_node_genesis *chk = malloc(sizeof(*chk));
	int prc = chk ? ds_node_genesis_parse(chk, (const char *)buf.data, buf.len, perr, sizeof(perr))
		      : DS_ENOMEM;
	free(chk);
	if (prc) {
		ret = ds_cli_fail(cmd, "internal error: generated genesis refused: %s", prc == DS_ENOMEM ? "out of memory" : perr);
		goto out;
	}
	if ((ret = write_text(cmd, gpath, &buf, 0644)) != 0)
		goto out;
	printf("wrote %s (chain %s, %llu validators, %llu observers), %s, and node0..node%llu\n",
	       gpath, chain, (unsigned long long)nn, (unsigned long long)no, path,
	       (unsigned long long)(nn + no - 1));
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	json_decref(nodes);
	ds_buf_free(&buf);
	free(g);
	return ret;
}

int ds_cli_node(int argc, char **argv)
{
	const char *cmd = "node";
	if (ds_cli_wants_help(argc, argv)) {
		fputs(node_help, stdout);
		return 0;
	}
	const char *home = NULL, *level = NULL;
	for (int i = 1; i < argc; i++) {
		int r;
		if ((r = opt_val(cmd, argc, argv, &i, "--home", &home)) ||
		    (r = opt_val(cmd, argc, argv, &i, "--log-level", &level))) {
			if (r < 0)
				return -r;
			continue;
		}
		return ds_cli_usage(cmd, "unexpected argument '%s'", argv[i]);
	}
	if (!home || !home[0])
		return ds_cli_usage(cmd, "--home DIR is required");
	if (level) {
		enum ds_log_level l;
		if (ds_log_parse_level(&l, level) != 0)
			return ds_cli_usage(cmd, "bad --log-level '%s' (debug, info, warn, error, off)", level);
	}
	struct ds_node_options opt = {.home = home, .log_level = level};
	struct ds_node *n;
	char err[1024] = "";
	int rc = ds_node_open(&n, &opt, err, sizeof(err));
	if (rc)
		return ds_cli_fail(cmd, "%s", err);
	rc = ds_node_run(n);
	ds_node_free(n);
	if (rc)
		return ds_cli_fail(cmd, "stopped with an error: %s", ds_strerror(rc));
	return 0;
}
