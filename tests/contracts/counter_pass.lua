-- A small counter contract with its own tests: `danshari contract test` runs
-- every test_* function as its own transaction, in name order.
local M = {}

function M.add(a)
  local n = (state.get("n") or 0) + a.by
  state.put("n", n)
  emit("added", {by = a.by, n = n})
  return n
end

function M.get() return state.get("n") or 0 end

function test_a_add()
  assert(M.add({by = 2}) == 2)
  assert(M.get() == 2)
end

-- Each test is a transaction: the write of test_a_add is visible here.
function test_b_state_persists()
  assert(M.get() == 2, "expected 2, got " .. tostring(M.get()))
end

function test_c_caller_and_block()
  assert(caller.has_role("contract.call"))
  assert(caller.org == "test")
  assert(block.height > 0)
end

return M
