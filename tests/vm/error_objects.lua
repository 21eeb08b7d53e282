-- Hostile: error values that are not strings.
return {
	table = function() error({ code = 7 }) end,
	tostring_table = function() error(setmetatable({}, { __tostring = function() return "x" end })) end,
	number = function() error(42) end,
	nil_err = function() error() end,
	string = function() error("plain", 0) end,
	positioned = function() error("where") end,
}
