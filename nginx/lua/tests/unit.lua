-- Unit tests of the pure modules (authgw.jwt, authgw.jwk, the verdict rule
-- of authgw.revocations), run by luajit outside nginx:
--   luajit nginx/lua/tests/unit.lua CORPUS.json [CORPUS.json ...]
-- Every corpus case must get its verdict; then named unit tests run.
-- Prints "N passed, N failed" and exits non-zero on any failure.

local here = arg[0]:match("^(.*)/tests/[^/]*$") or "nginx/lua"
package.path = here .. "/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;" .. package.path
package.cpath = "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;" .. package.cpath

-- revocations.lua needs authgw.http only for its timers.
package.preload["authgw.http"] = function() return {} end

local cjson = require "cjson"
local jwt = require "authgw.jwt"
local jwk = require "authgw.jwk"
local revocations = require "authgw.revocations"

local passed, failed = 0, 0
local function result(name, ok, detail)
    if ok then
        passed = passed + 1
    else
        failed = failed + 1
        print("FAIL " .. name .. (detail and (": " .. detail) or ""))
    end
end

local function test(name, fn)
    local ok, err = pcall(fn)
    result(name, ok, not ok and tostring(err) or nil)
end

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- One corpus case: parse, verify, then the revocation rule (as the gateway).
local function judge(doc, keys, snap, token, algorithms)
    local ok, claims, err = pcall(jwt.decode, token, function(kid) return keys[kid] end, {
        issuer = doc.issuer, audience = doc.audience, now = doc.now, leeway = doc.leeway or 30,
        algorithms = algorithms,
    })
    if not ok then return "lua_error", claims end
    if not claims then return "invalid_token", err.reason end
    local revoked = snap and revocations.is_revoked(snap, claims)
    if revoked then return "invalid_token", "revoked" end
    return "valid"
end

local function run_corpus(path)
    local doc = cjson.decode(read(path))
    local all_algs = { ES256 = true, RS256 = true }
    local keys = assert(jwk.parse_set(doc.jwks, all_algs))
    local snap = doc.revocations and assert(revocations.parse_snapshot(doc.revocations))
    local algorithms = doc.algorithms and {} or { ES256 = true }
    for _, a in ipairs(doc.algorithms or {}) do algorithms[a] = true end
    local n = 0
    for _, case in ipairs(doc.cases) do
        n = n + 1
        local verdict, why = judge(doc, keys, snap, case.token, algorithms)
        result(path:match("[^/]*$") .. ":" .. case.name, verdict == case.verdict,
            ("expected %s, got %s (%s)"):format(case.verdict, verdict, tostring(why)))
    end
    print(("corpus %s: %d cases"):format(path, n))
    return doc, keys
end

local first_doc, first_keys
for i = 1, #arg do
    local doc, keys = run_corpus(arg[i])
    if not first_doc then first_doc, first_keys = doc, keys end
end

local b64 = jwt.b64url_decode

test("base64url decodes without padding", function()
    assert(b64("YQ") == "a" and b64("YWI") == "ab" and b64("YWJj") == "abc")
    assert(b64("_-8") == "\255\239", "url alphabet")
end)
test("base64url refuses padding, other alphabets and impossible lengths", function()
    assert(b64("YQ==") == nil and b64("a+b/") == nil and b64("YWJjZ") == nil)
    assert(b64("YR") == nil and b64("YWK") == nil, "non-canonical trailing bits")
end)

