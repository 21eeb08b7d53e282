/* cli — the `danshari` command line. Each subcommand is a function
 * `int ds_cli_<name>(int argc, char **argv)` in its own cli_<area>.c file,
 * registered in the table in cli.c. argv[0] is the subcommand name.
 * Exit codes: 0 success, 1 operation failed, 2 usage error. Errors are one
 * line on stderr: "danshari <cmd>: <what went wrong>". */
#ifndef DS_CLI_H
#define DS_CLI_H

#define DS_VERSION "0.1.0"

int ds_cli_main(int argc, char **argv);

/* Prints "danshari <cmd>: <fmt...>\n" to stderr; returns 1 (or 2 for usage). */
int ds_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ds_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True if argv holds -h or --help. */
int ds_cli_wants_help(int argc, char **argv);

int ds_cli_version(int argc, char **argv);
int ds_cli_keygen(int argc, char **argv);
int ds_cli_tx(int argc, char **argv);

#endif
