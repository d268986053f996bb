-- A steady probe instead of a flood: each connection waits this long between requests, so
-- the latency measured is the service's, not the probe's own queue. wrk ... -s paced.lua URL -- MS
local pause = 2

function init(args)
  pause = tonumber(args[1]) or pause
end

function delay()
  return pause
end
