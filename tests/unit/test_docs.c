/* The worked examples of docs/PROTOCOL.md, read from the document itself and
 * recomputed with the code: if either drifts, this fails. Every domain tag
 * the code defines must appear in the document's tag table. The document is
 * found at $DANSHARI_DOCS/PROTOCOL.md or ./docs/PROTOCOL.md (the test runner
 * runs from the repository root); without it the suite is skipped. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "merkle/merkle.h"

#define DOC_MAX (4u << 20)
#define HEX_MAX 4096

static char *g_doc; /* NUL-terminated PROTOCOL.md, or NULL */

static int setup(void **state)
{
	(void)state;
	char path[4096];
	const char *dir = getenv("DANSHARI_DOCS");
	snprintf(path, sizeof(path), "%s/PROTOCOL.md", dir && dir[0] ? dir : "docs");
	uint8_t *p = NULL;
	size_t n = 0;
	if (ds_file_read(&p, &n, path, DOC_MAX) != 0)
		return 0;
	g_doc = malloc(n + 1);
	if (!g_doc) {
		free(p);
		return -1;
	}
	memcpy(g_doc, p, n);
	g_doc[n] = 0;
	free(p);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(g_doc);
	g_doc = NULL;
	return 0;
}

static void need_doc(void)
{
	if (!g_doc) {
		print_message("docs/PROTOCOL.md not found (set DANSHARI_DOCS): skipped\n");
		skip();
	}
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Position just after the only occurrence of marker; fails the test when the
 * marker is missing or ambiguous, so an edited document says where. */
static const char *after(const char *marker)
{
	const char *p = strstr(g_doc, marker);
	if (!p)
		fail_msg("PROTOCOL.md lost the text: %s", marker);
	if (strstr(p + 1, marker))
		fail_msg("PROTOCOL.md has the text twice: %s", marker);
	return p + strlen(marker);
}

/* The hex digits of the first fenced block after marker (whitespace
 * dropped; only its first line when first_line), decoded into out. Returns
 * the byte count. */
static size_t block_hex(uint8_t *out, size_t cap, const char *marker, bool first_line)
{
	const char *p = strstr(after(marker), "```");
	assert_non_null(p);
	p = strchr(p, '\n');
	assert_non_null(p);
	const char *end = strstr(p, "```");
	assert_non_null(end);
	if (first_line) {
		const char *nl = strchr(p + 1, '\n');
		if (nl && nl < end)
			end = nl;
	}
	char hex[2 * HEX_MAX + 1];
	size_t n = 0;
	for (; p < end; p++) {
		if (*p == ' ' || *p == '\n' || *p == '\t')
			continue;
		if (!is_hex(*p))
			fail_msg("non-hex character '%c' in the block after: %s", *p, marker);
		assert_true(n < sizeof(hex) - 1);
		hex[n++] = *p;
	}
	assert_true(n % 2 == 0 && n / 2 <= cap);
	assert_int_equal(ds_hex_decode(out, n / 2, hex, n), 0);
	return n / 2;
}

static size_t block_after(uint8_t *out, size_t cap, const char *marker)
{
	return block_hex(out, cap, marker, false);
}

/* The first run of exactly 64 hex digits after marker. */
static void hash_after(uint8_t out[DS_HASH_LEN], const char *marker)
{
	const char *p = after(marker);
	for (; *p; p++) {
		size_t k = 0;
		while (is_hex(p[k]))
			k++;
		if (k == 64) {
			assert_int_equal(ds_hex_decode(out, DS_HASH_LEN, p, 64), 0);
			return;
		}
		p += k;
		if (!*p)
			break;
	}
	fail_msg("no 64-digit hex value after: %s", marker);
}

static void test_tags_listed(void **state)
{
	(void)state;
	need_doc();
	static const char *const tags[] = {
		DS_TAG_TX, DS_TAG_TXID, DS_TAG_HEADER, DS_TAG_VOTE, DS_TAG_TIMEOUT,
		DS_TAG_RECEIPT, DS_TAG_VALSET, DS_CONS_TAG_PROPOSAL,
		"danshari/smt/empty/v1", "danshari/smt/leaf/v1", "danshari/smt/node/v1",
		"danshari/handshake/v1", "danshari/handshake/v1/keys",
	};
	const char *table = after("Every tag in the code");
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		char want[96];
		snprintf(want, sizeof(want), "| `%s` |", tags[i]);
		if (!strstr(table, want))
			fail_msg("tag %s is not in PROTOCOL.md's tag table", tags[i]);
	}
}

