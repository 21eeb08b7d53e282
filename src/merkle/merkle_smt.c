/* Sparse Merkle state tree: 16-ary stored nodes, binary logical tree,
 * versioned node keys, batch updates that produce changesets, proofs. */
#include "merkle/merkle.h"

#include <string.h>

#include "codec/codec.h"

#define TAG_LEAF "danshari/smt/leaf/v1"
#define TAG_NODE "danshari/smt/node/v1"
#define TAG_LEN 20
_Static_assert(sizeof(TAG_LEAF) - 1 == TAG_LEN && sizeof(TAG_NODE) - 1 == TAG_LEN, "tag length");

/* E = SHA-256("danshari/smt/empty/v1"); test_smt recomputes it. */
static const uint8_t EMPTY[DS_HASH_LEN] = {
	0x28, 0x60, 0xe9, 0xa7, 0x98, 0x9e, 0xda, 0xea, 0xd3, 0x82, 0xd7, 0x41, 0xcd, 0xbf, 0xbe, 0x27,
	0xd1, 0x07, 0x1b, 0xd3, 0x38, 0x37, 0xfb, 0xc3, 0xba, 0xa4, 0xb1, 0x74, 0x36, 0x59, 0x68, 0x1e};

enum { NODE_NULL = 0, NODE_INTERNAL = 1, NODE_LEAF = 2 };

void ds_smt_empty_hash(uint8_t out[DS_HASH_LEN])
{
	memcpy(out, EMPTY, DS_HASH_LEN);
}

void ds_smt_leaf_hash(uint8_t out[DS_HASH_LEN], const uint8_t kh[DS_HASH_LEN], const uint8_t vh[DS_HASH_LEN])
{
	uint8_t buf[TAG_LEN + 2 * DS_HASH_LEN];
	memcpy(buf, TAG_LEAF, TAG_LEN);
	memcpy(buf + TAG_LEN, kh, DS_HASH_LEN);
	memcpy(buf + TAG_LEN + DS_HASH_LEN, vh, DS_HASH_LEN);
	ds_sha256(out, buf, sizeof(buf));
}

void ds_smt_node_hash(uint8_t out[DS_HASH_LEN], const uint8_t left[DS_HASH_LEN], const uint8_t right[DS_HASH_LEN])
{
	uint8_t buf[TAG_LEN + 2 * DS_HASH_LEN];
	memcpy(buf, TAG_NODE, TAG_LEN);
	memcpy(buf + TAG_LEN, left, DS_HASH_LEN);
	memcpy(buf + TAG_LEN + DS_HASH_LEN, right, DS_HASH_LEN);
	ds_sha256(out, buf, sizeof(buf));
}

static unsigned nibble(const uint8_t kh[DS_HASH_LEN], unsigned d)
{
	return (d & 1) ? (kh[d / 2] & 0x0f) : (kh[d / 2] >> 4);
}

static unsigned bit_at(const uint8_t kh[DS_HASH_LEN], unsigned i)
{
	return (kh[i / 8] >> (7 - i % 8)) & 1;
}

size_t ds_smt_node_key(uint8_t out[DS_SMT_NODE_KEY_MAX], uint64_t version, const uint8_t *nibbles, size_t n)
{
	DS_ASSERT(n <= 64);
	ds_put_u64be(out, version);
	out[8] = (uint8_t)n;
	size_t bytes = (n + 1) / 2;
	memset(out + 9, 0, bytes);
	for (size_t i = 0; i < n; i++) {
		DS_ASSERT(nibbles[i] < 16);
		out[9 + i / 2] |= (uint8_t)((i & 1) ? nibbles[i] : nibbles[i] << 4);
	}
	return 9 + bytes;
}

/* Node key of a leaf: its path is the first `depth` nibbles of its kh. */
static size_t leaf_key(uint8_t out[DS_SMT_NODE_KEY_MAX], uint64_t version, const uint8_t kh[DS_HASH_LEN],
		       unsigned depth)
{
	uint8_t nib[64];
	for (unsigned i = 0; i < depth; i++)
		nib[i] = (uint8_t)nibble(kh, i);
	return ds_smt_node_key(out, version, nib, depth);
}

/* ---- nodes ---- */

struct child {
	uint64_t version;
	uint8_t hash[DS_HASH_LEN];
};

struct node {
	uint8_t kind;
	uint16_t children; /* bit i: child at nibble i exists */
	uint16_t leaves;   /* bit i: that child is a leaf */
	struct child c[16];
	uint8_t kh[DS_HASH_LEN]; /* leaf */
	uint8_t vh[DS_HASH_LEN];
};

