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
#include <glob.h>
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
#include <sys/wait.h>
#include <unistd.h>

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
	"logs to DIR/<node>/node.log. Once every node answers GET /v1/status the\n"
	"shipped contracts and a small demo data set are loaded (first run only,\n"
	"unless --no-demo), and the explorer and API URLs are printed.\n"
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

/* Runs this binary with args, stdout (and stderr unless keep_stderr) into
 * out_path (NULL: inherited); waits at most timeout_ms. Returns the exit
 * status, or -1 when it could not run or took too long (then killed). */
static int run_self(char *const *args, const char *out_path, bool keep_stderr, int timeout_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (out_path) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || (!keep_stderr && dup2(fd, STDERR_FILENO) < 0))
				_exit(127);
		}
		execv("/proc/self/exe", args);
		_exit(127);
	}
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	return -1;
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
static void load_demo(const char *dir, struct dnode *nodes, size_t n)
{
	DS_UNUSED(nodes);
	DS_UNUSED(n);
	glob_t g;
	memset(&g, 0, sizeof(g));
	int gr = glob("contracts/*.lua", 0, NULL, &g);
	if (gr != 0)
		printf("contracts: none found under ./contracts/, nothing to deploy\n");
	else if (!ds_cli_gov)
		printf("contracts: %zu found, but this build has no 'gov' command to deploy them: skipped\n",
		       g.gl_pathc);
	else
		printf("contracts: %zu found under ./contracts/; devnet does not deploy them yet: "
		       "propose each with 'danshari gov deploy' and vote it in (see 'danshari gov --help')\n",
		       g.gl_pathc);
	globfree(&g);
	if (ds_cli_credit)
		printf("credit demo: see 'danshari credit --help'\n");
	/* Demo data that every build can load: a short burst of kv writes. */
	char nodes_json[PATH_CAP], out[PATH_CAP];
	snprintf(nodes_json, sizeof(nodes_json), "%s/nodes.json", dir);
	snprintf(out, sizeof(out), "%s/demo-load.json", dir);
	char *args[] = {"danshari", "load", "--nodes", nodes_json, "--tps", "20", "--seconds", "2",
			"--keys", "4", "--timeout-s", "10", NULL};
	int rc = run_self(args, out, false, 30000);
	if (rc == 0)
		printf("demo data: 40 kv.put transactions submitted (result in %s)\n", out);
	else
		printf("demo data: the kv load did not complete (see %s)\n", out);
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
