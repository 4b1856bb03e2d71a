--- Access-token parser and verifier (RFC 7515 JWS, RFC 7519 JWT, RFC 9068
-- profile). Pure: no I/O, no nginx API required, time passed in by the
-- caller, so the same code runs in nginx and under the luajit unit tests.
--
-- Cheap checks come first (size, alphabet, segments, header), then the
-- key lookup (done by the caller between `parse` and `verify`), then the
-- payload and its claims, and the signature last: a junk or expired token
-- costs no signature. Errors are data: `nil, {reason=, description=}`.
-- The rules are those of docs/gateway-lua.md ("The check, in order").

local cjson_safe = require "cjson.safe"
local ffi = require "ffi"
local ossl = require "authgw.ossl"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local byte, char, find, sub, lower = string.byte, string.char, string.find, string.sub, string.lower
local pcall = pcall
local huge = math.huge

local M = {}

--- Longest token accepted, in bytes; anything larger is refused unparsed.
M.MAX_TOKEN_BYTES = 8192
--- Clock skew tolerated on exp, nbf and iat, in seconds.
M.LEEWAY = 30
--- Deepest JSON nesting accepted in a header or payload (a JWT needs 2).
M.MAX_JSON_DEPTH = 16

-- RFC 9068 §2.1 media type (the "application/" prefix may be omitted).
local ACCESS_TOKEN_TYPES = { ["at+jwt"] = true, ["application/at+jwt"] = true }
-- Headers that would let a token choose its own key, or demand extensions.
local FORBIDDEN_HEADERS = { "jku", "jwk", "x5u", "x5c", "crit" }
local STRING_CLAIMS = { "sub", "jti", "sid", "email", "name" }
local NON_EMPTY = { sub = true, jti = true, sid = true }
local LIST_CLAIMS = { "roles", "permissions" }
local EMPTY_OBJECT_CLAIM = { roles = '"roles"%s*:%s*{%s*}', permissions = '"permissions"%s*:%s*{%s*}' }
local REQUIRED = { "iss", "aud", "sub", "iat", "exp", "jti", "sid", "email", "name", "roles", "permissions" }

-- A private decoder: depth-limited, no NaN/Infinity/hex numbers. 5000 '['
-- is refused by the decoder (an error value, not a Lua error).
local json = cjson_safe.new()
json.decode_max_depth(M.MAX_JSON_DEPTH)
json.decode_invalid_numbers(false)
local json_null = json.null

