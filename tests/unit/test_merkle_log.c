/* merkle log: RFC 6962 vectors, transparency-dev probes, randomised proofs
 * for every tree size 1..2000, frontier against batch roots. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "merkle/merkle.h"

/* jansson integers are signed 64-bit; the probes use sizes up to 2^64-1.
 * Bare numbers of 19+ digits (outside strings) are quoted before parsing and
 * read back by get_u64. */
static char *quote_big_ints(const char *txt)
{
	size_t n = strlen(txt), o = 0;
	char *out = malloc(n * 2 + 1);
	assert_non_null(out);
	bool in_str = false;
	for (size_t i = 0; i < n;) {
		char ch = txt[i];
		if (in_str) {
			out[o++] = ch;
			if (ch == '\\' && i + 1 < n)
				out[o++] = txt[++i];
			else if (ch == '"')
				in_str = false;
			i++;
			continue;
		}
		if (ch == '"') {
			in_str = true;
			out[o++] = ch;
			i++;
			continue;
		}
		size_t d = 0;
		while (i + d < n && txt[i + d] >= '0' && txt[i + d] <= '9')
			d++;
		if (d >= 19) {
			out[o++] = '"';
			memcpy(out + o, txt + i, d);
			o += d;
			out[o++] = '"';
			i += d;
		} else if (d) {
			memcpy(out + o, txt + i, d);
			o += d;
			i += d;
		} else {
			out[o++] = ch;
			i++;
		}
	}
	out[o] = 0;
	return out;
}

