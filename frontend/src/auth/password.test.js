import { describe, expect, it } from 'vitest';
import {
  describeRegisterFailure,
  describeSignInFailure,
  passwordLengthProblem,
  registerAccount,
  signInWithPassword,
} from './password.js';

function fakeApi(status, body) {
  const calls = [];
  return {
    calls,
    token: null,
    async request(path, init) {
      calls.push({ path, init });
      return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    },
    setAccessToken(token, expiresIn) {
      this.token = { token, expiresIn };
    },
  };
}

describe('password rules', () => {
  it('counts characters, not UTF-16 units', () => {
    expect(passwordLengthProblem('short')).toMatch(/at least 12 characters \(5 so far\)/);
    expect(passwordLengthProblem('🙂'.repeat(12))).toBeNull();
    expect(passwordLengthProblem('x'.repeat(129))).toMatch(/at most 128/);
  });
});

describe('signInWithPassword', () => {
  it('keeps the access token and sends no bearer token', async () => {
    const api = fakeApi(200, { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 900 });
    expect(await signInWithPassword(api, ' ann@example.test ', 'pw')).toEqual({ ok: true });
    expect(api.token).toEqual({ token: 'a.b.c', expiresIn: 900 });
    expect(api.calls[0].path).toBe('/api/auth/login/password');
    expect(api.calls[0].init.auth).toBe(false);
    expect(JSON.parse(api.calls[0].init.body)).toEqual({ email: 'ann@example.test', password: 'pw' });
  });

  it('says the same thing for a wrong password and an unknown email', async () => {
    const api = fakeApi(401, { error: 'invalid_grant', error_description: 'The email or password is wrong.' });
    expect(await signInWithPassword(api, 'a@b.c', 'x')).toEqual({ ok: false, message: 'The email or password is wrong.' });
    expect(api.token).toBeNull();
  });

  it('explains the other refusals in words', () => {
    expect(describeSignInFailure({ status: 429, code: 'rate_limited' })).toMatch(/Too many failed attempts/);
    expect(describeSignInFailure({ status: 403, code: 'not_allowed' })).toMatch(/not allowed/);
    expect(describeSignInFailure({ status: 403, code: 'account_disabled' })).toMatch(/disabled/);
  });
});

describe('registerAccount', () => {
  it('shows the server’s reason for a refused password', async () => {
    const api = fakeApi(400, { error: 'invalid_request', error_description: 'password is a commonly used password; choose another.' });
    expect(await registerAccount(api, { email: 'a@b.c', password: 'qwerty123456', name: '' })).toEqual({
      ok: false,
      message: 'The password is a commonly used password; choose another.',
    });
  });

  it('explains a taken email and the allowlist', () => {
    expect(describeRegisterFailure({ status: 409, code: 'conflict', description: '' })).toMatch(/already exists/);
    expect(describeRegisterFailure({ status: 403, code: 'not_allowed', description: '' })).toMatch(/may not register/);
  });
});
