/**
 * Reading the login answer that the backend puts in the URL fragment
 * (docs/interface.md, "Browser login", step 2):
 * `/auth/callback#access_token=<JWT>&token_type=Bearer&expires_in=<s>&next=<path>`.
 */

export const CALLBACK_PATH = '/auth/callback';

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
 * @param {Location} location `window.location`
 * @param {History} history `window.history`
 * @returns {null|{accessToken: string|null, expiresIn: number|null, next: string}}
 *   null when this is not the callback page
 */
export function consumeCallbackFragment(location, history) {
  if (location.pathname !== CALLBACK_PATH) return null;
  const result = parseCallbackFragment(location.hash);
  if (location.hash) history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  return result;
}
