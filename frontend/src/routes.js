/**
 * The navigation of the signed-in area. An entry with `anyPermission` is
 * shown only when the access token carries one of those permissions; the
 * matching route in App.jsx is guarded by <RequirePermission> with the same
 * list (the API enforces it anyway; the guard only avoids a page of 403s).
 */

/** Permissions that open the admin area (docs/interface.md, "Authorization"). */
export const ADMIN_PERMISSIONS = ['users:read', 'users:write', 'roles:write', 'audit:read', 'service_accounts:write'];

export const NAV_ITEMS = [
  { to: '/profile', label: 'Profile' },
  { to: '/sessions', label: 'Devices' },
  { to: '/notes', label: 'Notes' },
  { to: '/admin', label: 'Admin', anyPermission: ADMIN_PERMISSIONS },
];
