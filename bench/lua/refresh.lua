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

local token_file = os.getenv("BENCH_TOKENS") or ""
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local queue = {}
local head, tail = 1, 0
-- Globals, not locals: done() reads them with thread:get.
thread_id = 0
ok, failed, starved = 0, 0, 0
local headers = {}

local threads = {}
local created = 0

function setup(thread)
    thread:set("thread_id", created)
    created = created + 1
    table.insert(threads, thread)
end

local function push(token)
    tail = tail + 1
    queue[tail] = token
end

function init(args)
    headers = { ["Host"] = wrk.headers["Host"], ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
    local k = 0
    for line in io.lines(token_file) do
        if #line > 0 then
            if k % nthreads == thread_id then
                push(line)
            end
            k = k + 1
        end
    end
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
    local t_ok, t_failed, t_starved = 0, 0, 0
    for _, thread in ipairs(threads) do
        t_ok = t_ok + (thread:get("ok") or 0)
        t_failed = t_failed + (thread:get("failed") or 0)
        t_starved = t_starved + (thread:get("starved") or 0)
    end
    local e = summary.errors
    io.write(string.format(
        'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
        '"ok":%d,"failed":%d,"starved":%d}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), t_ok, t_failed, t_starved))
end
