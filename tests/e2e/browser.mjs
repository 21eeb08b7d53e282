// Drives headless chromium over the Chrome DevTools Protocol against a node
// (or tests/e2e/mock_server.mjs) serving the explorer, and prints TAP.
//   node tests/e2e/browser.mjs --base http://127.0.0.1:PORT --profile DIR --shots DIR [--label mock]
// Checks: the pages render, the live list shows a transaction submitted
// during the test, the verify page says "verified" for real tx and state
// proofs and refuses tampered ones, no uncaught script errors, no sideways
// scrolling at phone width. Saves screenshots (explorer*.png) in --shots.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

const argv = process.argv.slice(2);
const opt = (n, d) => {
	const i = argv.indexOf(n);
	return i >= 0 ? argv[i + 1] : d;
};
const BASE = opt('--base');
const PROFILE = opt('--profile');
const SHOTS = opt('--shots', 'build');
const LABEL = opt('--label', 'node');
const CHROMIUM = opt('--chromium', '/usr/bin/chromium');
const KEY_SEED = opt('--key-seed', ''); // sender's Ed25519 seed (hex); a fresh key when absent
const STEP_MS = 30000; // bound on every wait
// Epoch mode (browser.sh, after a validator change on the devnet): verify the
// transaction HANDOFF_TX of a later epoch from the trusted set TRUST_KEYS
// (comma-separated, epoch TRUST_EPOCH, chain TRUST_CHAIN), which makes the
// verify page walk the epoch handoffs; then a state proof of STATE_KEY.
const HANDOFF_TX = opt('--handoff-tx', '');
const TRUST_KEYS = opt('--trust-keys', '');
const TRUST_EPOCH = Number(opt('--trust-epoch', '0'));
const TRUST_CHAIN = opt('--trust-chain', '');
const HANDOFFS = Number(opt('--handoffs', '1'));
const STATE_KEY = opt('--state-key', '');
if (!BASE || !PROFILE) {
	console.error('usage: browser.mjs --base URL --profile DIR [--shots DIR] [--label NAME]');
	process.exit(2);
}

let n = 0, failed = 0;
function ok(cond, what, detail) {
	n++;
	if (cond) {
		console.log(`ok ${n} - ${LABEL}: ${what}`);
	} else {
		failed++;
		console.log(`not ok ${n} - ${LABEL}: ${what}`);
		if (detail !== undefined)
			console.log(`# ${String(detail).split('\n').join('\n# ')}`);
	}
	return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- chromium + CDP -------------------------------------------------------------------
fs.mkdirSync(PROFILE, { recursive: true });
const chrome = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
	'--hide-scrollbars', '--mute-audio', `--user-data-dir=${PROFILE}`, '--remote-debugging-port=0', 'about:blank'],
{ stdio: ['ignore', 'ignore', 'pipe'] });
let chromeLog = '';
chrome.stderr.on('data', (d) => {
	if (chromeLog.length < 20000) chromeLog += d;
});
const killChrome = () => {
	try {
		chrome.kill('SIGKILL');
	} catch {
		// already gone
	}
};
process.on('exit', killChrome);

async function devtoolsUrl() {
	const f = path.join(PROFILE, 'DevToolsActivePort');
	for (let i = 0; i < 300; i++) {
		try {
			const [port, p] = fs.readFileSync(f, 'utf8').split('\n');
			if (port && p) return `ws://127.0.0.1:${port}${p}`;
		} catch {
			// not written yet
		}
		if (chrome.exitCode !== null) throw new Error(`chromium exited: ${chromeLog.slice(-2000)}`);
		await sleep(100);
	}
	throw new Error('chromium did not open its DevTools port within 30 s');
}

let ws, seq = 0, session = null;
const waiting = new Map();
const exceptions = [];
function cdp(method, params = {}, sid = session) {
	const id = ++seq;
	const msg = { id, method, params };
	if (sid) msg.sessionId = sid;
	ws.send(JSON.stringify(msg));
	return new Promise((resolve, reject) => {
		const t = setTimeout(() => {
			waiting.delete(id);
			reject(new Error(`${method}: no answer within ${STEP_MS} ms`));
		}, STEP_MS);
		waiting.set(id, { resolve, reject, t });
	});
}

async function evaluate(expr) {
	const r = await cdp('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true });
	if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
	return r.result.value;
}

async function waitFor(expr, ms = STEP_MS) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		try {
			last = await evaluate(expr);
			if (last) return last;
		} catch (e) {
			last = e.message;
		}
		await sleep(150);
	}
	return false;
}

