-- bench:api's wrk script (api-load-wrk.ts): the figures of one case as one JSON line, marked for the parser.
-- No response() on purpose: wrk would hand every body (2.1 MB for the latest case) to Lua.
done = function(summary, latency, requests)
  local e = summary.errors
  -- %.0f, not %d: bytes pass 2^31 within seconds, and Lua 5.1's %d is a C int.
  io.write(string.format(
    'SUS_WRK {"requests":%.0f,"bytes":%.0f,"duration_us":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f,' ..
      '"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
