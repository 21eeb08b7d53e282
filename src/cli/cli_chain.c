/* cli_chain — `danshari verify-chain` and the hidden `danshari debug ...`
 * helpers used by the crash test (tests/chain/crash.sh). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain_int.h"
#include "cli/cli.h"

static const char *arg_value(int argc, char **argv, int *i, const char *name)
{
	if (strcmp(argv[*i], name) != 0)
		return NULL;
	if (*i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static void progress_tty(void *arg, uint64_t h, uint64_t tip)
{
	(void)arg;
	fprintf(stderr, "\rverifying block %" PRIu64 " of %" PRIu64 " ", h, tip);
	if (h == tip)
		fputc('\n', stderr);
}

static int found_one(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	*(bool *)arg = true;
	return 1;
}

static bool chain_has_governance(const char *home)
{
	struct ds_chain *c;
	struct ds_chain_options opts = {0};
	bool found = false;
	if (ds_chain_open(&c, home, NULL, &opts) != 0)
		return false; /* verify-chain reports why it cannot open */
	int rc = ds_chain_state_scan(c, (const uint8_t *)"sys/", 4, 1, found_one, &found);
	ds_chain_close(c);
	return rc == 0 && found;
}

int ds_cli_verify_chain(int argc, char **argv)
{
	const char *cmd = "verify-chain";
	if (ds_cli_wants_help(argc, argv)) {
		printf("usage: danshari verify-chain --home DIR\n"
		       "Re-verifies the node store in DIR/data from genesis: hash links, tx roots,\n"
		       "history roots, QC signatures, and every state and results root by\n"
		       "re-execution. Exit 0 when all holds, 1 at the first bad height.\n");
		return 0;
	}
	const char *home = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = arg_value(argc, argv, &i, "--home")))
			home = v;
		else
			return ds_cli_usage(cmd, "unknown argument %s", argv[i]);
	}
	if (!home)
		return ds_cli_usage(cmd, "--home DIR is required");
	/* The module set is a property of the chain: a genesis that holds
	 * governance records (sys/...) runs the system modules and their
	 * permission checks, as every node does; a chain without them (test
	 * and crash-test chains) runs the kv module alone. */
	if (ds_chain_register_modules && chain_has_governance(home))
		ds_chain_register_modules();
	struct ds_verify_report rep;
	uint64_t t0 = ds_mono_ns();
	int rc = ds_chain_verify(home, &rep, isatty(2) ? progress_tty : NULL, NULL);
	double s = (double)(ds_mono_ns() - t0) / 1e9;
	if (rc) {
		if (rep.bad_height || rep.blocks)
			return ds_cli_fail(cmd, "height %" PRIu64 ": %s", rep.bad_height, rep.why);
		return ds_cli_fail(cmd, "%s", rep.why[0] ? rep.why : ds_strerror(rc));
	}
	printf("verified %" PRIu64 " blocks, %" PRIu64 " transactions\n", rep.blocks, rep.txs);
	if (isatty(2))
		fprintf(stderr, "%.2f s, %.0f tx/s\n", s, s > 0 ? (double)rep.txs / s : 0.0);
	return 0;
}

/* debug commit-loop: builds and commits synthetic signed blocks, printing
 * "committed H STATEROOT" once each commit has returned (so is durable). */
