-- wrk script for bench/kb_search.py --http: GET the request paths listed (one per line, URL-encoded)
-- in the file named by the first script argument, in turn; each wrk thread starts at its own offset.
-- An optional second argument is a pause in ms before each request of a connection (a fixed rate:
-- connections x 1000 / (pause + latency) requests a second).
-- At the end one line "WRK {json}" with the request count, errors and latency percentiles (µs).
local threads = 0

function setup(thread)
  thread:set("offset", threads * 37)
  threads = threads + 1
end

local paths = {}
local i = 0
local pause = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  i = offset or 0
  pause = tonumber(args[2] or "0")
end

function delay()
  return pause
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
