-- crypto.* in the sandbox: RFC 8032 section 7.1 TEST 2 and FIPS 180-2 "abc".
local function unhex(h) return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)) end
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local pk = unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
local sig = unhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" ..
	"085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
return {
	verify = function() return crypto.ed25519_verify(sig, "\x72", pk) end,
	sha256 = function() return hex(crypto.sha256("abc")) end,
}
