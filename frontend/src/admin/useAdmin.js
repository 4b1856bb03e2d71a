import { useCallback, useMemo, useState } from 'react';
import { SessionEndedError } from '../api/client.js';
import { useAuth } from '../auth/AuthContext.jsx';
import { createAdminApi, describeError } from './adminApi.js';
import { adminCapabilities } from './permissions.js';

/**
 * The admin API of the tab, what the token allows (`can`), the token's
 * permissions (`held`), and the id of the signed-in admin (the token's
 * `sub`), for marking "you".
 */
export function useAdmin() {
  const { api, permissions, claims } = useAuth();
  const admin = useMemo(() => createAdminApi(api), [api]);
  const key = permissions.join(' ');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const can = useMemo(() => adminCapabilities(permissions), [key]);
  const currentUserId = claims?.sub === undefined || claims?.sub === null ? null : String(claims.sub);
  // `held`: the token's permissions, for not offering what the API refuses (permissions.js).
  return { api, admin, can, currentUserId, held: permissions };
}

/**
 * State of one admin form's action: `busy` while it runs, and the `message`
 * it leaves (success, or the server's error). `run(task)` clears the
 * message, awaits `task()` and shows what it returns (a message object, or
 * nothing). An ended session shows nothing: the app is already going back
 * to the landing page.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);
  const run = useCallback(async (task) => {
    setBusy(true);
    setMessage(null);
    try {
      const success = await task();
      if (success) setMessage(success);
    } catch (error) {
      if (error instanceof SessionEndedError) return;
      setMessage({ kind: 'error', text: describeError(error), code: error?.code });
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, message, setMessage, run };
}
