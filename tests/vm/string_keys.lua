-- Rehash-heavy string-keyed tables: keys inserted and deleted in waves, so
-- where Lua rehashes depends on the per-process string-hash seed. The
-- receipt must not.
local function churn(rounds, width)
	local t = {}
	local live = 0
	for r = 1, rounds do
		for i = 1, width do
			t["k" .. r .. "_" .. i] = i
			live = live + 1
		end
		for i = 1, width, 2 do
			t["k" .. r .. "_" .. i] = nil
			live = live - 1
		end
	end
	local n = 0
	for _ in pairs(t) do n = n + 1 end
	return n == live and n or -1
end
return {
	churn = function() return churn(40, 50) end,
	-- Keeps string keys live until the logical memory cap stops it.
	bomb = function()
		local t = {}
		local i = 0
		while true do
			i = i + 1
			t[string.format("%060d", i)] = {i}
			if i % 3 == 0 then t[string.format("%060d", i - 1)] = nil end
		end
	end,
	-- Same, but until the instruction budget stops it.
	spin = function()
		local t = {}
		local i = 0
		while true do
			i = i + 1
			t["s" .. (i % 5000)] = i
			if i % 7 == 0 then t["s" .. ((i * 13) % 5000)] = nil end
		end
	end,
}
