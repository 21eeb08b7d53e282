// verify.js — checks danshari proofs with WebCrypto alone (SHA-256, Ed25519).
// Nothing the node says is believed: every hash is recomputed from the raw
// encodings (header_hex, qc.hex, tx_hex, proof_hex), and the only trusted
// input is the validator set the user supplies. Byte layouts are those of
// docs/PROTOCOL.md and docs/PROTOCOL.md. Works in browsers and in
// Node 20 (globalThis.crypto.subtle); no dependencies, no build step.

const enc = new TextEncoder();
const TAG_HEADER = enc.encode('danshari/header/v1');
const TAG_VOTE = enc.encode('danshari/vote/v1');
const TAG_TX = enc.encode('danshari/tx/v1');
const TAG_TXID = enc.encode('danshari/txid/v1');
const TAG_VALSET = enc.encode('danshari/valset/v1');
const TAG_RECEIPT = enc.encode('danshari/receipt/v1');
const TAG_SMT_LEAF = enc.encode('danshari/smt/leaf/v1');
const TAG_SMT_NODE = enc.encode('danshari/smt/node/v1');
const TAG_SMT_EMPTY = enc.encode('danshari/smt/empty/v1');

export const LIMITS = Object.freeze({
	validatorsMax: 128,    // DS_VALIDATORS_MAX
	inclusionPathMax: 64,  // DS_MERKLE_INCL_MAX
	smtDepthMax: 256,      // DS_SMT_DEPTH_MAX
	txMax: 66048,          // DS_TX_MAX
	headerMax: 512,        // DS_HEADER_MAX
	chainIdMax: 64,
	nameMax: 64,
	finalityLinksMax: 64,  // qc.chain headers linking a block to the one its QC commits
	handoffsMax: 64,       // epoch handoffs walked before verifying (DS_VERIFY_HANDOFF_MAX)
	hexCharsMax: 1 << 22,  // refuse absurd pasted input before decoding it
	receiptErrorMax: 256,  // DS_RECEIPT_ERROR_MAX
	receiptEventsMax: 64,  // DS_RECEIPT_EVENTS_MAX
	eventValueMax: 16384,  // DS_EVENT_VALUE_MAX
	receiptReturnMax: 65536, // DS_RECEIPT_RETURN_MAX
});

export class VerifyError extends Error {}

function fail(msg) {
	throw new VerifyError(msg);
}

// ---- bytes and hex ---------------------------------------------------------

export function fromHex(s, what = 'hex', len = -1) {
	if (typeof s !== 'string')
		fail(`${what}: expected a hex string`);
	if (s.length > LIMITS.hexCharsMax)
		fail(`${what}: too long`);
	if (s.length % 2 !== 0)
		fail(`${what}: odd number of hex digits`);
	if (!/^[0-9a-fA-F]*$/.test(s))
		fail(`${what}: not hex`);
	const out = new Uint8Array(s.length / 2);
	for (let i = 0; i < out.length; i++)
		out[i] = parseInt(s.substr(2 * i, 2), 16);
	if (len >= 0 && out.length !== len)
		fail(`${what}: expected ${len} bytes, got ${out.length}`);
	return out;
}

export function toHex(b) {
	let s = '';
	for (const x of b)
		s += x.toString(16).padStart(2, '0');
	return s;
}

export function concat(...parts) {
	let n = 0;
	for (const p of parts)
		n += p.length;
	const out = new Uint8Array(n);
	let o = 0;
	for (const p of parts) {
		out.set(p, o);
		o += p.length;
	}
	return out;
}

export function equal(a, b) {
	if (a.length !== b.length)
		return false;
	let d = 0;
	for (let i = 0; i < a.length; i++)
		d |= a[i] ^ b[i];
	return d === 0;
}

function subtle() {
	const c = globalThis.crypto;
	if (!c || !c.subtle)
		fail('WebCrypto is unavailable here: open the explorer on localhost or over https');
	return c.subtle;
}

export async function sha256(...parts) {
	return new Uint8Array(await subtle().digest('SHA-256', concat(...parts)));
}

// Ed25519 (RFC 8032, pure). Returns false for a bad signature and for a
// public key WebCrypto refuses, so one broken key cannot abort a QC check.
export async function ed25519Verify(pk, sig, msg) {
	let key;
	try {
		key = await subtle().importKey('raw', pk, { name: 'Ed25519' }, false, ['verify']);
	} catch (e) {
		if (e instanceof VerifyError)
			throw e;
		return false;
	}
	try {
		return await subtle().verify({ name: 'Ed25519' }, key, sig, msg);
	} catch (e) {
		if (e instanceof DOMException && e.name === 'NotSupportedError')
			fail('this browser lacks Ed25519 in WebCrypto (Chrome 137+, Firefox 129+, Safari 17+)');
		return false;
	}
}

export function uvarEncode(v) {
	let x = BigInt(v);
	if (x < 0n || x >= 1n << 64n)
		fail('uvar out of range');
	const out = [];
	do {
		let b = Number(x & 0x7fn);
		x >>= 7n;
		if (x !== 0n)
			b |= 0x80;
		out.push(b);
	} while (x !== 0n);
	return Uint8Array.from(out);
}

// A strict reader of the canonical encoding (src/codec/codec.h).
export class Reader {
	constructor(bytes, what) {
		this.b = bytes;
		this.pos = 0;
		this.what = what;
	}
	need(n, field) {
		if (this.b.length - this.pos < n)
			fail(`${this.what}: input ends inside ${field}`);
	}
	u8(field) {
		this.need(1, field);
		return this.b[this.pos++];
	}
	// Unsigned LEB128, shortest form, < 2^64. Returns a BigInt.
	uvar(field) {
		let v = 0n;
		for (let i = 0; i < 10; i++) {
			const c = this.u8(field);
			if (i === 9 && c > 1)
				fail(`${this.what}: ${field} is not below 2^64`);
			v |= BigInt(c & 0x7f) << BigInt(7 * i);
			if (!(c & 0x80)) {
				if (i > 0 && c === 0)
					fail(`${this.what}: ${field} is not in shortest form`);
				return v;
			}
		}
		fail(`${this.what}: ${field} is too long`);
	}
	// A uvar that must be <= max, as a JS number.
	num(field, max = Number.MAX_SAFE_INTEGER) {
		const v = this.uvar(field);
		if (v > BigInt(max))
			fail(`${this.what}: ${field} ${v} is above ${max}`);
		return Number(v);
	}
	fixed(n, field) {
		this.need(n, field);
		const out = this.b.subarray(this.pos, this.pos + n);
		this.pos += n;
		return out;
	}
	bytes(max, field) {
		const n = this.num(`${field} length`, max);
		return this.fixed(n, field);
	}
	str(max, field) {
		const raw = this.bytes(max, field);
		try {
			const s = new TextDecoder('utf-8', { fatal: true }).decode(raw);
			if (s.includes('\0'))
				fail(`${this.what}: ${field} holds a NUL`);
			return s;
		} catch (e) {
			if (e instanceof VerifyError)
				throw e;
			fail(`${this.what}: ${field} is not UTF-8`);
		}
	}
	done() {
		if (this.pos !== this.b.length)
			fail(`${this.what}: ${this.b.length - this.pos} bytes left after the end`);
	}
}

