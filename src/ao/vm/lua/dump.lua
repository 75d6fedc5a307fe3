-- Serialises a value as Lua source text (sorted keys), e.g. for the `test` field of Eval output.
local format, rep, concat, sort = string.format, string.rep, table.concat, table.sort

local function keyOrder(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return format("%q", v) end
  if t == "number" then
    if math.type(v) == "integer" then return format("%d", v) end
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return format("%.17g", v)
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  return format("nil --[[%s]]", t)
end

local function dump(v, indent, seen)
  if type(v) ~= "table" then return scalar(v) end
  if seen[v] then return "nil --[[cycle]]" end
  seen[v] = true
  local n = #v
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  sort(keys, keyOrder)
  if n == 0 and #keys == 0 then
    seen[v] = nil
    return "{}"
  end
  local pad = rep("  ", indent + 1)
  local parts = {}
  for i = 1, n do parts[#parts + 1] = pad .. dump(v[i], indent + 1, seen) end
  for _, k in ipairs(keys) do
    parts[#parts + 1] = pad .. "[" .. scalar(k) .. "] = " .. dump(v[k], indent + 1, seen)
  end
  seen[v] = nil
  return "{\n" .. concat(parts, ",\n") .. "\n" .. rep("  ", indent) .. "}"
end

return function(value)
  return dump(value, 0, {})
end
