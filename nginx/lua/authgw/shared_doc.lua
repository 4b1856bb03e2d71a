--- A document one worker fetches and every worker reads: the JWK Set and
-- the revocation feed (docs/gateway-lua.md "Keys", "Revocation feed").
-- The fetching worker `store`s the body in the shared dict under
-- `<prefix>:body`, with its digest, a version counter and the time of the
-- fetch; a body equal to the stored one (same digest) changes only that
-- time. Every worker keeps the parsed form of the last version it saw and
-- looks at the dict at most every `RECHECK` seconds, so a request costs a
-- table lookup and a body is parsed once per worker per change.

local ngx = ngx
local setmetatable, tostring = setmetatable, tostring

local M = {}

--- Seconds between two looks of a worker at the shared dict.
M.RECHECK = 0.1

local Doc = {}
Doc.__index = Doc

--- A document in the shared dict.
-- @tparam string dict lua_shared_dict name
-- @tparam string prefix key prefix ("jwks", "rev")
-- @tparam function parse `function(body) -> value` (nil: the body is not
--   usable; the previous value stays)
-- @tparam[opt] function digest `function(body) -> string` (default
--   ngx.md5): what counts as a change
-- @treturn table document
function M.new(dict, prefix, parse, digest)
    return setmetatable({
        dict = dict, parse = parse, digest = digest or ngx.md5,
        k_body = prefix .. ":body", k_digest = prefix .. ":digest",
        k_version = prefix .. ":version", k_fetched = prefix .. ":fetched_at",
        value = nil, seen = nil, fetched_at = nil, checked_at = -1,
    }, Doc)
end

--- Store a freshly fetched body (the fetching worker only).
-- @tparam string body
-- @treturn boolean true, or nil, message (the shared dict refused it)
function Doc:store(body)
    local dict = ngx.shared[self.dict]
    local digest = self.digest(body)
    if digest ~= dict:get(self.k_digest) then
        local ok, err = dict:set(self.k_body, body)
        if not ok then return nil, "shared dict: " .. tostring(err) end
        dict:set(self.k_digest, digest)
        dict:incr(self.k_version, 1, 0)
    end
    dict:set(self.k_fetched, ngx.now())
    return true
end

--- The parsed document of the current version, as this worker last saw it.
-- @treturn any|nil value (nil before the first usable store)
-- @treturn number|nil Unix time of the last successful fetch (any worker)
-- @treturn number|nil version (changes when the document changes)
function Doc:get()
    local now = ngx.now()
    if now - self.checked_at >= M.RECHECK then
        self.checked_at = now
        local dict = ngx.shared[self.dict]
        self.fetched_at = dict:get(self.k_fetched)
        local v = dict:get(self.k_version)
        if v and v ~= self.seen then
            local value = self.parse(dict:get(self.k_body))
            if value ~= nil then self.value, self.seen = value, v end
        end
    end
    return self.value, self.fetched_at, self.seen
end

--- Seconds since the last successful fetch by any worker (nil: never).
function Doc:age()
    local at = ngx.shared[self.dict]:get(self.k_fetched)
    return at and (ngx.now() - at) or nil
end

--- Make the next `get` look at the shared dict (after a fetch elsewhere).
function Doc:recheck()
    self.checked_at = -1
end

--- Whether any version was ever stored.
function Doc:stored()
    return ngx.shared[self.dict]:get(self.k_version) ~= nil
end

return M