static uint64_t get_u64(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);
	if (json_is_string(v))
		return strtoull(json_string_value(v), NULL, 10);
	assert_true(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

static json_t *load_json(const char *name)
{
	char *raw = tu_vectors_read(name, NULL);
	if (!raw)
		return NULL;
	char *txt = quote_big_ints(raw);
	free(raw);
	json_error_t err;
	json_t *j = json_loads(txt, 0, &err);
	free(txt);
	if (!j)
		fail_msg("%s: %s at line %d", name, err.text, err.line);
	return j;
}

/* Hex into a 32-byte hash; returns 0 if the hex is not exactly 32 bytes. */
static int hash32(uint8_t out[DS_HASH_LEN], const char *hex)
{
	if (strlen(hex) != 2 * DS_HASH_LEN)
		return 0;
	return ds_hex_decode(out, DS_HASH_LEN, hex, 2 * DS_HASH_LEN) == 0;
}

static void must_hash32(uint8_t out[DS_HASH_LEN], json_t *o, const char *field)
{
	const char *hex = json_string_value(json_object_get(o, field));
	assert_non_null(hex);
	assert_true(hash32(out, hex));
}

/* Path array into path; returns 0 if any element is not 32 bytes or too many. */
static int path_from_json(uint8_t path[][DS_HASH_LEN], size_t cap, size_t *n, json_t *arr)
{
	*n = json_array_size(arr);
	if (*n > cap)
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (!hash32(path[i], json_string_value(json_array_get(arr, i))))
			return 0;
	return 1;
}

static void test_rfc6962_vectors(void **state)
{
	(void)state;
	json_t *j = load_json("rfc6962_merkle.json");
	if (!j)
		skip();
	json_t *inputs = json_object_get(j, "leaf_inputs_hex");
	json_t *lh = json_object_get(j, "leaf_hashes_hex");
	size_t nl = json_array_size(inputs);
	assert_int_equal(nl, 8);
	uint8_t leaves[8][DS_HASH_LEN];
	for (size_t i = 0; i < nl; i++) {
		size_t len;
		uint8_t *in = tu_unhex(json_string_value(json_array_get(inputs, i)), &len);
		ds_merkle_leaf_hash(leaves[i], in, len);
		free(in);
		uint8_t want[DS_HASH_LEN];
		assert_true(hash32(want, json_string_value(json_array_get(lh, i))));
		assert_memory_equal(leaves[i], want, DS_HASH_LEN);
	}
	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t(*)[DS_HASH_LEN])leaves);

	/* Every complete subtree, as a range root. */
	json_t *nodes = json_object_get(j, "node_hashes"), *o;
	size_t i;
	assert_int_equal(json_array_size(nodes), 15);
	json_array_foreach(nodes, i, o) {
		uint64_t first = (uint64_t)json_integer_value(json_object_get(o, "first_leaf"));
		uint64_t num = (uint64_t)json_integer_value(json_object_get(o, "num_leaves"));
		uint8_t want[DS_HASH_LEN], got[DS_HASH_LEN];
		must_hash32(want, o, "hash_hex");
		ds_merkle_root_array(got, (const uint8_t(*)[DS_HASH_LEN])leaves + first, num);
		assert_memory_equal(got, want, DS_HASH_LEN);
	}

	json_t *roots = json_object_get(j, "roots");
	assert_int_equal(json_array_size(roots), 9);
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	json_array_foreach(roots, i, o) {
		uint64_t n = get_u64(o, "tree_size");
		uint8_t want[DS_HASH_LEN], got[DS_HASH_LEN];
		must_hash32(want, o, "root_hex");
		assert_int_equal(ds_merkle_root(got, &src, n), 0);
		assert_memory_equal(got, want, DS_HASH_LEN);
		assert_true(f.size == n);
		ds_merkle_frontier_root(got, &f);
		assert_memory_equal(got, want, DS_HASH_LEN);
		if (n < 8)
			assert_int_equal(ds_merkle_frontier_append(&f, leaves[n]), 0);
	}

	json_t *incl = json_object_get(j, "inclusion_proofs");
	assert_int_equal(json_array_size(incl), 7);
	json_array_foreach(incl, i, o) {
		uint64_t idx = get_u64(o, "leaf_index");
		uint64_t n = get_u64(o, "tree_size");
		uint8_t root[DS_HASH_LEN], leaf[DS_HASH_LEN];
		uint8_t want[DS_MERKLE_INCL_MAX][DS_HASH_LEN], got[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
		size_t nwant, ngot;
		must_hash32(root, o, "root_hex");
		must_hash32(leaf, o, "leaf_hash_hex");
		assert_true(path_from_json(want, DS_MERKLE_INCL_MAX, &nwant, json_object_get(o, "path_hex")));
		assert_int_equal(ds_merkle_inclusion_proof(got, &ngot, &src, idx, n), 0);
		assert_int_equal(ngot, nwant);
		if (nwant)
			assert_memory_equal(got, want, nwant * DS_HASH_LEN);
		assert_int_equal(ds_merkle_verify_inclusion(root, n, idx, leaf,
							    (const uint8_t(*)[DS_HASH_LEN])want, nwant), 0);
	}

	json_t *cons = json_object_get(j, "consistency_proofs");
	assert_int_equal(json_array_size(cons), 5);
	json_array_foreach(cons, i, o) {
		uint64_t m = get_u64(o, "size1");
		uint64_t n = get_u64(o, "size2");
		uint8_t r1[DS_HASH_LEN], r2[DS_HASH_LEN];
		uint8_t want[DS_MERKLE_CONS_MAX][DS_HASH_LEN], got[DS_MERKLE_CONS_MAX][DS_HASH_LEN];
		size_t nwant, ngot;
		must_hash32(r1, o, "root1_hex");
		must_hash32(r2, o, "root2_hex");
		assert_true(path_from_json(want, DS_MERKLE_CONS_MAX, &nwant, json_object_get(o, "path_hex")));
		assert_int_equal(ds_merkle_consistency_proof(got, &ngot, &src, m, n), 0);
		assert_int_equal(ngot, nwant);
		if (nwant)
			assert_memory_equal(got, want, nwant * DS_HASH_LEN);
		assert_int_equal(ds_merkle_verify_consistency(r1, m, r2, n,
							      (const uint8_t(*)[DS_HASH_LEN])want, nwant), 0);
	}

	json_t *hv = json_object_get(j, "hasher_vectors");
	assert_int_equal(json_array_size(hv), 4);
	json_array_foreach(hv, i, o) {
		const char *kind = json_string_value(json_object_get(o, "kind"));
		uint8_t want[DS_HASH_LEN], got[DS_HASH_LEN];
		must_hash32(want, o, "hash_hex");
		if (strcmp(kind, "empty_root") == 0) {
			ds_merkle_empty_root(got);
		} else if (strcmp(kind, "leaf") == 0) {
			size_t len;
			uint8_t *in = tu_unhex(json_string_value(json_object_get(o, "input_hex")), &len);
			ds_merkle_leaf_hash(got, in, len);
			free(in);
		} else {
			/* Children that are not 32 bytes: check the node rule itself. */
			assert_string_equal(kind, "node");
			size_t ll, rl;
			uint8_t *l = tu_unhex(json_string_value(json_object_get(o, "left_hex")), &ll);
			uint8_t *r = tu_unhex(json_string_value(json_object_get(o, "right_hex")), &rl);
			const uint8_t one = 1;
			struct ds_iov iov[3] = {{&one, 1}, {l, ll}, {r, rl}};
			ds_sha256_v(got, iov, 3);
			free(l);
			free(r);
		}
		assert_memory_equal(got, want, DS_HASH_LEN);
	}
	json_decref(j);
}

