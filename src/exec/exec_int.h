/* exec internals shared by exec_*.c and the chain module's replay (verify-chain):
 * a small hash map from byte-string keys to byte-string values.
 * Not part of the public contract: names are ds__. */
#ifndef DS_EXEC_INT_H
#define DS_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* One entry: key and value live in one allocation (owned by the map).
 * del marks a tombstone (an overlay's "deleted here"). */
struct ds__kvent {
	uint64_t hash;
	size_t key_len;
	size_t val_len;
	bool del;
	uint8_t *val; /* points into data after the key; never NULL */
	uint8_t data[];
};

/* Open addressing over entry pointers, linear probing, grows at 1/2 load.
 * The hash is keyed with a per-map random seed so crafted keys cannot
 * degrade it; iteration order is therefore not deterministic, and every
 * caller that produces consensus output sorts first. */
struct ds__kvmap {
	struct ds__kvent **slots;
	size_t cap;      /* power of two, or 0 */
	size_t n;        /* entries, tombstones included */
	size_t bytes;    /* key + value bytes held */
	uint64_t seed;
};

void ds__kvmap_init(struct ds__kvmap *m);
void ds__kvmap_free(struct ds__kvmap *m);  /* frees entries, keeps map usable (empty) */
struct ds__kvent *ds__kvmap_get(const struct ds__kvmap *m, const uint8_t *key, size_t key_len);
/* Inserts or replaces key (copies key and value; val may be NULL when
 * val_len is 0 or del is true). Pointers from earlier gets of this key are
 * invalid afterwards. Returns 0 or DS_ENOMEM. */
int ds__kvmap_set(struct ds__kvmap *m, const uint8_t *key, size_t key_len, const uint8_t *val,
		  size_t val_len, bool del) DS_MUST_USE;
/* Removes key entirely (not a tombstone). Returns true if it was there. */
bool ds__kvmap_remove(struct ds__kvmap *m, const uint8_t *key, size_t key_len);
/* Entries sorted by key (bytewise, shorter prefix first); caller frees the
 * array (not the entries). *out NULL when the map is empty. */
int ds__kvmap_sorted(const struct ds__kvmap *m, struct ds__kvent ***out, size_t *n) DS_MUST_USE;
int ds__key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

#endif