function checkChainId(s, what) {
	if (!/^[a-z0-9._-]{1,64}$/.test(s))
		fail(`${what}: invalid chain id`);
}

function checkName(s, what) {
	if (!/^[a-z0-9_.]{1,64}$/.test(s))
		fail(`${what}: invalid name`);
}

// ---- ledger encodings -------------------------------------------------------

export function parseHeader(bytes) {
	if (bytes.length > LIMITS.headerMax)
		fail('header: too long');
	const r = new Reader(bytes, 'header');
	const h = {};
	h.version = r.u8('version');
	if (h.version !== 1)
		fail(`header: unknown version ${h.version}`);
	h.chain_id = r.str(LIMITS.chainIdMax, 'chain_id');
	checkChainId(h.chain_id, 'header');
	h.height = r.num('height');
	h.epoch = r.num('epoch');
	h.round = r.num('round');
	h.parent_hash = toHex(r.fixed(32, 'parent_hash'));
	h.proposer = toHex(r.fixed(32, 'proposer'));
	h.time_ms = r.num('time_ms');
	h.tx_count = r.num('tx_count', 20000);
	h.tx_root = toHex(r.fixed(32, 'tx_root'));
	h.exec_height = r.num('exec_height');
	h.state_root = toHex(r.fixed(32, 'state_root'));
	h.results_root = toHex(r.fixed(32, 'results_root'));
	h.history_root = toHex(r.fixed(32, 'history_root'));
	h.valset_hash = toHex(r.fixed(32, 'valset_hash'));
	r.done();
	return h;
}

export async function headerHash(bytes) {
	return sha256(TAG_HEADER, bytes);
}

function readVote(r) {
	const v = {};
	v.epoch = r.num('epoch');
	v.round = r.num('round');
	v.height = r.num('height');
	v.block_hash = toHex(r.fixed(32, 'block_hash'));
	v.parent_round = r.num('parent_round');
	v.parent_hash = toHex(r.fixed(32, 'parent_hash'));
	v.commit_height = r.num('commit_height');
	v.commit_hash = toHex(r.fixed(32, 'commit_hash'));
	return v;
}

// QC = vote_data || uvar nsigs || nsigs × (uvar index || fixed64 sig).
// vote_bytes is the exact vote encoding, which is what was signed.
export function parseQC(bytes) {
	const r = new Reader(bytes, 'QC');
	const vote = readVote(r);
	const vote_bytes = bytes.slice(0, r.pos);
	const n = r.num('nsigs', LIMITS.validatorsMax);
	const sigs = [];
	let last = -1;
	for (let i = 0; i < n; i++) {
		const index = r.num('signer index', LIMITS.validatorsMax - 1);
		if (index <= last)
			fail('QC: signer indices are not strictly increasing');
		last = index;
		sigs.push({ index, sig: r.fixed(64, 'signature') });
	}
	r.done();
	return { vote, vote_bytes, sigs };
}

export function voteSigningBytes(chainId, voteBytes) {
	const cid = enc.encode(chainId);
	return concat(TAG_VOTE, uvarEncode(cid.length), cid, voteBytes);
}

export function quorum(n) {
	return Math.floor((2 * n) / 3) + 1;
}

export function encodeValset(epoch, keys) {
	const parts = [uvarEncode(epoch), uvarEncode(keys.length)];
	for (const k of keys)
		parts.push(k, uvarEncode(1));
	return concat(...parts);
}

export async function valsetHash(epoch, keys) {
	return sha256(TAG_VALSET, encodeValset(epoch, keys));
}

// As ds_qc_verify: epoch, indices < n, every listed signature valid (one
// bad signature refuses the QC), and at least quorum(n) distinct signers.
export async function verifyQC(qc, chainId, keys, epoch) {
	const n = keys.length;
	if (qc.vote.epoch !== epoch)
		fail(`QC is for epoch ${qc.vote.epoch}, the trusted validator set is epoch ${epoch}`);
	const msg = voteSigningBytes(chainId, qc.vote_bytes);
	for (const s of qc.sigs) {
		if (s.index >= n)
			fail(`QC signer index ${s.index} is not in the trusted set of ${n}`);
		if (!(await ed25519Verify(keys[s.index], s.sig, msg)))
			fail(`QC signature of validator ${s.index} (${toHex(keys[s.index]).slice(0, 16)}…) is invalid`);
	}
	if (qc.sigs.length < quorum(n))
		fail(`QC has ${qc.sigs.length} valid signatures, quorum is ${quorum(n)} of ${n}`);
	return qc.sigs.map((s) => s.index);
}

export function parseTx(bytes) {
	if (bytes.length > LIMITS.txMax)
		fail('transaction: too long');
	const r = new Reader(bytes, 'transaction');
	const tx = {};
	tx.version = r.u8('version');
	if (tx.version !== 1)
		fail(`transaction: unknown version ${tx.version}`);
	tx.chain_id = r.str(LIMITS.chainIdMax, 'chain_id');
	checkChainId(tx.chain_id, 'transaction');
	tx.sender = toHex(r.fixed(32, 'sender'));
	tx.nonce = r.uvar('nonce').toString();
	tx.expiry_height = r.uvar('expiry_height').toString();
	tx.target = r.str(LIMITS.nameMax, 'target');
	checkName(tx.target, 'transaction target');
	tx.method = r.str(LIMITS.nameMax, 'method');
	checkName(tx.method, 'transaction method');
	const args = r.bytes(65536, 'args');
	tx.args = decodeValue(args);
	tx.body = bytes.slice(0, r.pos);
	tx.sig = r.fixed(64, 'signature');
	r.done();
	return tx;
}

