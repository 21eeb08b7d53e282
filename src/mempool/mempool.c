#include "mempool/mempool.h"

#include <string.h>

#include "ledger/ledger.h"

#define NIL UINT32_MAX

/* One pooled transaction; entries live in one slab, linked in FIFO order. */
struct entry {
	uint8_t id[DS_HASH_LEN];
	uint8_t *tx;
	uint32_t len;
	uint32_t prev, next; /* FIFO neighbours, or NIL; next also links the free list */
	uint64_t expiry;
	uint64_t mark;       /* == mp->mark_gen: excluded from batches */
};

struct ds_mempool {
	struct entry *ent;
	uint32_t ent_max;
	uint32_t free_head;
	uint32_t head, tail; /* oldest, newest */
	uint32_t *slot;      /* open addressing: entry index + 1, 0 = empty */
	uint32_t slot_mask;
	unsigned slot_shift;
	uint64_t hash_key;   /* random: ids cannot be ground to collide here */
	uint64_t mark_gen;
	size_t count;
	size_t bytes, bytes_max;
};

static uint32_t home_of(const struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN])
{
	uint64_t h = (ds_get_u64be(id) ^ mp->hash_key) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> mp->slot_shift);
}

/* Slot holding id, or the empty slot where it would go. */
static uint32_t find_slot(const struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN])
{
	uint32_t s = home_of(mp, id);
	/* The table is at most half full, so an empty slot is always reached. */
	for (;;) {
		uint32_t v = mp->slot[s];
		if (v == 0 || memcmp(mp->ent[v - 1].id, id, DS_HASH_LEN) == 0)
			return s;
		s = (s + 1) & mp->slot_mask;
	}
}

int ds_mempool_new(struct ds_mempool **out, size_t txs_max, size_t bytes_max)
{
	*out = NULL;
	if (txs_max == 0 || txs_max > DS_MEMPOOL_TXS_HARD_MAX || bytes_max == 0)
		return DS_EINVAL;
	struct ds_mempool *mp = calloc(1, sizeof(*mp));
	if (!mp)
		return DS_ENOMEM;
	size_t nslots = 2;
	unsigned bits = 1;
	while (nslots < 2 * txs_max) {
		nslots <<= 1;
		bits++;
	}
	mp->ent = calloc(txs_max, sizeof(mp->ent[0]));
	mp->slot = calloc(nslots, sizeof(mp->slot[0]));
	if (!mp->ent || !mp->slot) {
		ds_mempool_free(mp);
		return DS_ENOMEM;
	}
	mp->ent_max = (uint32_t)txs_max;
	mp->slot_mask = (uint32_t)(nslots - 1);
	mp->slot_shift = 64 - bits;
	mp->bytes_max = bytes_max;
	mp->hash_key = ds_random_u64();
	mp->mark_gen = 1;
	mp->head = mp->tail = NIL;
	for (uint32_t i = 0; i < mp->ent_max; i++)
		mp->ent[i].next = i + 1 < mp->ent_max ? i + 1 : NIL;
	mp->free_head = 0;
	*out = mp;
	return 0;
}

void ds_mempool_free(struct ds_mempool *mp)
{
	if (!mp)
		return;
	if (mp->ent) {
		for (uint32_t i = mp->head; i != NIL; i = mp->ent[i].next)
			free(mp->ent[i].tx);
	}
	free(mp->ent);
	free(mp->slot);
	free(mp);
}

int ds_mempool_add(struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN], const uint8_t *tx,
		   size_t len, uint64_t expiry_height)
{
	if (len == 0 || len > DS_TX_MAX)
		return DS_EINVAL;
	uint32_t s = find_slot(mp, id);
	if (mp->slot[s] != 0)
		return DS_EEXIST;
	if (mp->free_head == NIL || mp->bytes + len > mp->bytes_max)
		return DS_EFULL;
	uint8_t *copy = malloc(len);
	if (!copy)
		return DS_ENOMEM;
	memcpy(copy, tx, len);
	uint32_t i = mp->free_head;
	struct entry *e = &mp->ent[i];
	mp->free_head = e->next;
	memcpy(e->id, id, DS_HASH_LEN);
	e->tx = copy;
	e->len = (uint32_t)len;
	e->expiry = expiry_height;
	e->mark = 0;
	e->next = NIL;
	e->prev = mp->tail;
	if (mp->tail != NIL)
		mp->ent[mp->tail].next = i;
	else
		mp->head = i;
	mp->tail = i;
	mp->slot[s] = i + 1;
	mp->count++;
	mp->bytes += len;
	return 0;
}

