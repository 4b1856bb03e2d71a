--- The few OpenSSL (libcrypto 3) calls the check needs, through LuaJIT's
-- FFI: load a DER SubjectPublicKeyInfo once, keep an initialised verify
-- context per key, and verify a SHA-256 digest with it. This is what
-- `openssl speed` measures, so a verification costs about one OpenSSL
-- verify (luaossl's digest-object path costs ~15 % more here). Digests go
-- through one reused EVP_MD_CTX with SHA-256 fetched once.
-- Pure: no nginx API; works under the luajit CLI too.

local ffi = require "ffi"

-- libcrypto 3 (Debian 12's libssl3, which nginx itself links).
local ok, C = pcall(ffi.load, "libcrypto.so.3")
if not ok then C = ffi.load("crypto") end
local ffi_gc, ffi_new, ffi_string, ffi_cast = ffi.gc, ffi.new, ffi.string, ffi.cast
local pcall = pcall

local decls = {
    "typedef struct evp_pkey_st EVP_PKEY;",
    "typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;",
    "typedef struct evp_md_st EVP_MD;",
    "EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);",
    "void EVP_PKEY_free(EVP_PKEY *pkey);",
    "int EVP_PKEY_get_bits(const EVP_PKEY *pkey);",
    "EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, void *e);",
    "void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);",
    "int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);",
    "int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen);",
    "int EVP_PKEY_CTX_set_signature_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);",
    "const EVP_MD *EVP_sha256(void);",
    "typedef struct evp_md_ctx_st EVP_MD_CTX;",
    "EVP_MD *EVP_MD_fetch(void *libctx, const char *algorithm, const char *properties);",
    "EVP_MD_CTX *EVP_MD_CTX_new(void);",
    "int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, void *impl);",
    "int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt);",
    "int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);",
    "int RAND_bytes(unsigned char *buf, int num);",
    "void ERR_clear_error(void);",
}
for _, d in ipairs(decls) do pcall(ffi.cdef, d) end -- already declared elsewhere: fine

local M = {}

-- SHA-256 through one digest context, fetched and created once: OpenSSL 3's
-- one-shot SHA256() looks the algorithm up in the provider on every call,
-- which costs about as much as hashing a whole access token (~0.25 us here).
local SHA256_MD = C.EVP_MD_fetch(nil, "SHA256", nil)
assert(SHA256_MD ~= nil, "OpenSSL has no SHA-256")
local digest_ctx = C.EVP_MD_CTX_new()
assert(digest_ctx ~= nil, "EVP_MD_CTX_new failed")

-- SHA-256 of n bytes at ptr into out (32 bytes).
local function sha256_into(ptr, n, out)
    if C.EVP_DigestInit_ex(digest_ctx, SHA256_MD, nil) ~= 1 or C.EVP_DigestUpdate(digest_ctx, ptr, n) ~= 1
        or C.EVP_DigestFinal_ex(digest_ctx, out, nil) ~= 1 then
        error("SHA-256 failed")
    end
end

local md_buf = ffi_new("unsigned char[32]")
local der_ptr = ffi_new("const unsigned char *[1]")

--- Load a public key and prepare its verify context.
-- @tparam string der SubjectPublicKeyInfo (RFC 5280 §4.1.2.7)
-- @tparam string alg "ES256" or "RS256"
-- @treturn cdata EVP_PKEY_CTX (freed by the GC), number key bits; or nil, message
function M.verifier(der, alg)
    der_ptr[0] = der
    local pkey = C.d2i_PUBKEY(nil, der_ptr, #der)
    if pkey == nil then
        C.ERR_clear_error()
        return nil, "OpenSSL refused the key"
    end
    pkey = ffi_gc(pkey, C.EVP_PKEY_free)
    local ctx = C.EVP_PKEY_CTX_new(pkey, nil)
    if ctx == nil then return nil, "no verify context" end
    ctx = ffi_gc(ctx, C.EVP_PKEY_CTX_free)
    if C.EVP_PKEY_verify_init(ctx) ~= 1 or C.EVP_PKEY_CTX_set_signature_md(ctx, C.EVP_sha256()) ~= 1 then
        C.ERR_clear_error()
        return nil, "cannot initialise verification for " .. alg
    end
    -- The context holds its own reference to the key.
    return ctx, C.EVP_PKEY_get_bits(pkey)
end

--- Verify `sig` (DER ECDSA-Sig-Value or RSA PKCS #1 v1.5) over the SHA-256
-- of the first `length` bytes of `data` (default: all; no substring made).
-- @tparam cdata ctx from `verifier`
-- @tparam string|cdata sig the signature (a string, or a byte buffer with
--   `sig_len`)
-- @tparam string data
-- @tparam[opt] number length bytes of `data` signed
-- @tparam[opt] number sig_len bytes of `sig` (required for a buffer)
-- @treturn boolean
function M.verify_sha256(ctx, sig, data, length, sig_len)
    sha256_into(data, length or #data, md_buf)
    if C.EVP_PKEY_verify(ctx, sig, sig_len or #sig, md_buf, 32) == 1 then return true end
    C.ERR_clear_error()
    return false
end

local key_buf = ffi_new("unsigned char[32]")

--- SHA-256 of `data` (32 bytes), e.g. a cache key for a token.
-- @tparam string data
-- @tparam[opt] number from first byte hashed (1-based, default 1): no
--   substring is made for a token inside a header
-- @tparam[opt] number to last byte hashed (default #data)
-- @treturn string
function M.sha256(data, from, to)
    if from then
        sha256_into(ffi_cast("const unsigned char *", data) + (from - 1), (to or #data) - from + 1, key_buf)
    else
        sha256_into(data, #data, key_buf)
    end
    return ffi_string(key_buf, 32)
end

--- `n` cryptographically random bytes.
function M.random_bytes(n)
    local buf = ffi_new("unsigned char[?]", n)
    assert(C.RAND_bytes(buf, n) == 1, "RAND_bytes failed")
    return ffi_string(buf, n)
end

return M
