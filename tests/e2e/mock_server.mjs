// A small stand-in for a danshari node, for the explorer's browser test when
// no devnet can run: serves web/ and the /v1 JSON + SSE shapes of
// docs/EXPLORER.md, with a chain it makes itself (4 validators, a
// block every BLOCK_MS, real Ed25519 QCs, RFC 6962 tx and results roots, a
// sparse Merkle state tree), so the verify page checks real proofs. Header
// h executes block h-1 alone, so the receipts of block b are proven under
// the results_root of header b+1 (no range roots here).
//   node tests/e2e/mock_server.mjs [--port N] [--web DIR]   (prints "listening PORT")
// Encoders here are written independently of web/verify.js (decoders); the
// JS unit test checks verify.js against vectors from the C code.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseTx, decodeValue, fromHex, toHex } from '../../web/verify.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : def;
};
const PORT = Number(opt('--port', '0'));
const WEB = path.resolve(opt('--web', path.join(here, '..', '..', 'web')));
const BLOCK_MS = Number(opt('--block-ms', '1000'));
const CHAIN = 'danshari-mock';
const MAX_BLOCKS = 5000;   // the mock stops growing after this many blocks
const MAX_PENDING = 1000;
const MAX_SSE = 32;

const sha = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
const te = new TextEncoder();
const tag = (s) => Buffer.from(s, 'ascii');

function uvar(v) {
	let x = BigInt(v);
	const out = [];
	do {
		let b = Number(x & 0x7fn);
		x >>= 7n;
		if (x) b |= 0x80;
		out.push(b);
	} while (x);
	return Buffer.from(out);
}
const str = (s) => Buffer.concat([uvar(Buffer.byteLength(s)), Buffer.from(s)]);

// Canonical value encoding of a JSON value (ints, strings, arrays, maps).
function encValue(v) {
	if (v === null) return Buffer.of(0);
	if (v === false) return Buffer.of(1);
	if (v === true) return Buffer.of(2);
	if (typeof v === 'number') {
		const b = BigInt(v);
		return Buffer.concat([Buffer.of(3), uvar(b >= 0n ? b << 1n : ((-b) << 1n) - 1n)]);
	}
	if (typeof v === 'string') return Buffer.concat([Buffer.of(4), str(v)]);
	if (Array.isArray(v)) return Buffer.concat([Buffer.of(6), uvar(v.length), ...v.map(encValue)]);
	const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
	return Buffer.concat([Buffer.of(7), uvar(keys.length), ...keys.map((k) => Buffer.concat([str(k), encValue(v[k])]))]);
}

// ---- validators -------------------------------------------------------------------
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const vals = [1, 2, 3, 4].map((i) => {
	const priv = crypto.createPrivateKey({ key: Buffer.concat([PKCS8, Buffer.alloc(32, i)]), format: 'der', type: 'pkcs8' });
	const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
	return { priv, pub: Buffer.from(pub) };
});
const valsetEnc = Buffer.concat([uvar(0), uvar(vals.length), ...vals.map((v) => Buffer.concat([v.pub, uvar(1)]))]);
const valsetHash = sha(tag('danshari/valset/v1'), valsetEnc);

