-- Host prelude, run before any module code. It closes every door to the host (files, processes,
-- environment, C libraries, host clocks) and makes everything left deterministic. It returns the
-- state dump function the host keeps in the registry for stateHash.
local G = _G
local type, next, pairs, ipairs, select, error, tostring, rawget = type, next, pairs, ipairs, select, error, tostring, rawget
local format, sub = string.format, string.sub
local sort, concat = table.sort, table.concat
local mtype = math.type
local traceback = debug.traceback

-- Files, processes and the environment.
G.io = nil
package.loaded.io = nil
for _, name in ipairs({ "execute", "remove", "rename", "exit", "getenv", "tmpname", "setlocale" }) do
  os[name] = nil
end
G.dofile = nil
G.loadfile = nil

-- Modules come from package.preload only: no C loaders, no files.
package.loadlib = nil
package.searchpath = nil
package.cpath = ""
package.path = ""
package.searchers = { package.searchers[1] }

-- Hooks are the host's (instruction counting); only tracebacks are left of the debug library.
local safeDebug = { traceback = traceback }
G.debug = safeDebug
package.loaded.debug = safeDebug

-- Output goes through the runtime's print; stdout and stderr belong to the host.
G.print = function() end
G.warn = function() end

-- Text chunks only: crafted bytecode can corrupt the VM.
local rawload = load
G.load = function(chunk, name, _, ...)
  if select("#", ...) > 0 then return rawload(chunk, name, "t", (...)) end
  return rawload(chunk, name, "t")
end

-- Finalizers run with hooks disabled, so they could loop forever unmetered.
local rawsetmetatable = setmetatable
G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not available in a process", 2)
  end
  return rawsetmetatable(t, mt)
end

-- A message handler runs with hooks disabled when the error came from the instruction hook, so
-- a Lua handler is called after unwinding instead; debug.traceback (C, bounded) is passed through.
local rawxpcall, rawpcall = xpcall, pcall
local function identity(e) return e end
G.xpcall = function(f, handler, ...)
  if handler == traceback then return rawxpcall(f, handler, ...) end
  local results = table.pack(rawxpcall(f, identity, ...))
  if results[1] then return table.unpack(results, 1, results.n) end
  local ok, handled = rawpcall(handler, results[2])
  return false, handled
end

-- Short-lived garbage is what message handling makes; the generational mode suits it.
collectgarbage("generational")
local rawgc = collectgarbage
local gcOptions = { collect = true, count = true, step = true, isrunning = true }
G.collectgarbage = function(option, arg)
  option = option or "collect"
  if not gcOptions[option] then error("collectgarbage('" .. tostring(option) .. "') is not available", 2) end
  return rawgc(option, arg)
end

-- Randomness: Lua seeds from the host clock when asked without a seed.
local rawrandomseed = math.randomseed
math.randomseed = function(...)
  if select("#", ...) == 0 then return rawrandomseed(0) end
  return rawrandomseed(...)
end
rawrandomseed(0)

-- Clocks: no host time. os.time() is 0 until the runtime supplies the message timestamp;
-- os.time(t) converts a UTC date table; os.date always formats UTC.
local function daysFromCivil(y, m, d)
  y = y + (m - 1) // 12
  m = (m - 1) % 12 + 1
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function field(t, key, default)
  local v = t[key]
  if v == nil then
    if default == nil then error("field '" .. key .. "' missing in date table", 3) end
    return default
  end
  local i = math.tointeger(v)
  if i == nil then error("field '" .. key .. "' is not an integer", 3) end
  return i
end

os.time = function(t)
  if t == nil then return 0 end
  if type(t) ~= "table" then error("bad argument #1 to 'time' (table expected)", 2) end
  local days = daysFromCivil(field(t, "year"), field(t, "month"), field(t, "day"))
  return days * 86400 + field(t, "hour", 12) * 3600 + field(t, "min", 0) * 60 + field(t, "sec", 0)
end
os.clock = function() return 0.0 end
local rawdate = os.date
os.date = function(fmt, t)
  fmt = fmt or "%c"
  if sub(fmt, 1, 1) ~= "!" then fmt = "!" .. fmt end
  if t == nil then
    local now = os.time()
    t = type(now) == "number" and now // 1000 or 0
  end
  return rawdate(fmt, t)
end

-- State dump for stateHash: _G walked with sorted keys; standard libraries by name; tables seen
-- before as back-references; functions, threads and userdata by type only.
local libs = {}
for name, lib in pairs({ string = string, table = table, math = math, coroutine = coroutine, utf8 = utf8,
  os = os, package = package, debug = safeDebug }) do
  libs[lib] = name
end

local typeRank = { boolean = 1, number = 2, string = 3 }

local function keyLess(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    local ra, rb = typeRank[ta] or 9, typeRank[tb] or 9
    if ra ~= rb then return ra < rb end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return (not a) and b end
  return tostring(a) < tostring(b)
end

local function statedump()
  local out, n = {}, 0
  local seen, ids = {}, 0
  local walk
  walk = function(v)
    local t = type(v)
    if t == "string" then
      n = n + 1; out[n] = format("%q", v)
    elseif t == "number" then
      n = n + 1
      if mtype(v) == "integer" then out[n] = format("i%d", v)
      elseif v ~= v then out[n] = "fnan"
      else out[n] = format("f%.17g", v) end
    elseif t == "boolean" then
      n = n + 1; out[n] = v and "true" or "false"
    elseif t == "table" then
      local lib = libs[v]
      if lib then
        n = n + 1; out[n] = "<lib:" .. lib .. ">"
        return
      end
      local id = seen[v]
      if id then
        n = n + 1; out[n] = "<ref:" .. id .. ">"
        return
      end
      ids = ids + 1
      seen[v] = ids
      local keys = {}
      for k in next, v do keys[#keys + 1] = k end
      sort(keys, keyLess)
      n = n + 1; out[n] = "{"
      for i = 1, #keys do
        local k = keys[i]
        walk(k)
        n = n + 1; out[n] = "="
        walk(rawget(v, k))
        n = n + 1; out[n] = ";"
      end
      n = n + 1; out[n] = "}"
    else
      n = n + 1; out[n] = t
    end
  end
  walk(G)
  return concat(out)
end

return statedump
