import { describe, it, expect } from 'vitest';
import { ADMIN_PERMISSIONS } from '../routes.js';
import {
  ADMIN_SECTIONS,
  accountAccess,
  adminCapabilities,
  hasAnyOf,
  missingPermissions,
  permissionChoice,
  roleAccess,
  roleChoice,
  visibleSections,
} from './permissions.js';

const paths = (sections) => sections.map((s) => s.path);

describe('visibleSections', () => {
  it('shows every section to a full admin', () => {
    expect(paths(visibleSections(ADMIN_PERMISSIONS))).toEqual(['users', 'allowed-emails', 'roles', 'audit']);
  });

  it.each([
    [['users:read'], ['users', 'allowed-emails']],
    [['users:write'], ['allowed-emails']],
    [['roles:write'], ['roles']],
    [['audit:read'], ['audit']],
    [['audit:read', 'users:read'], ['users', 'allowed-emails', 'audit']],
  ])('shows %j only its sections', (permissions, expected) => {
    expect(paths(visibleSections(permissions))).toEqual(expected);
  });

  it.each([[[]], [['profile:read']], [null], [undefined], ['users:read'], [{ 0: 'users:read' }], [[42, null]]])(
    'shows nothing for %j',
    (permissions) => {
      expect(visibleSections(permissions)).toEqual([]);
    },
  );

  it('needs exact permission names, not prefixes or other cases', () => {
    expect(visibleSections(['users:rea', 'USERS:READ', 'users:read:all', 'audit'])).toEqual([]);
  });

  it('opens every section with a permission that also opens the /admin route', () => {
    for (const section of ADMIN_SECTIONS) {
      expect(section.anyOf.every((p) => ADMIN_PERMISSIONS.includes(p))).toBe(true);
    }
  });
});

describe('hasAnyOf', () => {
  it('is true when one of the names is held', () => {
    expect(hasAnyOf(['a:b', 'users:read'], ['users:write', 'users:read'])).toBe(true);
  });

  it('is false for none held or a claim that is not an array', () => {
    expect(hasAnyOf(['a:b'], ['users:read'])).toBe(false);
    expect(hasAnyOf('users:read', ['users:read'])).toBe(false);
  });
});

describe('adminCapabilities', () => {
  it('gives a full admin every control', () => {
    expect(adminCapabilities(ADMIN_PERMISSIONS)).toEqual({
      readUsers: true,
      writeUsers: true,
      manageRoles: true,
      readAudit: true,
      anyAdmin: true,
    });
  });

  it('keeps the edit controls from a read-only user admin', () => {
    const can = adminCapabilities(['users:read']);
    expect(can.readUsers).toBe(true);
    expect(can.writeUsers).toBe(false);
    expect(can.manageRoles).toBe(false);
    expect(can.anyAdmin).toBe(true);
  });

  it('gives an ordinary user nothing', () => {
    expect(adminCapabilities([]).anyAdmin).toBe(false);
    expect(adminCapabilities(undefined).anyAdmin).toBe(false);
  });
});

// The API's rule (docs/authorization.md, "No escalation"), as the UI offers it.
const SUPPORT = ['users:read', 'users:write'];
const ALL = ['audit:read', 'notes:read', 'notes:write', 'roles:write', 'users:read', 'users:write'];
const adminRole = { name: 'admin', permissions: ALL };
const auditor = { name: 'auditor', permissions: ['audit:read'] };
const helpdesk = { name: 'helpdesk', permissions: ['users:read'] };
const userRole = { name: 'user', permissions: ['notes:read', 'notes:write'] };

describe('missingPermissions', () => {
  it('lists what the caller lacks, sorted and once', () => {
    expect(missingPermissions(SUPPORT, ['roles:write', 'users:read', 'audit:read', 'roles:write'])).toEqual([
      'audit:read',
      'roles:write',
    ]);
  });

  it('is empty when the caller holds everything, and treats junk as nothing held', () => {
    expect(missingPermissions(ALL, ALL)).toEqual([]);
    expect(missingPermissions(null, ['users:read'])).toEqual(['users:read']);
    expect(missingPermissions(ALL, null)).toEqual([]);
  });
});

describe('accountAccess', () => {
  it('lets a holder of every permission change any account', () => {
    expect(accountAccess(ALL, { permissions: ALL })).toEqual({ editable: true, missing: [], reason: null });
  });

  it('refuses an account that holds more than the caller, and says what', () => {
    const access = accountAccess(['notes:read', 'notes:write', ...SUPPORT], { permissions: ALL });
    expect(access.editable).toBe(false);
    expect(access.missing).toEqual(['audit:read', 'roles:write']);
    expect(access.reason).toMatch(/holds audit:read, roles:write, which you do not hold/);
  });

  it('lets a user manager change an account holding no more than it', () => {
    expect(accountAccess(['notes:read', 'notes:write', ...SUPPORT], { permissions: ['notes:read'] }).editable).toBe(true);
  });
});

describe('roleChoice', () => {
  const caller = ['notes:read', 'notes:write', ...SUPPORT];
  const editable = accountAccess(caller, { permissions: ['notes:read'] });

  it('never offers to change the user role', () => {
    expect(roleChoice(ALL, userRole, true, { editable: true })).toEqual({ disabled: true, reason: 'every account keeps this role' });
  });

  it('does not offer admin to a user manager (users:write is not full admin)', () => {
    const choice = roleChoice(caller, adminRole, false, editable);
    expect(choice.disabled).toBe(true);
    expect(choice.reason).toBe('grants audit:read, roles:write, which you do not hold');
  });

  it('offers a role whose permissions the caller holds', () => {
    expect(roleChoice(caller, helpdesk, false, editable)).toEqual({ disabled: false, reason: null });
    expect(roleChoice(caller, auditor, false, editable).disabled).toBe(true);
  });

  it('offers to take away a role of an editable account', () => {
    expect(roleChoice(caller, auditor, true, editable).disabled).toBe(false);
  });

  it('offers nothing on an account the caller cannot change', () => {
    expect(roleChoice(ALL, helpdesk, false, { editable: false }).disabled).toBe(true);
  });

  it('does not offer a role whose permissions are not known', () => {
    expect(roleChoice(ALL, { name: 'mystery' }, false, { editable: true }).disabled).toBe(true);
  });

  it('offers everything to a holder of every permission', () => {
    for (const role of [adminRole, auditor, helpdesk]) {
      expect(roleChoice(ALL, role, false, { editable: true }).disabled).toBe(false);
    }
  });
});

describe('roleAccess and permissionChoice', () => {
  it('refuses changes to a role granting more than the caller (roles:write alone is not full admin)', () => {
    const access = roleAccess(['roles:write'], userRole);
    expect(access.editable).toBe(false);
    expect(access.reason).toMatch(/grants notes:read, notes:write, which you do not hold/);
    expect(roleAccess(['roles:write', 'notes:read', 'notes:write'], userRole).editable).toBe(true);
  });

  it('disables the permissions the caller lacks', () => {
    expect(permissionChoice(['roles:write'], 'users:write', 'user')).toEqual({ disabled: true, reason: 'you do not hold it' });
    expect(permissionChoice(['roles:write'], 'roles:write', null)).toEqual({ disabled: false, reason: null });
  });

  it('keeps roles:write on the admin role', () => {
    expect(permissionChoice(ALL, 'roles:write', 'admin').disabled).toBe(true);
    expect(permissionChoice(ALL, 'roles:write', 'auditor').disabled).toBe(false);
  });
});
