// Development OpenID provider standing in for Google.
//
// A thin wrapper around the npm package `oauth2-mock-server`: the package
// does the protocol (discovery, JWKS, authorization code + PKCE, signed
// ID tokens); this file decides *who* logs in and what Google-like claims
// the ID token carries. Never use it outside development and tests.
//
// Environment:
//   DEV_IDP_PORT    port to listen on (default 9000)
//   DEV_IDP_HOST    address to bind (default 127.0.0.1)
//   DEV_IDP_ISSUER  issuer URL (default http://127.0.0.1:${DEV_IDP_PORT})
//
// The user of a login is the `login_hint` authorization parameter (default
// demo@example.com). Special local parts for tests: `unverified*` gives
// email_verified=false; `deny` makes the authorization endpoint answer
// error=access_denied. See docs/dev-idp.md.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const PORT = Number.parseInt(process.env.DEV_IDP_PORT || '9000', 10);
const HOST = process.env.DEV_IDP_HOST || '127.0.0.1';
const ISSUER = (process.env.DEV_IDP_ISSUER || `http://127.0.0.1:${PORT}`).replace(/\/+$/, '');
const DEFAULT_EMAIL = 'demo@example.com';
// An authorization code is good for one exchange within this many seconds.
const CODE_TTL_SECONDS = 600;
// Access tokens of the IdP are only used for /userinfo.
const ACCESS_TOKEN_TTL_SECONDS = 3600;

// Keep the grammar simple and strict: the hint becomes an email claim.
const EMAIL_RE = /^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** Log one line as JSON to stdout; never pass a token, code or secret here. */
function log(event, fields) {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);
}

function sha256Hex(text) {
  return createHash('sha256').update(text).digest('hex');
}

function capitalise(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : word;
}

/**
 * Return the email a login hint stands for, or the default user.
 * @param {unknown} hint the `login_hint` authorization parameter
 * @returns {string} a lower-case email address
 */
function emailFromHint(hint) {
  if (typeof hint !== 'string') return DEFAULT_EMAIL;
  const email = hint.trim().toLowerCase();
  return EMAIL_RE.test(email) ? email : DEFAULT_EMAIL;
}

/**
 * Return the Google-like identity claims of one email address.
 * `sub` is stable per email, like Google's account id.
 * @param {string} email
 * @returns {object} claims for the ID token and /userinfo
 */
function claimsFor(email) {
  const [local, domain] = email.split('@');
  const words = local.split(/[._+-]+/).filter(Boolean).map(capitalise);
  if (words.length === 0) words.push(capitalise(local));
  const digest = sha256Hex(email);
  const claims = {
    sub: `dev-${digest.slice(0, 24)}`,
    email,
    email_verified: !local.startsWith('unverified'),
    name: words.join(' '),
    given_name: words[0],
    // A one-colour square: exercises the frontend's avatar (CSP img-src data:).
    picture: `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'%3E%3Crect width='1' height='1' fill='%23${digest.slice(24, 30)}'/%3E%3C/svg%3E`,
  };
  // Like Google, a one-word name has no family name.
  if (words.length > 1) claims.family_name = words.slice(1).join(' ');
  // Google sets `hd` for Workspace accounts only, never for gmail.com.
  if (domain !== 'gmail.com') claims.hd = domain;
  return claims;
}

/** What the authorization endpoint remembered about one code. */
const codes = new Map(); // code -> { email, clientId, pkce, expiresAt }
/** Identities behind the IdP's own access tokens, for /userinfo. */
const accessTokens = new Map(); // sha256(access_token) -> { claims, expiresAt }

function pruneExpired() {
  const now = Date.now();
  for (const [key, value] of codes) if (value.expiresAt < now) codes.delete(key);
  for (const [key, value] of accessTokens) if (value.expiresAt < now) accessTokens.delete(key);
}
setInterval(pruneExpired, 30_000).unref();

const issuer = new OAuth2Issuer(false);
issuer.url = ISSUER;
const service = new OAuth2Service(issuer);

