import { describe, it, expect, vi, beforeEach } from 'vitest';
import {
  createApiClient,
  decodeJwtClaims,
  ApiError,
  SessionEndedError,
  REFRESH_LOCK_NAME,
} from './client.js';

// ---------------------------------------------------------------------------
// Fakes: a backend with rotating refresh cookies, a Web Locks manager, and a
// BroadcastChannel hub. The client under test is the real one.
// ---------------------------------------------------------------------------

function jsonResponse(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
}

function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A fake backend. One cookie jar per "browser" (tabs share it). Access tokens
 * are valid until expired by the test; the refresh cookie rotates on every
 * refresh and presenting a spent one is reuse.
 */
function fakeBackend() {
  const server = {
    validTokens: new Set(),
    issued: 0,
    refreshCalls: 0,
    reuse: 0,
    requests: [],
    cookie: null, // the browser's refresh cookie (shared by tabs)
    spent: new Set(),
    refreshGate: null, // a promise that holds refresh answers back
    refreshStatus: null, // force an error status for /api/auth/refresh
    alwaysUnauthorized: false,
    login() {
      this.cookie = `rt-${++this.issued}`;
      const token = `at-${this.issued}`;
      this.validTokens.add(token);
      return token;
    },
    expireAll() {
      this.validTokens.clear();
    },
  };

  server.fetch = vi.fn(async (path, init = {}) => {
    const headers = new Headers(init.headers || {});
    const auth = headers.get('Authorization');
    server.requests.push({ path, method: init.method || 'GET', auth });

    if (path === '/api/auth/refresh') {
      server.refreshCalls += 1;
      const presented = server.cookie;
      if (server.refreshGate) await server.refreshGate;
      if (server.refreshStatus) {
        return jsonResponse(server.refreshStatus, { error: 'invalid_grant', error_description: 'forced' });
      }
      if (!presented || server.spent.has(presented)) {
        if (presented) server.reuse += 1;
        return jsonResponse(401, { error: 'invalid_grant', error_description: 'Refresh token is not valid.' });
      }
      server.spent.add(presented);
      server.cookie = `rt-${++server.issued}`;
      const token = `at-${server.issued}`;
      server.validTokens.add(token);
      return jsonResponse(200, { access_token: token, token_type: 'Bearer', expires_in: 900 });
    }

    if (path === '/api/auth/logout') {
      server.cookie = null;
      return new Response(null, { status: 204 });
    }

    const token = auth && auth.replace(/^Bearer /, '');
    if (server.alwaysUnauthorized || !token || !server.validTokens.has(token)) {
      return jsonResponse(401, { error: 'invalid_token', error_description: 'The access token expired.' });
    }
    return jsonResponse(200, { path, token });
  });

  return server;
}

/** A Web Locks manager shared by the "tabs" of one browser. */
function fakeLocks() {
  let tail = Promise.resolve();
  const manager = {
    requests: 0,
    request: vi.fn((name, options, callback) => {
      manager.requests += 1;
      const cb = typeof options === 'function' ? options : callback;
      const run = tail.then(() => cb({ name, mode: 'exclusive' }));
      tail = run.catch(() => {});
      return run;
    }),
  };
  return manager;
}