export async function txId(body) {
	return sha256(TAG_TXID, body);
}

// A canonical value field of a receipt, checked as ds_value_check does.
function receiptValue(r, max, field) {
	const raw = r.bytes(max, field);
	try {
		return { value: decodeValue(raw), value_hex: toHex(raw) };
	} catch (e) {
		if (e instanceof VerifyError)
			fail(`receipt: ${field} is not one canonical value (${e.message})`);
		throw e;
	}
}

// Receipt (docs/PROTOCOL.md §7.1), strictly as ds_receipt_decode: version
// 1, tx_id, status 0 (ok) / 1 (failed), error (<= 256 bytes, empty iff
// ok), gas_used, <= 64 events (name, canonical value <= 16 KiB), return
// value (canonical, <= 64 KiB), nothing after. Returns {tx_id (hex),
// status 'ok'|'failed', error, gas_used (number, or a string above 2^53),
// events: [{name, value, value_hex}], return, return_hex}.
export function parseReceipt(bytes) {
	const r = new Reader(bytes, 'receipt');
	const out = {};
	const version = r.u8('version');
	if (version !== 1)
		fail(`receipt: unknown version ${version}`);
	out.tx_id = toHex(r.fixed(32, 'tx_id'));
	const status = r.u8('status');
	if (status > 1)
		fail(`receipt: unknown status ${status}`);
	out.status = status === 0 ? 'ok' : 'failed';
	out.error = r.str(LIMITS.receiptErrorMax, 'error');
	if ((status === 0) !== (out.error === ''))
		fail(status === 0 ? 'receipt: status ok with an error text' : 'receipt: status failed without an error text');
	const gas = r.uvar('gas_used');
	out.gas_used = gas <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(gas) : gas.toString();
	const n = r.num('event count');
	if (n > LIMITS.receiptEventsMax)
		fail(`receipt: ${n} events, at most ${LIMITS.receiptEventsMax}`);
	out.events = [];
	for (let i = 0; i < n; i++) {
		const name = r.str(LIMITS.nameMax, `event ${i} name`);
		checkName(name, `receipt event ${i}`);
		out.events.push({ name, ...receiptValue(r, LIMITS.eventValueMax, `event ${i} value`) });
	}
	const ret = receiptValue(r, LIMITS.receiptReturnMax, 'return value');
	out.return = ret.value;
	out.return_hex = ret.value_hex;
	r.done();
	return out;
}

// Receipt hash: SHA-256("danshari/receipt/v1" || receipt) (§7.1).
export async function receiptHash(bytes) {
	return sha256(TAG_RECEIPT, bytes);
}

// Canonical value (docs/PROTOCOL.md §2) to JSON-like JS: ints as BigInt
// are turned into numbers when safe, bytes as {$bytes: hex}.
export function decodeValue(bytes) {
	const r = new Reader(bytes, 'value');
	const v = readValue(r, 1);
	r.done();
	return v;
}

