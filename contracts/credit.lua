-- credit — cross-regional credit records with consent, access audit and
-- erasure (docs/PRIVACY.md). Personal data never enters this contract:
-- subjects are pseudonyms (64 hex), details are off chain and bound here by a
-- salted commitment (64 hex, src/privacy).
--
-- State keys (contract-relative):
--   subj/<subject>              {subject, kind, pk, key_id}   consent/appeal key
--   seq/<org>                   last record number of org
--   rec/<id>                    the record, its status and history
--   profile/<subject>           {subject, records = [summary...]}  active only
--   grant/<id>/<org>            access grant of org to record id
--   auditn/<subject>            number of audit entries of subject
--   audit/<subject>/<n>         audit entry n (1-based)
--
-- Roles: issuer:<category> (issue, correct, revoke, erase own records),
-- legal:grant (legal-basis grants), legal:erase (court-ordered erasure of
-- any record), identity:register (bind subject keys).

local M = {}

local HISTORY_MAX = 32      -- events kept per record; further changes refused
local PROFILE_MAX = 256     -- active records per subject
local PAGE_MAX = 100        -- audit entries per accesses call
local REASON_MAX = 256
local SEVERITY_MAX = 5

local function fail(msg) error(msg, 0) end

local function arg_table(a)
	if type(a) ~= "table" then fail("arguments must be a map") end
	return a
end

local function hex64(s, what)
	if type(s) ~= "string" or #s ~= 64 or not s:match("^[0-9a-f]+$") then
		fail(what .. " must be 64 lowercase hex digits")
	end
	return s
end

local function text(s, what, max, pattern)
	if type(s) ~= "string" or #s == 0 or #s > max then
		fail(what .. " must be a string of 1.." .. max .. " bytes")
	end
	if pattern and not s:match(pattern) then fail("malformed " .. what) end
	return s
end

local function int(v, what, lo, hi)
	if math.type(v) ~= "integer" or v < lo or (hi and v > hi) then
		fail(what .. " must be an integer" .. (hi and (" in " .. lo .. ".." .. hi) or (" >= " .. lo)))
	end
	return v
end

local function category_ok(c)
	-- e.g. tax.overdue, court.judgment, licence.revoked, award.honour
	return type(c) == "string" and #c <= 64 and c:match("^[a-z_]+%.[a-z_.]+$") ~= nil
		and c:sub(-1) ~= "."
end

local function need_org()
	if caller.org == "" then fail("caller belongs to no organisation") end
	return caller.org
end

local function get_record(id)
	text(id, "record", 128)
	local r = state.get("rec/" .. id)
	if not r then fail("unknown record " .. id) end
	return r
end

local function subject_key(subject)
	local s = state.get("subj/" .. subject)
	if not s then fail("unknown subject " .. subject) end
	return s
end

local function is_subject(r)
	local s = state.get("subj/" .. r.subject)
	return s ~= nil and s.pk == caller.account
end

