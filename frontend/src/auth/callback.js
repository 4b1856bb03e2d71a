/**
 * Reading the login answer that the backend puts in the URL fragment
 * (docs/interface.md, "Browser login", step 2):
 * `/auth/callback#access_token=<JWT>&token_type=Bearer&expires_in=<s>&next=<path>`.
 *
 * Anyone can make a browser open such a URL with a token of their own
 * (login CSRF, docs/login-and-tokens.md, "The callback fragment"), so the
 * fragment's token is never used or handed to other tabs as it is: the
 * sign-in is accepted only when this browser's refresh cookie belongs to the
 * same session (`confirmCallbackToken`).
 */

import { SessionEndedError, decodeJwtClaims } from '../api/client.js';

export const CALLBACK_PATH = '/auth/callback';

/** `/login?error=` codes of a refused callback fragment (pages/LoginPage.jsx). */
export const CALLBACK_REFUSED = {
  /** The fragment's session is not this browser's (or there is none). */
  foreign: 'sign_in_not_from_this_browser',
  /** The server could not be asked (network, 5xx): nothing was accepted. */
  unconfirmed: 'sign_in_unconfirmed',
};

/**
 * Return `next` when it is a path on this origin, else `/`.
 *
 * Same rule as the backend's: starts with exactly one `/`, no backslash, no
 * control characters (so no `//host`, `/\host`, `https:` or `javascript:`).
 * The callback page itself is replaced by `/` so a reload cannot loop.
 *
 * @param {unknown} next the wanted path
 * @returns {string} a safe same-origin path
 */
export function safeNextPath(next) {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2048) return '/';
  if (!next.startsWith('/') || next.startsWith('//')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return '/';
  if (next === CALLBACK_PATH || next.startsWith(`${CALLBACK_PATH}?`) || next.startsWith(`${CALLBACK_PATH}#`)) {
    return '/';
  }
  return next;
}

/**
 * Parse the callback fragment.
 *
 * @param {string} hash `location.hash`, with or without the leading `#`
 * @returns {{accessToken: string|null, tokenType: string|null, expiresIn: number|null, next: string}}
 */
export function parseCallbackFragment(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  const accessToken = params.get('access_token');
  const tokenType = params.get('token_type');
  const expiresIn = Number.parseInt(params.get('expires_in') || '', 10);
  const bearer = !tokenType || tokenType.toLowerCase() === 'bearer';
  return {
    accessToken: accessToken && bearer ? accessToken : null,
    tokenType,
    expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : null,
    next: safeNextPath(params.get('next')),
  };
}

/**
 * Take the login answer out of the address bar, at once.
 *
 * Runs before React renders: the fragment is read and then replaced with
 * `history.replaceState`, so the token is never in the history, a bookmark,
 * a screenshot of the address bar or the router's state.
 *
 * The token is returned as `fragmentToken`, not yet accepted: nothing may
 * use it before `confirmCallbackToken` said yes.
 *
 * @param {Location} location `window.location`
 * @param {History} history `window.history`
 * @returns {null|{fragmentToken: string|null, expiresIn: number|null, next: string}}
 *   null when this is not the callback page
 */
export function consumeCallbackFragment(location, history) {
  if (location.pathname !== CALLBACK_PATH) return null;
  const { accessToken, expiresIn, next } = parseCallbackFragment(location.hash);
  if (location.hash) history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  return { fragmentToken: accessToken, expiresIn, next };
}

function sessionIdOf(jwt) {
  const claims = decodeJwtClaims(jwt);
  return claims && typeof claims.sid === 'string' && claims.sid.length > 0 ? claims.sid : null;
}

/**
 * Decide whether the sign-in in a callback fragment happened in this browser.
 *
 * The backend's callback sets the refresh cookie in the same answer that
 * carries the fragment, so a sign-in that happened here has a cookie of the
 * same session. One refresh through that cookie (`api.refresh`, under the
 * client's cross-tab lock; `Origin` is sent by the browser) gives a token of
 * the cookie's session; its `sid` must equal the fragment token's `sid`.
 * The claims are decoded only to compare the two `sid`s, never trusted for
 * anything else (the gateway and the services verify tokens).
 *
 * The fragment token itself is never stored or broadcast: on success the
 * tab holds the refreshed token (same session, newer); on refusal it holds
 * whatever this browser's own cookie gave (its own session, or none).
 *
 * @param {{refresh: (stale?: string|null) => Promise<string>, getAccessToken: () => string|null}} api
 *   the tab's API client (api/client.js)
 * @param {string|null} fragmentToken the token read from the fragment
 * @returns {Promise<{ok: true}|{ok: false, reason: string}>} `reason` is one
 *   of CALLBACK_REFUSED's codes
 */
export async function confirmCallbackToken(api, fragmentToken) {
  const claimed = sessionIdOf(fragmentToken);
  if (!claimed) return { ok: false, reason: CALLBACK_REFUSED.foreign };
  let own;
  try {
    // Passing the held token as "stale" makes the client ask the server
    // rather than answer with a token it already has.
    own = await api.refresh(api.getAccessToken());
  } catch (error) {
    if (error instanceof SessionEndedError) return { ok: false, reason: CALLBACK_REFUSED.foreign };
    return { ok: false, reason: CALLBACK_REFUSED.unconfirmed };
  }
  return sessionIdOf(own) === claimed ? { ok: true } : { ok: false, reason: CALLBACK_REFUSED.foreign };
}

const confirmations = new Map();

/**
 * `confirmCallbackToken`, once per fragment token: a page that mounts twice
 * (React's StrictMode, coming back to /auth/callback) does not refresh again.
 *
 * @returns {Promise<{ok: true}|{ok: false, reason: string}>}
 */
export function confirmCallbackTokenOnce(api, fragmentToken) {
  const key = String(fragmentToken);
  if (!confirmations.has(key)) confirmations.set(key, confirmCallbackToken(api, fragmentToken));
  return confirmations.get(key);
}
