-- contract-under-test: credit.lua
-- Contract tests for credit.lua. The runner prepends
--   local CONTRACT_SOURCE = <text of contracts/credit.lua>
-- and calls each T.test_* as its own call. Every test builds a fresh world
-- in Lua: a state table (values deep-copied, as the real host encodes
-- them), a caller that the test switches, a block clock, and an event log;
-- the contract runs in that world through load(..., env), so one test can
-- act as several organisations and the subject.

local function copy(v)
	if type(v) ~= "table" then return v end
	local t = {}
	for k, x in pairs(v) do t[k] = copy(x) end
	return t
end

local function world()
	local W = {kv = {}, events = {}, time = 1700000000000, height = 1}
	local env = {
		string = string, table = table, math = math, utf8 = utf8, type = type, error = error,
		ipairs = ipairs, pairs = pairs, tostring = tostring, tonumber = tonumber,
		select = select, pcall = pcall, setmetatable = setmetatable, null = null,
	}
	env.state = {
		get = function(k) return copy(W.kv[k]) end,
		put = function(k, v) W.kv[k] = copy(v) end,
		del = function(k) W.kv[k] = nil end,
	}
	env.emit = function(name, v) W.events[#W.events + 1] = name end
	env.block = {}
	local methods = load(CONTRACT_SOURCE, "credit", "t", env)()
	-- as(who).method(args): one call, rolled back when it fails.
	function W.call(who, method, args)
		local saved = copy(W.kv)
		local roles = {}
		for _, r in ipairs(who.roles or {}) do roles[r] = true end
		env.caller = {account = who.account, org = who.org or "", roles = who.roles or {},
			has_role = function(r) return roles[r] == true end}
		env.block.height, env.block.time = W.height, W.time
		W.height, W.time = W.height + 1, W.time + 1000
		local okc, ret = pcall(methods[method], copy(args))
		if not okc then W.kv = saved end
		return okc, ret
	end
	return W
end

local function must(okc, ret)
	if not okc then error("unexpected failure: " .. tostring(ret), 0) end
	return ret
end

local function refuses(want, okc, ret)
	if okc then error("expected an error containing '" .. want .. "'", 0) end
	if not string.find(ret, want, 1, true) then
		error("expected '" .. want .. "', got '" .. tostring(ret) .. "'", 0)
	end
end

local S = string.rep("5a", 32)
local PK = string.rep("11", 32)
local C1 = string.rep("c1", 32)
local court = {account = "aa01", org = "court-d", roles = {"issuer:court.judgment", "identity:register"}}
local bank = {account = "aa03", org = "bank-c"}
local subject = {account = PK}

local function setup()
	local W = world()
	must(W.call(court, "bind_subject", {subject = S, pk = PK, kind = "person", key_id = 1}))
	local id = must(W.call(court, "issue", {subject = S, category = "court.judgment", severity = 3,
		region = "CN-11", expiry_ms = W.time + 3600000, commitment = C1}))
	return W, id
end

local T = {}

function T.test_issue_needs_issuer_role()
	local W = setup()
	refuses("lacks role issuer:court.judgment", W.call(bank, "issue", {subject = S,
		category = "court.judgment", severity = 1, region = "CN-11", expiry_ms = W.time + 10,
		commitment = C1}))
	return true
end

function T.test_profile_lists_active_records()
	local W, id = setup()
	local p = must(W.call(bank, "profile", {subject = S}))
	assert(#p.records == 1 and p.records[1].id == id and p.records[1].commitment == C1)
	must(W.call(court, "revoke", {record = id, reason = "issued in error"}))
	p = must(W.call(bank, "profile", {subject = S}))
	assert(#p.records == 0, "revoked record left in profile")
	local r = must(W.call(bank, "record", {id = id}))
	assert(r.status == "revoked" and r.history[2].reason == "issued in error")
	return true
end

function T.test_access_audited_with_and_without_grant()
	local W, id = setup()
	local a = must(W.call(bank, "access", {record = id}))
	assert(a.granted == false)
	must(W.call(subject, "grant", {record = id, grantee = "bank-c", basis = "consent",
		expiry_ms = W.time + 100000}))
	a = must(W.call(bank, "access", {record = id, purpose = "loan"}))
	assert(a.granted == true)
	local l = must(W.call(subject, "accesses", {subject = S}))
	assert(l.total == 2 and l.entries[1].granted == true and l.entries[2].granted == false)
	assert(l.entries[1].who == "bank-c" and l.entries[1].record == id and l.entries[1].grant == "consent")
	return true
end

function T.test_failed_call_changes_nothing()
	local W, id = setup()
	local before = must(W.call(bank, "record", {id = id}))
	refuses("reason", W.call(court, "correct", {record = id, severity = 1}))
	local after = must(W.call(bank, "record", {id = id}))
	assert(after.version == before.version and #after.history == #before.history)
	return true
end

return T
