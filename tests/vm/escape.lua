-- Hostile: tries to reach the host through every known door.
return {
	names = function()
		local found = {}
		for _, n in ipairs({ "io", "os", "debug", "package", "require", "dofile", "loadfile",
			"collectgarbage", "next", "print", "warn", "loadstring", "module", "setfenv", "getfenv",
			"newproxy", "unpack", "rawio" }) do
			if _G[n] ~= nil then found[#found + 1] = n end
		end
		for _, n in ipairs({ "dump", "pack", "unpack", "packsize" }) do
			if string[n] ~= nil then found[#found + 1] = "string." .. n end
		end
		for _, n in ipairs({ "random", "randomseed", "sin", "exp", "log" }) do
			if math[n] ~= nil then found[#found + 1] = "math." .. n end
		end
		return found
	end,
	io = function() return io.open("/etc/passwd") end,
	os = function() return os.execute("true") end,
	debug = function() return debug.getinfo(1) end,
	require = function() return require("io") end,
	binary = function() return load("\27Lua\84\0") end,
	text_load = function() return load("return 6 * 7")() end,
	dump = function() return ("x").dump end,
	fmt_p = function() return string.format("%p", {}) end,
	gc = function() return setmetatable({}, { __gc = function() while true do end end }) end,
	weak = function() return setmetatable({}, { __mode = "k" }) end,
	registry = function() return getmetatable("").__index == string end,
}
