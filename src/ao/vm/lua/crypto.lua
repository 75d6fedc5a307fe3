-- `.crypto`: message digests and HMAC in pure Lua 5.4 (64-bit integers), deterministic like
-- everything else a process runs. Levity's own implementation of the aos module's digest API:
--   crypto.digest.{md5, sha1, sha2_256, sha2_512, sha3_256, sha3_512, keccak256, keccak512}(data)
--   crypto.digest.blake2b(data [, outlen = 64 [, key = ""]])
--   crypto.mac.createHmac(data, key [, "sha256" | "sha1"])
-- `data` is a string, a byte array or a stream (crypto.utils.stream.*); each returns an object
-- with asBytes(), asHex() and asString(). Ciphers and ISAAC are not included.

local M32 = 0xffffffff

-- Streams are functions returning one byte per call and nil at the end.
local stream = {}
function stream.fromString(s)
  local i = 0
  return function()
    i = i + 1
    if i <= #s then return s:byte(i) end
  end
end
function stream.fromArray(bytes)
  local i = 0
  return function()
    i = i + 1
    return bytes[i]
  end
end
function stream.fromHex(hex) return stream.fromString((hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))) end
function stream.toString(source)
  local parts = {}
  for byte in source do parts[#parts + 1] = string.char(byte) end
  return table.concat(parts)
end
function stream.toArray(source)
  local bytes = {}
  for byte in source do bytes[#bytes + 1] = byte end
  return bytes
end

local hex = {}
function hex.stringToHex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
function hex.hexToString(h)
  if #h % 2 ~= 0 or h:find("%X") then error("crypto: not a hex string", 2) end
  return (h:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

local array = {}
function array.fromString(s) return { s:byte(1, -1) } end
function array.toString(bytes)
  local parts = {}
  for i = 1, #bytes, 4096 do parts[#parts + 1] = string.char(table.unpack(bytes, i, math.min(i + 4095, #bytes))) end
  return table.concat(parts)
end
function array.fromHex(h) return array.fromString(hex.hexToString(h)) end
function array.toHex(bytes) return hex.stringToHex(array.toString(bytes)) end

-- Any accepted input as a string of bytes.
local function bytesOf(data)
  local kind = type(data)
  if kind == "string" then return data end
  if kind == "function" then return stream.toString(data) end
  if kind == "table" then return array.toString(data) end
  error("crypto: expected a string, a byte array or a stream, got " .. kind, 3)
end

local function result(s)
  return {
    asString = function() return s end,
    asHex = function() return hex.stringToHex(s) end,
    asBytes = function() return array.fromString(s) end,
  }
end

------------------------------------------------------------------------------------------------
-- MD5 and SHA-1 / SHA-256 (32-bit words)

local function rotl32(x, n) return ((x << n) | (x >> (32 - n))) & M32 end
local function rotr32(x, n) return ((x >> n) | (x << (32 - n))) & M32 end

-- Merkle–Damgård padding: 0x80, zeros, then the bit length in `lengthBytes` bytes.
local function mdPad(s, block, lengthBytes, littleEndian)
  local bits = #s * 8
  local zeros = (block - (#s + 1 + lengthBytes) % block) % block
  local length
  if littleEndian then length = string.pack("<I8", bits) .. string.rep("\0", lengthBytes - 8)
  else length = string.rep("\0", lengthBytes - 8) .. string.pack(">I8", bits) end
  return s .. "\128" .. string.rep("\0", zeros) .. length
end

local MD5_K = {
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
}
local MD5_SHIFTS = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 }

local function md5(s)
  s = mdPad(s, 64, 8, true)
  local h0, h1, h2, h3 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476
  for offset = 1, #s, 64 do
    local w = { string.unpack("<I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4", s, offset) }
    local a, b, c, d = h0, h1, h2, h3
    for i = 0, 63 do
      local f, g
      local round = i // 16
      if round == 0 then f = (b & c) | (~b & d); g = i
      elseif round == 1 then f = (d & b) | (~d & c); g = (5 * i + 1) % 16
      elseif round == 2 then f = b ~ c ~ d; g = (3 * i + 5) % 16
      else f = c ~ (b | (~d & M32)); g = (7 * i) % 16 end
      f = (f + a + MD5_K[i + 1] + w[g + 1]) & M32
      a, d, c = d, c, b
      b = (b + rotl32(f, MD5_SHIFTS[round * 4 + i % 4 + 1])) & M32
    end
    h0, h1, h2, h3 = (h0 + a) & M32, (h1 + b) & M32, (h2 + c) & M32, (h3 + d) & M32
  end
  return string.pack("<I4I4I4I4", h0, h1, h2, h3)
end

local function sha1(s)
  s = mdPad(s, 64, 8, false)
  local h0, h1, h2, h3, h4 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
  local w = {}
  for offset = 1, #s, 64 do
    for i = 1, 16 do w[i] = string.unpack(">I4", s, offset + (i - 1) * 4) end
    for i = 17, 80 do w[i] = rotl32(w[i - 3] ~ w[i - 8] ~ w[i - 14] ~ w[i - 16], 1) end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 1, 80 do
      local f, k
      if i <= 20 then f = (b & c) | ((~b & M32) & d); k = 0x5a827999
      elseif i <= 40 then f = b ~ c ~ d; k = 0x6ed9eba1
      elseif i <= 60 then f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc
      else f = b ~ c ~ d; k = 0xca62c1d6 end
      local t = (rotl32(a, 5) + f + e + k + w[i]) & M32
      a, b, c, d, e = t, a, rotl32(b, 30), c, d
    end
    h0, h1, h2, h3, h4 = (h0 + a) & M32, (h1 + b) & M32, (h2 + c) & M32, (h3 + d) & M32, (h4 + e) & M32
  end
  return string.pack(">I4I4I4I4I4", h0, h1, h2, h3, h4)
end

local SHA256_K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function sha256(s)
  s = mdPad(s, 64, 8, false)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local w = {}
  for offset = 1, #s, 64 do
    for i = 1, 16 do w[i] = string.unpack(">I4", s, offset + (i - 1) * 4) end
    for i = 17, 64 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = rotr32(x, 7) ~ rotr32(x, 18) ~ (x >> 3)
      local s1 = rotr32(y, 17) ~ rotr32(y, 19) ~ (y >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 1, 64 do
      local S1 = rotr32(e, 6) ~ rotr32(e, 11) ~ rotr32(e, 25)
      local ch = (e & f) ~ ((~e & M32) & g)
      local t1 = (hh + S1 + ch + SHA256_K[i] + w[i]) & M32
      local S0 = rotr32(a, 2) ~ rotr32(a, 13) ~ rotr32(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & M32
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
    end
    h[1], h[2], h[3], h[4] = (h[1] + a) & M32, (h[2] + b) & M32, (h[3] + c) & M32, (h[4] + d) & M32
    h[5], h[6], h[7], h[8] = (h[5] + e) & M32, (h[6] + f) & M32, (h[7] + g) & M32, (h[8] + hh) & M32
  end
  return string.pack(">I4I4I4I4I4I4I4I4", table.unpack(h))
end

------------------------------------------------------------------------------------------------
-- SHA-512, Keccak and BLAKE2b (64-bit words; Lua integers wrap modulo 2^64 and >> is logical)

local function rotr64(x, n) return (x >> n) | (x << (64 - n)) end
local function rotl64(x, n) return (x << n) | (x >> (64 - n)) end

local SHA512_K = {
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
  0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
  0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
  0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
  0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
  0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
  0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
  0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
  0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
  0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
  0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
  0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
  0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
}
-- SHA-512's initial hash, which BLAKE2b also uses as its IV.
local SHA512_IV = {
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
}

local function sha512(s)
  s = mdPad(s, 128, 16, false)
  local h = { table.unpack(SHA512_IV) }
  local w = {}
  for offset = 1, #s, 128 do
    for i = 1, 16 do w[i] = string.unpack(">i8", s, offset + (i - 1) * 8) end
    for i = 17, 80 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = rotr64(x, 1) ~ rotr64(x, 8) ~ (x >> 7)
      local s1 = rotr64(y, 19) ~ rotr64(y, 61) ~ (y >> 6)
      w[i] = w[i - 16] + s0 + w[i - 7] + s1
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 1, 80 do
      local S1 = rotr64(e, 14) ~ rotr64(e, 18) ~ rotr64(e, 41)
      local t1 = hh + S1 + ((e & f) ~ (~e & g)) + SHA512_K[i] + w[i]
      local S0 = rotr64(a, 28) ~ rotr64(a, 34) ~ rotr64(a, 39)
      local t2 = S0 + ((a & b) ~ (a & c) ~ (b & c))
      hh, g, f, e, d, c, b, a = g, f, e, d + t1, c, b, a, t1 + t2
    end
    h[1], h[2], h[3], h[4] = h[1] + a, h[2] + b, h[3] + c, h[4] + d
    h[5], h[6], h[7], h[8] = h[5] + e, h[6] + f, h[7] + g, h[8] + hh
  end
  return string.pack(">i8i8i8i8i8i8i8i8", table.unpack(h))
end

local KECCAK_RC = {
  0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000, 0x000000000000808b,
  0x0000000080000001, 0x8000000080008081, 0x8000000000008009, 0x000000000000008a, 0x0000000000000088,
  0x0000000080008009, 0x000000008000000a, 0x000000008000808b, 0x800000000000008b, 0x8000000000008089,
  0x8000000000008003, 0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
  0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
}

-- Rotation offsets and the lane each lane moves to (rho and pi), derived from their definition.
local RHO, PI = {}, {}
do
  for i = 0, 24 do RHO[i] = 0 end
  local x, y = 1, 0
  for t = 0, 23 do
    RHO[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
    x, y = y, (2 * x + 3 * y) % 5
  end
  for lx = 0, 4 do
    for ly = 0, 4 do PI[lx + 5 * ly] = ly + 5 * ((2 * lx + 3 * ly) % 5) end
  end
end

local function keccakF(a)
  local b, c = {}, {}
  for round = 1, 24 do
    for x = 0, 4 do c[x] = a[x] ~ a[x + 5] ~ a[x + 10] ~ a[x + 15] ~ a[x + 20] end
    for x = 0, 4 do
      local d = c[(x + 4) % 5] ~ rotl64(c[(x + 1) % 5], 1)
      for y = 0, 20, 5 do a[x + y] = a[x + y] ~ d end
    end
    for i = 0, 24 do b[PI[i]] = RHO[i] == 0 and a[i] or rotl64(a[i], RHO[i]) end
    for y = 0, 20, 5 do
      local b0, b1, b2, b3, b4 = b[y], b[y + 1], b[y + 2], b[y + 3], b[y + 4]
      a[y] = b0 ~ (~b1 & b2)
      a[y + 1] = b1 ~ (~b2 & b3)
      a[y + 2] = b2 ~ (~b3 & b4)
      a[y + 3] = b3 ~ (~b4 & b0)
      a[y + 4] = b4 ~ (~b0 & b1)
    end
    a[0] = a[0] ~ KECCAK_RC[round]
  end
end

-- The sponge: `suffix` is 0x01 for the original Keccak (Ethereum) and 0x06 for SHA-3.
local function keccak(s, outBytes, suffix)
  local rate = 200 - 2 * outBytes
  local pad = rate - #s % rate
  if pad == 1 then s = s .. string.char(suffix | 0x80)
  else s = s .. string.char(suffix) .. string.rep("\0", pad - 2) .. "\128" end
  local a = {}
  for i = 0, 24 do a[i] = 0 end
  local lanes = rate // 8
  for offset = 1, #s, rate do
    for i = 0, lanes - 1 do a[i] = a[i] ~ string.unpack("<i8", s, offset + i * 8) end
    keccakF(a)
  end
  local out = {}
  for i = 0, outBytes // 8 - 1 do out[#out + 1] = string.pack("<i8", a[i]) end
  return table.concat(out)
end

local BLAKE2B_SIGMA = {
  { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
  { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
  { 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
  { 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
  { 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
  { 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
  { 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
  { 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
  { 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
  { 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
}

local function blake2bCompress(h, block, offset, counter, last)
  local m = {}
  for i = 0, 15 do m[i] = string.unpack("<i8", block, offset + i * 8) end
  local v = {}
  for i = 0, 7 do v[i] = h[i + 1]; v[i + 8] = SHA512_IV[i + 1] end
  v[12] = v[12] ~ counter -- the counter's high word stays 0: inputs are far below 2^64 bytes
  if last then v[14] = ~v[14] end
  local function g(a, b, c, d, x, y)
    v[a] = v[a] + v[b] + x; v[d] = rotr64(v[d] ~ v[a], 32)
    v[c] = v[c] + v[d]; v[b] = rotr64(v[b] ~ v[c], 24)
    v[a] = v[a] + v[b] + y; v[d] = rotr64(v[d] ~ v[a], 16)
    v[c] = v[c] + v[d]; v[b] = rotr64(v[b] ~ v[c], 63)
  end
  for round = 0, 11 do
    local s = BLAKE2B_SIGMA[round % 10 + 1]
    g(0, 4, 8, 12, m[s[1]], m[s[2]]); g(1, 5, 9, 13, m[s[3]], m[s[4]])
    g(2, 6, 10, 14, m[s[5]], m[s[6]]); g(3, 7, 11, 15, m[s[7]], m[s[8]])
    g(0, 5, 10, 15, m[s[9]], m[s[10]]); g(1, 6, 11, 12, m[s[11]], m[s[12]])
    g(2, 7, 8, 13, m[s[13]], m[s[14]]); g(3, 4, 9, 14, m[s[15]], m[s[16]])
  end
  for i = 0, 7 do h[i + 1] = h[i + 1] ~ v[i] ~ v[i + 8] end
end

-- BLAKE2b (RFC 7693): the counter given to each compression counts real bytes, never the padding.
local function blake2bDigest(data, outlen, key)
  outlen = outlen or 64
  key = key or ""
  if math.type(outlen) ~= "integer" or outlen < 1 or outlen > 64 then error("crypto: blake2b output length must be 1..64 bytes", 3) end
  if #key > 64 then error("crypto: blake2b keys are at most 64 bytes", 3) end
  local h = { table.unpack(SHA512_IV) }
  h[1] = h[1] ~ (0x01010000 | (#key << 8) | outlen)
  local input = data
  if #key > 0 then input = key .. string.rep("\0", 128 - #key) .. data end
  local length = #input
  local blocks = math.max(1, (length + 127) // 128)
  local padded = input .. string.rep("\0", blocks * 128 - length)
  for i = 1, blocks do
    local last = i == blocks
    blake2bCompress(h, padded, (i - 1) * 128 + 1, last and length or i * 128, last)
  end
  return string.pack("<i8i8i8i8i8i8i8i8", table.unpack(h)):sub(1, outlen)
end

------------------------------------------------------------------------------------------------

local function hmac(hash, blockSize)
  return function(data, key)
    key = bytesOf(key)
    if #key > blockSize then key = hash(key) end
    key = key .. string.rep("\0", blockSize - #key)
    local inner = key:gsub(".", function(c) return string.char(c:byte() ~ 0x36) end)
    local outer = key:gsub(".", function(c) return string.char(c:byte() ~ 0x5c) end)
    return hash(outer .. hash(inner .. data))
  end
end
local HMACS = { sha256 = hmac(sha256, 64), sha1 = hmac(sha1, 64) }

local function digest(fn)
  return function(data, ...) return result(fn(bytesOf(data), ...)) end
end

return {
  _version = "levity-1",
  digest = {
    md5 = digest(md5),
    sha1 = digest(sha1),
    sha2_256 = digest(sha256),
    sha2_512 = digest(sha512),
    sha3_256 = digest(function(s) return keccak(s, 32, 0x06) end),
    sha3_512 = digest(function(s) return keccak(s, 64, 0x06) end),
    keccak256 = digest(function(s) return keccak(s, 32, 0x01) end),
    keccak512 = digest(function(s) return keccak(s, 64, 0x01) end),
    blake2b = digest(blake2bDigest),
  },
  mac = {
    createHmac = function(data, key, algorithm)
      local fn = HMACS[algorithm or "sha256"]
      if not fn then error("crypto: HMAC supports sha256 and sha1, not " .. tostring(algorithm), 2) end
      return result(fn(bytesOf(data), key))
    end,
  },
  utils = { stream = stream, hex = hex, array = array },
}
