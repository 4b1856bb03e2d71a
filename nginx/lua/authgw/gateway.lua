--- The gateway's token check (docs/gateway-lua.md). Orchestrates only:
-- authgw.jwt parses and verifies, authgw.jwks holds the keys,
-- authgw.revocations the feed; this module caches verdicts and answers.
--
--   init_by_lua_block        { require("authgw.gateway").init({issuer=..., ...}) }
--   init_worker_by_lua_block { require("authgw.gateway").init_worker() }
--   access_by_lua_block      { require("authgw.gateway").check("notes") }
--
-- A route is `{permissions = {GET = "notes:read", ["*"] = "notes:write"},
-- identity = true}`: named in init's `routes` (made once, as the rendered
-- gateway does) or given as a table to `check` (made on every request).
--
-- Answers follow RFC 6750 §3: 401 `Bearer realm="api"` without a token,
-- 401 `error="invalid_token"` with a bad one, 403 `error="insufficient_scope"`,
-- 503 `service_unavailable` with `Retry-After: 5` when keys or revocation
-- list cannot be trusted. Tokens are never logged, and never kept in clear:
-- caches are keyed by the SHA-256 of the token (docs/gateway-lua.md "Caches").

local jwt = require "authgw.jwt"
local jwks = require "authgw.jwks"
local revocations = require "authgw.revocations"
local failover = require "authgw.failover"
local lrucache = require "resty.lrucache"
local sha256 = require("authgw.ossl").sha256
local cjson = require "cjson"

local ngx = ngx
local type, pairs, ipairs, tostring, tonumber, error = type, pairs, ipairs, tostring, tonumber, error
local concat, sort = table.concat, table.sort
local match, find, lower, byte, sub = string.match, string.find, string.lower, string.byte, string.sub

local M = {}

local conf            -- set by init(), read-only afterwards
local cache           -- per worker: sha256(token) -> entry (verified claims)
local negative        -- per worker: sha256(token) -> err (refused tokens)
local identities      -- per worker: sub, email -> identity shared by entries
local last_bad_signature = -1 -- when this worker last saw a bad signature
local keys_version    -- JWK Set version the caches were filled with
local counts = {}     -- per worker verdict counters, flushed to the dict

local DEFAULTS = {
    dict = "authgw",
    algorithms = { "ES256" },
    leeway = 30,
    trust_window = 60,
    poll_interval = 1,
    http_timeout = 2,
    cache_size = 10000,
    negative_cache_size = 10000,
    negative_ttl = 60,
    bad_signature_limit = 50,
    jwks_default_refresh = 300,
    jwks_min_refresh = 30,
    jwks_max_refresh = 3600,
    jwks_retry_interval = 10,
    unknown_kid_interval = 10,
    revocations_max_body = 16 * 1048576,
    log_interval = 10,
}

-- What each number of DEFAULTS may be; every one not named is seconds > 0.
local KINDS = {
    cache_size = "count", negative_cache_size = "count", revocations_max_body = "count",
    bad_signature_limit = "limit", leeway = "margin",
}
local KIND_RULES = {
    count = { "a whole number >= 1", function(v) return v >= 1 and v % 1 == 0 end },
    limit = { "a whole number >= 0 (0: off)", function(v) return v >= 0 and v % 1 == 0 end },
    margin = { "a number of seconds >= 0", function(v) return v >= 0 end },
    seconds = { "a number of seconds > 0", function(v) return v > 0 end },
}

local CHALLENGE_MISSING = 'Bearer realm="api"'
local CHALLENGE_INVALID = 'Bearer realm="api", error="invalid_token"'
local CHALLENGE_SCOPE = 'Bearer realm="api", error="insufficient_scope"'

-- Refusals worth remembering: they do not change with time or keys (a new
-- JWK Set drops them all anyway). Not "unknown key": its key may be
-- published a moment later, and a remembered refusal would keep that token
-- from ever asking for the new set again; refusing it costs no signature.
local NEGATIVE_REASONS = {
    malformed = true, too_large = true, wrong_type = true, forbidden_header = true,
    wrong_alg = true, missing_claim = true, bad_claim = true, wrong_issuer = true,
    wrong_audience = true, expired = true, bad_signature = true,
}

