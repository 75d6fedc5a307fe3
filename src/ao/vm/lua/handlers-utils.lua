-- Pattern builders for Handlers.add: `Handlers.add("x", Handlers.utils.hasMatchingTag("Action", "X"), fn)`.
local utils = require(".utils")

local M = { _version = "0.0.2" }

function M.hasMatchingTag(name, value)
  assert(type(name) == "string" and type(value) == "string", "hasMatchingTag: name and value must be strings")
  return function(msg)
    return msg.Tags ~= nil and msg.Tags[name] == value
  end
end

function M.hasMatchingTagOf(name, values)
  assert(type(name) == "string" and type(values) == "table", "hasMatchingTagOf: name must be a string and values a table")
  return function(msg)
    if msg.Tags == nil then return false end
    local actual = msg.Tags[name]
    for _, v in ipairs(values) do
      if actual == v then return true end
    end
    return false
  end
end

function M.hasMatchingData(value)
  assert(type(value) == "string", "hasMatchingData: value must be a string")
  return function(msg)
    return msg.Data == value
  end
end

--- A handler that answers with a string (as Data) or a message table.
function M.reply(input)
  assert(type(input) == "string" or type(input) == "table", "reply: input must be a string or a table")
  return function(msg)
    if type(input) == "string" then
      msg.reply({ Data = input })
    else
      msg.reply(input)
    end
  end
end

--- Wraps a pattern so that a match lets later handlers run too.
function M.continue(pattern)
  return function(msg)
    local result = utils.matchesSpec(msg, pattern)
    if result == true or result == "break" or (type(result) == "number" and result < 0) then
      return "continue"
    end
    return result
  end
end

return M
