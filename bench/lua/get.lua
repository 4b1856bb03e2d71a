-- wrk script: GET $BENCH_PATH, optionally with a bearer token per request.
--
--   BENCH_PATH     path to request (default /)
--   BENCH_TOKENS   file with one access token per line (optional); each
--                  thread takes the tokens round-robin, starting at a
--                  different place, so the gateway sees many tokens.
--   BENCH_HEADERS  more request headers, "Name: value" separated by "|"
--                  (optional; bench/figures.py sends the identity headers).
--
-- Prints one line "BENCHJSON {...}" with the summary (bench/bench.py reads it).
-- Latencies are in microseconds.

package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("benchlib") -- this folder's shared parts

local path = os.getenv("BENCH_PATH") or "/"
local token_file = os.getenv("BENCH_TOKENS") or ""
local extra = {}
for name, value in (os.getenv("BENCH_HEADERS") or ""):gmatch("([^|:]+):%s*([^|]*)") do extra[name] = value end

local function headers(auth)
    local h = { ["Host"] = wrk.headers["Host"] }
    for name, value in pairs(extra) do h[name] = value end
    if auth then h["Authorization"] = auth end
    return h
end
local requests_ = {}
local n = 0
local i = 0
thread_id = 0  -- global: set per thread by setup() through thread:set

setup = bench.setup

function init(args)
    if token_file ~= "" then
        bench.each_token(token_file, function(token)
            n = n + 1
            requests_[n] = wrk.format("GET", path, headers("Bearer " .. token))
        end)
    end
    if n == 0 then
        n = 1
        requests_[1] = wrk.format("GET", path, headers(nil))
    end
    i = (thread_id * 7) % n
end

function request()
    i = i % n + 1
    return requests_[i]
end

function done(summary, latency, requests)
    bench.report(summary, latency)
end
