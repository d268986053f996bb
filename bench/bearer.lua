-- GET with an access token: wrk ... -s bearer.lua URL -- ACCESS_TOKEN
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end