local function count(reason)
    counts[reason] = (counts[reason] or 0) + 1
end

-- What is wrong with a route table (nil: nothing). Method names are
-- upper case (nginx's request method), "*" is any other method.
local ROUTE_KEYS = { permissions = true, identity = true, public = true }

local function route_problem(route)
    if type(route) ~= "table" then return "must be a table" end
    for k, v in pairs(route) do
        if not ROUTE_KEYS[k] then return "unknown key " .. tostring(k) end
        if (k == "identity" or k == "public") and type(v) ~= "boolean" then return k .. " must be true or false" end
    end
    if route.permissions ~= nil then
        if type(route.permissions) ~= "table" then return "permissions must be a table of method = permission" end
        for method, perm in pairs(route.permissions) do
            if type(method) ~= "string" or not (method == "*" or find(method, "^[A-Z]+$")) then
                return "permissions: " .. tostring(method) .. " is not an upper-case method name or *"
            end
            if type(perm) ~= "string" or perm == "" then
                return "permissions: the permission of " .. method .. " must be a non-empty string"
            end
        end
    end
    return nil
end

--- Validate and store the settings (init_by_lua). Raises one error listing
-- every problem.
-- @tparam table opts `issuer`, `audience` (strings, required); `jwks_url`,
--   `revocations_url` (required: a URL, or a list of URLs of backend
--   replicas, tried in turn from the one that answered last);
--   `trust_window`, `poll_interval`, `leeway`, `http_timeout`,
--   `negative_ttl`, `log_interval`, jwks_* (seconds); `algorithms` (list,
--   ES256/RS256); `cache_size`, `negative_cache_size` (entries);
--   `bad_signature_limit` (failed signatures per client address per second
--   before 429, 0 = off); `dict` (lua_shared_dict name); `routes`
--   (name = route, see `check`: the tables locations check by name).
function M.init(opts)
    local c, problems = {}, {}
    for k, v in pairs(DEFAULTS) do c[k] = v end
    for k, v in pairs(opts or {}) do
        if DEFAULTS[k] == nil and k ~= "issuer" and k ~= "audience" and k ~= "jwks_url"
            and k ~= "revocations_url" and k ~= "routes" then
            problems[#problems + 1] = "unknown setting " .. tostring(k)
        end
        c[k] = v
    end
    for _, k in ipairs({ "issuer", "audience" }) do
        if type(c[k]) ~= "string" or c[k] == "" then problems[#problems + 1] = k .. " must be a non-empty string" end
    end
    local urls = {}
    for _, k in ipairs({ "jwks_url", "revocations_url" }) do
        local list, err = failover.urls(c[k])
        if not list then problems[#problems + 1] = k .. " " .. err end
        urls[k] = list
    end
    for k, v in pairs(DEFAULTS) do
        if type(v) == "number" then
            local rule = KIND_RULES[KINDS[k] or "seconds"]
            local n = c[k]
            if type(n) ~= "number" or n ~= n or n == math.huge or not rule[2](n) then
                problems[#problems + 1] = k .. " must be " .. rule[1]
            end
        end
    end
    if type(c.trust_window) == "number" and type(c.poll_interval) == "number" and c.trust_window <= c.poll_interval then
        problems[#problems + 1] = "trust_window must be longer than poll_interval"
    end
    local algs = {}
    if type(c.algorithms) ~= "table" or #c.algorithms == 0 then
        problems[#problems + 1] = "algorithms must be a non-empty list"
    else
        for _, a in ipairs(c.algorithms) do
            if a ~= "ES256" and a ~= "RS256" then problems[#problems + 1] = "algorithm " .. tostring(a) .. " is not supported" end
            algs[a] = true
        end
    end
    local routes = {}
    if c.routes ~= nil and type(c.routes) ~= "table" then
        problems[#problems + 1] = "routes must be a table of name = route"
    else
        for name, route in pairs(c.routes or {}) do
            local problem = type(name) ~= "string" and "a route name must be a string" or route_problem(route)
            if problem then
                problems[#problems + 1] = "route " .. tostring(name) .. ": " .. problem
            else
                routes[name] = route
            end
        end
    end
    c.routes = routes
    if ngx and ngx.shared and not ngx.shared[c.dict] then
        problems[#problems + 1] = "lua_shared_dict " .. tostring(c.dict) .. " is not declared"
    end
    if #problems > 0 then error("authgw gateway settings: " .. concat(problems, "; "), 2) end
    c.algorithm_set = algs
    c.verify_opts = { issuer = c.issuer, audience = c.audience, leeway = c.leeway, algorithms = algs }
    conf = c
    local timeout_ms = c.http_timeout * 1000
    jwks.configure({
        urls = urls.jwks_url, dict = c.dict, algorithms = algs, timeout = timeout_ms, max_body = 1048576,
        default_refresh = c.jwks_default_refresh, min_refresh = c.jwks_min_refresh,
        max_refresh = c.jwks_max_refresh, retry_interval = c.jwks_retry_interval,
        unknown_kid_interval = c.unknown_kid_interval, log_interval = c.log_interval,
    })
    revocations.configure({
        urls = urls.revocations_url, dict = c.dict, poll_interval = c.poll_interval,
        trust_window = c.trust_window, timeout = timeout_ms, max_body = c.revocations_max_body,
        log_interval = c.log_interval,
    })
end

local function flush_counts(premature)
    local dict = ngx.shared[conf.dict]
    for reason, n in pairs(counts) do
        if n > 0 then
            dict:incr("m:verdict:" .. reason, n, 0)
            counts[reason] = 0
        end
    end
    if premature then return end
end

--- Start the timers and create the per-worker caches (init_worker_by_lua).
function M.init_worker()
    assert(conf, "authgw.gateway.init() was not called")
    cache = assert(lrucache.new(conf.cache_size))
    negative = assert(lrucache.new(conf.negative_cache_size))
    identities = assert(lrucache.new(conf.cache_size))
    jwks.start()
    revocations.start()
    ngx.timer.every(1, flush_counts)
end

local function respond(status, code, description, challenge, retry_after)
    ngx.status = status
    local h = ngx.header
    h["Content-Type"] = "application/json"
    h["Cache-Control"] = "no-store"
    if challenge then h["WWW-Authenticate"] = challenge end
    if retry_after then h["Retry-After"] = retry_after end
    ngx.print(cjson.encode({ error = code, error_description = description }))
    return ngx.exit(ngx.HTTP_OK)
end

-- Who a token speaks for: subject, email, roles, permissions and the
-- identity header values. Shared by every cached token with the same ones
-- (a user's tokens), so a cache entry holds only what differs per token.
local function same_list(a, b)
    local n = #a
    if n ~= #b then return false end
    for i = 1, n do
        if a[i] ~= b[i] then return false end
    end
    return true
end

local function identity_of(claims)
    local sub, email = claims.sub, claims.email
    local key = sub .. "\n" .. email
    local id = identities:get(key)
    if id and id.sub == sub and id.email == email and same_list(id.roles, claims.roles)
        and same_list(id.permissions, claims.permissions) then
        return id
    end
    local perms = {}
    for _, p in ipairs(claims.permissions) do perms[p] = true end
    id = {
        sub = sub, email = email, roles = claims.roles, permissions = claims.permissions, allowed = perms,
        roles_joined = concat(claims.roles, ","), permissions_joined = concat(claims.permissions, ","),
    }
    identities:set(key, id)
    return id
end

-- A cache entry: the fields the revocation rule reads (sid, sub, iat,
-- roles) and the identity.
local function new_entry(claims)
    local id = identity_of(claims)
    return { sid = claims.sid, iat = claims.iat, exp = claims.exp, sub = id.sub, roles = id.roles, id = id }
end

--- Verify a token without the verdict caches (cold path).
-- @tparam string token
-- @treturn table cache entry, or nil, err (`err.status` set for 503/429)
function M.verify_uncached(token)
    local jws, err = jwt.parse(token)
    if not jws then return nil, err end
    local key, loaded = jwks.get(jws.kid)
    if not key and jwks.refresh_for_unknown_kid() then
        key, loaded = jwks.get(jws.kid)
    end
    if not loaded then
        return nil, { reason = "keys_unavailable", status = 503,
                      description = "The signing keys are not available yet; try again shortly." }
    end
    conf.verify_opts.now = ngx.now()
    local claims
    claims, err = jwt.verify(jws, key, conf.verify_opts)
    if not claims then return nil, err end
    return new_entry(claims)
end

-- The per-client limit on bad signatures (docs/gateway-lua.md "Junk
-- tokens"). The shared counter is read only while this worker has seen a
-- bad signature in the last BAD_SIGNATURE_MEMORY seconds: a valid new token
-- costs no shared-dict read, and a flooding client is caught from its first
-- bad signature in each worker.
local BAD_SIGNATURE_MEMORY = 2

local function client_over_limit()
    local limit = conf.bad_signature_limit
    if limit == 0 or ngx.now() - last_bad_signature > BAD_SIGNATURE_MEMORY then return false end
    local n = ngx.shared[conf.dict]:get("badsig:" .. ngx.var.binary_remote_addr)
    return n and n >= limit
end

local function note_bad_signature()
    if conf.bad_signature_limit == 0 then return end
    last_bad_signature = ngx.now()
    ngx.shared[conf.dict]:incr("badsig:" .. ngx.var.binary_remote_addr, 1, 0, 1)
end

-- The verdict for the token header[from..to] (the whole string when
-- `from` is nil); the token string is made only on a cache miss.
local function authenticate_span(header, from, to)
    -- A new JWK Set (rotation, or a key withdrawn) drops every verdict:
    -- tokens of a withdrawn key must not live on in the cache.
    local v = jwks.version()
    if v ~= keys_version then
        cache:flush_all()
        negative:flush_all()
        keys_version = v
    end
    local key = sha256(header, from, to)
    local entry = cache:get(key)
    if not entry then
        local bad = negative:get(key)
        if bad then return nil, bad end
        if client_over_limit() then
            return nil, { reason = "rate_limited", status = 429,
                          description = "Too many invalid access tokens from this client; slow down." }
        end
        local err
        entry, err = M.verify_uncached(from and sub(header, from, to) or header)
        if not entry then
            if NEGATIVE_REASONS[err.reason] then negative:set(key, err, conf.negative_ttl) end
            if err.reason == "bad_signature" then note_bad_signature() end
            return nil, err
        end
        cache:set(key, entry, entry.exp + conf.leeway - ngx.now())
    end
    local snap = revocations.current()
    if not snap then
        return nil, { reason = "revocations_unavailable", status = 503,
                      description = "The revocation list is out of date; try again shortly." }
    end
    local revoked = revocations.is_revoked(snap, entry)
    if revoked then return nil, { reason = "revoked", description = revoked } end
    return entry
end

--- Authenticate a bearer token: cache, then verify, then revocations.
-- @tparam string token
-- @treturn table entry `{sid=, sub=, iat=, exp=, roles=, id={sub=, email=,
--   roles=, permissions=, allowed=(set), roles_joined=, permissions_joined=}}`,
--   or nil, err `{reason=, description=, status=}`
function M.authenticate(token)
    return authenticate_span(token)
end

-- RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is
-- case-insensitive. Byte comparisons and plain finds only: no substring is
-- made. Returns the token's first and last index in `header`, nil (no
-- Bearer credentials: treated as no token) or false (Bearer, but malformed).
local function bearer_span(header)
    local n = #header
    if n < 7 or byte(header, 7) ~= 32 or lower(sub(header, 1, 6)) ~= "bearer" then
        if n == 6 and lower(header) == "bearer" then return false end
        return nil
    end
    local from, to = 8, n
    while byte(header, from) == 32 do from = from + 1 end       -- 1*SP
    local last = byte(header, to)
    if last == 32 or last == 9 then                               -- trailing white space
        while to >= from and find(sub(header, to, to), "^%s$") do to = to - 1 end
    end
    if to < from then return false end
    local sp = find(header, " ", from, true)
    local tab = find(header, "\t", from, true)
    if (sp and sp <= to) or (tab and tab <= to) then return false end
    return from, to
end

--- The token of an Authorization header value (RFC 6750 §2.1).
-- @tparam string header
-- @treturn string|nil|false the token; nil: no Bearer credentials; false:
--   Bearer, but malformed
function M.bearer_token(header)
    local from, to = bearer_span(header)
    if not from then return from end
    return sub(header, from, to)
end

--- Check the request's token for a route (access_by_lua). Returns to let
-- the request through; otherwise answers and ends the request.
-- @tparam string|table route the name of a route given to `init`
--   (`routes`), or the route itself: `{permissions = {METHOD = "perm",
--   ["*"] = "perm"} | nil, identity = boolean, public = boolean}`. A name
--   `init` was not given answers 500 `server_error` (a configuration
--   mistake: nothing gets through unchecked).
function M.check(route)
    if type(route) == "string" then
        local named = conf.routes[route]
        if not named then
            ngx.log(ngx.ERR, "authgw: check(\"", route, "\"): no route of that name was given to init()")
            return respond(500, "server_error", "The gateway is misconfigured; the request was not let through.")
        end
        route = named
    end
    if route and route.public then return end
    local header = ngx.var.http_authorization
    local from, to
    if header then from, to = bearer_span(header) end
    if not from then
        if from == false then
            count("malformed_header")
            return respond(401, "invalid_token", "The Authorization header must be 'Bearer <token>'.", CHALLENGE_INVALID)
        end
        count("missing")
        return respond(401, "invalid_token", "An access token is required: send Authorization: Bearer <token>.",
            CHALLENGE_MISSING)
    end
    local entry, err = authenticate_span(header, from, to)
    if not entry then
        count(err.reason)
        if err.status == 503 then
            return respond(503, "service_unavailable", err.description, nil, "5")
        elseif err.status == 429 then
            return respond(429, "rate_limited", err.description, nil, "1")
        end
        return respond(401, "invalid_token", err.description, CHALLENGE_INVALID)
    end
    local perms = route and route.permissions
    if perms then
        local need = perms[ngx.req.get_method()] or perms["*"]
        if need and not entry.id.allowed[need] then
            count("insufficient_scope")
            return respond(403, "insufficient_scope", "This request needs the permission " .. need .. ".",
                CHALLENGE_SCOPE)
        end
    end
    count("valid")
    if route and route.identity then
        local var = ngx.var
        local id = entry.id
        var.auth_user_id = id.sub
        var.auth_email = id.email
        var.auth_roles = id.roles_joined
        var.auth_permissions = id.permissions_joined
        var.auth_session_id = entry.sid
    end
end

--- Prometheus text exposition of the verdict counters and feed ages.
-- @treturn string
function M.metrics()
    flush_counts()
    local dict = ngx.shared[conf.dict]
    local lines = {
        "# HELP authgw_gateway_token_verdicts_total Token checks at the gateway by verdict.",
        "# TYPE authgw_gateway_token_verdicts_total counter",
    }
    local keys = dict:get_keys(0)
    sort(keys)
    for _, k in ipairs(keys) do
        local reason = match(k, "^m:verdict:(.+)$")
        if reason then
            lines[#lines + 1] = ('authgw_gateway_token_verdicts_total{verdict="%s"} %d'):format(reason, dict:get(k) or 0)
        end
    end
    for _, name in ipairs({ "rev_poll_ok", "rev_poll_failed", "jwks_fetch_ok", "jwks_fetch_failed" }) do
        lines[#lines + 1] = ("# TYPE authgw_gateway_%s_total counter"):format(name)
        lines[#lines + 1] = ("authgw_gateway_%s_total %d"):format(name, dict:get("m:" .. name) or 0)
    end
    local rev_age, jwks_age = revocations.age(), jwks.age()
    lines[#lines + 1] = "# TYPE authgw_gateway_revocation_feed_age_seconds gauge"
    lines[#lines + 1] = "authgw_gateway_revocation_feed_age_seconds " .. (rev_age and ("%.3f"):format(rev_age) or "NaN")
    lines[#lines + 1] = "# TYPE authgw_gateway_jwks_age_seconds gauge"
    lines[#lines + 1] = "authgw_gateway_jwks_age_seconds " .. (jwks_age and ("%.3f"):format(jwks_age) or "NaN")
    return concat(lines, "\n") .. "\n"
end

M._conf = function() return conf end
return M