function readValue(r, depth) {
	if (depth > 32)
		fail('value: nested too deep');
	const tag = r.u8('value tag');
	switch (tag) {
	case 0: return null;
	case 1: return false;
	case 2: return true;
	case 3: {
		const z = r.uvar('int');
		const v = (z >> 1n) ^ -(z & 1n);
		return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
	}
	case 4: return r.str(1 << 20, 'string');
	case 5: return { $bytes: toHex(r.bytes(1 << 20, 'bytes')) };
	case 6: {
		const n = r.num('array count', 65536);
		const out = [];
		for (let i = 0; i < n; i++)
			out.push(readValue(r, depth + 1));
		return out;
	}
	case 7: {
		const n = r.num('map count', 65536);
		const out = {};
		let prev = null;
		for (let i = 0; i < n; i++) {
			const kb = r.bytes(256, 'map key');
			if (prev && compareBytes(prev, kb) >= 0)
				fail('value: map keys not strictly increasing');
			prev = kb;
			const k = new TextDecoder('utf-8', { fatal: true }).decode(kb);
			Object.defineProperty(out, k, { value: readValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
		}
		return out;
	}
	default:
		fail(`value: unknown tag ${tag}`);
	}
}

function compareBytes(a, b) {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++)
		if (a[i] !== b[i])
			return a[i] - b[i];
	return a.length - b.length;
}

// ---- Merkle log (RFC 6962 / RFC 9162 §2.1.3.2) ------------------------------

export async function logLeafHash(data) {
	return sha256(Uint8Array.of(0), data);
}

async function logNode(l, r) {
	return sha256(Uint8Array.of(1), l, r);
}

// The root that path leads to from leafHash as leaf `index` of a tree of
// `size` leaves (as ds_merkle_inclusion_root), or null when the path does
// not fit that position (wrong length, index outside). index/size are
// numbers (or BigInt).
export async function inclusionRoot(size, index, leafHash, path) {
	let fn = BigInt(index);
	let sn = BigInt(size) - 1n;
	if (BigInt(index) >= BigInt(size) || path.length > LIMITS.inclusionPathMax)
		return null;
	let r = leafHash;
	for (const p of path) {
		if (sn === 0n)
			return null;
		if ((fn & 1n) === 1n || fn === sn) {
			r = await logNode(p, r);
			while ((fn & 1n) === 0n && fn !== 0n) {
				fn >>= 1n;
				sn >>= 1n;
			}
		} else {
			r = await logNode(r, p);
		}
		fn >>= 1n;
		sn >>= 1n;
	}
	return sn === 0n ? r : null;
}

// Returns true iff path proves leafHash is leaf `index` of the tree of `size`
// leaves with root `root`. index/size are numbers (or BigInt).
export async function verifyInclusion(root, size, index, leafHash, path) {
	const r = await inclusionRoot(size, index, leafHash, path);
	return r !== null && equal(r, root);
}

// ---- Sparse Merkle tree proofs (docs/PROTOCOL.md §2.6) ------------------

let emptyHash = null;
export async function smtEmpty() {
	if (!emptyHash)
		emptyHash = await sha256(TAG_SMT_EMPTY);
	return emptyHash;
}

export async function decodeSmtProof(bytes) {
	const E = await smtEmpty();
	const r = new Reader(bytes, 'state proof');
	const p = {};
	const kind = r.u8('kind');
	if (kind > 1)
		fail(`state proof: unknown kind ${kind}`);
	p.has_leaf = kind === 1;
	if (p.has_leaf) {
		p.leaf_kh = r.fixed(32, 'leaf_kh');
		p.leaf_vh = r.fixed(32, 'leaf_vh');
	}
	p.depth = r.num('depth', LIMITS.smtDepthMax);
	const bitmap = r.fixed(Math.ceil(p.depth / 8), 'bitmap');
	if (p.depth % 8 && (bitmap[bitmap.length - 1] & (0xff >> (p.depth % 8))))
		fail('state proof: padding bits set in the bitmap');
	p.siblings = [];
	for (let i = 0; i < p.depth; i++) {
		if (bitmap[i >> 3] & (0x80 >> (i & 7))) {
			const s = r.fixed(32, `sibling ${i}`);
			if (equal(s, E))
				fail(`state proof: sibling ${i} is listed but empty`);
			p.siblings.push(s);
		} else {
			p.siblings.push(E);
		}
	}
	r.done();
	return p;
}

function bit(h, i) {
	return (h[i >> 3] >> (7 - (i & 7))) & 1;
}

// value === null claims the key is absent. Throws VerifyError saying why.
export async function verifySmt(root, key, value, p) {
	const kh = await sha256(key);
	if (value !== null) {
		if (!p.has_leaf)
			fail('state proof ends in an empty subtree, so it cannot show the key is present');
		if (!equal(p.leaf_kh, kh))
			fail('state proof leads to another key\'s leaf');
		if (!equal(p.leaf_vh, await sha256(value)))
			fail('state proof leaf holds a different value');
	} else if (p.has_leaf) {
		if (equal(p.leaf_kh, kh))
			fail('state proof shows the key is present, not absent');
		for (let i = 0; i < p.depth; i++)
			if (bit(p.leaf_kh, i) !== bit(kh, i))
				fail('state proof leaf is not on the key\'s path');
	}
	let cur = p.has_leaf ? await sha256(TAG_SMT_LEAF, p.leaf_kh, p.leaf_vh) : await smtEmpty();
	for (let i = 0; i < p.depth; i++) {
		const d = p.depth - 1 - i;
		cur = bit(kh, d) ? await sha256(TAG_SMT_NODE, p.siblings[i], cur) : await sha256(TAG_SMT_NODE, cur, p.siblings[i]);
	}
	if (!equal(cur, root))
		fail(`state proof computes root ${toHex(cur).slice(0, 16)}…, the header's state_root is ${toHex(root).slice(0, 16)}…`);
}

// ---- trusted validator set --------------------------------------------------

// trust = {chain_id, epoch, keys: [hex…]} as the user typed or stored it
// (or as parseTrust returned it: keys as bytes).
export function parseTrust(t) {
	if (!t || typeof t !== 'object')
		fail('no trusted validator set: paste the validators\' public keys first');
	const keys = (t.keys || []).map((k, i) => fromHex((k instanceof Uint8Array ? toHex(k) : String(k)).trim().toLowerCase(), `trusted key ${i}`, 32));
	if (keys.length < 1 || keys.length > LIMITS.validatorsMax)
		fail(`trusted validator set must hold 1..${LIMITS.validatorsMax} public keys, has ${keys.length}`);
	const seen = new Set();
	for (const k of keys) {
		const h = toHex(k);
		if (seen.has(h))
			fail(`trusted key ${h.slice(0, 16)}… is listed twice`);
		seen.add(h);
	}
	const epoch = Number(t.epoch ?? 0);
	if (!Number.isSafeInteger(epoch) || epoch < 0)
		fail('trusted epoch must be a non-negative integer');
	const chain_id = String(t.chain_id ?? '').trim();
	if (chain_id)
		checkChainId(chain_id, 'trusted chain id');
	return { keys, epoch, chain_id };
}

// ---- whole bundles ----------------------------------------------------------

// A step log: each check appends a line; the first failure ends the run.
class Steps {
	constructor() {
		this.list = [];
	}
	ok(text) {
		this.list.push({ ok: true, text });
	}
}

// Verifies that block JSON (header_hex + qc.hex) is a final block of the chain
// the trusted validators sign (docs/PROTOCOL.md §14.1). When the QC commits a
// descendant, block.qc.chain must hold the encoded headers from height+1 up
// to it, oldest first (for an epoch's end block these are its suffix
// headers, which the chain never stores as blocks); each is decoded and
// hash-linked here, so they need no trust. Returns {h, hash, signers, via}.
async function verifyBlock(block, trust, steps) {
	if (!block || typeof block.header_hex !== 'string')
		fail('no header_hex: nothing to check the proof against');
	const hb = fromHex(block.header_hex, 'header_hex');
	const h = parseHeader(hb);
	const hash = await headerHash(hb);
	steps.ok(`header of block ${h.height} decodes; its hash is ${toHex(hash)}`);
	const chainId = trust.chain_id || h.chain_id;
	if (h.chain_id !== chainId)
		fail(`header is for chain "${h.chain_id}", the trusted chain is "${chainId}"`);
	if (h.epoch !== trust.epoch)
		fail(`header is in epoch ${h.epoch}, the trusted validator set is epoch ${trust.epoch}`);
	const vh = await valsetHash(trust.epoch, trust.keys);
	if (toHex(vh) !== h.valset_hash)
		fail(`header names validator set ${h.valset_hash.slice(0, 16)}…, the trusted keys hash to ${toHex(vh).slice(0, 16)}…`);
	steps.ok(`header names exactly the trusted validator set (${trust.keys.length} keys, epoch ${trust.epoch})`);
	if (!block.qc || typeof block.qc.hex !== 'string')
		fail(h.height === 0 ? 'genesis carries no QC: check it against the genesis file instead' : 'block has no QC');
	const qc = parseQC(fromHex(block.qc.hex, 'qc.hex'));
	const signers = await verifyQC(qc, chainId, trust.keys, trust.epoch);
	steps.ok(`QC signatures valid: validators ${signers.join(', ')} signed (quorum ${quorum(trust.keys.length)} of ${trust.keys.length})`);
	const v = qc.vote;
	const out = { h, hash: toHex(hash), signers, via: 0 };
	if (v.commit_height === h.height && v.commit_hash === out.hash) {
		steps.ok(`QC commits block ${h.height} by this exact hash: the block is final`);
		return out;
	}
	if (v.commit_height === h.height)
		fail(`QC commits a block ${h.height} whose hash is ${v.commit_hash.slice(0, 16)}…, but this header hashes to ${out.hash.slice(0, 16)}… (the header or the QC was changed)`);
	if (v.commit_height <= h.height || v.commit_height - h.height > LIMITS.finalityLinksMax)
		fail(`QC commits block ${v.commit_height} (${v.commit_hash.slice(0, 16)}…), not this block ${h.height} (${out.hash.slice(0, 16)}…)`);
	const gap = v.commit_height - h.height;
	const chain = block.qc.chain;
	if (!Array.isArray(chain))
		fail(`QC commits descendant ${v.commit_height}; the linking headers ${h.height + 1}..${v.commit_height} (qc.chain) are missing`);
	if (chain.length !== gap)
		fail(`QC commits height ${v.commit_height}, but qc.chain holds ${chain.length} linking header${chain.length === 1 ? '' : 's'} for ${gap}`);
	// Walk up from this header: each linking header must name the previous
	// one as parent; the last one's hash must be the QC's commit hash.
	let cur = hash;
	let curHeight = h.height;
	for (let i = 0; i < chain.length; i++) {
		const lb = fromHex(chain[i], `qc.chain[${i}]`);
		const d = parseHeader(lb);
		if (d.chain_id !== h.chain_id || d.height !== curHeight + 1 || d.parent_hash !== toHex(cur))
			fail(`linking header qc.chain[${i}] (height ${d.height}) does not extend block ${curHeight} by its hash`);
		cur = await headerHash(lb);
		curHeight = d.height;
	}
	if (toHex(cur) !== v.commit_hash)
		fail(`QC commits block ${v.commit_hash.slice(0, 16)}… at height ${v.commit_height}, the linking headers end at ${toHex(cur).slice(0, 16)}…`);
	out.via = gap;
	steps.ok(`QC commits descendant ${v.commit_height}; the ${gap} header${gap === 1 ? '' : 's'} of qc.chain link it back to this header by parent hashes: final`);
	return out;
}

// ---- following validator changes (docs/PROTOCOL.md §14.6) -----------------------

export const VALSET_NEXT_KEY = 'sys/valset/next';

function readTag(r, want, field) {
	const t = r.u8(field);
	if (t !== want)
		fail(`${r.what}: ${field} has value tag ${t}, expected ${want}`);
}

function readKey(r, want) {
	const k = r.bytes(256, 'map key');
	if (!equal(k, enc.encode(want)))
		fail(`${r.what}: expected the field "${want}" here`);
}

function readInt(r, field) {
	readTag(r, 3, field);
	const z = r.uvar(field);
	return (z >> 1n) ^ -(z & 1n);
}

function readText(r, max, field) {
	readTag(r, 4, field);
	const raw = r.bytes(1 << 20, field);
	if (raw.length > max)
		fail(`${r.what}: ${field} is longer than ${max} bytes`);
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(raw);
	} catch {
		fail(`${r.what}: ${field} is not UTF-8`);
	}
}

