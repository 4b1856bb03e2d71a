--- The backend's JWK Set at the gateway (docs/gateway-lua.md "Keys").
-- A timer in every worker refreshes it, one worker at a time (shared-dict
-- lock), when its cache lifetime (`Cache-Control: max-age`, clamped to
-- [min_refresh, max_refresh]) has passed; the document lives in the shared
-- dict for all workers. An unknown `kid` triggers one extra fetch, at most
-- once per `unknown_kid_interval` seconds per gateway, so a key rotation
-- needs no reload. Each worker keeps the parsed OpenSSL keys of the current
-- version: no key is parsed per request.

local failover = require "authgw.failover"
local jwk = require "authgw.jwk"
local shared_doc = require "authgw.shared_doc"

local ngx = ngx
local tonumber, next = tonumber, next
local match, lower = string.match, string.lower

local M = {}

local conf, source, doc

local function max_age(headers)
    local cc = headers["cache-control"]
    local age = cc and tonumber(match(lower(cc), "max%-age=(%d+)"))
    age = age or conf.default_refresh
    if age < conf.min_refresh then age = conf.min_refresh end
    if age > conf.max_refresh then age = conf.max_refresh end
    return age
end

local function usable(_, _, body)
    local parsed, skipped = jwk.parse_set(body, conf.algorithms)
    if not parsed then return nil, skipped end
    if not next(parsed) then return nil, "no usable key (" .. table.concat(skipped, "; ") .. ")" end
    return parsed
end

--- Fetch the JWK Set now and store it (caller holds no lock; takes it).
-- The addresses are tried in turn (authgw.failover), which logs their
-- failures, rate-limited.
-- @treturn boolean fetched, string|nil error
local function fetch()
    local dict = ngx.shared[conf.dict]
    if not dict:add("jwks:lock", true, failover.worst_case(source) + 1) then return false, "locked" end
    local parsed, headers, body = failover.fetch(source, usable)
    local err
    if not parsed then
        err = headers
    else
        local _, serr = doc:store(body)
        if serr then
            err = serr
            ngx.log(ngx.WARN, "authgw: JWK Set not stored: ", err)
        else
            dict:set("jwks:next", ngx.now() + max_age(headers))
        end
    end
    if err then
        -- Not loaded yet: retry every second; else keep the old set a while.
        dict:set("jwks:next", ngx.now() + (doc:stored() and conf.retry_interval or 1))
        dict:incr("m:jwks_fetch_failed", 1, 0)
    else
        dict:incr("m:jwks_fetch_ok", 1, 0)
    end
    dict:delete("jwks:lock")
    doc:recheck()
    return not err, err
end

local function tick(premature)
    if premature then return end
    local due = ngx.shared[conf.dict]:get("jwks:next") or 0
    if ngx.now() >= due then fetch() end
end

--- Configure (init phase).
-- @tparam table c `urls` (list of URL strings of the same JWK Set, one per
--   backend replica, tried in turn: authgw.failover), `dict`, `algorithms`
--   (set), `timeout` (ms), `max_body`, `default_refresh`, `min_refresh`,
--   `max_refresh`, `retry_interval`, `unknown_kid_interval`, `log_interval`
--   (seconds)
function M.configure(c)
    conf = c
    source = failover.new("JWK Set", "jwks", c)
    doc = shared_doc.new(c.dict, "jwks", function(body) return (jwk.parse_set(body, c.algorithms)) end)
end

--- Start the refresh timers (init_worker phase).
function M.start()
    ngx.timer.at(0, tick)
    local ok, err = ngx.timer.every(1, tick)
    if not ok then ngx.log(ngx.ERR, "authgw: cannot start the JWK Set timer: ", err) end
end

--- The key for `kid`, or nil.
-- @treturn table|nil key, boolean loaded (false: no JWK Set yet)
function M.get(kid)
    local keys = doc:get()
    if not keys then return nil, false end
    return keys[kid], true
end

--- The current version of the key set (changes when the set changes).
function M.version()
    local _, _, v = doc:get()
    return v
end

--- Re-fetch on an unknown kid, at most once per unknown_kid_interval per
-- gateway; may block this request for at most the fetch timeout.
-- @treturn boolean whether a fetch was made (or awaited) and succeeded
function M.refresh_for_unknown_kid()
    local dict = ngx.shared[conf.dict]
    if not dict:add("jwks:unknown_kid", true, conf.unknown_kid_interval) then return false end
    local ok, err = fetch()
    if err == "locked" then
        -- Another worker is fetching: wait for it (bounded).
        local deadline = ngx.now() + conf.timeout / 1000
        while dict:get("jwks:lock") and ngx.now() < deadline do ngx.sleep(0.01) end
        doc:recheck()
        ok = true
    end
    return ok
end

--- Age of the last successful fetch in seconds (nil: never), for metrics.
function M.age()
    return doc:age()
end

return M