async function go(hash, ready) {
	await evaluate(`location.hash = ${JSON.stringify(hash)}; true`);
	return waitFor(`document.body.getAttribute('data-ready') === ${JSON.stringify(ready)} && location.hash === ${JSON.stringify(hash)}`);
}

async function viewport(width, height, mobile) {
	await cdp('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: mobile ? 2 : 1, mobile });
}

async function shot(file) {
	const r = await cdp('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
	fs.mkdirSync(SHOTS, { recursive: true });
	fs.writeFileSync(path.join(SHOTS, file), Buffer.from(r.data, 'base64'));
}

// ---- a signed transaction, encoded here (docs/PROTOCOL.md §3) -----------------------
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
function buildTx(chainId, height, key, value) {
	const { privateKey, publicKey } = KEY_SEED ?
		(() => {
			const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(KEY_SEED, 'hex')]), format: 'der', type: 'pkcs8' });
			return { privateKey: priv, publicKey: crypto.createPublicKey(priv) };
		})() : crypto.generateKeyPairSync('ed25519');
	const pk = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
	// args = {"key": key, "value": value} (keys sorted, value a small int)
	const args = Buffer.concat([Buffer.of(7, 2), str('key'), Buffer.of(4), str(key), str('value'), Buffer.of(3), uvar(value * 2)]);
	const body = Buffer.concat([Buffer.of(1), str(chainId), pk, uvar(BigInt('0x' + crypto.randomBytes(6).toString('hex'))), uvar(height + 1000),
		str('kv'), str('put'), uvar(args.length), args]);
	const sig = crypto.sign(null, Buffer.concat([Buffer.from('danshari/tx/v1'), body]), privateKey);
	const id = crypto.createHash('sha256').update(Buffer.concat([Buffer.from('danshari/txid/v1'), body])).digest('hex');
	return { hex: Buffer.concat([body, sig]).toString('hex'), id };
}

async function http(p, opts) {
	const ctl = new AbortController();
	const t = setTimeout(() => ctl.abort(), 10000);
	try {
		const r = await fetch(BASE + p, { ...opts, signal: ctl.signal });
		return { status: r.status, body: await r.json().catch(() => null) };
	} finally {
		clearTimeout(t);
	}
}

// Replaces one hex digit inside the string at `path` (keys from the top of
// the JSON in the verify box), then verifies again. By path, not by the
// first match of a field name: the tx answer also carries a receipt proof
// with its own header_hex and qc.hex (checked too, by their own paths).
const tamperJs = (path) => `(() => {
	const a = document.getElementById('verify-json');
	let j;
	try { j = JSON.parse(a.value); } catch (e) { return false; }
	const keys = ${JSON.stringify(path)};
	let o = j;
	for (let i = 0; o && i < keys.length - 1; i++) o = o[keys[i]];
	const k = keys[keys.length - 1];
	if (!o || typeof o[k] !== 'string' || !/^[0-9a-f]{40,}$/.test(o[k])) return false;
	const s = o[k], at = Math.floor(s.length / 2);
	o[k] = s.slice(0, at) + (s[at] === '0' ? '1' : '0') + s.slice(at + 1);
	a.value = JSON.stringify(j, null, 2);
	document.getElementById('verify-btn').click();
	return true;
})()`;

