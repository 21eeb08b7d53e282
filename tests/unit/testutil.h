/* Shared helpers for unit tests (cmocka). */
#ifndef DS_TESTUTIL_H
#define DS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Directory of ../shared/vectors (or $DANSHARI_VECTORS), or NULL when absent:
 * suites that need it then call skip(), never pass. */
const char *tu_vectors_dir(void);
/* Reads a vectors file into a NUL-terminated heap buffer; NULL if missing. */
char *tu_vectors_read(const char *name, size_t *len);
/* Hex to heap bytes (caller frees); fails the test on bad hex. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* A fresh empty temporary directory under $TMPDIR; caller frees the string,
 * tu_rmrf removes it. */
char *tu_tmpdir(const char *tag);
void tu_rmrf(const char *path);
/* Seed for property tests: $DS_SEED or time; printed once. */
uint64_t tu_seed(void);
/* xorshift64* for property tests (not crypto). */
uint64_t tu_rand(uint64_t *state);

#endif
