import { describe, it, expect, vi } from 'vitest';
import { createApiClient } from '../api/client.js';
import {
  CALLBACK_REFUSED,
  confirmCallbackToken,
  confirmCallbackTokenOnce,
  consumeCallbackFragment,
  parseCallbackFragment,
  safeNextPath,
} from './callback.js';

describe('safeNextPath', () => {
  it.each([
    ['/profile', '/profile'],
    ['/sessions?x=1#y', '/sessions?x=1#y'],
    ['/', '/'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it.each([
    null,
    undefined,
    '',
    'profile',
    '//evil.example/x',
    '/\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    '/a\nb',
    '/a\u0000',
    '/auth/callback',
    '/auth/callback?x',
  ])('replaces %j by /', (input) => {
    expect(safeNextPath(input)).toBe('/');
  });
});

describe('parseCallbackFragment', () => {
  it('reads token, lifetime and next', () => {
    expect(parseCallbackFragment('#access_token=a.b.c&token_type=Bearer&expires_in=900&next=%2Fsessions')).toEqual({
      accessToken: 'a.b.c',
      tokenType: 'Bearer',
      expiresIn: 900,
      next: '/sessions',
    });
  });

  it('tolerates a missing next and lifetime', () => {
    expect(parseCallbackFragment('access_token=t')).toMatchObject({ accessToken: 't', expiresIn: null, next: '/' });
  });

  it('refuses a token of another type and an unsafe next', () => {
    expect(parseCallbackFragment('#access_token=t&token_type=mac&next=//x')).toMatchObject({
      accessToken: null,
      next: '/',
    });
  });
});

describe('consumeCallbackFragment', () => {
  it('removes the fragment from the address bar', () => {
    const history = { state: { k: 1 }, replaceState: vi.fn() };
    const location = { pathname: '/auth/callback', search: '', hash: '#access_token=t&next=/profile' };
    const result = consumeCallbackFragment(location, history);
    expect(result).toMatchObject({ fragmentToken: 't', next: '/profile' });
    // Not an accepted token: main.jsx's `callback.accessToken` stays unset.
    expect(result).not.toHaveProperty('accessToken');
    expect(history.replaceState).toHaveBeenCalledWith({ k: 1 }, '', '/auth/callback');
  });

  it('does nothing on other pages', () => {
    const history = { replaceState: vi.fn() };
    expect(consumeCallbackFragment({ pathname: '/', search: '', hash: '#access_token=t' }, history)).toBeNull();
    expect(history.replaceState).not.toHaveBeenCalled();
  });
});

// ---------------------------------------------------------------------------
// Confirming the fragment: the real API client, a fake backend whose refresh
// cookie belongs to one session (or none), and a channel that records what
// this tab tells the others.
// ---------------------------------------------------------------------------

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsigned JWT-shaped string with these claims (the browser never verifies). */
function jwt(claims) {
  return `${b64url({ alg: 'ES256', typ: 'at+jwt' })}.${b64url(claims)}.c2ln`;
}

function browser({ cookieSid = null, refreshStatus = 200, network = true } = {}) {
  const posted = [];
  const calls = [];
  let n = 0;
  const fetch = vi.fn(async (path, init = {}) => {
    calls.push({ path, method: init.method, credentials: init.credentials });
    if (!network) throw new TypeError('Failed to fetch');
    if (path !== '/api/auth/refresh') return new Response(null, { status: 404 });
    if (refreshStatus !== 200) {
      return new Response(JSON.stringify({ error: 'x' }), { status: refreshStatus });
    }
    if (!cookieSid) return new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 401 });
    n += 1;
    const body = { access_token: jwt({ sub: 'own', sid: cookieSid, n }), token_type: 'Bearer', expires_in: 900 };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
  const channel = { postMessage: (m) => posted.push(m), addEventListener() {}, removeEventListener() {}, close() {} };
  const api = createApiClient({ fetch, locks: null, channel });
  return { api, posted, calls, fetch };
}

const attackers = jwt({ sub: 'attacker', sid: 'sid-attacker', email: 'mallory@example.com' });

describe('confirmCallbackToken', () => {
  it('accepts a sign-in whose session is the one of this browser\'s refresh cookie', async () => {
    const { api, calls } = browser({ cookieSid: 'sid-1' });
    const fragment = jwt({ sub: 'alice', sid: 'sid-1' });
    expect(await confirmCallbackToken(api, fragment)).toEqual({ ok: true });
    expect(calls).toEqual([{ path: '/api/auth/refresh', method: 'POST', credentials: 'same-origin' }]);
    // The tab holds the refreshed token of the same session, not the fragment's.
    const held = api.getAccessToken();
    expect(held).not.toBe(fragment);
    expect(JSON.parse(Buffer.from(held.split('.')[1], 'base64url'))).toMatchObject({ sid: 'sid-1' });
  });

  it('refuses a planted token when the browser is signed in to another session', async () => {
    const { api, posted } = browser({ cookieSid: 'sid-own' });
    expect(await confirmCallbackToken(api, attackers)).toEqual({ ok: false, reason: CALLBACK_REFUSED.foreign });
    expect(api.getAccessToken()).not.toBe(attackers);
    expect(JSON.stringify(posted)).not.toContain(attackers);
  });

  it('refuses a planted token when the browser has no session', async () => {
    const { api, posted } = browser({ cookieSid: null });
    expect(await confirmCallbackToken(api, attackers)).toEqual({ ok: false, reason: CALLBACK_REFUSED.foreign });
    expect(api.getAccessToken()).toBeNull();
    expect(posted).toEqual([]);
  });

  it('refuses when the refresh is refused for a foreign Origin (403)', async () => {
    const { api } = browser({ cookieSid: 'sid-1', refreshStatus: 403 });
    const result = await confirmCallbackToken(api, jwt({ sid: 'sid-1' }));
    expect(result).toEqual({ ok: false, reason: CALLBACK_REFUSED.foreign });
  });

  it.each([
    ['a network failure', { network: false }],
    ['a server error', { refreshStatus: 503 }],
  ])('does not accept the token after %s', async (_, options) => {
    const fragment = jwt({ sid: 'sid-1' });
    const { api, posted } = browser({ cookieSid: 'sid-1', ...options });
    expect(await confirmCallbackToken(api, fragment)).toEqual({ ok: false, reason: CALLBACK_REFUSED.unconfirmed });
    expect(api.getAccessToken()).toBeNull();
    expect(JSON.stringify(posted)).not.toContain(fragment);
  });

  it.each([null, '', 'not-a-jwt', jwt({ sub: 'x' }), jwt({ sid: '' }), jwt({ sid: 42 })])(
    'refuses %j without asking the server',
    async (fragment) => {
      const { api, fetch } = browser({ cookieSid: 'sid-1' });
      expect(await confirmCallbackToken(api, fragment)).toEqual({ ok: false, reason: CALLBACK_REFUSED.foreign });
      expect(fetch).not.toHaveBeenCalled();
    },
  );

  it('asks the server even when the tab already holds a token', async () => {
    const { api, fetch } = browser({ cookieSid: 'sid-new' });
    api.setAccessToken(jwt({ sid: 'sid-old' }), 900);
    expect(await confirmCallbackToken(api, jwt({ sid: 'sid-new' }))).toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('shares the refresh with a session restore already on its way', async () => {
    const { api, fetch } = browser({ cookieSid: 'sid-1' });
    const restoring = api.restoreSession();
    expect(await confirmCallbackToken(api, jwt({ sid: 'sid-1' }))).toEqual({ ok: true });
    await restoring;
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe('confirmCallbackTokenOnce', () => {
  it('confirms one fragment token once however often the page mounts', async () => {
    const { api, fetch } = browser({ cookieSid: 'sid-once' });
    const fragment = jwt({ sid: 'sid-once', n: 'once' });
    const first = await confirmCallbackTokenOnce(api, fragment);
    const second = await confirmCallbackTokenOnce(api, fragment);
    expect(first).toEqual({ ok: true });
    expect(second).toBe(first);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
