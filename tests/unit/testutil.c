#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

const char *tu_vectors_dir(void)
{
	static char path[4096];
	const char *env = getenv("DANSHARI_VECTORS");
	const char *cand[] = {env, "../shared/vectors", "../../shared/vectors"};
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		struct stat st;
		if (cand[i] && stat(cand[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(path, sizeof(path), "%s", cand[i]);
			return path;
		}
	}
	return NULL;
}

char *tu_vectors_read(const char *name, size_t *len)
{
	const char *dir = tu_vectors_dir();
	if (!dir)
		return NULL;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	uint8_t *p;
	size_t n;
	if (ds_file_read(&p, &n, path, 64u << 20) != 0)
		return NULL;
	if (len)
		*len = n;
	return (char *)p;
}

uint8_t *tu_unhex(const char *hex, size_t *len)
{
	size_t h = strlen(hex);
	assert_true(h % 2 == 0);
	uint8_t *out = malloc(h / 2 + 1);
	assert_non_null(out);
	assert_int_equal(ds_hex_decode(out, h / 2, hex, h), 0);
	*len = h / 2;
	return out;
}

char *tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	if (!base)
		base = "/tmp";
	char *p = malloc(4096);
	assert_non_null(p);
	snprintf(p, 4096, "%s/ds-%s-XXXXXX", base, tag);
	assert_non_null(mkdtemp(p));
	return p;
}

void tu_rmrf(const char *path)
{
	char cmd[4200];
	if (!path || strlen(path) < 8)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	int rc = system(cmd);
	(void)rc;
}

uint64_t tu_seed(void)
{
	static uint64_t seed;
	static int done;
	if (!done) {
		const char *s = getenv("DS_SEED");
		seed = s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
		if (!seed)
			seed = 1;
		fprintf(stderr, "# seed DS_SEED=%llu\n", (unsigned long long)seed);
		done = 1;
	}
	return seed;
}

uint64_t tu_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}
