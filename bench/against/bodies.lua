-- POST pre-built bodies in turn (one per seeded account, in the service's own login format):
-- wrk ... -s against/bodies.lua URL -- CONTENT_TYPE BODY1 ... BODYn
local content_type, bodies, next_body = nil, {}, 1

function init(args)
  content_type = args[1]
  for i = 2, #args do bodies[#bodies + 1] = args[i] end
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = content_type}, body)
end
