-- Judge every case of a corpus inside nginx (the C base64url decoder and
-- nginx's LuaJIT), as unit.lua does outside it. Body: the corpus JSON.
-- Answers {"<case name>": "valid" | "invalid_token" | "lua_error: ..."}.
local cjson = require "cjson"
local jwt = require "authgw.jwt"
local jwk = require "authgw.jwk"
local revocations = require "authgw.revocations"

ngx.req.read_body()
local doc = cjson.decode(ngx.req.get_body_data())
local keys = assert(jwk.parse_set(doc.jwks, { ES256 = true, RS256 = true }))
local snap = doc.revocations and assert(revocations.parse_snapshot(doc.revocations))
local algorithms = {}
for _, a in ipairs(doc.algorithms or { "ES256" }) do algorithms[a] = true end
local out = {}
for _, case in ipairs(doc.cases) do
    local ok, claims = pcall(jwt.decode, case.token, function(kid) return keys[kid] end, {
        issuer = doc.issuer, audience = doc.audience, now = doc.now, leeway = doc.leeway or 30,
        algorithms = algorithms,
    })
    if not ok then
        out[case.name] = "lua_error: " .. tostring(claims)
    elseif claims and not (snap and revocations.is_revoked(snap, claims)) then
        out[case.name] = "valid"
    else
        out[case.name] = "invalid_token"
    end
end
ngx.header["Content-Type"] = "application/json"
ngx.say(cjson.encode(out))
