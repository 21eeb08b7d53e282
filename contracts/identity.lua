-- identity — the registry of subject pseudonyms (docs/PRIVACY.md).
--
-- A subject is registered by a member organisation that has checked the
-- person or enterprise in person or through its own registry, and that holds
-- the consortium subject key to derive the pseudonym (`danshari credit
-- subject-id`). Only the pseudonym, its kind, the consortium key version it
-- was made under and the subject's own public key (for consents and appeals)
-- are stored: no name, no national id.
--
-- State keys (contract-relative):
--   s/<subject>   {subject, kind, key_id, pk, keys = [{pk, height, why}...],
--                  registered_by, height, status, linked_to}
--   link/<old>    the pseudonym that replaced <old> after a consortium key
--                 rotation (re-linking)
-- Roles: identity:register.

local M = {}

local KEYS_MAX = 16 -- key history per subject

local function fail(msg) error(msg, 0) end

local function hex64(s, what)
	if type(s) ~= "string" or #s ~= 64 or not s:match("^[0-9a-f]+$") then
		fail(what .. " must be 64 lowercase hex digits")
	end
	return s
end

local function key_id(v)
	if math.type(v) ~= "integer" or v < 1 or v > 0xffffffff then fail("key_id must be an integer in 1..4294967295") end
	return v
end

local function registrar()
	if not caller.has_role("identity:register") then fail("caller lacks role identity:register") end
	if caller.org == "" then fail("caller belongs to no organisation") end
	return caller.org
end

local function get(subject)
	local s = state.get("s/" .. hex64(subject, "subject"))
	if not s then fail("unknown subject " .. subject) end
	return s
end

-- register {subject, kind, pk, key_id}
function M.register(a)
	if type(a) ~= "table" then fail("arguments must be a map") end
	local org = registrar()
	hex64(a.subject, "subject")
	hex64(a.pk, "pk")
	if a.kind ~= "person" and a.kind ~= "org" then fail("kind must be person or org") end
	if state.get("s/" .. a.subject) then fail("subject " .. a.subject .. " is already registered") end
	state.put("s/" .. a.subject, {subject = a.subject, kind = a.kind, key_id = key_id(a.key_id),
		pk = a.pk, keys = {{pk = a.pk, height = block.height, why = "register"}},
		registered_by = org, height = block.height, status = "active", linked_to = null})
	emit("identity.registered", {subject = a.subject, key_id = a.key_id})
	return true
end

-- rotate_key {subject, pk [, reason]}: by the subject's current key, or by a
-- registrar (lost key, re-identified in person) with a reason.
function M.rotate_key(a)
	if type(a) ~= "table" then fail("arguments must be a map") end
	local s = get(a.subject)
	if s.status ~= "active" then fail("subject " .. s.subject .. " is " .. s.status) end
	hex64(a.pk, "pk")
	local why
	if caller.account == s.pk then
		why = "subject"
	else
		registrar()
		if type(a.reason) ~= "string" or #a.reason == 0 or #a.reason > 256 then
			fail("a registrar rotation needs a reason")
		end
		why = "registrar: " .. a.reason
	end
	if a.pk == s.pk then fail("pk is already the current key") end
	if #s.keys >= KEYS_MAX then table.remove(s.keys, 1) end
	s.keys[#s.keys + 1] = {pk = a.pk, height = block.height, why = why}
	s.pk = a.pk
	state.put("s/" .. s.subject, s)
	emit("identity.key_rotated", {subject = s.subject})
	return true
end

-- relink {old, new, key_id}: after the consortium subject key is rotated, a
-- registrar re-derives the pseudonym under the new key and links the two, so
-- a subject's history stays one subject. The old entry is retired.
function M.relink(a)
	if type(a) ~= "table" then fail("arguments must be a map") end
	local org = registrar()
	local old = get(a.old)
	hex64(a.new, "new")
	local kid = key_id(a.key_id)
	if old.status ~= "active" then fail("subject " .. old.subject .. " is " .. old.status) end
	if kid <= old.key_id then fail("key_id must be newer than the old pseudonym's") end
	if state.get("s/" .. a.new) then fail("subject " .. a.new .. " is already registered") end
	state.put("s/" .. a.new, {subject = a.new, kind = old.kind, key_id = kid, pk = old.pk,
		keys = old.keys, registered_by = org, height = block.height, status = "active",
		linked_to = old.subject})
	old.status = "relinked"
	state.put("s/" .. old.subject, old)
	state.put("link/" .. old.subject, a.new)
	emit("identity.relinked", {old = old.subject, new = a.new, key_id = kid})
	return true
end

-- get {subject}: the registry entry (follows no links; see current).
function M.get(a)
	if type(a) ~= "table" then fail("arguments must be a map") end
	return get(a.subject)
end

-- current {subject}: follows re-links (at most 16 hops) to the active pseudonym.
function M.current(a)
	if type(a) ~= "table" then fail("arguments must be a map") end
	local s = hex64(a.subject, "subject")
	for _ = 1, 16 do
		local nxt = state.get("link/" .. s)
		if not nxt then return s end
		s = nxt
	end
	fail("too many re-links")
end

return M
