-- Hostile: tries to catch its way past the limits.
return {
	instructions = function()
		while true do pcall(function() while true do end end) end
	end,
	memory = function()
		local ok = pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end)
		return ok
	end,
	xpcall_instructions = function()
		return xpcall(function() while true do end end, function(m) return m end)
	end,
}
