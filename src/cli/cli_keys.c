/* danshari keygen --out FILE */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "keyfile/keyfile.h"

static const char keygen_help[] =
	"usage: danshari keygen --out FILE\n"
	"\n"
	"Generates an Ed25519 key pair and writes it to FILE (mode 0600, written\n"
	"atomically; an existing FILE is never overwritten). Prints the public key\n"
	"as 64 hex digits on stdout. Keep FILE secret: it holds the private seed.\n";

int ds_cli_keygen(int argc, char **argv)
{
	const char *out = NULL;
	if (ds_cli_wants_help(argc, argv)) {
		fputs(keygen_help, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0) {
			if (i + 1 >= argc)
				return ds_cli_usage("keygen", "--out needs a file name");
			if (out)
				return ds_cli_usage("keygen", "--out given twice");
			out = argv[++i];
		} else if (strncmp(argv[i], "--out=", 6) == 0) {
			if (out)
				return ds_cli_usage("keygen", "--out given twice");
			out = argv[i] + 6;
		} else {
			return ds_cli_usage("keygen", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!out || !out[0])
		return ds_cli_usage("keygen", "--out FILE is required");

	struct ds_key key;
	char err[DS_KEYFILE_ERR_MAX];
	int rc = ds_keyfile_generate(&key);
	if (rc)
		return ds_cli_fail("keygen", "cannot generate a key: %s", ds_strerror(rc));
	rc = ds_keyfile_write(out, &key, err, sizeof(err));
	char hex[2 * DS_PK_LEN + 1];
	ds_keyfile_pk_to_hex(hex, key.pk);
	ds_keyfile_wipe(&key);
	if (rc)
		return ds_cli_fail("keygen", "%s", err);
	printf("%s\n", hex);
	return fflush(stdout) == 0 ? 0 : 1;
}
