/* danshari devnet — a local consortium of N node processes in one command.
 *
 * First run: `danshari init` writes DIR (genesis, node homes, keys,
 * nodes.json); later runs reuse DIR and the nodes resume their chains. Each
 * node is `danshari node --home DIR/<id>` (this same binary), in a process
 * group of its own so a terminal's Ctrl-C reaches only us: we then stop the
 * nodes in order (SIGTERM, a bounded wait, SIGKILL as the last resort).
 * PR_SET_PDEATHSIG makes a node stop even if devnet itself is killed. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_json.h"
#include "crypto/crypto.h"
#include "keyfile/keyfile.h"
#include "ledger/ledger.h"
#include "util/util.h"

#define CMD "devnet"
#define NODES_MAX 64
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 15000
#define STATUS_TIMEOUT_MS 1000
#define PATH_CAP 4096

static const char help[] =
	"usage: danshari devnet --nodes N --dir DIR [--base-port P] [--no-demo]\n"
	"\n"
	"Runs a local consortium of N nodes, each a separate process. The first\n"
	"time, DIR is created with 'danshari init' (genesis, keys, node homes,\n"
	"DIR/nodes.json); afterwards DIR is reused and the chain resumes. Each node\n"
	"logs to DIR/<node>/node.log. The genesis deploys the shipped contracts.\n"
	"Once every node answers GET /v1/status a small demo data set is sent as\n"
	"signed transactions through the API (first run only, unless --no-demo):\n"
	"kv writes, credit records issued by org1 (court) and org2 (tax bureau)\n"
	"through credit.lua, an open proposal. Then the explorer and API URLs are\n"
	"printed.\n"
	"Ctrl-C (SIGINT) or SIGTERM stops every node cleanly and exits.\n";

struct opt {
	const char *name;
	bool flag;
	const char *val;
	bool seen;
};

static int parse_opts(int argc, char **argv, struct opt *o, size_t n)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0)
			return ds_cli_usage(CMD, "unexpected argument '%s'", a);
		const char *eq = strchr(a + 2, '=');
		size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		struct opt *hit = NULL;
		for (size_t k = 0; k < n; k++)
			if (strlen(o[k].name) == len && strncmp(o[k].name, a + 2, len) == 0)
				hit = &o[k];
		if (!hit)
			return ds_cli_usage(CMD, "unknown option '%.*s'", (int)(len + 2), a);
		if (hit->seen)
			return ds_cli_usage(CMD, "option --%s given twice", hit->name);
		hit->seen = true;
		if (hit->flag) {
			if (eq)
				return ds_cli_usage(CMD, "option --%s takes no value", hit->name);
			continue;
		}
		if (eq) {
			hit->val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return ds_cli_usage(CMD, "option --%s needs a value", hit->name);
			hit->val = argv[++i];
		}
	}
	return 0;
}

static bool is_uint(const char *s, unsigned long min, unsigned long max)
{
	if (!s[0] || strlen(s) > 9 || (s[0] == '0' && s[1]))
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	unsigned long v = strtoul(s, NULL, 10);
	return v >= min && v <= max;
}

struct dnode {
	char id[64];
	char home[PATH_CAP];
	char api[128];      /* http://host:port */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	pid_t pid;          /* 0 when not running */
	bool up;
};

