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

// ---------------------------------------------------------------------------
// Not offering what the API will refuse (docs/authorization.md, "No
// escalation"): an admin operation never hands out, or touches, more than the
// caller holds. The API decides (403 insufficient_scope); these only choose
// which controls are enabled and say why the others are not.
// ---------------------------------------------------------------------------

/** The role every account keeps; the API adds it anyway. */
export const EVERY_ACCOUNT_ROLE = 'user';
/** The administrators' role: the last active holder keeps it (409). */
export const ADMIN_ROLE = 'admin';
/** What the admin role must keep (the API answers 400 otherwise). */
export const ADMIN_ROLE_KEEPS = 'roles:write';

/**
 * The permissions of `needed` that `held` lacks.
 *
 * @param {unknown} held the caller's token `permissions` claim
 * @param {unknown} needed permission names an operation hands out or touches
 * @returns {string[]} sorted, without duplicates; empty when nothing is missing
 */
export function missingPermissions(held, needed) {
  const have = new Set(asList(held));
  return [...new Set(asList(needed))].filter((name) => !have.has(name)).sort();
}

function lacking(missing) {
  return `${missing.join(', ')}, which you do not hold`;
}

/**
 * Whether the caller may change an account (its roles, its activation, its
 * sessions): only when it holds every permission the account holds.
 *
 * @param {unknown} held the caller's permissions
 * @param {{permissions?: unknown}} user the account (admin API user summary)
 * @returns {{editable: boolean, missing: string[], reason: string|null}}
 */
export function accountAccess(held, user) {
  const missing = missingPermissions(held, user?.permissions);
  if (missing.length === 0) return { editable: true, missing, reason: null };
  return {
    editable: false,
    missing,
    reason: `This account holds ${lacking(missing)}: only someone who holds every permission of an account can change its roles or deactivate it.`,
  };
}

/**
 * Whether a role checkbox of an account may change.
 *
 * Giving a role needs every permission it grants; taking one away needs
 * only the account to be editable (accountAccess). `user` never changes.
 *
 * @param {unknown} held the caller's permissions
 * @param {{name: string, permissions?: unknown}} role the role (from GET /api/admin/roles)
 * @param {boolean} assigned whether the account has the role now
 * @param {{editable: boolean}} account accountAccess() of the account
 * @returns {{disabled: boolean, reason: string|null}}
 */
export function roleChoice(held, role, assigned, account) {
  if (role?.name === EVERY_ACCOUNT_ROLE) return { disabled: true, reason: 'every account keeps this role' };
  if (!account?.editable) return { disabled: true, reason: null };
  if (assigned) return { disabled: false, reason: null };
  if (!Array.isArray(role?.permissions)) return { disabled: true, reason: 'what this role grants is not known' };
  const missing = missingPermissions(held, role.permissions);
  if (missing.length === 0) return { disabled: false, reason: null };
  return { disabled: true, reason: `grants ${lacking(missing)}` };
}

/**
 * Whether the caller may change a role's permissions at all: the API
 * refuses any change to a role that grants a permission the caller lacks.
 *
 * @param {unknown} held the caller's permissions
 * @param {{permissions?: unknown}} role the role
 * @returns {{editable: boolean, missing: string[], reason: string|null}}
 */
export function roleAccess(held, role) {
  const missing = missingPermissions(held, role?.permissions);
  if (missing.length === 0) return { editable: true, missing, reason: null };
  return { editable: false, missing, reason: `This role grants ${lacking(missing)}, so you cannot change it.` };
}

/**
 * Whether one permission checkbox (of a role, or of a role being created)
 * may change.
 *
 * @param {unknown} held the caller's permissions
 * @param {string} permission the checkbox's permission
 * @param {string|null} roleName the role being changed (null: a new role)
 * @returns {{disabled: boolean, reason: string|null}}
 */
export function permissionChoice(held, permission, roleName = null) {
  if (roleName === ADMIN_ROLE && permission === ADMIN_ROLE_KEEPS) {
    return { disabled: true, reason: 'the admin role always keeps it' };
  }
  if (missingPermissions(held, [permission]).length > 0) return { disabled: true, reason: 'you do not hold it' };
  return { disabled: false, reason: null };
}
