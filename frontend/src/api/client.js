/**
 * API client of the authgw single-page app.
 *
 * Holds the access token in memory only, sends it as
 * `Authorization: Bearer <token>` (RFC 6750 §2.1), and on a 401 refreshes it
 * once through the HttpOnly refresh cookie and retries the request once.
 *
 * Refreshing is single-flight:
 * - within a tab, concurrent 401s share one refresh promise;
 * - across tabs, the refresh runs under the Web Lock `authgw-refresh`, and the
 *   tab that refreshed posts the new access token on the BroadcastChannel
 *   `authgw-auth`; a tab that gets the lock after that finds a fresher token
 *   than the one that failed and uses it instead of refreshing again.
 *
 * Because tabs share one cookie jar and the lock serialises refreshes, a tab
 * that refreshes after another one presents the already-rotated cookie, so
 * refresh-token reuse never happens between tabs of one browser. Without Web
 * Locks (insecure context, old browser) the server's grace window for a
 * just-spent refresh token (docs/interface.md, "Refresh token") covers the race.
 */

export const REFRESH_LOCK_NAME = 'authgw-refresh';
export const CHANNEL_NAME = 'authgw-auth';
export const REFRESH_PATH = '/api/auth/refresh';

// The server requires `Origin` on cookie-based refreshes. Pages reached via
// /auth/callback are served with `Referrer-Policy: no-referrer`, under which
// a browser may send `Origin: null` on a POST; a per-request policy keeps the
// real origin on these same-origin calls.
const REFERRER_POLICY = 'same-origin';

/** An error answer of the API: `{"error", "error_description"}` with its status. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when no answer came)
   * @param {string} code the JSON `error` code, e.g. `invalid_token`
   * @param {string} [description] the JSON `error_description`
   */
  constructor(status, code, description) {
    super(description || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.description = description || '';
  }
}

/** The refresh token was refused (401/403): the session is over. */
export class SessionEndedError extends ApiError {
  constructor(status, code, description) {
    super(status, code || 'invalid_grant', description || 'Your session has ended.');
    this.name = 'SessionEndedError';
  }
}

/**
 * Read an error answer into an ApiError, tolerating bodies that are not JSON.
 *
 * @param {Response} response a non-2xx answer
 * @returns {Promise<ApiError>}
 */
export async function errorFromResponse(response, ErrorClass = ApiError) {
  let code = '';
  let description = '';
  try {
    const body = await response.json();
    if (body && typeof body === 'object') {
      code = typeof body.error === 'string' ? body.error : '';
      description = typeof body.error_description === 'string' ? body.error_description : '';
    }
  } catch {
    // Not JSON (e.g. an HTML error page of a proxy): the status says enough.
  }
  return new ErrorClass(response.status, code || statusCode(response.status), description);
}

function statusCode(status) {
  if (status === 401) return 'invalid_token';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'service_unavailable';
  return 'http_error';
}

/**
 * Decode the claims of a JWT without verifying it.
 *
 * Only for display and for choosing what to show (roles, permissions, exp):
 * the gateway and the services verify the signature; the browser never
 * decides access.
 *
 * @param {string} jwt a compact JWS
 * @returns {object|null} the claims, or null when the token is not a JWT
 */
export function decodeJwtClaims(jwt) {
  if (typeof jwt !== 'string') return null;
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

function defaultChannel() {
  return typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;
}

function defaultLocks() {
  return globalThis.navigator?.locks ?? null;
}

// Sub-millisecond wall clock (ms since the epoch), so tokens from tabs that
// refreshed in the same millisecond still order; ties keep the tab's own token.
function wallClock() {
  const perf = globalThis.performance;
  return perf && perf.timeOrigin ? perf.timeOrigin + perf.now() : Date.now();
}

function randomId() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
}

/**
 * Create the API client of one tab.
 *
 * @param {object} [options]
 * @param {typeof fetch} [options.fetch] fetch implementation (tests pass a fake)
 * @param {LockManager|null} [options.locks] Web Locks manager; null: in-tab only
 * @param {BroadcastChannel|null} [options.channel] channel shared with other tabs
 * @param {(event: {reason: 'expired'|'signed-out'}) => void} [options.onSessionEnded]
 *   called once when the session ends without the user asking in this tab:
 *   `expired` when the refresh token is refused, `signed-out` when another
 *   tab signed out
 * @param {() => number} [options.now] clock in milliseconds
 * @returns the client (see the returned object's members)
 */