static void node_encode(struct ds_enc *e, const struct node *n)
{
	ds_enc_u8(e, n->kind);
	if (n->kind == NODE_INTERNAL) {
		uint8_t bm[4];
		bm[0] = (uint8_t)(n->children >> 8);
		bm[1] = (uint8_t)n->children;
		bm[2] = (uint8_t)(n->leaves >> 8);
		bm[3] = (uint8_t)n->leaves;
		ds_enc_fixed(e, bm, 4);
		for (unsigned i = 0; i < 16; i++) {
			if (!(n->children & (1u << i)))
				continue;
			ds_enc_uvar(e, n->c[i].version);
			ds_enc_fixed(e, n->c[i].hash, DS_HASH_LEN);
		}
	} else if (n->kind == NODE_LEAF) {
		ds_enc_fixed(e, n->kh, DS_HASH_LEN);
		ds_enc_fixed(e, n->vh, DS_HASH_LEN);
	}
}

/* Strict decode of a node read from the store at `version`. Anything that
 * a correct writer cannot have produced is DS_ECORRUPT. */
static int node_decode(struct node *n, const uint8_t *p, size_t len, uint64_t version)
{
	struct ds_dec d;
	ds_dec_init(&d, p, len);
	memset(n, 0, sizeof(*n));
	if (ds_dec_u8(&d, &n->kind))
		return DS_ECORRUPT;
	if (n->kind == NODE_INTERNAL) {
		uint8_t bm[4];
		ds_dec_fixed(&d, bm, 4);
		n->children = (uint16_t)(bm[0] << 8 | bm[1]);
		n->leaves = (uint16_t)(bm[2] << 8 | bm[3]);
		if (d.err || n->children == 0 || (n->leaves & ~n->children))
			return DS_ECORRUPT;
		/* A lone leaf child would have been pulled up into this slot. */
		if (__builtin_popcount(n->children) == 1 && n->leaves)
			return DS_ECORRUPT;
		for (unsigned i = 0; i < 16; i++) {
			if (!(n->children & (1u << i)))
				continue;
			ds_dec_uvar(&d, &n->c[i].version);
			ds_dec_fixed(&d, n->c[i].hash, DS_HASH_LEN);
			if (!d.err && n->c[i].version > version)
				return DS_ECORRUPT;
		}
	} else if (n->kind == NODE_LEAF) {
		ds_dec_fixed(&d, n->kh, DS_HASH_LEN);
		ds_dec_fixed(&d, n->vh, DS_HASH_LEN);
	} else if (n->kind != NODE_NULL) {
		return DS_ECORRUPT;
	}
	return ds_dec_finish(&d) ? DS_ECORRUPT : 0;
}

/* Reads and decodes node (version, nibbles[0..depth)). A missing root is
 * DS_ENOTFOUND (version pruned or never written); a missing child that a
 * parent names is DS_ECORRUPT. */
static int load(struct node *n, const struct ds_smt_store *st, uint64_t version, const uint8_t *nib,
		unsigned depth, bool is_root)
{
	uint8_t key[DS_SMT_NODE_KEY_MAX], buf[DS_SMT_NODE_MAX];
	size_t klen = ds_smt_node_key(key, version, nib, depth), len = 0;
	int rc = st->get(st->ctx, key, klen, buf, sizeof(buf), &len);
	if (rc == DS_ENOTFOUND)
		return is_root ? DS_ENOTFOUND : DS_ECORRUPT;
	if (rc)
		return rc;
	if (len > sizeof(buf))
		return DS_ECORRUPT;
	rc = node_decode(n, buf, len, version);
	if (rc)
		return rc;
	if (!is_root && n->kind == NODE_NULL)
		return DS_ECORRUPT;
	if (n->kind == NODE_LEAF) {
		for (unsigned i = 0; i < depth; i++)
			if (nibble(n->kh, i) != nib[i])
				return DS_ECORRUPT;
	}
	return 0;
}

/* Binary view of an internal node: heap-ordered, index 1 is the node's
 * root, 16 + s is slot s. cnt = children below; lone_leaf = exactly one
 * child below and it is a leaf, whose hash then stands for the subtree. */
struct bin16 {
	uint8_t h[32][DS_HASH_LEN];
	uint8_t cnt[32];
	bool lone_leaf[32];
};

