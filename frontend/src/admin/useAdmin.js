import { useMemo } from 'react';
import { useAuth } from '../auth/AuthContext.jsx';
import { createAdminApi } from './adminApi.js';
import { adminCapabilities } from './permissions.js';

/**
 * The admin API of the tab, what the token allows (`can`), and the id of
 * the signed-in admin (the token's `sub`), for marking "you".
 */
export function useAdmin() {
  const { api, permissions, claims } = useAuth();
  const admin = useMemo(() => createAdminApi(api), [api]);
  const key = permissions.join(' ');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const can = useMemo(() => adminCapabilities(permissions), [key]);
  const currentUserId = claims?.sub === undefined || claims?.sub === null ? null : String(claims.sub);
  return { api, admin, can, currentUserId };
}
