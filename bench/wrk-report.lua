-- wrk script: after the run, print one machine-readable line with exact
-- latency percentiles in microseconds (wrk's own --latency table rounds to
-- two decimals of ms/us and mixes units).  Used by bench/healthz.sh.
--
-- Output (one line, space-separated key=value, all integers):
--   BENCH requests=N duration_us=N bytes=N p50_us=N p90_us=N p99_us=N
--         p999_us=N max_us=N mean_us=N err_connect=N err_read=N
--         err_write=N err_status=N err_timeout=N

done = function(summary, latency, requests)
   local e = summary.errors
   local function i(x) return math.floor(x + 0.5) end
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d" ..
      " p999_us=%d max_us=%d mean_us=%d err_connect=%d err_read=%d" ..
      " err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.bytes,
      i(latency:percentile(50)), i(latency:percentile(90)),
      i(latency:percentile(99)), i(latency:percentile(99.9)),
      i(latency.max), i(latency.mean),
      e.connect, e.read, e.write, e.status, e.timeout))
end
