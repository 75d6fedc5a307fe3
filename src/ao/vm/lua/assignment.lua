-- Assignments: messages scheduled on this process whose Target is another process. They are
-- only processed when they match a spec the process registered with ao.addAssignable.
local utils = require(".utils")

return function(ao)
  ao.assignables = ao.assignables or {}

  --- addAssignable([name,] spec): a named spec replaces the one with the same name.
  function ao.addAssignable(...)
    local name, spec
    if select("#", ...) >= 2 then name, spec = ... else spec = ... end
    assert(name == nil or type(name) == "string", "addAssignable: name must be a string")
    local t = type(spec)
    assert(t == "table" or t == "function" or t == "string", "addAssignable: spec must be a table, function or string")
    if name then
      for _, entry in ipairs(ao.assignables) do
        if entry.name == name then
          entry.pattern = spec
          return
        end
      end
    end
    table.insert(ao.assignables, { name = name, pattern = spec })
  end

  function ao.removeAssignable(key)
    if type(key) == "number" then
      if ao.assignables[key] == nil then error("removeAssignable: no assignable at index " .. key, 2) end
      table.remove(ao.assignables, key)
      return
    end
    assert(type(key) == "string", "removeAssignable: key must be a name or an index")
    for i, entry in ipairs(ao.assignables) do
      if entry.name == key then
        table.remove(ao.assignables, i)
        return
      end
    end
  end

  function ao.isAssignment(msg)
    return msg.Target ~= nil and msg.Target ~= ao.id
  end

  function ao.isAssignable(msg)
    for _, entry in ipairs(ao.assignables) do
      local result = utils.matchesSpec(msg, entry.pattern)
      if result ~= nil and result ~= false and result ~= 0 then return true end
    end
    return false
  end
end