---------------------------------------------------------------------------
-- base64url (RFC 4648 §5, no padding): nginx's C decoder through the FFI
-- when running in nginx, reading the segment in place (no substring of the
-- token is made); a pure-Lua one otherwise (unit tests).
local b64url_decode, b64url_decode_into
do
    local bit = require "bit"
    local lshift, rshift, band, bor = bit.lshift, bit.rshift, bit.band, bit.bor
    local concat = table.concat
    local map = {}
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i = 1, 64 do map[byte(alphabet, i)] = i - 1 end

    local function lua_decode(s)
        local out, acc, bits = {}, 0, 0
        for i = 1, #s do
            local v = map[byte(s, i)]
            if not v then return nil end
            acc = bor(lshift(band(acc, 0xffff), 6), v)
            bits = bits + 6
            if bits >= 8 then
                bits = bits - 8
                out[#out + 1] = char(band(rshift(acc, bits), 0xff))
            end
        end
        return concat(out)
    end

    -- decode(s, from, to, buf, cap) -> number of bytes written into buf, or nil
    local decode
    local in_nginx = pcall(require, "ngx.base64") -- declares ngx_str_t and ngx_decode_base64url
    if in_nginx then
        local C, cast = ffi.C, ffi.cast
        local src, dst = ffi.new("ngx_str_t[1]"), ffi.new("ngx_str_t[1]")
        local NGX_ERROR = -1
        decode = function(s, from, to, buf, cap)
            local len = to - from + 1
            if (len + 3) / 4 * 3 > cap then return nil end
            src[0].data = cast("const unsigned char *", s) + (from - 1)
            src[0].len = len
            dst[0].data = buf
            if C.ngx_decode_base64url(dst, src) == NGX_ERROR then return nil end
            return tonumber(dst[0].len)
        end
    else
        local copy = ffi.copy
        decode = function(s, from, to, buf, cap)
            local out = lua_decode(sub(s, from, to))
            if not out or #out > cap then return nil end
            copy(buf, out, #out)
            return #out
        end
    end

    -- Canonical text only (RFC 4648 §3.5): the unused bits of the last
    -- character must be zero, so one byte string has one encoding.
    -- nginx's decoder stops at "=" and ignores the rest: refuse it here.
    local function canonical(s, from, to)
        local eq = find(s, "=", from, true)
        if eq and eq <= to then return false end
        local r = (to - from + 1) % 4
        if r == 1 then return false end
        if r ~= 0 then
            local v = map[byte(s, to)]
            if not v or v % (r == 2 and 16 or 4) ~= 0 then return false end
        end
        return true
    end

    local scratch_cap = M.MAX_TOKEN_BYTES
    local scratch = ffi.new("unsigned char[?]", scratch_cap)
    local ffi_string = ffi.string

    -- Whether the n bytes at buf are all ASCII, eight at a time (a Lua
    -- pattern over the string costs ~2 us for a 400-byte payload).
    local u64_ptr = ffi.typeof("const uint64_t *")
    local HIGH_BITS = 0x8080808080808080ULL
    local function ascii(buf, n)
        local words, whole = ffi.cast(u64_ptr, buf), rshift(n, 3)
        for i = 0, whole - 1 do
            if band(words[i], HIGH_BITS) ~= 0 then return false end
        end
        for i = whole * 8, n - 1 do
            if buf[i] >= 0x80 then return false end
        end
        return true
    end

    --- Decode s[from..to] (default: all of s) to a string, or nil.
    -- @treturn string|nil the bytes
    -- @treturn boolean whether they are all ASCII
    b64url_decode = function(s, from, to)
        from, to = from or 1, to or #s
        if not canonical(s, from, to) then return nil end
        local n = decode(s, from, to, scratch, scratch_cap)
        if not n then return nil end
        return ffi_string(scratch, n), ascii(scratch, n)
    end

    --- Decode s[from..to] into the byte buffer `buf` of `cap` bytes.
    -- @treturn number|nil bytes written
    b64url_decode_into = function(s, from, to, buf, cap)
        if not canonical(s, from, to) then return nil end
        return decode(s, from, to, buf, cap)
    end
end
M.b64url_decode = b64url_decode

---------------------------------------------------------------------------
-- UTF-8 validity (RFC 3629): JSON text must be UTF-8 (RFC 8259 §8.1); the
-- Python checkers refuse invalid UTF-8, so this one does too.
local function valid_utf8(s)
    local i, n = 1, #s
    while i <= n do
        local c = byte(s, i)
        if c < 0x80 then
            i = i + 1
        else
            local len, min
            if c >= 0xC2 and c <= 0xDF then len, min = 2, 0x80
            elseif c >= 0xE0 and c <= 0xEF then len, min = 3, 0x800
            elseif c >= 0xF0 and c <= 0xF4 then len, min = 4, 0x10000
            else return false end
            if i + len - 1 > n then return false end
            local cp = c % (2 ^ (7 - len))
            for j = i + 1, i + len - 1 do
                local cc = byte(s, j)
                if cc < 0x80 or cc > 0xBF then return false end
                cp = cp * 64 + (cc - 0x80)
            end
            if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
            i = i + len
        end
    end
    return true
end

local function fail(reason, description)
    return nil, { reason = reason, description = description }
end

-- Decode the JSON segment s[from..to] (default: all of s).
local function decode_json_segment(s, what, from, to)
    local raw, ascii = b64url_decode(s, from, to)
    if not raw then return fail("malformed", "The access token " .. what .. " is not base64url.") end
    if not ascii and not valid_utf8(raw) then return fail("malformed", "The access token " .. what .. " is not UTF-8.") end
    -- cjson.safe returns nil, message for bad or too deeply nested JSON;
    -- pcall guards against anything else the decoder may raise.
    local ok, value = pcall(json.decode, raw)
    if not ok or type(value) ~= "table" then
        return fail("malformed", "The access token " .. what .. " is malformed.")
    end
    return value, raw
end

local function is_array_of_strings(v)
    if type(v) ~= "table" then return false end
    local n = #v
    for k, item in pairs(v) do
        if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 or type(item) ~= "string" then
            return false
        end
    end
    return true
end
M.is_array_of_strings = is_array_of_strings

local function finite_number(v)
    return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end

-- JOSE header checks (RFC 7515 §4.1, RFC 9068 §2.1). Tokens of one key
-- share one header, so a successful result is remembered per segment
-- (bounded: the table is dropped when full).
local HEADER_CACHE_SIZE = 256
local header_cache, header_cache_count = {}, 0

local function check_header(segment)
    local header, err = decode_json_segment(segment, "header")
    if not header then return nil, err end
    local typ = header.typ
    if type(typ) ~= "string" or not ACCESS_TOKEN_TYPES[lower(typ)] then
        return fail("wrong_type", 'The token is not an access token (typ must be "at+jwt").')
    end
    for _, name in ipairs(FORBIDDEN_HEADERS) do
        if header[name] ~= nil then
            return fail("forbidden_header", "The access token header names its own key; refused.")
        end
    end
    -- RFC 7797 unencoded payloads are not access tokens.
    if header.b64 ~= nil and header.b64 ~= true then
        return fail("forbidden_header", "The access token header asks for an unencoded payload; refused.")
    end
    local kid, alg = header.kid, header.alg
    if type(kid) ~= "string" or kid == "" then
        return fail("unknown_key", "The access token was signed with an unknown key.")
    end
    if type(alg) ~= "string" then
        return fail("wrong_alg", "The access token uses an algorithm not allowed for its key.")
    end
    return { header = header, kid = kid, alg = alg }
end

---------------------------------------------------------------------------
--- Parse a compact JWS and check its JOSE header (RFC 7515 §5.2 steps 1-4).
-- Nothing here is trusted yet: the caller picks the key named by `kid`,
-- then calls `verify`.
-- @tparam string token the bearer token (at most MAX_TOKEN_BYTES bytes).
-- @treturn table `{header=, kid=, alg=, token=, signing_length=}`: the
--   payload is token[header_end + 2, signing_length], the signature
--   token[signing_length + 2, #token] (no substrings are made)
-- @return or nil, `{reason=, description=}` (reasons: malformed,
--   too_large, wrong_type, forbidden_header).
function M.parse(token)
    if type(token) ~= "string" or token == "" then
        return fail("malformed", "The access token is empty.")
    end
    if #token > M.MAX_TOKEN_BYTES then
        return fail("too_large", "The access token is too large.")
    end
    -- Exactly three non-empty segments. Their alphabet is checked by the
    -- base64url decoder of each segment (header here, payload and
    -- signature in `verify`), which refuses anything but [A-Za-z0-9_-].
    local d1, d2 = find(token, ".", 1, true), nil
    if d1 then d2 = find(token, ".", d1 + 1, true) end
    if not d2 or find(token, ".", d2 + 1, true) or d1 == 1 or d2 == d1 + 1 or d2 == #token then
        return fail("malformed", "The access token is not a compact JWS.")
    end
    local segment = sub(token, 1, d1 - 1)
    local checked = header_cache[segment]
    if not checked then
        local err
        checked, err = check_header(segment)
        if not checked then return nil, err end
        if header_cache_count >= HEADER_CACHE_SIZE then
            header_cache, header_cache_count = {}, 0
        end
        header_cache[segment] = checked
        header_cache_count = header_cache_count + 1
    end
    return {
        header = checked.header,
        kid = checked.kid,
        alg = checked.alg,
        token = token,
        header_end = d1 - 1,
        signing_length = d2 - 1,   -- the JWS signing input is token[1, d2 - 1]
    }
end

--- Check the registered and profile claims (RFC 7519 §4.1, RFC 9068 §2.2).
-- @tparam table claims decoded payload
-- @tparam table opts `issuer`, `audience` (strings), `now` (Unix seconds),
--   `leeway` (seconds, default 30)
-- @return true, or nil, `{reason=, description=}`
function M.check_claims(claims, opts)
    for _, name in ipairs(REQUIRED) do
        if claims[name] == nil then
            return fail("missing_claim", "The access token lacks the '" .. name .. "' claim.")
        end
    end
    for _, name in ipairs(STRING_CLAIMS) do
        local v = claims[name]
        if type(v) ~= "string" or (NON_EMPTY[name] and v == "") then
            return fail("bad_claim", "The access token claim '" .. name .. "' must be a non-empty string.")
        end
    end
    for _, name in ipairs(LIST_CLAIMS) do
        if not is_array_of_strings(claims[name]) then
            return fail("bad_claim", "The access token claim '" .. name .. "' must be an array of strings.")
        end
    end
    local iat, exp, nbf = claims.iat, claims.exp, claims.nbf
    if not finite_number(iat) then return fail("bad_claim", "The access token claim 'iat' must be a number.") end
    if not finite_number(exp) then return fail("bad_claim", "The access token claim 'exp' must be a number.") end
    if nbf ~= nil and not finite_number(nbf) then
        return fail("bad_claim", "The access token claim 'nbf' must be a number.")
    end
    local client_id = claims.client_id
    if client_id ~= nil and (type(client_id) ~= "string" or client_id ~= claims.sub) then
        return fail("bad_claim", "The access token claim 'client_id' must equal 'sub'.")
    end
    if claims.iss ~= opts.issuer then
        return fail("wrong_issuer", "The access token comes from another issuer.")
    end
    local aud = claims.aud
    local aud_ok = aud == opts.audience
    if not aud_ok and is_array_of_strings(aud) then
        for _, a in ipairs(aud) do
            if a == opts.audience then aud_ok = true break end
        end
    end
    if not aud_ok then return fail("wrong_audience", "The access token is for another audience.") end
    local now, leeway = opts.now, opts.leeway or M.LEEWAY
    if exp <= now - leeway then return fail("expired", "The access token has expired.") end
    if iat > now + leeway or (nbf and nbf > now + leeway) then
        return fail("not_yet_valid", "The access token is not valid yet.")
    end
    return true
end

-- JOSE ECDSA signatures are r || s (RFC 7518 §3.4); OpenSSL wants DER:
-- SEQUENCE { INTEGER r, INTEGER s }, each minimal and non-negative. Built in
-- a byte buffer: a signature makes no Lua strings.
local RAW_SIG_CAP = 1040   -- bytes: an RSA-8192 signature (1024) and the decoder's slack
local raw_sig = ffi.new("unsigned char[?]", RAW_SIG_CAP)
local der_sig = ffi.new("unsigned char[72]")

local function der_integer(out, at, from)
    local i, last = from, from + 31
    while i < last and raw_sig[i] == 0 do i = i + 1 end
    local pad = raw_sig[i] >= 0x80 and 1 or 0
    local len = last - i + 1 + pad
    out[at] = 2
    out[at + 1] = len
    at = at + 2
    if pad == 1 then out[at] = 0; at = at + 1 end
    ffi.copy(out + at, raw_sig + i, last - i + 1)
    return at + last - i + 1
end

local function ecdsa_der()
    local n = der_integer(der_sig, 2, 0)
    n = der_integer(der_sig, n, 32)
    der_sig[0] = 48
    der_sig[1] = n - 2
    return n
end

--- Verify the signature of a parsed token with `key` (RFC 7515 §5.2 step 8).
-- @tparam table jws from `parse`
-- @tparam table key `{alg=, ctx=, size=}` from authgw.jwk
-- @treturn boolean
function M.verify_signature(jws, key)
    local token = jws.token
    local n = b64url_decode_into(token, jws.signing_length + 2, #token, raw_sig, RAW_SIG_CAP)
    if not n then return false end
    if key.alg == "ES256" then
        if n ~= 64 then return false end
        return ossl.verify_sha256(key.ctx, der_sig, token, jws.signing_length, ecdsa_der())
    elseif key.alg == "RS256" then
        if n ~= key.size then return false end
        return ossl.verify_sha256(key.ctx, raw_sig, token, jws.signing_length, n)
    end
    return false
end

--- Verify a parsed token against the key its `kid` names.
-- @tparam table jws from `parse`
-- @tparam table key `{alg=, ctx=, size=}` or nil when the kid is unknown
-- @tparam table opts `issuer`, `audience`, `now`, `leeway`, `algorithms`
--   (set of allowed alg names, default {ES256=true})
-- @treturn table the claims, or nil, `{reason=, description=}` (reasons:
--   unknown_key, wrong_alg, malformed, missing_claim, bad_claim,
--   wrong_issuer, wrong_audience, expired, not_yet_valid, bad_signature)
function M.verify(jws, key, opts)
    if not key then return fail("unknown_key", "The access token was signed with an unknown key.") end
    local algorithms = opts.algorithms or { ES256 = true }
    if jws.alg ~= key.alg or not algorithms[jws.alg] then
        return fail("wrong_alg", "The access token uses an algorithm not allowed for its key.")
    end
    local claims, raw = decode_json_segment(jws.token, "payload", jws.header_end + 2, jws.signing_length)
    if not claims then return nil, raw end
    -- cjson decodes `{}` and `[]` alike, and the kit tells them apart: an
    -- empty list claim is refused when the payload spells it `{}`
    -- (`"roles": {}`), or, when a key may be written with escapes
    -- (`"rol\u0065s"`), when the payload holds an empty object anywhere.
    for _, name in ipairs(LIST_CLAIMS) do
        local v = claims[name]
        if type(v) == "table" and next(v) == nil
            and (find(raw, EMPTY_OBJECT_CLAIM[name]) or (find(raw, "\\u", 1, true) and find(raw, "{%s*}"))) then
            return fail("bad_claim", "The access token claim '" .. name .. "' must be an array of strings.")
        end
    end
    local ok, err = M.check_claims(claims, opts)
    if not ok then return nil, err end
    if not M.verify_signature(jws, key) then
        return fail("bad_signature", "The access token signature is invalid.")
    end
    return claims
end

--- Parse and verify in one call (tests, tools).
-- @tparam string token
-- @tparam function key_for `function(kid) -> key or nil`
-- @tparam table opts as for `verify`
function M.decode(token, key_for, opts)
    local jws, err = M.parse(token)
    if not jws then return nil, err end
    return M.verify(jws, key_for(jws.kid), opts)
end

M.null = json_null
M.json = json
return M