static int resolve_api(struct dnode *d)
{
	const char *h = d->api;
	if (strncmp(h, "http://", 7) != 0)
		return DS_EINVAL;
	h += 7;
	char host[128], port[8];
	size_t n = strcspn(h, "/");
	const char *colon = memrchr(h, ':', n);
	if (!colon || colon == h || (size_t)(colon - h) >= sizeof(host) || n - (size_t)(colon - h) - 1 >= sizeof(port) ||
	    n - (size_t)(colon - h) - 1 == 0)
		return DS_EINVAL;
	size_t hl = (size_t)(colon - h);
	if (h[0] == '[' && hl >= 3 && h[hl - 1] == ']') {
		memcpy(host, h + 1, hl - 2);
		host[hl - 2] = 0;
	} else {
		memcpy(host, h, hl);
		host[hl] = 0;
	}
	memcpy(port, colon + 1, n - hl - 1);
	port[n - hl - 1] = 0;
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return DS_ENOTFOUND;
	memcpy(&d->addr, res->ai_addr, res->ai_addrlen);
	d->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* True when the node answers GET /v1/status with 200 within timeout_ms. */
static bool status_ok(const struct dnode *d, int timeout_ms)
{
	int fd = socket(d->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = false;
	uint64_t end = ds_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	if (connect(fd, (const struct sockaddr *)&d->addr, d->addr_len) != 0 && errno != EINPROGRESS)
		goto out;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, timeout_ms) != 1)
		goto out;
	int err = 0;
	socklen_t el = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err)
		goto out;
	char req[256];
	int n = snprintf(req, sizeof(req), "GET /v1/status HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			 d->api + 7);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		goto out;
	char buf[16];
	size_t got = 0;
	while (got < 12) {
		uint64_t now = ds_mono_ns();
		if (now >= end)
			goto out;
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) != 1)
			goto out;
		ssize_t r = recv(fd, buf + got, 12 - got, 0);
		if (r <= 0 && !(r < 0 && errno == EAGAIN))
			goto out;
		if (r > 0)
			got += (size_t)r;
	}
	ok = strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0;
out:
	close(fd);
	return ok;
}

static int read_nodes(struct dnode *nodes, size_t *n, const char *dir)
{
	char path[PATH_CAP];
	snprintf(path, sizeof(path), "%s/nodes.json", dir);
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = ds_file_read(&text, &len, path, 1u << 20);
	if (rc)
		return ds_cli_fail(CMD, "cannot read %s: %s", path, ds_strerror(rc));
	json_t *root = json_loadb((const char *)text, len, 0, NULL);
	free(text);
	json_t *arr = json_object_get(root, "nodes");
	int ret = 1;
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > NODES_MAX) {
		ds_cli_fail(CMD, "%s: no \"nodes\" list of 1 to %d nodes", path, NODES_MAX);
		goto out;
	}
	*n = json_array_size(arr);
	for (size_t i = 0; i < *n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *api = json_string_value(json_object_get(e, "api"));
		struct dnode *d = &nodes[i];
		memset(d, 0, sizeof(*d));
		/* The id names a directory: nothing that could leave DIR. */
		if (!id || !id[0] || strlen(id) >= sizeof(d->id) || strchr(id, '/') || id[0] == '.') {
			ds_cli_fail(CMD, "%s: node %zu has no usable \"id\"", path, i);
			goto out;
		}
		if (!api || strlen(api) >= sizeof(d->api)) {
			ds_cli_fail(CMD, "%s: node %s has no usable \"api\"", path, id);
			goto out;
		}
		strcpy(d->id, id);
		strcpy(d->api, api);
		snprintf(d->home, sizeof(d->home), "%s/%s", dir, id);
		if (resolve_api(d) != 0) {
			ds_cli_fail(CMD, "%s: node %s: bad api address '%s'", path, id, api);
			goto out;
		}
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

static pid_t start_node(const struct dnode *d)
{
	char log[PATH_CAP + 16];
	snprintf(log, sizeof(log), "%s/node.log", d->home);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Child: own process group (Ctrl-C goes to devnet only), dies with devnet. */
	(void)setpgid(0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		_exit(127);
	char *args[] = {"danshari", "node", "--home", (char *)d->home, NULL};
	execv("/proc/self/exe", args);
	_exit(127);
}

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_chld;
static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_stop = sig;
}

/* Collects exited nodes; prints each unexpected exit. Returns how many run. */
static size_t reap(struct dnode *nodes, size_t n, bool quiet)
{
	size_t alive = 0;
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i].pid)
			continue;
		int st;
		pid_t r = waitpid(nodes[i].pid, &st, WNOHANG);
		if (r == nodes[i].pid) {
			if (!quiet) {
				if (WIFEXITED(st))
					fprintf(stderr, "danshari devnet: %s exited with status %d (see %s/node.log)\n",
						nodes[i].id, WEXITSTATUS(st), nodes[i].home);
				else
					fprintf(stderr, "danshari devnet: %s killed by signal %d (see %s/node.log)\n",
						nodes[i].id, WTERMSIG(st), nodes[i].home);
			}
			nodes[i].pid = 0;
			continue;
		}
		alive++;
	}
	return alive;
}

