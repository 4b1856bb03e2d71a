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

package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("benchlib") -- this folder's shared parts

local path = os.getenv("BENCH_PATH") or "/"
local token_file = os.getenv("BENCH_TOKENS")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local mine, n, sent = {}, 0, 0
repeats = 0        -- global: read by done() through thread:get
thread_id = 0      -- global: set per thread by setup()

setup = bench.setup

function init(args)
    bench.each_token(token_file, function(token)
        n = n + 1
        mine[n] = wrk.format("GET", path, { ["Host"] = wrk.headers["Host"], ["Authorization"] = "Bearer " .. token })
    end, thread_id, nthreads)
    assert(n > 0, "no tokens for this thread")
end

function request()
    sent = sent + 1
    if sent > n then repeats = repeats + 1 end
    return mine[(sent - 1) % n + 1]
end

function done(summary, latency, requests)
    bench.report(summary, latency, { { "repeats", bench.total("repeats") } })
end