// The pending validator change, as ds_exec_sys_valset_next reads it: exactly
// the canonical map {epoch (>= 1), height (>= 0), validators: 1..128 ×
// {addr (1..256 bytes), org (<= 64 bytes), pk (32 bytes)}}, no key twice.
// Returns {epoch, height, validators: [{addr, org, pk}]} (epoch and height
// as BigInt, pk as bytes).
export function parseValsetNext(bytes) {
	const r = new Reader(bytes, 'sys/valset/next value');
	readTag(r, 7, 'record');
	if (r.num('field count', 65536) !== 3)
		fail('sys/valset/next value: expected exactly the fields epoch, height, validators');
	readKey(r, 'epoch');
	const epoch = readInt(r, 'epoch');
	if (epoch < 1n)
		fail('sys/valset/next value: epoch is below 1');
	readKey(r, 'height');
	const height = readInt(r, 'height');
	if (height < 0n)
		fail('sys/valset/next value: height is negative');
	readKey(r, 'validators');
	readTag(r, 6, 'validators');
	const n = r.num('validator count', 65536);
	if (n < 1 || n > LIMITS.validatorsMax)
		fail(`sys/valset/next value: ${n} validators, must be 1..${LIMITS.validatorsMax}`);
	const validators = [];
	const seen = new Set();
	for (let i = 0; i < n; i++) {
		readTag(r, 7, `validator ${i}`);
		if (r.num('field count', 65536) !== 3)
			fail(`sys/valset/next value: validator ${i} must have exactly addr, org, pk`);
		readKey(r, 'addr');
		const addr = readText(r, 256, `validator ${i} addr`);
		if (!addr)
			fail(`sys/valset/next value: validator ${i} has an empty addr`);
		readKey(r, 'org');
		const org = readText(r, 64, `validator ${i} org`);
		readKey(r, 'pk');
		readTag(r, 5, `validator ${i} pk`);
		const pk = r.bytes(1 << 20, `validator ${i} pk`);
		if (pk.length !== 32)
			fail(`sys/valset/next value: validator ${i} pk is ${pk.length} bytes, not 32`);
		const hx = toHex(pk);
		if (seen.has(hx))
			fail(`sys/valset/next value: key ${hx.slice(0, 16)}… is listed twice`);
		seen.add(hx);
		validators.push({ addr, org, pk: pk.slice() });
	}
	r.done();
	return { epoch, height, validators };
}

// A step log that prefixes each line (one epoch handoff's checks).
class Prefixed {
	constructor(steps, prefix) {
		this.steps = steps;
		this.prefix = prefix;
	}
	ok(text) {
		this.steps.ok(`${this.prefix}${text}`);
	}
}

