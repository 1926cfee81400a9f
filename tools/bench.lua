-- wrk script for tools/bench: round-robin over a set of paths, and a
-- machine-readable summary line.
--
--   wrk ... -s tools/bench.lua http://127.0.0.1:PORT -- PATH [COUNT]
--
-- COUNT = 0 (or absent): every request is GET PATH.
-- COUNT = N: PATH is a format with one %d (e.g. /site.wwz/pages/p%04d.html),
-- and requests cycle through 1..N, each thread starting elsewhere.
-- All runs use this script, so the client-side Lua cost is the same for every row.

local thread_count = 0

function setup(thread)
   thread:set("thread_id", thread_count)
   thread_count = thread_count + 1
end

local requests = {}
local n = 0
local i = 0

function init(args)
   local path = args[1] or "/"
   local count = tonumber(args[2] or "0") or 0
   if count > 0 then
      for k = 1, count do
         requests[k] = wrk.format("GET", string.format(path, k))
      end
   else
      requests[1] = wrk.format("GET", path)
   end
   n = #requests
   i = ((thread_id or 0) * 389) % n
end

function request()
   i = i % n + 1
   return requests[i]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bytes=%d socket_errors=%d status_errors=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect + e.read + e.write + e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency.max))
end
