-- Standard base64 (RFC 4648, with padding).
local base64 = { _version = "0.0.1" }

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local byte, char, sub, concat = string.byte, string.char, string.sub, table.concat

local encodeMap, decodeMap = {}, {}
for i = 1, 64 do
  local c = sub(ALPHABET, i, i)
  encodeMap[i - 1] = c
  decodeMap[byte(c)] = i - 1
end

function base64.encode(data)
  assert(type(data) == "string", "base64.encode: expected a string")
  local out, n = {}, 0
  for i = 1, #data, 3 do
    local a, b, c = byte(data, i, i + 2)
    local v = (a << 16) | ((b or 0) << 8) | (c or 0)
    n = n + 1
    out[n] = encodeMap[(v >> 18) & 63] .. encodeMap[(v >> 12) & 63]
      .. (b and encodeMap[(v >> 6) & 63] or "=") .. (c and encodeMap[v & 63] or "=")
  end
  return concat(out)
end

function base64.decode(text)
  assert(type(text) == "string", "base64.decode: expected a string")
  text = text:gsub("[^%w%+/]", "")
  local out, n = {}, 0
  for i = 1, #text, 4 do
    local a, b, c, d = byte(text, i, i + 3)
    a, b = decodeMap[a], decodeMap[b]
    if a == nil or b == nil then break end
    c, d = c and decodeMap[c], d and decodeMap[d]
    local v = (a << 18) | (b << 12) | ((c or 0) << 6) | (d or 0)
    n = n + 1
    if c == nil then
      out[n] = char((v >> 16) & 255)
    elseif d == nil then
      out[n] = char((v >> 16) & 255, (v >> 8) & 255)
    else
      out[n] = char((v >> 16) & 255, (v >> 8) & 255, v & 255)
    end
  end
  return concat(out)
end

return base64
