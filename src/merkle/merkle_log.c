/* RFC 6962 / RFC 9162 Merkle tree: hashes, proofs, verification, frontier. */
#include "merkle/merkle.h"

#include <string.h>

#include "codec/codec.h"

void ds_merkle_leaf_hash(uint8_t out[DS_HASH_LEN], const void *data, size_t len)
{
	static const uint8_t prefix = 0x00;
	struct ds_iov iov[2] = {{&prefix, 1}, {data, len}};
	ds_sha256_v(out, iov, 2);
}

void ds_merkle_node_hash(uint8_t out[DS_HASH_LEN], const uint8_t left[DS_HASH_LEN],
			 const uint8_t right[DS_HASH_LEN])
{
	/* One contiguous buffer: a single update call is measurably faster than three. */
	uint8_t buf[1 + 2 * DS_HASH_LEN];
	buf[0] = 0x01;
	memcpy(buf + 1, left, DS_HASH_LEN);
	memcpy(buf + 1 + DS_HASH_LEN, right, DS_HASH_LEN);
	ds_sha256(out, buf, sizeof(buf));
}

void ds_merkle_empty_root(uint8_t out[DS_HASH_LEN])
{
	ds_sha256(out, "", 0);
}

static int array_leaf(void *ctx, uint64_t i, uint8_t out[DS_HASH_LEN])
{
	const uint8_t (*leaves)[DS_HASH_LEN] = ctx;
	memcpy(out, leaves[i], DS_HASH_LEN);
	return 0;
}

struct ds_merkle_src ds_merkle_src_array(const uint8_t (*leaves)[DS_HASH_LEN])
{
	struct ds_merkle_src s = {array_leaf, NULL, (void *)(uintptr_t)leaves};
	return s;
}

/* Largest power of two strictly below n (n >= 2): RFC 6962's split point. */
static uint64_t split_point(uint64_t n)
{
	DS_ASSERT(n >= 2);
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static bool is_pow2(uint64_t n)
{
	return n && !(n & (n - 1));
}

/* MTH(D[lo : lo+size]), size >= 1. Complete subtrees come from the source's
 * cache when it has them; otherwise leaves are folded left to right through
 * a frontier, so the stack stays O(log n) whatever the size. */
static int range_hash(uint8_t out[DS_HASH_LEN], const struct ds_merkle_src *src, uint64_t lo,
		      uint64_t size, unsigned depth)
{
	DS_ASSERT(size >= 1 && depth <= 64);
	if (size == 1)
		return src->leaf(src->ctx, lo, out);
	if (!src->subtree) {
		struct ds_merkle_frontier f;
		ds_merkle_frontier_init(&f);
		for (uint64_t i = 0; i < size; i++) {
			uint8_t h[DS_HASH_LEN];
			int rc = src->leaf(src->ctx, lo + i, h);
			if (rc)
				return rc;
			rc = ds_merkle_frontier_append(&f, h);
			DS_ASSERT(rc == 0);
		}
		ds_merkle_frontier_root(out, &f);
		return 0;
	}
	if (is_pow2(size) && lo % size == 0) {
		int rc = src->subtree(src->ctx, (unsigned)__builtin_ctzll(size), lo / size, out);
		if (rc != DS_ENOTFOUND)
			return rc;
	}
	uint64_t k = split_point(size);
	uint8_t l[DS_HASH_LEN], r[DS_HASH_LEN];
	int rc = range_hash(l, src, lo, k, depth + 1);
	if (!rc)
		rc = range_hash(r, src, lo + k, size - k, depth + 1);
	if (rc)
		return rc;
	ds_merkle_node_hash(out, l, r);
	return 0;
}

int ds_merkle_root(uint8_t out[DS_HASH_LEN], const struct ds_merkle_src *src, uint64_t n)
{
	if (n == 0) {
		ds_merkle_empty_root(out);
		return 0;
	}
	return range_hash(out, src, 0, n, 0);
}

void ds_merkle_root_array(uint8_t out[DS_HASH_LEN], const uint8_t (*leaves)[DS_HASH_LEN], uint64_t n)
{
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	for (uint64_t i = 0; i < n; i++) {
		int rc = ds_merkle_frontier_append(&f, leaves[i]);
		DS_ASSERT(rc == 0);
	}
	ds_merkle_frontier_root(out, &f);
}

static void reverse_path(uint8_t path[][DS_HASH_LEN], size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t[DS_HASH_LEN];
		memcpy(t, path[i], DS_HASH_LEN);
		memcpy(path[i], path[n - 1 - i], DS_HASH_LEN);
		memcpy(path[n - 1 - i], t, DS_HASH_LEN);
	}
}

