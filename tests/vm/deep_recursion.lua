-- Hostile: unbounded non-tail recursion.
local function f(n) return 1 + f(n + 1) end
return { run = function() return f(1) end }
