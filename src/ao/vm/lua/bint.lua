-- `.bint`: fixed-width big integers for process code (token balances and the like).
-- `require(".bint")(bits)` returns a class of `bits`-wide two's complement integers; every
-- operation wraps modulo 2^bits, as Lua's own integers wrap modulo 2^64. Numbers are arrays of
-- 16-bit limbs, least significant first: a limb product fits a Lua integer with room for carries.
--
-- Mixing: a bint with a bint, a Lua integer or an integer string gives a bint; a bint with a float
-- gives a float (as Lua does for integers and floats). `/` always divides as floats.

local classes = {}

local function newclass(bits)
  bits = bits or 256
  assert(math.type(bits) == "integer" and bits >= 64 and bits % 16 == 0, "bint: bits must be a multiple of 16, at least 64")
  if classes[bits] then return classes[bits] end

  local LIMBS = bits // 16
  local MASK = 0xffff
  local TOP_BIT = 0x8000

  local bint = { bits = bits }
  bint.__index = bint

  local function blank()
    local r = setmetatable({}, bint)
    for i = 1, LIMBS do r[i] = 0 end
    return r
  end

  local function copy(x)
    local r = setmetatable({}, bint)
    for i = 1, LIMBS do r[i] = x[i] end
    return r
  end

  local function isbint(x) return getmetatable(x) == bint end

  local function fromint(n)
    local r = setmetatable({}, bint)
    for i = 1, 4 do r[i] = (n >> (16 * (i - 1))) & MASK end
    local fill = n < 0 and MASK or 0
    for i = 5, LIMBS do r[i] = fill end
    return r
  end

  local function isneg(x) return x[LIMBS] & TOP_BIT ~= 0 end

  local function iszero(x)
    for i = 1, LIMBS do if x[i] ~= 0 then return false end end
    return true
  end

  -- In-place helpers work on fresh results only; the public API never mutates an argument.
  local function negate(x)
    local r = setmetatable({}, bint)
    local carry = 1
    for i = 1, LIMBS do
      local t = ((~x[i]) & MASK) + carry
      r[i] = t & MASK
      carry = t >> 16
    end
    return r
  end

  local function add(a, b)
    local r = setmetatable({}, bint)
    local carry = 0
    for i = 1, LIMBS do
      local t = a[i] + b[i] + carry
      r[i] = t & MASK
      carry = t >> 16
    end
    return r
  end

  local function sub(a, b)
    local r = setmetatable({}, bint)
    local borrow = 0
    for i = 1, LIMBS do
      local t = a[i] - b[i] - borrow
      if t < 0 then t = t + 0x10000; borrow = 1 else borrow = 0 end
      r[i] = t
    end
    return r
  end

  local function mul(a, b)
    local r = blank()
    for i = 1, LIMBS do
      local ai = a[i]
      if ai ~= 0 then
        local carry = 0
        for j = 1, LIMBS - i + 1 do
          local k = i + j - 1
          local t = r[k] + ai * b[j] + carry
          r[k] = t & MASK
          carry = t >> 16
        end
      end
    end
    return r
  end

  -- Unsigned comparison: -1, 0 or 1.
  local function ucompare(a, b)
    for i = LIMBS, 1, -1 do
      if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
    end
    return 0
  end

  local function compare(a, b)
    local na, nb = isneg(a), isneg(b)
    if na ~= nb then return na and -1 or 1 end
    return ucompare(a, b)
  end

  local function shiftleft(x, n)
    if n >= bits then return blank() end
    local r = blank()
    local limbs, offset = n // 16, n % 16
    for i = LIMBS, limbs + 1, -1 do
      local v = x[i - limbs] << offset
      if offset > 0 and i - limbs - 1 >= 1 then v = v | (x[i - limbs - 1] >> (16 - offset)) end
      r[i] = v & MASK
    end
    return r
  end

  local function shiftright(x, n, fill)
    if n >= bits then
      local r = blank()
      if fill then for i = 1, LIMBS do r[i] = MASK end end
      return r
    end
    local r = setmetatable({}, bint)
    local limbs, offset = n // 16, n % 16
    local high = fill and MASK or 0
    for i = 1, LIMBS do
      local lo = x[i + limbs] or high
      local hi = x[i + limbs + 1] or high
      r[i] = ((lo >> offset) | (hi << (16 - offset))) & MASK
    end
    return r
  end

  -- Division by one limb, from the top: quotient and remainder (a Lua integer).
  local function divsmall(x, d)
    local q = setmetatable({}, bint)
    local rem = 0
    for i = LIMBS, 1, -1 do
      local cur = (rem << 16) | x[i]
      q[i] = cur // d
      rem = cur % d
    end
    return q, rem
  end

  local function fitslimb(x)
    for i = 2, LIMBS do if x[i] ~= 0 then return false end end
    return true
  end

  -- Bits used by a limb (0 for a zero limb).
  local function limbbits(v)
    local n = 0
    while v > 0 do n = n + 1; v = v >> 1 end
    return n
  end

  -- Long division with 16-bit digits (Knuth, TAOCP vol. 2, 4.3.1, algorithm D): each quotient
  -- digit is estimated from the top two digits of the normalised divisor and corrected at most
  -- twice, so a division costs a few hundred limb operations, not one pass per bit.
  local function udivmod(a, b)
    if iszero(b) then error("attempt to perform 'n//0'", 3) end
    if fitslimb(b) then
      local q, rem = divsmall(a, b[1])
      return q, fromint(rem)
    end
    local n = LIMBS
    while b[n] == 0 do n = n - 1 end
    local m = LIMBS
    while m > 0 and a[m] == 0 do m = m - 1 end
    if m < n or (m == n and ucompare(a, b) < 0) then return blank(), copy(a) end
    -- Normalise so the divisor's top digit has its high bit set (0-based digit arrays).
    local s = 16 - limbbits(b[n])
    local v, u = {}, {}
    for i = 0, n - 1 do
      v[i] = ((b[i + 1] << s) | (i > 0 and (b[i] >> (16 - s)) or 0)) & MASK
    end
    for i = 0, m do
      local cur = i < m and a[i + 1] or 0
      local prev = i > 0 and a[i] or 0
      u[i] = ((cur << s) | (prev >> (16 - s))) & MASK
    end
    local vtop, vnext = v[n - 1], v[n - 2]
    local q = blank()
    for j = m - n, 0, -1 do
      local num = (u[j + n] << 16) | u[j + n - 1]
      local qhat, rhat = num // vtop, num % vtop
      while qhat > MASK or qhat * vnext > ((rhat << 16) | u[j + n - 2]) do
        qhat = qhat - 1
        rhat = rhat + vtop
        if rhat > MASK then break end
      end
      -- u[j .. j+n] -= qhat * v
      local borrow, carry = 0, 0
      for i = 0, n - 1 do
        local p = qhat * v[i] + carry
        carry = p >> 16
        local t = u[i + j] - (p & MASK) - borrow
        if t < 0 then t = t + 0x10000; borrow = 1 else borrow = 0 end
        u[i + j] = t
      end
      local t = u[j + n] - carry - borrow
      if t < 0 then
        -- The estimate was one too large: add the divisor back.
        u[j + n] = t + 0x10000
        qhat = qhat - 1
        carry = 0
        for i = 0, n - 1 do
          local sum = u[i + j] + v[i] + carry
          u[i + j] = sum & MASK
          carry = sum >> 16
        end
        u[j + n] = (u[j + n] + carry) & MASK
      else
        u[j + n] = t
      end
      q[j + 1] = qhat
    end
    local r = blank()
    for i = 0, n - 1 do
      r[i + 1] = ((u[i] >> s) | ((u[i + 1] or 0) << (16 - s))) & MASK
    end
    return q, r
  end

  local function abs(x) return isneg(x) and negate(x) or copy(x) end

  -- Truncated division (the quotient rounds toward zero), as C does.
  local function tdivmod(a, b)
    local q, r = udivmod(abs(a), abs(b))
    if isneg(a) ~= isneg(b) then q = negate(q) end
    if isneg(a) then r = negate(r) end
    return q, r
  end

  -- Floored division, as Lua's // and % do.
  local function fdivmod(a, b)
    local q, r = tdivmod(a, b)
    if not iszero(r) and isneg(r) ~= isneg(b) then
      q = sub(q, fromint(1))
      r = add(r, b)
    end
    return q, r
  end

  local function fromfloat(f)
    if f ~= f or f == math.huge or f == -math.huge or math.floor(f) ~= f then return nil end
    local asint = math.tointeger(f)
    if asint then return fromint(asint) end
    local negative = f < 0
    if negative then f = -f end
    local r = blank()
    for i = 1, LIMBS do
      if f == 0 then break end
      local limb = math.fmod(f, 65536.0)
      r[i] = math.tointeger(limb)
      f = (f - limb) / 65536.0
    end
    return negative and negate(r) or r
  end

  local DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

  local function fromstring(s, base)
    if type(s) ~= "string" then return nil end
    local text = s:lower():gsub("^%s+", ""):gsub("%s+$", "")
    local negative = false
    local sign = text:sub(1, 1)
    if sign == "-" or sign == "+" then negative = sign == "-"; text = text:sub(2) end
    if not base then
      if text:sub(1, 2) == "0x" then base, text = 16, text:sub(3)
      elseif text:sub(1, 2) == "0b" then base, text = 2, text:sub(3)
      else base = 10 end
    end
    if #text == 0 then return nil end
    local r = blank()
    for c in text:gmatch(".") do
      local d = DIGITS:find(c, 1, true)
      if not d or d > base then return nil end
      -- r = r * base + digit, limb by limb.
      local carry = d - 1
      for i = 1, LIMBS do
        local t = r[i] * base + carry
        r[i] = t & MASK
        carry = t >> 16
      end
    end
    return negative and negate(r) or r
  end

  -- A value as a bint when it is one exactly (a bint, an integer, an integral float or an
  -- integer string), else nil.
  local function tobint(x)
    if isbint(x) then return x end
    local kind = math.type(x)
    if kind == "integer" then return fromint(x) end
    if kind == "float" then return fromfloat(x) end
    if type(x) == "string" then return fromstring(x) end
    return nil
  end

  local function need(x)
    local r = tobint(x)
    if r == nil then error("bint: " .. tostring(x) .. " is not an integer of " .. bits .. " bits", 3) end
    return r
  end

  local function tointeger(x)
    local n = 0
    for i = 4, 1, -1 do n = (n << 16) | x[i] end
    return n
  end

  -- Whether x is exactly a Lua integer (sign-extended from 64 bits).
  local function fitsint(x)
    local fill = isneg(x) and MASK or 0
    for i = 5, LIMBS do if x[i] ~= fill then return false end end
    return (x[4] & TOP_BIT ~= 0) == (fill ~= 0)
  end

  local function tofloat(x)
    local magnitude, negative = x, isneg(x)
    if negative then magnitude = negate(x) end
    local f = 0.0
    for i = LIMBS, 1, -1 do f = f * 65536.0 + magnitude[i] end
    return negative and -f or f
  end

  local function tonumber_(x)
    if fitsint(x) then return tointeger(x) end
    return tofloat(x)
  end

  local function tobase(x, base, unsigned)
    base = base or 10
    assert(math.type(base) == "integer" and base >= 2 and base <= 36, "bint: base must be an integer in 2..36")
    if unsigned == nil then unsigned = base ~= 10 end
    local negative = not unsigned and isneg(x)
    local magnitude = negative and negate(x) or x
    if iszero(magnitude) then return "0" end
    local digits = {}
    while not iszero(magnitude) do
      local rem
      magnitude, rem = divsmall(magnitude, base)
      digits[#digits + 1] = DIGITS:sub(rem + 1, rem + 1)
    end
    if negative then digits[#digits + 1] = "-" end
    return string.reverse(table.concat(digits))
  end

  local function isfloat(x) return math.type(x) == "float" end

  local function number(x)
    if isbint(x) then return tonumber_(x) end
    return tonumber(x)
  end

  -- An arithmetic metamethod: bint arithmetic unless a float takes part.
  local function arithmetic(op, floatop)
    return function(x, y)
      if isfloat(x) or isfloat(y) then return floatop(number(x), number(y)) end
      return op(need(x), need(y))
    end
  end

  function bint.new(x)
    if isbint(x) then return copy(x) end
    local r = tobint(x)
    if r == nil then error("bint: cannot make a " .. bits .. "-bit integer of " .. tostring(x), 2) end
    return r
  end

  bint.tobint = tobint
  bint.isbint = isbint
  function bint.fromstring(s, base) return fromstring(s, base) end
  function bint.frominteger(n) return fromint(math.tointeger(n) or error("bint: not an integer", 2)) end
  function bint.zero() return blank() end
  function bint.one() return fromint(1) end
  function bint.maxinteger()
    local r = blank()
    for i = 1, LIMBS do r[i] = MASK end
    r[LIMBS] = MASK >> 1
    return r
  end
  function bint.mininteger()
    local r = blank()
    r[LIMBS] = TOP_BIT
    return r
  end

  function bint.tonumber(x) return tonumber_(need(x)) end
  function bint.tointeger(x) return tointeger(need(x)) end
  function bint.tobase(x, base, unsigned) return tobase(need(x), base, unsigned) end
  function bint.iszero(x) return iszero(need(x)) end
  function bint.isone(x) return compare(need(x), fromint(1)) == 0 end
  function bint.isminusone(x) return compare(need(x), fromint(-1)) == 0 end
  function bint.isneg(x) return isneg(need(x)) end
  function bint.ispos(x) local v = need(x) return not isneg(v) and not iszero(v) end
  function bint.iseven(x) return need(x)[1] & 1 == 0 end
  function bint.isodd(x) return need(x)[1] & 1 == 1 end
  function bint.abs(x) return abs(need(x)) end
  function bint.eq(x, y) return compare(need(x), need(y)) == 0 end
  function bint.lt(x, y) return compare(need(x), need(y)) < 0 end
  function bint.le(x, y) return compare(need(x), need(y)) <= 0 end
  function bint.ult(x, y) return ucompare(need(x), need(y)) < 0 end
  function bint.ule(x, y) return ucompare(need(x), need(y)) <= 0 end
  function bint.max(x, y) local a, b = need(x), need(y) return compare(a, b) >= 0 and copy(a) or copy(b) end
  function bint.min(x, y) local a, b = need(x), need(y) return compare(a, b) <= 0 and copy(a) or copy(b) end
  function bint.udivmod(x, y) return udivmod(need(x), need(y)) end
  function bint.udiv(x, y) return (udivmod(need(x), need(y))) end
  function bint.umod(x, y) local _, r = udivmod(need(x), need(y)) return r end
  function bint.tdivmod(x, y) return tdivmod(need(x), need(y)) end
  function bint.tdiv(x, y) return (tdivmod(need(x), need(y))) end
  function bint.tmod(x, y) local _, r = tdivmod(need(x), need(y)) return r end
  function bint.idivmod(x, y) return fdivmod(need(x), need(y)) end

  -- x^y for a non-negative integer exponent, wrapping like every other operation.
  function bint.ipow(x, y)
    local base, exponent = need(x), need(y)
    if isneg(exponent) then error("bint: ipow needs a non-negative exponent", 2) end
    local result = fromint(1)
    for bit = 0, bits - 1 do
      if (exponent[bit // 16 + 1] >> (bit % 16)) & 1 == 1 then result = mul(result, base) end
      base = mul(base, base)
    end
    return result
  end

  function bint.sar(x, n) return shiftright(need(x), math.tointeger(n) or error("bint: shift by a non-integer", 2), isneg(need(x))) end

  bint.__add = arithmetic(add, function(a, b) return a + b end)
  bint.__sub = arithmetic(sub, function(a, b) return a - b end)
  bint.__mul = arithmetic(mul, function(a, b) return a * b end)
  bint.__idiv = arithmetic(function(a, b) return (fdivmod(a, b)) end, function(a, b) return a // b end)
  bint.__mod = arithmetic(function(a, b) local _, r = fdivmod(a, b) return r end, function(a, b) return a % b end)
  bint.__pow = arithmetic(function(a, b)
    if isneg(b) then return tofloat(a) ^ tofloat(b) end
    return bint.ipow(a, b)
  end, function(a, b) return a ^ b end)
  function bint.__div(x, y) return number(x) / number(y) end
  function bint.__unm(x) return negate(x) end

  local function bitwise(op)
    return function(x, y)
      local a, b = need(x), need(y)
      local r = setmetatable({}, bint)
      for i = 1, LIMBS do r[i] = op(a[i], b[i]) end
      return r
    end
  end
  bint.__band = bitwise(function(a, b) return a & b end)
  bint.__bor = bitwise(function(a, b) return a | b end)
  bint.__bxor = bitwise(function(a, b) return a ~ b end)
  function bint.__bnot(x)
    local r = setmetatable({}, bint)
    for i = 1, LIMBS do r[i] = (~x[i]) & MASK end
    return r
  end
  local function shiftcount(n)
    local count = math.tointeger(isbint(n) and tonumber_(n) or n)
    if count == nil then error("bint: shift by a non-integer", 3) end
    return count
  end
  function bint.__shl(x, n)
    local count = shiftcount(n)
    if count < 0 then return shiftright(need(x), -count, false) end
    return shiftleft(need(x), count)
  end
  function bint.__shr(x, n)
    local count = shiftcount(n)
    if count < 0 then return shiftleft(need(x), -count) end
    return shiftright(need(x), count, false)
  end

  -- Lua calls __eq only when both sides are tables; < and <= also take plain numbers.
  function bint.__eq(x, y) return compare(x, y) == 0 end
  local function ordered(strict)
    return function(x, y)
      if isfloat(x) or isfloat(y) then
        local a, b = number(x), number(y)
        if strict then return a < b end
        return a <= b
      end
      local c = compare(need(x), need(y))
      if strict then return c < 0 end
      return c <= 0
    end
  end
  bint.__lt = ordered(true)
  bint.__le = ordered(false)
  function bint.__tostring(x) return tobase(x, 10) end
  function bint.__concat(x, y)
    return (isbint(x) and tobase(x, 10) or tostring(x)) .. (isbint(y) and tobase(y, 10) or tostring(y))
  end

  setmetatable(bint, { __call = function(_, x) return bint.new(x) end })
  classes[bits] = bint
  return bint
end

return newclass