/* Probe roots are opaque byte strings (some are ASCII, not 32 bytes): map
 * one that is not 32 bytes to a 32-byte value that preserves equality, so
 * "equal sizes, equal roots" probes keep their meaning. */
static int probe_root(uint8_t out[DS_HASH_LEN], const char *hex)
{
	if (hash32(out, hex))
		return 1;
	size_t len;
	uint8_t *raw = tu_unhex(hex, &len);
	struct ds_iov iov[2] = {{"probe-root", 10}, {raw, len}};
	ds_sha256_v(out, iov, 2);
	free(raw);
	return 1;
}

/* A leaf hash or path element that is not 32 bytes cannot be expressed
 * through the typed API: such a probe counts as rejected, and must be a
 * want_error probe. */
static void test_probes(void **state)
{
	(void)state;
	json_t *j = load_json("rfc6962_merkle_probes.json");
	if (!j)
		skip();
	size_t i, ok_incl = 0, bad_incl = 0, ok_cons = 0, bad_cons = 0;
	json_t *o;
	json_array_foreach(json_object_get(j, "inclusion"), i, o) {
		bool want_err = json_is_true(json_object_get(o, "want_error"));
		uint64_t idx = get_u64(o, "leaf_index");
		uint64_t n = get_u64(o, "tree_size");
		uint8_t root[DS_HASH_LEN], leaf[DS_HASH_LEN], path[80][DS_HASH_LEN];
		size_t np;
		int rc = DS_EPROOF;
		if (probe_root(root, json_string_value(json_object_get(o, "root_hex"))) &&
		    hash32(leaf, json_string_value(json_object_get(o, "leaf_hash_hex"))) &&
		    path_from_json(path, 80, &np, json_object_get(o, "path_hex")))
			rc = ds_merkle_verify_inclusion(root, n, idx, leaf, (const uint8_t(*)[DS_HASH_LEN])path, np);
		if ((rc != 0) != want_err)
			fail_msg("inclusion probe %s (%s): rc %d want_error %d",
				 json_string_value(json_object_get(o, "file")),
				 json_string_value(json_object_get(o, "desc")), rc, want_err);
		if (want_err)
			bad_incl++;
		else
			ok_incl++;
	}
	json_array_foreach(json_object_get(j, "consistency"), i, o) {
		bool want_err = json_is_true(json_object_get(o, "want_error"));
		uint64_t m = get_u64(o, "size1");
		uint64_t n = get_u64(o, "size2");
		uint8_t r1[DS_HASH_LEN], r2[DS_HASH_LEN], path[80][DS_HASH_LEN];
		size_t np;
		int rc = DS_EPROOF;
		if (probe_root(r1, json_string_value(json_object_get(o, "root1_hex"))) &&
		    probe_root(r2, json_string_value(json_object_get(o, "root2_hex"))) &&
		    path_from_json(path, 80, &np, json_object_get(o, "path_hex")))
			rc = ds_merkle_verify_consistency(r1, m, r2, n, (const uint8_t(*)[DS_HASH_LEN])path, np);
		if ((rc != 0) != want_err)
			fail_msg("consistency probe %s (%s): rc %d want_error %d",
				 json_string_value(json_object_get(o, "file")),
				 json_string_value(json_object_get(o, "desc")), rc, want_err);
		if (want_err)
			bad_cons++;
		else
			ok_cons++;
	}
	printf("# probes: inclusion %zu ok / %zu must-fail, consistency %zu ok / %zu must-fail\n",
	       ok_incl, bad_incl, ok_cons, bad_cons);
	assert_int_equal(ok_incl + bad_incl, 98);
	assert_int_equal(ok_cons + bad_cons, 98);
	assert_int_equal(ok_incl, 6);
	assert_int_equal(ok_cons, 6);
	json_decref(j);
}