// ---- RFC 6962 -----------------------------------------------------------------------
const leafH = (d) => sha(Buffer.of(0), d);
const nodeH = (l, r) => sha(Buffer.of(1), l, r);
function mth(leaves) {
	if (leaves.length === 0) return sha(Buffer.alloc(0));
	if (leaves.length === 1) return leaves[0];
	let k = 1;
	while (k * 2 < leaves.length) k *= 2;
	return nodeH(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function mpath(i, leaves) {
	if (leaves.length <= 1) return [];
	let k = 1;
	while (k * 2 < leaves.length) k *= 2;
	return i < k ? [...mpath(i, leaves.slice(0, k)), mth(leaves.slice(k))] : [...mpath(i - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

// ---- sparse Merkle tree (the reference definition, by recursion) -------------------------
const E = sha(tag('danshari/smt/empty/v1'));
const bitOf = (h, i) => (h[i >> 3] >> (7 - (i & 7))) & 1;
const smtLeaf = (kh, vh) => sha(tag('danshari/smt/leaf/v1'), kh, vh);
const smtNode = (l, r) => sha(tag('danshari/smt/node/v1'), l, r);
function smtHash(items, depth) { // items: [{kh, vh}] sharing the first `depth` bits
	if (items.length === 0) return E;
	if (items.length === 1) return smtLeaf(items[0].kh, items[0].vh);
	const l = items.filter((x) => !bitOf(x.kh, depth)), r = items.filter((x) => bitOf(x.kh, depth));
	return smtNode(smtHash(l, depth + 1), smtHash(r, depth + 1));
}
function smtItems(state) {
	return [...state].map(([k, v]) => ({ kh: sha(Buffer.from(k, 'hex')), vh: sha(v) }));
}
function smtProve(state, key) {
	const kh = sha(key);
	let items = smtItems(state);
	const sibs = []; // root-first
	let depth = 0;
	while (items.length > 1) {
		const b = bitOf(kh, depth);
		const same = items.filter((x) => bitOf(x.kh, depth) === b), other = items.filter((x) => bitOf(x.kh, depth) !== b);
		sibs.push(smtHash(other, depth + 1));
		items = same;
		depth++;
	}
	const parts = [];
	if (items.length === 1) parts.push(Buffer.of(1), items[0].kh, items[0].vh);
	else parts.push(Buffer.of(0));
	const siblings = sibs.reverse(); // sibling 0 is next to the end point
	const bitmap = Buffer.alloc(Math.ceil(depth / 8));
	const listed = [];
	siblings.forEach((s, i) => {
		if (!s.equals(E)) {
			bitmap[i >> 3] |= 0x80 >> (i & 7);
			listed.push(s);
		}
	});
	parts.push(uvar(depth), bitmap, ...listed);
	return Buffer.concat(parts);
}

// ---- the chain -------------------------------------------------------------------------------
const blocks = [];          // {h (fields), hex, hash, txs: [{id, hex, tx, receipt, index}], qc}
const stateAt = [];         // stateAt[v]: Map keyHex -> value bytes after executing block v
const events = [];          // {id, type, data} in id order
let pending = [];
const sse = new Set();

function encHeader(h) {
	return Buffer.concat([Buffer.of(1), str(h.chain_id), uvar(h.height), uvar(h.epoch), uvar(h.round), h.parent_hash, h.proposer,
		uvar(h.time_ms), uvar(h.tx_count), h.tx_root, uvar(h.exec_height), h.state_root, h.results_root, h.history_root, h.valset_hash]);
}

function makeQC(height, hash, round) {
	const vote = Buffer.concat([uvar(0), uvar(round + 1), uvar(height + 1), sha(tag('mock/next'), hash), uvar(round), hash, uvar(height), hash]);
	const msg = Buffer.concat([tag('danshari/vote/v1'), str(CHAIN), vote]);
	const signers = [0, 1, 2, 3].filter((i) => i !== height % 4).slice(0, 3); // a different validator sits out each block
	const sigs = signers.map((i) => Buffer.concat([uvar(i), crypto.sign(null, msg, vals[i].priv)]));
	return { hex: toHex(Buffer.concat([vote, uvar(signers.length), ...sigs])), round: round + 1, block_hash: toHex(sha(tag('mock/next'), hash)),
		commit_height: height, commit_hash: toHex(hash), signers };
}

// Receipt encoding (docs/PROTOCOL.md §7.1) and hash.
const lenBytes = (b) => Buffer.concat([uvar(b.length), b]);
function encReceipt(idBuf, r) {
	return Buffer.concat([Buffer.of(1), idBuf, Buffer.of(r.status === 'ok' ? 0 : 1), str(r.error), uvar(r.gas_used), uvar(r.events.length),
		...r.events.map((e) => Buffer.concat([str(e.name), lenBytes(encValue(e.value))])), lenBytes(encValue(r.return ?? null))]);
}
const receiptHash = (enc) => sha(tag('danshari/receipt/v1'), enc);

function execute(state, t) {
	const next = new Map(state);
	const a = t.tx.args;
	if (t.tx.target === 'kv' && t.tx.method === 'put' && a && typeof a.key === 'string' && a.key.length <= 256) {
		next.set(toHex(te.encode(a.key)), encValue(a.value ?? null));
		return { next, receipt: { status: 'ok', error: '', gas_used: 120 + a.key.length, events: [{ name: 'put', value: { key: a.key } }], return: null } };
	}
	return { next: state, receipt: { status: 'failed', error: `no method ${t.tx.target}.${t.tx.method}`, gas_used: 10, events: [], return: null } };
}

function publish(type, id, data) {
	const ev = { id, type, data: JSON.stringify(data) };
	events.push(ev);
	for (const c of sse)
		if (id >= c.from) sseWrite(c.res, ev);
}

function produce() {
	if (blocks.length >= MAX_BLOCKS) return;
	const height = blocks.length;
	const parent = height ? blocks[height - 1] : null;
	const txs = height ? pending.splice(0, 100) : [];
	const ids = txs.map((t) => t.idBuf);
	const exec = Math.max(0, height - 1);
	const st = stateAt[exec] || new Map();
	const h = {
		version: 1, chain_id: CHAIN, height, epoch: 0, round: height === 0 ? 0 : height + 1,
		parent_hash: parent ? parent.hash : Buffer.alloc(32), proposer: height ? vals[height % 4].pub : Buffer.alloc(32),
		time_ms: Date.now(), tx_count: txs.length, tx_root: mth(ids.map(leafH)), exec_height: exec,
		state_root: smtHash(smtItems(st), 0), results_root: height ? blocks[exec].resultsRoot : mth([]),
		history_root: mth(blocks.map((b) => leafH(b.hash))), valset_hash: valsetHash,
	};
	const hex = encHeader(h);
	const hash = sha(tag('danshari/header/v1'), hex);
	const b = { h, hex, hash, txs: [], qc: height ? makeQC(height, hash, h.round) : null };
	let state = stateAt[height - 1] || new Map([[toHex(te.encode('kv/motd')), encValue('hello from the mock')]]);
	txs.forEach((t, i) => {
		const { next, receipt } = execute(state, t);
		state = next;
		b.txs.push({ ...t, index: i, receipt, rbytes: encReceipt(t.idBuf, receipt) });
	});
	b.rleaves = b.txs.map((t) => leafH(receiptHash(t.rbytes)));
	b.resultsRoot = mth(b.rleaves);
	stateAt[height] = state;
	blocks.push(b);
	let seq = 0;
	publish('block', height * 1e6 + seq++, { height, hash: toHex(hash), tx_count: txs.length, time_ms: h.time_ms, proposer: toHex(h.proposer) });
	for (const t of b.txs) {
		publish('tx', height * 1e6 + seq++, { id: t.id, height, index: t.index, target: t.tx.target, method: t.tx.method, status: t.receipt.status });
		for (const e of t.receipt.events)
			publish('event', height * 1e6 + seq++, { tx_id: t.id, height, name: e.name, value: e.value });
	}
}

function blockJSON(b) {
	const h = b.h;
	return { height: h.height, hash: toHex(b.hash), parent_hash: toHex(h.parent_hash), round: h.round, epoch: h.epoch, proposer: toHex(h.proposer),
		time_ms: h.time_ms, tx_count: h.tx_count, tx_root: toHex(h.tx_root), exec_height: h.exec_height, state_root: toHex(h.state_root),
		results_root: toHex(h.results_root), history_root: toHex(h.history_root), valset_hash: toHex(h.valset_hash), header_hex: toHex(b.hex),
		txs: b.txs.map((t) => t.id), qc: b.qc };
}

function txJSON(t, b) {
	const x = t.tx;
	const o = { id: t.id, status: b ? 'committed' : 'pending', height: b ? b.h.height : null, index: b ? t.index : null,
		tx: { chain_id: x.chain_id, sender: x.sender, nonce: x.nonce, expiry_height: x.expiry_height, target: x.target, method: x.method, args: x.args },
		tx_hex: t.hex };
	if (b) {
		const leaves = b.txs.map((y) => leafH(y.idBuf));
		o.receipt = t.receipt;
		o.proof = { leaf: t.id, index: t.index, tree_size: leaves.length, path: mpath(t.index, leaves).map(toHex), tx_root: toHex(b.h.tx_root) };
		o.block = blockJSON(b);
		o.receipt_hex = toHex(t.rbytes);
		// Header b+1 executes block b: it carries R(b) as its results_root.
		const c = blocks[b.h.height + 1];
		if (c) {
			const header = blockJSON(c);
			delete header.txs;
			o.receipt_proof = { receipt_hex: o.receipt_hex, leaf: toHex(receiptHash(t.rbytes)), index: t.index, tree_size: b.rleaves.length,
				path: mpath(t.index, b.rleaves).map(toHex), results_root: toHex(b.resultsRoot), header };
		} else {
			o.receipt_proof = 'pending';
		}
	}
	return o;
}

function validatorsJSON() {
	return vals.map((v, i) => ({ index: i, public_key: toHex(v.pub), p2p: `127.0.0.1:${27000 + i}`, connected: i !== 3 || blocks.length % 20 < 15, last_seen_ms: Date.now() - i * 700 }));
}

// ---- HTTP -----------------------------------------------------------------------------------
function send(res, code, obj, extra = {}) {
	const body = JSON.stringify(obj);
	res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra });
	res.end(body);
}
const err = (res, code, c, m) => send(res, code, { error: { code: c, message: m } });

function sseWrite(res, ev) {
	res.write(`id: ${ev.id}\nevent: ${ev.type}\ndata: ${ev.data}\n\n`);
}

const TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', json: 'application/json', svg: 'image/svg+xml', png: 'image/png' };

function serveStatic(req, res, p) {
	if (p.endsWith('/')) p += 'index.html';
	const segs = p.split('/').filter(Boolean);
	if (!segs.every((s) => /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(s))) return err(res, 404, 'NOT_FOUND', 'no such file');
	const f = path.join(WEB, ...segs);
	fs.stat(f, (e, st) => {
		if (e || !st.isFile()) return err(res, 404, 'NOT_FOUND', 'no such file');
		res.writeHead(200, { 'Content-Type': TYPES[path.extname(f).slice(1)] || 'application/octet-stream', 'X-Content-Type-Options': 'nosniff' });
		fs.createReadStream(f).pipe(res);
	});
}

function findTx(id) {
	for (const b of blocks)
		for (const t of b.txs)
			if (t.id === id) return [t, b];
	const p = pending.find((t) => t.id === id);
	return p ? [p, null] : null;
}

function acceptTx(res, bytes) {
	let tx;
	try {
		tx = parseTx(bytes);
	} catch (e) {
		return err(res, 422, 'BAD_TX', e.message);
	}
	if (tx.chain_id !== CHAIN) return err(res, 422, 'WRONG_CHAIN', `chain is ${CHAIN}`);
	const pub = crypto.createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), fromHex(tx.sender)]), format: 'der', type: 'spki' });
	if (!crypto.verify(null, Buffer.concat([tag('danshari/tx/v1'), tx.body]), pub, tx.sig)) return err(res, 422, 'BAD_SIGNATURE', 'signature invalid');
	const idBuf = sha(tag('danshari/txid/v1'), tx.body);
	const id = toHex(idBuf);
	if (findTx(id)) return err(res, 409, 'REPLAY', 'already known');
	if (pending.length >= MAX_PENDING) return err(res, 503, 'MEMPOOL_FULL', 'try later');
	pending.push({ id, idBuf, hex: toHex(bytes), tx });
	send(res, 202, { id, status: 'pending' });
}

