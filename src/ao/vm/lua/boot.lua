-- The `_boot` handler, on the process's own message. On-Boot=Data runs the process Data as Lua;
-- On-Boot=<item id> runs that item's data, which the CU reads from the gateway and passes in as
-- msg["On-Boot-Source"] (items are immutable, so every CU boots the same code).
return function(ao, insertInbox)
  local function run(source, name)
    if type(source) ~= "string" or source == "" then return end
    local fn, err = load(source, name, "t", _G)
    if not fn then error("On-Boot: " .. tostring(err), 0) end
    fn()
  end

  return function(msg)
    local fetched = msg["On-Boot-Source"]
    msg["On-Boot-Source"] = nil
    insertInbox(msg)
    local onBoot = msg.Tags and msg.Tags["On-Boot"]
    if onBoot == nil then return end
    if onBoot == "Data" then
      run(msg.Data, "aos")
    elseif fetched ~= nil then
      run(fetched, onBoot)
    else
      print("On-Boot " .. tostring(onBoot) .. ": no item with that id could be read")
    end
  end
end
