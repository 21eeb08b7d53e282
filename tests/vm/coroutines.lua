-- Hostile: yields that cross the contract boundary, and coroutine churn.
return {
	yield_main = function() coroutine.yield(1) end,
	yield_in_sort = function()
		local co = coroutine.wrap(function()
			table.sort({ 3, 2, 1 }, function(a, b) coroutine.yield() return a < b end)
		end)
		co()
	end,
	generator = function()
		local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
		return gen() + gen() + gen()
	end,
	yield_in_pcall = function()
		local co = coroutine.create(function() pcall(function() coroutine.yield(5) end) return 6 end)
		local _, a = coroutine.resume(co)
		local _, b = coroutine.resume(co)
		return a * 10 + b
	end,
	churn = function()
		while true do coroutine.resume(coroutine.create(function() end)) end
	end,
	loop_inside = function()
		local co = coroutine.create(function() while true do end end)
		return coroutine.resume(co)
	end,
}
