--- The revocation feed at the gateway (docs/gateway-lua.md "Revocation
-- feed"). One worker at a time polls the backend's
-- `GET /api/internal/revocations` every `poll_interval` seconds (a timer in
-- every worker, a lock in the shared dict); the snapshot and the time of
-- the last successful poll live in the shared dict; every worker keeps a
-- decoded copy keyed by version, so a request costs a table lookup.
--
-- Fail mode: when the last successful poll is older than `trust_window`
-- seconds, or there has never been one, `current()` answers nil and the
-- gateway answers 503. Until then the last snapshot is used, so a stopped
-- or hung backend does not stop valid tokens, and revocations recorded
-- before the outage stay honoured.
--
-- `is_revoked` is pure (no ngx) so the unit tests share it.

local cjson_safe = require "cjson.safe"
local failover = require "authgw.failover"
local shared_doc = require "authgw.shared_doc"

local type, pairs, ipairs, next = type, pairs, ipairs, next
local ngx = ngx

local M = {}

local json = cjson_safe.new()
json.decode_max_depth(8)
json.decode_invalid_numbers(false)

local conf, source, doc

--- Apply the feed's verdict rule to verified claims (same in every checker).
-- @tparam table snap `{sessions=, subjects=, roles=}` (name -> Unix seconds)
-- @tparam table claims verified claims (`sid`, `sub`, `iat`, `roles`)
-- @treturn string|nil the reason when revoked
function M.is_revoked(snap, claims)
    if snap.sessions[claims.sid] then return "The session of this access token was revoked." end
    local iat = claims.iat
    local nb = snap.subjects[claims.sub]
    if nb and iat < nb then return "The access token was issued before a change of privileges." end
    local roles = snap.roles
    if next(roles) then
        for _, r in ipairs(claims.roles) do
            nb = roles[r]
            if nb and iat < nb then return "The access token was issued before a change of privileges." end
        end
    end
    return nil
end

local function numbers_by_name(t)
    if t == nil then return {} end
    if type(t) ~= "table" then return nil end
    for k, v in pairs(t) do
        if type(k) ~= "string" or type(v) ~= "number" then return nil end
    end
    return t
end

--- Validate a decoded snapshot document.
-- @treturn table `{sessions=, subjects=, roles=}` or nil, message
function M.parse_snapshot(doc)
    if type(doc) == "string" then doc = json.decode(doc) end
    if type(doc) ~= "table" then return nil, "not a JSON object" end
    if type(doc.sessions) ~= "table" then return nil, "no sessions map" end
    local sessions, subjects, roles =
        numbers_by_name(doc.sessions), numbers_by_name(doc.subjects), numbers_by_name(doc.roles)
    if not sessions or not subjects or not roles then return nil, "maps must be name -> number" end
    return { sessions = sessions, subjects = subjects, roles = roles, generated_at = doc.generated_at }
end

--- Configure (init phase).
-- @tparam table c `urls` (list of URL strings of the same feed, one per
--   backend replica, tried in turn: authgw.failover), `dict` (shared dict
--   name), `poll_interval` (s), `trust_window` (s), `timeout` (ms),
--   `max_body` (bytes), `log_interval` (s between two warnings per address)
function M.configure(c)
    conf = c
    source = failover.new("revocation feed", "rev", c)
    -- Only the maps matter: generated_at changes every poll.
    doc = shared_doc.new(c.dict, "rev", M.parse_snapshot, function(body)
        return ngx.md5((body:gsub('"generated_at"%s*:%s*[-+%d%.eE]+', "")))
    end)
end

local function poll(premature)
    if premature then return end
    local dict = ngx.shared[conf.dict]
    local now = ngx.now()
    local due = dict:get("rev:next") or 0
    if now < due then return end
    -- One poller at a time; the lock outlives hung requests (every address) by 1 s.
    if not dict:add("rev:lock", true, failover.worst_case(source) + 1) then return end
    dict:set("rev:next", now + conf.poll_interval - 0.05)
    local snap, _, body = failover.fetch(source, function(_, _, b) return M.parse_snapshot(b) end)
    local err
    if snap then
        _, err = doc:store(body)
    end
    if snap and not err then
        dict:incr("m:rev_poll_ok", 1, 0)
    else
        -- Each address that failed was logged (rate-limited) by failover.fetch.
        dict:incr("m:rev_poll_failed", 1, 0)
        if err then ngx.log(ngx.WARN, "authgw: revocation feed not stored: ", err) end
    end
    dict:delete("rev:lock")
end

--- Start the poll timers (init_worker phase; the first poll runs at once).
function M.start()
    ngx.timer.at(0, poll)
    local every = math.max(0.1, math.min(conf.poll_interval / 4, 0.5))
    local ok, err = ngx.timer.every(every, poll)
    if not ok then ngx.log(ngx.ERR, "authgw: cannot start the revocation timer: ", err) end
end

--- The snapshot to judge tokens by, or nil when it is not trusted.
-- Reads the shared dict at most every 0.1 s (authgw.shared_doc); decodes
-- only a new version.
-- @treturn table|nil snapshot
-- @treturn number|nil age of the last successful poll, seconds
function M.current()
    local snapshot, fetched_at = doc:get()
    if not fetched_at or not snapshot then return nil, nil end
    local age = ngx.now() - fetched_at
    if age > conf.trust_window then return nil, age end
    return snapshot, age
end

--- Age of the last successful poll in seconds (nil: never), for metrics.
function M.age()
    return doc:age()
end

return M
