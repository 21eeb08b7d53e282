/* exec_map — the byte-string hash map behind execution overlays. */
#include "exec/exec_int.h"

#include <string.h>

#include "crypto/crypto.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t key_hash(uint64_t seed, const uint8_t *k, size_t n)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, k + i, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
	}
	uint64_t t = 0;
	for (size_t j = 0; i < n; i++, j++)
		t |= (uint64_t)k[i] << (8 * j);
	return mix64(h ^ t ^ 0x5bd1e995u);
}

void ds__kvmap_init(struct ds__kvmap *m)
{
	memset(m, 0, sizeof(*m));
	m->seed = ds_random_u64();
}

void ds__kvmap_free(struct ds__kvmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i]);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = m->bytes = 0;
}

static size_t find_slot(const struct ds__kvmap *m, uint64_t h, const uint8_t *k, size_t kl)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct ds__kvent *e = m->slots[i];
		if (!e || (e->hash == h && e->key_len == kl && memcmp(e->data, k, kl) == 0))
			return i;
	}
}

struct ds__kvent *ds__kvmap_get(const struct ds__kvmap *m, const uint8_t *key, size_t key_len)
{
	if (!m->cap)
		return NULL;
	return m->slots[find_slot(m, key_hash(m->seed, key, key_len), key, key_len)];
}

static int grow(struct ds__kvmap *m)
{
	size_t nc = m->cap ? m->cap * 2 : 64;
	if (nc > SIZE_MAX / sizeof(void *))
		return DS_ENOMEM;
	struct ds__kvent **ns = calloc(nc, sizeof(*ns));
	if (!ns)
		return DS_ENOMEM;
	struct ds__kvent **old = m->slots;
	size_t oc = m->cap;
	m->slots = ns;
	m->cap = nc;
	for (size_t i = 0; i < oc; i++) {
		struct ds__kvent *e = old[i];
		if (e)
			m->slots[find_slot(m, e->hash, e->data, e->key_len)] = e;
	}
	free(old);
	return 0;
}

int ds__kvmap_set(struct ds__kvmap *m, const uint8_t *key, size_t key_len, const uint8_t *val,
		  size_t val_len, bool del)
{
	if (del)
		val_len = 0;
	if ((m->n + 1) * 2 > m->cap) {
		int rc = grow(m);
		if (rc)
			return rc;
	}
	uint64_t h = key_hash(m->seed, key, key_len);
	size_t i = find_slot(m, h, key, key_len);
	if (key_len > SIZE_MAX / 2 || val_len > SIZE_MAX / 2)
		return DS_ENOMEM;
	struct ds__kvent *e = malloc(sizeof(*e) + key_len + val_len + 1);
	if (!e)
		return DS_ENOMEM;
	e->hash = h;
	e->key_len = key_len;
	e->val_len = val_len;
	e->del = del;
	memcpy(e->data, key, key_len);
	e->val = e->data + key_len;
	if (val_len)
		memcpy(e->val, val, val_len);
	struct ds__kvent *old = m->slots[i];
	if (old) {
		m->bytes -= old->key_len + old->val_len;
		free(old);
	} else {
		m->n++;
	}
	m->slots[i] = e;
	m->bytes += key_len + val_len;
	return 0;
}

bool ds__kvmap_remove(struct ds__kvmap *m, const uint8_t *key, size_t key_len)
{
	if (!m->cap)
		return false;
	size_t mask = m->cap - 1;
	size_t i = find_slot(m, key_hash(m->seed, key, key_len), key, key_len);
	struct ds__kvent *e = m->slots[i];
	if (!e)
		return false;
	m->bytes -= e->key_len + e->val_len;
	free(e);
	m->slots[i] = NULL;
	m->n--;
	/* Backward-shift: re-place the run after the hole so probes stay unbroken. */
	for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
		struct ds__kvent *x = m->slots[j];
		m->slots[j] = NULL;
		m->slots[find_slot(m, x->hash, x->data, x->key_len)] = x;
	}
	return true;
}

int ds__key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int ent_cmp(const void *x, const void *y)
{
	const struct ds__kvent *a = *(struct ds__kvent *const *)x;
	const struct ds__kvent *b = *(struct ds__kvent *const *)y;
	return ds__key_cmp(a->data, a->key_len, b->data, b->key_len);
}

int ds__kvmap_sorted(const struct ds__kvmap *m, struct ds__kvent ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!m->n)
		return 0;
	struct ds__kvent **a = malloc(m->n * sizeof(*a));
	if (!a)
		return DS_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i])
			a[k++] = m->slots[i];
	DS_ASSERT(k == m->n);
	qsort(a, k, sizeof(*a), ent_cmp);
	*out = a;
	*n = k;
	return 0;
}