static void bin16_build(struct bin16 *b, const struct node *n)
{
	for (unsigned s = 0; s < 16; s++) {
		unsigned i = 16 + s;
		if (n->children & (1u << s)) {
			memcpy(b->h[i], n->c[s].hash, DS_HASH_LEN);
			b->cnt[i] = 1;
			b->lone_leaf[i] = (n->leaves >> s) & 1;
		} else {
			memcpy(b->h[i], EMPTY, DS_HASH_LEN);
			b->cnt[i] = 0;
			b->lone_leaf[i] = false;
		}
	}
	for (unsigned i = 15; i >= 1; i--) {
		unsigned l = 2 * i, r = 2 * i + 1;
		b->cnt[i] = (uint8_t)(b->cnt[l] + b->cnt[r]);
		if (b->cnt[i] == 0) {
			memcpy(b->h[i], EMPTY, DS_HASH_LEN);
			b->lone_leaf[i] = false;
		} else if (b->cnt[i] == 1 && (b->lone_leaf[l] || b->lone_leaf[r])) {
			memcpy(b->h[i], b->h[b->lone_leaf[l] ? l : r], DS_HASH_LEN);
			b->lone_leaf[i] = true;
		} else {
			ds_smt_node_hash(b->h[i], b->h[l], b->h[r]);
			b->lone_leaf[i] = false;
		}
	}
}

static void inode_hash(uint8_t out[DS_HASH_LEN], const struct node *n)
{
	struct bin16 b;
	bin16_build(&b, n);
	memcpy(out, b.h[1], DS_HASH_LEN);
}

/* ---- changeset ---- */

