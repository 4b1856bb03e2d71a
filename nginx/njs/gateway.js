// njs helpers of the gateway (nginx/gateway.conf.template).
//
// Written for njs 0.7 (Debian 12): synchronous functions only, no shared
// dictionaries. Nothing here may log or return the bearer token itself.

const crypto = require('crypto');

const DEFAULT_DESCRIPTIONS = {
    401: 'The access token is missing, invalid or expired.',
    403: 'The access token does not allow this request.',
    503: 'The token check is temporarily unavailable; try again shortly.',
};
const DEFAULT_CODES = {
    401: 'invalid_token',
    403: 'insufficient_scope',
    503: 'service_unavailable',
};

/**
 * Return the cache key of the token check: the SHA-256 hex digest of the
 * whole Authorization header, or '' when there is none (the check is then
 * not cached). The token itself never reaches a cache key or a cache file.
 */
function authCacheKey(r) {
    const authorization = r.variables.http_authorization;
    if (!authorization) {
        return '';
    }
    return crypto.createHash('sha256').update(authorization).digest('hex');
}

/**
 * Return the value of one auth-param of a WWW-Authenticate challenge
 * (RFC 6750 §3), e.g. param('Bearer realm="api", error="x"', 'error') -> 'x'.
 */
function challengeParam(challenge, name) {
    const re = new RegExp('(?:^|[\\s,])' + name + '=(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,]+))', 'i');
    const match = re.exec(challenge || '');
    if (!match) {
        return '';
    }
    return match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2];
}

/** Status code of the gateway's answer after a refused token check. */
function denialStatus(r) {
    return Number(r.variables.gateway_error_status) || 401;
}

/**
 * Return the JSON error body of the gateway's answer to a refused token
 * check, using the error code and description of the check's challenge
 * when it gave them (CONTRACT.md "Errors").
 */
function authErrorBody(r) {
    const status = denialStatus(r);
    const challenge = r.variables.auth_www_authenticate;
    const error = challengeParam(challenge, 'error') || DEFAULT_CODES[status] || 'invalid_token';
    const description = challengeParam(challenge, 'error_description')
        || (status === 401 && !r.variables.http_authorization
            ? 'A bearer token is required.'
            : DEFAULT_DESCRIPTIONS[status] || DEFAULT_DESCRIPTIONS[401]);
    return JSON.stringify({ error: error, error_description: description });
}

export default { authCacheKey, authErrorBody };