service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const { url } = redirect;
  const code = url.searchParams.get('code');
  if (!code) return; // unsupported response_type: the package already set the error
  const email = emailFromHint(req.query.login_hint);
  const clientId = typeof req.query.client_id === 'string' ? req.query.client_id : '';
  if (email.split('@')[0] === 'deny') {
    // RFC 6749 §4.1.2.1: the user refused consent.
    url.searchParams.delete('code');
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_description', 'The user denied the request.');
    log('login', { email, client_id: clientId, outcome: 'access_denied' });
    return;
  }
  codes.set(code, {
    email,
    clientId,
    pkce: typeof req.query.code_challenge === 'string' && req.query.code_challenge !== '',
    expiresAt: Date.now() + CODE_TTL_SECONDS * 1000,
  });
  log('login', { email, client_id: clientId, outcome: 'code_issued' });
});

service.on('beforeTokenSigning', (token, req) => {
  const entry = req.body && codes.get(req.body.code);
  if (!entry) return; // rejected in beforeResponse
  const claims = claimsFor(entry.email);
  if ('scope' in token.payload) {
    // The access token: only who it is for.
    Object.assign(token.payload, { sub: claims.sub, email: claims.email });
    return;
  }
  // The ID token: `aud` (client_id of the request) and `nonce` are already
  // set by the package; add Google's claims.
  Object.assign(token.payload, claims, { azp: token.payload.aud });
});

service.on('beforeResponse', (response, req) => {
  const body = req.body || {};
  if (body.grant_type !== 'authorization_code') {
    // Google's login only needs authorization_code (and refresh, unused here).
    if (body.grant_type !== 'refresh_token') return;
    response.statusCode = 400;
    response.body = { error: 'unsupported_grant_type' };
    return;
  }
  const entry = codes.get(body.code);
  codes.delete(body.code); // single use, whatever happens next
  if (!entry || entry.expiresAt < Date.now()) {
    response.statusCode = 400;
    response.body = { error: 'invalid_grant', error_description: 'Unknown, expired or used code.' };
    return;
  }
  if (entry.pkce && !body.code_verifier) {
    // RFC 7636 §4.6: a code bound to a challenge needs its verifier.
    response.statusCode = 400;
    response.body = { error: 'invalid_grant', error_description: 'code_verifier required.' };
    return;
  }
  if (typeof response.body.access_token === 'string') {
    accessTokens.set(sha256Hex(response.body.access_token), {
      claims: claimsFor(entry.email),
      expiresAt: Date.now() + ACCESS_TOKEN_TTL_SECONDS * 1000,
    });
  }
  delete response.body.refresh_token; // no offline access in development
});

service.on('beforeUserinfo', (response, req) => {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization || '');
  const entry = match && accessTokens.get(sha256Hex(match[1]));
  if (!entry || entry.expiresAt < Date.now()) {
    response.statusCode = 401;
    response.body = { error: 'invalid_token' };
    return;
  }
  response.body = { ...entry.claims };
});

/** Discovery document: the package's, with what a Google client expects. */
function discoveryDocument() {
  return {
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/authorize`,
    token_endpoint: `${ISSUER}/token`,
    userinfo_endpoint: `${ISSUER}/userinfo`,
    jwks_uri: `${ISSUER}/jwks`,
    revocation_endpoint: `${ISSUER}/revoke`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    claims_supported: [
      'aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name',
      'hd', 'iat', 'iss', 'name', 'nonce', 'picture', 'sub',
    ],
    code_challenge_methods_supported: ['plain', 'S256'],
  };
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (req.method === 'GET' && path === '/health') {
    sendJson(res, 200, { status: 'ok' });
  } else if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
    sendJson(res, 200, discoveryDocument());
  } else {
    service.requestHandler(req, res);
  }
});

async function main() {
  await issuer.keys.generate('RS256');
  server.listen(PORT, HOST, () => {
    log('started', { issuer: ISSUER, listen: `${HOST}:${PORT}` });
  });
}

function shutdown(signal) {
  log('stopping', { signal });
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

main().catch((err) => {
  process.stderr.write(`dev-idp failed to start: ${err.message}\n`);
  process.exit(1);
});
