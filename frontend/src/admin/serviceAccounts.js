/**
 * Service accounts in the admin area (docs/machine-clients.md): the API
 * calls and the section entry. Managing them needs `service_accounts:write`;
 * handing out a role needs every permission it grants (the API answers
 * 403 insufficient_scope otherwise).
 */

function missingPermissions(held, needed) {
  const have = new Set(Array.isArray(held) ? held : []);
  return [...new Set(needed.filter((name) => typeof name === 'string'))].filter((name) => !have.has(name)).sort();
}

/** The admin section of service accounts (shown with `service_accounts:write`). */
export const SERVICE_ACCOUNTS_SECTION = {
  path: 'service-accounts',
  title: 'Service accounts',
  anyOf: ['service_accounts:write'],
  text: 'Client ids and secrets for scripts and other services (client credentials grant).',
};

/**
 * The service-account calls over the tab's API client.
 *
 * @param {ReturnType<import('../api/client.js').createApiClient>} api
 */
export function createServiceAccountsApi(api) {
  const path = (clientId) => `/api/admin/service-accounts/${encodeURIComponent(clientId)}`;
  return {
    /** → `{service_accounts: [{client_id, name, roles, permissions, created_at, ...}]}`. */
    list: () => api.get('/api/admin/service-accounts'),
    /** `{name, roles}` → `{client_id, client_secret, name, roles, created_at}`: the only time the secret is shown. */
    create: (account) => api.post('/api/admin/service-accounts', account),
    /** → `{client_secret}`: the old secret stops at once. */
    rotate: (clientId) => api.post(`${path(clientId)}/secret`),
    /** → null (204): its tokens are refused within seconds. */
    remove: (clientId) => api.delete(path(clientId)),
  };
}

/**
 * Whether a role may be handed to a new service account by the caller.
 *
 * @param {unknown} held the caller's permissions
 * @param {{permissions?: unknown}} role a role of GET /api/admin/roles
 * @returns {{disabled: boolean, reason: string|null}}
 */
export function serviceAccountRoleChoice(held, role) {
  if (!Array.isArray(role?.permissions)) return { disabled: true, reason: 'what this role grants is not known' };
  const missing = missingPermissions(held, role.permissions);
  if (missing.length === 0) return { disabled: false, reason: null };
  return { disabled: true, reason: `grants ${missing.join(', ')}, which you do not hold` };
}

/**
 * A curl command that gets a token with the client's credentials.
 *
 * @param {string} origin e.g. `window.location.origin`
 * @param {string} clientId
 * @returns {string}
 */
export function tokenCurl(origin, clientId) {
  return `curl -s -u '${clientId}:<client_secret>' -d grant_type=client_credentials ${origin}/api/auth/token`;
}
