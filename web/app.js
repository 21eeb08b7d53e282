// app.js — the danshari explorer: hash routing, pages, the live feed (SSE)
// and the verify page. Everything the node sends is shown with textContent
// (never innerHTML), so node data cannot inject markup. Proof checks live in
// verify.js and trust only the validator keys kept in localStorage.
import * as vf from './verify.js';

const FEED_MAX = 20;            // items kept per live list
const FETCH_TIMEOUT_MS = 10000;
const TRUST_KEY = 'danshari.trust.v1';

// ---- small DOM helpers --------------------------------------------------------

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			e.className = v;
		else if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of kids.flat(Infinity)) {
		if (c === undefined || c === null || c === false)
			continue;
		e.append(c instanceof Node ? c : String(c));
	}
	return e;
}

function short(h, n = 10) {
	h = String(h ?? '');
	return h.length > 2 * n + 1 ? `${h.slice(0, n)}…${h.slice(-6)}` : h;
}

function hashLink(href, h, n) {
	return el('a', { href, class: 'mono', title: h }, short(h, n));
}

function ago(ms) {
	if (!ms)
		return 'never';
	const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
	if (s < 60)
		return `${s}s ago`;
	if (s < 3600)
		return `${Math.floor(s / 60)}m ago`;
	if (s < 86400)
		return `${Math.floor(s / 3600)}h ago`;
	return new Date(ms).toLocaleString();
}

function when(ms) {
	return ms ? new Date(ms).toLocaleString() : '—';
}

