--- JWK and JWK Set (RFC 7517) to OpenSSL public keys, for ES256 (EC P-256,
-- RFC 7518 §6.2) and RS256 (RSA, RFC 7518 §6.3). Pure: no I/O.
-- The key is rebuilt as a DER SubjectPublicKeyInfo (RFC 5480 / RFC 3279)
-- and loaded once by OpenSSL (authgw.ossl), so no key is parsed per request.

local ossl = require "authgw.ossl"
local cjson_safe = require "cjson.safe"
local jwt = require "authgw.jwt"

local type, ipairs = type, ipairs
local byte, char = string.byte, string.char

local M = {}

local json = cjson_safe.new()
json.decode_max_depth(8)
json.decode_invalid_numbers(false)

local function der_len(n)
    if n < 0x80 then return char(n) end
    local s = ""
    while n > 0 do
        s = char(n % 256) .. s
        n = math.floor(n / 256)
    end
    return char(0x80 + #s) .. s
end

local function der(tag, body) return char(tag) .. der_len(#body) .. body end

local function der_uint(b)
    local i = 1
    while i < #b and byte(b, i) == 0 do i = i + 1 end
    b = b:sub(i)
    if byte(b, 1) >= 0x80 then b = "\0" .. b end
    return der(0x02, b)
end

-- SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING } prefix.
local P256_SPKI_PREFIX = "\48\89\48\19\6\7\42\134\72\206\61\2\1\6\8\42\134\72\206\61\3\1\7\3\66\0\4"
-- AlgorithmIdentifier { rsaEncryption, NULL }
local RSA_ALG_ID = "\48\13\6\9\42\134\72\134\247\13\1\1\1\5\0"

local function b64(v)
    if type(v) ~= "string" or v == "" then return nil end
    return (jwt.b64url_decode(v))
end

--- Build a verification key from one JWK.
-- @tparam table jwk decoded JWK object
-- @treturn table `{kid=, alg=, ctx=, size=}` (ctx: OpenSSL verify context,
--   size: signature bytes) or nil, reason (string)
function M.key_from_jwk(jwk)
    if type(jwk) ~= "table" then return nil, "not an object" end
    local kid = jwk.kid
    if type(kid) ~= "string" or kid == "" then return nil, "no kid" end
    if jwk.use ~= nil and jwk.use ~= "sig" then return nil, "use is not sig" end
    local spki, alg, size
    if jwk.kty == "EC" then
        alg = "ES256"
        if jwk.crv ~= "P-256" then return nil, "unsupported curve" end
        local x, y = b64(jwk.x), b64(jwk.y)
        if not x or not y or #x ~= 32 or #y ~= 32 then return nil, "bad EC point" end
        spki = P256_SPKI_PREFIX .. x .. y
        size = 64
    elseif jwk.kty == "RSA" then
        alg = "RS256"
        local n, e = b64(jwk.n), b64(jwk.e)
        if not n or not e then return nil, "bad RSA key" end
        local i = 1
        while i < #n and byte(n, i) == 0 do i = i + 1 end
        size = #n - i + 1
        if size < 256 then return nil, "RSA key shorter than 2048 bits" end
        local rsa_key = der(0x30, der_uint(n) .. der_uint(e))
        spki = der(0x30, RSA_ALG_ID .. der(0x03, "\0" .. rsa_key))
    else
        return nil, "unsupported kty"
    end
    if jwk.alg ~= nil and jwk.alg ~= alg then return nil, "alg does not match the key type" end
    local ctx, bits = ossl.verifier(spki, alg)
    if not ctx then return nil, bits end
    if alg == "RS256" then size = math.ceil(bits / 8) end
    return { kid = kid, alg = alg, ctx = ctx, size = size }
end

--- Parse a JWK Set document into keys by kid, keeping only usable keys
-- whose algorithm is allowed.
-- @tparam string|table body the JSON text or the decoded document
-- @tparam table algorithms set of allowed alg names (default {ES256=true})
-- @treturn table `{[kid] = key}` (may be empty), or nil, message when the
--   document itself is not a JWK Set
-- @treturn table list of skipped-key reasons (for logging)
function M.parse_set(body, algorithms)
    algorithms = algorithms or { ES256 = true }
    local doc = body
    if type(body) == "string" then doc = json.decode(body) end
    if type(doc) ~= "table" or type(doc.keys) ~= "table" then return nil, "not a JWK Set" end
    local keys, skipped = {}, {}
    for _, jwk in ipairs(doc.keys) do
        local key, why = M.key_from_jwk(jwk)
        if key and algorithms[key.alg] then
            keys[key.kid] = key
        else
            skipped[#skipped + 1] = (type(jwk) == "table" and type(jwk.kid) == "string" and jwk.kid or "?")
                .. ": " .. (why or "algorithm not allowed")
        end
    end
    return keys, skipped
end

return M