void ds_smt_changeset_free(struct ds_smt_changeset *cs)
{
	free(cs->nodes);
	free(cs->stale);
	ds_buf_free(&cs->vals);
	cs->nodes = NULL;
	cs->stale = NULL;
	cs->n_nodes = cs->nodes_cap = cs->n_stale = cs->stale_cap = 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 256;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return DS_ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

static int cs_put(struct ds_smt_changeset *cs, const uint8_t *key, size_t klen, const struct node *n)
{
	int rc = grow((void **)&cs->nodes, &cs->nodes_cap, cs->n_nodes + 1, sizeof(*cs->nodes));
	if (rc)
		return rc;
	rc = ds_buf_reserve(&cs->vals, DS_SMT_NODE_MAX);
	if (rc)
		return rc;
	struct ds_enc e;
	ds_enc_init(&e, cs->vals.data + cs->vals.len, DS_SMT_NODE_MAX);
	node_encode(&e, n);
	size_t len;
	rc = ds_enc_finish(&e, &len);
	DS_ASSERT(rc == 0);
	struct ds_smt_node_rec *r = &cs->nodes[cs->n_nodes++];
	memcpy(r->key, key, klen);
	r->key_len = (uint8_t)klen;
	r->val_off = cs->vals.len;
	r->val_len = (uint16_t)len;
	cs->vals.len += len;
	if (n->kind == NODE_LEAF)
		cs->n_leaves_written++;
	return 0;
}

static int cs_stale(struct ds_smt_changeset *cs, const uint8_t *key, size_t klen)
{
	int rc = grow((void **)&cs->stale, &cs->stale_cap, cs->n_stale + 1, sizeof(*cs->stale));
	if (rc)
		return rc;
	struct ds_smt_stale_rec *r = &cs->stale[cs->n_stale++];
	memcpy(r->key, key, klen);
	r->key_len = (uint8_t)klen;
	return 0;
}

/* ---- update ---- */

struct ent {
	uint8_t kh[DS_HASH_LEN];
	uint8_t vh[DS_HASH_LEN];
	bool del;
	bool noop; /* sets the value the key already has: ignored */
};

enum { R_EMPTY = 0, R_INTERNAL, R_LEAF };

/* A subtree after (or before) the update, at some path.
 * R_INTERNAL: a stored node (version, hash).
 * R_LEAF: a leaf not yet given its final position; `origin` says where it is
 * stored now (so it is reused in place, or rewritten and its old copy
 * marked stale). loaded == false: only version and hash known so far. */
struct res {
	uint8_t kind;
	bool has_origin;
	bool loaded;
	uint8_t origin_depth;
	uint64_t version; /* R_INTERNAL: node version; R_LEAF with origin: its version */
	uint8_t hash[DS_HASH_LEN];
	uint8_t kh[DS_HASH_LEN];
	uint8_t vh[DS_HASH_LEN];
};

struct upd {
	const struct ds_smt_store *st;
	struct ds_smt_changeset *cs;
	uint64_t version;
	struct ent *e;
	uint8_t path[64];
};

static int mark_stale_leaf(struct upd *u, const struct res *r)
{
	if (!r->has_origin)
		return 0;
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	size_t klen = leaf_key(key, r->version, r->kh, r->origin_depth);
	return cs_stale(u->cs, key, klen);
}

static int mark_stale_node(struct upd *u, uint64_t version, unsigned depth)
{
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	size_t klen = ds_smt_node_key(key, version, u->path, depth);
	return cs_stale(u->cs, key, klen);
}

/* Fills kh/vh of a leaf child known only by version and hash. */
static int load_leaf(struct upd *u, struct res *r, unsigned depth)
{
	if (r->loaded)
		return 0;
	struct node n;
	int rc = load(&n, u->st, r->version, u->path, depth, false);
	if (rc)
		return rc;
	uint8_t h[DS_HASH_LEN];
	if (n.kind != NODE_LEAF)
		return DS_ECORRUPT;
	ds_smt_leaf_hash(h, n.kh, n.vh);
	if (memcmp(h, r->hash, DS_HASH_LEN) != 0)
		return DS_ECORRUPT;
	memcpy(r->kh, n.kh, DS_HASH_LEN);
	memcpy(r->vh, n.vh, DS_HASH_LEN);
	r->loaded = true;
	return 0;
}

/* Gives a leaf its final position at `depth` and returns its child entry.
 * Reused in place when it is already stored there, unless force_new. */
static int place_leaf(struct upd *u, struct res *r, unsigned depth, bool force_new, struct child *out)
{
	DS_ASSERT(r->kind == R_LEAF && r->loaded);
	memcpy(out->hash, r->hash, DS_HASH_LEN);
	if (r->has_origin && r->origin_depth == depth && !force_new) {
		out->version = r->version;
		return 0;
	}
	int rc = mark_stale_leaf(u, r);
	if (rc)
		return rc;
	struct node n = {.kind = NODE_LEAF};
	memcpy(n.kh, r->kh, DS_HASH_LEN);
	memcpy(n.vh, r->vh, DS_HASH_LEN);
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	size_t klen = leaf_key(key, u->version, r->kh, depth);
	out->version = u->version;
	return cs_put(u->cs, key, klen, &n);
}

/* Writes internal node n at (u->version, path[0..depth)), after placing
 * the pending leaves among kids. */
static int write_internal(struct upd *u, unsigned depth, struct res kids[16], struct res *out)
{
	struct node n = {.kind = NODE_INTERNAL};
	for (unsigned i = 0; i < 16; i++) {
		if (kids[i].kind == R_EMPTY)
			continue;
		n.children |= (uint16_t)(1u << i);
		if (kids[i].kind == R_LEAF) {
			n.leaves |= (uint16_t)(1u << i);
			if (kids[i].loaded || !kids[i].has_origin || kids[i].origin_depth != depth + 1) {
				u->path[depth] = (uint8_t)i;
				int rc = load_leaf(u, &kids[i], depth + 1);
				if (!rc)
					rc = place_leaf(u, &kids[i], depth + 1, false, &n.c[i]);
				if (rc)
					return rc;
			} else {
				/* Untouched leaf child: stays where it is. */
				n.c[i].version = kids[i].version;
				memcpy(n.c[i].hash, kids[i].hash, DS_HASH_LEN);
			}
		} else {
			n.c[i].version = kids[i].version;
			memcpy(n.c[i].hash, kids[i].hash, DS_HASH_LEN);
		}
	}
	DS_ASSERT(n.children && !(__builtin_popcount(n.children) == 1 && n.leaves));
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	size_t klen = ds_smt_node_key(key, u->version, u->path, depth);
	memset(out, 0, sizeof(*out));
	out->kind = R_INTERNAL;
	out->version = u->version;
	inode_hash(out->hash, &n);
	return cs_put(u->cs, key, klen, &n);
}

static void leaf_res(struct res *r, const uint8_t kh[DS_HASH_LEN], const uint8_t vh[DS_HASH_LEN])
{
	memset(r, 0, sizeof(*r));
	r->kind = R_LEAF;
	r->loaded = true;
	memcpy(r->kh, kh, DS_HASH_LEN);
	memcpy(r->vh, vh, DS_HASH_LEN);
	ds_smt_leaf_hash(r->hash, kh, vh);
}

/* Builds the subtree at path[0..depth) holding the sets in e[lo, hi) and,
 * if not NULL, the leaf `extra` (which no entry in the range names). */
static int build(struct upd *u, unsigned depth, size_t lo, size_t hi, const struct res *extra, struct res *out)
{
	size_t count = extra ? 1 : 0, one = hi;
	for (size_t i = lo; i < hi; i++) {
		if (!u->e[i].del && !u->e[i].noop) {
			count++;
			one = i;
		}
	}
	if (count == 0) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (count == 1) {
		if (extra)
			*out = *extra;
		else
			leaf_res(out, u->e[one].kh, u->e[one].vh);
		return 0;
	}
	/* Two distinct keys differ within 64 nibbles. */
	DS_ASSERT(depth < 64);
	struct res kids[16];
	size_t a = lo;
	for (unsigned nb = 0; nb < 16; nb++) {
		size_t b = a;
		while (b < hi && nibble(u->e[b].kh, depth) == nb)
			b++;
		const struct res *x = (extra && nibble(extra->kh, depth) == nb) ? extra : NULL;
		if (a == b && !x) {
			memset(&kids[nb], 0, sizeof(kids[nb]));
			continue;
		}
		u->path[depth] = (uint8_t)nb;
		int rc = build(u, depth + 1, a, b, x, &kids[nb]);
		if (rc)
			return rc;
		a = b;
	}
	DS_ASSERT(a == hi);
	return write_internal(u, depth, kids, out);
}

static size_t find_kh(const struct ent *e, size_t lo, size_t hi, const uint8_t kh[DS_HASH_LEN])
{
	size_t a = lo, b = hi;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		int c = memcmp(e[m].kh, kh, DS_HASH_LEN);
		if (c == 0)
			return m;
		if (c < 0)
			a = m + 1;
		else
			b = m;
	}
	return hi;
}