/* SIGTERM to every node, a bounded wait, then SIGKILL for the stragglers. */
static void stop_all(struct dnode *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i].pid)
			kill(nodes[i].pid, SIGTERM);
	for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 20) {
		if (reap(nodes, n, true) == 0)
			return;
		usleep(20000);
	}
	for (size_t i = 0; i < n; i++)
		if (nodes[i].pid) {
			fprintf(stderr, "danshari devnet: %s did not stop in %d s: killing it\n", nodes[i].id,
				STOP_TIMEOUT_MS / 1000);
			kill(nodes[i].pid, SIGKILL);
			(void)waitpid(nodes[i].pid, NULL, 0);
			nodes[i].pid = 0;
		}
}

/* Contracts and demo data: only what this build and tree can do; each part
 * that cannot run says so and is skipped. */
/* ---- demo data, through the nodes' real API ------------------------------- */

#define DEMO_RESP_MAX (1u << 20)  /* bytes of one HTTP answer we read */
#define DEMO_HTTP_TIMEOUT_MS 5000
#define DEMO_COMMIT_TIMEOUT_MS 30000
#define DEMO_TXS_MAX 16           /* transactions of one demo phase */

/* One HTTP/1.1 request with Connection: close; reads the answer to EOF
 * (at most DEMO_RESP_MAX bytes). *resp (NUL-terminated body) is owned by
 * the caller. Returns 0 with *status, or an error. */