static void flip_bit(uint8_t *p, size_t len, uint64_t *rs)
{
	uint64_t r = tu_rand(rs) % (len * 8);
	p[r / 8] ^= (uint8_t)(1u << (r % 8));
}

#define NMAX 2000

struct rand_ctx {
	uint8_t (*leaves)[DS_HASH_LEN];
	uint8_t (*lvbuf)[DS_HASH_LEN];
	uint64_t rs;
	unsigned long proofs, tampers;
};

static void check_inclusion(struct rand_ctx *c, const struct ds_merkle_src *src,
			    const struct ds_merkle_src *slow, const uint8_t root[DS_HASH_LEN],
			    uint64_t n, uint64_t idx)
{
	uint8_t path[DS_MERKLE_INCL_MAX][DS_HASH_LEN], path2[DS_MERKLE_INCL_MAX][DS_HASH_LEN];
	size_t np, np2;
	assert_int_equal(ds_merkle_inclusion_proof(path, &np, src, idx, n), 0);
	assert_true(np <= (size_t)(n == 1 ? 0 : 64 - __builtin_clzll(n - 1))); /* ceil(log2 n) */
	if (slow) {
		assert_int_equal(ds_merkle_inclusion_proof(path2, &np2, slow, idx, n), 0);
		assert_int_equal(np, np2);
		if (np)
			assert_memory_equal(path, path2, np * DS_HASH_LEN);
	}
	const uint8_t(*cp)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])path;
	assert_int_equal(ds_merkle_verify_inclusion(root, n, idx, c->leaves[idx], cp, np), 0);
	c->proofs++;
	uint8_t leaf[DS_HASH_LEN], r2[DS_HASH_LEN];
	memcpy(leaf, c->leaves[idx], DS_HASH_LEN);
	flip_bit(leaf, DS_HASH_LEN, &c->rs);
	assert_int_equal(ds_merkle_verify_inclusion(root, n, idx, leaf, cp, np), DS_EPROOF);
	memcpy(r2, root, DS_HASH_LEN);
	flip_bit(r2, DS_HASH_LEN, &c->rs);
	assert_int_equal(ds_merkle_verify_inclusion(r2, n, idx, c->leaves[idx], cp, np), DS_EPROOF);
	if (np) {
		size_t k = (size_t)(tu_rand(&c->rs) % np);
		uint8_t save[DS_HASH_LEN];
		memcpy(save, path[k], DS_HASH_LEN);
		flip_bit(path[k], DS_HASH_LEN, &c->rs);
		assert_int_equal(ds_merkle_verify_inclusion(root, n, idx, c->leaves[idx], cp, np), DS_EPROOF);
		memcpy(path[k], save, DS_HASH_LEN);
		/* Truncated, and one element too many. */
		assert_int_equal(ds_merkle_verify_inclusion(root, n, idx, c->leaves[idx], cp, np - 1), DS_EPROOF);
		/* The neighbour's index with this leaf: the hashing order changes. */
		uint64_t other = idx ^ 1;
		if (other < n)
			assert_int_equal(ds_merkle_verify_inclusion(root, n, other, c->leaves[idx], cp, np),
					 DS_EPROOF);
		c->tampers += 4;
	}
	memcpy(path[np], path[0], DS_HASH_LEN);
	assert_int_equal(ds_merkle_verify_inclusion(root, n, idx, c->leaves[idx], cp, np + 1), DS_EPROOF);
	/* A size whose proofs are one level longer, and an index out of range. */
	assert_int_equal(ds_merkle_verify_inclusion(root, 2 * n, idx, c->leaves[idx], cp, np), DS_EPROOF);
	assert_int_equal(ds_merkle_verify_inclusion(root, n, n, c->leaves[idx], cp, np), DS_EPROOF);
	c->tampers += 5;
}

