-- The `_eval` handler: the owner sends Lua as Data with Action=Eval and it runs in the process's
-- global environment. An expression's value is printed; a syntax error becomes the result's Error.
return function(ao)
  return function(msg)
    local source = msg.Data
    if type(source) ~= "string" then
      ao.outbox.Error = "Eval: Data must be Lua source text"
      return
    end
    local fn, err = load("return " .. source, "aos", "t", _G)
    if not fn then
      fn, err = load(source, "aos", "t", _G)
    end
    if not fn then
      ao.outbox.Error = err
      return
    end
    local output = fn()
    if output ~= nil then
      if type(output) == "table" and type(output.output) == "string" then
        print(output.output)
      else
        print(output)
      end
    end
  end
end
