import { describe, it, expect, vi } from 'vitest';
import { ApiError } from '../api/client.js';
import {
  AUDIT_EVENTS,
  buildQuery,
  createAdminApi,
  describeError,
  LAST_ADMIN_TEXT,
  eventLabel,
  formatDetails,
  pageInfo,
  readPage,
  rolesToSave,
  sameNames,
} from './adminApi.js';

describe('buildQuery', () => {
  it('leaves out empty values and encodes the rest', () => {
    expect(buildQuery({ q: ' a b&c ', page: 2, per_page: undefined, event: '', user_id: null })).toBe('?q=a+b%26c&page=2');
  });

  it('is empty when nothing is left', () => {
    expect(buildQuery({ q: '  ', page: undefined })).toBe('');
  });
});

describe('readPage', () => {
  it.each([
    ['3', 3],
    ['1', 1],
    [null, 1],
    ['', 1],
    ['0', 1],
    ['-2', 1],
    ['1.5', 1],
    ['abc', 1],
    ['99999999999', 1],
  ])('reads %j as %d', (value, expected) => {
    expect(readPage(value)).toBe(expected);
  });
});

describe('pageInfo', () => {
  it('describes a middle page', () => {
    expect(pageInfo({ page: 2, per_page: 20, total: 45 })).toEqual({
      page: 2,
      pages: 3,
      from: 21,
      to: 40,
      total: 45,
      hasPrevious: true,
      hasNext: true,
    });
  });

  it('describes the last, partly filled page', () => {
    expect(pageInfo({ page: 3, per_page: 20, total: 45 })).toMatchObject({ from: 41, to: 45, hasNext: false });
  });

  it('has one empty page when there is nothing', () => {
    expect(pageInfo({ page: 1, per_page: 20, total: 0 })).toMatchObject({
      pages: 1,
      from: 0,
      to: 0,
      hasPrevious: false,
      hasNext: false,
    });
  });

  it('lets a page past the end go back', () => {
    expect(pageInfo({ page: 9, per_page: 20, total: 45 })).toMatchObject({ from: 0, to: 0, hasPrevious: true, hasNext: false });
  });

  it('survives missing or bad numbers', () => {
    expect(pageInfo({})).toMatchObject({ page: 1, pages: 1, total: 0 });
  });
});

describe('formatDetails', () => {
  it('says arrays, empty arrays and scalars in one line', () => {
    expect(formatDetails({ added: ['auditor', 'ops'], removed: [], sessions_revoked: 2 })).toBe(
      'added: auditor, ops; removed: none; sessions revoked: 2',
    );
  });

  it('is empty for no details', () => {
    expect(formatDetails(null)).toBe('');
    expect(formatDetails({})).toBe('');
    expect(formatDetails(['x'])).toBe('');
  });

  it('shows nested objects as JSON', () => {
    expect(formatDetails({ reason: { code: 'x' } })).toBe('reason: {"code":"x"}');
  });
});

describe('roles', () => {
  it('always saves the user role, sorted and without duplicates', () => {
    expect(rolesToSave(new Set(['ops', 'admin']))).toEqual(['admin', 'ops', 'user']);
    expect(rolesToSave(['user', 'user'])).toEqual(['user']);
  });

  it('compares names in any order', () => {
    expect(sameNames(['a', 'b'], new Set(['b', 'a']))).toBe(true);
    expect(sameNames(['a'], ['a', 'b'])).toBe(false);
    expect(sameNames(['a', 'c'], ['a', 'b'])).toBe(false);
  });
});

describe('audit events', () => {
  it('names every event code of the backend', () => {
    expect(AUDIT_EVENTS.map(([code]) => code).sort()).toEqual(
      [
        'email_allowed',
        'escalation_refused',
        'login_failed',
        'login_succeeded',
        'logout',
        'logout_all',
        'refresh_token_reused',
        'role_created',
        'role_permissions_changed',
        'roles_changed',
        'session_revoked',
        'user_activated',
        'user_deactivated',
        'service_account_created',
        'service_account_secret_rotated',
        'service_account_deleted',
        'client_authentication_failed',
        'user_registered',
        'password_set',
      ].sort(),
    );
    expect(eventLabel('roles_changed')).toBe('Roles changed');
    expect(eventLabel('something_new')).toBe('something_new');
  });
});

describe('describeError', () => {
  it("prefers the server's error_description", () => {
    expect(describeError(new ApiError(400, 'invalid_request', 'roles: unknown role nope.'))).toBe('roles: unknown role nope.');
    expect(describeError(new ApiError(403, 'insufficient_scope', 'needs users:write'))).toBe('needs users:write');
  });

  it('says the last admin refusal (409) in words', () => {
    const error = new ApiError(409, 'conflict', 'roles: this is the last active admin; give admin to another account first.');
    expect(describeError(error)).toBe(LAST_ADMIN_TEXT);
    expect(describeError(error)).toMatch(/last active admin.*another account/);
  });

  it('keeps the words of another 409', () => {
    expect(describeError(new ApiError(409, 'conflict', 'name: taken.'))).toBe('name: taken.');
  });

  it('says a refused escalation without a description in words', () => {
    expect(describeError(new ApiError(403, 'insufficient_scope'))).toMatch(/never hands out or touches more than you hold/);
  });

  it('explains answers without a description and network failures', () => {
    expect(describeError(new ApiError(403, 'insufficient_scope'))).toMatch(/permission/);
    expect(describeError(new ApiError(503, 'service_unavailable'))).toMatch(/server had a problem/);
    expect(describeError(new TypeError('Failed to fetch'))).toMatch(/could not be reached/);
  });
});

describe('createAdminApi', () => {
  function fakeApi() {
    return { get: vi.fn(async () => ({})), json: vi.fn(async () => ({})) };
  }

  it('reads with GET and the query of the contract', async () => {
    const api = fakeApi();
    const admin = createAdminApi(api);
    await admin.listUsers({ q: 'ann', page: 2, perPage: 20 });
    await admin.listAudit({ userId: '7', event: 'roles_changed', page: 1, perPage: 25 });
    await admin.listAudit({});
    await admin.getUser('12');
    expect(api.get.mock.calls.map(([path]) => path)).toEqual([
      '/api/admin/users?q=ann&page=2&per_page=20',
      '/api/admin/audit?user_id=7&event=roles_changed&page=1&per_page=25',
      '/api/admin/audit',
      '/api/admin/users/12',
    ]);
  });

  it('writes JSON with the method of each endpoint', async () => {
    const api = fakeApi();
    const admin = createAdminApi(api);
    await admin.updateUser('5', { active: false });
    await admin.allowEmail('a@example.com');
    await admin.createRole({ name: 'ops', description: '', permissions: ['audit:read'] });
    await admin.setRolePermissions('a/b', ['users:read']);
    const calls = api.json.mock.calls.map(([path, init]) => [init.method, path, JSON.parse(init.body), init.headers['Content-Type']]);
    expect(calls).toEqual([
      ['PATCH', '/api/admin/users/5', { active: false }, 'application/json'],
      ['POST', '/api/admin/allowed-emails', { email: 'a@example.com' }, 'application/json'],
      ['POST', '/api/admin/roles', { name: 'ops', description: '', permissions: ['audit:read'] }, 'application/json'],
      ['PUT', '/api/admin/roles/a%2Fb/permissions', { permissions: ['users:read'] }, 'application/json'],
    ]);
  });

  it('encodes a user id in the path', async () => {
    const api = fakeApi();
    await createAdminApi(api).getUser('../me');
    expect(api.get).toHaveBeenCalledWith('/api/admin/users/..%2Fme');
  });
});