static void check_consistency(struct rand_ctx *c, const struct ds_merkle_src *src,
			      const struct ds_merkle_src *slow, const uint8_t (*roots)[DS_HASH_LEN],
			      uint64_t m, uint64_t n)
{
	uint8_t path[DS_MERKLE_CONS_MAX + 1][DS_HASH_LEN], path2[DS_MERKLE_CONS_MAX][DS_HASH_LEN];
	size_t np, np2;
	assert_int_equal(ds_merkle_consistency_proof(path, &np, src, m, n), 0);
	if (slow) {
		assert_int_equal(ds_merkle_consistency_proof(path2, &np2, slow, m, n), 0);
		assert_int_equal(np, np2);
		if (np)
			assert_memory_equal(path, path2, np * DS_HASH_LEN);
	}
	const uint8_t(*cp)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])path;
	assert_int_equal(ds_merkle_verify_consistency(roots[m], m, roots[n], n, cp, np), 0);
	c->proofs++;
	uint8_t r[DS_HASH_LEN];
	memcpy(r, roots[m], DS_HASH_LEN);
	flip_bit(r, DS_HASH_LEN, &c->rs);
	assert_int_equal(ds_merkle_verify_consistency(r, m, roots[n], n, cp, np), DS_EPROOF);
	memcpy(r, roots[n], DS_HASH_LEN);
	flip_bit(r, DS_HASH_LEN, &c->rs);
	assert_int_equal(ds_merkle_verify_consistency(roots[m], m, r, n, cp, np), DS_EPROOF);
	c->tampers += 2;
	if (np) {
		size_t k = (size_t)(tu_rand(&c->rs) % np);
		uint8_t save[DS_HASH_LEN];
		memcpy(save, path[k], DS_HASH_LEN);
		flip_bit(path[k], DS_HASH_LEN, &c->rs);
		assert_int_equal(ds_merkle_verify_consistency(roots[m], m, roots[n], n, cp, np), DS_EPROOF);
		memcpy(path[k], save, DS_HASH_LEN);
		assert_int_equal(ds_merkle_verify_consistency(roots[m], m, roots[n], n, cp, np - 1), DS_EPROOF);
		memcpy(path[np], path[0], DS_HASH_LEN);
		assert_int_equal(ds_merkle_verify_consistency(roots[m], m, roots[n], n, cp, np + 1), DS_EPROOF);
		/* Claimed old size off by one (with that size's real root). */
		if (m > 1)
			assert_int_equal(ds_merkle_verify_consistency(roots[m - 1], m - 1, roots[n], n, cp, np),
					 DS_EPROOF);
		if (m + 1 < n)
			assert_int_equal(ds_merkle_verify_consistency(roots[m + 1], m + 1, roots[n], n, cp, np),
					 DS_EPROOF);
		c->tampers += 5;
	}
	/* Swapped roots. */
	if (m != n) {
		assert_int_equal(ds_merkle_verify_consistency(roots[n], m, roots[m], n, cp, np), DS_EPROOF);
		c->tampers++;
	}
}

