-- The handler list: named (pattern, handle) pairs evaluated in order for every message.
local utils = require(".utils")

local handlers = Handlers or {}
handlers._version = "0.0.5"
handlers.list = handlers.list or {}
handlers.coroutines = handlers.coroutines or {}
handlers.onceNonce = handlers.onceNonce or 0
handlers.utils = require(".handlers-utils")

local insert, remove = table.insert, table.remove

local function findIndex(name)
  local list = handlers.list
  for i = 1, #list do
    if list[i].name == name then return i end
  end
  return nil
end

local function checkHandle(handle, fn)
  local t = type(handle)
  if t ~= "function" and t ~= "table" then error(fn .. ": handle must be a function or a resolver table", 3) end
end

-- add(name, handle) uses the name as the pattern; add(name, pattern, handle[, maxRuns]).
local function arguments(fn, name, pattern, handle, maxRuns)
  if type(name) ~= "string" then error(fn .. ": name must be a string", 3) end
  if handle == nil then
    handle = pattern
    pattern = name
  end
  checkHandle(handle, fn)
  if maxRuns ~= nil and maxRuns ~= "inf" then
    if type(maxRuns) ~= "number" then error(fn .. ": maxRuns must be a number", 3) end
  end
  return name, pattern, handle, maxRuns
end

-- Re-using a name replaces that handler where it stands, otherwise `place` puts it in the list.
local function upsert(name, pattern, handle, maxRuns, place)
  local i = findIndex(name)
  if i then
    local h = handlers.list[i]
    h.pattern, h.handle, h.maxRuns = pattern, handle, maxRuns
    return h
  end
  local h = { name = name, pattern = pattern, handle = handle, maxRuns = maxRuns }
  place(h)
  return h
end

function handlers.add(...)
  local name, pattern, handle, maxRuns = arguments("Handlers.add", ...)
  upsert(name, pattern, handle, maxRuns, function(h) insert(handlers.list, h) end)
  return #handlers.list
end

function handlers.append(...)
  local name, pattern, handle, maxRuns = arguments("Handlers.append", ...)
  upsert(name, pattern, handle, maxRuns, function(h) insert(handlers.list, h) end)
  return #handlers.list
end

function handlers.prepend(...)
  local name, pattern, handle, maxRuns = arguments("Handlers.prepend", ...)
  upsert(name, pattern, handle, maxRuns, function(h) insert(handlers.list, 1, h) end)
  return #handlers.list
end

--- once([name,] pattern, handle): runs at most one time, ahead of the other handlers.
function handlers.once(...)
  local name, pattern, handle
  if select("#", ...) >= 3 then
    name, pattern, handle = ...
  else
    pattern, handle = ...
    handlers.onceNonce = handlers.onceNonce + 1
    name = "_once_" .. tostring(handlers.onceNonce)
  end
  assert(type(name) == "string", "Handlers.once: name must be a string")
  checkHandle(handle, "Handlers.once")
  upsert(name, pattern, handle, 1, function(h) insert(handlers.list, 1, h) end)
  return name
end

local function positioned(anchor, offset)
  return {
    add = function(...)
      local name, pattern, handle, maxRuns = arguments("Handlers.add", ...)
      local existing = findIndex(name)
      if existing then remove(handlers.list, existing).removed = true end
      local at = findIndex(anchor)
      local h = { name = name, pattern = pattern, handle = handle, maxRuns = maxRuns }
      if at then insert(handlers.list, at + offset, h) else insert(handlers.list, h) end
      return #handlers.list
    end,
  }
end

function handlers.before(name)
  assert(type(name) == "string", "Handlers.before: name must be a string")
  return positioned(name, 0)
end

function handlers.after(name)
  assert(type(name) == "string", "Handlers.after: name must be a string")
  return positioned(name, 1)
end

function handlers.remove(name)
  assert(type(name) == "string", "Handlers.remove: name must be a string")
  local i = findIndex(name)
  if i then
    local h = remove(handlers.list, i)
    h.removed = true
    return h
  end
  return nil
end

--- Suspends the running handler until a message matching `pattern` arrives, and returns it.
function handlers.receive(pattern)
  local self, isMain = coroutine.running()
  assert(not isMain, "Handlers.receive must run inside a handler")
  handlers.once(pattern, function(msg)
    local ok, err = coroutine.resume(self, msg)
    if not ok then error(err, 0) end
  end)
  local waiting = handlers.coroutines
  waiting[#waiting + 1] = self
  return coroutine.yield(pattern)
end

-- Pattern answers → what to do: 0 skips, positive runs and goes on, negative runs and stops.
local function status(result)
  if result == true then return -1 end
  if result == false or result == nil then return 0 end
  local t = type(result)
  if t == "string" then
    if result == "continue" then return 1 end
    if result == "break" then return -1 end
    return 0
  end
  if t == "number" then return result end
  return 0
end

local function resolve(handle, msg, env)
  if type(handle) == "function" then return handle(msg, env) end
  for spec, fn in pairs(handle) do
    if status(utils.matchesSpec(msg, spec)) ~= 0 then
      if type(fn) == "table" then return resolve(fn, msg, env) end
      return fn(msg, env)
    end
  end
end

local function spend(h)
  local runs = h.maxRuns
  if type(runs) == "number" then
    runs = runs - 1
    h.maxRuns = runs
    if runs <= 0 then handlers.remove(h.name) end
  end
end

--- Runs the matching handlers in list order; `_default` runs only when none of them stopped.
function handlers.evaluate(msg, env)
  local list = handlers.list
  local snapshot, n = {}, #list
  for i = 1, n do snapshot[i] = list[i] end
  local handled = false
  for i = 1, n do
    local h = snapshot[i]
    if h.name ~= "_default" and not h.removed then
      local s = status(utils.matchesSpec(msg, h.pattern))
      if s ~= 0 then
        spend(h)
        resolve(h.handle, msg, env)
        if s < 0 then
          handled = true
          break
        end
      end
    end
  end
  if not handled then
    local i = findIndex("_default")
    if i then
      local h = handlers.list[i]
      spend(h)
      resolve(h.handle, msg, env)
    end
  end
end

--- Drops finished coroutines from the waiting list.
function handlers.pruneCoroutines()
  local kept, seen = {}, {}
  for _, co in ipairs(handlers.coroutines) do
    if coroutine.status(co) ~= "dead" and not seen[co] then
      seen[co] = true
      kept[#kept + 1] = co
    end
  end
  handlers.coroutines = kept
end

function handlers.generateResolver(resolveSpec)
  return function(msg, env)
    return resolve(resolveSpec, msg, env)
  end
end

return handlers
