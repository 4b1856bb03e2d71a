-- wrk script: POST /api/auth/refresh with refresh tokens in JSON bodies.
--
--   BENCH_TOKENS   file with one raw refresh token per line (seeded by
--                  bench/bench.py, each of a different session).
--
-- Every refresh rotates: the presented token is spent and the answer holds
-- its successor. Each thread keeps a queue: it starts with its share of the
-- seeded tokens (thread k takes lines k, k+T, k+2T, ...) and every 200
-- answer puts the returned refresh token back at the end, so each session
-- keeps refreshing with its newest token, like a real client, and no token
-- is ever presented twice (which would be reuse and revoke the session).
-- If the queue runs dry (failed refreshes) a request goes out with a dummy
-- token and is counted in "starved" (and as a non-2xx answer by wrk).
--
-- Prints "BENCHJSON {...}" like get.lua, plus ok/failed/starved counts.

package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("benchlib") -- this folder's shared parts

local token_file = os.getenv("BENCH_TOKENS") or ""
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local queue = {}
local head, tail = 1, 0
-- Globals, not locals: done() reads them with thread:get.
thread_id = 0
ok, failed, starved = 0, 0, 0
local headers = {}

setup = bench.setup

local function push(token)
    tail = tail + 1
    queue[tail] = token
end

function init(args)
    headers = { ["Host"] = wrk.headers["Host"], ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
    bench.each_token(token_file, push, thread_id, nthreads)
end

function request()
    local token
    if head <= tail then
        token = queue[head]
        queue[head] = nil
        head = head + 1
    else
        starved = starved + 1
        token = "starved-no-token-left"
    end
    return wrk.format("POST", "/api/auth/refresh", headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, hdrs, body)
    if status == 200 then
        local token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
        if token then
            ok = ok + 1
            push(token)
            return
        end
    end
    failed = failed + 1
end

function done(summary, latency, requests)
    bench.report(summary, latency,
        { { "ok", bench.total("ok") }, { "failed", bench.total("failed") }, { "starved", bench.total("starved") } })
end
