-- The message pipeline: process.handle(msg, env) is called once per scheduled message and returns
-- { Output, Messages, Spawns, Assignments } or { Error, ... }. It also defines the aos globals.
local json = require("json")
local utils = require(".utils")
local stringify = require(".stringify")
local dump = require(".dump")

local concat, insert, remove = table.concat, table.insert, table.remove
local byte, find, sub = string.byte, string.find, string.sub
local traceback = debug and debug.traceback

ao = require(".ao")
Handlers = require(".handlers")
Utils = utils
Dump = dump
apm = require(".apm")

local process = { _version = "2.0.4" }

local MAX_INBOX = 10000

Colors = {
  red = "\27[31m",
  green = "\27[32m",
  blue = "\27[34m",
  reset = "\27[0m",
  gray = "\27[90m",
}
Bell = "\7"
HANDLER_PRINT_LOGS = {}

local promptName, promptInbox, promptText
function Prompt()
  local name, inbox = tostring(Name or "aos"), #(Inbox or {})
  if name ~= promptName or inbox ~= promptInbox then
    promptName, promptInbox = name, inbox
    promptText = Colors.green .. name .. Colors.gray .. "@" .. Colors.blue .. "aos-" .. process._version
      .. Colors.gray .. "[Inbox:" .. Colors.red .. tostring(inbox) .. Colors.gray .. "]" .. Colors.reset .. "> "
  end
  return promptText
end

