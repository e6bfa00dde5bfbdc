-- wrk script: after the run, print one machine-readable line:
-- RESULT  requests  req/s  p99_ms  max_ms  non-2xx/3xx  connect  read  write  timeout
-- (the last four are wrk's socket error counters)
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT\t%d\t%.0f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(99) / 1000, latency.max / 1000, e.status,
    e.connect, e.read, e.write, e.timeout))
end
