-- The `ao` object: the process's identity, its outbox, and the calls that fill the outbox.
local json = require("json")
local utils = require(".utils")

local format, gmatch, match = string.format, string.gmatch, string.match
local insert, sort = table.insert, table.sort

local ao = ao or {}
ao._version = "0.0.6"
ao.id = ao.id or ""
ao._module = ao._module or ""
ao.authorities = ao.authorities or {}
ao.reference = ao.reference or 0
ao.outbox = ao.outbox or { Output = {}, Messages = {}, Spawns = {}, Assignments = {} }

-- Keys of a message that never become tags of an outgoing one.
local RESERVED = { Target = true, Data = true, Anchor = true, Tags = true, From = true }

-- Keys that a forwarded copy must not carry over from the original.
ao.nonForwardableTags = {
  "Data-Protocol", "Variant", "From-Process", "From-Module", "Type", "From", "Owner", "Anchor", "Target",
  "Tags", "TagArray", "Hash-Chain", "Timestamp", "Nonce", "Epoch", "Signature", "Forwarded-By", "Pushed-For",
  "Read-Only", "Cron", "Block-Height", "Reference", "Id", "Reply-To",
}

-- Tags that stay in msg.Tags only and are not copied onto msg itself.
ao.nonExtractableTags = {
  "Data-Protocol", "Variant", "From-Process", "From-Module", "Type", "From", "Owner", "Anchor", "Target",
  "Data", "Tags", "Read-Only",
}

local function tagValue(tags, name)
  if type(tags) ~= "table" then return nil end
  if tags[1] == nil and tags[name] ~= nil then return tags[name] end
  for _, tag in ipairs(tags) do
    if tag.name == name then return tag.value end
  end
  return nil
end