static void test_tx_example(void **state)
{
	(void)state;
	need_doc();
	uint8_t body[256], sig[128], id[DS_HASH_LEN], want_id[DS_HASH_LEN], pk[DS_PK_LEN];
	size_t n = block_after(body, sizeof(body), "As one hex string:\n");
	assert_int_equal(n, 79);
	assert_int_equal(block_after(sig, sizeof(sig), "Signature:\n"), DS_SIG_LEN);
	hash_after(want_id, "Transaction id = SHA-256(\"danshari/txid/v1\" || body):");
	hash_after(pk, "Key: seed = 32 bytes `01`. Public key:");

	struct ds_tx tx;
	assert_int_equal(ds_tx_decode_body(&tx, body, n), 0);
	assert_string_equal(tx.chain_id, "danshari-test");
	assert_memory_equal(tx.sender, pk, DS_PK_LEN);
	assert_int_equal(tx.nonce, 1);
	assert_int_equal(tx.expiry_height, 1000);
	assert_int_equal(ds_tx_id(id, &tx), 0);
	assert_memory_equal(id, want_id, DS_HASH_LEN);

	/* The public key is the seed's, and the signature verifies over tag || body. */
	uint8_t seed[DS_SEED_LEN], sk[DS_SK_LEN], pk2[DS_PK_LEN];
	memset(seed, 0x01, sizeof(seed));
	assert_int_equal(ds_ed25519_seed_keypair(pk2, sk, seed), 0);
	assert_memory_equal(pk2, pk, DS_PK_LEN);
	uint8_t msg[sizeof(DS_TAG_TX) - 1 + sizeof(body)];
	memcpy(msg, DS_TAG_TX, sizeof(DS_TAG_TX) - 1);
	memcpy(msg + sizeof(DS_TAG_TX) - 1, body, n);
	assert_int_equal(ds_ed25519_verify(sig, msg, sizeof(DS_TAG_TX) - 1 + n, pk), 0);
	uint8_t sig2[DS_SIG_LEN];
	ds_ed25519_sign(sig2, msg, sizeof(DS_TAG_TX) - 1 + n, sk);
	assert_memory_equal(sig2, sig, DS_SIG_LEN);
	ds_memzero(sk, sizeof(sk));
}

static void test_header_example(void **state)
{
	(void)state;
	need_doc();
	uint8_t enc[DS_HEADER_MAX], hash[DS_HASH_LEN], want[DS_HASH_LEN];
	size_t n = block_after(enc, sizeof(enc), "As one hex string (250 bytes):");
	assert_int_equal(n, 250);
	hash_after(want, "Header hash = SHA-256(\"danshari/header/v1\" || header):");
	struct ds_header h;
	assert_int_equal(ds_header_decode(&h, enc, n), 0);
	assert_int_equal(h.height, 1);
	assert_int_equal(h.round, 1);
	assert_int_equal(h.time_ms, 1700000000000ull);
	assert_int_equal(ds_header_hash(hash, &h), 0);
	assert_memory_equal(hash, want, DS_HASH_LEN);
}

/* §6.2: the QC example verifies against the example validator set built from
 * the stated seeds; every encoding and the signed message are recomputed. */