static int debug_commit_loop(int argc, char **argv)
{
	const char *cmd = "debug commit-loop";
	const char *home = NULL;
	uint64_t blocks = 100, txs = 20, keys = 1000, seed = 1, retain = 8;
	bool no_sync = false;
	for (int i = 2; i < argc; i++) {
		const char *v;
		if ((v = arg_value(argc, argv, &i, "--home"))) {
			home = v;
		} else if ((v = arg_value(argc, argv, &i, "--blocks"))) {
			if (parse_u64(v, &blocks))
				return ds_cli_usage(cmd, "bad --blocks");
		} else if ((v = arg_value(argc, argv, &i, "--txs"))) {
			if (parse_u64(v, &txs) || txs > DS_BLOCK_TXS_MAX)
				return ds_cli_usage(cmd, "bad --txs");
		} else if ((v = arg_value(argc, argv, &i, "--keys"))) {
			if (parse_u64(v, &keys) || keys == 0)
				return ds_cli_usage(cmd, "bad --keys");
		} else if ((v = arg_value(argc, argv, &i, "--seed"))) {
			if (parse_u64(v, &seed))
				return ds_cli_usage(cmd, "bad --seed");
		} else if ((v = arg_value(argc, argv, &i, "--retain"))) {
			if (parse_u64(v, &retain))
				return ds_cli_usage(cmd, "bad --retain");
		} else if (strcmp(argv[i], "--no-sync") == 0) {
			no_sync = true;
		} else {
			return ds_cli_usage(cmd, "unknown argument %s", argv[i]);
		}
	}
	if (!home)
		return ds_cli_usage(cmd, "--home DIR is required");
	struct ds__kit kit;
	struct ds_chain *c = NULL;
	struct ds_buf block;
	ds_buf_init(&block);
	int rc = ds__kit_init(&kit, "crash-test", retain, 0);
	if (rc)
		return ds_cli_fail(cmd, "%s", ds_strerror(rc));
	struct ds_chain_options opts = {.no_sync = no_sync};
	rc = ds_chain_open(&c, home, &kit.g, &opts);
	if (rc) {
		ds__kit_free(&kit);
		return ds_cli_fail(cmd, "open %s: %s", home, ds_strerror(rc));
	}
	struct ds_chain_tip tip;
	rc = ds_chain_tip(c, &tip);
	/* Nonces unique across runs that extend one chain. */
	kit.nonce = (tip.height + 1) << 20;
	uint64_t rng = (seed ^ (tip.height * 0x9e3779b97f4a7c15ULL)) | 1;
	struct ds_qc qc;
	for (uint64_t n = 0; !rc && n < blocks; n++) {
		rc = ds__kit_block(&kit, c, (uint32_t)txs, keys, &rng, &block, &qc);
		if (!rc)
			rc = ds_chain_commit(c, block.data, block.len, &qc, NULL);
		if (rc)
			break;
		rc = ds_chain_tip(c, &tip);
		uint8_t sr[DS_HASH_LEN], rr[DS_HASH_LEN];
		if (!rc)
			rc = ds_chain_exec_roots(c, tip.height, sr, rr);
		if (!rc) {
			char hex[2 * DS_HASH_LEN + 1];
			ds_hex_encode(hex, sr, DS_HASH_LEN);
			printf("committed %" PRIu64 " %s\n", tip.height, hex);
			fflush(stdout);
		}
	}
	ds_chain_close(c);
	ds__kit_free(&kit);
	ds_buf_free(&block);
	if (rc)
		return ds_cli_fail(cmd, "%s", ds_strerror(rc));
	return 0;
}

/* debug check: reopens a store and checks that the tip is at least
 * --min-height, that block H (--root H:HEX) has that state root, and that the
 * tip is whole (block, header, roots, receipts and index of every accepted tx
 * present; nothing stored above it). Prints "tip H". */
