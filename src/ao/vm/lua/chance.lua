-- A small deterministic generator (xorshift64*) for code that wants randomness it can reseed
-- without touching math.random.
local chance = { _version = "0.0.1" }

local state = 0x2545F4914F6CDD1D

function chance.seed(seed)
  seed = math.tointeger(seed) or math.floor(tonumber(seed) or 0)
  state = seed ~ 0x2545F4914F6CDD1D
  if state == 0 then state = 0x2545F4914F6CDD1D end
end

local function nextInteger()
  local x = state
  x = x ~ (x >> 12)
  x = x ~ (x << 25)
  x = x ~ (x >> 27)
  state = x
  return x * 0x2545F4914F6CDD1D
end

--- A float in [0, 1).
function chance.random()
  return (nextInteger() >> 11) * (1.0 / 9007199254740992.0)
end

--- An integer in [min, max].
function chance.integer(min, max)
  assert(math.type(min) == "integer" and math.type(max) == "integer" and min <= max, "chance.integer: bad range")
  local span = max - min + 1
  return min + math.floor(chance.random() * span)
end

return chance
