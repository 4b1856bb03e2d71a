-- wrk script: GET $BENCH_PATH, every request with a token no thread has sent
-- before (cold token checks at the gateway).
--
--   BENCH_PATH     path to request
--   BENCH_TOKENS   file with one access token per line
--   BENCH_THREADS  wrk's -t (thread k sends tokens k+1, k+1+T, k+1+2T, ...)
--
-- When a thread runs out of tokens it starts its share again and counts the
-- wrap: the summary's "repeats" says how many requests reused a token (the
-- bench makes the file larger than a run needs, so it should be 0).
-- Prints one line "BENCHJSON {...}" as get.lua does.

local path = os.getenv("BENCH_PATH") or "/"
local token_file = os.getenv("BENCH_TOKENS")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local mine, n, sent = {}, 0, 0
repeats = 0        -- global: read by done() through thread:get
thread_id = 0      -- global: set per thread by setup()

local threads, created = {}, 0

function setup(thread)
    thread:set("thread_id", created)
    created = created + 1
    table.insert(threads, thread)
end

function init(args)
    local k = 0
    for line in io.lines(token_file) do
        if #line > 0 then
            if k % nthreads == thread_id then
                n = n + 1
                mine[n] = wrk.format("GET", path, { ["Host"] = wrk.headers["Host"], ["Authorization"] = "Bearer " .. line })
            end
            k = k + 1
        end
    end
    assert(n > 0, "no tokens for this thread")
end

function request()
    sent = sent + 1
    if sent > n then repeats = repeats + 1 end
    return mine[(sent - 1) % n + 1]
end

function done(summary, latency, requests)
    local e = summary.errors
    local reused = 0
    for _, t in ipairs(threads) do reused = reused + (t:get("repeats") or 0) end
    io.write(string.format(
        'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"repeats":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
        summary.requests, summary.duration, summary.bytes, reused, e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9)))
end