local function formatArg(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "table" then return stringify.format(v) end
  if t == "number" or t == "boolean" then return Colors.blue .. tostring(v) .. Colors.reset end
  if t == "nil" then return Colors.red .. "nil" .. Colors.reset end
  return tostring(v)
end

local function appendLog(text)
  local logs = HANDLER_PRINT_LOGS
  if type(logs) ~= "table" then
    logs = {}
    HANDLER_PRINT_LOGS = logs
  end
  logs[#logs + 1] = text
end

-- Output.data is built from the print log when read, so many prints stay linear in cost.
local outputMeta = {
  __index = function(_, key)
    if key == "data" then return concat(HANDLER_PRINT_LOGS, "\n") end
    if key == "prompt" then return Prompt() end
    if key == "print" then return true end
    return nil
  end,
}

function print(...)
  local n = select("#", ...)
  local text
  if n <= 1 then
    text = formatArg((...))
  else
    local parts = {}
    for i = 1, n do parts[i] = formatArg((select(i, ...))) end
    text = concat(parts, "\t")
  end
  appendLog(text)
end

function ao.log(text)
  appendLog(type(text) == "string" and text or formatArg(text))
end

local function insertInbox(msg)
  insert(Inbox, msg)
  while #Inbox > MAX_INBOX do remove(Inbox, 1) end
end

function Send(msg)
  local message = ao.send(msg)
  return setmetatable({ output = "Message added to outbox", receive = message.receive, onReply = message.onReply },
    { __index = message })
end

--- Spawn([module,] msg): the module defaults to this process's own.
function Spawn(...)
  local module, msg
  if select("#", ...) >= 2 then
    module, msg = ...
  else
    local only = ...
    if type(only) == "string" then module = only else msg = only end
  end
  local spawn = ao.spawn(module or ao._module, msg or {})
  return setmetatable({ output = "Spawn process request added to outbox", receive = spawn.receive, onReply = spawn.onReply },
    { __index = spawn })
end

function Assign(assignment)
  ao.assign(assignment)
  return "Assignment added to outbox"
end

function Receive(pattern)
  return Handlers.receive(pattern)
end

function Tab(msg)
  local inputs = {}
  for _, tag in ipairs(msg.TagArray or {}) do inputs[tag.name] = tag.value end
  return inputs
end

function Version()
  print("version: " .. process._version)
end

-- Time is the message's timestamp (ms), never the host's clock.
local currentTimestamp = 0
local tableTime = os.time
os.time = function(t)
  if t ~= nil then return tableTime(t) end
  return currentTimestamp
end

local evalHandler = require(".eval")(ao)
local defaultHandler = require(".default")(insertInbox)
local bootHandler = require(".boot")(ao, insertInbox)

local function isEval(msg)
  return msg.Action == "Eval" and Owner == msg.From
end

local function always()
  return true
end

local function isBoot(msg)
  return msg.Id == ao.id and msg.Tags.Type == "Process" and Owner == msg.From
end

local function tagMap(array)
  local map = {}
  for _, tag in ipairs(array) do
    local name = tag.name
    if name ~= nil and map[name] == nil then map[name] = tag.value end
  end
  return map
end

-- Tags arrive as [{name, value}]; aos code reads them as a map and keeps the list in TagArray.
local function mapTags(holder)
  local tags = holder.Tags
  if type(tags) ~= "table" then tags = {} end
  if tags[1] == nil and next(tags) ~= nil then
    local array, names = {}, {}
    for name in pairs(tags) do names[#names + 1] = name end
    table.sort(names)
    for i, name in ipairs(names) do array[i] = { name = name, value = tags[name] } end
    holder.TagArray = array
  else
    holder.TagArray = tags
    holder.Tags = tagMap(tags)
  end
end

local function sumBytes(s)
  local sum = 0
  for from = 1, #s, 4096 do
    local bytes = { byte(s, from, from + 4095) }
    for i = 1, #bytes do sum = sum + bytes[i] end
  end
  return sum
end

-- Sums of bytes of the ids that recur (owner, module) are remembered; bounded.
local byteSums, byteSumCount = {}, 0
local function byteSum(s)
  if type(s) ~= "string" then s = tostring(s or "") end
  local cached = byteSums[s]
  if cached then return cached end
  local sum = sumBytes(s)
  if byteSumCount >= 256 then byteSums, byteSumCount = {}, 0 end
  byteSums[s] = sum
  byteSumCount = byteSumCount + 1
  return sum
end

local rawRandom, rawRandomseed = math.random, math.randomseed

-- The generator is seeded per message from Block-Height .. sum(bytes(Owner .. Module .. Id)),
-- lazily: only messages that draw a number pay for it.
local function seed(msg)
  local sum = byteSum(msg.Owner) + byteSum(msg.Module)
  if type(msg.Id) == "string" then sum = sum + sumBytes(msg.Id) end
  local height = math.tointeger(msg["Block-Height"]) or math.tointeger(tonumber(msg["Block-Height"])) or 0
  local digits, scale = sum, 1
  repeat
    scale = scale * 10
    digits = digits // 10
  until digits == 0
  local value = height * scale + sum
  if height < 0 or height >= math.maxinteger // scale then value = (height % 1000000007) * scale + sum end
  rawRandomseed(value)
end

local currentMessage, seededFor
math.random = function(...)
  if seededFor ~= currentMessage then
    seededFor = currentMessage
    if currentMessage then seed(currentMessage) end
  end
  return rawRandom(...)
end
math.randomseed = function(...)
  seededFor = currentMessage
  return rawRandomseed(...)
end

local function splitTraceback(err)
  if type(err) ~= "string" then return tostring(err), "" end
  local at = find(err, "\nstack traceback:", 1, true)
  if not at then return err, "" end
  return sub(err, 1, at - 1), sub(err, at + 1)
end

local function printed()
  return concat(HANDLER_PRINT_LOGS, "\n")
end

local function errorResult(message)
  return {
    Error = message,
    Output = { data = printed(), prompt = Prompt(), print = true },
    Messages = {},
    Spawns = {},
    Assignments = {},
  }
end

local function finish(msg)
  local output
  if msg.Action == "Eval" then
    output = { data = printed(), prompt = Prompt(), test = dump(HANDLER_PRINT_LOGS) }
  else
    output = { data = printed(), prompt = Prompt(), print = true }
  end
  local result = ao.result({ Output = output })
  if result.Error then return errorResult(result.Error) end
  return result
end

local function runHandlers(msg)
  local co = coroutine.create(function(m, e)
    return xpcall(Handlers.evaluate, traceback, m, e)
  end)
  local resumed, ok, err = coroutine.resume(co, msg, ao.env)
  if #Handlers.coroutines > 0 then Handlers.pruneCoroutines() end
  if not resumed then return false, ok end
  if coroutine.status(co) == "dead" and ok == false then return false, err end
  return true
end

function process.handle(msg, env)
  if env and env.Process == nil and env.env then env = env.env end
  env = env or {}
  env.Process = env.Process or {}
  ao.init(env)
  HANDLER_PRINT_LOGS = {}
  ao.outbox.Output = setmetatable({}, outputMeta)

  msg = ao.normalize(msg)
  mapTags(msg)
  if env.Process.TagArray == nil then mapTags(env.Process) end

  if Errors == nil then Errors = {} end
  if Inbox == nil then Inbox = {} end
  currentMessage = msg
  if Owner == nil and msg.Id ~= nil and msg.Id == ao.id then
    Owner = env.Process.Tags["From-Process"] or msg.From
  end
  if Name == nil then Name = env.Process.Tags.Name or "aos" end
  currentTimestamp = msg.Timestamp or currentTimestamp

  if msg.Tags["Content-Type"] == "application/json" then
    local data = msg.Data
    if data == nil or data == "" then data = "{}" end
    if type(data) == "string" then
      local ok, decoded = pcall(json.decode, data)
      if ok then msg.Data = decoded == nil and {} or decoded end
    end
  end

  if not ao.isTrusted(msg) then
    print("Message is not trusted! From: " .. tostring(msg.From) .. " - Owner: " .. tostring(msg.Owner))
    return finish(msg)
  end
  if ao.isAssignment(msg) and not ao.isAssignable(msg) then
    print("Assignment is not trusted by this process!")
    return finish(msg)
  end

  Handlers.add("_eval", isEval, evalHandler)
  Handlers.append("_default", always, defaultHandler)
  if isBoot(msg) then Handlers.once("_boot", isBoot, bootHandler) end

  msg.reply = function(reply)
    if type(reply) == "string" then reply = { Data = reply } end
    assert(type(reply) == "table", "msg.reply: expected a message table")
    reply.Target = msg["Reply-To"] or reply.Target or msg.From
    reply["X-Reference"] = msg["X-Reference"] or msg.Reference
    reply["X-Origin"] = msg["X-Origin"]
    return ao.send(reply)
  end
  msg.forward = function(target, extra)
    local copy = ao.sanitize(msg)
    for k, v in pairs(extra or {}) do copy[k] = v end
    copy.Target = target
    copy["Reply-To"] = msg["Reply-To"] or msg.From
    copy["X-Reference"] = msg["X-Reference"] or msg.Reference
    copy["X-Origin"] = msg["X-Origin"] or msg.From
    return ao.send(copy)
  end

  local ok, err = runHandlers(msg)
  if not ok then
    local message, trace = splitTraceback(err)
    if msg.Action == "Eval" then
      insert(Errors, message)
      return errorResult(printed() .. "\n\n" .. Colors.red .. "error:\n" .. Colors.reset .. message)
    end
    print(Colors.red .. "Error" .. Colors.reset .. " handling message with Action = " .. tostring(msg.Action) .. ":\n" .. message)
    if trace ~= "" then print(trace) end
    return errorResult(message)
  end
  return finish(msg)
end

return process