local function splitAuthorities(value, out)
  for part in gmatch(value, "[^,]+") do
    local id = match(part, "^%s*(.-)%s*$")
    if id ~= "" then out[#out + 1] = id end
  end
end

function ao.clearOutbox()
  ao.outbox = { Output = {}, Messages = {}, Spawns = {}, Assignments = {} }
end

-- The authorities only change with the process tags, which are the same table message after
-- message once the entry caches the decoded env.
local authoritiesFrom, authoritiesCache

function ao.init(env)
  local process = env.Process or {}
  if ao.id == nil or ao.id == "" then ao.id = process.Id end
  local tags = process.TagArray or process.Tags
  if tags ~= authoritiesFrom or authoritiesCache == nil then
    ao._module = tagValue(tags, "Module") or ao._module
    local authorities = {}
    if type(tags) == "table" then
      if tags[1] ~= nil then
        for _, tag in ipairs(tags) do
          if tag.name == "Authority" then splitAuthorities(tag.value, authorities) end
        end
      elseif type(tags.Authority) == "string" then
        splitAuthorities(tags.Authority, authorities)
      end
    end
    authoritiesFrom, authoritiesCache = tags, authorities
  end
  ao.authorities = authoritiesCache
  ao.clearOutbox()
  ao.env = env
end

function ao.log(text)
  if type(ao.outbox.Output) ~= "table" then ao.outbox.Output = {} end
  local output = ao.outbox.Output
  if output.data and output.data ~= "" then
    output.data = output.data .. "\n" .. text
  else
    output.data = text
  end
end

function ao.clone(value, seen)
  if type(value) ~= "table" then return value end
  seen = seen or {}
  if seen[value] then return seen[value] end
  local copy = {}
  seen[value] = copy
  for k, v in pairs(value) do copy[ao.clone(k, seen)] = ao.clone(v, seen) end
  return copy
end

--- A copy of msg without the envelope keys and functions, fit to be sent again.
function ao.sanitize(msg)
  local copy = {}
  for k, v in pairs(msg) do
    if type(v) ~= "function" then copy[k] = ao.clone(v) end
  end
  for _, key in ipairs(ao.nonForwardableTags) do copy[key] = nil end
  return copy
end

-- Names repeat from message to message, so their Title-Case form is remembered (bounded).
local normalizedNames, normalizedCount = {}, 0
local function normalizeName(name)
  local cached = normalizedNames[name]
  if cached then return cached end
  cached = utils.normalize(name)
  if normalizedCount >= 4096 then normalizedNames, normalizedCount = {}, 0 end
  normalizedNames[name] = cached
  normalizedCount = normalizedCount + 1
  return cached
end

--- Title-Cases the keys of msg and its tag names, then copies tags onto msg (first value wins,
--- keys already on msg are kept, nonExtractableTags stay in Tags only). Returns the new table.
local skipFrom, skipLength, skipSet
local function nonExtractable()
  local list = ao.nonExtractableTags
  if list ~= skipFrom or #list ~= skipLength then
    skipSet = {}
    for _, name in ipairs(list) do skipSet[name] = true end
    skipFrom, skipLength = list, #list
  end
  return skipSet
end

function ao.normalize(msg)
  local normalized = {}
  for k, v in next, msg do
    if type(k) == "string" then k = normalizedNames[k] or normalizeName(k) end
    normalized[k] = v
  end
  local tags = normalized.Tags
  if type(tags) == "table" and tags[1] ~= nil then
    local skip = nonExtractable()
    for _, tag in ipairs(tags) do
      local name = tag.name
      if type(name) == "string" then
        name = normalizedNames[name] or normalizeName(name)
        tag.name = name
        if not skip[name] and normalized[name] == nil then normalized[name] = tag.value end
      end
    end
  end
  return normalized
end

function ao.isTrusted(msg)
  for _, authority in ipairs(ao.authorities) do
    if msg.From == authority or msg.Owner == authority then return true end
  end
  return msg.From == msg.Owner
end

local function tagString(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" then return tostring(v) end
  return nil
end

local function sortedKeys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  sort(keys)
  return keys
end

-- Extra keys of msg, then msg.Tags (array or map), appended to an outgoing message's tags.
local function appendTags(out, msg)
  for _, k in ipairs(sortedKeys(msg)) do
    if not RESERVED[k] then
      local value = tagString(msg[k])
      if value ~= nil then insert(out, { name = k, value = value }) end
    end
  end
  local tags = msg.Tags
  if type(tags) == "table" then
    if tags[1] ~= nil then
      for _, tag in ipairs(tags) do
        local value = tagString(tag.value)
        if type(tag.name) == "string" and value ~= nil then insert(out, { name = tag.name, value = value }) end
      end
    else
      for _, k in ipairs(sortedKeys(tags)) do
        local value = tagString(tags[k])
        if value ~= nil then insert(out, { name = k, value = value }) end
      end
    end
  end
end

local function encodeData(message, data)
  if type(data) == "table" then
    message.Data = json.encode(data)
    insert(message.Tags, { name = "Content-Type", value = "application/json" })
  elseif data ~= nil then
    message.Data = tostring(data)
  end
end

local function nextReference()
  ao.reference = ao.reference + 1
  return ao.reference
end

function ao.send(msg)
  assert(type(msg) == "table", "ao.send: the message must be a table")
  local ref = nextReference()
  local refString = tostring(ref)
  local message = {
    Target = msg.Target,
    Anchor = format("%032d", ref),
    Tags = {
      { name = "Data-Protocol", value = "ao" },
      { name = "Variant", value = "ao.TN.1" },
      { name = "Type", value = "Message" },
      { name = "Reference", value = refString },
    },
  }
  appendTags(message.Tags, msg)
  encodeData(message, msg.Data)
  insert(ao.outbox.Messages, message)

  local target = msg.Target
  message.onReply = function(...)
    local from, callback
    if select("#", ...) >= 2 then from, callback = ... else callback = ... end
    return Handlers.once({ From = from or target, ["X-Reference"] = refString }, callback)
  end
  message.receive = function(from)
    return Handlers.receive({ From = from or target, ["X-Reference"] = refString })
  end
  return message
end

function ao.spawn(module, msg)
  assert(type(module) == "string", "ao.spawn: the module id must be a string")
  msg = msg or {}
  assert(type(msg) == "table", "ao.spawn: the message must be a table")
  local ref = nextReference()
  local refString = tostring(ref)
  local spawn = {
    Anchor = format("%032d", ref),
    Tags = {
      { name = "Data-Protocol", value = "ao" },
      { name = "Variant", value = "ao.TN.1" },
      { name = "Type", value = "Process" },
      { name = "From-Process", value = ao.id },
      { name = "From-Module", value = ao._module },
      { name = "Module", value = module },
      { name = "Reference", value = refString },
    },
  }
  appendTags(spawn.Tags, msg)
  if msg.Data == nil then spawn.Data = "NODATA" else encodeData(spawn, msg.Data) end
  insert(ao.outbox.Spawns, spawn)

  local pattern = { Action = "Spawned", From = ao.id, Reference = refString }
  spawn.onReply = function(callback)
    return Handlers.once(pattern, callback)
  end
  spawn.receive = function()
    return Handlers.receive(pattern)
  end
  return spawn
end

function ao.assign(assignment)
  assert(type(assignment) == "table", "ao.assign: the assignment must be a table")
  assert(type(assignment.Processes) == "table", "ao.assign: Processes must be a list of process ids")
  assert(type(assignment.Message) == "string", "ao.assign: Message must be a message id")
  insert(ao.outbox.Assignments, { Processes = assignment.Processes, Message = assignment.Message })
end

--- The response of one evaluation: the error alone, or the output with what was queued.
function ao.result(result)
  result = result or {}
  local err = result.Error or ao.outbox.Error
  if err then return { Error = err } end
  return {
    Output = result.Output or ao.outbox.Output,
    Messages = ao.outbox.Messages,
    Spawns = ao.outbox.Spawns,
    Assignments = ao.outbox.Assignments,
  }
end

require(".assignment")(ao)

return ao