static bool same_subtree(const struct res *old, const struct res *now, unsigned depth)
{
	if (old->kind != now->kind)
		return false;
	if (old->kind == R_EMPTY)
		return true;
	if (old->kind == R_INTERNAL)
		return old->version == now->version;
	return now->has_origin && now->version == old->version && now->origin_depth == depth;
}

/* Applies e[lo, hi) (all under path[0..depth)) to the subtree `old`. */
static int apply(struct upd *u, unsigned depth, struct res *old, size_t lo, size_t hi, struct res *out)
{
	int rc;
	if (lo == hi) {
		*out = *old;
		return 0;
	}
	if (old->kind == R_EMPTY)
		return build(u, depth, lo, hi, NULL, out);
	if (old->kind == R_LEAF) {
		rc = load_leaf(u, old, depth);
		if (rc)
			return rc;
		size_t i = find_kh(u->e, lo, hi, old->kh);
		const struct res *extra = old;
		if (i < hi) {
			if (!u->e[i].del && memcmp(u->e[i].vh, old->vh, DS_HASH_LEN) == 0) {
				u->e[i].noop = true;
			} else {
				rc = mark_stale_leaf(u, old);
				if (rc)
					return rc;
				extra = NULL;
			}
		}
		return build(u, depth, lo, hi, extra, out);
	}

	struct node n;
	rc = load(&n, u->st, old->version, u->path, depth, depth == 0);
	if (rc)
		return rc == DS_ENOTFOUND ? DS_ECORRUPT : rc;
	if (n.kind != NODE_INTERNAL)
		return DS_ECORRUPT;
#ifdef DS_TEST_BUILD
	{
		uint8_t h[DS_HASH_LEN];
		inode_hash(h, &n);
		if (memcmp(h, old->hash, DS_HASH_LEN) != 0)
			return DS_ECORRUPT;
	}
#endif
	struct res kids[16];
	bool changed = false;
	size_t a = lo;
	for (unsigned nb = 0; nb < 16; nb++) {
		struct res was;
		memset(&was, 0, sizeof(was));
		if (n.children & (1u << nb)) {
			was.version = n.c[nb].version;
			memcpy(was.hash, n.c[nb].hash, DS_HASH_LEN);
			if (n.leaves & (1u << nb)) {
				was.kind = R_LEAF;
				was.has_origin = true;
				was.origin_depth = (uint8_t)(depth + 1);
			} else {
				was.kind = R_INTERNAL;
			}
		}
		size_t b = a;
		while (b < hi && nibble(u->e[b].kh, depth) == nb)
			b++;
		if (a == b) {
			kids[nb] = was;
			continue;
		}
		u->path[depth] = (uint8_t)nb;
		rc = apply(u, depth + 1, &was, a, b, &kids[nb]);
		if (rc)
			return rc;
		if (!same_subtree(&was, &kids[nb], depth + 1))
			changed = true;
		a = b;
	}
	DS_ASSERT(a == hi);
	if (!changed) {
		*out = *old;
		return 0;
	}
	rc = mark_stale_node(u, old->version, depth);
	if (rc)
		return rc;
	unsigned count = 0, last = 0;
	for (unsigned nb = 0; nb < 16; nb++)
		if (kids[nb].kind != R_EMPTY) {
			count++;
			last = nb;
		}
	if (count == 0) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (count == 1 && kids[last].kind == R_LEAF) {
		/* The node dissolves: its one leaf moves up. */
		u->path[depth] = (uint8_t)last;
		rc = load_leaf(u, &kids[last], depth + 1);
		if (rc)
			return rc;
		*out = kids[last];
		return 0;
	}
	return write_internal(u, depth, kids, out);
}

static int cmp_ent(const void *a, const void *b)
{
	return memcmp(((const struct ent *)a)->kh, ((const struct ent *)b)->kh, DS_HASH_LEN);
}

