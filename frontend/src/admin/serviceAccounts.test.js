import { describe, expect, it } from 'vitest';
import { createServiceAccountsApi, serviceAccountRoleChoice, tokenCurl } from './serviceAccounts.js';

describe('service accounts API', () => {
  it('calls the admin endpoints', async () => {
    const calls = [];
    const api = {
      get: async (path) => calls.push(['GET', path]),
      post: async (path, body) => calls.push(['POST', path, body]),
      delete: async (path) => calls.push(['DELETE', path]),
    };
    const accounts = createServiceAccountsApi(api);
    await accounts.list();
    await accounts.create({ name: 'ci', roles: ['user'] });
    await accounts.rotate('sa_a/b');
    await accounts.remove('sa_x');
    expect(calls).toEqual([
      ['GET', '/api/admin/service-accounts'],
      ['POST', '/api/admin/service-accounts', { name: 'ci', roles: ['user'] }],
      ['POST', '/api/admin/service-accounts/sa_a%2Fb/secret', undefined],
      ['DELETE', '/api/admin/service-accounts/sa_x'],
    ]);
  });
});

describe('serviceAccountRoleChoice', () => {
  it('offers only roles whose permissions the caller holds', () => {
    expect(serviceAccountRoleChoice(['notes:read', 'notes:write'], { permissions: ['notes:read'] })).toEqual({
      disabled: false,
      reason: null,
    });
    expect(serviceAccountRoleChoice(['notes:read'], { permissions: ['users:write', 'notes:read'] })).toEqual({
      disabled: true,
      reason: 'grants users:write, which you do not hold',
    });
    expect(serviceAccountRoleChoice(['x'], {}).disabled).toBe(true);
  });
});

describe('tokenCurl', () => {
  it('never contains the secret itself', () => {
    expect(tokenCurl('https://app.example', 'sa_1')).toBe(
      "curl -s -u 'sa_1:<client_secret>' -d grant_type=client_credentials https://app.example/api/auth/token",
    );
  });
});
