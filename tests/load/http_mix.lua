-- wrk script: the petstore mix used by tests/load/run_http.sh (examples/petstore.yaml).
--
--   wrk -t1 -c50 -d20s --latency -s tests/load/http_mix.lua http://127.0.0.1:3000
--
-- Per 100 requests: 40 GET /pets (a generated page), 30 GET /pets/{id} (an example body),
-- 20 POST /pets (a valid NewPet), 10 DELETE /pets/{id}. Ids skip 13, which the example stub
-- turns into a 404. tests/load/http_load.py sends the same mix when wrk is missing.
-- done() prints one line `MOCKFORGE_RESULT {json}` that run_http.sh hands to check_thresholds.py.

local kinds = { "GET", "GET", "GET", "GET", "ITEM", "ITEM", "ITEM", "POST", "POST", "DELETE" }
local pet_kinds = { "dog", "cat", "bird" }
local json_headers = { ["Content-Type"] = "application/json" }
local thread_id = 0
local n = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  math.randomseed(1000 + (id or 0))
end

local function pet_id()
  local i = math.random(1, 999)
  if i == 13 then
    i = 14
  end
  return i
end

function request()
  n = n + 1
  local kind = kinds[math.random(1, #kinds)]
  if kind == "GET" then
    return wrk.format("GET", "/pets?limit=5")
  elseif kind == "ITEM" then
    return wrk.format("GET", "/pets/" .. pet_id())
  elseif kind == "POST" then
    local body = string.format('{"name":"pet-%d","kind":"%s","tags":["load"]}', n,
      pet_kinds[math.random(1, #pet_kinds)])
    return wrk.format("POST", "/pets", json_headers, body)
  end
  return wrk.format("DELETE", "/pets/" .. pet_id())
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'MOCKFORGE_RESULT {"tool":"wrk","requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"errors":%d,"errors_status":%d,"errors_socket":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status + socket, e.status, socket))
end