int ds_merkle_inclusion_proof(uint8_t path[][DS_HASH_LEN], size_t *path_len,
			      const struct ds_merkle_src *src, uint64_t index, uint64_t n)
{
	*path_len = 0;
	if (index >= n)
		return DS_ERANGE;
	/* Walk RFC 6962's PATH recursion top-down, then reverse to leaf-up. */
	uint64_t lo = 0, size = n;
	size_t c = 0;
	while (size > 1) {
		DS_ASSERT(c < DS_MERKLE_INCL_MAX);
		uint64_t k = split_point(size);
		int rc;
		if (index < lo + k) {
			rc = range_hash(path[c], src, lo + k, size - k, 0);
			size = k;
		} else {
			rc = range_hash(path[c], src, lo, k, 0);
			lo += k;
			size -= k;
		}
		if (rc)
			return rc;
		c++;
	}
	reverse_path(path, c);
	*path_len = c;
	return 0;
}

int ds_merkle_consistency_proof(uint8_t path[][DS_HASH_LEN], size_t *path_len,
				const struct ds_merkle_src *src, uint64_t m, uint64_t n)
{
	*path_len = 0;
	if (m == 0 || m > n)
		return DS_ERANGE;
	/* RFC 6962 SUBPROOF(m, D[lo:lo+size], whole), top-down, then reversed. */
	uint64_t lo = 0, size = n;
	bool whole = true;
	size_t c = 0;
	for (;;) {
		DS_ASSERT(c < DS_MERKLE_CONS_MAX);
		int rc;
		if (m == size) {
			if (!whole) {
				rc = range_hash(path[c], src, lo, size, 0);
				if (rc)
					return rc;
				c++;
			}
			break;
		}
		uint64_t k = split_point(size);
		if (m <= k) {
			rc = range_hash(path[c], src, lo + k, size - k, 0);
			size = k;
		} else {
			rc = range_hash(path[c], src, lo, k, 0);
			lo += k;
			m -= k;
			size -= k;
			whole = false;
		}
		if (rc)
			return rc;
		c++;
	}
	reverse_path(path, c);
	*path_len = c;
	return 0;
}

