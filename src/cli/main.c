/* danshari — one binary, subcommands. Dispatch lives in cli.c. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return ds_cli_main(argc, argv);
}
