import { describe, it, expect } from 'vitest';
import { ADMIN_PERMISSIONS } from '../routes.js';
import { ADMIN_SECTIONS, adminCapabilities, hasAnyOf, visibleSections } from './permissions.js';

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