export function createApiClient(options = {}) {
  const fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const locks = options.locks === undefined ? defaultLocks() : options.locks;
  const channel = options.channel === undefined ? defaultChannel() : options.channel;
  const now = options.now ?? wallClock;
  let onSessionEnded = options.onSessionEnded ?? (() => {});
  const tabId = randomId();

  /** @type {{accessToken: string, expiresAt: number|null, issuedAt: number}|null} */
  let current = null;
  /** @type {Promise<string>|null} */
  let inflight = null;
  const listeners = new Set();

  function notify() {
    for (const listener of listeners) listener(current ? current.accessToken : null);
  }

  function post(message) {
    if (!channel) return;
    try {
      channel.postMessage({ ...message, sender: tabId });
    } catch {
      // A closed channel only costs other tabs an extra refresh.
    }
  }

  function store(accessToken, expiresIn, issuedAt = now()) {
    const seconds = Number(expiresIn);
    current = {
      accessToken,
      expiresAt: Number.isFinite(seconds) && seconds > 0 ? issuedAt + seconds * 1000 : null,
      issuedAt,
    };
    notify();
  }

  function clear() {
    const had = current !== null;
    current = null;
    if (had) notify();
    return had;
  }

  function onChannelMessage(event) {
    const message = event?.data;
    if (!message || typeof message !== 'object' || message.sender === tabId) return;
    if (message.type === 'token' && typeof message.access_token === 'string') {
      // Messages can overtake each other; keep whichever token is newer.
      const issuedAt = Number(message.issued_at) || now();
      if (current && current.issuedAt >= issuedAt) return;
      store(message.access_token, message.expires_in, issuedAt);
    } else if (message.type === 'signed-out') {
      if (clear()) onSessionEnded({ reason: 'signed-out' });
    }
  }

  if (channel) {
    if (typeof channel.addEventListener === 'function') {
      channel.addEventListener('message', onChannelMessage);
    } else {
      channel.onmessage = onChannelMessage;
    }
  }

  /**
   * Set the access token (after login) and hand it to the other tabs.
   *
   * @param {string} accessToken the JWT
   * @param {number} [expiresIn] lifetime in seconds
   */
  function setAccessToken(accessToken, expiresIn) {
    store(accessToken, expiresIn);
    post({ type: 'token', access_token: accessToken, expires_in: expiresIn, issued_at: current.issuedAt });
  }

  function hasFresherToken(stale) {
    return current !== null && current.accessToken !== stale;
  }

  async function withRefreshLock(task) {
    if (!locks || typeof locks.request !== 'function') return task();
    return locks.request(REFRESH_LOCK_NAME, { mode: 'exclusive' }, task);
  }

  async function refreshOverNetwork(hadSession) {
    const response = await fetchImpl(REFRESH_PATH, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      referrerPolicy: REFERRER_POLICY,
    });
    if (response.ok) {
      const body = await response.json();
      if (!body || typeof body.access_token !== 'string') {
        throw new ApiError(response.status, 'invalid_response', 'The refresh answer holds no access token.');
      }
      setAccessToken(body.access_token, body.expires_in);
      return body.access_token;
    }
    if (response.status === 401 || response.status === 403) {
      const error = await errorFromResponse(response, SessionEndedError);
      if (hadSession && clear()) {
        post({ type: 'signed-out', reason: 'expired' });
        onSessionEnded({ reason: 'expired' });
      }
      throw error;
    }
    throw await errorFromResponse(response);
  }

  /**
   * Get a new access token, sharing one refresh between all callers.
   *
   * @param {string|null} [stale] the token that was refused; when the client
   *   already holds another one (refreshed meanwhile by this or another tab),
   *   that one is returned without a request
   * @returns {Promise<string>} the new access token
   * @throws {SessionEndedError} the refresh token was refused (401/403)
   * @throws {ApiError|TypeError} other failures (5xx, network); the token is kept
   */
  function refresh(stale = current ? current.accessToken : null) {
    if (hasFresherToken(stale)) return Promise.resolve(current.accessToken);
    if (!inflight) {
      const hadSession = current !== null;
      inflight = withRefreshLock(async () => {
        // While this tab waited for the lock another tab may have refreshed
        // and broadcast the result: use it rather than rotating again.
        if (hasFresherToken(stale)) return current.accessToken;
        return refreshOverNetwork(hadSession || current !== null);
      }).finally(() => {
        inflight = null;
      });
    }
    return inflight;
  }

  function send(path, init, token) {
    const headers = new Headers(init.headers || {});
    if (token) headers.set('Authorization', `Bearer ${token}`);
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    return fetchImpl(path, { credentials: 'same-origin', referrerPolicy: REFERRER_POLICY, ...init, headers });
  }

  /**
   * Send a request with the access token; refresh once and retry once on 401.
   *
   * @param {string} path a same-origin path, e.g. `/api/me`
   * @param {RequestInit & {auth?: boolean}} [init] fetch options; `auth: false`
   *   sends no token and never refreshes
   * @returns {Promise<Response>} the final answer (a second 401 is returned
   *   as it is, never refreshed again)
   * @throws {SessionEndedError} the refresh token was refused while this tab
   *   was signed in
   */
  async function request(path, init = {}) {
    const { auth = true, ...fetchInit } = init;
    if (!auth) return send(path, fetchInit, null);
    const sent = current ? current.accessToken : null;
    const response = await send(path, fetchInit, sent);
    if (response.status !== 401 || path.startsWith(REFRESH_PATH)) return response;
    let fresh;
    try {
      fresh = await refresh(sent);
    } catch (error) {
      // Anonymous and no valid cookie: the 401 is the answer.
      if (error instanceof SessionEndedError && sent === null) return response;
      throw error;
    }
    return send(path, fetchInit, fresh);
  }

  /**
   * Like request(), then read the JSON body.
   *
   * @returns {Promise<any>} the parsed body, or null for 204
   * @throws {ApiError} for any non-2xx answer
   */
  async function json(path, init = {}) {
    const response = await request(path, init);
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /**
   * Restore the session on page load through the refresh cookie.
   *
   * @returns {Promise<boolean>} true when signed in; false when anonymous
   *   (the refresh answered 401/403)
   * @throws {ApiError|TypeError} when the server could not tell (5xx, network)
   */
  async function restoreSession() {
    if (current) return true;
    try {
      await refresh(null);
      return true;
    } catch (error) {
      if (error instanceof SessionEndedError) return false;
      throw error;
    }
  }

  async function endLocally() {
    clear();
    post({ type: 'signed-out', reason: 'signed-out' });
  }

  /**
   * Sign out this browser: revoke the session and clear the cookie.
   *
   * @throws {ApiError|TypeError} when the server did not confirm; the token
   *   is kept so the user can try again
   */
  async function logout() {
    const response = await send('/api/auth/logout', { method: 'POST' }, current ? current.accessToken : null);
    // 401: the session was already gone, which is what the user wants.
    if (!response.ok && response.status !== 401) throw await errorFromResponse(response);
    await endLocally();
  }

  /** Revoke every session of the user, this one included. */
  async function logoutAll() {
    const response = await request('/api/auth/logout-all', { method: 'POST' });
    if (!response.ok && response.status !== 401) throw await errorFromResponse(response);
    await endLocally();
  }

  return {
    request,
    json,
    get: (path, init = {}) => json(path, { ...init, method: 'GET' }),
    post: (path, body, init = {}) =>
      json(path, {
        ...init,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(init.headers || {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    delete: (path, init = {}) => json(path, { ...init, method: 'DELETE' }),
    refresh,
    restoreSession,
    logout,
    logoutAll,
    setAccessToken,
    getAccessToken: () => (current ? current.accessToken : null),
    /** Milliseconds since the epoch when the token expires, or null. */
    getExpiresAt: () => (current ? current.expiresAt : null),
    clear,
    /** Subscribe to token changes; returns the unsubscribe function. */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setOnSessionEnded(callback) {
      onSessionEnded = callback;
    },
    /** Stop listening to other tabs (tests, hot reload). */
    close() {
      if (channel) {
        if (typeof channel.removeEventListener === 'function') {
          channel.removeEventListener('message', onChannelMessage);
        }
        if (typeof channel.close === 'function') channel.close();
      }
      listeners.clear();
    },
  };
}
