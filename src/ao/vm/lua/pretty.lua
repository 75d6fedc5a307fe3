-- pretty.tprint(t[, indent]): a table as indented text without colours.
local stringify = require(".stringify")

local pretty = { _version = "0.0.1" }

function pretty.tprint(value, indent)
  return stringify.plain(value, indent or 0)
end

return pretty
