-- A contract whose tests partly fail: a failing test's writes are rolled
-- back, so the next test still sees the committed state.
local M = {}

function M.add(a)
  local n = (state.get("n") or 0) + a.by
  state.put("n", n)
  return n
end

function test_a_ok()
  M.add({by = 1})
end

function test_b_fails_after_write()
  M.add({by = 100})
  error("boom", 0)
end

function test_c_sees_rollback()
  assert(state.get("n") == 1, "rollback did not happen")
end

function test_d_runs_forever()
  while true do end
end

return M
