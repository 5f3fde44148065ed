-- wrk script for bench/transfer.sh: authenticated WebDAV requests, two modes
-- chosen by the first script argument:
--
--   wrk ... -s wrk-dav.lua URL -- get AUTH_FILE
--       GET URL with "Authorization: <first line of AUTH_FILE>"
--   wrk ... -s wrk-dav.lua URL -- propfind AUTH_FILE BODY_FILE
--       PROPFIND URL with the same header, "Depth: 1" and the contents of
--       BODY_FILE as the body (bench/transfer.sh writes a small one asking for
--       four live properties, and checks one answer with the same file)
--
-- The header value ("Basic base64(user:password)") is read from a file so the
-- password stays out of argv.  No response() callback: wrk then skips building
-- a Lua table per response, which would cost the client CPU in proportion to
-- the server's speed; answers other than 2xx/3xx are counted by wrk itself
-- (err_status), and bench/transfer.sh checks the exact status and body of one
-- request of each kind beforehand.
--
-- Output: the BENCH line of wrk-report.lua (loaded from this script's folder).

local dir = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
dofile(dir .. "wrk-report.lua")

init = function(args)
   local mode = args[1] or "get"
   local f = assert(io.open(assert(args[2], "missing AUTH_FILE"), "r"))
   wrk.headers["Authorization"] = f:read("*l") or ""
   f:close()
   if mode == "propfind" then
      f = assert(io.open(assert(args[3], "missing BODY_FILE"), "rb"))
      wrk.method = "PROPFIND"
      wrk.headers["Depth"] = "1"
      wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
      wrk.body = f:read("*a")
      f:close()
   elseif mode ~= "get" then
      error("unknown mode '" .. mode .. "'")
   end
end
