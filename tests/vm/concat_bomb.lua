-- Hostile: doubling concatenation; the string cap trips in the allocator.
return { run = function()
	local s = "x"
	while true do s = s .. s end
end }
