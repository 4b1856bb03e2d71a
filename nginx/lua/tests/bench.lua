-- Cost figures inside nginx (content_by_lua of the test gateway; see
-- test_measure_costs). Body: {"hot": token, "cold": [distinct tokens]}.
-- Answers JSON, microseconds per call: CPU time of the worker running this
-- loop, so they include nothing but the Lua check (no HTTP, no network).
local cjson = require "cjson"
local gateway = require "authgw.gateway"
local jwt = require "authgw.jwt"

ngx.req.read_body()
local body = cjson.decode(ngx.req.get_body_data())

-- CPU time of this worker (as `openssl speed`, which counts user time),
-- so other processes on a shared machine do not inflate the figures.
local ffi = require "ffi"
pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } authgw_timespec;")
pcall(ffi.cdef, "int clock_gettime(int clk_id, authgw_timespec *tp);")
local ts = ffi.new("authgw_timespec")
local CLOCK_THREAD_CPUTIME_ID = 3
local function clock()
    ffi.C.clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function per_call(n, fn)
    local t0 = clock()
    for i = 1, n do fn(i) end
    return (clock() - t0) / n * 1e6
end

local out = {}
local hot = body.hot
assert(gateway.authenticate(hot))
out.hot_cache_hit_us = per_call(200000, function() gateway.authenticate(hot) end)
-- The whole per-request call of a protected location, hot token: header,
-- cache, revocation rule, and with identity the five $auth_* variables.
ngx.req.set_header("Authorization", "Bearer " .. hot)
local route_identity, route_plain = { identity = true }, { identity = false }
out.hot_check_identity_us = per_call(200000, function() gateway.check(route_identity) end)
out.hot_check_no_identity_us = per_call(200000, function() gateway.check(route_plain) end)
out.read_authorization_us = per_call(200000, function() return ngx.var.http_authorization end)
out.set_five_variables_us = per_call(200000, function()
    local var = ngx.var
    var.auth_user_id = "42"; var.auth_email = "a@example.com"; var.auth_roles = "user"
    var.auth_permissions = "notes:read,notes:write"; var.auth_session_id = "sid"
end)
local sha256 = require("authgw.ossl").sha256
out.cache_key_sha256_us = per_call(200000, function() sha256(hot) end)
out.ngx_sha1_bin_us = per_call(200000, function() ngx.sha1_bin(hot) end)
out.ngx_hmac_sha1_us = per_call(200000, function() ngx.hmac_sha1("k", hot) end)

-- The first 100 tokens warm the JIT's traces up; the rest are measured.
local cold = {}
for i, t in ipairs(body.cold) do
    if i <= 100 then assert(gateway.authenticate(t)) else cold[#cold + 1] = t end
end
out.cold_new_token_us = per_call(#cold, function(i) assert(gateway.authenticate(cold[i])) end)
out.cold_verify_only_us = per_call(#cold, function(i) assert(gateway.verify_uncached(cold[i])) end)

-- Junk: random 3-segment strings (fail the cheap checks) and well-formed
-- forgeries (real header and payload, random 64-byte signature: each one
-- costs a signature when not limited).
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function rand(n)
    local t = {}
    for i = 1, n do
        local r = math.random(1, 64)
        t[i] = chars:sub(r, r)
    end
    return table.concat(t)
end
local b64 = require "ngx.base64"
local ossl = require "authgw.ossl"
local junk, forged = {}, {}
local h, p = hot:match("^([^.]+)%.([^.]+)%.")
for i = 1, 2000 do
    junk[i] = rand(36) .. "." .. rand(200) .. "." .. rand(86)
    forged[i] = h .. "." .. p .. "." .. b64.encode_base64url(ossl.random_bytes(64))
end
out.junk_distinct_us = per_call(#junk, function(i) gateway.authenticate(junk[i]) end)
out.forged_distinct_unlimited_us = per_call(#forged, function(i) gateway.verify_uncached(forged[i]) end)
out.forged_distinct_with_client_limit_us = per_call(#forged, function(i) gateway.authenticate(forged[i]) end)
out.forged_repeated_negative_cache_us = per_call(20000, function() gateway.authenticate(forged[1]) end)
-- Where a cold verify goes (one token, repeated; loop-invariant work such
-- as jwt.parse of one string is hoisted by the JIT, so it is not listed).
local jws = jwt.parse(hot)
local key = require("authgw.jwks").get(jws.kid)
local claims = jwt.json.decode((jwt.b64url_decode(jws.token, jws.header_end + 2, jws.signing_length)))
local vopts = { issuer = claims.iss, audience = claims.aud, now = ngx.now(), leeway = 30 }
out.part_payload_decode_us = per_call(20000, function() jwt.json.decode((jwt.b64url_decode(jws.token, jws.header_end + 2, jws.signing_length))) end)
out.part_claims_us = per_call(20000, function() jwt.check_claims(claims, vopts) end)
out.part_signature_us = per_call(2000, function() jwt.verify_signature(jws, key) end)

ngx.header["Content-Type"] = "application/json"
ngx.say(cjson.encode(out))