static void test_random_sizes(void **state)
{
	(void)state;
	struct rand_ctx c = {0};
	c.rs = tu_seed() ^ 0x6d65726b6c65ULL;
	c.leaves = malloc(NMAX * DS_HASH_LEN);
	c.lvbuf = malloc(2 * NMAX * DS_HASH_LEN);
	uint8_t(*roots)[DS_HASH_LEN] = malloc((NMAX + 1) * DS_HASH_LEN);
	assert_non_null(c.leaves);
	assert_non_null(c.lvbuf);
	assert_non_null(roots);
	for (size_t i = 0; i < NMAX; i++) {
		uint8_t in[8];
		ds_put_u64be(in, tu_rand(&c.rs));
		ds_merkle_leaf_hash(c.leaves[i], in, sizeof(in));
	}
	const uint8_t(*cl)[DS_HASH_LEN] = (const uint8_t(*)[DS_HASH_LEN])c.leaves;
	struct ds_merkle_src arr = ds_merkle_src_array(cl);

	/* Frontier == batch root for every size, and survives encode/decode. */
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	for (uint64_t n = 0; n <= NMAX; n++) {
		uint8_t batch[DS_HASH_LEN], inc[DS_HASH_LEN];
		assert_int_equal(ds_merkle_root(batch, &arr, n), 0);
		ds_merkle_frontier_root(inc, &f);
		assert_memory_equal(batch, inc, DS_HASH_LEN);
		memcpy(roots[n], batch, DS_HASH_LEN);
		uint8_t enc[DS_MERKLE_FRONTIER_ENC_MAX];
		size_t elen;
		assert_int_equal(ds_merkle_frontier_encode(enc, sizeof(enc), &elen, &f), 0);
		struct ds_merkle_frontier g;
		assert_int_equal(ds_merkle_frontier_decode(&g, enc, elen), 0);
		assert_true(g.size == n);
		ds_merkle_frontier_root(inc, &g);
		assert_memory_equal(batch, inc, DS_HASH_LEN);
		if (n < NMAX)
			assert_int_equal(ds_merkle_frontier_append(&g, c.leaves[n]), 0);
		f = g;
	}

	for (uint64_t n = 1; n <= NMAX; n++) {
		struct ds_merkle_levels lv;
		assert_true(ds_merkle_levels_count(n) <= 2 * NMAX);
		ds_merkle_levels_build(&lv, c.lvbuf, cl, n);
		struct ds_merkle_src src = ds_merkle_levels_src(&lv);
		/* The leaf-only path is O(n) per proof: cross-check it on a subset. */
		const struct ds_merkle_src *slow = (n <= 64 || n % 97 == 0) ? &arr : NULL;
		uint8_t r[DS_HASH_LEN];
		assert_int_equal(ds_merkle_root(r, &src, n), 0);
		assert_memory_equal(r, roots[n], DS_HASH_LEN);
		if (n <= 32) {
			for (uint64_t i = 0; i < n; i++)
				check_inclusion(&c, &src, slow, roots[n], n, i);
			for (uint64_t m = 1; m <= n; m++)
				check_consistency(&c, &src, slow, (const uint8_t(*)[DS_HASH_LEN])roots, m, n);
		} else {
			check_inclusion(&c, &src, slow, roots[n], n, 0);
			check_inclusion(&c, &src, slow, roots[n], n, n - 1);
			for (int k = 0; k < 6; k++)
				check_inclusion(&c, &src, slow, roots[n], n, tu_rand(&c.rs) % n);
			check_consistency(&c, &src, slow, (const uint8_t(*)[DS_HASH_LEN])roots, n, n);
			check_consistency(&c, &src, slow, (const uint8_t(*)[DS_HASH_LEN])roots, 1, n);
			for (int k = 0; k < 4; k++)
				check_consistency(&c, &src, slow, (const uint8_t(*)[DS_HASH_LEN])roots,
						  1 + tu_rand(&c.rs) % n, n);
		}
	}
	printf("# %lu proofs verified, %lu tampered proofs rejected\n", c.proofs, c.tampers);
	free(c.leaves);
	free(c.lvbuf);
	free(roots);
}