/** BroadcastChannel hub; `delay` chooses how messages are delivered. */
function channelHub({ delay = 'microtask' } = {}) {
  const members = new Set();
  return {
    create() {
      const listeners = new Set();
      const channel = {
        postMessage(data) {
          const copy = structuredClone(data);
          for (const other of members) {
            if (other === channel) continue;
            const deliver = () => other.listeners.forEach((l) => l({ data: copy }));
            if (delay === 'microtask') queueMicrotask(deliver);
            else setTimeout(deliver, delay);
          }
        },
        addEventListener(type, listener) {
          listeners.add(listener);
        },
        removeEventListener(type, listener) {
          listeners.delete(listener);
        },
        close() {
          members.delete(channel);
        },
        listeners,
      };
      members.add(channel);
      return channel;
    },
  };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------

describe('API client: bearer token and refresh-and-retry', () => {
  let server;
  let onSessionEnded;
  let api;

  beforeEach(() => {
    server = fakeBackend();
    onSessionEnded = vi.fn();
    api = createApiClient({ fetch: server.fetch, locks: null, channel: null, onSessionEnded });
  });

  it('sends the access token as Authorization: Bearer', async () => {
    api.setAccessToken(server.login(), 900);
    const body = await api.get('/api/me');
    expect(body.token).toBe('at-1');
    expect(server.requests[0].auth).toBe('Bearer at-1');
    expect(server.refreshCalls).toBe(0);
  });

  it('refreshes once on 401 and retries the request with the new token', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();

    const body = await api.get('/api/me');

    expect(server.refreshCalls).toBe(1);
    expect(body.token).toBe('at-2');
    expect(api.getAccessToken()).toBe('at-2');
    expect(server.requests.map((r) => [r.path, r.auth])).toEqual([
      ['/api/me', 'Bearer at-1'],
      ['/api/auth/refresh', null],
      ['/api/me', 'Bearer at-2'],
    ]);
    expect(onSessionEnded).not.toHaveBeenCalled();
  });

  it('sends the refresh with credentials same-origin and POST', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();
    await api.get('/api/me');
    const call = server.fetch.mock.calls.find(([path]) => path === '/api/auth/refresh');
    expect(call[1].method).toBe('POST');
    expect(call[1].credentials).toBe('same-origin');
    // Keeps a real Origin header even on pages served with no-referrer.
    expect(call[1].referrerPolicy).toBe('same-origin');
  });

  it('shares one refresh between concurrent 401s (single flight)', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();
    const gate = deferred();
    server.refreshGate = gate.promise;

    const calls = Array.from({ length: 8 }, (_, i) => api.get(`/api/item/${i}`));
    await tick();
    gate.resolve();
    const bodies = await Promise.all(calls);

    expect(server.refreshCalls).toBe(1);
    expect(bodies.map((b) => b.token)).toEqual(Array(8).fill('at-2'));
    const retries = server.requests.filter((r) => r.path.startsWith('/api/item/') && r.auth === 'Bearer at-2');
    expect(retries).toHaveLength(8);
  });

  it('does not refresh again for a 401 of a request sent with an already-replaced token', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();
    await api.get('/api/me'); // refreshes to at-2
    // A late request that still carried at-1 gets its 401 now: at-2 is used.
    const token = await api.refresh('at-1');
    expect(token).toBe('at-2');
    expect(server.refreshCalls).toBe(1);
  });

  it('does not refresh a second time when the retried request is refused again', async () => {
    api.setAccessToken(server.login(), 900);
    server.alwaysUnauthorized = true;

    const response = await api.request('/api/me');

    expect(response.status).toBe(401);
    expect(server.refreshCalls).toBe(1);
    expect(server.requests.filter((r) => r.path === '/api/me')).toHaveLength(2);
    await expect(api.get('/api/me')).rejects.toBeInstanceOf(ApiError);
  });

  it('ends the session when the refresh is refused: token cleared, callback once, no loop', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();
    server.cookie = null; // the session was revoked

    const calls = [api.get('/api/me'), api.get('/api/auth/sessions'), api.get('/api/x')];
    const results = await Promise.allSettled(calls);

    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(result.reason).toBeInstanceOf(SessionEndedError);
    }
    expect(api.getAccessToken()).toBeNull();
    expect(onSessionEnded).toHaveBeenCalledTimes(1);
    expect(onSessionEnded).toHaveBeenCalledWith({ reason: 'expired' });
    expect(server.refreshCalls).toBe(1);
    expect(server.requests).toHaveLength(4); // three 401s and one refresh
  });

  it('treats a 403 from the refresh (e.g. foreign Origin) as the end of the session', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();
    server.refreshStatus = 403;
    await expect(api.get('/api/me')).rejects.toBeInstanceOf(SessionEndedError);
    expect(api.getAccessToken()).toBeNull();
    expect(onSessionEnded).toHaveBeenCalledTimes(1);
  });

  it('keeps the token when the refresh fails for another reason (5xx)', async () => {
    api.setAccessToken(server.login(), 900);
    server.expireAll();
    server.refreshStatus = 503;
    const error = await api.get('/api/me').catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(SessionEndedError);
    expect(error.status).toBe(503);
    expect(api.getAccessToken()).toBe('at-1');
    expect(onSessionEnded).not.toHaveBeenCalled();
  });

  it('returns the 401 for an anonymous request without a valid cookie, without ending anything', async () => {
    const response = await api.request('/api/me');
    expect(response.status).toBe(401);
    expect(server.refreshCalls).toBe(1);
    expect(onSessionEnded).not.toHaveBeenCalled();
  });

  it('never refreshes for auth: false requests', async () => {
    const response = await api.request('/api/public/info', { auth: false });
    expect(response.status).toBe(401);
    expect(server.requests[0].auth).toBeNull();
    expect(server.refreshCalls).toBe(0);
  });

  it('maps error bodies to ApiError with code and description', async () => {
    const error = await api.get('/api/me').catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid_token');
    expect(error.description).toBe('The access token expired.');
  });
});