static void test_qc_example(void **state)
{
	(void)state;
	need_doc();
	static uint8_t buf[HEX_MAX], enc[HEX_MAX];
	size_t n, m;
	struct ds_valset vs;
	memset(&vs, 0, sizeof(vs));
	vs.epoch = 0;
	vs.n = 4;
	uint8_t sk[4][DS_SK_LEN];
	for (int i = 0; i < 4; i++) {
		uint8_t seed[DS_SEED_LEN];
		memset(seed, i + 1, sizeof(seed));
		assert_int_equal(ds_ed25519_seed_keypair(vs.v[i].pk, sk[i], seed), 0);
		vs.v[i].power = 1;
	}
	n = block_after(buf, sizeof(buf), "QC example, validator set encoding");
	assert_int_equal(ds_valset_encode(enc, sizeof(enc), &m, &vs), 0);
	assert_int_equal(n, m);
	assert_memory_equal(buf, enc, n);
	uint8_t h[DS_HASH_LEN], want[DS_HASH_LEN];
	hash_after(want, "QC example, validator set hash");
	assert_int_equal(ds_valset_hash(h, &vs), 0);
	assert_memory_equal(h, want, DS_HASH_LEN);

	n = block_after(buf, sizeof(buf), "QC example, encoding");
	struct ds_qc qc;
	assert_int_equal(ds_qc_decode(&qc, buf, n), 0);
	assert_int_equal(ds_qc_encode(enc, sizeof(enc), &m, &qc), 0);
	assert_int_equal(n, m);
	assert_memory_equal(buf, enc, n);
	assert_int_equal(qc.nsigs, 3);
	assert_int_equal(ds_qc_verify(&qc, &vs, "test-chain"), 0);
	/* The signatures are the deterministic Ed25519 ones of those seeds. */
	for (uint32_t k = 0; k < qc.nsigs; k++) {
		uint8_t sig[DS_SIG_LEN];
		ds_vote_sign(sig, &qc.vote, "test-chain", sk[qc.sigs[k].index]);
		assert_memory_equal(sig, qc.sigs[k].sig, DS_SIG_LEN);
	}
	n = block_after(buf, sizeof(buf), "QC example, vote signed message");
	assert_int_equal(ds_vote_signing_bytes(enc, sizeof(enc), &m, &qc.vote, "test-chain"), 0);
	assert_int_equal(n, m);
	assert_memory_equal(buf, enc, n);
	/* Refusals the text promises. */
	assert_int_equal(ds_qc_verify(&qc, &vs, "other-chain"), DS_ESIG);
	struct ds_qc bad = qc;
	bad.sigs[1].sig[0] ^= 1;
	assert_int_equal(ds_qc_verify(&bad, &vs, "test-chain"), DS_ESIG);
	bad = qc;
	bad.nsigs = 2;
	assert_int_equal(ds_qc_verify(&bad, &vs, "test-chain"), DS_EPROOF);
	struct ds_valset vs1 = vs;
	vs1.epoch = 1;
	assert_true(ds_qc_verify(&qc, &vs1, "test-chain") != 0);
}

static void test_merkle_log_example(void **state)
{
	(void)state;
	need_doc();
	uint8_t leaves[3][DS_HASH_LEN], root[DS_HASH_LEN], want[DS_HASH_LEN], la[DS_HASH_LEN];
	ds_merkle_leaf_hash(leaves[0], "a", 1);
	ds_merkle_leaf_hash(leaves[1], "b", 1);
	ds_merkle_leaf_hash(leaves[2], "c", 1);
	hash_after(la, "leaf(\"a\") = ");
	assert_memory_equal(la, leaves[0], DS_HASH_LEN);
	ds_merkle_root_array(root, (const uint8_t(*)[DS_HASH_LEN])leaves, 3);
	hash_after(want, "root (size 3) = node(");
	assert_memory_equal(root, want, DS_HASH_LEN);
	/* The inclusion proof of leaf 0 as the document lists it. */
	uint8_t path[2][DS_HASH_LEN];
	memcpy(path[0], leaves[1], DS_HASH_LEN);
	memcpy(path[1], leaves[2], DS_HASH_LEN);
	assert_int_equal(ds_merkle_verify_inclusion(want, 3, 0, leaves[0],
						    (const uint8_t(*)[DS_HASH_LEN])path, 2), 0);
}

static void test_smt_example(void **state)
{
	(void)state;
	need_doc();
	uint8_t e[DS_HASH_LEN], want_e[DS_HASH_LEN], root[DS_HASH_LEN];
	ds_smt_empty_hash(e);
	hash_after(want_e, "E        = H(\"danshari/smt/empty/v1\")");
	assert_memory_equal(e, want_e, DS_HASH_LEN);
	hash_after(root, "root = internal(N0, Lb) = ");

	/* "bob: <hex>\n      <hex>...\ndave: <hex>..." in one fenced block. */
	const char *p = strstr(after("Full hex of both proofs"), "```");
	assert_non_null(p);
	const char *bob = strstr(p, "bob:"), *dave = strstr(p, "dave:"), *end = strstr(p + 3, "```");
	assert_true(bob && dave && end && bob < dave && dave < end);
	char hex[2][2 * DS_SMT_PROOF_ENC_MAX + 1];
	size_t hn[2] = {0, 0};
	for (int k = 0; k < 2; k++) {
		const char *q = k == 0 ? bob + 4 : dave + 5, *stop = k == 0 ? dave : end;
		for (; q < stop; q++)
			if (is_hex(*q) && hn[k] < sizeof(hex[k]) - 1)
				hex[k][hn[k]++] = *q;
	}
	static struct ds_smt_proof pr;
	uint8_t enc[DS_SMT_PROOF_ENC_MAX];
	assert_int_equal(hn[0], 2 * 99);
	assert_int_equal(ds_hex_decode(enc, hn[0] / 2, hex[0], hn[0]), 0);
	assert_int_equal(ds_smt_proof_decode(&pr, enc, hn[0] / 2), 0);
	assert_int_equal(ds_smt_verify(root, (const uint8_t *)"bob", 3, (const uint8_t *)"2", 1, &pr), 0);
	/* The same proof must not prove another value. */
	assert_int_equal(ds_smt_verify(root, (const uint8_t *)"bob", 3, (const uint8_t *)"3", 1, &pr),
			 DS_EPROOF);

	assert_int_equal(hn[1], 2 * 131);
	assert_int_equal(ds_hex_decode(enc, hn[1] / 2, hex[1], hn[1]), 0);
	assert_int_equal(ds_smt_proof_decode(&pr, enc, hn[1] / 2), 0);
	assert_int_equal(ds_smt_verify(root, (const uint8_t *)"dave", 4, NULL, 0, &pr), 0);
}

