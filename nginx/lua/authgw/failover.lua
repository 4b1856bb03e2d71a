--- Several addresses for one backend document (the JWK Set, the revocation
-- feed), tried in turn (docs/gateway-lua.md "Several backends"). With
-- backend replicas behind one gateway, the timers must not depend on the
-- first one only: a fetch starts at the address that answered last (kept in
-- the shared dict, so every worker starts there) and falls over to the next
-- one on any failure (no connection, timeout, a status other than 200, a
-- body the caller refuses). Warnings are rate-limited per address: one line
-- per `log_interval` seconds with the number of failures not logged, and
-- one line when the address answers again, so a stopped backend does not
-- write a line a second into the error log.
--
-- `urls` and `order` are pure (the unit tests use them); `fetch` needs ngx.

local http = require "authgw.http"

local type, ipairs, tostring = type, ipairs, tostring
local match = string.match
local ngx = ngx

local M = {}

--- Normalise a URL setting: one URL or a non-empty list of them.
-- @param value string or list of strings
-- @treturn table list of URL strings, or nil, message
function M.urls(value)
    if type(value) == "string" then value = { value } end
    if type(value) ~= "table" or #value == 0 then return nil, "must be a URL or a non-empty list of URLs" end
    local out = {}
    for i, u in ipairs(value) do
        -- The pattern of http.parse_url, so that configure() cannot fail later.
        if type(u) ~= "string" or not match(u, "^https?://[%w%.%-]+:?%d*/?[^#]*$") then
            return nil, "entry " .. i .. " must be an http:// or https:// URL"
        end
        out[i] = u
    end
    return out
end

--- The order in which to try `n` addresses, starting at `first` (1-based;
-- out of range: 1), then the ones after it, wrapping around.
-- @treturn table list of indices
function M.order(n, first)
    if type(first) ~= "number" or first < 1 or first > n then first = 1 end
    local out = {}
    for k = 0, n - 1 do out[#out + 1] = (first - 1 + k) % n + 1 end
    return out
end

--- A source: what `fetch` needs about one document.
-- @tparam string name for log lines ("JWK Set")
-- @tparam string key shared-dict prefix of its failover state ("jwks")
-- @tparam table c `urls` (list of strings, checked by `M.urls`), `dict`
--   (shared dict name), `timeout` (ms), `max_body` (bytes), `log_interval`
--   (seconds): the configure() settings of authgw.jwks and authgw.revocations
-- @treturn table source
function M.new(name, key, c)
    local parsed = {}
    for i, u in ipairs(c.urls) do parsed[i] = assert(http.parse_url(u)) end
    return { name = name, urls = c.urls, parsed = parsed, dict = c.dict, key = key,
             timeout = c.timeout, max_body = c.max_body, log_interval = c.log_interval or 10 }
end

--- Worst-case duration of one `fetch` in seconds (for lock lifetimes):
-- connect, send and read may each take `timeout`, for every address.
function M.worst_case(src)
    return #src.urls * 3 * src.timeout / 1000
end

local function warn_failed(src, dict, i, err)
    local base = src.key .. ":fail:" .. i
    local failures = dict:incr(base, 1, 0)
    if dict:add(base .. ":logged", true, src.log_interval) then
        local earlier = failures - 1 - (dict:get(base .. ":reported") or 0)
        dict:set(base .. ":reported", failures)
        ngx.log(ngx.WARN, "authgw: ", src.name, " fetch failed (", src.urls[i], "): ", tostring(err),
            earlier > 0 and (" (" .. earlier .. " earlier failures not logged)") or "",
            "; next warning for this address in ", src.log_interval, " s at the earliest")
    end
end

local function note_answered(src, dict, i)
    local base = src.key .. ":fail:" .. i
    local failures = dict:get(base)
    if failures and failures > 0 then
        dict:delete(base)
        dict:delete(base .. ":reported")
        dict:delete(base .. ":logged")
        ngx.log(ngx.NOTICE, "authgw: ", src.name, " answered again (", src.urls[i], ") after ", failures,
            " failed fetches")
    end
end

--- GET the document from the first address that gives an accepted answer.
-- @tparam table src from `M.new`
-- @tparam function accept `(status, headers, body)` -> value, or nil, err
-- @treturn any value of `accept`, table headers, string body, string url;
--   or nil, string error of the last address tried
function M.fetch(src, accept)
    local dict = ngx.shared[src.dict]
    local current = dict:get(src.key .. ":url")
    local last_err
    for _, i in ipairs(M.order(#src.parsed, current)) do
        local status, headers, body = http.get(src.parsed[i], { timeout = src.timeout, max_body = src.max_body })
        local value, err
        if status == 200 then
            value, err = accept(status, headers, body)
        else
            err = status and ("status " .. status) or headers
        end
        if value ~= nil then
            note_answered(src, dict, i)
            if i ~= current then
                dict:set(src.key .. ":url", i)
                if current then
                    ngx.log(ngx.NOTICE, "authgw: ", src.name, " now fetched from ", src.urls[i])
                end
            end
            return value, headers, body, src.urls[i]
        end
        warn_failed(src, dict, i, err)
        last_err = err
    end
    return nil, last_err
end

return M
