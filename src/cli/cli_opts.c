/* Shared option parsing for every subcommand: one behaviour, one set of
 * error messages. */
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

int ds_cli_parse_opts(const char *cmd, int argc, char **argv, struct ds_cli_opt *o, size_t n)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0)
			return ds_cli_usage(cmd, "unexpected argument '%s'", a);
		const char *eq = strchr(a + 2, '=');
		size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		struct ds_cli_opt *hit = NULL;
		for (size_t k = 0; k < n; k++)
			if (strlen(o[k].name) == len && strncmp(o[k].name, a + 2, len) == 0)
				hit = &o[k];
		if (!hit)
			return ds_cli_usage(cmd, "unknown option '%.*s'", (int)(len + 2), a);
		if (hit->seen && !hit->multi)
			return ds_cli_usage(cmd, "option --%s given twice", hit->name);
		hit->seen = true;
		if (hit->flag) {
			if (eq)
				return ds_cli_usage(cmd, "option --%s takes no value", hit->name);
			continue;
		}
		if (eq) {
			hit->val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return ds_cli_usage(cmd, "option --%s needs a value", hit->name);
			hit->val = argv[++i];
		}
		if (hit->multi) {
			if (hit->nvals >= DS_CLI_OPT_VALS_MAX)
				return ds_cli_usage(cmd, "option --%s given too often", hit->name);
			hit->vals[hit->nvals++] = hit->val;
		}
	}
	return 0;
}

int ds_cli_parse_u64(uint64_t *out, const char *s)
{
	uint64_t v = 0;
	*out = 0;
	if (!s[0] || (s[0] == '0' && s[1]))
		return DS_EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return DS_EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return DS_ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
