-- aos ships a package manager that fetches code from the network; a deterministic process
-- cannot, so this stub only explains that packages must be loaded with Eval.
local apm = { _version = "0.0.0-levity" }

local function unavailable()
  print("apm is not available in this runtime: load packages with Eval instead")
end

apm.install = unavailable
apm.update = unavailable
apm.uninstall = unavailable
apm.installed = {}

return apm
