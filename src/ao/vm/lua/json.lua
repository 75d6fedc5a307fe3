-- JSON for the aos runtime. Encoding follows what aos clients expect: an empty table is `[]`,
-- integers print as integers, floats with %.14g, functions are skipped. Decoding keeps integers
-- as Lua integers so counters and balances stay exact.
local json = { _version = "levity-json 1.0" }

local byte, char, find, sub, format, gsub = string.byte, string.char, string.find, string.sub, string.format, string.gsub
local concat = table.concat
local mtype = math.type
local huge = math.huge
local utf8char = utf8.char

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escapeChar(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

-- Scanning a string for characters to escape is slow in this VM and the same ids, tag names and
-- prompts recur in every result, so short strings remember their encoded form (bounded).
local quoted, quotedCount = {}, 0
local QUOTED_MAX_LEN, QUOTED_MAX_COUNT = 256, 4096

local function quote(s)
  local q = quoted[s]
  if q then return q end
  if find(s, '[%c"\\]') then q = '"' .. gsub(s, '[%c"\\]', escapeChar) .. '"' else q = '"' .. s .. '"' end
  if #s <= QUOTED_MAX_LEN then
    if quotedCount >= QUOTED_MAX_COUNT then quoted, quotedCount = {}, 0 end
    quoted[s] = q
    quotedCount = quotedCount + 1
  end
  return q
end

local encodeValue

-- A table whose first element is set is an array when its non-function keys are exactly 1..n.
local function arrayLength(t)
  local count = 0
  for k, v in next, t do
    if type(v) ~= "function" then
      if mtype(k) ~= "integer" or k < 1 then return nil end
      count = count + 1
    end
  end
  for i = 1, count do
    if t[i] == nil then return nil end
  end
  return count
end

-- Hot path: written out rather than split into small functions, since every call costs here.
local function encodeTable(t, buf, n, stack)
  if stack[t] then error("json: circular reference", 0) end
  local len
  if t[1] ~= nil then
    len = arrayLength(t)
  elseif next(t) == nil then
    n = n + 1; buf[n] = "[]"
    return n
  end
  stack[t] = true
  if len then
    n = n + 1; buf[n] = "["
    for i = 1, len do
      if i > 1 then n = n + 1; buf[n] = "," end
      local v = t[i]
      local tv = type(v)
      if tv == "string" then
        n = n + 1; buf[n] = quoted[v] or quote(v)
      elseif tv == "function" then
        n = n + 1; buf[n] = "null"
      else
        n = encodeValue(v, buf, n, stack)
      end
    end
    n = n + 1; buf[n] = "]"
  else
    local sep = "{"
    for k, v in next, t do
      local tv = type(v)
      if tv ~= "function" then
        if type(k) ~= "string" then
          if type(k) ~= "number" then error("json: invalid key type '" .. type(k) .. "'", 0) end
          k = mtype(k) == "integer" and format("%d", k) or format("%.14g", k)
        end
        n = n + 1; buf[n] = sep
        sep = ","
        n = n + 1; buf[n] = quoted[k] or quote(k)
        n = n + 1; buf[n] = ":"
        if tv == "string" then
          n = n + 1; buf[n] = quoted[v] or quote(v)
        else
          n = encodeValue(v, buf, n, stack)
        end
      end
    end
    if sep == "{" then
      n = n + 1; buf[n] = "[]"
    else
      n = n + 1; buf[n] = "}"
    end
  end
  stack[t] = nil
  return n
end

encodeValue = function(v, buf, n, stack)
  local tv = type(v)
  if tv == "string" then
    n = n + 1; buf[n] = quoted[v] or quote(v)
    return n
  elseif tv == "table" then
    return encodeTable(v, buf, n, stack)
  elseif tv == "number" then
    if mtype(v) == "integer" then
      buf[n + 1] = format("%d", v)
    elseif v ~= v or v == huge or v == -huge then
      buf[n + 1] = "null"
    else
      buf[n + 1] = format("%.14g", v)
    end
    return n + 1
  elseif tv == "boolean" then
    buf[n + 1] = v and "true" or "false"
    return n + 1
  elseif tv == "nil" then
    buf[n + 1] = "null"
    return n + 1
  end
  error("json: cannot encode a value of type '" .. tv .. "'", 0)
end

-- One buffer and one cycle-check table serve every call; a call that failed midway leaves them
-- dirty, so the next one starts with fresh ones.
local sharedBuf, sharedStack, busy = {}, {}, false

function json.encode(value)
  if busy then sharedBuf, sharedStack = {}, {} end
  busy = true
  local buf = sharedBuf
  local n = encodeValue(value, buf, 0, sharedStack)
  local out = n == 1 and buf[1] or concat(buf, "", 1, n)
  if n > 4096 then sharedBuf = {} end
  busy = false
  return out
end

-- Decoding -------------------------------------------------------------------------------------
-- C calls dominate the cost here, so the common case (no whitespace, no escapes) takes the
-- fewest: plain finds, and one scan for backslashes per decode rather than one per string.

local decodeValue
local nextBackslash = 0

local function decodeError(str, pos, what)
  local c = sub(str, pos, pos)
  if c == "" then c = "end of input" else c = "'" .. c .. "'" end
  error(format("json: %s at position %d (found %s)", what, pos, c), 0)
end

-- The byte at pos after any whitespace, and its position.
local function peek(str, pos)
  local c = byte(str, pos)
  if c == 32 or c == 10 or c == 13 or c == 9 then
    local _, e = find(str, "^[ \t\r\n]*", pos)
    pos = e + 1
    c = byte(str, pos)
  end
  return c, pos
end

local simpleEscapes = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

local function decodeEscaped(str, pos)
  local parts, np = {}, 0
  local i = pos + 1
  while true do
    local e = find(str, '["\\]', i)
    if not e then decodeError(str, pos, "unterminated string") end
    if e > i then np = np + 1; parts[np] = sub(str, i, e - 1) end
    if byte(str, e) == 34 then
      nextBackslash = find(str, "\\", e + 1, true) or huge
      return concat(parts), e + 1
    end
    local c = sub(str, e + 1, e + 1)
    local simple = simpleEscapes[c]
    if simple then
      np = np + 1; parts[np] = simple
      i = e + 2
    elseif c == "u" then
      local hex = sub(str, e + 2, e + 5)
      if not find(hex, "^%x%x%x%x$") then decodeError(str, e, "invalid unicode escape") end
      local cp = tonumber(hex, 16)
      i = e + 6
      if cp >= 0xD800 and cp <= 0xDBFF and sub(str, i, i + 1) == "\\u" then
        local lowHex = sub(str, i + 2, i + 5)
        local low = find(lowHex, "^%x%x%x%x$") and tonumber(lowHex, 16)
        if low and low >= 0xDC00 and low <= 0xDFFF then
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00)
          i = i + 6
        end
      end
      np = np + 1; parts[np] = utf8char(cp)
    else
      decodeError(str, e + 1, "invalid escape")
    end
  end
