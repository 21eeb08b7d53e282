// Unit tests of web/verify.js against vectors made by the C code
// (tests/e2e/vectors.mjs, from gen_vectors.c) and the worked examples in
// docs/PROTOCOL.md and docs/PROTOCOL.md.  Run: node --test tests/e2e/
import test from 'node:test';
import assert from 'node:assert/strict';
import V from './vectors.mjs';
import EV from './epoch_vectors.mjs';
import * as vf from '../../web/verify.js';

const { fromHex, toHex } = vf;
const trust = { chain_id: V.chain_id, epoch: 0, keys: V.public_keys };

function txBundle() {
	return {
		id: V.tx_id1, status: 'committed', height: 5, index: 1, tx_hex: V.tx1_hex,
		proof: { leaf: V.tx_id1, index: 1, tree_size: 3, path: [...V.tx1_path], tx_root: V.tx_root },
		block: { height: 5, header_hex: V.header_hex, qc: { hex: V.qc_hex } },
	};
}

function stateBundle(key, found) {
	return {
		key_hex: toHex(new TextEncoder().encode(key)), found,
		value_hex: found ? '32' : null, version: 4,
		proof_hex: found ? V.smt_bob_proof : V.smt_dave_proof,
		header: { height: 5, header_hex: V.header_hex, qc: { hex: V.qc_hex } },
	};
}

// Seeded PRNG so a failing tamper case can be replayed (TEST_SEED=n).
const seed = Number(process.env.TEST_SEED || Date.now() % 1000000);
console.log(`# seed ${seed} (TEST_SEED=${seed} replays)`);
let st = seed >>> 0 || 1;
function rnd(n) {
	st ^= st << 13; st >>>= 0;
	st ^= st >>> 17;
	st ^= st << 5; st >>>= 0;
	return st % n;
}

function flipHexChar(s, i) {
	const digits = '0123456789abcdef';
	const c = s[i];
	let d;
	do
		d = digits[rnd(16)];
	while (d === c);
	return s.slice(0, i) + d + s.slice(i + 1);
}

test('hex is strict', () => {
	assert.deepEqual([...fromHex('00ff10')], [0, 255, 16]);
	assert.equal(toHex(Uint8Array.of(1, 171)), '01ab');
	assert.throws(() => fromHex('abc'), /odd/);
	assert.throws(() => fromHex('zz'), /not hex/);
	assert.throws(() => fromHex('00', 'k', 32), /expected 32 bytes/);
});

test('uvar encodes LEB128 and the reader refuses non-minimal and overlong forms', () => {
	assert.equal(toHex(vf.uvarEncode(0)), '00');
	assert.equal(toHex(vf.uvarEncode(1000)), 'e807');
	assert.equal(toHex(vf.uvarEncode(1700000000000n)), '80d095ffbc31');
	assert.equal(new vf.Reader(fromHex('80d095ffbc31'), 't').uvar('x'), 1700000000000n);
	assert.equal(new vf.Reader(fromHex('ffffffffffffffffff01'), 't').uvar('x'), (1n << 64n) - 1n);
	assert.throws(() => new vf.Reader(fromHex('8000'), 't').uvar('x'), /shortest/);
	assert.throws(() => new vf.Reader(fromHex('ffffffffffffffffff02'), 't').uvar('x'), /2\^64/);
	assert.throws(() => new vf.Reader(fromHex('80'), 't').uvar('x'), /ends inside/);
});

test('ledger.md worked examples: tx id, header hash, canonical values', async () => {
	const body = fromHex('010d64616e73686172692d746573748a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d' +
		'94121bf3748801b40f6f5c01e807026b7603707574150702036b65790405616c69636505' +
		'76616c75650354');
	assert.equal(toHex(await vf.txId(body)), '85d2d741d17bd43272e069bb387bf411258b70852994024f203d11d4962357a9');
	const sig = '360b356e6acc1a192a53687f16550b62afea1d745783ac0c1c3ece29743714065cc46c526a018a3583ce3188b9e128dd6ea7d4603ec14724993769b7aaf36709';
	const tx = vf.parseTx(fromHex(toHex(body) + sig));
	assert.deepEqual(tx.args, { key: 'alice', value: 42 });
	assert.equal(tx.nonce, '1');
	assert.equal(tx.expiry_height, '1000');
	const h = '010d64616e73686172692d74657374' + '010001' + '11'.repeat(32) + '22'.repeat(32) +
		'80d095ffbc3100e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85500' +
		'33'.repeat(32) + '44'.repeat(32) + '55'.repeat(32) + '66'.repeat(32);
	assert.equal(toHex(await vf.headerHash(fromHex(h))), '259b341b1faf8fdad6bf848f00f997f1159565af3d0fb0d76777e80eb514a732');
	assert.equal(vf.parseHeader(fromHex(h)).time_ms, 1700000000000);
	assert.deepEqual(vf.decodeValue(fromHex('070201610002616100')), { a: null, aa: null });
	assert.deepEqual(vf.decodeValue(fromHex('0602020502 00ff'.replace(' ', ''))), [true, { $bytes: '00ff' }]);
	assert.equal(vf.decodeValue(fromHex('0301')), -1);
	assert.throws(() => vf.decodeValue(fromHex('070201620002616100')), /strictly/);
});