function kv(pairs) {
	return el('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
}

function mono(s) {
	return el('span', { class: 'mono' }, s);
}

function json(v) {
	return el('pre', null, JSON.stringify(v, null, 2));
}

function card(title, ...body) {
	return el('section', { class: 'card' }, title ? el('h2', null, title) : null, ...body);
}

const app = document.getElementById('app');

function render(...nodes) {
	app.replaceChildren(...nodes);
}

function errorCard(e) {
	return card('Could not load', el('p', { class: 'muted' }, String(e.message || e)));
}

// ---- API ----------------------------------------------------------------------

async function api(path, opts = {}) {
	const ctl = new AbortController();
	const t = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
	try {
		const r = await fetch(path, { ...opts, signal: ctl.signal, headers: { Accept: 'application/json', ...(opts.headers || {}) } });
		let body = null;
		try {
			body = await r.json();
		} catch {
			body = null;
		}
		if (!r.ok) {
			const err = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${r.status}`;
			const e = new Error(err);
			e.status = r.status;
			throw e;
		}
		return body;
	} catch (e) {
		if (e.name === 'AbortError')
			throw new Error(`${path}: no answer within ${FETCH_TIMEOUT_MS / 1000}s`);
		throw e;
	} finally {
		clearTimeout(t);
	}
}

// ---- live feed (one EventSource for the whole app) ------------------------------

const feed = {
	blocks: [],      // newest first, {height, hash, tx_count, time_ms, proposer}
	txs: [],         // newest first, {id, height, index, target, method, status}
	lastId: null,
	es: null,
	connected: false,
	listeners: new Set(),
};

function feedNotify(kind, item) {
	for (const fn of feed.listeners)
		fn(kind, item);
}

function pushBounded(list, item, key) {
	if (list.some((x) => x[key] === item[key]))
		return false;
	list.unshift(item);
	list.sort((a, b) => (b.height - a.height) || ((b.index ?? 0) - (a.index ?? 0)));
	list.length = Math.min(list.length, FEED_MAX);
	return true;
}

function startFeed(fromHeight) {
	if (feed.es || typeof EventSource === 'undefined')
		return;
	const es = new EventSource(`/v1/events?from=${fromHeight}`);
	feed.es = es;
	es.onopen = () => {
		feed.connected = true;
		feedNotify('status');
	};
	es.onerror = () => {
		// EventSource reconnects by itself with Last-Event-ID.
		feed.connected = false;
		feedNotify('status');
	};
	const parse = (ev) => {
		feed.lastId = ev.lastEventId;
		try {
			return JSON.parse(ev.data);
		} catch {
			return null;
		}
	};
	es.addEventListener('block', (ev) => {
		const b = parse(ev);
		if (b && Number.isSafeInteger(b.height) && pushBounded(feed.blocks, b, 'height'))
			feedNotify('block', b);
	});
	es.addEventListener('tx', (ev) => {
		const t = parse(ev);
		if (t && typeof t.id === 'string' && pushBounded(feed.txs, t, 'id'))
			feedNotify('tx', t);
	});
}

// ---- footer status ----------------------------------------------------------------

let status = null;

async function refreshStatus() {
	try {
		status = await api('/v1/status');
		document.getElementById('foot-status').textContent =
			`${status.chain_id} · height ${status.height} · ${status.peers_connected} peers · node ${short(status.node_id, 6)} · v${status.version}`;
	} catch (e) {
		document.getElementById('foot-status').textContent = `node unreachable (${e.message})`;
	}
	return status;
}

// ---- pages ----------------------------------------------------------------------

function blockItem(b, fresh) {
	return el('li', { class: fresh ? 'fresh' : null, 'data-height': b.height },
		el('a', { href: `#/block/${b.height}`, class: 'pill' }, `#${b.height}`),
		el('div', { class: 'trunc' }, hashLink(`#/block/${b.height}`, b.hash, 12),
			el('div', { class: 'sub' }, `${b.tx_count} tx · proposer ${short(b.proposer, 6)}`)),
		el('span', { class: 'sub', 'data-time': b.time_ms }, ago(b.time_ms)));
}

function txItem(t, fresh) {
	const st = t.status === 'ok' ? 'ok' : t.status === 'failed' ? 'bad' : '';
	return el('li', { class: fresh ? 'fresh' : null, 'data-id': t.id },
		el('span', { class: `pill ${st}` }, t.status || 'tx'),
		el('div', { class: 'trunc' }, hashLink(`#/tx/${t.id}`, t.id, 12),
			el('div', { class: 'sub' }, `${t.target}.${t.method}`)),
		el('a', { class: 'sub', href: `#/block/${t.height}` }, `block ${t.height}`));
}

async function pageHome(ctx) {
	const st = await refreshStatus();
	if (!st)
		throw new Error('the node did not answer /v1/status');
	try {
		const r = await api('/v1/blocks?limit=20');
		for (const b of r.blocks || [])
			pushBounded(feed.blocks, b, 'height');
	} catch {
		// the live feed fills the list anyway
	}
	startFeed(Math.max(0, st.height - FEED_MAX));
	const up = (st.validators || []).filter((v) => v.connected).length;
	const stat = (k, v, id) => el('div', { class: 'stat' }, el('div', { class: 'k' }, k), el('div', { class: 'v', id }, v));
	const blocks = el('ul', { class: 'feed', id: 'live-blocks' });
	const txs = el('ul', { class: 'feed', id: 'live-txs' });
	const dot = el('span', { class: 'live-dot', title: 'live updates' });
	const fill = () => {
		blocks.replaceChildren(...(feed.blocks.length ? feed.blocks.map((b) => blockItem(b)) : [el('li', { class: 'empty' }, 'No blocks yet')]));
		txs.replaceChildren(...(feed.txs.length ? feed.txs.map((t) => txItem(t)) : [el('li', { class: 'empty' }, 'No transactions yet')]));
		dot.classList.toggle('on', feed.connected);
	};
	fill();
	const listener = (kind, item) => {
		if (kind === 'block') {
			const h = document.getElementById('stat-height');
			if (h && item.height > Number(h.textContent))
				h.textContent = item.height;
		}
		fill();
		if (kind === 'block' || kind === 'tx') {
			const li = (kind === 'block' ? blocks : txs).firstElementChild;
			if (li)
				li.classList.add('fresh');
		}
	};
	feed.listeners.add(listener);
	ctx.cleanup.push(() => feed.listeners.delete(listener));
	const tick = setInterval(() => {
		for (const s of app.querySelectorAll('[data-time]'))
			s.textContent = ago(Number(s.getAttribute('data-time')));
	}, 5000);
	ctx.cleanup.push(() => clearInterval(tick));
	render(
		el('div', { class: 'stats' },
			stat('Height', st.height, 'stat-height'),
			stat('Chain', st.chain_id),
			stat('Validators up', `${up} / ${(st.validators || []).length}`),
			stat('Mempool', st.mempool_size),
			stat('Epoch · round', `${st.epoch} · ${st.round}`)),
		el('div', { class: 'grid2' },
			el('section', { class: 'card feed-blocks' }, el('h2', null, dot, 'Latest blocks'), blocks),
			el('section', { class: 'card feed-txs' }, el('h2', null, el('span', { class: 'live-dot on' }), 'Latest transactions'), txs)));
}

function qcView(qc) {
	if (!qc)
		return el('p', { class: 'muted' }, 'Genesis: final by definition, no QC.');
	return kv([
		['round', qc.round],
		['certifies', hashLink('#/', qc.block_hash)],
		['commits', [`block ${qc.commit_height} `, hashLink(`#/block/${qc.commit_height}`, qc.commit_hash)]],
		['signers', (qc.signers || []).join(', ')],
	]);
}

async function pageBlock(ctx, id) {
	const b = await api(`/v1/blocks/${encodeURIComponent(id)}`);
	const nav = el('div', { class: 'row' },
		b.height > 0 ? el('a', { class: 'btn', href: `#/block/${b.height - 1}` }, '← previous') : null,
		el('a', { class: 'btn', href: `#/block/${b.height + 1}` }, 'next →'));
	render(
		el('h1', null, `Block ${b.height}`),
		nav,
		card('Header', kv([
			['hash', mono(b.hash)],
			['parent', hashLink(`#/block/${Math.max(0, b.height - 1)}`, b.parent_hash, 20)],
			['time', when(b.time_ms)],
			['round · epoch', `${b.round} · ${b.epoch}`],
			['proposer', mono(b.proposer)],
			['transactions', b.tx_count],
			['tx root', mono(b.tx_root)],
			['executed up to', `block ${b.exec_height}`],
			['state root', mono(b.state_root)],
			['results root', mono(b.results_root)],
			['history root', mono(b.history_root)],
			['validator set', mono(b.valset_hash)],
		])),
		card(`Transactions (${(b.txs || []).length})`, (b.txs || []).length ?
			el('ul', { class: 'feed' }, b.txs.map((t, i) => el('li', null, el('span', { class: 'pill' }, i), el('div', { class: 'trunc' }, hashLink(`#/tx/${t}`, t, 20)), ''))) :
			el('p', { class: 'empty' }, 'No transactions in this block.')),
		card('Quorum certificate', qcView(b.qc)));
}

async function pageTx(ctx, id) {
	const t = await api(`/v1/tx/${encodeURIComponent(id)}`);
	let local = null;
	try {
		local = vf.parseTx(vf.fromHex(t.tx_hex || ''));
	} catch (e) {
		local = { error: e.message };
	}
	const r = t.receipt;
	render(
		el('h1', null, 'Transaction'),
		el('p', { class: 'mono trunc', title: t.id }, t.id),
		el('div', { class: 'row' },
			el('span', { class: `pill ${t.status === 'committed' ? 'ok' : ''}` }, t.status),
			t.height !== undefined && t.height !== null ? el('a', { class: 'btn', href: `#/block/${t.height}` }, `block ${t.height}, position ${t.index}`) : null,
			t.status === 'committed' ? el('a', { class: 'btn', href: `#/verify/tx/${t.id}`, id: 'verify-this' }, 'Verify in this browser') : null),
		card('Call', t.tx ? kv([
			['call', mono(`${t.tx.target}.${t.tx.method}`)],
			['sender', mono(t.tx.sender)],
			['chain', t.tx.chain_id],
			['nonce', t.tx.nonce],
			['expires at height', t.tx.expiry_height],
			['arguments', json(t.tx.args)],
			local && local.error ? ['decoded here', el('span', { class: 'pill bad' }, local.error)] : null,
		]) : el('p', { class: 'muted' }, 'No decoded transaction.')),
		card('Receipt', r ? kv([
			['status', el('span', { class: `pill ${r.status === 'ok' ? 'ok' : 'bad'}` }, r.status)],
			r.error ? ['error', r.error] : null,
			['gas used', r.gas_used],
			['return', json(r.return ?? null)],
		]) : el('p', { class: 'muted' }, 'Not executed yet: receipts appear once the block commits.')),
		card(`Events (${r && r.events ? r.events.length : 0})`, r && r.events && r.events.length ?
			el('table', { class: 'resp' }, el('thead', null, el('tr', null, el('th', null, 'name'), el('th', null, 'value'))),
				el('tbody', null, r.events.map((e) => el('tr', null, el('td', { 'data-label': 'name' }, mono(e.name)), el('td', { 'data-label': 'value' }, json(e.value)))))) :
			el('p', { class: 'empty' }, 'No events.')),
		t.proof ? card('Inclusion proof', kv([
			['position', `${t.proof.index} of ${t.proof.tree_size}`],
			['tx root', mono(t.proof.tx_root)],
			['path', el('div', null, (t.proof.path || []).map((p) => el('div', { class: 'mono trunc' }, p)))],
		])) : null);
}

async function pageValidators(ctx) {
	const v = await api('/v1/validators');
	const table = el('table', { class: 'resp', id: 'validators' },
		el('thead', null, el('tr', null, ['#', 'public key', 'address', 'status', 'last seen'].map((h) => el('th', null, h)))),
		el('tbody', null, (v.validators || []).map((x) => el('tr', null,
			el('td', { 'data-label': '#' }, x.index),
			el('td', { 'data-label': 'key', class: 'mono trunc', title: x.public_key }, short(x.public_key, 16)),
			el('td', { 'data-label': 'address', class: 'mono' }, x.p2p || '—'),
			el('td', { 'data-label': 'status' }, el('span', { class: `pill ${x.connected ? 'ok' : 'bad'}` }, x.connected ? 'online' : 'offline')),
			el('td', { 'data-label': 'last seen' }, x.connected && !x.last_seen_ms ? 'now' : ago(x.last_seen_ms))))));
	render(el('h1', null, 'Validators'),
		card(`Epoch ${v.epoch}`, el('p', { class: 'sub' }, 'Validator set hash ', mono(v.valset_hash)), table,
			el('p', { class: 'sub' }, 'Liveness as seen by this node: "online" means it holds an authenticated connection to that validator (itself included).')));
}

async function pageProposals(ctx) {
	const p = await api('/v1/proposals');
	const list = p.proposals || [];
	render(el('h1', null, 'Governance proposals'),
		card(null, list.length ? el('table', { class: 'resp', id: 'proposals' },
			el('thead', null, el('tr', null, ['id', 'kind', 'proposer', 'status', 'votes', 'created', 'payload'].map((h) => el('th', null, h)))),
			el('tbody', null, list.map((x) => el('tr', null,
				el('td', { 'data-label': 'id', class: 'mono' }, short(x.id, 8)),
				el('td', { 'data-label': 'kind' }, x.kind),
				el('td', { 'data-label': 'proposer' }, x.proposer_org),
				el('td', { 'data-label': 'status' }, el('span', { class: `pill ${x.status === 'passed' || x.status === 'executed' ? 'ok' : x.status === 'rejected' ? 'bad' : ''}` }, x.status)),
				el('td', { 'data-label': 'votes' }, `${x.votes_for} for · ${x.votes_against} against`),
				el('td', { 'data-label': 'created' }, el('a', { href: `#/block/${x.created_height}` }, x.created_height)),
				el('td', { 'data-label': 'payload' }, json(x.payload)))))) :
			el('p', { class: 'empty', id: 'proposals-empty' }, 'No governance proposals on this chain yet.')));
}

// ---- verify page ------------------------------------------------------------------

function loadTrust() {
	try {
		return JSON.parse(localStorage.getItem(TRUST_KEY) || 'null');
	} catch {
		return null;
	}
}

function saveTrust(t) {
	localStorage.setItem(TRUST_KEY, JSON.stringify(t));
}

// The outcome line of a verified transaction: the receipt verify.js
// proved (r.receipt), or why it is not proven yet.
function outcomeLine(rc) {
	if (!rc)
		return el('p', { class: 'sub', id: 'verify-receipt', 'data-proven': '0' },
			'Outcome not proven yet: no committed header executes this block yet (verify again after the next block).');
	const n = rc.events.length;
	return el('p', { id: 'verify-receipt', 'data-proven': '1' },
		el('span', { class: `pill ${rc.status === 'ok' ? 'ok' : 'bad'}` }, rc.status === 'ok' ? 'outcome proven: ok' : `outcome proven: failed: ${rc.error}`),
		` gas ${rc.gas_used}, ${n} event${n === 1 ? '' : 's'}; results root carried by header ${rc.height}${rc.range ? ` (range ${rc.range[0]}..${rc.range[1]})` : ''}`);
}

function showResult(box, r, what, extra = null) {
	box.replaceChildren();
	box.className = `result ${r.ok ? 'ok' : 'bad'}`;
	box.setAttribute('data-ok', r.ok ? '1' : '0');
	box.append(el('div', { class: 'verdict', id: 'verdict' }, r.ok ? `✓ verified: ${what}` : '✗ not verified'));
	if (r.ok && extra)
		box.append(extra);
	if (!r.ok)
		box.append(el('p', { id: 'verify-error' }, r.error));
	box.append(el('ol', null, r.steps.map((s) => el('li', null, s.text)), r.ok ? null : el('li', { class: 'fail' }, r.error)));
	if (r.ok && r.epoch !== null && r.epoch !== undefined && r.epoch !== r.trustEpoch)
		box.append(el('p', { class: 'sub', id: 'verify-epochs' },
			`Certified by the validator set of epoch ${r.epoch}, reached from your trusted set of epoch ${r.trustEpoch} through ${r.epoch - r.trustEpoch} proven handoff${r.epoch - r.trustEpoch === 1 ? '' : 's'} (listed above).`));
	if (r.ok && r.trustedFromNode)
		box.append(el('p', { class: 'sub' }, 'Checked against keys taken from this node: only as good as those keys.'));
}

async function pageVerify(ctx, kind, id) {
	kind = kind === 'state' ? 'state' : 'tx';
	const trust = loadTrust() || { chain_id: '', epoch: 0, keys: [] };
	const keysBox = el('textarea', { id: 'trust-keys', rows: 5, spellcheck: 'false', placeholder: 'One validator public key (64 hex digits) per line, in validator-index order' }, (trust.keys || []).join('\n'));
	const chainIn = el('input', { type: 'text', id: 'trust-chain', placeholder: 'chain id (optional: taken from the header when empty)', value: trust.chain_id || '' });
	const epochIn = el('input', { type: 'text', id: 'trust-epoch', inputmode: 'numeric', value: String(trust.epoch ?? 0) });
	const trustNote = el('div');
	let source = trust.source === 'node' ? 'node' : 'user';
	const readTrust = () => ({
		chain_id: chainIn.value.trim(),
		epoch: Number(epochIn.value.trim() || '0'),
		keys: keysBox.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean),
		source,
	});
	const nodeWarning = () => el('div', { class: 'warn', id: 'trust-warning' },
		'⚠ These keys came from the node you are checking. A dishonest node can hand you keys it controls, and then every proof it makes will "verify". Compare them with the genesis file or with your consortium partners, then press Save.');
	// Any edit makes the keys the user's own again.
	for (const i of [keysBox, chainIn, epochIn])
		i.addEventListener('input', () => {
			source = 'user';
		});
	const saveBtn = el('button', { id: 'trust-save', onclick: () => {
		try {
			source = 'user';
			vf.parseTrust(readTrust());
			saveTrust(readTrust());
			trustNote.replaceChildren(el('p', { class: 'sub' }, 'Saved in this browser as your trusted set.'));
		} catch (e) {
			trustNote.replaceChildren(el('div', { class: 'warn' }, e.message));
		}
	} }, 'Save');
	const nodeBtn = el('button', { id: 'trust-node', onclick: async () => {
		try {
			const [v, st] = await Promise.all([api('/v1/validators'), api('/v1/status')]);
			keysBox.value = (v.validators || []).slice().sort((a, b) => a.index - b.index).map((x) => x.public_key).join('\n');
			epochIn.value = String(v.epoch);
			chainIn.value = st.chain_id;
			source = 'node';
			saveTrust(readTrust());
			trustNote.replaceChildren(nodeWarning());
		} catch (e) {
			trustNote.replaceChildren(el('div', { class: 'warn' }, `Could not load the node's set: ${e.message}`));
		}
	} }, 'Use the node\'s current set');
	const trustCard = card('Trusted validators',
		el('p', { class: 'sub' }, 'Proofs are checked against these keys only. They are kept in this browser (localStorage).'),
		keysBox,
		el('div', { class: 'grid2' }, el('div', null, el('label', { for: 'trust-chain' }, 'Chain id'), chainIn), el('div', null, el('label', { for: 'trust-epoch' }, 'Epoch'), epochIn)),
		el('div', { class: 'row' }, saveBtn, nodeBtn), trustNote);
	if (source === 'node')
		trustNote.replaceChildren(nodeWarning());
	if (!(trust.keys || []).length)
		trustNote.replaceChildren(el('div', { class: 'warn' }, 'No trusted keys yet: paste your consortium\'s validator public keys, or take the node\'s set (with the warning that comes with it).'));

	const input = el('input', { type: 'text', id: 'verify-input', spellcheck: 'false' });
	const mode = el('select', { id: 'state-mode' }, el('option', { value: 'key_str' }, 'text key'), el('option', { value: 'key' }, 'hex key'));
	const area = el('textarea', { id: 'verify-json', rows: 12, spellcheck: 'false', placeholder: 'The proof JSON, as the node serves it. Edit it to see tampering refused.' });
	const result = el('div', { id: 'verify-result' });
	const fetchBtn = el('button', { id: 'verify-fetch' }, 'Fetch proof');
	const verifyBtn = el('button', { class: 'primary', id: 'verify-btn' }, 'Verify');
	input.placeholder = kind === 'tx' ? 'Transaction id (64 hex digits)' : 'State key';
	if (id)
		input.value = id;
	const fetchProof = async () => {
		const q = input.value.trim();
		if (!q)
			return;
		fetchBtn.disabled = true;
		try {
			const j = kind === 'tx' ? await api(`/v1/tx/${encodeURIComponent(q)}`) :
				await api(`/v1/state?${mode.value}=${encodeURIComponent(q)}&prove=1`);
			area.value = JSON.stringify(j, null, 2);
			result.replaceChildren();
			result.className = '';
			result.removeAttribute('data-ok');
		} catch (e) {
			result.className = 'result bad';
			result.replaceChildren(el('div', { class: 'verdict' }, 'Could not fetch the proof'), el('p', null, e.message));
		} finally {
			fetchBtn.disabled = false;
		}
	};
	// The only network use while verifying: following validator changes
	// when the proof's QC is of a later epoch than the trusted set (the
	// epochs list, each end block, its sys/valset/next state proof).
	// verify.js proves every handoff from the set before; the list only
	// says which blocks to fetch.
	const net = {
		epochs: (from) => api(`/v1/epochs?from=${from}`),
		block: (h) => api(`/v1/blocks/${h}`),
		state: (key, version) => api(`/v1/state?key_str=${encodeURIComponent(key)}&version=${version}&prove=1`),
	};
	const doVerify = async () => {
		verifyBtn.disabled = true;
		result.removeAttribute('data-ok');
		try {
			let j;
			try {
				j = JSON.parse(area.value);
			} catch (e) {
				showResult(result, { ok: false, steps: [], error: `the proof is not valid JSON: ${e.message}` });
				return;
			}
			const t = readTrust();
			const fromNode = t.source === 'node';
			if (kind === 'tx') {
				const r = await vf.verifyTxBundle(j, t, net);
				r.trustedFromNode = fromNode;
				r.trustEpoch = t.epoch;
				showResult(result, r, r.tx ? `transaction ${short(r.tx.id)} (${r.tx.target}.${r.tx.method}) is in final block ${r.tx.height}` : '', outcomeLine(r.receipt));
			} else {
				const r = await vf.verifyStateBundle(j, t, net);
				r.trustedFromNode = fromNode;
				r.trustEpoch = t.epoch;
				let shown = '';
				if (r.ok && r.claim.found) {
					let v;
					try {
						v = JSON.stringify(vf.decodeValue(vf.fromHex(r.claim.value_hex)));
					} catch {
						v = `0x${r.claim.value_hex}`;
					}
					shown = `key = ${v.length > 120 ? v.slice(0, 120) + '…' : v} after block ${r.claim.version}`;
				} else if (r.ok) {
					shown = `key is absent after block ${r.claim.version}`;
				}
				showResult(result, r, shown);
			}
		} finally {
			verifyBtn.disabled = false;
			if (result.scrollIntoView)
				result.scrollIntoView({ block: 'nearest' });
		}
	};
	fetchBtn.addEventListener('click', fetchProof);
	verifyBtn.addEventListener('click', doVerify);
	input.addEventListener('keydown', (e) => {
		if (e.key === 'Enter')
			fetchProof();
	});
	const tab = (k, label) => el('a', { href: `#/verify/${k}`, class: k === kind ? 'btn active' : 'btn', id: `tab-${k}` }, label);
	render(
		el('h1', null, 'Verify a proof in this browser'),
		el('p', { class: 'muted' }, 'SHA-256 and Ed25519 run here, with WebCrypto. The node supplies bytes; nothing it claims is believed: the header hash, the quorum certificate, the Merkle paths are all recomputed from them.'),
		trustCard,
		card(null,
			el('div', { class: 'tabs' }, tab('tx', 'Transaction'), tab('state', 'State value')),
			el('div', { class: 'row' }, kind === 'state' ? mode : null, input, fetchBtn, verifyBtn),
			result,
			el('label', { for: 'verify-json' }, 'Proof as served by the node (JSON; edit it to see tampering refused)'),
			area));
	if (id) {
		await fetchProof();
		if (area.value && (trust.keys || []).length)
			await doVerify();
	}
}

// ---- router -------------------------------------------------------------------------

const routes = [
	[/^\/?$/, 'home', pageHome],
	[/^\/block\/([0-9]+|latest)$/, 'home', pageBlock],
	[/^\/tx\/([0-9a-fA-F]{64})$/, 'home', pageTx],
	[/^\/validators$/, 'validators', pageValidators],
	[/^\/proposals$/, 'proposals', pageProposals],
	[/^\/verify(?:\/(tx|state))?(?:\/(.+))?$/, 'verify', pageVerify],
];

let current = { cleanup: [] };

async function route() {
	for (const fn of current.cleanup)
		fn();
	const ctx = { cleanup: [] };
	current = ctx;
	let path;
	try {
		path = decodeURIComponent(location.hash.replace(/^#/, '') || '/');
	} catch {
		path = '?';
	}
	window.scrollTo(0, 0);
	for (const [re, nav, page] of routes) {
		const m = path.match(re);
		if (!m)
			continue;
		for (const a of document.querySelectorAll('#nav a'))
			a.classList.toggle('active', a.getAttribute('data-route') === nav);
		document.body.setAttribute('data-page', page.name);
		try {
			await page(ctx, ...m.slice(1));
		} catch (e) {
			if (current === ctx)
				render(errorCard(e));
		}
		document.body.setAttribute('data-ready', page.name);
		return;
	}
	render(card('Not found', el('p', null, 'No such page. '), el('a', { href: '#/' }, 'Back to the chain')));
}

document.getElementById('search').addEventListener('submit', (e) => {
	e.preventDefault();
	const q = document.getElementById('search-q').value.trim();
	if (/^[0-9]+$/.test(q))
		location.hash = `#/block/${q}`;
	else if (/^[0-9a-fA-F]{64}$/.test(q))
		location.hash = `#/tx/${q.toLowerCase()}`;
	else
		render(card('Search', el('p', null, 'Type a block height or a 64-digit transaction id.')));
});

window.addEventListener('hashchange', () => {
	document.body.removeAttribute('data-ready');
	route();
});
route();
setInterval(refreshStatus, 15000);
if (!location.hash || location.hash === '#/' || location.hash === '#')
	refreshStatus();