// One handoff k -> k+1 from the trusted set of epoch k alone: endBlock is the
// block JSON of epoch k's end block X (GET /v1/blocks/X), state the answer of
// GET /v1/state?key_str=sys/valset/next&version=X.exec_height&prove=1.
// Returns the trusted set of epoch k+1; throws VerifyError saying which
// check failed ("epoch k handoff: …").
export async function verifyHandoff(trustIn, endBlock, state, steps = new Steps()) {
	const trust = parseTrust(trustIn);
	const k = trust.epoch;
	const pre = `epoch ${k} → ${k + 1}: `;
	try {
		if (!Number.isSafeInteger(k + 1))
			fail('the trusted epoch is the last one');
		const x = await verifyBlock(endBlock, trust, new Prefixed(steps, pre));
		const h = x.h;
		if (!state || typeof state !== 'object' || state.found !== true)
			fail(`no pending validator change shown at block ${h.height} (state version ${h.exec_height})`);
		if (state.version !== undefined && Number(state.version) !== h.exec_height)
			fail(`the ${VALSET_NEXT_KEY} proof is for state version ${state.version}, block ${h.height} carries version ${h.exec_height}`);
		const value = fromHex(state.value_hex, 'value_hex');
		const proof = await decodeSmtProof(fromHex(state.proof_hex, 'proof_hex'));
		// The key is fixed here, never taken from the answer's key_hex.
		await verifySmt(fromHex(h.state_root, 'state_root'), enc.encode(VALSET_NEXT_KEY), value, proof);
		steps.ok(`${pre}state proof: ${VALSET_NEXT_KEY} holds this value in the state after block ${h.exec_height} (state_root of block ${h.height})`);
		const rec = parseValsetNext(value);
		if (rec.epoch !== BigInt(k + 1))
			fail(`the pending change is for epoch ${rec.epoch}, not ${k + 1}`);
		if (rec.height > BigInt(h.exec_height))
			fail(`the change since height ${rec.height} is above block ${h.height}'s executed height ${h.exec_height}`);
		const next = { chain_id: trust.chain_id || h.chain_id, epoch: k + 1, keys: rec.validators.map((v) => toHex(v.pk)) };
		steps.ok(`epoch handoff ${k} → ${k + 1} proven by block ${h.height} ${x.hash.slice(0, 16)}… (QC by ${x.signers.length} signers${x.via ? `, via ${x.via} suffix header${x.via === 1 ? '' : 's'}` : ''}; ${VALSET_NEXT_KEY} at version ${h.exec_height}): ${next.keys.length} validators`);
		return next;
	} catch (e) {
		if (e instanceof VerifyError)
			throw new VerifyError(`epoch ${k} handoff: ${e.message}`);
		throw e;
	}
}

// The epoch whose set must verify a block JSON: its QC's (the header's when
// it has no QC). null when neither decodes (verifyBlock then says why).
function blockEpoch(block) {
	try {
		if (block && block.qc && typeof block.qc.hex === 'string')
			return parseQC(fromHex(block.qc.hex, 'qc.hex')).vote.epoch;
		if (block && typeof block.header_hex === 'string')
			return parseHeader(fromHex(block.header_hex, 'header_hex')).epoch;
	} catch (e) {
		if (!(e instanceof VerifyError))
			throw e;
	}
	return null;
}

// A node request of the walk; its failure (HTTP error, timeout) is a reason.
async function ask(what, fn) {
	try {
		return await fn();
	} catch (e) {
		if (e instanceof VerifyError)
			throw e;
		fail(`${what}: the node did not answer (${e && e.message ? e.message : e})`);
	}
}

// Moves trust up to epoch target, one proven handoff at a time (at most
// LIMITS.handoffsMax). net = {epochs(from), block(height), state(key, version)}
// returns the node's JSON answers; none of them is believed.
export async function walkEpochs(trustIn, target, net, steps = new Steps()) {
	let trust = parseTrust(trustIn);
	const from = trust.epoch;
	if (target <= from)
		return trust;
	if (target - from > LIMITS.handoffsMax)
		fail(`the object is from epoch ${target}, more than ${LIMITS.handoffsMax} epochs after the trusted ${from}: trust a newer validator set`);
	if (!net)
		fail(`the object is from epoch ${target}, the trusted set is epoch ${from}: following the validator changes needs the node (GET /v1/epochs)`);
	const list = await ask(`the epoch list (/v1/epochs?from=${from + 1})`, () => net.epochs(from + 1));
	const epochs = list && Array.isArray(list.epochs) ? list.epochs : [];
	steps.ok(`the object's QC is from epoch ${target}, the trusted set is epoch ${from}: following ${target - from} validator change${target - from === 1 ? '' : 's'}, each proven from the set before`);
	while (trust.epoch < target) {
		const k = trust.epoch;
		const e = epochs.find((x) => x && x.epoch === k + 1);
		if (!e || !Number.isSafeInteger(e.root_height) || e.root_height < 1)
			fail(`epoch ${k} handoff: the node lists no start of epoch ${k + 1} in /v1/epochs`);
		const blk = await ask(`epoch ${k} handoff: end block ${e.root_height}`, () => net.block(e.root_height));
		let exec;
		try {
			exec = parseHeader(fromHex(blk && blk.header_hex, 'header_hex')).exec_height;
		} catch (err) {
			if (err instanceof VerifyError)
				fail(`epoch ${k} handoff: end block ${e.root_height}: ${err.message}`);
			throw err;
		}
		const st = await ask(`epoch ${k} handoff: ${VALSET_NEXT_KEY} at version ${exec}`, () => net.state(VALSET_NEXT_KEY, exec));
		const next = await verifyHandoff(trust, blk, st, steps);
		trust = parseTrust(next);
	}
	steps.ok(`walked epochs ${from} → ${target} (${target - from} handoff${target - from === 1 ? '' : 's'}, each proven from the one before)`);
	return trust;
}

// Certifies block JSON under trust, first walking the epoch handoffs when
// its QC is of a later epoch. Returns verifyBlock's result plus the trust
// that certified it.
async function certify(block, trust, steps, net) {
	const e = blockEpoch(block);
	if (e !== null && e > trust.epoch)
		trust = await walkEpochs(trust, e, net, steps);
	const r = await verifyBlock(block, trust, steps);
	return { ...r, trust };
}

function settle(steps, err) {
	if (err && !(err instanceof VerifyError))
		err = new VerifyError(`unexpected: ${err.message || err}`);
	return { ok: !err, steps: steps.list, error: err ? err.message : null };
}

function num(v, what) {
	const n = Number(v);
	if (v === undefined || v === null || v === '' || !Number.isSafeInteger(n) || n < 0)
		fail(`${what} is not a number`);
	return n;
}

function hashList(v, what) {
	if (!Array.isArray(v))
		fail(`${what} is not a list`);
	if (v.length > LIMITS.inclusionPathMax)
		fail(`${what} is too long (${v.length} hashes, at most ${LIMITS.inclusionPathMax})`);
	return v.map((x, i) => fromHex(x, `${what}[${i}]`, 32));
}

