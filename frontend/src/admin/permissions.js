/**
 * Which parts of the admin area a token's `permissions` claim opens
 * (docs/interface.md, "Authorization"). Only for choosing what to show: the admin
 * API checks every permission itself and answers `403 insufficient_scope`.
 */

/** The sections of the admin area, in navigation order. */
export const ADMIN_SECTIONS = [
  {
    path: 'users',
    title: 'Users',
    anyOf: ['users:read'],
    text: 'Find users, change their roles, see their sessions, deactivate accounts.',
  },
  {
    path: 'allowed-emails',
    title: 'Allowed emails',
    anyOf: ['users:read', 'users:write'],
    text: 'Let an email address sign in before its first login when an allowlist is set.',
  },
  {
    path: 'roles',
    title: 'Roles',
    anyOf: ['roles:write'],
    text: 'Create roles and choose their permissions.',
  },
  {
    path: 'audit',
    title: 'Audit log',
    anyOf: ['audit:read'],
    text: 'Security events: sign-ins, token reuse, revocations, admin changes.',
  },
];

function asList(permissions) {
  return Array.isArray(permissions) ? permissions.filter((p) => typeof p === 'string') : [];
}

/**
 * Whether `permissions` holds at least one of `anyOf`.
 *
 * @param {unknown} permissions the token's `permissions` claim
 * @param {string[]} anyOf permission names
 * @returns {boolean} false for anything that is not an array of strings
 */
export function hasAnyOf(permissions, anyOf) {
  const held = asList(permissions);
  return anyOf.some((permission) => held.includes(permission));
}

/**
 * The admin sections a token may see.
 *
 * @param {unknown} permissions the token's `permissions` claim
 * @returns {typeof ADMIN_SECTIONS} in navigation order; empty when none
 */
export function visibleSections(permissions) {
  return ADMIN_SECTIONS.filter((section) => hasAnyOf(permissions, section.anyOf));
}

/**
 * What the admin UI may offer, one flag per control.
 *
 * @param {unknown} permissions the token's `permissions` claim
 * @returns {{readUsers: boolean, writeUsers: boolean, manageRoles: boolean,
 *   readAudit: boolean, anyAdmin: boolean}}
 */
export function adminCapabilities(permissions) {
  const held = asList(permissions);
  const capabilities = {
    readUsers: held.includes('users:read'),
    writeUsers: held.includes('users:write'),
    manageRoles: held.includes('roles:write'),
    readAudit: held.includes('audit:read'),
  };
  return { ...capabilities, anyAdmin: Object.values(capabilities).some(Boolean) };
}