int ds_smt_update(struct ds_smt_changeset *cs, const struct ds_smt_store *st, uint64_t base,
		  uint64_t version, const struct ds_smt_op *ops, size_t n)
{
	memset(cs, 0, sizeof(*cs));
	ds_buf_init(&cs->vals);
	cs->version = version;
	if (n > DS_SMT_BATCH_MAX)
		return DS_ETOOBIG;
	if (version == DS_SMT_VERSION_NONE || (base != DS_SMT_VERSION_NONE && version <= base))
		return DS_EINVAL;
	int rc;
	struct upd u = {.st = st, .cs = cs, .version = version};
	u.e = malloc((n ? n : 1) * sizeof(*u.e));
	if (!u.e)
		return DS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!ops[i].key && ops[i].key_len) {
			rc = DS_EINVAL;
			goto fail;
		}
		ds_sha256(u.e[i].kh, ops[i].key, ops[i].key_len);
		u.e[i].del = ops[i].value == NULL;
		u.e[i].noop = false;
		if (!u.e[i].del)
			ds_sha256(u.e[i].vh, ops[i].value, ops[i].value_len);
		else
			memset(u.e[i].vh, 0, DS_HASH_LEN);
	}
	qsort(u.e, n, sizeof(*u.e), cmp_ent);
	for (size_t i = 1; i < n; i++) {
		if (memcmp(u.e[i - 1].kh, u.e[i].kh, DS_HASH_LEN) == 0) {
			rc = DS_EINVAL;
			goto fail;
		}
	}

	struct res old, now;
	memset(&old, 0, sizeof(old));
	uint8_t old_kind = NODE_NULL;
	if (base != DS_SMT_VERSION_NONE) {
		struct node r;
		rc = load(&r, st, base, NULL, 0, true);
		if (rc)
			goto fail;
		old_kind = r.kind;
		if (r.kind == NODE_INTERNAL) {
			old.kind = R_INTERNAL;
			old.version = base;
			inode_hash(old.hash, &r);
		} else if (r.kind == NODE_LEAF) {
			leaf_res(&old, r.kh, r.vh);
			old.has_origin = true;
			old.version = base;
			old.origin_depth = 0;
		}
	}
	rc = apply(&u, 0, &old, 0, n, &now);
	if (rc)
		goto fail;

	/* Every version has its own root node at (version, []). A NULL root at
	 * base is never visited by apply: it goes stale here, whatever the new
	 * tree is (empty, a leaf or an internal node). */
	if (base != DS_SMT_VERSION_NONE && old_kind == NODE_NULL) {
		rc = mark_stale_node(&u, base, 0);
		if (rc)
			goto fail;
	}
	uint8_t key[DS_SMT_NODE_KEY_MAX];
	size_t klen = ds_smt_node_key(key, version, NULL, 0);
	if (now.kind == R_EMPTY) {
		struct node nul = {.kind = NODE_NULL};
		rc = cs_put(cs, key, klen, &nul);
		memcpy(cs->root, EMPTY, DS_HASH_LEN);
	} else if (now.kind == R_LEAF) {
		struct child c;
		rc = load_leaf(&u, &now, 0);
		if (!rc)
			rc = place_leaf(&u, &now, 0, true, &c);
		memcpy(cs->root, now.hash, DS_HASH_LEN);
	} else {
		if (now.version != version) {
			/* Unchanged internal root: copy it to the new version. */
			struct node r;
			rc = load(&r, st, base, NULL, 0, true);
			if (!rc)
				rc = mark_stale_node(&u, base, 0);
			if (!rc)
				rc = cs_put(cs, key, klen, &r);
		}
		memcpy(cs->root, now.hash, DS_HASH_LEN);
	}
	if (rc)
		goto fail;
	free(u.e);
	return 0;
fail:
	free(u.e);
	return rc;
}

/* ---- reads and proofs ---- */

int ds_smt_root(uint8_t out[DS_HASH_LEN], const struct ds_smt_store *st, uint64_t version)
{
	struct node r;
	int rc = load(&r, st, version, NULL, 0, true);
	if (rc)
		return rc;
	if (r.kind == NODE_NULL)
		memcpy(out, EMPTY, DS_HASH_LEN);
	else if (r.kind == NODE_LEAF)
		ds_smt_leaf_hash(out, r.kh, r.vh);
	else
		inode_hash(out, &r);
	return 0;
}