describe('API client: restoring the session on page load', () => {
  it('restores through the refresh cookie with one request', async () => {
    const server = fakeBackend();
    server.login();
    const api = createApiClient({ fetch: server.fetch, locks: null, channel: null });
    await expect(api.restoreSession()).resolves.toBe(true);
    expect(api.getAccessToken()).toBe('at-2');
    expect(server.refreshCalls).toBe(1);
  });

  it('reports anonymous on 401 without calling onSessionEnded', async () => {
    const server = fakeBackend();
    const onSessionEnded = vi.fn();
    const api = createApiClient({ fetch: server.fetch, locks: null, channel: null, onSessionEnded });
    await expect(api.restoreSession()).resolves.toBe(false);
    expect(api.getAccessToken()).toBeNull();
    expect(onSessionEnded).not.toHaveBeenCalled();
  });

  it('throws when the server cannot tell (5xx)', async () => {
    const server = fakeBackend();
    server.refreshStatus = 500;
    const api = createApiClient({ fetch: server.fetch, locks: null, channel: null });
    await expect(api.restoreSession()).rejects.toMatchObject({ status: 500 });
  });

  it('throws on a network failure', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const api = createApiClient({ fetch, locks: null, channel: null });
    await expect(api.restoreSession()).rejects.toBeInstanceOf(TypeError);
  });
});