// The outcome of a transaction already proven in block b (verifyBlock's
// result, certified under trust) at position index with id (bytes):
// j.receipt_proof as docs/PROTOCOL.md §14.7 and ds_verify_receipt check it.
// Returns the decoded receipt (parseReceipt), or null when the node has no
// proof yet ("pending" or absent: no committed header executes the block).
async function verifyReceipt(j, b, trust, id, index, steps, net) {
	const h = b.h;
	const rp = j.receipt_proof;
	if (rp === undefined || rp === null || rp === 'pending') {
		steps.ok(`receipt not yet provable: no committed header executes block ${h.height} yet (ask again after the next block); its outcome is not proven`);
		return null;
	}
	if (typeof rp === 'string')
		fail('receipt_proof is neither an object nor "pending"');
	if (typeof rp !== 'object' || Array.isArray(rp))
		fail('receipt_proof is not an object');
	const rb = fromHex(rp.receipt_hex, 'receipt_proof.receipt_hex');
	const pi = num(rp.index, 'receipt_proof.index');
	const ps = num(rp.tree_size, 'receipt_proof.tree_size');
	if (pi !== index || ps !== h.tx_count)
		fail(`receipt proof is for leaf ${pi} of ${ps}, the transaction is leaf ${index} of ${h.tx_count} of block ${h.height}`);
	// The receipt the node shows must be the one it proves.
	if (j.receipt_hex !== undefined && j.receipt_hex !== null &&
	    (typeof j.receipt_hex !== 'string' || j.receipt_hex.toLowerCase() !== toHex(rb)))
		fail('the node shows a receipt (receipt_hex) other than the one it proves');
	const path = hashList(rp.path, 'receipt_proof.path');
	const range = rp.range === undefined || rp.range === null ? null : rp.range;
	if (range !== null && (typeof range !== 'object' || Array.isArray(range)))
		fail('receipt_proof.range is not an object');

	// 1. The header C vouching for the block's receipts, certified as a
	// block (walking epoch handoffs when it is of a later epoch).
	let c;
	try {
		c = await certify(rp.header, trust, new Prefixed(steps, 'receipt: '), net);
	} catch (e) {
		if (e instanceof VerifyError)
			fail(`receipt: the header carrying its results root: ${e.message}`);
		throw e;
	}
	const C = c.h;
	if (C.chain_id !== h.chain_id)
		fail(`receipt: results header is for chain "${C.chain_id}", the block is "${h.chain_id}"`);
	if (rp.header.height !== undefined && Number(rp.header.height) !== C.height)
		fail(`receipt: the header's field "height" ${rp.header.height} differs from the certified header ${C.height}`);
	if (typeof rp.header.hash === 'string' && rp.header.hash.toLowerCase() !== c.hash)
		fail(`receipt: the header's field "hash" differs from the certified header's hash ${c.hash.slice(0, 16)}…`);

	// The blocks C executes: first .. C.exec_height (§5.3).
	let first = C.exec_height;
	let rpath = null;
	if (range) {
		let ph, phash;
		try {
			const pb = fromHex(range.parent_header_hex, 'receipt_proof.range.parent_header_hex');
			ph = parseHeader(pb);
			phash = toHex(await headerHash(pb));
		} catch (e) {
			if (e instanceof VerifyError)
				fail(`receipt: the range's parent header does not decode (${e.message})`);
			throw e;
		}
		if (phash !== C.parent_hash)
			fail(`receipt: the range's parent header (hash ${phash.slice(0, 16)}…) is not the parent of header ${C.height} (parent_hash ${C.parent_hash.slice(0, 16)}…)`);
		if (ph.exec_height + 1 >= C.exec_height)
			fail(`receipt: header ${C.height} executes one block only (its parent executed up to ${ph.exec_height}, it up to ${C.exec_height}), not a range`);
		first = ph.exec_height + 1;
		const rf = num(range.first, 'receipt_proof.range.first');
		const rl = num(range.last, 'receipt_proof.range.last');
		if (rf !== first)
			fail(`receipt: range.first is ${rf}, but the parent header executed up to ${ph.exec_height}, so header ${C.height}'s range starts at ${first}`);
		if (rl !== C.exec_height)
			fail(`receipt: range.last is ${rl}, header ${C.height} executes up to ${C.exec_height}`);
		steps.ok(`receipt: the parent of header ${C.height} (hash ${phash.slice(0, 16)}…) executed up to block ${ph.exec_height}, so header ${C.height} executes blocks ${first}..${C.exec_height} and its results_root is their range root`);
	}
	if (h.height < first || h.height > C.exec_height) {
		if (!range && C.exec_height > h.height)
			fail(`receipt: header ${C.height} executes up to block ${C.exec_height}, not block ${h.height} alone, and receipt_proof.range (the path from block ${h.height}'s results root to its range root) is missing`);
		fail(`receipt: header ${C.height} carries the results of blocks ${first}..${C.exec_height}, the transaction is in block ${h.height}`);
	}
	if (range) {
		const ri = num(range.index, 'receipt_proof.range.index');
		const rs = num(range.tree_size, 'receipt_proof.range.tree_size');
		if (ri !== h.height - first)
			fail(`receipt: range.index is ${ri}, block ${h.height} is leaf ${h.height - first} of the range ${first}..${C.exec_height}`);
		if (rs !== C.exec_height - first + 1)
			fail(`receipt: range.tree_size is ${rs}, the range ${first}..${C.exec_height} has ${C.exec_height - first + 1} blocks`);
		rpath = hashList(range.path, 'receipt_proof.range.path');
	}
	steps.ok(`receipt: header ${C.height} is the one executing block ${h.height} (exec_height ${C.exec_height}${range ? `, range ${first}..${C.exec_height}` : ''})`);

	// 2-3. The receipt under the block's results root R, R under C's.
	const rh = await receiptHash(rb);
	const R = await inclusionRoot(h.tx_count, index, await logLeafHash(rh), path);
	if (R === null)
		fail(`receipt: inclusion path has the wrong length for leaf ${index} of ${h.tx_count}`);
	const Rx = toHex(R);
	if (rp.results_root !== undefined && rp.results_root !== null) {
		const claimed = toHex(fromHex(rp.results_root, 'receipt_proof.results_root', 32));
		if (claimed !== Rx)
			fail(`receipt: inclusion proof does not lead from receipt ${toHex(rh).slice(0, 16)}… (leaf ${index} of ${h.tx_count}) to the block's results_root ${claimed.slice(0, 16)}… (it leads to ${Rx.slice(0, 16)}…)`);
	}
	steps.ok(`receipt: inclusion proof: receipt ${index} of ${h.tx_count} (hash ${toHex(rh).slice(0, 16)}…) is under block ${h.height}'s results root ${Rx.slice(0, 16)}…`);
	if (!range) {
		if (Rx !== C.results_root)
			fail(`receipt: block ${h.height}'s results root ${Rx.slice(0, 16)}… is not the results_root ${C.results_root.slice(0, 16)}… of header ${C.height}, which executes it`);
		steps.ok(`receipt: header ${C.height} carries exactly this results root`);
	} else {
		const ok = await verifyInclusion(fromHex(C.results_root, 'results_root'), C.exec_height - first + 1, h.height - first, await logLeafHash(R), rpath);
		if (!ok)
			fail(`receipt: range path does not lead from block ${h.height}'s results root (leaf ${h.height - first} of ${C.exec_height - first + 1}) to the range root ${C.results_root.slice(0, 16)}… of header ${C.height}`);
		steps.ok(`receipt: range proof: block ${h.height}'s results root is leaf ${h.height - first} of ${C.exec_height - first + 1} under header ${C.height}'s range root ${C.results_root.slice(0, 16)}…`);
	}

	// 4. The bytes mean one thing and belong to this transaction.
	let rc;
	try {
		rc = parseReceipt(rb);
	} catch (e) {
		if (e instanceof VerifyError)
			fail(`receipt does not decode: ${e.message}`);
		throw e;
	}
	if (rc.tx_id !== toHex(id))
		fail(`receipt is for tx ${rc.tx_id.slice(0, 16)}…, not ${toHex(id).slice(0, 16)}…`);
	steps.ok(`receipt decodes and names this transaction: outcome ${rc.status}${rc.status === 'ok' ? '' : `: ${rc.error}`}, gas ${rc.gas_used}, ${rc.events.length} event${rc.events.length === 1 ? '' : 's'}`);
	return { ...rc, height: C.height, header_hash: c.hash, range: range ? [first, C.exec_height] : null };
}

