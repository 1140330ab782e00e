-- wrk script for bench/bench_submit.py (one wrk thread: -t1).
--
-- BENCH_MODE   submit | keyed | insert | page
-- BENCH_LINES  a file: one participant token a line (submit, keyed), or for page one
--              "cookie<TAB>path" a line; insert needs none
-- BENCH_OFFSET where in the file to start: each token answers PHQ-9 then GAD-7 once, so a
--              turn starts where the last one stopped (pages cycle)
-- BENCH_EXPECT the status that counts as done (201, or 200 for pages)
-- BENCH_PHQ9_VERSION, BENCH_GAD7_VERSION  the versions the protocol in force asks for
-- Prints one line: "WRK {json}" with the requests, the answers other than BENCH_EXPECT, the
-- socket errors, latency percentiles (microseconds) and the next offset.

local mode = os.getenv("BENCH_MODE") or "submit"
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local expect = tonumber(os.getenv("BENCH_EXPECT") or "201")
local threads = {}

local phq9 = '{"instrument":"phq-9","version":"' .. (os.getenv("BENCH_PHQ9_VERSION") or "1.0.0")
  .. '","timepoint":"baseline","submit":true,'
  .. '"answers":{"phq9_1":1,"phq9_2":1,"phq9_3":1,"phq9_4":1,"phq9_5":1,"phq9_6":1,'
  .. '"phq9_7":1,"phq9_8":1,"phq9_9":1,"phq9_10":1}}'
local gad7 = '{"instrument":"gad-7","version":"' .. (os.getenv("BENCH_GAD7_VERSION") or "1.0.0")
  .. '","timepoint":"baseline","submit":true,'
  .. '"answers":{"gad7_1":1,"gad7_2":1,"gad7_3":1,"gad7_4":1,"gad7_5":1,"gad7_6":1,'
  .. '"gad7_7":1,"gad7_8":1}}'
local bodies = { phq9, gad7 }

lines = {}
sent = 0
unexpected = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_LINES")
  if path and path ~= "" then
    for line in io.lines(path) do
      lines[#lines + 1] = line
    end
  end
end

function request()
  local n = offset + sent
  sent = sent + 1
  local json = { ["Content-Type"] = "application/json" }
  if mode == "insert" then
    return wrk.format("POST", "/insert", json, bodies[n % 2 + 1])
  end
  if mode == "page" then
    local line = lines[n % #lines + 1]
    local tab = string.find(line, "\t", 1, true)
    local headers = { ["Cookie"] = string.sub(line, 1, tab - 1), ["Accept"] = "text/html" }
    return wrk.format("GET", string.sub(line, tab + 1), headers, nil)
  end
  -- submit, keyed: token n / 2 (wrapping would send a repeat: the file is made long enough)
  json["Authorization"] = "Bearer " .. lines[math.floor(n / 2) % #lines + 1]
  if mode == "keyed" then
    json["Idempotency-Key"] = "bench-" .. n
  end
  return wrk.format("POST", "/api/v1/me/responses", json, bodies[n % 2 + 1])
end

function response(status, headers, body)
  if status ~= expect then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local other, next_offset = 0, offset
  for _, thread in ipairs(threads) do
    other = other + thread:get("unexpected")
    next_offset = next_offset + thread:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"unexpected":%d,"socket_errors":%d,'
      .. '"p50_us":%d,"p99_us":%d,"next_offset":%d}\n',
    summary.requests, summary.duration, other, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), next_offset))
end
