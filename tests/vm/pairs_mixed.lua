-- Hostile: keys of every orderable type, then a table key.
return {
	order = function()
		local t = { 10, 20, 30, x = 1, y = 2, [true] = 1, [false] = 0, [-5] = 1, [2.5] = 1, ["10"] = 1 }
		local out = {}
		for k in pairs(t) do out[#out + 1] = type(k) .. ":" .. tostring(k) end
		return table.concat(out, " ")
	end,
	unorderable = function()
		local t = { [{}] = 1, a = 2 }
		for k in pairs(t) do end
	end,
}