// Verifies a /v1/tx/{id} answer: returns {ok, steps, error, tx, epoch, receipt}.
// receipt is the proven outcome (parseReceipt's fields plus height and
// header_hash of the header carrying it), null when not yet provable.
// net (optional, see walkEpochs) lets it follow validator changes when the
// block's QC is of an epoch after the trusted one; epoch is the epoch whose
// set certified the block.
export async function verifyTxBundle(j, trustIn, net) {
	const steps = new Steps();
	let tx = null;
	let epoch = null;
	let receipt = null;
	try {
		const trust = parseTrust(trustIn);
		if (!j || typeof j !== 'object')
			fail('not a transaction answer');
		if (j.status !== 'committed' || !j.proof || !j.block)
			fail('transaction is not committed yet: there is no inclusion proof');
		tx = parseTx(fromHex(j.tx_hex, 'tx_hex'));
		const id = await txId(tx.body);
		tx.id = toHex(id);
		steps.ok(`transaction decodes; its id (recomputed) is ${tx.id}`);
		if (typeof j.id === 'string' && j.id.toLowerCase() !== tx.id)
			fail(`the node calls it ${j.id.slice(0, 16)}…, but its bytes hash to ${tx.id.slice(0, 16)}…`);
		if (!(await ed25519Verify(fromHex(tx.sender, 'sender', 32), tx.sig, concat(TAG_TX, tx.body))))
			fail('transaction signature is not the sender\'s');
		steps.ok(`signed by sender ${tx.sender.slice(0, 16)}…`);
		const c = await certify(j.block, trust, steps, net);
		const h = c.h;
		epoch = c.trust.epoch;
		if (tx.chain_id !== h.chain_id)
			fail(`transaction is for chain "${tx.chain_id}", the block for "${h.chain_id}"`);
		const p = j.proof;
		const index = Number(p.index), size = Number(p.tree_size);
		if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0)
			fail('proof index or tree_size is not a number');
		if (size !== h.tx_count)
			fail(`proof is for a tree of ${size} transactions, the header says ${h.tx_count}`);
		if (!Array.isArray(p.path))
			fail('proof path is not a list');
		const path = p.path.map((x, i) => fromHex(x, `proof path[${i}]`, 32));
		const ok = await verifyInclusion(fromHex(h.tx_root, 'tx_root'), size, index, await logLeafHash(id), path);
		if (!ok)
			fail(`inclusion proof does not lead from tx ${tx.id.slice(0, 16)}… (position ${index} of ${size}) to the header's tx_root ${h.tx_root.slice(0, 16)}…`);
		steps.ok(`inclusion proof: transaction ${index} of ${size} is under tx_root ${h.tx_root.slice(0, 16)}…`);
		tx.height = h.height;
		receipt = await verifyReceipt(j, c, c.trust, id, index, steps, net);
	} catch (e) {
		return { ...settle(steps, e), tx, epoch, receipt: null };
	}
	return { ...settle(steps, null), tx, epoch, receipt };
}

// Verifies a /v1/state?…&prove=1 answer: returns {ok, steps, error, claim,
// epoch}; net as for verifyTxBundle.
export async function verifyStateBundle(j, trustIn, net) {
	const steps = new Steps();
	let claim = null;
	let epoch = null;
	try {
		const trust = parseTrust(trustIn);
		if (!j || typeof j !== 'object')
			fail('not a state answer');
		if (!j.header)
			fail('no certified header executes this state version yet: try again after the next block');
		const key = fromHex(j.key_hex, 'key_hex');
		const found = j.found === true;
		const value = found ? fromHex(j.value_hex, 'value_hex') : null;
		const proof = await decodeSmtProof(fromHex(j.proof_hex, 'proof_hex'));
		steps.ok(`state proof decodes (depth ${proof.depth}, ${found ? 'inclusion' : 'non-inclusion'})`);
		const c = await certify(j.header, trust, steps, net);
		const h = c.h;
		epoch = c.trust.epoch;
		if (j.version !== undefined && Number(j.version) !== h.exec_height)
			fail(`proof is for state version ${j.version}, the header carries the state after block ${h.exec_height}`);
		await verifySmt(fromHex(h.state_root, 'state_root'), key, value, proof);
		claim = { key_hex: toHex(key), found, value_hex: value ? toHex(value) : null, version: h.exec_height, height: h.height };
		steps.ok(found ? `key is present with this value in the state after block ${h.exec_height} (state_root ${h.state_root.slice(0, 16)}…)` :
			`key is absent from the state after block ${h.exec_height} (state_root ${h.state_root.slice(0, 16)}…)`);
	} catch (e) {
		return { ...settle(steps, e), claim, epoch };
	}
	return { ...settle(steps, null), claim, epoch };
}