static int debug_check(int argc, char **argv)
{
	const char *cmd = "debug check";
	const char *home = NULL, *root = NULL;
	uint64_t min_h = 0;
	for (int i = 2; i < argc; i++) {
		const char *v;
		if ((v = arg_value(argc, argv, &i, "--home")))
			home = v;
		else if ((v = arg_value(argc, argv, &i, "--min-height"))) {
			if (parse_u64(v, &min_h))
				return ds_cli_usage(cmd, "bad --min-height");
		} else if ((v = arg_value(argc, argv, &i, "--root")))
			root = v;
		else
			return ds_cli_usage(cmd, "unknown argument %s", argv[i]);
	}
	if (!home)
		return ds_cli_usage(cmd, "--home DIR is required");
	struct ds_chain *c;
	struct ds_chain_options opts = {.no_sync = true};
	int rc = ds_chain_open(&c, home, NULL, &opts);
	if (rc)
		return ds_cli_fail(cmd, "open %s: %s", home, ds_strerror(rc));
	struct ds_chain_tip tip;
	struct ds_buf b, q;
	ds_buf_init(&b);
	ds_buf_init(&q);
	const char *bad = NULL;
	uint8_t sr[DS_HASH_LEN], rr[DS_HASH_LEN];
	rc = ds_chain_tip(c, &tip);
	if (rc)
		bad = "no tip";
	if (!bad && tip.height < min_h)
		bad = "blocks reported committed are missing";
	if (!bad && ds_chain_block(c, tip.height, &b, &q) != 0)
		bad = "tip block missing";
	if (!bad && ds_chain_exec_roots(c, tip.height, sr, rr) != 0)
		bad = "tip roots missing";
	if (!bad && ds_chain_exec_roots(c, tip.height + 1, sr, rr) != DS_ENOTFOUND)
		bad = "roots stored above the tip (half-applied commit)";
	ds_buf_reset(&b);
	if (!bad && ds_chain_block(c, tip.height + 1, &b, NULL) != DS_ENOTFOUND)
		bad = "block stored above the tip (half-applied commit)";
	if (!bad && tip.height > 0) {
		ds_buf_reset(&b);
		struct ds_block blk;
		if (ds_chain_block(c, tip.height, &b, NULL) != 0 || ds_block_decode(&blk, b.data, b.len) != 0) {
			bad = "tip block unreadable";
		} else {
			size_t pos = 0;
			const uint8_t *tx;
			size_t txl;
			while (!bad && ds_block_tx_next(&blk, &pos, &tx, &txl) == 1) {
				uint8_t id[DS_HASH_LEN];
				ds_tx_id_body(id, tx, txl - DS_SIG_LEN);
				struct ds_chain_txinfo ti;
				ds_chain_txinfo_init(&ti);
				int r = ds_chain_tx(c, id, &ti);
				/* Refused txs (replays) are not indexed; accepted ones must be. */
				if (r != 0 && r != DS_ENOTFOUND)
					bad = "tx index or receipt unreadable";
				else if (r == 0 && (!ti.executed || ti.height > tip.height))
					bad = "tx index or receipt of the tip is missing";
				ds_chain_txinfo_free(&ti);
			}
		}
	}
	if (!bad && root) {
		uint64_t h;
		const char *colon = strchr(root, ':');
		char hs[32];
		uint8_t want[DS_HASH_LEN], got[DS_HASH_LEN], r2[DS_HASH_LEN];
		if (!colon || (size_t)(colon - root) >= sizeof(hs))
			bad = "bad --root";
		else {
			memcpy(hs, root, (size_t)(colon - root));
			hs[colon - root] = 0;
			if (parse_u64(hs, &h) || ds_hex_decode(want, DS_HASH_LEN, colon + 1, strlen(colon + 1)))
				bad = "bad --root";
			else if (ds_chain_exec_roots(c, h, got, r2) != 0)
				bad = "reported block's roots missing";
			else if (memcmp(want, got, DS_HASH_LEN) != 0)
				bad = "state root differs from the one reported at commit";
		}
	}
	ds_buf_free(&b);
	ds_buf_free(&q);
	ds_chain_close(c);
	if (bad)
		return ds_cli_fail(cmd, "%s", bad);
	printf("tip %" PRIu64 "\n", tip.height);
	return 0;
}

int ds_cli_debug(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "commit-loop") == 0)
		return debug_commit_loop(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return debug_check(argc, argv);
	return ds_cli_usage("debug", "subcommands: commit-loop --home DIR [--blocks N] [--txs K] "
				     "[--keys S] [--seed S] [--retain V] [--no-sync]; check --home DIR "
				     "[--min-height H] [--root H:HEX]");
}