local function push_history(r, ev)
	if #r.history >= HISTORY_MAX then fail("record history is full (" .. HISTORY_MAX .. " events)") end
	ev.height = block.height
	ev.at_ms = block.time
	ev.by = caller.account
	ev.org = caller.org
	r.history[#r.history + 1] = ev
end

local function summary(r)
	return {id = r.id, category = r.category, severity = r.severity, region = r.region,
		org = r.org, issued_ms = r.issued_ms, expiry_ms = r.expiry_ms,
		commitment = r.commitment, version = r.version}
end

local function profile_of(subject)
	return state.get("profile/" .. subject) or {subject = subject, records = {}}
end

-- Replaces (or with drop, removes) record r's entry in its subject's profile.
local function profile_update(r, drop)
	local p = profile_of(r.subject)
	local out, found = {}, false
	for _, e in ipairs(p.records) do
		if e.id == r.id then
			found = true
			if not drop then out[#out + 1] = summary(r) end
		else
			out[#out + 1] = e
		end
	end
	if not found and not drop then
		if #out >= PROFILE_MAX then fail("subject profile is full") end
		out[#out + 1] = summary(r)
	end
	p.records = out
	state.put("profile/" .. r.subject, p)
end

local function require_active(r)
	if r.status ~= "active" then fail("record " .. r.id .. " is " .. r.status) end
end

-- The issuing organisation, still holding the issuer role for the category.
local function require_issuer_of(r)
	if caller.org ~= r.org then fail("only the issuing organisation " .. r.org .. " may change record " .. r.id) end
	if not caller.has_role("issuer:" .. r.category) then
		fail("caller lacks role issuer:" .. r.category)
	end
end

local function reason_of(a)
	return text(a.reason, "reason", REASON_MAX)
end

local function audit(subject, entry)
	local n = (state.get("auditn/" .. subject) or 0) + 1
	entry.n = n
	entry.height = block.height
	entry.at_ms = block.time
	state.put("audit/" .. subject .. "/" .. n, entry)
	state.put("auditn/" .. subject, n)
	emit("credit.access", entry)
end

-- ---- subjects ----------------------------------------------------------

-- bind_subject {subject, pk, kind, key_id}: the subject's public key for
-- consents and appeals (mirrors identity.register; see docs/PRIVACY.md).
function M.bind_subject(a)
	arg_table(a)
	if not caller.has_role("identity:register") then fail("caller lacks role identity:register") end
	hex64(a.subject, "subject")
	hex64(a.pk, "pk")
	if a.kind ~= "person" and a.kind ~= "org" then fail("kind must be person or org") end
	local prev = state.get("subj/" .. a.subject)
	state.put("subj/" .. a.subject, {subject = a.subject, pk = a.pk, kind = a.kind,
		key_id = int(a.key_id, "key_id", 1), by = need_org(), height = block.height,
		prev_pk = prev and prev.pk or null})
	emit("credit.subject", {subject = a.subject, key_id = a.key_id})
	return true
end

-- ---- records -----------------------------------------------------------

-- issue {subject, category, severity, region, expiry_ms, commitment [, issued_ms]}
function M.issue(a)
	arg_table(a)
	local org = need_org()
	if not category_ok(a.category) then fail("malformed category") end
	if not caller.has_role("issuer:" .. a.category) then
		fail("caller lacks role issuer:" .. a.category)
	end
	hex64(a.subject, "subject")
	subject_key(a.subject)
	local issued = a.issued_ms == nil and block.time or int(a.issued_ms, "issued_ms", 0, block.time)
	local expiry = int(a.expiry_ms, "expiry_ms", 0)
	if expiry <= block.time then fail("expiry_ms is in the past") end
	local n = (state.get("seq/" .. org) or 0) + 1
	state.put("seq/" .. org, n)
	local r = {
		id = org .. ":" .. n, subject = a.subject, category = a.category,
		severity = int(a.severity, "severity", 0, SEVERITY_MAX),
		region = text(a.region, "region", 32, "^[A-Za-z0-9_.%-]+$"),
		org = org, issued_ms = issued, expiry_ms = expiry,
		commitment = hex64(a.commitment, "commitment"),
		status = "active", appeal = "none", version = 1, history = {},
	}
	if #r.id > 128 then fail("record id too long") end
	if state.get("rec/" .. r.id) then fail("record " .. r.id .. " exists") end
	push_history(r, {event = "issue", version = 1, commitment = r.commitment})
	state.put("rec/" .. r.id, r)
	profile_update(r, false)
	emit("credit.issued", {id = r.id, subject = r.subject, category = r.category, org = org})
	return r.id
end

-- correct {record, reason [, commitment] [, severity] [, expiry_ms]}
function M.correct(a)
	arg_table(a)
	local r = get_record(a.record)
	require_issuer_of(r)
	require_active(r)
	local reason = reason_of(a)
	if a.commitment == nil and a.severity == nil and a.expiry_ms == nil then
		fail("nothing to correct")
	end
	local prev = {commitment = r.commitment, severity = r.severity, expiry_ms = r.expiry_ms}
	if a.commitment ~= nil then r.commitment = hex64(a.commitment, "commitment") end
	if a.severity ~= nil then r.severity = int(a.severity, "severity", 0, SEVERITY_MAX) end
	if a.expiry_ms ~= nil then
		r.expiry_ms = int(a.expiry_ms, "expiry_ms", 0)
		if r.expiry_ms <= block.time then fail("expiry_ms is in the past") end
	end
	r.version = r.version + 1
	push_history(r, {event = "correct", version = r.version, reason = reason, prev = prev,
		commitment = r.commitment})
	state.put("rec/" .. r.id, r)
	profile_update(r, false)
	emit("credit.corrected", {id = r.id, version = r.version, details_replaced = a.commitment ~= nil})
	return r.version
end

-- revoke {record, reason}
function M.revoke(a)
	arg_table(a)
	local r = get_record(a.record)
	require_issuer_of(r)
	require_active(r)
	r.status = "revoked"
	push_history(r, {event = "revoke", reason = reason_of(a)})
	state.put("rec/" .. r.id, r)
	profile_update(r, true)
	emit("credit.revoked", {id = r.id})
	return true
end

-- appeal {record, reason}: by the subject (sender = the subject's bound key).
function M.appeal(a)
	arg_table(a)
	local r = get_record(a.record)
	require_active(r)
	if not is_subject(r) then fail("only the record's subject may appeal") end
	if r.appeal == "open" then fail("an appeal is already open") end
	r.appeal = "open"
	push_history(r, {event = "appeal", reason = reason_of(a)})
	state.put("rec/" .. r.id, r)
	emit("credit.appealed", {id = r.id})
	return true
end

-- resolve_appeal {record, outcome = "upheld"|"rejected", reason}: an upheld
-- appeal revokes the record.
function M.resolve_appeal(a)
	arg_table(a)
	local r = get_record(a.record)
	require_issuer_of(r)
	if r.appeal ~= "open" then fail("no open appeal on record " .. r.id) end
	if a.outcome ~= "upheld" and a.outcome ~= "rejected" then fail("outcome must be upheld or rejected") end
	r.appeal = a.outcome
	push_history(r, {event = "appeal_" .. a.outcome, reason = reason_of(a)})
	if a.outcome == "upheld" and r.status == "active" then
		r.status = "revoked"
		profile_update(r, true)
	end
	state.put("rec/" .. r.id, r)
	emit("credit.appeal_resolved", {id = r.id, outcome = a.outcome})
	return true
end

-- expire {record}: anyone, once block time has reached expiry_ms. Nodes
-- erase their copies of the details on the credit.erase event.
function M.expire(a)
	arg_table(a)
	local r = get_record(a.record)
	if r.status ~= "active" and r.status ~= "revoked" then fail("record " .. r.id .. " is " .. r.status) end
	if block.time < r.expiry_ms then fail("record " .. r.id .. " has not expired") end
	local was_active = r.status == "active"
	r.status = "expired"
	push_history(r, {event = "expire"})
	state.put("rec/" .. r.id, r)
	if was_active then profile_update(r, true) end
	emit("credit.erase", {id = r.id, why = "expired"})
	return true
end

-- erase {record, reason}: by the issuing organisation or role legal:erase
-- (court order, retention period). Any status but erased.
function M.erase(a)
	arg_table(a)
	local r = get_record(a.record)
	if r.status == "erased" then fail("record " .. r.id .. " is erased") end
	local by_issuer = caller.org == r.org and caller.has_role("issuer:" .. r.category)
	if not by_issuer and not caller.has_role("legal:erase") then
		fail("only the issuing organisation or role legal:erase may erase")
	end
	local was_active = r.status == "active"
	r.status = "erased"
	push_history(r, {event = "erase", reason = reason_of(a)})
	state.put("rec/" .. r.id, r)
	if was_active then profile_update(r, true) end
	emit("credit.erase", {id = r.id, why = "erased"})
	return true
end

-- ---- grants and access audit -------------------------------------------

-- Canonical consent bytes (docs/PRIVACY.md), for sandboxes that can verify
-- Ed25519: "danshari/consent/v1" || str chain_id || fixed32 subject ||
-- str record || str grantee || str purpose || uvar expiry_ms.
local function uvar(n)
	local out = {}
	repeat
		local b = n & 0x7f
		n = n >> 7
		if n ~= 0 then b = b | 0x80 end
		out[#out + 1] = string.char(b)
	until n == 0
	return table.concat(out)
end
local function str(s) return uvar(#s) .. s end
local function unhex(h) return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)) end

-- grant {record, grantee, expiry_ms, basis = "consent"|"legal" [, purpose]
--        [, legal_ref] [, chain_id, sig]}
-- consent: sent by the subject's own key, or carrying the subject's signed
-- consent (sig over the bytes above). legal: role legal:grant and legal_ref.
function M.grant(a)
	arg_table(a)
	local r = get_record(a.record)
	require_active(r)
	local grantee = text(a.grantee, "grantee", 128)
	local expiry = int(a.expiry_ms, "expiry_ms", 0)
	if expiry <= block.time then fail("grant expiry_ms is in the past") end
	local purpose = a.purpose == nil and "" or text(a.purpose, "purpose", 128)
	local g = {record = r.id, subject = r.subject, grantee = grantee, basis = a.basis,
		expiry_ms = expiry, purpose = purpose, granted_by = caller.account,
		granted_org = caller.org, height = block.height, revoked = false}
	if a.basis == "consent" then
		if a.sig ~= nil then
			local sk = subject_key(r.subject)
			if type(crypto) ~= "table" or type(crypto.ed25519_verify) ~= "function" then
				fail("signed consents need crypto.ed25519_verify in the sandbox: submit the consent from the subject's key")
			end
			local msg = "danshari/consent/v1" .. str(text(a.chain_id, "chain_id", 128)) ..
				unhex(r.subject) .. str(r.id) .. str(grantee) .. str(purpose) .. uvar(expiry)
			if not crypto.ed25519_verify(a.sig, msg, unhex(sk.pk)) then fail("consent signature does not verify") end
		elseif not is_subject(r) then
			fail("consent must come from the record's subject")
		end
	elseif a.basis == "legal" then
		if not caller.has_role("legal:grant") then fail("caller lacks role legal:grant") end
		g.legal_ref = text(a.legal_ref, "legal_ref", 128)
	else
		fail("basis must be consent or legal")
	end
	state.put("grant/" .. r.id .. "/" .. grantee, g)
	emit("credit.granted", {record = r.id, grantee = grantee, basis = a.basis, expiry_ms = expiry})
	return true
end

-- revoke_grant {record, grantee}: by the subject or the organisation that granted.
function M.revoke_grant(a)
	arg_table(a)
	local r = get_record(a.record)
	local key = "grant/" .. r.id .. "/" .. text(a.grantee, "grantee", 128)
	local g = state.get(key)
	if not g then fail("no grant for " .. a.grantee .. " on record " .. r.id) end
	if not is_subject(r) and not (g.granted_org ~= "" and g.granted_org == caller.org) then
		fail("only the subject or the granting organisation may revoke a grant")
	end
	g.revoked = true
	state.put(key, g)
	emit("credit.grant_revoked", {record = r.id, grantee = a.grantee})
	return true
end

-- access {record [, purpose]}: an organisation asks for a record's details.
-- Always succeeds so that the audit entry is kept; returns {granted, reason}.
-- A granted access emits credit.access, on which the holder node sends the
-- details over the node channel.
function M.access(a)
	arg_table(a)
	local org = need_org()
	local r = get_record(a.record)
	local purpose = a.purpose == nil and "" or text(a.purpose, "purpose", 128)
	local granted, why, basis = false, "", "none"
	local g = state.get("grant/" .. r.id .. "/" .. org)
	if r.status == "erased" or r.status == "expired" then
		why = "record is " .. r.status
	elseif org == r.org then
		granted, basis = true, "issuer"
	elseif not g then
		why = "no grant"
	elseif g.revoked then
		why = "grant revoked"
	elseif block.time >= g.expiry_ms then
		why = "grant expired"
	else
		granted, basis = true, g.basis
		if g.legal_ref then basis = "legal:" .. g.legal_ref end
	end
	audit(r.subject, {who = org, account = caller.account, whose = r.subject, record = r.id,
		grant = basis, purpose = purpose, granted = granted, reason = why})
	return {granted = granted, reason = why}
end

-- accesses {subject [, before] [, limit]}: audit entries, newest first.
function M.accesses(a)
	arg_table(a)
	hex64(a.subject, "subject")
	local n = state.get("auditn/" .. a.subject) or 0
	local top = a.before == nil and n or math.min(n, int(a.before, "before", 1) - 1)
	local limit = a.limit == nil and PAGE_MAX or int(a.limit, "limit", 1, PAGE_MAX)
	local out = {}
	local i = top
	while i >= 1 and #out < limit do
		out[#out + 1] = state.get("audit/" .. a.subject .. "/" .. i)
		i = i - 1
	end
	return {total = n, entries = out}
end

-- ---- reads -------------------------------------------------------------

function M.profile(a)
	arg_table(a)
	return profile_of(hex64(a.subject, "subject"))
end

function M.record(a)
	arg_table(a)
	return get_record(a.id)
end

function M.grant_of(a)
	arg_table(a)
	local r = get_record(a.record)
	return state.get("grant/" .. r.id .. "/" .. text(a.grantee, "grantee", 128))
end

return M
