-- Functional helpers and the pattern matcher that decides which handlers see a message.
local utils = { _version = "0.0.5" }

local lower, find, match, gsub, upper = string.lower, string.find, string.match, string.gsub, string.upper
local unpack, pack = table.unpack, table.pack

-- `-` is left out on purpose: hyphenated names such as "Credit-Notice" must compare literally.
local MAGIC = "[%^%$%(%)%%%.%[%]%*%+%?]"

--- Does one spec value accept one message value?
function utils.matchesPattern(pattern, value, msg)
  if pattern == "_" then return value ~= nil end
  if value == nil then return false end
  local tp = type(pattern)
  if tp == "function" then
    return pattern(value, msg) and true or false
  end
  if tp == "table" then
    for _, alternative in ipairs(pattern) do
      if utils.matchesPattern(alternative, value, msg) then return true end
    end
    return false
  end
  if tp == "string" then
    local tv = type(value)
    if tv == "number" or tv == "boolean" then value = tostring(value) elseif tv ~= "string" then return false end
    if value == pattern then return true end
    if find(pattern, MAGIC) then
      local ok, found = pcall(match, value, pattern)
      return ok and found ~= nil
    end
    return lower(value) == lower(pattern)
  end
  return pattern == value
end

--- Does a message satisfy a handler spec? Function specs may answer true, false, "continue",
--- "break" or a number; those answers are passed through for Handlers.evaluate to interpret.
function utils.matchesSpec(msg, spec)
  local ts = type(spec)
  if ts == "function" then
    return spec(msg)
  elseif ts == "table" then
    for key, pattern in pairs(spec) do
      if not utils.matchesPattern(pattern, msg[key], msg) then return false end
    end
    return true
  elseif ts == "string" then
    return msg.Action == spec
  end
  return false
end

function utils.capitalize(s)
  return (gsub(s, "^%l", upper))
end

--- Title-Case a name the way aos normalises message keys and tag names.
function utils.normalize(name)
  local s = gsub(lower(name), "_", "-")
  s = gsub(s, "^%l", upper)
  s = gsub(s, "%-%l", upper)
  return s
end

--- curry(fn, arity) collects arguments until `arity` are known, then calls fn.
function utils.curry(fn, arity)
  arity = arity or 2
  if arity <= 1 then return fn end
  return function(...)
    local args = pack(...)
    if args.n >= arity then return fn(...) end
    return utils.curry(function(...)
      local rest = pack(...)
      local all = { unpack(args, 1, args.n) }
      for i = 1, rest.n do all[args.n + i] = rest[i] end
      return fn(unpack(all, 1, args.n + rest.n))
    end, arity - args.n)
  end
end

utils.concat = utils.curry(function(a, b)
  assert(type(a) == "table" and type(b) == "table", "concat: both arguments must be arrays")
  local out = {}
  for i = 1, #a do out[#out + 1] = a[i] end
  for i = 1, #b do out[#out + 1] = b[i] end
  return out
end, 2)

utils.reduce = utils.curry(function(fn, initial, t)
  assert(type(fn) == "function", "reduce: first argument must be a function")
  assert(type(t) == "table", "reduce: third argument must be a table")
  local acc = initial
  for k, v in pairs(t) do
    if acc == nil then acc = v else acc = fn(acc, v, k) end
  end
  return acc
end, 3)

utils.map = utils.curry(function(fn, t)
  assert(type(fn) == "function", "map: first argument must be a function")
  assert(type(t) == "table", "map: second argument must be a table")
  local out = {}
  for k, v in pairs(t) do out[k] = fn(v, k) end
  return out
end, 2)

utils.filter = utils.curry(function(fn, t)
  assert(type(fn) == "function", "filter: first argument must be a function")
  assert(type(t) == "table", "filter: second argument must be a table")
  local out = {}
  for _, v in ipairs(t) do
    if fn(v) then out[#out + 1] = v end
  end
  return out
end, 2)

utils.find = utils.curry(function(fn, t)
  for _, v in pairs(t) do
    if fn(v) then return v end
  end
  return nil
end, 2)

utils.propEq = utils.curry(function(prop, value, object)
  return type(object) == "table" and object[prop] == value
end, 3)

utils.reverse = function(t)
  local out = {}
  for i = #t, 1, -1 do out[#out + 1] = t[i] end
  return out
end

--- compose(f, g, h)(x) == f(g(h(x)))
utils.compose = function(...)
  local fns = pack(...)
  return function(...)
    local result = pack(...)
    for i = fns.n, 1, -1 do
      result = pack(fns[i](unpack(result, 1, result.n)))
    end
    return unpack(result, 1, result.n)
  end
end

utils.prop = utils.curry(function(name, object)
  return object[name]
end, 2)

utils.includes = utils.curry(function(value, t)
  for _, v in pairs(t) do
    if v == value then return true end
  end
  return false
end, 2)

utils.keys = function(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

utils.values = function(t)
  local out = {}
  for _, v in pairs(t) do out[#out + 1] = v end
  return out
end

return utils
