-- Hostile: one string far past the string cap.
return { run = function() return #string.rep("ab", 1 << 40) end }
