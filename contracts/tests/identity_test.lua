-- contract-under-test: identity.lua
-- Contract tests for identity.lua (same runner convention as credit_test.lua).

local function copy(v)
	if type(v) ~= "table" then return v end
	local t = {}
	for k, x in pairs(v) do t[k] = copy(x) end
	return t
end

local function world()
	local W = {kv = {}, height = 1, time = 1700000000000}
	local env = {string = string, table = table, math = math, type = type, error = error,
		ipairs = ipairs, pairs = pairs, tostring = tostring, null = null}
	env.state = {get = function(k) return copy(W.kv[k]) end, put = function(k, v) W.kv[k] = copy(v) end,
		del = function(k) W.kv[k] = nil end}
	env.emit = function() end
	env.block = {}
	local methods = load(CONTRACT_SOURCE, "identity", "t", env)()
	function W.call(who, method, args)
		local saved = copy(W.kv)
		local roles = {}
		for _, r in ipairs(who.roles or {}) do roles[r] = true end
		env.caller = {account = who.account, org = who.org or "", roles = who.roles or {},
			has_role = function(r) return roles[r] == true end}
		env.block.height, env.block.time = W.height, W.time
		W.height = W.height + 1
		local okc, ret = pcall(methods[method], copy(args))
		if not okc then W.kv = saved end
		return okc, ret
	end
	return W
end

local S, S2 = string.rep("5a", 32), string.rep("6b", 32)
local PK, PK2 = string.rep("11", 32), string.rep("22", 32)
local reg = {account = "aa01", org = "bureau-a", roles = {"identity:register"}}

local T = {}

function T.test_register_and_rotate()
	local W = world()
	assert(not W.call({account = "x", org = "bank-c"}, "register", {subject = S, kind = "person", pk = PK, key_id = 1}))
	assert(W.call(reg, "register", {subject = S, kind = "person", pk = PK, key_id = 1}))
	assert(not W.call(reg, "register", {subject = S, kind = "person", pk = PK, key_id = 1}))
	assert(W.call({account = PK}, "rotate_key", {subject = S, pk = PK2}))
	assert(not W.call({account = PK}, "rotate_key", {subject = S, pk = PK}), "old key still works")
	local _, s = W.call(reg, "get", {subject = S})
	assert(s.pk == PK2 and #s.keys == 2)
	return true
end

function T.test_relink_after_key_rotation()
	local W = world()
	assert(W.call(reg, "register", {subject = S, kind = "org", pk = PK, key_id = 1}))
	assert(W.call(reg, "relink", {old = S, new = S2, key_id = 2}))
	local _, cur = W.call(reg, "current", {subject = S})
	assert(cur == S2)
	return true
end

return T
