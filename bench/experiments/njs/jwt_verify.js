// Experiment (e) of docs/performance.md: verify the ES256 access token inside
// nginx with njs 0.7 WebCrypto, instead of asking the backend.
//
// NOT the product's gateway code: bench/experiments/variants.py renders this file with
// the keys of the JWK Set (SPKI DER, base64) and the issuer, and puts it in
// front of the backend to measure the raw cost. It has no revocation check:
// njs 0.7.9 keeps no state between requests (no shared dictionary), so a
// revoked session would pass until the token's exp. See docs/performance.md.

const KEYS = __KEYS__;          // {kid: base64 SPKI DER}
const ISSUER = __ISSUER__;
const AUDIENCE = __AUDIENCE__;
const LEEWAY = 30;
const REQUIRED = ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'sid', 'email', 'name', 'roles', 'permissions'];
const TOKEN = /^bearer +([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i;

function deny(r, sent) {
    r.headersOut['WWW-Authenticate'] = sent ? 'Bearer realm="api", error="invalid_token"' : 'Bearer realm="api"';
    r.return(401);
}

function claimsOk(c) {
    for (let i = 0; i < REQUIRED.length; i++) {
        if (c[REQUIRED[i]] === undefined) {
            return false;
        }
    }
    const now = Date.now() / 1000;
    return c.iss === ISSUER && c.aud === AUDIENCE && typeof c.exp === 'number' && c.exp + LEEWAY > now
        && typeof c.iat === 'number' && c.iat - LEEWAY <= now && (c.nbf === undefined || c.nbf - LEEWAY <= now)
        && typeof c.sub === 'string' && c.sub && typeof c.sid === 'string' && c.sid
        && Array.isArray(c.roles) && Array.isArray(c.permissions);
}

async function verify(r) {
    const authorization = r.headersIn.Authorization;
    if (!authorization) {
        return deny(r, false);
    }
    const m = TOKEN.exec(authorization.trim());
    if (!m || authorization.length > 8192) {
        return deny(r, true);
    }
    let header, claims;
    try {
        header = JSON.parse(Buffer.from(m[1], 'base64url').toString());
        claims = JSON.parse(Buffer.from(m[2], 'base64url').toString());
    } catch (e) {
        return deny(r, true);
    }
    const spki = KEYS[header.kid];
    if (!spki || header.alg !== 'ES256' || typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'at+jwt'
        || header.jku || header.jwk || header.x5u || header.x5c || header.crit) {
        return deny(r, true);
    }
    let ok = false;
    try {
        const key = await crypto.subtle.importKey('spki', Buffer.from(spki, 'base64'),
                                                  { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
        ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key,
                                        Buffer.from(m[3], 'base64url'), Buffer.from(m[1] + '.' + m[2]));
    } catch (e) {
        ok = false;
    }
    if (!ok || !claimsOk(claims)) {
        return deny(r, true);
    }
    r.headersOut['X-Auth-User-Id'] = claims.sub;
    r.headersOut['X-Auth-Email'] = claims.email;
    r.headersOut['X-Auth-Roles'] = claims.roles.join(',');
    r.headersOut['X-Auth-Permissions'] = claims.permissions.join(',');
    r.headersOut['X-Auth-Session-Id'] = claims.sid;
    r.return(204);
}

export default { verify };
