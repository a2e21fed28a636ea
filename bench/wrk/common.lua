-- Shared by the OAuth benchmark's wrk scripts (bench/oauth.ts): every response is checked
-- against the expected status and a fragment of the expected body, counted per thread, and
-- done() prints one "GH-RESULT {json}" line with the totals and wrk's latency percentiles
-- (p50Us, p99Us: microseconds from a request's write to its response, every response counted).
--
-- Environment: GH_EXPECT_STATUS (e.g. 201), GH_EXPECT_BODY (a substring the body must contain).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } gh_timespec;
int clock_gettime(int clk_id, gh_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("gh_timespec")

-- Microseconds on the monotonic clock (the same clock in every thread).
function gh_now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local expect_status = tonumber(os.getenv("GH_EXPECT_STATUS") or "200")
local expect_body = os.getenv("GH_EXPECT_BODY") or ""

-- Per-thread counters (globals, so that done() can read them with thread:get).
gh_ok, gh_bad, gh_first, gh_last, gh_sample = 0, 0, nil, 0, nil

function gh_record(status, body)
  local now = gh_now_us()
  if gh_first == nil then gh_first = now end
  if status == expect_status and string.find(body, expect_body, 1, true) then
    gh_ok = gh_ok + 1
  else
    gh_bad = gh_bad + 1
    if gh_sample == nil then gh_sample = status .. " " .. string.sub(body, 1, 200) end
  end
  gh_last = now
end

local threads = {}

function setup(thread)
  thread:set("gh_id", #threads)
  table.insert(threads, thread)
end

local function json_string(s)
  if s == nil then return "null" end
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local ok, bad, first, last, sample = 0, 0, nil, 0, nil
  for _, t in ipairs(threads) do
    ok = ok + (t:get("gh_ok") or 0)
    bad = bad + (t:get("gh_bad") or 0)
    local f = t:get("gh_first")
    if f ~= nil and (first == nil or f < first) then first = f end
    local l = t:get("gh_last") or 0
    if l > last then last = l end
    sample = sample or t:get("gh_sample")
  end
  local e = summary.errors
  io.write(string.format(
    'GH-RESULT {"ok":%d,"bad":%d,"firstUs":%.0f,"lastUs":%.0f,"durationUs":%d,"requests":%d,' ..
    '"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"sample":%s,' ..
    '"p50Us":%d,"p99Us":%d}\n',
    ok, bad, first or 0, last, summary.duration, summary.requests,
    e.connect, e.read, e.write, e.timeout, json_string(sample),
    latency:percentile(50), latency:percentile(99)))
end
