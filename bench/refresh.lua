-- POST /api/v1/auth/refresh-token with rotation: every answer hands back the next refresh token,
-- which goes back in the pool, so each token is presented exactly once (no reuse detection).
-- wrk -c N ... -s refresh.lua URL -- TOKEN1 ... TOKENm   (m > N: wrk asks for one request more
-- than it has connections before the first answer arrives)
local pool = {}

function init(args)
  for i = 1, #args do pool[#pool + 1] = args[i] end
end

function request()
  local token = table.remove(pool) or "exhausted"
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                    '{"refreshToken":"' .. token .. '"}')
end

function response(status, headers, body)
  local found = nil
  for name, value in pairs(headers) do
    if string.lower(name) == "set-cookie" then
      found = string.match(value, "refreshToken=([^;]+)")
    end
  end
  found = found or string.match(body, '"refreshToken"%s*:%s*"([^"]+)"')
  if found and found ~= "" then pool[#pool + 1] = found end
end