local function seg(s) -- encode for hand-made tokens
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    local bit = require "bit"
    local out, acc, bits = {}, 0, 0
    for i = 1, #s do
        acc = bit.bor(bit.lshift(bit.band(acc, 0xffff), 8), s:byte(i))
        bits = bits + 8
        while bits >= 6 do
            bits = bits - 6
            local v = bit.band(bit.rshift(acc, bits), 63)
            out[#out + 1] = alphabet:sub(v + 1, v + 1)
        end
    end
    if bits > 0 then
        local v = bit.band(bit.lshift(acc, 6 - bits), 63)
        out[#out + 1] = alphabet:sub(v + 1, v + 1)
    end
    return table.concat(out)
end

test("5000 nested '[' in the header is invalid_token, not a Lua error", function()
    local jws, err = jwt.parse(seg(("["):rep(5000)) .. ".e30.c2ln")
    assert(jws == nil and err.reason == "malformed", err and err.reason)
end)
test("nesting just past the limit is refused, a flat header is accepted", function()
    local deep = ('{"a":'):rep(jwt.MAX_JSON_DEPTH) .. "1" .. ("}"):rep(jwt.MAX_JSON_DEPTH)
    assert(jwt.parse(seg(deep) .. ".e30.c2ln") == nil)
    local jws = jwt.parse(seg('{"typ":"at+jwt","kid":"k","alg":"ES256"}') .. ".e30.c2ln")
    assert(jws and jws.kid == "k" and jws.alg == "ES256")
end)
test("random bytes never raise", function()
    math.randomseed(7)
    for _ = 1, 2000 do
        local parts = {}
        for p = 1, 3 do
            local t = {}
            for j = 1, math.random(0, 60) do t[j] = string.char(math.random(0, 255)) end
            parts[p] = seg(table.concat(t))
        end
        local ok = pcall(jwt.parse, table.concat(parts, "."))
        assert(ok)
    end
end)
test("NaN, Infinity and hex numbers are not JSON", function()
    for _, bad in ipairs({ '{"exp":NaN}', '{"exp":Infinity}', '{"exp":0x10}' }) do
        assert(jwt.json.decode(bad) == nil, bad)
    end
end)
test("invalid UTF-8 in the header is refused", function()
    assert(jwt.parse(seg('{"typ":"at+jwt","kid":"k","alg":"ES256","n":"\192\175"}') .. ".e30.c2ln") == nil)
    assert(jwt.parse(seg('{"typ":"at+jwt","kid":"k","alg":"ES256","n":"\237\160\128"}') .. ".e30.c2ln") == nil)
    assert(jwt.parse(seg('{"typ":"at+jwt","kid":"k","alg":"ES256","n":"\195\169"}') .. ".e30.c2ln"))
end)
test("the ASCII scan sees a high byte in any position (whole words and the tail)", function()
    local header = '{"typ":"at+jwt","kid":"k","alg":"ES256","n":"'
    for pad = 0, 9 do
        local prefix = header .. ("x"):rep(pad)
        assert(jwt.parse(seg(prefix .. '\192\175"}') .. ".e30.c2ln") == nil, "overlong after " .. pad)
        assert(jwt.parse(seg(prefix .. '\255"}') .. ".e30.c2ln") == nil, "0xFF after " .. pad)
        assert(jwt.parse(seg(prefix .. '\195\169"}') .. ".e30.c2ln"), "valid e-acute after " .. pad)
        local raw, ascii = jwt.b64url_decode(seg(prefix .. '\195\169"}'))
        assert(raw and ascii == false and select(2, jwt.b64url_decode(seg(prefix .. '"}'))) == true)
    end
end)
test("arrays of strings: lists only", function()
    assert(jwt.is_array_of_strings({ "a", "b" }) and jwt.is_array_of_strings({}))
    assert(not jwt.is_array_of_strings({ a = "b" }) and not jwt.is_array_of_strings({ "a", 1 }))
    assert(not jwt.is_array_of_strings({ [1] = "a", [3] = "c" }) and not jwt.is_array_of_strings("a"))
end)

local base = {
    iss = "i", aud = "a", sub = "1", iat = 1000, exp = 1900, jti = "j", sid = "s",
    email = "e", name = "n", roles = { "user" }, permissions = {},
}
local function with(over)
    local c = {}
    for k, v in pairs(base) do c[k] = v end
    for k, v in pairs(over) do c[k] = v end
    return c
end
local opts = { issuer = "i", audience = "a", now = 1000, leeway = 30 }
test("claim rules: leeway boundaries (exp, iat, nbf)", function()
    assert(jwt.check_claims(with({ exp = 971 }), opts))
    assert(not jwt.check_claims(with({ exp = 970 }), opts))
    assert(jwt.check_claims(with({ iat = 1030 }), opts))
    assert(not jwt.check_claims(with({ iat = 1031 }), opts))
    assert(jwt.check_claims(with({ nbf = 1030 }), opts))
    assert(not jwt.check_claims(with({ nbf = 1031 }), opts))
end)
test("claim rules: booleans are not numbers, null is not a string", function()
    assert(not jwt.check_claims(with({ exp = true }), opts))
    assert(not jwt.check_claims(with({ email = jwt.null }), opts))
    assert(not jwt.check_claims(with({ exp = math.huge }), opts))
end)

test("revocation rule: sessions, subjects and roles not-before", function()
    local snap = assert(revocations.parse_snapshot({ sessions = { s9 = 1 }, subjects = { ["7"] = 1000 },
        roles = { support = 1000 } }))
    assert(revocations.is_revoked(snap, with({ sid = "s9" })))
    assert(revocations.is_revoked(snap, with({ sub = "7", iat = 999 })))
    assert(not revocations.is_revoked(snap, with({ sub = "7", iat = 1000 })))
    assert(revocations.is_revoked(snap, with({ roles = { "user", "support" }, iat = 999 })))
    assert(not revocations.is_revoked(snap, with({ roles = { "user" }, iat = 999 })))
end)
test("revocation snapshot: bad shapes refused, missing subjects/roles are empty", function()
    assert(revocations.parse_snapshot('{"sessions":{}}'))
    assert(not revocations.parse_snapshot('{"sessions":[1]}'))
    assert(not revocations.parse_snapshot('{"sessions":{"a":"b"}}'))
    assert(not revocations.parse_snapshot("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["))
    assert(not revocations.parse_snapshot("{}"))
end)

test("JWK: bad points, curves, short RSA keys and mismatched alg are refused", function()
    assert(not jwk.key_from_jwk({ kty = "EC", crv = "P-384", kid = "x", x = "AA", y = "AA" }))
    assert(not jwk.key_from_jwk({ kty = "EC", crv = "P-256", kid = "x", x = seg(("\1"):rep(32)), y = seg(("\2"):rep(32)) }),
        "point not on the curve")
    assert(not jwk.key_from_jwk({ kty = "RSA", kid = "r", n = seg(("\255"):rep(128)), e = "AQAB" }))
    assert(not jwk.key_from_jwk({ kty = "oct", kid = "h", k = "c2VjcmV0" }))
    if first_doc then
        for _, j in ipairs(first_doc.jwks.keys) do
            local copy = {}
            for k, v in pairs(j) do copy[k] = v end
            copy.alg = (j.kty == "EC") and "RS256" or "ES256"
            assert(not jwk.key_from_jwk(copy), "alg mismatch accepted for " .. j.kid)
        end
    end
end)
test("JWK Set: keys of algorithms not allowed are skipped", function()
    if not first_doc then return end
    local keys = assert(jwk.parse_set(first_doc.jwks, { ES256 = true }))
    for _, k in pairs(keys) do assert(k.alg == "ES256") end
end)

test("RS256 verifies when configured, and only then", function()
    if not first_doc then return end
    for _, case in ipairs(first_doc.cases) do
        local jws = jwt.parse(case.token)
        if jws and jws.alg == "RS256" and first_keys[jws.kid] then
            local o = { issuer = first_doc.issuer, audience = first_doc.audience, now = first_doc.now }
            o.algorithms = { RS256 = true }
            local claims = jwt.verify(jws, first_keys[jws.kid], o)
            if case.name:find("not_configured") then assert(claims, "RS256 token refused with RS256 allowed") end
            o.algorithms = { ES256 = true }
            assert(not jwt.verify(jws, first_keys[jws.kid], o), "RS256 accepted without being allowed")
        end
    end
end)

test("failover: one URL or a list; bad entries refused", function()
    local failover = require "authgw.failover"
    local u = assert(failover.urls("http://127.0.0.1:8000/a"))
    assert(#u == 1 and u[1] == "http://127.0.0.1:8000/a")
    u = assert(failover.urls({ "http://127.0.0.1:8000/a", "https://backend-2:8001/a" }))
    assert(#u == 2 and u[2] == "https://backend-2:8001/a")
    for _, bad in ipairs({ {}, "", 42, { "ftp://x/a" }, { "http://127.0.0.1:8000/a", 7 }, "http://[::1]:80/a" }) do
        assert(not failover.urls(bad), "accepted " .. tostring(bad))
    end
end)

test("failover: addresses tried from the last good one, wrapping around", function()
    local failover = require "authgw.failover"
    local function same(a, b) return table.concat(a, ",") == table.concat(b, ",") end
    assert(same(failover.order(3, nil), { 1, 2, 3 }))
    assert(same(failover.order(3, 2), { 2, 3, 1 }))
    assert(same(failover.order(3, 3), { 3, 1, 2 }))
    assert(same(failover.order(3, 9), { 1, 2, 3 }))
    assert(same(failover.order(1, 1), { 1 }))
end)

print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