async function main() {
	ws = new WebSocket(await devtoolsUrl(), { perMessageDeflate: false, maxPayload: 64 << 20 });
	await new Promise((res, rej) => {
		ws.once('open', res);
		ws.once('error', rej);
	});
	ws.on('message', (data) => {
		const m = JSON.parse(data);
		if (m.id && waiting.has(m.id)) {
			const w = waiting.get(m.id);
			waiting.delete(m.id);
			clearTimeout(w.t);
			if (m.error) w.reject(new Error(`${m.error.message}`));
			else w.resolve(m.result);
		} else if (m.method === 'Runtime.exceptionThrown') {
			exceptions.push(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text);
		} else if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error' && !/favicon/.test(m.params.entry.url || '')) {
			exceptions.push(`${m.params.entry.text} ${m.params.entry.url || ''}`);
		}
	});
	const { targetId } = await cdp('Target.createTarget', { url: 'about:blank' }, null);
	session = (await cdp('Target.attachToTarget', { targetId, flatten: true }, null)).sessionId;
	await cdp('Page.enable');
	await cdp('Runtime.enable');
	await cdp('Log.enable');
	await viewport(1280, 900, false);

	if (HANDOFF_TX)
		return mainHandoff();
	const st = await http('/v1/status');
	if (!ok(st.status === 200 && st.body && typeof st.body.chain_id === 'string', '/v1/status answers', JSON.stringify(st)))
		return;
	await cdp('Page.navigate', { url: `${BASE}/#/` });
	ok(await waitFor(`document.body.getAttribute('data-ready') === 'pageHome'`), 'home page renders');
	ok(await waitFor(`document.querySelectorAll('#live-blocks li[data-height]').length > 0`), 'latest blocks are listed',
		await evaluate('document.getElementById("app").innerText.slice(0, 500)').catch((e) => e.message));
	ok(await waitFor(`document.querySelector('.live-dot.on') !== null`), 'live feed (SSE) connected');

	// A new transaction must show up in the live list without a reload.
	// Fresh height: the chain may have moved on a lot while pages loaded.
	const now = await http('/v1/status');
	const tx = buildTx(st.body.chain_id, now.body?.height ?? st.body.height, `e2e-${crypto.randomBytes(3).toString('hex')}`, 7);
	const sub = await http('/v1/tx', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tx_hex: tx.hex }) });
	ok(sub.status === 202 && sub.body && sub.body.id === tx.id, 'POST /v1/tx accepts a signed transaction (202, same id)', JSON.stringify(sub));
	ok(await waitFor(`document.querySelector('#live-txs li[data-id="${tx.id}"]') !== null`, 60000), 'live transaction list shows the new transaction',
		await evaluate('document.getElementById("live-txs")?.innerText.slice(0, 400)').catch((e) => e.message));
	await sleep(300);
	await shot('explorer.png');

	ok(await go('#/block/1', 'pageBlock') && await evaluate(`document.querySelector('h1').textContent === 'Block 1'`), 'block page renders');
	ok(await go(`#/tx/${tx.id}`, 'pageTx') && await waitFor(`document.getElementById('app').innerText.includes('kv.put')`), 'transaction page shows the decoded call',
		await evaluate('document.getElementById("app").innerText.slice(0, 400)').catch((e) => e.message));
	const vals = (st.body.validators || []).length;
	ok(await go('#/validators', 'pageValidators') && await evaluate(`document.querySelectorAll('#validators tbody tr').length === ${vals}`), `validators page lists ${vals} validators with liveness`);
	ok(await go('#/proposals', 'pageProposals') && await evaluate(`!!(document.getElementById('proposals') || document.getElementById('proposals-empty'))`), 'proposals page renders');

	// Verify: trust the node's set (the page must warn), then a real proof.
	ok(await go('#/verify', 'pageVerify'), 'verify page renders');
	await evaluate(`document.getElementById('trust-node').click(); true`);
	ok(await waitFor(`!!document.getElementById('trust-warning') && document.getElementById('trust-keys').value.trim().split('\\n').length === ${vals}`),
		'"use the node\'s set" fills the keys and shows the warning');
	ok(await go(`#/verify/tx/${tx.id}`, 'pageVerify') && await waitFor(`document.getElementById('verify-result').getAttribute('data-ok') === '1'`),
		'verify page: real transaction proof is verified',
		await evaluate(`document.getElementById('verify-result').innerText`).catch((e) => e.message));
	ok(await evaluate(`document.getElementById('verdict').textContent.includes('verified')`), 'verify page says "verified"');
	// The outcome is provable once a header executing the tx's block is
	// committed (the next block or a few later): fetch and verify again
	// until the page shows the receipt proven.
	const proven = await waitFor(`(async () => {
		const p = document.getElementById('verify-receipt');
		if (p && p.getAttribute('data-proven') === '1') return true;
		document.getElementById('verify-fetch').click();
		await new Promise((r) => setTimeout(r, 400));
		if (!document.getElementById('verify-json').value.includes('"receipt_proof": {')) return false;
		document.getElementById('verify-btn').click();
		await new Promise((r) => setTimeout(r, 600));
		return document.getElementById('verify-result').getAttribute('data-ok') === '1' &&
			document.getElementById('verify-receipt')?.getAttribute('data-proven') === '1';
	})()`, 40000);
	ok(proven && /^outcome proven: ok gas \d+, \d+ events?; results root carried by header \d+/.test(await evaluate(`document.getElementById('verify-receipt').textContent`).catch(() => '')) &&
		await evaluate(`[...document.querySelectorAll('#verify-result li')].some((li) => /^receipt decodes and names this transaction: outcome ok/.test(li.textContent))`),
	'verify page proves the transaction\'s outcome from its receipt proof: "outcome proven: ok"',
	await evaluate(`document.getElementById('verify-result').innerText`).catch((e) => e.message));
	await shot('explorer-verify.png');
	for (const path of [['tx_hex'], ['block', 'header_hex'], ['block', 'qc', 'hex'],
		['receipt_proof', 'receipt_hex'], ['receipt_proof', 'header', 'header_hex'], ['receipt_proof', 'header', 'qc', 'hex']]) {
		const field = path.join('.');
		await evaluate(`document.getElementById('verify-result').removeAttribute('data-ok'); true`);
		const done = await evaluate(tamperJs(path));
		ok(done && await waitFor(`document.getElementById('verify-result').getAttribute('data-ok') === '0'`) &&
			await evaluate(`document.getElementById('verify-error').textContent.length > 10`),
		`verify page refuses the proof with one hex digit of ${field} changed`,
		await evaluate(`document.getElementById('verify-result').innerText`).catch((e) => e.message));
		if (field === 'block.header_hex')
			await shot('explorer-tampered.png');
		await evaluate(`document.getElementById('verify-fetch').click(); true`);
		await waitFor(`!document.getElementById('verify-result').hasAttribute('data-ok') && document.getElementById('verify-json').value.includes('${tx.id}')`);
	}

	// State proof: a key that exists once the tx executed, and a state version a header carries.
	ok(await go('#/verify/state', 'pageVerify'), 'state verify tab renders');
	const stateOk = await waitFor(`(async () => {
		document.getElementById('verify-input').value = 'kv/motd';
		document.getElementById('verify-fetch').click();
		await new Promise((r) => setTimeout(r, 400));
		if (!document.getElementById('verify-json').value.includes('"header": {')) return false;
		document.getElementById('verify-btn').click();
		await new Promise((r) => setTimeout(r, 400));
		return document.getElementById('verify-result').getAttribute('data-ok') === '1';
	})()`, 40000);
	ok(stateOk, 'verify page: real state proof is verified', await evaluate(`document.getElementById('verify-result').innerText + '\\n' + document.getElementById('verify-json').value.slice(0, 300)`).catch((e) => e.message));
	await evaluate(tamperJs(['proof_hex']));
	ok(await waitFor(`document.getElementById('verify-result').getAttribute('data-ok') === '0'`), 'verify page refuses a tampered state proof');

	// Phone width: everything fits, screenshots for people to look at.
	await viewport(390, 844, true);
	await go('#/', 'pageHome');
	await sleep(400);
	ok(await evaluate(`document.documentElement.scrollWidth <= 392`), 'home page fits a 390 px wide screen (no sideways scroll)',
		await evaluate('document.documentElement.scrollWidth'));
	await shot('explorer-phone.png');
	await go(`#/verify/tx/${tx.id}`, 'pageVerify');
	await waitFor(`document.getElementById('verify-result').getAttribute('data-ok') === '1'`);
	ok(await evaluate(`document.documentElement.scrollWidth <= 392`), 'verify page fits a 390 px wide screen',
		await evaluate('document.documentElement.scrollWidth'));
	await shot('explorer-phone-verify.png');
	await go(`#/tx/${tx.id}`, 'pageTx');
	ok(await evaluate(`document.documentElement.scrollWidth <= 392`), 'transaction page fits a 390 px wide screen');
	await go('#/validators', 'pageValidators');
	ok(await evaluate(`document.documentElement.scrollWidth <= 392`), 'validators page fits a 390 px wide screen',
		await evaluate('document.documentElement.scrollWidth'));
	await shot('explorer-phone-validators.png');

	ok(exceptions.length === 0, 'no uncaught script errors', exceptions.join('\n'));
}

