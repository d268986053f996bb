-- POST /api/v1/auth/login as the seeded users in turn: wrk ... -s login.lua URL -- PASSWORD EMAIL...
local password, emails, next_user = nil, {}, 1

function init(args)
  password = args[1]
  for i = 2, #args do emails[#emails + 1] = args[i] end
end

function request()
  local email = emails[next_user]
  next_user = next_user % #emails + 1
  local body = '{"email":"' .. email .. '","password":"' .. password .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