int ds_merkle_inclusion_root(uint8_t root[DS_HASH_LEN], uint64_t n, uint64_t index,
			     const uint8_t leaf_hash[DS_HASH_LEN], const uint8_t path[][DS_HASH_LEN],
			     size_t path_len)
{
	if (index >= n || path_len > DS_MERKLE_INCL_MAX)
		return DS_EPROOF;
	uint64_t fn = index, sn = n - 1;
	uint8_t r[DS_HASH_LEN];
	memcpy(r, leaf_hash, DS_HASH_LEN);
	for (size_t i = 0; i < path_len; i++) {
		if (sn == 0)
			return DS_EPROOF;
		if ((fn & 1) || fn == sn) {
			ds_merkle_node_hash(r, path[i], r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ds_merkle_node_hash(r, r, path[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return DS_EPROOF;
	memcpy(root, r, DS_HASH_LEN);
	return 0;
}

int ds_merkle_verify_inclusion(const uint8_t root[DS_HASH_LEN], uint64_t n, uint64_t index,
			       const uint8_t leaf_hash[DS_HASH_LEN],
			       const uint8_t path[][DS_HASH_LEN], size_t path_len)
{
	uint8_t r[DS_HASH_LEN];
	if (ds_merkle_inclusion_root(r, n, index, leaf_hash, path, path_len) != 0 ||
	    memcmp(r, root, DS_HASH_LEN) != 0)
		return DS_EPROOF;
	return 0;
}

int ds_merkle_verify_consistency(const uint8_t root1[DS_HASH_LEN], uint64_t m,
				 const uint8_t root2[DS_HASH_LEN], uint64_t n,
				 const uint8_t path[][DS_HASH_LEN], size_t path_len)
{
	if (m == 0 || m > n || path_len > DS_MERKLE_CONS_MAX)
		return DS_EPROOF;
	if (m == n)
		return (path_len == 0 && memcmp(root1, root2, DS_HASH_LEN) == 0) ? 0 : DS_EPROOF;
	if (path_len == 0)
		return DS_EPROOF;
	/* RFC 9162 §2.1.4.2. When m is a power of two the old root is itself
	 * the first node of the path, implicitly prepended. */
	size_t i = 0;
	uint8_t fr[DS_HASH_LEN], sr[DS_HASH_LEN];
	if (is_pow2(m)) {
		memcpy(fr, root1, DS_HASH_LEN);
	} else {
		memcpy(fr, path[0], DS_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, DS_HASH_LEN);
	uint64_t fn = m - 1, sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < path_len; i++) {
		if (sn == 0)
			return DS_EPROOF;
		if ((fn & 1) || fn == sn) {
			ds_merkle_node_hash(fr, path[i], fr);
			ds_merkle_node_hash(sr, path[i], sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ds_merkle_node_hash(sr, sr, path[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, root1, DS_HASH_LEN) != 0 || memcmp(sr, root2, DS_HASH_LEN) != 0)
		return DS_EPROOF;
	return 0;
}

/* ---- level cache ---- */

uint64_t ds_merkle_levels_count(uint64_t n)
{
	uint64_t total = 0;
	for (unsigned l = 0; l < 64 && (n >> l); l++)
		total += n >> l;
	return total;
}

void ds_merkle_levels_build(struct ds_merkle_levels *lv, uint8_t (*buf)[DS_HASH_LEN],
			    const uint8_t (*leaves)[DS_HASH_LEN], uint64_t n)
{
	lv->hashes = buf;
	lv->n = n;
	if (n)
		memmove(buf, leaves, (size_t)n * DS_HASH_LEN);
	uint64_t off = 0;
	for (unsigned l = 1; l < 64 && (n >> l); l++) {
		uint64_t below = n >> (l - 1), here = n >> l;
		for (uint64_t i = 0; i < here; i++)
			ds_merkle_node_hash(buf[off + below + i], buf[off + 2 * i], buf[off + 2 * i + 1]);
		off += below;
	}
}

static int levels_leaf(void *ctx, uint64_t i, uint8_t out[DS_HASH_LEN])
{
	const struct ds_merkle_levels *lv = ctx;
	if (i >= lv->n)
		return DS_ERANGE;
	memcpy(out, lv->hashes[i], DS_HASH_LEN);
	return 0;
}

static int levels_subtree(void *ctx, unsigned level, uint64_t index, uint8_t out[DS_HASH_LEN])
{
	const struct ds_merkle_levels *lv = ctx;
	uint64_t off = 0;
	for (unsigned l = 0; l < level; l++) {
		if (!(lv->n >> l))
			return DS_ENOTFOUND;
		off += lv->n >> l;
	}
	if (level >= 64 || index >= (lv->n >> level))
		return DS_ENOTFOUND;
	memcpy(out, lv->hashes[off + index], DS_HASH_LEN);
	return 0;
}

struct ds_merkle_src ds_merkle_levels_src(const struct ds_merkle_levels *lv)
{
	struct ds_merkle_src s = {levels_leaf, levels_subtree, (void *)(uintptr_t)lv};
	return s;
}

/* ---- frontier ---- */

void ds_merkle_frontier_init(struct ds_merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int ds_merkle_frontier_append(struct ds_merkle_frontier *f, const uint8_t leaf_hash[DS_HASH_LEN])
{
	if (f->size == UINT64_MAX)
		return DS_ERANGE;
	/* Each trailing 1 bit of size is a complete subtree that the new leaf
	 * completes into one twice as large. */
	uint8_t h[DS_HASH_LEN];
	memcpy(h, leaf_hash, DS_HASH_LEN);
	uint64_t s = f->size;
	unsigned cnt = (unsigned)__builtin_popcountll(s);
	while (s & 1) {
		DS_ASSERT(cnt > 0);
		cnt--;
		ds_merkle_node_hash(h, f->hashes[cnt], h);
		s >>= 1;
	}
	memcpy(f->hashes[cnt], h, DS_HASH_LEN);
	f->size++;
	return 0;
}

void ds_merkle_frontier_root(uint8_t out[DS_HASH_LEN], const struct ds_merkle_frontier *f)
{
	unsigned cnt = (unsigned)__builtin_popcountll(f->size);
	if (cnt == 0) {
		ds_merkle_empty_root(out);
		return;
	}
	uint8_t r[DS_HASH_LEN];
	memcpy(r, f->hashes[cnt - 1], DS_HASH_LEN);
	for (unsigned i = cnt - 1; i-- > 0;)
		ds_merkle_node_hash(r, f->hashes[i], r);
	memcpy(out, r, DS_HASH_LEN);
}

#define FRONTIER_VERSION 1

int ds_merkle_frontier_encode(uint8_t *out, size_t cap, size_t *out_len,
			      const struct ds_merkle_frontier *f)
{
	struct ds_enc e;
	ds_enc_init(&e, out, cap);
	ds_enc_u8(&e, FRONTIER_VERSION);
	ds_enc_uvar(&e, f->size);
	unsigned cnt = (unsigned)__builtin_popcountll(f->size);
	for (unsigned i = 0; i < cnt; i++)
		ds_enc_fixed(&e, f->hashes[i], DS_HASH_LEN);
	return ds_enc_finish(&e, out_len);
}

int ds_merkle_frontier_decode(struct ds_merkle_frontier *f, const uint8_t *in, size_t len)
{
	struct ds_dec d;
	ds_dec_init(&d, in, len);
	uint8_t ver;
	uint64_t size;
	if (ds_dec_u8(&d, &ver))
		return ds_dec_finish(&d);
	if (ver != FRONTIER_VERSION)
		return DS_EVERSION;
	struct ds_merkle_frontier tmp;
	ds_merkle_frontier_init(&tmp);
	if (ds_dec_uvar(&d, &size))
		return ds_dec_finish(&d);
	tmp.size = size;
	unsigned cnt = (unsigned)__builtin_popcountll(size);
	for (unsigned i = 0; i < cnt; i++)
		ds_dec_fixed(&d, tmp.hashes[i], DS_HASH_LEN);
	int rc = ds_dec_finish(&d);
	if (rc)
		return rc;
	*f = tmp;
	return 0;
}