static int err_leaf(void *ctx, uint64_t i, uint8_t out[DS_HASH_LEN])
{
	(void)ctx;
	memset(out, 0, DS_HASH_LEN);
	return i == 5 ? DS_EIO : 0;
}

static void test_errors_and_bounds(void **state)
{
	(void)state;
	uint8_t path[DS_MERKLE_CONS_MAX][DS_HASH_LEN], r[DS_HASH_LEN];
	size_t np;
	struct ds_merkle_src bad = {err_leaf, NULL, NULL};
	assert_int_equal(ds_merkle_root(r, &bad, 8), DS_EIO);
	assert_int_equal(ds_merkle_root(r, &bad, 5), 0);
	assert_int_equal(ds_merkle_inclusion_proof(path, &np, &bad, 0, 8), DS_EIO);
	assert_int_equal(ds_merkle_inclusion_proof(path, &np, &bad, 8, 8), DS_ERANGE);
	assert_int_equal(ds_merkle_consistency_proof(path, &np, &bad, 0, 8), DS_ERANGE);
	assert_int_equal(ds_merkle_consistency_proof(path, &np, &bad, 9, 8), DS_ERANGE);
	assert_int_equal(ds_merkle_consistency_proof(path, &np, &bad, 2, 8), DS_EIO);
	/* Empty tree root, and 0 -> anything refused. */
	assert_int_equal(ds_merkle_root(r, &bad, 0), 0);
	uint8_t e[DS_HASH_LEN];
	ds_sha256(e, "", 0);
	assert_memory_equal(r, e, DS_HASH_LEN);
	assert_int_equal(ds_merkle_verify_consistency(e, 0, e, 0, NULL, 0), DS_EPROOF);
	assert_int_equal(ds_merkle_verify_inclusion(e, 0, 0, e, NULL, 0), DS_EPROOF);
	/* Over-long paths are refused before any hashing. */
	assert_int_equal(ds_merkle_verify_inclusion(e, UINT64_MAX, 0, e,
						    (const uint8_t(*)[DS_HASH_LEN])path, DS_MERKLE_INCL_MAX + 1),
			 DS_EPROOF);

	/* Frontier decoding is strict. */
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	uint8_t leaf[DS_HASH_LEN] = {1};
	for (int i = 0; i < 5; i++)
		assert_int_equal(ds_merkle_frontier_append(&f, leaf), 0);
	uint8_t enc[DS_MERKLE_FRONTIER_ENC_MAX + 1];
	size_t elen;
	assert_int_equal(ds_merkle_frontier_encode(enc, sizeof(enc), &elen, &f), 0);
	assert_int_equal(elen, 1 + 1 + 2 * DS_HASH_LEN);
	struct ds_merkle_frontier g;
	memset(&g, 0xaa, sizeof(g));
	assert_int_equal(ds_merkle_frontier_decode(&g, enc, elen - 1), DS_ETRUNC);
	enc[elen] = 0;
	assert_int_equal(ds_merkle_frontier_decode(&g, enc, elen + 1), DS_ETRAILING);
	enc[0] = 2;
	assert_int_equal(ds_merkle_frontier_decode(&g, enc, elen), DS_EVERSION);
	enc[0] = 1;
	assert_int_equal(ds_merkle_frontier_decode(&g, enc, 0), DS_ETRUNC);
	const uint8_t nonmin[] = {1, 0x85, 0x00};
	assert_int_equal(ds_merkle_frontier_decode(&g, nonmin, sizeof(nonmin)), DS_ENONMINIMAL);
	assert_int_equal(ds_merkle_frontier_encode(enc, 10, &elen, &f), DS_ETOOBIG);
	/* Full frontier: a 2^64-1 leaf tree is the limit. */
	f.size = UINT64_MAX;
	assert_int_equal(ds_merkle_frontier_append(&f, leaf), DS_ERANGE);
	assert_int_equal(ds_merkle_frontier_encode(enc, sizeof(enc), &elen, &f), 0);
	assert_int_equal(elen, DS_MERKLE_FRONTIER_ENC_MAX);
}