describe('API client: across tabs (Web Locks + BroadcastChannel)', () => {
  function twoTabs({ delay } = {}) {
    const server = fakeBackend();
    const locks = fakeLocks();
    const hub = channelHub({ delay });
    const ended = { a: vi.fn(), b: vi.fn() };
    const a = createApiClient({ fetch: server.fetch, locks, channel: hub.create(), onSessionEnded: ended.a });
    const b = createApiClient({ fetch: server.fetch, locks, channel: hub.create(), onSessionEnded: ended.b });
    return { server, locks, a, b, ended };
  }

  it('refreshes under the authgw-refresh lock', async () => {
    const { server, locks, a } = twoTabs();
    a.setAccessToken(server.login(), 900);
    server.expireAll();
    await a.get('/api/me');
    expect(locks.request).toHaveBeenCalledTimes(1);
    expect(locks.request.mock.calls[0][0]).toBe(REFRESH_LOCK_NAME);
  });

  it('hands a new token to the other tabs', async () => {
    const { server, a, b } = twoTabs();
    const seen = vi.fn();
    b.subscribe(seen);
    a.setAccessToken(server.login(), 900);
    await tick();
    expect(b.getAccessToken()).toBe('at-1');
    expect(seen).toHaveBeenCalledWith('at-1');
  });

  it('two tabs hitting 401 at the same moment share one refresh and both stay signed in', async () => {
    const { server, a, b, ended } = twoTabs();
    a.setAccessToken(server.login(), 900);
    await tick();
    server.expireAll();
    const gate = deferred();
    server.refreshGate = gate.promise;

    const both = Promise.all([a.get('/api/me'), b.get('/api/me')]);
    await tick();
    gate.resolve();
    const [bodyA, bodyB] = await both;

    expect(server.refreshCalls).toBe(1);
    expect(server.reuse).toBe(0);
    expect(bodyA.token).toBe('at-2');
    expect(bodyB.token).toBe('at-2');
    expect(ended.a).not.toHaveBeenCalled();
    expect(ended.b).not.toHaveBeenCalled();
  });

  it('never reuses a refresh token between tabs even when the broadcast arrives late', async () => {
    const { server, a, b, ended } = twoTabs({ delay: 50 });
    a.setAccessToken(server.login(), 900);
    await tick(60);
    server.expireAll();

    const [bodyA, bodyB] = await Promise.all([a.get('/api/me'), b.get('/api/me')]);

    // The lock serialised the refreshes, so the second presented the rotated cookie.
    expect(server.refreshCalls).toBeLessThanOrEqual(2);
    expect(server.reuse).toBe(0);
    expect(bodyA.token).toMatch(/^at-/);
    expect(bodyB.token).toMatch(/^at-/);
    expect(ended.a).not.toHaveBeenCalled();
    expect(ended.b).not.toHaveBeenCalled();
    await tick(60);
    expect(server.validTokens.has(a.getAccessToken())).toBe(true);
    expect(server.validTokens.has(b.getAccessToken())).toBe(true);
  });

  it('a tab restoring on load while another refreshes adopts the broadcast token', async () => {
    const { server, a, b } = twoTabs();
    a.setAccessToken(server.login(), 900);
    server.expireAll();
    // b has the token from the broadcast; a fresh tab c loads at the same time.
    await tick();
    const gate = deferred();
    server.refreshGate = gate.promise;
    const refreshing = a.get('/api/me');
    await tick();
    gate.resolve();
    await refreshing;
    await tick();
    expect(b.getAccessToken()).toBe('at-2');
    await expect(b.restoreSession()).resolves.toBe(true);
    expect(server.refreshCalls).toBe(1);
  });

  it('signing out in one tab signs the other tabs out', async () => {
    const { server, a, b, ended } = twoTabs();
    a.setAccessToken(server.login(), 900);
    await tick();
    await a.logout();
    await tick();
    expect(a.getAccessToken()).toBeNull();
    expect(b.getAccessToken()).toBeNull();
    expect(ended.b).toHaveBeenCalledWith({ reason: 'signed-out' });
    expect(ended.a).not.toHaveBeenCalled();
    expect(server.requests.at(-1)).toMatchObject({ path: '/api/auth/logout', method: 'POST' });
  });

  it('a session that ended in one tab ends in the others', async () => {
    const { server, a, b, ended } = twoTabs();
    a.setAccessToken(server.login(), 900);
    await tick();
    server.expireAll();
    server.cookie = null;
    await expect(a.get('/api/me')).rejects.toBeInstanceOf(SessionEndedError);
    await tick();
    expect(ended.a).toHaveBeenCalledWith({ reason: 'expired' });
    expect(ended.b).toHaveBeenCalledWith({ reason: 'signed-out' });
    expect(b.getAccessToken()).toBeNull();
  });

  it('ignores an older token that arrives after a newer one', async () => {
    const server = fakeBackend();
    const hub = channelHub();
    const sender = hub.create();
    let clock = 1000;
    const b = createApiClient({ fetch: server.fetch, locks: null, channel: hub.create(), now: () => clock });
    b.setAccessToken('newer', 900); // issued at 1000
    sender.postMessage({ type: 'token', access_token: 'older', expires_in: 900, issued_at: 500, sender: 'x' });
    await tick();
    expect(b.getAccessToken()).toBe('newer');
    clock = 2000;
    sender.postMessage({ type: 'token', access_token: 'newest', expires_in: 900, issued_at: 1500, sender: 'x' });
    await tick();
    expect(b.getAccessToken()).toBe('newest');
    expect(b.getExpiresAt()).toBe(1500 + 900 * 1000);
  });

  it('ignores malformed messages', async () => {
    const server = fakeBackend();
    const hub = channelHub();
    const sender = hub.create();
    const b = createApiClient({ fetch: server.fetch, locks: null, channel: hub.create() });
    b.setAccessToken('mine', 900);
    sender.postMessage(null);
    sender.postMessage('token');
    sender.postMessage({ type: 'token', access_token: 42 });
    await tick();
    expect(b.getAccessToken()).toBe('mine');
  });
});

describe('decodeJwtClaims', () => {
  const encode = (obj) =>
    Buffer.from(JSON.stringify(obj)).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

  it('reads the payload of a compact JWS', () => {
    const jwt = `${encode({ alg: 'ES256' })}.${encode({ sub: '7', name: 'Zoë ✓', permissions: ['users:read'] })}.sig`;
    expect(decodeJwtClaims(jwt)).toEqual({ sub: '7', name: 'Zoë ✓', permissions: ['users:read'] });
  });

  it('returns null for anything else', () => {
    expect(decodeJwtClaims('not-a-jwt')).toBeNull();
    expect(decodeJwtClaims('a.!!!.c')).toBeNull();
    expect(decodeJwtClaims(undefined)).toBeNull();
  });
});
