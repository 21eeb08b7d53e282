-- Hostile: never terminates; must stop at the instruction budget.
return { run = function() while true do end end }
