/**
 * The admin API (docs/interface.md, "Authorization") over the tab's API client,
 * so every call carries the bearer token and gets refresh-and-retry.
 */

/** Audit event codes of the backend, in the order the filter offers them. */
export const AUDIT_EVENTS = [
  ['login_succeeded', 'Sign-in succeeded'],
  ['login_failed', 'Sign-in failed'],
  ['refresh_token_reused', 'Refresh token reused'],
  ['logout', 'Signed out'],
  ['logout_all', 'Signed out everywhere'],
  ['session_revoked', 'Session revoked'],
  ['roles_changed', 'Roles changed'],
  ['user_activated', 'User activated'],
  ['user_deactivated', 'User deactivated'],
  ['email_allowed', 'Email allowed'],
  ['role_created', 'Role created'],
  ['role_permissions_changed', 'Role permissions changed'],
  ['escalation_refused', 'Escalation refused'],
  ['service_account_created', 'Service account created'],
  ['service_account_secret_rotated', 'Service account secret rotated'],
  ['service_account_deleted', 'Service account deleted'],
  ['client_authentication_failed', 'Client authentication failed'],
  ['user_registered', 'Account registered'],
  ['password_set', 'Password set'],
];

const EVENT_LABELS = new Map(AUDIT_EVENTS);

/** A readable name for an audit event code; unknown codes are shown as they are. */
export function eventLabel(event) {
  return EVENT_LABELS.get(event) || String(event ?? '');
}

/**
 * Build a query string from `params`, leaving out empty values.
 *
 * @param {Record<string, string|number|null|undefined>} params
 * @returns {string} `?a=1&b=x`, or `''` when nothing is left
 */
export function buildQuery(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    const text = String(value).trim();
    if (text !== '') search.set(key, text);
  }
  const query = search.toString();
  return query ? `?${query}` : '';
}

/**
 * Read a page number from a URL query value.
 *
 * @param {string|null} value e.g. `searchParams.get('page')`
 * @returns {number} a whole number from 1; 1 for anything else
 */
export function readPage(value) {
  const number = Number(value);
  return Number.isInteger(number) && number >= 1 && number <= 1_000_000 ? number : 1;
}

/**
 * Describe a page of a paged answer (`{page, per_page, total}`).
 *
 * @returns {{page: number, pages: number, from: number, to: number,
 *   total: number, hasPrevious: boolean, hasNext: boolean}} `from`/`to` are
 *   the 1-based positions of the first and last item of the page (both 0
 *   when the page is empty, e.g. past the end)
 */
export function pageInfo({ page, per_page: perPage, total }) {
  const size = Math.max(1, Number(perPage) || 1);
  const count = Math.max(0, Number(total) || 0);
  const current = Math.max(1, Number(page) || 1);
  const pages = Math.max(1, Math.ceil(count / size));
  const skipped = (current - 1) * size;
  const empty = skipped >= count;
  return {
    page: current,
    pages,
    from: empty ? 0 : skipped + 1,
    to: empty ? 0 : Math.min(count, skipped + size),
    total: count,
    hasPrevious: current > 1,
    hasNext: current < pages,
  };
}

/**
 * Say the details of an audit event in one line.
 *
 * @param {unknown} details the event's `details` object
 * @returns {string} e.g. `added: auditor; removed: none`, or `''`
 */
export function formatDetails(details) {
  if (!details || typeof details !== 'object' || Array.isArray(details)) return '';
  return Object.entries(details)
    .map(([key, value]) => {
      let text;
      if (Array.isArray(value)) text = value.length ? value.map(String).join(', ') : 'none';
      else if (value && typeof value === 'object') text = JSON.stringify(value);
      else text = String(value);
      return `${key.replace(/_/g, ' ')}: ${text}`;
    })
    .join('; ');
}

/**
 * The roles to send for a user, from the checkbox state.
 *
 * @param {Iterable<string>} checked the role names ticked
 * @returns {string[]} sorted, without duplicates, always with `user` (every
 *   account keeps it; the API adds it anyway)
 */
export function rolesToSave(checked) {
  return [...new Set([...checked, 'user'])].sort();
}

/** Whether two lists of names hold the same names, in any order. */
export function sameNames(a, b) {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((name) => right.has(name));
}

/**
 * Wrap the tab's API client with the admin endpoints.
 *
 * @param {ReturnType<import('../api/client.js').createApiClient>} api
 * @returns the admin calls; each returns the parsed JSON answer and throws
 *   ApiError (with the server's `error_description`) on a non-2xx answer
 */
export function createAdminApi(api) {
  const send = (method, path, body) =>
    api.json(path, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const userPath = (id) => `/api/admin/users/${encodeURIComponent(id)}`;

  return {
    /** `{q, page, perPage}` → `{users, page, per_page, total}` (users:read). */
    listUsers: ({ q, page, perPage } = {}) => api.get(`/api/admin/users${buildQuery({ q, page, per_page: perPage })}`),
    /** One user with `sessions` (users:read). */
    getUser: (id) => api.get(userPath(id)),
    /** `{active?, roles?}` → the user (users:write). */
    updateUser: (id, changes) => send('PATCH', userPath(id), changes),
    /** → `{allowed_emails: [{email, created_at}]}` (users:read). */
    listAllowedEmails: () => api.get('/api/admin/allowed-emails'),
    /** → `{email}` (users:write). */
    allowEmail: (email) => send('POST', '/api/admin/allowed-emails', { email }),
    /** → `{roles: [{name, description, permissions, builtin}], permissions: [{name, description}]}` (users:read or roles:write). */
    listRoles: () => api.get('/api/admin/roles'),
    /** `{name, description, permissions}` → the role (roles:write). */
    createRole: (role) => send('POST', '/api/admin/roles', role),
    /** Replace a role's permissions → the role (roles:write). */
    setRolePermissions: (name, permissions) =>
      send('PUT', `/api/admin/roles/${encodeURIComponent(name)}/permissions`, { permissions }),
    /** `{userId, event, page, perPage}` → `{events, page, per_page, total}` (audit:read). */
    listAudit: ({ userId, event, page, perPage } = {}) =>
      api.get(`/api/admin/audit${buildQuery({ user_id: userId, event, page, per_page: perPage })}`),
  };
}

/** The API's 409 for the last active admin (docs/authorization.md, "The last admin"), in words. */
export const LAST_ADMIN_TEXT =
  'Refused: this is the last active admin, so it keeps the admin role and stays active. Give the admin role to another account first.';

/**
 * Say why an admin call failed, preferring the server's own words; the last
 * admin's 409 and a refused escalation (403 insufficient_scope) get a
 * sentence of their own.
 *
 * @param {unknown} error an ApiError, a TypeError from fetch, or anything
 * @returns {string} the `error_description` when the server gave one
 */
export function describeError(error) {
  if (error instanceof TypeError) return 'The server could not be reached. Check your connection.';
  if (error?.status === 409 && /last active admin/i.test(error.description || '')) return LAST_ADMIN_TEXT;
  if (error?.status === 403 && error.code === 'insufficient_scope' && !error.description) {
    return 'Refused: this would need a permission you do not hold. An admin change never hands out or touches more than you hold yourself.';
  }
  if (error?.description) return error.description;
  if (error?.status === 403) return 'Your account does not have the permission this needs.';
  if (error?.status === 404) return 'It was not found.';
  if (error?.status === 429) return 'Too many requests. Please wait a moment.';
  if (error?.status >= 500) return 'The server had a problem. Please try again in a moment.';
  return error?.message || 'Something went wrong.';
}
