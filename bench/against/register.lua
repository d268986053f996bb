-- POST a new account per request: wrk ... -s against/register.lua URL -- CONTENT_TYPE TEMPLATE TAG
-- TEMPLATE is the body with @EMAIL@ where the address goes; TAG is unique to this wrk run (the
-- counter restarts with every run), the thread id keeps threads apart.
local counter, threads = 0, 0
local content_type, template, tag = nil, nil, nil

-- thread:set makes `thread_id` a global of that thread's own Lua state.
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  content_type, template, tag = args[1], args[2], args[3]
end

function request()
  counter = counter + 1
  local email = "reg-" .. tag .. "-" .. (thread_id or 0) .. "-" .. counter .. "@example.com"
  local body = string.gsub(template, "@EMAIL@", email)
  return wrk.format("POST", nil, {["Content-Type"] = content_type}, body)
end