const server = http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	const p = u.pathname;
	const tip = blocks[blocks.length - 1];
	let m;
	if (req.method === 'POST' && p === '/v1/tx') {
		const chunks = [];
		let n = 0;
		req.on('data', (c) => {
			n += c.length;
			if (n <= 1 << 20) chunks.push(c);
		});
		req.on('end', () => {
			if (n > 1 << 20) return err(res, 413, 'PAYLOAD_TOO_LARGE', 'body too big');
			const body = Buffer.concat(chunks);
			if ((req.headers['content-type'] || '').startsWith('application/json')) {
				try {
					const j = JSON.parse(body);
					return acceptTx(res, fromHex(j.tx_hex, 'tx_hex'));
				} catch (e) {
					return err(res, 400, 'BAD_JSON', e.message);
				}
			}
			acceptTx(res, new Uint8Array(body));
		});
		return;
	}
	if (req.method !== 'GET' && req.method !== 'HEAD') return err(res, 405, 'METHOD_NOT_ALLOWED', 'GET only');
	if (p === '/healthz') return send(res, 200, { ok: true, height: tip.h.height });
	if (p === '/v1/status')
		return send(res, 200, { chain_id: CHAIN, node_id: toHex(vals[0].pub), version: '0.1.0-mock', height: tip.h.height, last_block_hash: toHex(tip.hash),
			round: tip.h.round, epoch: 0, mempool_size: pending.length, peers_connected: 3, validators: validatorsJSON() });
	if (p === '/v1/validators') return send(res, 200, { epoch: 0, valset_hash: toHex(valsetHash), validators: validatorsJSON() });
	if (p === '/v1/blocks') {
		const lim = Math.min(100, Number(u.searchParams.get('limit') || 20));
		return send(res, 200, { blocks: blocks.slice(-lim).reverse().map((b) => ({ height: b.h.height, hash: toHex(b.hash), time_ms: b.h.time_ms, tx_count: b.h.tx_count, proposer: toHex(b.h.proposer) })) });
	}
	if ((m = p.match(/^\/v1\/blocks\/(latest|[0-9]+)$/))) {
		const b = m[1] === 'latest' ? tip : blocks[Number(m[1])];
		return b ? send(res, 200, blockJSON(b)) : err(res, 404, 'NOT_FOUND', 'no such block');
	}
	if ((m = p.match(/^\/v1\/tx\/([0-9a-f]{64})$/))) {
		const f = findTx(m[1]);
		return f ? send(res, 200, txJSON(f[0], f[1])) : err(res, 404, 'NOT_FOUND', 'unknown transaction');
	}
	if (p === '/v1/state') {
		let key;
		try {
			key = u.searchParams.has('key') ? fromHex(u.searchParams.get('key'), 'key') : te.encode(u.searchParams.get('key_str') || '');
		} catch (e) {
			return err(res, 400, 'BAD_PARAM', e.message);
		}
		if (!key.length) return err(res, 400, 'BAD_PARAM', 'key or key_str required');
		const version = Math.max(0, blocks.length - 2); // the newest version a header carries
		const st = stateAt[version];
		const v = st.get(toHex(key));
		let value = null;
		if (v) {
			try {
				value = decodeValue(v);
			} catch {
				value = null;
			}
		}
		const hdr = blocks.find((b) => b.h.height > 0 && b.h.exec_height === version);
		return send(res, 200, { key_hex: toHex(key), found: !!v, value_hex: v ? toHex(v) : null, value, version, root: toHex(smtHash(smtItems(st), 0)),
			proof_hex: toHex(smtProve(st, key)), header: hdr ? blockJSON(hdr) : null });
	}
	if (p === '/v1/contracts') return send(res, 200, { contracts: [{ name: 'kv', version: 1, code_hash: toHex(sha(tag('kv'))), deployed_height: 0 }] });
	if (p === '/v1/proposals')
		return send(res, 200, { proposals: [{ id: toHex(sha(tag('p1'))), kind: 'add_validator', proposer_org: 'city-of-example', status: 'open', votes_for: 2, votes_against: 0, created_height: 1, payload: { public_key: toHex(sha(tag('newkey'))) } }] });
	if (p === '/v1/events') {
		if (sse.size >= MAX_SSE) return err(res, 503, 'TOO_MANY_SUBSCRIBERS', 'full');
		const last = req.headers['last-event-id'];
		const from = last !== undefined ? Number(last) + 1 : u.searchParams.has('from') ? Number(u.searchParams.get('from')) * 1e6 : Infinity;
		res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
		res.write('retry: 2000\n\n');
		const c = { res, from };
		for (const ev of events)
			if (ev.id >= from) sseWrite(res, ev);
		c.from = 0;
		sse.add(c);
		req.on('close', () => sse.delete(c));
		return;
	}
	if (p.startsWith('/v1/')) return err(res, 404, 'NOT_FOUND', 'unknown path');
	serveStatic(req, res, p);
});

produce();
for (let i = 0; i < 3; i++) produce();
const timer = setInterval(produce, BLOCK_MS);
server.listen(PORT, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
const stop = () => {
	clearInterval(timer);
	for (const c of sse) c.res.end();
	server.close(() => process.exit(0));
	setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
