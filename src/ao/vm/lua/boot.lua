-- The `_boot` handler: on the process's own message, On-Boot=Data runs the process Data as Lua.
-- On-Boot=<txid> would need that transaction's data, which a deterministic process cannot fetch.
return function(ao, insertInbox)
  return function(msg)
    insertInbox(msg)
    local onBoot = msg.Tags and msg.Tags["On-Boot"]
    if onBoot == nil then return end
    if onBoot == "Data" then
      local source = msg.Data
      if type(source) ~= "string" or source == "" then return end
      local fn, err = load(source, "aos", "t", _G)
      if not fn then error("On-Boot: " .. tostring(err), 0) end
      fn()
    else
      print("On-Boot " .. tostring(onBoot) .. ": loading code from another transaction is not supported here")
    end
  end
end
