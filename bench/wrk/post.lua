-- The same POST, over and over (registration, introspection). Environment, besides
-- common.lua's: GH_BODY, GH_CONTENT_TYPE, GH_AUTH (an Authorization header, optional).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

wrk.method = "POST"
wrk.body = os.getenv("GH_BODY")
wrk.headers["Content-Type"] = os.getenv("GH_CONTENT_TYPE")
local auth = os.getenv("GH_AUTH")
if auth ~= nil and auth ~= "" then wrk.headers["Authorization"] = auth end

function response(status, headers, body)
  gh_record(status, body)
end
