-- Human-readable rendering of tables for print(): short tables on one line, longer ones indented,
-- array items first, then the other keys in sorted order. ANSI colours as the aos console uses.
local M = {}

local format, rep, concat, sort = string.format, string.rep, table.concat, table.sort

M.colors = {
  key = "\27[32m",
  string = "\27[34m",
  number = "\27[34m",
  boolean = "\27[34m",
  reset = "\27[0m",
}

local MAX_INLINE = 60

local function keyOrder(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function scalar(v, colors)
  local t = type(v)
  if t == "string" then return colors.string .. format("%q", v) .. colors.reset end
  if t == "number" or t == "boolean" then return colors[t] .. tostring(v) .. colors.reset end
  if t == "nil" then return "nil" end
  return t
end

local function keyText(k, colors)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return colors.key .. k .. colors.reset end
  return "[" .. scalar(k, colors) .. "]"
end

local function render(v, indent, colors, seen)
  if type(v) ~= "table" then return scalar(v, colors) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local parts = {}
  local n = #v
  for i = 1, n do parts[#parts + 1] = render(v[i], indent + 1, colors, seen) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  sort(keys, keyOrder)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = keyText(k, colors) .. " = " .. render(v[k], indent + 1, colors, seen)
  end
  seen[v] = nil
  if #parts == 0 then return "{}" end
  local inline = "{ " .. concat(parts, ", ") .. " }"
  local visible = #inline
  if colors.reset ~= "" then visible = #(inline:gsub("\27%[%d*m", "")) end
  if visible <= MAX_INLINE and not inline:find("\n") then return inline end
  local pad = rep("  ", indent + 1)
  return "{\n" .. pad .. concat(parts, ",\n" .. pad) .. "\n" .. rep("  ", indent) .. "}"
end

function M.format(value, indent)
  return render(value, indent or 0, M.colors, {})
end

--- The same layout without colours.
function M.plain(value, indent)
  local none = { key = "", string = "", number = "", boolean = "", reset = "" }
  return render(value, indent or 0, none, {})
end

return M