static void test_handshake_example(void **state)
{
	(void)state;
	need_doc();
	uint8_t a_sk[32], b_sk[32], base[32] = {9}, a_pk[32], b_pk[32], shared[32];
	for (int i = 0; i < 32; i++) {
		a_sk[i] = (uint8_t)(0x10 + i);
		b_sk[i] = (uint8_t)(0x40 + i);
	}
	assert_int_equal(ds_x25519(a_pk, a_sk, base), 0);
	assert_int_equal(ds_x25519(b_pk, b_sk, base), 0);
	assert_int_equal(ds_x25519(shared, a_sk, b_pk), 0);
	uint8_t want[DS_HASH_LEN];
	hash_after(want, "e_pk(A)     = ");
	assert_memory_equal(want, a_pk, 32);
	hash_after(want, "e_pk(B)     = ");
	assert_memory_equal(want, b_pk, 32);
	hash_after(want, "shared      = ");
	assert_memory_equal(want, shared, 32);

	/* transcript = SHA-256(tag || u8 len || chain id || lo || hi); B's key is lo. */
	assert_true(memcmp(b_pk, a_pk, 32) < 0);
	const char *chain = "danshari-test", *tag = "danshari/handshake/v1";
	uint8_t clen = (uint8_t)strlen(chain), tr[DS_HASH_LEN];
	struct ds_iov parts[] = {{tag, strlen(tag)}, {&clen, 1}, {chain, clen}, {b_pk, 32}, {a_pk, 32}};
	ds_sha256_v(tr, parts, 5);
	hash_after(want, "transcript  = ");
	assert_memory_equal(want, tr, 32);
	uint8_t okm[96];
	const char *info = "danshari/handshake/v1/keys";
	assert_int_equal(ds_hkdf_sha256(okm, sizeof(okm), tr, sizeof(tr), shared, sizeof(shared),
				       (const uint8_t *)info, strlen(info)), 0);
	hash_after(want, "k_lo_hi     = ");
	assert_memory_equal(want, okm, 32);
	hash_after(want, "k_hi_lo     = ");
	assert_memory_equal(want, okm + 32, 32);
	hash_after(want, "challenge   = ");
	assert_memory_equal(want, okm + 64, 32);

	/* A's frame, counter 1, plaintext "hello", sealed with k_hi_lo. */
	uint8_t len_be[4] = {0, 0, 0, 21}, nonce[12] = {0}, ct[5 + 16];
	nonce[11] = 1;
	assert_int_equal(ds_aead_encrypt(ct, (const uint8_t *)"hello", 5, len_be, 4, nonce, okm + 32), 0);
	uint8_t frame[64];
	/* First line of the block only: the second is a caption. */
	assert_int_equal(block_hex(frame, sizeof(frame), "A's frame with counter 1 and plaintext `hello`", true),
			 4 + 21);
	ds_memzero(okm, sizeof(okm));
	ds_memzero(shared, sizeof(shared));
	assert_memory_equal(frame, len_be, 4);
	assert_memory_equal(frame + 4, ct, sizeof(ct));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_listed),
		cmocka_unit_test(test_tx_example),
		cmocka_unit_test(test_header_example),
		cmocka_unit_test(test_qc_example),
		cmocka_unit_test(test_merkle_log_example),
		cmocka_unit_test(test_smt_example),
		cmocka_unit_test(test_handshake_example),
	};
	return cmocka_run_group_tests_name("docs", tests, setup, teardown);
}
