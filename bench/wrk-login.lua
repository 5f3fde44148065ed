-- wrk script for bench/login.sh, two modes chosen by the first script argument:
--
--   wrk ... -s wrk-login.lua URL -- login USER PASSWORD_FILE
--       every request is POST /api/v1/session with {"user":USER,"password":...}
--       (the password is read from PASSWORD_FILE, first line, so it stays out
--       of argv); responses are counted by status
--   wrk ... -s wrk-login.lua URL -- paced DELAY_MS
--       plain GETs of URL, each connection waiting DELAY_MS after every
--       response (0: none), so that the load is a steady background rate
--       rather than as much as the CPUs allow; wrk's latency does not include
--       the wait
--
-- Output: after the run, one line in the format of wrk-report.lua plus the
-- status counts:
--   BENCH requests=N duration_us=N bytes=N p50_us=N p90_us=N p99_us=N
--         p999_us=N max_us=N mean_us=N err_connect=N err_read=N
--         err_write=N err_status=N err_timeout=N s200=N s400=N s401=N
--         s429=N s503=N s_other=N

local threads = {}
local mode, pause = "login", 0

setup = function(thread)
   table.insert(threads, thread)
end

local function json_string(s)
   return '"' .. s:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

init = function(args)
   mode = args[1] or "login"
   counts = { s200 = 0, s400 = 0, s401 = 0, s429 = 0, s503 = 0, s_other = 0 }
   if mode == "login" then
      local f = assert(io.open(assert(args[3], "missing PASSWORD_FILE"), "r"))
      local password = f:read("*l") or ""
      f:close()
      wrk.method = "POST"
      wrk.headers["Content-Type"] = "application/json"
      wrk.body = '{"user":' .. json_string(assert(args[2], "missing USER")) ..
         ',"password":' .. json_string(password) .. '}'
   elseif mode == "paced" then
      pause = tonumber(args[2] or "0") or 0
   else
      error("unknown mode '" .. mode .. "'")
   end
end

-- Defined for both modes (wrk looks for it once, before init): in login
-- mode it returns 0, which costs nothing measurable at login rates.
delay = function()
   return pause
end

response = function(status, headers, body)
   local k = "s" .. status
   if counts[k] then
      counts[k] = counts[k] + 1
   else
      counts.s_other = counts.s_other + 1
   end
end

done = function(summary, latency, requests)
   local total = { s200 = 0, s400 = 0, s401 = 0, s429 = 0, s503 = 0, s_other = 0 }
   for _, t in ipairs(threads) do
      local c = t:get("counts")
      for k, v in pairs(c or {}) do
         total[k] = (total[k] or 0) + v
      end
   end
   local e = summary.errors
   local function i(x) return math.floor(x + 0.5) end
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d" ..
      " p999_us=%d max_us=%d mean_us=%d err_connect=%d err_read=%d" ..
      " err_write=%d err_status=%d err_timeout=%d s200=%d s400=%d s401=%d" ..
      " s429=%d s503=%d s_other=%d\n",
      summary.requests, summary.duration, summary.bytes,
      i(latency:percentile(50)), i(latency:percentile(90)),
      i(latency:percentile(99)), i(latency:percentile(99.9)),
      i(latency.max), i(latency.mean),
      e.connect, e.read, e.write, e.status, e.timeout,
      total.s200, total.s400, total.s401, total.s429, total.s503, total.s_other))
end
