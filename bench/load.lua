-- wrk script for bench/checkin.py: POST a different host's check-in with each request, or GET /livez.
-- Arguments (after --): MODE (checkin|livez) REQUESTS_FILE LIMIT
-- REQUESTS_FILE has one "token<TAB>json body" line per host. wrk stops a thread after LIMIT responses.
local requests = {}
local index = 0
local seen = 0
local limit = 0

function init(args)
  local mode, path = args[1], args[2]
  limit = tonumber(args[3])
  if mode == "livez" then
    requests[1] = wrk.format("GET", "/livez")
    return
  end
  for line in io.lines(path) do
    local tab = line:find("\t", 1, true)
    local headers = { ["Authorization"] = "Bearer " .. line:sub(1, tab - 1), ["Content-Type"] = "application/json" }
    requests[#requests + 1] = wrk.format("POST", "/api/v1/checkin", headers, line:sub(tab + 1))
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  seen = seen + 1
  if seen >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
