-- The `_default` handler: a message no handler took goes to the Inbox, with a one-line notice.
local colors = { red = "\27[31m", green = "\27[32m", blue = "\27[34m", reset = "\27[0m" }

local function short(id)
  if type(id) ~= "string" then return tostring(id) end
  if #id <= 9 then return id end
  return id:sub(1, 3) .. "..." .. id:sub(-3)
end

local function preview(data)
  if type(data) ~= "string" then data = type(data) == "table" and "<table>" or tostring(data) end
  if #data > 20 then data = data:sub(1, 20) .. "..." end
  return data
end

return function(insertInbox)
  return function(msg)
    insertInbox(msg)
    local detail
    if msg.Action then
      detail = colors.blue .. "Action = " .. colors.reset .. tostring(msg.Action)
    else
      detail = colors.blue .. "Data = " .. colors.reset .. preview(msg.Data)
    end
    print("New Message From " .. colors.green .. short(msg.From) .. colors.reset .. ": " .. detail)
  end
end