bool ds_mempool_has(const struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN])
{
	return mp->slot[find_slot(mp, id)] != 0;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void slot_delete(struct ds_mempool *mp, uint32_t s)
{
	uint32_t hole = s;
	uint32_t j = s;
	for (;;) {
		j = (j + 1) & mp->slot_mask;
		uint32_t v = mp->slot[j];
		if (v == 0)
			break;
		uint32_t home = home_of(mp, mp->ent[v - 1].id);
		/* Move v into the hole unless its home lies cyclically in (hole, j]. */
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			mp->slot[hole] = v;
			hole = j;
		}
	}
	mp->slot[hole] = 0;
}

static void unlink_entry(struct ds_mempool *mp, uint32_t i, uint32_t s)
{
	struct entry *e = &mp->ent[i];
	slot_delete(mp, s);
	if (e->prev != NIL)
		mp->ent[e->prev].next = e->next;
	else
		mp->head = e->next;
	if (e->next != NIL)
		mp->ent[e->next].prev = e->prev;
	else
		mp->tail = e->prev;
	DS_ASSERT(mp->count > 0 && mp->bytes >= e->len);
	mp->count--;
	mp->bytes -= e->len;
	free(e->tx);
	e->tx = NULL;
	e->next = mp->free_head;
	mp->free_head = i;
}

bool ds_mempool_remove(struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN], const uint8_t *tx,
		       size_t len)
{
	uint32_t s = find_slot(mp, id);
	uint32_t v = mp->slot[s];
	if (v == 0)
		return false;
	struct entry *e = &mp->ent[v - 1];
	bool same = e->len == len && memcmp(e->tx, tx, len) == 0;
	unlink_entry(mp, v - 1, s);
	return same;
}

size_t ds_mempool_expire(struct ds_mempool *mp, uint64_t next_height)
{
	size_t n = 0;
	uint32_t i = mp->head;
	while (i != NIL) {
		uint32_t next = mp->ent[i].next;
		if (mp->ent[i].expiry <= next_height) {
			unlink_entry(mp, i, find_slot(mp, mp->ent[i].id));
			n++;
		}
		i = next;
	}
	return n;
}

void ds_mempool_mark_begin(struct ds_mempool *mp)
{
	mp->mark_gen++;
}

void ds_mempool_mark(struct ds_mempool *mp, const uint8_t id[DS_HASH_LEN])
{
	uint32_t v = mp->slot[find_slot(mp, id)];
	if (v != 0)
		mp->ent[v - 1].mark = mp->mark_gen;
}

size_t ds_mempool_batch(const struct ds_mempool *mp, struct ds_iov *txs, uint8_t (*ids)[DS_HASH_LEN],
			size_t max_txs, size_t max_bytes)
{
	size_t n = 0, bytes = 0;
	for (uint32_t i = mp->head; i != NIL && n < max_txs; i = mp->ent[i].next) {
		const struct entry *e = &mp->ent[i];
		if (e->mark == mp->mark_gen)
			continue;
		if (bytes + e->len > max_bytes)
			break;
		bytes += e->len;
		txs[n].p = e->tx;
		txs[n].n = e->len;
		memcpy(ids[n], e->id, DS_HASH_LEN);
		n++;
	}
	return n;
}

size_t ds_mempool_count(const struct ds_mempool *mp)
{
	return mp->count;
}

size_t ds_mempool_bytes(const struct ds_mempool *mp)
{
	return mp->bytes;
}
