-- Hostile: a polynomial-time pattern on a long subject.
return { run = function()
	local s = string.rep("a", 20000)
	return string.find(s, ".-.-.-.-.-.-.-b")
end }