/* The worked example of docs/PROTOCOL.md: leaves "a", "b", "c". */
static void test_doc_example(void **state)
{
	(void)state;
	static const char *want_leaf[3] = {
		"022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c",
		"57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31",
		"597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8",
	};
	const char *want_n01 = "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb";
	const char *want_root = "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1";
	uint8_t leaves[3][DS_HASH_LEN], h[DS_HASH_LEN];
	char hex[2 * DS_MERKLE_FRONTIER_ENC_MAX + 1];
	for (int i = 0; i < 3; i++) {
		char c = (char)('a' + i);
		ds_merkle_leaf_hash(leaves[i], &c, 1);
		ds_hex_encode(hex, leaves[i], DS_HASH_LEN);
		assert_string_equal(hex, want_leaf[i]);
	}
	ds_merkle_node_hash(h, leaves[0], leaves[1]);
	ds_hex_encode(hex, h, DS_HASH_LEN);
	assert_string_equal(hex, want_n01);
	ds_merkle_root_array(h, (const uint8_t(*)[DS_HASH_LEN])leaves, 3);
	ds_hex_encode(hex, h, DS_HASH_LEN);
	assert_string_equal(hex, want_root);
	struct ds_merkle_src src = ds_merkle_src_array((const uint8_t(*)[DS_HASH_LEN])leaves);
	uint8_t path[DS_MERKLE_CONS_MAX][DS_HASH_LEN];
	size_t np;
	assert_int_equal(ds_merkle_inclusion_proof(path, &np, &src, 0, 3), 0);
	assert_int_equal(np, 2);
	assert_memory_equal(path[0], leaves[1], DS_HASH_LEN);
	assert_memory_equal(path[1], leaves[2], DS_HASH_LEN);
	assert_int_equal(ds_merkle_verify_inclusion(h, 3, 0, leaves[0], (const uint8_t(*)[DS_HASH_LEN])path, np), 0);
	assert_int_equal(ds_merkle_consistency_proof(path, &np, &src, 2, 3), 0);
	assert_int_equal(np, 1);
	assert_memory_equal(path[0], leaves[2], DS_HASH_LEN);
	struct ds_merkle_frontier f;
	ds_merkle_frontier_init(&f);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ds_merkle_frontier_append(&f, leaves[i]), 0);
	uint8_t enc[DS_MERKLE_FRONTIER_ENC_MAX];
	size_t len;
	assert_int_equal(ds_merkle_frontier_encode(enc, sizeof(enc), &len, &f), 0);
	ds_hex_encode(hex, enc, len);
	assert_string_equal(hex, "0103"
				 "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
				 "597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8");
}

int main(void)
{
	if (ds_crypto_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6962_vectors),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_random_sizes),
		cmocka_unit_test(test_errors_and_bounds),
		cmocka_unit_test(test_doc_example),
	};
	return cmocka_run_group_tests_name("merkle_log", tests, NULL, NULL);
}