static int http_call(const struct dnode *d, const char *method, const char *path, const char *ctype,
		     const uint8_t *body, size_t blen, int *status, char **resp)
{
	*resp = NULL;
	*status = 0;
	int fd = socket(d->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DS_EIO;
	struct timeval tv = {DEMO_HTTP_TIMEOUT_MS / 1000, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct ds_buf b;
	ds_buf_init(&b);
	int rc = DS_EIO;
	if (connect(fd, (const struct sockaddr *)&d->addr, d->addr_len) != 0)
		goto out;
	char hdr[512];
	int hl = snprintf(hdr, sizeof(hdr),
			  "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: %s\r\n"
			  "Content-Length: %zu\r\n\r\n",
			  method, path, d->api + 7, ctype ? ctype : "application/json", blen);
	if (hl <= 0 || (size_t)hl >= sizeof(hdr) || send(fd, hdr, (size_t)hl, MSG_NOSIGNAL) != hl)
		goto out;
	if (blen && send(fd, body, blen, MSG_NOSIGNAL) != (ssize_t)blen)
		goto out;
	for (;;) {
		char chunk[4096];
		ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (b.len + (size_t)r > DEMO_RESP_MAX) {
			rc = DS_ETOOBIG;
			goto out;
		}
		ds_buf_append(&b, chunk, (size_t)r);
	}
	ds_buf_append(&b, "", 1);
	if (b.err) {
		rc = DS_ENOMEM;
		goto out;
	}
	const char *t = (const char *)b.data;
	const char *sep = strstr(t, "\r\n\r\n");
	if (strncmp(t, "HTTP/1.", 7) != 0 || !sep || b.len < 13)
		goto out;
	*status = atoi(t + 9);
	*resp = strdup(sep + 4);
	rc = *resp ? 0 : DS_ENOMEM;
out:
	ds_buf_free(&b);
	close(fd);
	return rc;
}

static int demo_get_json(const struct dnode *d, const char *path, json_t **out)
{
	int st;
	char *body;
	*out = NULL;
	int rc = http_call(d, "GET", path, NULL, NULL, 0, &st, &body);
	if (rc)
		return rc;
	if (st == 200)
		*out = json_loads(body, 0, NULL);
	free(body);
	return *out ? 0 : (st == 404 ? DS_ENOTFOUND : DS_EIO);
}

struct demo_tx {
	size_t node;             /* which node's key signs (and which API gets it) */
	const char *target, *method;
	char args[768];          /* JSON */
	uint8_t id[DS_HASH_LEN];
	bool sent, ok;
	char error[160];
	int64_t ret_id;          /* receipt.return.id (gov.propose), else 0 */
};

/* Builds, signs and POSTs t (application/octet-stream). */
static int demo_submit(const struct dnode *d, const char *chain, uint64_t expiry, struct demo_tx *t)
{
	char path[PATH_CAP + 16], kerr[DS_KEYFILE_ERR_MAX];
	struct ds_key key;
	struct ds_buf args;
	uint8_t *scratch = malloc(DS_TX_SCRATCH_LEN), *enc = malloc(DS_TX_SCRATCH_LEN);
	json_t *aj = json_loads(t->args, 0, NULL);
	ds_buf_init(&args);
	memset(&key, 0, sizeof(key));
	int rc = DS_ENOMEM;
	snprintf(path, sizeof(path), "%s/node.key", d->home);
	if (!scratch || !enc || !aj)
		goto out;
	if ((rc = ds_keyfile_load(&key, path, kerr, sizeof(kerr))) ||
	    (rc = ds_cli_value_from_json(&args, aj, NULL, 0)))
		goto out;
	struct ds_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.version = 1;
	snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", chain);
	memcpy(tx.sender, key.pk, DS_PK_LEN);
	tx.nonce = ds_random_u64();
	tx.expiry_height = expiry;
	snprintf(tx.target, sizeof(tx.target), "%s", t->target);
	snprintf(tx.method, sizeof(tx.method), "%s", t->method);
	tx.args = args.data;
	tx.args_len = args.len;
	size_t len;
	if ((rc = ds_tx_sign(&tx, key.sk, scratch, DS_TX_SCRATCH_LEN)) ||
	    (rc = ds_tx_encode(enc, DS_TX_SCRATCH_LEN, &len, &tx)) || (rc = ds_tx_id(t->id, &tx)))
		goto out;
	int st;
	char *body = NULL;
	if ((rc = http_call(d, "POST", "/v1/tx", "application/octet-stream", enc, len, &st, &body)))
		goto out;
	if (st != 202) {
		snprintf(t->error, sizeof(t->error), "HTTP %d: %.120s", st, body);
		rc = DS_EIO;
	}
	free(body);
	t->sent = rc == 0;
out:
	ds_keyfile_wipe(&key);
	json_decref(aj);
	ds_buf_free(&args);
	free(scratch);
	free(enc);
	return rc;
}

/* Submits every tx of a phase, then waits (bounded) for their receipts.
 * Returns the number that committed with status ok. */
static size_t demo_phase(const struct dnode *nodes, const char *chain, struct demo_tx *t, size_t nt)
{
	json_t *st = NULL;
	uint64_t h = 0;
	if (demo_get_json(&nodes[0], "/v1/status", &st) == 0)
		h = (uint64_t)json_integer_value(json_object_get(st, "height"));
	json_decref(st);
	for (size_t i = 0; i < nt; i++)
		if (demo_submit(&nodes[t[i].node], chain, h + 100, &t[i]) != 0 && !t[i].error[0])
			snprintf(t[i].error, sizeof(t[i].error), "not submitted");
	size_t done = 0, ok = 0;
	uint64_t end = ds_mono_ns() + (uint64_t)DEMO_COMMIT_TIMEOUT_MS * 1000000u;
	bool fin[DEMO_TXS_MAX] = {0};
	for (size_t i = 0; i < nt; i++)
		if (!t[i].sent) {
			fin[i] = true;
			done++;
		}
	while (done < nt && ds_mono_ns() < end) {
		for (size_t i = 0; i < nt; i++) {
			if (fin[i])
				continue;
			char path[128], hex[2 * DS_HASH_LEN + 1];
			ds_hex_encode(hex, t[i].id, DS_HASH_LEN);
			snprintf(path, sizeof(path), "/v1/tx/%s", hex);
			json_t *j = NULL;
			if (demo_get_json(&nodes[t[i].node], path, &j) == 0 &&
			    strcmp(json_string_value(json_object_get(j, "status")) ?: "", "committed") == 0) {
				json_t *r = json_object_get(j, "receipt");
				t[i].ok = strcmp(json_string_value(json_object_get(r, "status")) ?: "", "ok") == 0;
				t[i].ret_id = json_integer_value(
					json_object_get(json_object_get(r, "return"), "id"));
				snprintf(t[i].error, sizeof(t[i].error), "%s",
					 json_string_value(json_object_get(r, "error")) ?: "");
				fin[i] = true;
				done++;
				ok += t[i].ok;
			}
			json_decref(j);
		}
		if (done < nt)
			usleep(200000);
	}
	for (size_t i = 0; i < nt; i++)
		if (!t[i].ok)
			printf("demo data: %s.%s by %s failed: %s\n", t[i].target, t[i].method,
			       nodes[t[i].node].id, t[i].error[0] ? t[i].error : "not committed in time");
	return ok;
}

static int node_pk_hex(const struct dnode *d, char out[2 * DS_PK_LEN + 1])
{
	char path[PATH_CAP + 16], kerr[DS_KEYFILE_ERR_MAX];
	struct ds_key key;
	snprintf(path, sizeof(path), "%s/node.key", d->home);
	int rc = ds_keyfile_load(&key, path, kerr, sizeof(kerr));
	if (rc == 0)
		ds_keyfile_pk_to_hex(out, key.pk);
	ds_keyfile_wipe(&key);
	return rc;
}

static void hex_of(char out[2 * DS_HASH_LEN + 1], const char *text)
{
	uint8_t h[DS_HASH_LEN];
	ds_sha256(h, text, strlen(text));
	ds_hex_encode(out, h, DS_HASH_LEN);
}

/* A small, readable data set: org1 acts as the court and org2 as the tax
 * bureau (their admins take the issuer roles through account.set_roles),
 * three pseudonymous subjects are bound, four credit records issued through
 * credit.lua, and a few kv writes. Everything is a signed transaction sent
 * to the nodes' HTTP API, as a client would. */
static void load_demo(const char *dir, struct dnode *nodes, size_t n)
{
	(void)dir;
	json_t *st = NULL, *cons = NULL;
	if (demo_get_json(&nodes[0], "/v1/status", &st) != 0 || !json_string_value(json_object_get(st, "chain_id"))) {
		printf("demo data: skipped (node0's /v1/status is not readable)\n");
		json_decref(st);
		return;
	}
	char chain[DS_CHAIN_ID_MAX + 1];
	snprintf(chain, sizeof(chain), "%s", json_string_value(json_object_get(st, "chain_id")));
	json_decref(st);
	bool credit = false;
	if (demo_get_json(&nodes[0], "/v1/contracts", &cons) == 0) {
		json_t *c;
		size_t i;
		json_array_foreach(json_object_get(cons, "contracts"), i, c)
			credit = credit || strcmp(json_string_value(json_object_get(c, "name")) ?: "", "credit") == 0;
	}
	json_decref(cons);
	size_t court = n > 1 ? 1 : 0, bureau = n > 2 ? 2 : court;
	struct demo_tx t[DEMO_TXS_MAX];
	size_t nt = 0, ok = 0, kv = 0, recs = 0;
	char pk[2 * DS_PK_LEN + 1], subj[3][2 * DS_HASH_LEN + 1], skey[3][2 * DS_HASH_LEN + 1];
	for (int i = 0; i < 3; i++) {
		char s[64];
		snprintf(s, sizeof(s), "devnet demo subject %d", i);
		hex_of(subj[i], s);
		snprintf(s, sizeof(s), "devnet demo subject key %d", i);
		hex_of(skey[i], s);
	}

	/* Phase 1: roles and kv writes. */
	memset(t, 0, sizeof(t));
	static const char *const kvs[][2] = {
		{"demo/welcome", "danshari devnet"}, {"demo/members", "org0 org1 org2 org3"},
		{"demo/court", "org1 issues court.judgment records"},
		{"demo/bureau", "org2 issues tax.overdue records"}, {"demo/note", "personal data stays off chain"}};
	for (size_t i = 0; i < DS_ARRAY_LEN(kvs); i++) {
		t[nt] = (struct demo_tx){.node = 0, .target = "kv", .method = "put"};
		snprintf(t[nt].args, sizeof(t[nt].args), "{\"key\":\"%s\",\"value\":\"%s\"}", kvs[i][0], kvs[i][1]);
		nt++;
	}
	if (credit) {
		size_t who[2] = {court, bureau};
		for (size_t k = 0; k < (court == bureau ? 1u : 2u); k++) {
			size_t i = who[k];
			bool c = i == court, b = i == bureau;
			if (node_pk_hex(&nodes[i], pk) != 0)
				continue;
			t[nt] = (struct demo_tx){.node = i, .target = "account", .method = "set_roles"};
			snprintf(t[nt].args, sizeof(t[nt].args),
				 "{\"pk\":\"%s\",\"roles\":[\"admin\",\"contract.call\"%s%s]}", pk,
				 c ? ",\"identity:register\",\"issuer:court.judgment\"" : "",
				 b ? ",\"issuer:tax.overdue\"" : "");
			nt++;
		}
	}
	/* An open proposal for the explorer's governance page. */
	size_t prop = nt;
	t[nt] = (struct demo_tx){.node = 0, .target = "gov", .method = "propose"};
	snprintf(t[nt].args, sizeof(t[nt].args),
		 "{\"kind\":\"set_param\",\"payload\":{\"name\":\"gov.lifetime\",\"value\":20000}}");
	nt++;
	ok = demo_phase(nodes, chain, t, nt);
	kv = 0;
	for (size_t i = 0; i < DS_ARRAY_LEN(kvs); i++)
		kv += t[i].ok;
	int64_t prop_id = t[prop].ok ? t[prop].ret_id : 0;
	if (credit && ok == nt) {
		/* Phase 2: the court's registrar binds the subjects' keys; org1
		 * approves the proposal (it stays open: 4 orgs need 3). */
		nt = 0;
		memset(t, 0, sizeof(t));
		if (prop_id > 0 && n > 1) {
			t[nt] = (struct demo_tx){.node = 1, .target = "gov", .method = "vote"};
			snprintf(t[nt].args, sizeof(t[nt].args), "{\"id\":%lld,\"approve\":true}",
				 (long long)prop_id);
			nt++;
		}
		for (int i = 0; i < 3; i++) {
			t[nt] = (struct demo_tx){.node = court, .target = "credit", .method = "bind_subject"};
			snprintf(t[nt].args, sizeof(t[nt].args),
				 "{\"subject\":\"%s\",\"pk\":\"%s\",\"kind\":\"%s\",\"key_id\":1}", subj[i], skey[i],
				 i == 2 ? "org" : "person");
			nt++;
		}
		if (demo_phase(nodes, chain, t, nt) == nt) {
			/* Phase 3: records. */
			uint64_t exp = ds_now_ms() + 365ull * 24 * 3600 * 1000;
			static const struct {
				int subject, severity;
				bool court;
				const char *region;
			} rs[] = {{0, 3, true, "north"}, {1, 2, true, "east"}, {0, 1, false, "north"}, {2, 4, false, "south"}};
			nt = 0;
			memset(t, 0, sizeof(t));
			for (size_t i = 0; i < DS_ARRAY_LEN(rs); i++) {
				char cm[2 * DS_HASH_LEN + 1], seed[64];
				snprintf(seed, sizeof(seed), "devnet demo details %zu", i);
				hex_of(cm, seed);
				t[nt] = (struct demo_tx){.node = rs[i].court ? court : bureau, .target = "credit",
							 .method = "issue"};
				snprintf(t[nt].args, sizeof(t[nt].args),
					 "{\"subject\":\"%s\",\"category\":\"%s\",\"severity\":%d,\"region\":\"%s\","
					 "\"expiry_ms\":%llu,\"commitment\":\"%s\"}",
					 subj[rs[i].subject], rs[i].court ? "court.judgment" : "tax.overdue",
					 rs[i].severity, rs[i].region, (unsigned long long)exp, cm);
				nt++;
			}
			recs = demo_phase(nodes, chain, t, nt);
		}
	}
	if (credit)
		printf("demo data: %zu kv writes; %s (court) and %s (tax bureau) issued %zu credit records "
		       "for 3 pseudonymous subjects through credit.lua; proposal %lld open\n",
		       kv, nodes[court].id, nodes[bureau].id, recs, (long long)prop_id);
	else
		printf("demo data: %zu kv writes (credit.lua is not deployed in this genesis)\n", kv);
}

int ds_cli_devnet(int argc, char **argv)
{
	if (ds_cli_wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	struct opt o[] = {
		{"nodes", false, NULL, false},
		{"dir", false, NULL, false},
		{"base-port", false, NULL, false},
		{"no-demo", true, NULL, false},
	};
	int rc = parse_opts(argc, argv, o, DS_ARRAY_LEN(o));
	if (rc)
		return rc;
	if (!o[1].seen || !o[1].val[0])
		return ds_cli_usage(CMD, "--dir is required");
	if (o[0].seen && !is_uint(o[0].val, 1, NODES_MAX))
		return ds_cli_usage(CMD, "--nodes wants a number from 1 to %d, not '%s'", NODES_MAX, o[0].val);
	if (o[2].seen && !is_uint(o[2].val, 1024, 65000))
		return ds_cli_usage(CMD, "--base-port wants a port from 1024 to 65000, not '%s'", o[2].val);
	const char *dir = o[1].val;
	if (strlen(dir) > PATH_CAP - 128)
		return ds_cli_usage(CMD, "--dir is too long");
	/* init writes genesis.json last: it marks a complete consortium. */
	char path[PATH_CAP];
	snprintf(path, sizeof(path), "%s/genesis.json", dir);
	bool fresh = access(path, F_OK) != 0;
	if (fresh) {
		if (!ds_cli_init)
			return ds_cli_fail(CMD, "this build has no 'init' command: cannot create %s", dir);
		if (!o[0].seen)
			return ds_cli_usage(CMD, "%s holds no consortium yet: say how many nodes with --nodes", dir);
		char *iargs[8];
		int ia = 0;
		iargs[ia++] = "init";
		iargs[ia++] = "--nodes";
		iargs[ia++] = (char *)o[0].val;
		iargs[ia++] = "--dir";
		iargs[ia++] = (char *)dir;
		if (o[2].seen) {
			iargs[ia++] = "--base-port";
			iargs[ia++] = (char *)o[2].val;
		}
		iargs[ia] = NULL;
		printf("creating a %s-node consortium in %s\n", o[0].val, dir);
		fflush(stdout);
		rc = ds_cli_init(ia, iargs);
		if (rc)
			return ds_cli_fail(CMD, "could not create the consortium in %s", dir);
	}

	/* One devnet per directory: a second one would fight over ports and data. */
	char lock_path[PATH_CAP];
	snprintf(lock_path, sizeof(lock_path), "%s/devnet.lock", dir);
	int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0)
		return ds_cli_fail(CMD, "cannot open %s: %s", lock_path, strerror(errno));
	if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		close(lock_fd);
		return ds_cli_fail(CMD, "another devnet is already running on %s", dir);
	}

	struct dnode *nodes = calloc(NODES_MAX, sizeof(*nodes));
	size_t n = 0;
	int ret = 1;
	if (!nodes) {
		ds_cli_fail(CMD, "out of memory");
		goto out_lock;
	}
	if (read_nodes(nodes, &n, dir))
		goto out;
	if (o[0].seen && strtoul(o[0].val, NULL, 10) != n) {
		ds_cli_fail(CMD, "%s already holds a %zu-node consortium (asked for %s); use another --dir", dir, n,
			    o[0].val);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(nodes[i].home, &st) != 0 || !S_ISDIR(st.st_mode)) {
			ds_cli_fail(CMD, "node home %s is missing", nodes[i].home);
			goto out;
		}
		if (status_ok(&nodes[i], 300)) {
			ds_cli_fail(CMD, "something already answers on %s (another node running?)", nodes[i].api);
			goto out;
		}
	}

	/* Signals: block them, and wait for them with sigsuspend. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction sa = {0}, o_int, o_term, o_chld;
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &o_int);
	sigaction(SIGTERM, &sa, &o_term);
	sigaction(SIGCHLD, &sa, &o_chld);

	for (size_t i = 0; i < n; i++) {
		nodes[i].pid = start_node(&nodes[i]);
		if (nodes[i].pid < 0) {
			nodes[i].pid = 0;
			ds_cli_fail(CMD, "cannot start %s: %s", nodes[i].id, strerror(errno));
			goto stop;
		}
	}
	printf("%s %zu nodes (logs: %s/<node>/node.log), waiting for their APIs...\n",
	       fresh ? "started" : "resumed", n, dir);
	fflush(stdout);
	uint64_t deadline = ds_mono_ns() + (uint64_t)START_TIMEOUT_MS * 1000000u;
	size_t up = 0;
	while (up < n) {
		sigset_t pend;
		sigpending(&pend);
		if (sigismember(&pend, SIGINT) || sigismember(&pend, SIGTERM)) {
			printf("interrupted while starting\n");
			goto stop;
		}
		if (reap(nodes, n, false) < n) {
			ds_cli_fail(CMD, "a node exited while starting; stopping the others");
			goto stop;
		}
		if (ds_mono_ns() > deadline) {
			ds_cli_fail(CMD, "nodes did not answer /v1/status within %d s (see the node logs)",
				    START_TIMEOUT_MS / 1000);
			goto stop;
		}
		for (size_t i = 0; i < n; i++)
			if (!nodes[i].up && status_ok(&nodes[i], STATUS_TIMEOUT_MS)) {
				nodes[i].up = true;
				up++;
			}
		if (up < n)
			usleep(100000);
	}
	if (fresh && !o[3].seen)
		load_demo(dir, nodes, n);
	printf("\nexplorer: %s/\n", nodes[0].api);
	for (size_t i = 0; i < n; i++)
		printf("  %-8s API %s  (pid %d, home %s)\n", nodes[i].id, nodes[i].api, (int)nodes[i].pid,
		       nodes[i].home);
	printf("nodes file for tools: %s/nodes.json\n", dir);
	printf("Ctrl-C stops every node; running this again resumes the same chain.\n");
	fflush(stdout);

	for (;;) {
		sigset_t wait_set = old;
		sigdelset(&wait_set, SIGINT);
		sigdelset(&wait_set, SIGTERM);
		sigdelset(&wait_set, SIGCHLD);
		if (!got_stop && !got_chld)
			sigsuspend(&wait_set);
		if (got_stop)
			break;
		if (got_chld) {
			got_chld = 0;
			if (reap(nodes, n, false) == 0) {
				ds_cli_fail(CMD, "every node has exited");
				goto stop;
			}
		}
	}
	printf("\nstopping %zu nodes...\n", n);
	fflush(stdout);
	ret = 0;
stop:
	stop_all(nodes, n);
	if (ret == 0)
		printf("all nodes stopped\n");
	sigaction(SIGINT, &o_int, NULL);
	sigaction(SIGTERM, &o_term, NULL);
	sigaction(SIGCHLD, &o_chld, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	free(nodes);
out_lock:
	close(lock_fd);
	return ret;
}
