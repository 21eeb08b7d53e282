-- Hostile: grows a table of strings until the memory cap stops it.
return { run = function()
	local t = {}
	local i = 0
	while true do
		i = i + 1
		t[i] = string.rep("x", 1000) .. i
	end
end }
