/* In-memory SMT node store: open addressing with linear probing and
 * backward-shift deletion, plus the stale index that pruning walks. */
#include "merkle/merkle.h"

#include <string.h>

struct mem_ent {
	uint8_t *val; /* NULL: free slot */
	uint64_t h;
	uint16_t val_len;
	uint8_t key_len;
	uint8_t key[DS_SMT_NODE_KEY_MAX];
};

struct mem_stale {
	uint64_t since;
	uint8_t key_len;
	uint8_t key[DS_SMT_NODE_KEY_MAX];
};

struct ds_smt_mem {
	struct mem_ent *tab;
	size_t cap; /* power of two */
	size_t count;
	struct mem_stale *stale;
	size_t n_stale, stale_cap;
};

static uint64_t key_hash(const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

int ds_smt_mem_new(struct ds_smt_mem **out)
{
	struct ds_smt_mem *m = calloc(1, sizeof(*m));
	if (!m)
		return DS_ENOMEM;
	m->cap = 1024;
	m->tab = calloc(m->cap, sizeof(*m->tab));
	if (!m->tab) {
		free(m);
		return DS_ENOMEM;
	}
	*out = m;
	return 0;
}

void ds_smt_mem_free(struct ds_smt_mem *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->tab[i].val);
	free(m->tab);
	free(m->stale);
	free(m);
}

size_t ds_smt_mem_count(const struct ds_smt_mem *m)
{
	return m->count;
}

static size_t find_slot(const struct ds_smt_mem *m, const uint8_t *key, size_t klen, uint64_t h, bool *found)
{
	size_t mask = m->cap - 1, i = h & mask;
	for (size_t probes = 0; probes < m->cap; probes++, i = (i + 1) & mask) {
		const struct mem_ent *e = &m->tab[i];
		if (!e->val) {
			*found = false;
			return i;
		}
		if (e->h == h && e->key_len == klen && memcmp(e->key, key, klen) == 0) {
			*found = true;
			return i;
		}
	}
	/* The load factor stays below 3/4, so a free slot always exists. */
	ds__assert_fail("free slot", __FILE__, __LINE__, __func__);
}

static int mem_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t *out, size_t cap, size_t *len)
{
	struct ds_smt_mem *m = ctx;
	bool found;
	if (key_len > DS_SMT_NODE_KEY_MAX)
		return DS_EINVAL;
	size_t i = find_slot(m, key, key_len, key_hash(key, key_len), &found);
	if (!found)
		return DS_ENOTFOUND;
	if (m->tab[i].val_len > cap)
		return DS_ETOOBIG;
	memcpy(out, m->tab[i].val, m->tab[i].val_len);
	*len = m->tab[i].val_len;
	return 0;
}

struct ds_smt_store ds_smt_mem_store(struct ds_smt_mem *m)
{
	struct ds_smt_store s = {mem_get, m};
	return s;
}

static int rehash(struct ds_smt_mem *m)
{
	size_t ncap = m->cap * 2;
	struct mem_ent *nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return DS_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct mem_ent *e = &m->tab[i];
		if (!e->val)
			continue;
		size_t j = e->h & (ncap - 1);
		while (nt[j].val)
			j = (j + 1) & (ncap - 1);
		nt[j] = *e;
	}
	free(m->tab);
	m->tab = nt;
	m->cap = ncap;
	return 0;
}

static int mem_put(struct ds_smt_mem *m, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	DS_ASSERT(klen <= DS_SMT_NODE_KEY_MAX && vlen <= DS_SMT_NODE_MAX && vlen > 0);
	if ((m->count + 1) * 4 > m->cap * 3) {
		int rc = rehash(m);
		if (rc)
			return rc;
	}
	uint8_t *copy = malloc(vlen);
	if (!copy)
		return DS_ENOMEM;
	memcpy(copy, val, vlen);
	uint64_t h = key_hash(key, klen);
	bool found;
	size_t i = find_slot(m, key, klen, h, &found);
	struct mem_ent *e = &m->tab[i];
	if (found) {
		free(e->val);
	} else {
		m->count++;
		e->h = h;
		e->key_len = (uint8_t)klen;
		memcpy(e->key, key, klen);
	}
	e->val = copy;
	e->val_len = (uint16_t)vlen;
	return 0;
}

static bool mem_del(struct ds_smt_mem *m, const uint8_t *key, size_t klen)
{
	bool found;
	size_t mask = m->cap - 1;
	size_t i = find_slot(m, key, klen, key_hash(key, klen), &found);
	if (!found)
		return false;
	free(m->tab[i].val);
	m->tab[i].val = NULL;
	m->count--;
	/* Backward shift: pull later members of the probe run into the hole
	 * when their home slot does not lie between the hole and them. */
	size_t j = i;
	for (size_t steps = 0; steps < m->cap; steps++) {
		j = (j + 1) & mask;
		if (!m->tab[j].val)
			break;
		size_t home = m->tab[j].h & mask;
		bool between = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
		if (!between) {
			m->tab[i] = m->tab[j];
			m->tab[j].val = NULL;
			i = j;
		}
	}
	return true;
}

int ds_smt_mem_apply(struct ds_smt_mem *m, const struct ds_smt_changeset *cs)
{
	for (size_t i = 0; i < cs->n_nodes; i++) {
		const struct ds_smt_node_rec *r = &cs->nodes[i];
		int rc = mem_put(m, r->key, r->key_len, ds_smt_changeset_val(cs, i), r->val_len);
		if (rc)
			return rc;
	}
	if (m->n_stale + cs->n_stale > m->stale_cap) {
		size_t nc = m->stale_cap ? m->stale_cap : 1024;
		while (nc < m->n_stale + cs->n_stale)
			nc *= 2;
		struct mem_stale *ns = realloc(m->stale, nc * sizeof(*ns));
		if (!ns)
			return DS_ENOMEM;
		m->stale = ns;
		m->stale_cap = nc;
	}
	for (size_t i = 0; i < cs->n_stale; i++) {
		struct mem_stale *s = &m->stale[m->n_stale++];
		s->since = cs->version;
		s->key_len = cs->stale[i].key_len;
		memcpy(s->key, cs->stale[i].key, s->key_len);
	}
	return 0;
}

void ds_smt_mem_prune(struct ds_smt_mem *m, uint64_t keep_from, size_t *deleted)
{
	size_t del = 0, w = 0;
	for (size_t i = 0; i < m->n_stale; i++) {
		struct mem_stale *s = &m->stale[i];
		if (s->since <= keep_from) {
			if (mem_del(m, s->key, s->key_len))
				del++;
		} else {
			m->stale[w++] = *s;
		}
	}
	m->n_stale = w;
	if (deleted)
		*deleted = del;
}
