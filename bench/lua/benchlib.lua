-- What the wrk scripts of this folder share: thread numbering, the token
-- file, and the "BENCHJSON {...}" summary line bench/bench.py reads.
-- A script loads it from its own folder:
--
--   package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
--   local bench = require("benchlib")
--
-- wrk runs a script in one Lua state per thread plus the main one (setup
-- and done run there); each state loads this module once.

local M = {}

-- The threads in creation order (main state: filled by setup).
M.threads = {}

-- wrk's setup(thread): number the threads 0, 1, ... into their global thread_id.
function M.setup(thread)
    thread:set("thread_id", #M.threads)
    table.insert(M.threads, thread)
end

-- The sum over the threads of their global `name` (in done).
function M.total(name)
    local sum = 0
    for _, thread in ipairs(M.threads) do sum = sum + (thread:get(name) or 0) end
    return sum
end

-- Call each(line) for the non-empty lines of file `path`; with `nthreads`,
-- only for thread `thread_id`'s share (lines k, k+T, k+2T, ... counting from 0).
function M.each_token(path, each, thread_id, nthreads)
    local k = 0
    for line in io.lines(path) do
        if #line > 0 then
            if not nthreads or k % nthreads == thread_id then each(line) end
            k = k + 1
        end
    end
end

-- Print the line 'BENCHJSON {...}': wrk's summary (latencies in
-- microseconds) plus `counts`, a list of {name, whole number} pairs.
function M.report(summary, latency, counts)
    local e = summary.errors
    local more = ""
    for _, pair in ipairs(counts or {}) do more = more .. string.format(',"%s":%d', pair[1], pair[2]) end
    io.write(string.format(
        'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}%s}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), more))
end

return M