// The verify page, trusting an older validator set than the proof's, must
// walk and show each epoch handoff (docs/EXPLORER.md, "Across epochs").
async function mainHandoff() {
	const trust = { chain_id: TRUST_CHAIN, epoch: TRUST_EPOCH, keys: TRUST_KEYS.split(',').filter(Boolean), source: 'user' };
	await cdp('Page.navigate', { url: `${BASE}/#/verify` });
	ok(await waitFor(`document.body.getAttribute('data-ready') === 'pageVerify'`), 'verify page renders');
	await evaluate(`localStorage.setItem('danshari.trust.v1', ${JSON.stringify(JSON.stringify(trust))}); true`);
	const resultText = () => evaluate(`document.getElementById('verify-result').innerText`).catch((e) => e.message);
	const verified = await go(`#/verify/tx/${HANDOFF_TX}`, 'pageVerify') &&
		await waitFor(`document.getElementById('verify-result').getAttribute('data-ok') === '1'`, 60000);
	ok(verified, `transaction of a later epoch is verified from the epoch-${TRUST_EPOCH} set`, await resultText());
	const steps = await evaluate(`[...document.querySelectorAll('#verify-result li')].map((li) => li.textContent)`).catch(() => []);
	const hand = steps.filter((t) => /^epoch handoff \d+ → \d+ proven by block \d+/.test(t));
	ok(hand.length === HANDOFFS, `verify page shows ${HANDOFFS} proven epoch handoff${HANDOFFS === 1 ? '' : 's'}`, steps.join('\n'));
	// The end block's QC names X itself or a suffix block after it (which
	// one depends on how the commit batch fell): the page must take the
	// matching route, through qc.chain for a suffix.
	const eps = await http(`/v1/epochs?from=${TRUST_EPOCH + 1}`);
	const x = eps.body?.epochs?.[0]?.root_height;
	const xb = x !== undefined ? (await http(`/v1/blocks/${x}`)).body : null;
	const viaSuffix = !!(xb && xb.qc && xb.qc.commit_height > xb.height);
	console.log(`# end block ${x}: QC commits ${xb?.qc?.commit_height}${viaSuffix ? `, qc.chain of ${xb.qc.chain?.length} suffix headers` : ' (itself)'}`);
	const pre = `epoch ${TRUST_EPOCH} → ${TRUST_EPOCH + 1}: `;
	ok(xb && steps.some((t) => t.startsWith(pre) && (viaSuffix ? t.includes('qc.chain link it back') : t.includes(`commits block ${x} by this exact hash`))),
		`the end block is certified by the route its QC takes (${viaSuffix ? 'suffix headers in qc.chain' : 'a direct commit'})`, steps.join('\n'));
	ok(await evaluate(`(document.getElementById('verify-epochs')?.textContent || '').includes('epoch ${TRUST_EPOCH + HANDOFFS}')`),
		'the verdict names the epoch reached and the trusted one', await resultText());
	await shot('explorer-epochs.png');
	// The handoff is proven, not believed: a trusted set with one key changed
	// refuses at the first handoff.
	const bad = { ...trust, keys: [...trust.keys] };
	bad.keys[0] = (bad.keys[0][0] === '0' ? '1' : '0') + bad.keys[0].slice(1);
	await evaluate(`localStorage.setItem('danshari.trust.v1', ${JSON.stringify(JSON.stringify(bad))}); true`);
	await go('#/verify', 'pageVerify');
	const refused = await go(`#/verify/tx/${HANDOFF_TX}`, 'pageVerify') &&
		await waitFor(`document.getElementById('verify-result').getAttribute('data-ok') === '0'`, 60000);
	ok(refused && /epoch \d+ handoff: /.test(await evaluate(`document.getElementById('verify-error').textContent`)),
		'a wrong trusted key refuses the first handoff with a reason', await resultText());
	await evaluate(`localStorage.setItem('danshari.trust.v1', ${JSON.stringify(JSON.stringify(trust))}); true`);
	if (STATE_KEY) {
		ok(await go('#/verify/state', 'pageVerify'), 'state verify tab renders');
		const stateOk = await waitFor(`(async () => {
			document.getElementById('verify-input').value = ${JSON.stringify(STATE_KEY)};
			document.getElementById('verify-fetch').click();
			await new Promise((r) => setTimeout(r, 400));
			if (!document.getElementById('verify-json').value.includes('"header": {')) return false;
			document.getElementById('verify-btn').click();
			await new Promise((r) => setTimeout(r, 1500));
			return document.getElementById('verify-result').getAttribute('data-ok') === '1' &&
				!!document.getElementById('verify-epochs');
		})()`, 60000);
		ok(stateOk, `state proof of ${STATE_KEY} in a later epoch is verified through the handoffs`, await resultText());
	}
	ok(exceptions.length === 0, 'no uncaught script errors', exceptions.join('\n'));
}

const watchdog = setTimeout(() => {
	ok(false, 'browser test finished within 240 s');
	finish(1);
}, 240000);

function finish(code) {
	clearTimeout(watchdog);
	console.log(`1..${n}`);
	try {
		ws?.close();
	} catch {
		// closing anyway
	}
	killChrome();
	process.exit(code);
}

main().then(() => finish(failed ? 1 : 0), (e) => {
	ok(false, `driver error: ${e.message}`, e.stack);
	finish(1);
});
