/* cli — the `danshari` command line. Each subcommand is a function
 * `int ds_cli_<name>(int argc, char **argv)` in its own cli_<area>.c file,
 * registered in the table in cli.c. argv[0] is the subcommand name.
 * Exit codes: 0 success, 1 operation failed, 2 usage error. Errors are one
 * line on stderr: "danshari <cmd>: <what went wrong>". */
#ifndef DS_CLI_H
#define DS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_VERSION "0.1.0"

int ds_cli_main(int argc, char **argv);

/* Prints "danshari <cmd>: <fmt...>\n" to stderr; returns 1 (or 2 for usage). */
int ds_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ds_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Options: --name VALUE, --name=VALUE, --flag. A multi option may repeat;
 * its values are kept in vals. Returns 0, or 2 after a one-line usage error.
 * Values borrow argv. */
#define DS_CLI_OPT_VALS_MAX 64
struct ds_cli_opt {
	const char *name; /* without the leading "--" */
	bool flag;        /* takes no value */
	bool multi;
	const char *val;
	bool seen;
	const char *vals[DS_CLI_OPT_VALS_MAX];
	size_t nvals;
};
#define DS_CLI_OPT(n) {.name = (n)}
#define DS_CLI_FLAG(n) {.name = (n), .flag = true}
#define DS_CLI_MULTI(n) {.name = (n), .multi = true}
int ds_cli_parse_opts(const char *cmd, int argc, char **argv, struct ds_cli_opt *o, size_t n);
/* Plain decimal without leading zeros: 0, DS_EINVAL or DS_ERANGE. */
int ds_cli_parse_u64(uint64_t *out, const char *s);

/* True if argv holds -h or --help. */
int ds_cli_wants_help(int argc, char **argv);

int ds_cli_version(int argc, char **argv);
int ds_cli_keygen(int argc, char **argv);
int ds_cli_tx(int argc, char **argv);
/* Commands implemented in their own cli_*.c files. Declared weak so the table
 * in cli.c lists only those linked into this build (a command whose module is
 * absent is reported as unknown, never half-run). */
#define DS_CLI_WEAK __attribute__((weak))
DS_CLI_WEAK int ds_cli_init(int argc, char **argv);         /* cli_node.c */
DS_CLI_WEAK int ds_cli_node(int argc, char **argv);         /* cli_node.c */
DS_CLI_WEAK int ds_cli_verify_chain(int argc, char **argv); /* cli_chain.c */
DS_CLI_WEAK int ds_cli_query(int argc, char **argv);        /* cli_query.c */
DS_CLI_WEAK int ds_cli_load(int argc, char **argv);         /* cli_load.c */
DS_CLI_WEAK int ds_cli_devnet(int argc, char **argv);       /* cli_devnet.c */
DS_CLI_WEAK int ds_cli_gov(int argc, char **argv);          /* cli_gov.c */
DS_CLI_WEAK int ds_cli_contract(int argc, char **argv);     /* cli_gov.c */
DS_CLI_WEAK int ds_cli_credit(int argc, char **argv);       /* cli_credit.c */
DS_CLI_WEAK int ds_cli_debug(int argc, char **argv);        /* cli_chain.c: hidden test helpers */

#endif
