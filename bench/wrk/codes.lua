-- Authorization-code exchanges: each request POSTs one line of GH_CODES (a complete form
-- body with its own code and code_verifier), each line sent once. Lines are dealt to the
-- GH_THREADS threads round-robin. Every request is preceded by a reservation in delay(), so
-- a connection only sends when a code is left for it; when its codes are used up and
-- answered, a thread prints "GH-THREAD-DONE" (bench/oauth.ts then ends the run) and its
-- connections stay idle. Environment, besides common.lua's: GH_CODES, GH_THREADS, GH_AUTH.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = os.getenv("GH_AUTH") }
local bodies, pos, reserved, sent, received, finished = {}, 0, 0, 0, 0, false

function init(args)
  local n, i = tonumber(os.getenv("GH_THREADS")), 0
  for line in io.lines(os.getenv("GH_CODES")) do
    if line ~= "" then
      if i % n == gh_id then table.insert(bodies, line) end
      i = i + 1
    end
  end
end

function delay()
  if pos + reserved < #bodies then
    reserved = reserved + 1
    return 0
  end
  return 3600000 -- none left for this connection: idle until the run ends
end

function request()
  if reserved == 0 then
    -- Only wrk's one-off check of the script (thread 0, before the run; never sent) asks
    -- without a reservation. Anything else sending this gets a 400, counted as an error.
    return wrk.format("POST", wrk.path, headers, "grant_type=authorization_code&code=unreserved")
  end
  reserved = reserved - 1
  pos = pos + 1
  sent = sent + 1
  if gh_first == nil then gh_first = gh_now_us() end
  return wrk.format("POST", wrk.path, headers, bodies[pos])
end

function response(status, hdrs, body)
  gh_record(status, body)
  received = received + 1
  if not finished and pos == #bodies and received >= sent then
    finished = true
    io.stdout:write("GH-THREAD-DONE\n")
    io.stdout:flush()
  end
end