end

-- pos is at the opening quote.
local function decodeString(str, pos)
  local close = find(str, '"', pos + 1, true)
  if not close then decodeError(str, pos, "unterminated string") end
  if nextBackslash < pos then nextBackslash = find(str, "\\", pos + 1, true) or huge end
  if nextBackslash > close then return sub(str, pos + 1, close - 1), close + 1 end
  return decodeEscaped(str, pos)
end

local function decodeNumber(str, pos)
  local s, e = find(str, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not s then decodeError(str, pos, "invalid number") end
  local n = tonumber(sub(str, s, e))
  if not n then decodeError(str, pos, "invalid number") end
  return n, e + 1
end

local function decodeArray(str, pos)
  local arr, n = {}, 0
  local c
  c, pos = peek(str, pos + 1)
  if c == 93 then return arr, pos + 1 end
  while true do
    local v
    v, pos = decodeValue(str, pos, c)
    n = n + 1
    arr[n] = v
    c, pos = peek(str, pos)
    if c == 93 then return arr, pos + 1 end
    if c ~= 44 then decodeError(str, pos, "expected ',' or ']'") end
    c, pos = peek(str, pos + 1)
  end
end

local function decodeObject(str, pos)
  local obj = {}
  local c
  c, pos = peek(str, pos + 1)
  if c == 125 then return obj, pos + 1 end
  while true do
    if c ~= 34 then decodeError(str, pos, "expected a string key") end
    -- the key, inlined decodeString
    local k
    local close = find(str, '"', pos + 1, true)
    if not close then decodeError(str, pos, "unterminated string") end
    if nextBackslash < pos then nextBackslash = find(str, "\\", pos + 1, true) or huge end
    if nextBackslash > close then
      k = sub(str, pos + 1, close - 1)
      pos = close + 1
    else
      k, pos = decodeEscaped(str, pos)
    end
    local colon, v1 = byte(str, pos, pos + 1)
    if colon == 58 and v1 ~= nil and v1 ~= 32 and v1 ~= 10 and v1 ~= 13 and v1 ~= 9 then
      pos = pos + 1
      c = v1
    else
      c, pos = peek(str, pos)
      if c ~= 58 then decodeError(str, pos, "expected ':'") end
      c, pos = peek(str, pos + 1)
    end
    -- the value, with strings inlined too
    local v
    if c == 34 then
      close = find(str, '"', pos + 1, true)
      if not close then decodeError(str, pos, "unterminated string") end
      if nextBackslash < pos then nextBackslash = find(str, "\\", pos + 1, true) or huge end
      if nextBackslash > close then
        v = sub(str, pos + 1, close - 1)
        pos = close + 1
      else
        v, pos = decodeEscaped(str, pos)
      end
    else
      v, pos = decodeValue(str, pos, c)
    end
    obj[k] = v
    local sep, k1 = byte(str, pos, pos + 1)
    if sep == 44 and k1 == 34 then
      pos = pos + 1
      c = 34
    else
      c, pos = peek(str, pos)
      if c == 125 then return obj, pos + 1 end
      if c ~= 44 then decodeError(str, pos, "expected ',' or '}'") end
      c, pos = peek(str, pos + 1)
    end
  end
end

decodeValue = function(str, pos, c)
  if c == 34 then return decodeString(str, pos)
  elseif c == 123 then return decodeObject(str, pos)
  elseif c == 91 then return decodeArray(str, pos)
  elseif c == 116 then
    if sub(str, pos, pos + 3) == "true" then return true, pos + 4 end
  elseif c == 102 then
    if sub(str, pos, pos + 4) == "false" then return false, pos + 5 end
  elseif c == 110 then
    if sub(str, pos, pos + 3) == "null" then return nil, pos + 4 end
  elseif c == 45 or (c and c >= 48 and c <= 57) then
    return decodeNumber(str, pos)
  end
  decodeError(str, pos, "unexpected character")
end

function json.decode(str)
  if type(str) ~= "string" then
    error("json: expected a string to decode, got " .. type(str), 2)
  end
  nextBackslash = 0
  local c, pos = peek(str, 1)
  local value
  value, pos = decodeValue(str, pos, c)
  c, pos = peek(str, pos)
  if c ~= nil then decodeError(str, pos, "trailing garbage") end
  return value
end

return json
