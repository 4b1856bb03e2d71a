import { useAuth } from '../auth/AuthContext.jsx';
import { useResource } from './useResource.js';

/**
 * Whether email and password sign-in is on (`GET /api/public/info`,
 * `password_login`; docs/local-accounts.md). False until it is known.
 *
 * @returns {boolean}
 */
export function usePasswordLogin() {
  const { api } = useAuth();
  const info = useResource(() => api.get('/api/public/info', { auth: false }), [api]);
  return info.data?.password_login === true;
}

/**
 * The SPA's sign-in page (`/login`), coming back to `next` afterwards.
 *
 * @param {string} next a same-origin path
 * @returns {string}
 */
export function signInPagePath(next) {
  return `/login?next=${encodeURIComponent(next)}`;
}
