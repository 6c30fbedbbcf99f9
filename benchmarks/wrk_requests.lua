-- wrk script of the benchmarks (benchmarks/load.py writes its inputs).
-- BENCH_REQUESTS: a file of precomputed requests, one a line: path TAB body TAB signature
-- (each a signed Twilio webhook of its own: a new CallSid, or a call's next step). Each
-- wrk thread takes every n-th line and sends each at most once: when a thread has sent
-- all of its lines it stops, and says so (a retried webhook is cheaper: never measured).
-- Without BENCH_REQUESTS every request is the command line's URL (pages, with -H headers).
-- BENCH_WRAP=1: go round and round instead (ceilings: the same work again).
-- BENCH_RESULT: where done() writes the figures as JSON.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  thread:set("nthreads", tonumber(os.getenv("BENCH_THREADS") or "1"))
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  sent = 0
  exhausted = 0
  wrap = (os.getenv("BENCH_WRAP") or "") ~= ""
  local file = os.getenv("BENCH_REQUESTS")
  if file == nil or file == "" then
    return
  end
  local line_number = 0
  for line in io.lines(file) do
    if line_number % nthreads == id then
      local path, body, signature = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    line_number = line_number + 1
  end
end

function request()
  if #requests == 0 then
    return wrk.request()
  end
  sent = sent + 1
  if wrap and sent > #requests then
    sent = 1
  elseif sent >= #requests then
    exhausted = 1
    wrk.thread:stop()
    sent = #requests
  end
  return requests[sent]
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_RESULT"), "w")
  local used_up = 0
  for _, thread in ipairs(threads) do
    used_up = used_up + (thread:get("exhausted") or 0)
  end
  local errors = summary.errors
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"threads_exhausted": %d}',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read,
    errors.write, errors.status, errors.timeout, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean, used_up))
  out:close()
end