int ds_smt_get(bool *found, uint8_t vh[DS_HASH_LEN], const struct ds_smt_store *st, uint64_t version,
	       const uint8_t kh[DS_HASH_LEN])
{
	*found = false;
	uint8_t nib[64];
	for (unsigned i = 0; i < 64; i++)
		nib[i] = (uint8_t)nibble(kh, i);
	struct node n;
	int rc = load(&n, st, version, nib, 0, true);
	if (rc)
		return rc;
	for (unsigned depth = 0;; depth++) {
		if (n.kind == NODE_NULL)
			return 0;
		if (n.kind == NODE_LEAF) {
			if (memcmp(n.kh, kh, DS_HASH_LEN) == 0) {
				*found = true;
				memcpy(vh, n.vh, DS_HASH_LEN);
			}
			return 0;
		}
		if (depth >= 64)
			return DS_ECORRUPT;
		unsigned nb = nib[depth];
		if (!(n.children & (1u << nb)))
			return 0;
		uint64_t cv = n.c[nb].version;
		bool is_leaf = (n.leaves >> nb) & 1;
		rc = load(&n, st, cv, nib, depth + 1, false);
		if (rc)
			return rc;
		if ((n.kind == NODE_LEAF) != is_leaf)
			return DS_ECORRUPT;
	}
}

int ds_smt_prove(struct ds_smt_proof *p, const struct ds_smt_store *st, uint64_t version,
		 const uint8_t kh[DS_HASH_LEN])
{
	memset(p, 0, offsetof(struct ds_smt_proof, siblings));
	uint8_t nib[64];
	for (unsigned i = 0; i < 64; i++)
		nib[i] = (uint8_t)nibble(kh, i);
	struct node n;
	int rc = load(&n, st, version, nib, 0, true);
	if (rc)
		return rc;
	if (n.kind == NODE_LEAF) {
		p->has_leaf = true;
		memcpy(p->leaf_kh, n.kh, DS_HASH_LEN);
		memcpy(p->leaf_vh, n.vh, DS_HASH_LEN);
	}
	/* Siblings are found top-down into the tail of the array, then moved
	 * to the front so that siblings[0] is next to the end point. */
	uint8_t (*top)[DS_HASH_LEN] = p->siblings;
	unsigned c = 0;
	const uint8_t *want = NULL; /* hash the parent recorded; NULL at the root */
	uint8_t want_buf[DS_HASH_LEN];
	struct bin16 b;
	for (unsigned depth = 0; n.kind == NODE_INTERNAL; depth++) {
		if (depth >= 64)
			return DS_ECORRUPT;
		bin16_build(&b, &n);
		if (want && memcmp(want, b.h[1], DS_HASH_LEN) != 0)
			return DS_ECORRUPT;
		unsigned nb = nib[depth], i = 1;
		bool end = false;
		for (unsigned lvl = 0; lvl < 4; lvl++) {
			if (b.cnt[i] == 0 || b.lone_leaf[i]) {
				end = true;
				break;
			}
			unsigned bit = (nb >> (3 - lvl)) & 1;
			DS_ASSERT(c < DS_SMT_DEPTH_MAX);
			memcpy(top[c++], b.h[2 * i + (1 - bit)], DS_HASH_LEN);
			i = 2 * i + bit;
		}
		if (!end && b.cnt[i] == 0)
			end = true;
		if (end && b.cnt[i] == 0)
			break;
		/* A leaf ends the path: the lone leaf below i, or slot nb's. */
		unsigned slot = nb;
		if (end) {
			unsigned lo = i, hi = i;
			while (lo < 16) {
				lo = 2 * lo;
				hi = 2 * hi + 1;
			}
			for (slot = lo - 16; slot <= hi - 16; slot++)
				if (n.children & (1u << slot))
					break;
		}
		uint64_t cv = n.c[slot].version;
		bool is_leaf = (n.leaves >> slot) & 1;
		memcpy(want_buf, n.c[slot].hash, DS_HASH_LEN);
		want = want_buf;
		uint8_t cpath[64];
		memcpy(cpath, nib, depth);
		cpath[depth] = (uint8_t)slot;
		rc = load(&n, st, cv, cpath, depth + 1, false);
		if (rc)
			return rc;
		if ((n.kind == NODE_LEAF) != is_leaf)
			return DS_ECORRUPT;
		if (n.kind == NODE_LEAF) {
			uint8_t h[DS_HASH_LEN];
			ds_smt_leaf_hash(h, n.kh, n.vh);
			if (memcmp(h, want, DS_HASH_LEN) != 0)
				return DS_ECORRUPT;
			p->has_leaf = true;
			memcpy(p->leaf_kh, n.kh, DS_HASH_LEN);
			memcpy(p->leaf_vh, n.vh, DS_HASH_LEN);
		}
	}
	for (unsigned k = 0; k < c / 2; k++) {
		uint8_t t[DS_HASH_LEN];
		memcpy(t, top[k], DS_HASH_LEN);
		memcpy(top[k], top[c - 1 - k], DS_HASH_LEN);
		memcpy(top[c - 1 - k], t, DS_HASH_LEN);
	}
	p->depth = (uint16_t)c;
	return 0;
}

