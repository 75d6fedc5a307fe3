-- The module entry the host calls once per message: handle(msgJSON, envJSON) -> JSON text.
-- `ok` is false only when the runtime itself failed; process-level errors are in response.Error.
do
  local json = require("json")
  local process = require(".process")

  -- The env is the same text for every message of a process: decode it once.
  local lastEnvJSON, lastEnv
  local function run(msgJSON, envJSON)
    if envJSON ~= lastEnvJSON or lastEnv == nil then
      lastEnv = json.decode(envJSON)
      lastEnvJSON = envJSON
    end
    return process.handle(json.decode(msgJSON), lastEnv)
  end

  function handle(msgJSON, envJSON)
    local ok, response = pcall(run, msgJSON, envJSON)
    if not ok then
      return json.encode({ ok = false, response = tostring(response) })
    end
    response.GasUsed = response.GasUsed or 0
    local encoded, text = pcall(json.encode, { ok = true, response = response })
    if encoded then return text end
    return json.encode({ ok = false, response = "cannot encode the result: " .. tostring(text) })
  end
end