test('merkle.md worked example: RFC 6962 inclusion of "a" in a, b, c', async () => {
	const la = await vf.logLeafHash(new TextEncoder().encode('a'));
	assert.equal(toHex(la), '022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c');
	const root = fromHex('36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1');
	const path = ['57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31',
		'597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8'].map((x) => fromHex(x));
	assert.equal(await vf.verifyInclusion(root, 3, 0, la, path), true);
	assert.equal(await vf.verifyInclusion(root, 3, 1, la, path), false);
	// (Size 4 would also fold to this root for index 0: the verifier cannot
	// tell, which is why the bundle check pins tree_size to the header.)
	assert.equal(await vf.verifyInclusion(root, 3, 2, la, path), false);
	assert.equal(await vf.verifyInclusion(root, 2, 0, la, path), false);
	assert.equal(await vf.verifyInclusion(root, 3, 3, la, path), false);
	assert.equal(await vf.verifyInclusion(root, 3, 0, la, path.slice(0, 1)), false);
});

test('merkle.md worked example: state proofs of bob and dave', async () => {
	assert.equal(toHex(await vf.smtEmpty()), '2860e9a7989edaead382d741cdbfbe27d1071bd33837fbc3baa4b1743659681e');
	const root = fromHex('80df3c6f87bf878f82fc404412849b53be0e4ef7377791ed55805ac68d358f93');
	const te = new TextEncoder();
	const bob = await vf.decodeSmtProof(fromHex(V.smt_bob_proof));
	await vf.verifySmt(root, te.encode('bob'), te.encode('2'), bob);
	await assert.rejects(vf.verifySmt(root, te.encode('bob'), te.encode('3'), bob), /different value/);
	await assert.rejects(vf.verifySmt(root, te.encode('bob'), null, bob), /present/);
	const dave = await vf.decodeSmtProof(fromHex(V.smt_dave_proof));
	await vf.verifySmt(root, te.encode('dave'), null, dave);
	await assert.rejects(vf.verifySmt(root, te.encode('dave'), te.encode('4'), dave), /another key/);
	await assert.rejects(vf.verifySmt(root, te.encode('alice'), null, dave), /not on the key's path|root/);
	// Strict decoding: trailing byte, padding bit, listed empty sibling.
	await assert.rejects(vf.decodeSmtProof(fromHex(V.smt_bob_proof + '00')), /left after/);
	await assert.rejects(vf.decodeSmtProof(fromHex('000181')), /padding/);
	await assert.rejects(vf.decodeSmtProof(fromHex('000180' + toHex(await vf.smtEmpty()))), /empty/);
	await assert.rejects(vf.decodeSmtProof(fromHex('02')), /kind/);
});

test('C vectors: header, valset hash, vote signing bytes, QC', async () => {
	const hb = fromHex(V.header_hex);
	const h = vf.parseHeader(hb);
	assert.equal(toHex(await vf.headerHash(hb)), V.header_hash);
	assert.equal(h.height, 5);
	assert.equal(h.tx_count, 3);
	assert.equal(h.tx_root, V.tx_root);
	assert.equal(h.state_root, V.state_root);
	const keys = V.public_keys.map((k) => fromHex(k));
	assert.equal(toHex(vf.encodeValset(0, keys)), V.valset_hex);
	assert.equal(toHex(await vf.valsetHash(0, keys)), V.valset_hash);
	const qc = vf.parseQC(fromHex(V.qc_hex));
	assert.equal(toHex(vf.voteSigningBytes(V.chain_id, qc.vote_bytes)), V.vote_signing_hex);
	assert.equal(qc.vote.commit_hash, V.header_hash);
	assert.deepEqual(await vf.verifyQC(qc, V.chain_id, keys, 0), [0, 1, 3]);
	await assert.rejects(vf.verifyQC(qc, 'other-chain', keys, 0), /invalid/);
	await assert.rejects(vf.verifyQC(qc, V.chain_id, keys, 1), /epoch/);
	await assert.rejects(vf.verifyQC(qc, V.chain_id, keys.slice(0, 3), 0), /not in the trusted set/);
	const two = { ...qc, sigs: qc.sigs.slice(0, 2) };
	await assert.rejects(vf.verifyQC(two, V.chain_id, keys, 0), /quorum is 3 of 4/);
	const swapped = [keys[1], keys[0], keys[2], keys[3]];
	await assert.rejects(vf.verifyQC(qc, V.chain_id, swapped, 0), /validator 0/);
	assert.equal(vf.quorum(4), 3);
	assert.equal(vf.quorum(7), 5);
	assert.equal(vf.quorum(10), 7);
	assert.throws(() => vf.parseQC(fromHex(V.qc_hex.slice(0, -2))), /ends inside/);
});

test('transaction bundle verifies end to end', async () => {
	const r = await vf.verifyTxBundle(txBundle(), trust);
	assert.equal(r.error, null);
	assert.equal(r.ok, true);
	assert.equal(r.tx.id, V.tx_id1);
	assert.ok(r.steps.some((s) => /final/.test(s.text)));
});

test('state bundles verify (inclusion and non-inclusion)', async () => {
	let r = await vf.verifyStateBundle(stateBundle('bob', true), trust);
	assert.equal(r.error, null);
	assert.equal(r.claim.found, true);
	r = await vf.verifyStateBundle(stateBundle('dave', false), trust);
	assert.equal(r.error, null);
	assert.equal(r.claim.found, false);
	const lie = stateBundle('dave', false);
	lie.key_hex = toHex(new TextEncoder().encode('bob'));
	r = await vf.verifyStateBundle(lie, trust);
	assert.equal(r.ok, false);
	const wrongVersion = stateBundle('bob', true);
	wrongVersion.version = 3;
	assert.match((await vf.verifyStateBundle(wrongVersion, trust)).error, /version 3/);
});

test('wrong trust is refused with a reason', async () => {
	let r = await vf.verifyTxBundle(txBundle(), { ...trust, keys: V.public_keys.slice(0, 3) });
	assert.match(r.error, /validator set/);
	r = await vf.verifyTxBundle(txBundle(), { ...trust, chain_id: 'other' });
	assert.match(r.error, /chain/);
	r = await vf.verifyTxBundle(txBundle(), { ...trust, keys: [] });
	assert.match(r.error, /1\.\.128/);
	r = await vf.verifyTxBundle(txBundle(), { ...trust, keys: [V.public_keys[0], V.public_keys[0]] });
	assert.match(r.error, /twice/);
});

test('a descendant commit QC is followed through the headers of qc.chain', async () => {
	// A fake block 4 whose QC commits block 5: block 5's header (parent
	// 11…11) does not name it, so the link must be refused; without
	// qc.chain the page must say the linking headers are missing.
	const b = txBundle();
	b.block = { header_hex: V.header_hex.replace(/^010d64616e73686172692d7465737405/, '010d64616e73686172692d7465737404'), qc: { hex: V.qc_hex } };
	let r = await vf.verifyTxBundle(b, trust);
	assert.equal(r.ok, false);
	assert.match(r.error, /QC commits descendant 5; the linking headers 5\.\.5 \(qc\.chain\) are missing/);
	b.block.qc.chain = [V.header_hex];
	r = await vf.verifyTxBundle(b, trust);
	assert.equal(r.ok, false);
	assert.match(r.error, /qc\.chain\[0\] \(height 5\) does not extend block 4/);
	// (The positive case, an end block through two suffix headers, is in
	// the epoch tests below.)
});

test('one changed hex digit anywhere in the proof is refused', async () => {
	const fields = [
		['tx_hex', (b) => b, 'tx_hex'],
		['header_hex', (b) => b.block, 'header_hex'],
		['qc', (b) => b.block.qc, 'hex'],
	];
	for (let round = 0; round < 40; round++) {
		const b = txBundle();
		const [, get, key] = fields[rnd(fields.length)];
		const o = get(b);
		const at = rnd(o[key].length);
		o[key] = flipHexChar(o[key], at);
		const r = await vf.verifyTxBundle(b, trust);
		assert.equal(r.ok, false, `tampered ${key} at ${at} was accepted (seed ${seed})`);
	}
	for (let round = 0; round < 10; round++) {
		const b = txBundle();
		const i = rnd(b.proof.path.length);
		b.proof.path[i] = flipHexChar(b.proof.path[i], rnd(64));
		assert.equal((await vf.verifyTxBundle(b, trust)).ok, false);
	}
	for (let round = 0; round < 20; round++) {
		const s = stateBundle('bob', true);
		s.proof_hex = flipHexChar(s.proof_hex, rnd(s.proof_hex.length));
		assert.equal((await vf.verifyStateBundle(s, trust)).ok, false, `seed ${seed}`);
	}
	const s = stateBundle('bob', true);
	s.value_hex = '33';
	assert.match((await vf.verifyStateBundle(s, trust)).error, /different value/);
});

// ---- receipts: the receipt_proof of /v1/tx (docs/PROTOCOL.md §14.7) -----------
// Tx 1 of block 5: its receipt under R(5), carried directly by header 6
// (exec_height 5) or under the range root of header 8 (parent 7 executed up
// to 4, so 8 executes 5..7); header 6' commits a results root holding a
// receipt of tx 0 at tx 1's place. All made by gen_vectors.c.

function receiptProof(kind = 'direct') {
	const header = kind === 'range' ?
		{ height: 8, hash: V.rc_range_header_hash, header_hex: V.rc_range_header_hex, qc: { hex: V.rc_range_qc_hex } } :
		{ height: 6, hash: V.rc_direct_header_hash, header_hex: V.rc_direct_header_hex, qc: { hex: V.rc_direct_qc_hex } };
	const rp = { receipt_hex: V.receipt1_hex, index: 1, tree_size: 3, path: [...V.receipt1_path], results_root: V.results_root5, header };
	if (kind === 'range')
		rp.range = { first: 5, last: 7, index: 0, tree_size: 3, path: [...V.rc_range_path], parent_header_hex: V.rc_range_parent_hex };
	return rp;
}

function receiptBundle(kind) {
	const b = txBundle();
	b.receipt_hex = V.receipt1_hex;
	b.receipt_proof = receiptProof(kind);
	return b;
}

async function refused(b, re) {
	const r = await vf.verifyTxBundle(b, trust);
	assert.equal(r.ok, false, `accepted; expected ${re}`);
	assert.match(r.error, re);
	assert.equal(r.receipt, null);
	return r;
}

test('receipts: the parser reads the C encoding strictly', () => {
	const r1 = vf.parseReceipt(fromHex(V.receipt1_hex));
	assert.equal(r1.tx_id, V.tx_id1);
	assert.equal(r1.status, 'ok');
	assert.equal(r1.error, '');
	assert.equal(r1.gas_used, 149);
	assert.deepEqual(r1.events, [{ name: 'put', value: 'alice', value_hex: '0405616c696365' }]);
	assert.equal(r1.return, null);
	const r0 = vf.parseReceipt(fromHex(V.receipt0_hex));
	assert.equal(r0.tx_id, V.tx_id0);
	assert.equal(r0.status, 'failed');
	assert.equal(r0.error, 'kv.put: value too large');
	assert.equal(r0.gas_used, 57);
	assert.deepEqual(r0.events, []);
	// version 1, tx_id (32 bytes), then status at hex offset 66.
	const at = (h, i, b) => h.slice(0, i) + b + h.slice(i + 2);
	assert.throws(() => vf.parseReceipt(fromHex(at(V.receipt1_hex, 0, '02'))), /version 2/);
	assert.throws(() => vf.parseReceipt(fromHex(at(V.receipt1_hex, 66, '02'))), /status 2/);
	assert.throws(() => vf.parseReceipt(fromHex(at(V.receipt0_hex, 66, '00'))), /ok with an error/);
	assert.throws(() => vf.parseReceipt(fromHex(at(V.receipt1_hex, 66, '01'))), /failed without an error/);
	assert.throws(() => vf.parseReceipt(fromHex(V.receipt1_hex + '00')), /left after/);
	assert.throws(() => vf.parseReceipt(fromHex(V.receipt1_hex.slice(0, -2))), /ends inside/);
	assert.throws(() => vf.parseReceipt(fromHex(V.receipt1_hex.replace('03707574', '03507574'))), /invalid name/);
	assert.throws(() => vf.parseReceipt(fromHex(V.receipt1_hex.slice(0, -2) + '09')), /return value is not one canonical value/);
});

test('receipts: a proof carried directly and one under a range root are accepted', async () => {
	for (const [kind, height] of [['direct', 6], ['range', 8]]) {
		const r = await vf.verifyTxBundle(receiptBundle(kind), trust);
		assert.equal(r.error, null, kind);
		assert.equal(r.ok, true);
		assert.equal(r.tx.id, V.tx_id1);
		assert.equal(r.receipt.status, 'ok');
		assert.equal(r.receipt.gas_used, 149);
		assert.equal(r.receipt.tx_id, V.tx_id1);
		assert.equal(r.receipt.height, height);
		assert.equal(r.receipt.header_hash, kind === 'range' ? V.rc_range_header_hash : V.rc_direct_header_hash);
		assert.ok(r.steps.some((s) => /receipt: QC commits block/.test(s.text)), kind);
		assert.ok(r.steps.some((s) => /receipt decodes and names this transaction: outcome ok, gas 149, 1 event/.test(s.text)));
		if (kind === 'range') {
			assert.deepEqual(r.receipt.range, [5, 7]);
			assert.ok(r.steps.some((s) => /range proof: block 5's results root is leaf 0 of 3/.test(s.text)));
		}
	}
	// The node need not repeat the block's results root, nor the top-level
	// receipt_hex: the path alone fixes the root, checked against the header.
	const b = receiptBundle('direct');
	delete b.receipt_proof.results_root;
	delete b.receipt_hex;
	assert.equal((await vf.verifyTxBundle(b, trust)).ok, true);
});

test('receipts: "pending" or absent leaves the inclusion proven and the outcome unproven', async () => {
	for (const rp of ['pending', undefined]) {
		const b = txBundle();
		if (rp !== undefined)
			b.receipt_proof = rp;
		const r = await vf.verifyTxBundle(b, trust);
		assert.equal(r.ok, true);
		assert.equal(r.receipt, null);
		assert.match(r.steps.at(-1).text, /receipt not yet provable: no committed header executes block 5 yet/);
	}
	const b = txBundle();
	b.receipt_proof = 'later';
	await refused(b, /receipt_proof is neither an object nor "pending"/);
});

test('receipts: each broken receipt proof is refused with a reason', async () => {
	let b;
	// A receipt byte changed (here the gas), where the node shows it too and
	// where it shows the original at the top level.
	const gas = V.receipt1_hex.indexOf('950101');
	b = receiptBundle('direct');
	b.receipt_proof.receipt_hex = b.receipt_hex = V.receipt1_hex.slice(0, gas) + '96' + V.receipt1_hex.slice(gas + 2);
	await refused(b, /inclusion proof does not lead from receipt [0-9a-f]{16}… \(leaf 1 of 3\) to the block's results_root 9bbbb9b44dd2cfab…/);
	b = receiptBundle('direct');
	b.receipt_proof.receipt_hex = b.receipt_hex.slice(0, gas) + '96' + b.receipt_hex.slice(gas + 2);
	await refused(b, /the node shows a receipt \(receipt_hex\) other than the one it proves/);
	// Without results_root in the answer, the root the path reaches is
	// checked against the header's.
	b = receiptBundle('direct');
	delete b.receipt_hex;
	delete b.receipt_proof.results_root;
	b.receipt_proof.receipt_hex = V.receipt1_hex.slice(0, gas) + '96' + V.receipt1_hex.slice(gas + 2);
	await refused(b, /block 5's results root [0-9a-f]{16}… is not the results_root 9bbbb9b44dd2cfab… of header 6/);
	// A path hash changed.
	for (let i = 0; i < V.receipt1_path.length; i++) {
		b = receiptBundle('direct');
		b.receipt_proof.path[i] = flipHexChar(b.receipt_proof.path[i], rnd(64));
		await refused(b, /receipt: inclusion proof does not lead from receipt/);
	}
	b = receiptBundle('direct');
	b.receipt_proof.path.pop();
	await refused(b, /receipt: inclusion path has the wrong length for leaf 1 of 3/);
	// A wrong index (the receipt's, the range's).
	b = receiptBundle('direct');
	b.receipt_proof.index = 0;
	await refused(b, /receipt proof is for leaf 0 of 3, the transaction is leaf 1 of 3 of block 5/);
	b = receiptBundle('direct');
	b.receipt_proof.tree_size = 4;
	await refused(b, /receipt proof is for leaf 1 of 4/);
	b = receiptBundle('range');
	b.receipt_proof.range.index = 1;
	await refused(b, /range\.index is 1, block 5 is leaf 0 of the range 5\.\.7/);
	b = receiptBundle('range');
	b.receipt_proof.range.tree_size = 4;
	await refused(b, /range\.tree_size is 4, the range 5\.\.7 has 3 blocks/);
	// The carrier header's results root is not the block's.
	b = receiptBundle('direct');
	b.receipt_proof.header = { height: 6, header_hex: V.rc_wrongid_header_hex, qc: { hex: V.rc_wrongid_qc_hex } };
	await refused(b, /receipt: block 5's results root 9bbbb9b44dd2cfab… is not the results_root 3a3f5fda0e7f51a1… of header 6, which executes it/);
	// The range: parent header changed (its parent_hash field, so it still
	// decodes; then cut short), first/last/path wrong.
	b = receiptBundle('range');
	const ph = b.receipt_proof.range.parent_header_hex;
	const pat = ph.indexOf('6666');
	b.receipt_proof.range.parent_header_hex = ph.slice(0, pat) + '67' + ph.slice(pat + 2);
	await refused(b, /receipt: the range's parent header \(hash [0-9a-f]{16}…\) is not the parent of header 8/);
	b = receiptBundle('range');
	b.receipt_proof.range.parent_header_hex = ph.slice(0, -2);
	await refused(b, /receipt: the range's parent header does not decode/);
	b = receiptBundle('range');
	b.receipt_proof.range.parent_header_hex = V.header_hex;
	await refused(b, /is not the parent of header 8/);
	b = receiptBundle('range');
	b.receipt_proof.range.first = 6;
	await refused(b, /range\.first is 6, but the parent header executed up to 4/);
	b = receiptBundle('range');
	b.receipt_proof.range.last = 8;
	await refused(b, /range\.last is 8, header 8 executes up to 7/);
	b = receiptBundle('range');
	b.receipt_proof.range.path[1] = flipHexChar(b.receipt_proof.range.path[1], rnd(64));
	await refused(b, /receipt: range path does not lead from block 5's results root \(leaf 0 of 3\) to the range root 56332d5d04d7d0e7… of header 8/);
	// The range is needed (header 8 executes 5..7) but missing; a range
	// with a header that executes one block only.
	b = receiptBundle('range');
	delete b.receipt_proof.range;
	await refused(b, /header 8 executes up to block 7, not block 5 alone, and receipt_proof\.range .* is missing/);
	b = receiptBundle('direct');
	b.receipt_proof.range = receiptProof('range').range;
	await refused(b, /receipt: the range's parent header .* is not the parent of header 6/);
	// A receipt of another transaction, correctly under a certified root.
	b = receiptBundle('direct');
	delete b.receipt_hex;
	Object.assign(b.receipt_proof, {
		receipt_hex: V.wrongid_receipt_hex, path: [...V.wrongid_path], results_root: V.wrongid_results_root,
		header: { height: 6, header_hex: V.rc_wrongid_header_hex, qc: { hex: V.rc_wrongid_qc_hex } },
	});
	await refused(b, new RegExp(`receipt is for tx ${V.tx_id0.slice(0, 16)}…, not ${V.tx_id1.slice(0, 16)}…`));
	// The carrier header is certified like a block; it is not the node's word.
	b = receiptBundle('direct');
	b.receipt_proof.header.qc.hex = V.qc_hex;
	await refused(b, /receipt: the header carrying its results root: QC commits/);
	b = receiptBundle('direct');
	b.receipt_proof.header.hash = V.header_hash;
	await refused(b, /receipt: the header's field "hash" differs/);
	b = receiptBundle('direct');
	delete b.receipt_proof.header;
	await refused(b, /receipt: the header carrying its results root: no header_hex/);
});

test('receipts: one changed hex digit anywhere in a receipt proof is refused', async () => {
	const fields = [
		['receipt_hex', (b) => b.receipt_proof],
		['results_root', (b) => b.receipt_proof],
		['header_hex', (b) => b.receipt_proof.header],
		['hex', (b) => b.receipt_proof.header.qc],
		['parent_header_hex', (b) => b.receipt_proof.range],
	];
	for (let round = 0; round < 40; round++) {
		const b = receiptBundle('range');
		delete b.receipt_hex;
		const [key, get] = fields[rnd(fields.length)];
		const o = get(b);
		const at = rnd(o[key].length);
		o[key] = flipHexChar(o[key], at);
		const r = await vf.verifyTxBundle(b, trust);
		assert.equal(r.ok, false, `tampered ${key} at ${at} was accepted (seed ${seed})`);
	}
	for (let round = 0; round < 10; round++) {
		const b = receiptBundle('range');
		const p = rnd(2) ? b.receipt_proof.path : b.receipt_proof.range.path;
		const i = rnd(p.length);
		p[i] = flipHexChar(p[i], rnd(64));
		assert.equal((await vf.verifyTxBundle(b, trust)).ok, false, `seed ${seed}`);
	}
});

// ---- across epochs: tests/e2e/epoch_vectors.mjs (gen_epoch_vectors.c) ----------
// Epoch 0 (4 keys) -> 1 (5 keys) at end block 10, committed through suffix
// headers 11, 12 (qc.chain); 1 -> 2 (4 keys) at end block 20; block 25 of
// epoch 2 holds a transaction and the state of version 24.

const keysOf = (e) => EV.sets[e].map((i) => EV.keys[i]);
const trust0 = { chain_id: EV.chain_id, epoch: 0, keys: keysOf(0) };

function endJSON(x) {
	return { height: x.height, header_hex: x.header_hex, qc: { hex: x.qc_hex, ...(x.chain.length ? { chain: [...x.chain] } : {}) } };
}

function stateJSON(x, version) {
	return { key_hex: toHex(new TextEncoder().encode(x.key)), found: true, value_hex: x.value_hex, version, proof_hex: x.proof_hex };
}

// A node that answers from the vectors; ends maps epoch k+1 -> end block of k.
function vecNet(ends = { 1: EV.x0, 2: EV.x1 }, calls = []) {
	const byHeight = new Map(Object.values(ends).map((x) => [x.height, x]));
	return {
		calls,
		epochs: async (from) => {
			calls.push(`epochs ${from}`);
			return { epochs: Object.entries(ends).map(([e, x]) => ({ epoch: Number(e), root_height: x.height, first_height: x.height + 1 })).filter((e) => e.epoch >= from), more: false };
		},
		block: async (h) => {
			calls.push(`block ${h}`);
			const x = byHeight.get(h);
			if (!x)
				throw new Error(`no block ${h}`);
			return endJSON(x);
		},
		state: async (key, version) => {
			calls.push(`state ${key} ${version}`);
			const x = [...byHeight.values()].find((y) => y.exec_height === version);
			if (!x)
				throw new Error(`no version ${version}`);
			return stateJSON(x, version);
		},
	};
}

function epochTxBundle() {
	return {
		id: EV.b.tx_id, status: 'committed', height: 25, index: 0, tx_hex: EV.b.tx_hex,
		proof: { leaf: EV.b.tx_id, index: 0, tree_size: 1, path: [] },
		block: { height: 25, header_hex: EV.b.header_hex, qc: { hex: EV.b.qc_hex } },
	};
}

test('epochs: the sys/valset/next value decodes as the C executor reads it', () => {
	const r = vf.parseValsetNext(fromHex(EV.x0.value_hex));
	assert.equal(r.epoch, 1n);
	assert.equal(r.height, 8n);
	assert.deepEqual(r.validators.map((v) => toHex(v.pk)), keysOf(1));
	assert.equal(r.validators[0].org, 'org0');
	const r2 = vf.parseValsetNext(fromHex(EV.x1.value_hex));
	assert.equal(r2.epoch, 2n);
	assert.deepEqual(r2.validators.map((v) => toHex(v.pk)), keysOf(2));
	// Strict: trailing bytes, a value that is not a map, a missing field.
	assert.throws(() => vf.parseValsetNext(fromHex(EV.x0.value_hex + '00')), /left after/);
	assert.throws(() => vf.parseValsetNext(fromHex('0600')), /tag 6, expected 7/);
	assert.throws(() => vf.parseValsetNext(fromHex('0702' + EV.x0.value_hex.slice(4))), /exactly the fields/);
	// A key listed twice (validators 0 and 1 given the same pk).
	const v = EV.x0.value_hex;
	const twice = v.split(EV.keys[1]).join(EV.keys[0]);
	assert.throws(() => vf.parseValsetNext(fromHex(twice)), /listed twice/);
});

test('epochs: an end block is certified through its suffix headers in qc.chain', async () => {
	const steps = { list: [], ok(t) { this.list.push(t); } };
	const next = await vf.verifyHandoff(trust0, endJSON(EV.x0), stateJSON(EV.x0, 9), steps);
	assert.equal(next.epoch, 1);
	assert.deepEqual(next.keys, keysOf(1));
	assert.ok(steps.list.some((t) => /the 2 headers of qc\.chain link it back/.test(t)), steps.list.join('\n'));
	assert.ok(steps.list.some((t) => /^epoch handoff 0 → 1 proven by block 10 .*via 2 suffix headers.*: 5 validators$/.test(t)), steps.list.join('\n'));
	// The same end block as a plain state proof under the epoch-0 set.
	const r = await vf.verifyStateBundle({ ...stateJSON(EV.x0, 9), header: endJSON(EV.x0) }, trust0);
	assert.equal(r.error, null);
	// Missing, short, reordered or altered linking headers are refused.
	const noChain = endJSON(EV.x0);
	delete noChain.qc.chain;
	await assert.rejects(vf.verifyHandoff(trust0, noChain, stateJSON(EV.x0, 9)), /epoch 0 handoff: .*qc\.chain\) are missing/);
	const short = endJSON(EV.x0);
	short.qc.chain.pop();
	await assert.rejects(vf.verifyHandoff(trust0, short, stateJSON(EV.x0, 9)), /qc\.chain holds 1 linking header for 2/);
	const swapped = endJSON(EV.x0);
	swapped.qc.chain.reverse();
	await assert.rejects(vf.verifyHandoff(trust0, swapped, stateJSON(EV.x0, 9)), /does not extend block 10/);
	const altered = endJSON(EV.x0);
	altered.qc.chain[1] = altered.qc.chain[1].slice(0, -2) + (altered.qc.chain[1].endsWith('00') ? '01' : '00');
	await assert.rejects(vf.verifyHandoff(trust0, altered, stateJSON(EV.x0, 9)), /linking headers end at/);
});

test('epochs: a tx and a state value of epoch 2 verify from the epoch-0 set (2 handoffs)', async () => {
	const net = vecNet();
	const r = await vf.verifyTxBundle(epochTxBundle(), trust0, net);
	assert.equal(r.error, null);
	assert.equal(r.epoch, 2);
	assert.deepEqual(net.calls, ['epochs 1', 'block 10', 'state sys/valset/next 9', 'block 20', 'state sys/valset/next 19']);
	const texts = r.steps.map((s) => s.text);
	assert.equal(texts.filter((t) => /^epoch handoff \d → \d proven by block/.test(t)).length, 2, texts.join('\n'));
	assert.ok(texts.some((t) => /^walked epochs 0 → 2 \(2 handoffs/.test(t)));
	const s = await vf.verifyStateBundle({ key_hex: toHex(new TextEncoder().encode('bob')), found: true, value_hex: EV.b.bob_value_hex, version: 24,
		proof_hex: EV.b.bob_proof_hex, header: { header_hex: EV.b.header_hex, qc: { hex: EV.b.qc_hex } } }, trust0, vecNet());
	assert.equal(s.error, null);
	assert.equal(s.epoch, 2);
	// Trusting epoch 1's set directly walks one handoff; epoch 2's none.
	const one = vecNet();
	assert.equal((await vf.verifyTxBundle(epochTxBundle(), { ...trust0, epoch: 1, keys: keysOf(1) }, one)).error, null);
	assert.deepEqual(one.calls, ['epochs 2', 'block 20', 'state sys/valset/next 19']);
	const none = vecNet();
	assert.equal((await vf.verifyTxBundle(epochTxBundle(), { ...trust0, epoch: 2, keys: keysOf(2) }, none)).error, null);
	assert.deepEqual(none.calls, []);
});

test('epochs: each broken handoff is refused with a reason', async () => {
	const tx = epochTxBundle();
	const why = async (trust, net) => (await vf.verifyTxBundle(tx, trust, net)).error;
	assert.match(await why(trust0), /from epoch 2, the trusted set is epoch 0: following the validator changes needs the node/);
	assert.match(await why(trust0, vecNet({ 1: EV.x0 })), /epoch 1 handoff: the node lists no start of epoch 2/);
	// The node points at the wrong block for epoch 1's start.
	assert.match(await why(trust0, vecNet({ 1: EV.x1, 2: EV.x1 })), /epoch 0 handoff: header is in epoch 1, the trusted validator set is epoch 0/);
	// A proven record for the wrong epoch, or made after the end block's state.
	assert.match(await why(trust0, vecNet({ 1: EV.bad_epoch, 2: EV.x1 })), /epoch 0 handoff: the pending change is for epoch 2, not 1/);
	assert.match(await why(trust0, vecNet({ 1: EV.bad_height, 2: EV.x1 })), /epoch 0 handoff: the change since height 10 is above block 10's executed height 9/);
	// A wrong key in the trusted set: the first end block's QC fails.
	const wrong = { ...trust0, keys: [EV.keys[4], ...keysOf(0).slice(1)] };
	assert.match(await why(wrong, vecNet()), /epoch 0 handoff: header names validator set/);
	// The node shows no pending change, or swaps in the other end block's value.
	const absent = vecNet();
	absent.state = async (k, v) => ({ ...stateJSON(EV.x0, v), found: false, value_hex: null });
	assert.match(await why(trust0, absent), /epoch 0 handoff: no pending validator change shown at block 10/);
	const swapped = vecNet();
	swapped.state = async (k, v) => (v === 9 ? { ...stateJSON(EV.x0, v), value_hex: EV.x1.value_hex } : stateJSON(EV.x1, v));
	assert.match(await why(trust0, swapped), /epoch 0 handoff: state proof leaf holds a different value/);
	const otherVersion = vecNet();
	otherVersion.state = async (k, v) => stateJSON(EV.x0, v + 1);
	assert.match(await why(trust0, otherVersion), /epoch 0 handoff: the sys\/valset\/next proof is for state version 10/);
	// A node that cannot serve the old state version (pruned) is named.
	const pruned = vecNet();
	pruned.state = async () => {
		throw new Error('NOT_FOUND: version pruned');
	};
	assert.match(await why(trust0, pruned), /^epoch 0 handoff: sys\/valset\/next at version 9: the node did not answer \(NOT_FOUND: version pruned\)$/);
	// Too far: more than 64 handoffs are not walked.
	const farNet = vecNet();
	await assert.rejects(vf.walkEpochs(trust0, 65, farNet), /more than 64 epochs/);
	assert.deepEqual(farNet.calls, []);
	// After all these refusals the honest answers still verify.
	assert.equal((await vf.verifyTxBundle(tx, trust0, vecNet())).error, null);
});

test('epochs: one changed hex digit anywhere in a handoff is refused', async () => {
	const parts = [];
	for (const [name, x] of [['x0', EV.x0], ['x1', EV.x1]]) {
		parts.push([name, 'header_hex'], [name, 'qc_hex'], [name, 'value_hex'], [name, 'proof_hex']);
		x.chain.forEach((_, i) => parts.push([name, `chain.${i}`]));
	}
	for (let round = 0; round < 40; round++) {
		const ends = { 1: structuredClone(EV.x0), 2: structuredClone(EV.x1) };
		const [name, f] = parts[rnd(parts.length)];
		const x = name === 'x0' ? ends[1] : ends[2];
		let where;
		if (f.startsWith('chain.')) {
			const i = Number(f.slice(6));
			where = rnd(x.chain[i].length);
			x.chain[i] = flipHexChar(x.chain[i], where);
		} else {
			where = rnd(x[f].length);
			x[f] = flipHexChar(x[f], where);
		}
		const r = await vf.verifyTxBundle(epochTxBundle(), trust0, vecNet(ends));
		assert.equal(r.ok, false, `${name}.${f} changed at ${where} was accepted (seed ${seed})`);
		assert.match(r.error, /^epoch [01] handoff: /, `${name}.${f} at ${where}: ${r.error}`);
	}
});
