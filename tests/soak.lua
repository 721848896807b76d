-- wrk script for tests/test_soak.py: every connection walks the read routes of the console in turn and
-- every response status is counted per thread; done() prints them for the test to parse:
--   STATUS <code> <count>          one line per status seen
--   ERRORS <connect> <read> <write> <timeout>
--   LATENCY <p50 us> <p99 us> <max us>
-- The bearer token comes from wrk's -H option (wrk.headers), the paths from the arguments after "--".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  paths = args
  statuses = {}
  counter = math.random(1, #paths)
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
  end
  for code, count in pairs(total) do
    io.write(string.format("STATUS %d %d\n", code, count))
  end
  local e = summary.errors
  io.write(string.format("ERRORS %d %d %d %d\n", e.connect, e.read, e.write, e.timeout))
  io.write(string.format("LATENCY %d %d %d\n", latency:percentile(50), latency:percentile(99), latency.max))
end
