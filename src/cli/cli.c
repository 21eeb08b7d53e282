#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"version", ds_cli_version, "print the version"},
	{"keygen", ds_cli_keygen, "generate an Ed25519 key file"},
	{"tx", ds_cli_tx, "build, sign and inspect transactions offline"},
	{"init", ds_cli_init, "write a new consortium: genesis, node homes, keys"},
	{"node", ds_cli_node, "run one node"},
	{"devnet", ds_cli_devnet, "run a local consortium of N nodes"},
	{"load", ds_cli_load, "submit signed transactions at a target rate"},
	{"query", ds_cli_query, "fetch a value, tx or block with its proof and verify it"},
	{"verify-chain", ds_cli_verify_chain, "re-verify a node's whole store from genesis"},
	{"gov", ds_cli_gov, "build governance transactions (propose, vote, deploy)"},
	{"contract", ds_cli_contract, "test contracts locally"},
	{"credit", ds_cli_credit, "credit records: subjects, disclosures, consents"},
	{"debug", ds_cli_debug, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: danshari <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].fn && commands[i].summary)
			fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'danshari <command> --help' for a command's options.\n");
}

int ds_cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "danshari %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

int ds_cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "danshari %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see 'danshari %s --help')\n", cmd);
	va_end(ap);
	return 2;
}

int ds_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

int ds_cli_version(int argc, char **argv)
{
	if (ds_cli_wants_help(argc, argv)) {
		printf("usage: danshari version\n\nPrints the version of this binary.\n");
		return 0;
	}
	if (argc > 1)
		return ds_cli_usage("version", "unexpected argument '%s'", argv[1]);
	printf("danshari %s\n", DS_VERSION);
	return 0;
}

int ds_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return ds_cli_version(1, argv + 1);
	if (ds_crypto_init() != 0) {
		fprintf(stderr, "danshari: cannot initialise the crypto library\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].fn && strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "danshari: unknown command '%s' (see 'danshari --help')\n", argv[1]);
	return 2;
}