int ds_smt_verify_hashed(const uint8_t root[DS_HASH_LEN], const uint8_t kh[DS_HASH_LEN],
			 const uint8_t *vh, const struct ds_smt_proof *p)
{
	if (p->depth > DS_SMT_DEPTH_MAX)
		return DS_EPROOF;
	uint8_t cur[DS_HASH_LEN];
	if (vh) {
		if (!p->has_leaf || memcmp(p->leaf_kh, kh, DS_HASH_LEN) != 0 ||
		    memcmp(p->leaf_vh, vh, DS_HASH_LEN) != 0)
			return DS_EPROOF;
	} else if (p->has_leaf) {
		/* Another key's leaf on kh's path proves kh absent. */
		if (memcmp(p->leaf_kh, kh, DS_HASH_LEN) == 0)
			return DS_EPROOF;
		for (unsigned i = 0; i < p->depth; i++)
			if (bit_at(p->leaf_kh, i) != bit_at(kh, i))
				return DS_EPROOF;
	}
	if (p->has_leaf)
		ds_smt_leaf_hash(cur, p->leaf_kh, p->leaf_vh);
	else
		memcpy(cur, EMPTY, DS_HASH_LEN);
	for (unsigned i = 0; i < p->depth; i++) {
		unsigned d = p->depth - 1 - i; /* depth of cur's parent */
		if (bit_at(kh, d))
			ds_smt_node_hash(cur, p->siblings[i], cur);
		else
			ds_smt_node_hash(cur, cur, p->siblings[i]);
	}
	return memcmp(cur, root, DS_HASH_LEN) == 0 ? 0 : DS_EPROOF;
}

int ds_smt_verify(const uint8_t root[DS_HASH_LEN], const uint8_t *key, size_t key_len,
		  const uint8_t *value, size_t value_len, const struct ds_smt_proof *p)
{
	uint8_t kh[DS_HASH_LEN], vh[DS_HASH_LEN];
	ds_sha256(kh, key, key_len);
	if (value)
		ds_sha256(vh, value, value_len);
	return ds_smt_verify_hashed(root, kh, value ? vh : NULL, p);
}

int ds_smt_proof_encode(uint8_t *out, size_t cap, size_t *out_len, const struct ds_smt_proof *p)
{
	if (p->depth > DS_SMT_DEPTH_MAX)
		return DS_EINVAL;
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_u8(&e, p->has_leaf ? 1 : 0);
	if (p->has_leaf) {
		ds_enc_fixed(&e, p->leaf_kh, DS_HASH_LEN);
		ds_enc_fixed(&e, p->leaf_vh, DS_HASH_LEN);
	}
	ds_enc_uvar(&e, p->depth);
	uint8_t bm[DS_SMT_DEPTH_MAX / 8] = {0};
	for (unsigned i = 0; i < p->depth; i++)
		if (memcmp(p->siblings[i], EMPTY, DS_HASH_LEN) != 0)
			bm[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	ds_enc_fixed(&e, bm, (p->depth + 7u) / 8);
	for (unsigned i = 0; i < p->depth; i++)
		if (bm[i / 8] & (0x80 >> (i % 8)))
			ds_enc_fixed(&e, p->siblings[i], DS_HASH_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_smt_proof_decode(struct ds_smt_proof *p, const uint8_t *in, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, in, len);
	memset(p, 0, offsetof(struct ds_smt_proof, siblings));
	uint8_t kind;
	if (ds_dec_u8(&d, &kind))
		return ds_dec_finish(&d);
	if (kind > 1)
		return DS_ETAG;
	p->has_leaf = kind == 1;
	if (p->has_leaf) {
		ds_dec_fixed(&d, p->leaf_kh, DS_HASH_LEN);
		ds_dec_fixed(&d, p->leaf_vh, DS_HASH_LEN);
	}
	uint64_t depth;
	if (ds_dec_uvar_max(&d, &depth, DS_SMT_DEPTH_MAX))
		return ds_dec_finish(&d);
	p->depth = (uint16_t)depth;
	uint8_t bm[DS_SMT_DEPTH_MAX / 8] = {0};
	size_t nb = (size_t)(depth + 7) / 8;
	if (ds_dec_fixed(&d, bm, nb))
		return ds_dec_finish(&d);
	if (depth % 8 && (bm[nb - 1] & (0xffu >> (depth % 8))))
		return DS_EINVAL;
	for (unsigned i = 0; i < depth; i++) {
		if (bm[i / 8] & (0x80 >> (i % 8))) {
			if (ds_dec_fixed(&d, p->siblings[i], DS_HASH_LEN))
				return ds_dec_finish(&d);
			if (memcmp(p->siblings[i], EMPTY, DS_HASH_LEN) == 0)
				return DS_EINVAL;
		} else {
			memcpy(p->siblings[i], EMPTY, DS_HASH_LEN);
		}
	}
	return ds_dec_finish(&d);
}
