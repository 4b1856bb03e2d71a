import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { decodeJwtClaims } from '../api/client.js';

const AuthContext = createContext(null);

export const SESSION_ENDED_MESSAGE = 'Your session has ended, please sign in again.';

const ENDED_MESSAGES = {
  expired: SESSION_ENDED_MESSAGE,
  'signed-out': 'You signed out in another tab.',
};

/** The URL that starts the login; a full-page navigation, never fetch. */
export function loginUrl(next = '/profile') {
  return `/api/auth/login?next=${encodeURIComponent(next)}`;
}

/**
 * Signed-in state of the tab, kept in sync with the API client's token.
 *
 * status: `loading` (restoring through the refresh cookie), `authenticated`
 * or `anonymous`. `notice` is a one-off message for the landing page
 * (session ended, signed out).
 */
export function AuthProvider({ api, children }) {
  const navigate = useNavigate();
  const [token, setToken] = useState(() => api.getAccessToken());
  const [restoring, setRestoring] = useState(() => api.getAccessToken() === null);
  const [notice, setNotice] = useState(null);

  useEffect(() => {
    // Another tab may have handed this one a token between the client's
    // creation and this subscription: start from the client's current value.
    setToken(api.getAccessToken());
    return api.subscribe(setToken);
  }, [api]);

  useEffect(() => {
    api.setOnSessionEnded(({ reason }) => {
      setNotice({ kind: reason === 'expired' ? 'warning' : 'info', text: ENDED_MESSAGES[reason] || SESSION_ENDED_MESSAGE });
      navigate('/', { replace: true });
    });
  }, [api, navigate]);

  useEffect(() => {
    if (!restoring) return undefined;
    let active = true;
    api
      .restoreSession()
      .catch(() => {
        if (active) {
          setNotice({
            kind: 'error',
            text: 'We could not reach the server to restore your session. Check your connection and reload the page.',
          });
        }
      })
      .finally(() => {
        if (active) {
          setToken(api.getAccessToken());
          setRestoring(false);
        }
      });
    return () => {
      active = false;
    };
  }, [api, restoring]);

  const signOut = useCallback(async () => {
    await api.logout();
    setNotice({ kind: 'info', text: 'You have signed out.' });
    navigate('/', { replace: true });
  }, [api, navigate]);

  const signOutEverywhere = useCallback(async () => {
    await api.logoutAll();
    setNotice({ kind: 'info', text: 'You have signed out on every device.' });
    navigate('/', { replace: true });
  }, [api, navigate]);

  const value = useMemo(() => {
    const claims = token ? decodeJwtClaims(token) || {} : null;
    const permissions = Array.isArray(claims?.permissions) ? claims.permissions : [];
    const roles = Array.isArray(claims?.roles) ? claims.roles : [];
    return {
      api,
      status: token ? 'authenticated' : restoring ? 'loading' : 'anonymous',
      token,
      claims,
      roles,
      permissions,
      hasPermission: (permission) => permissions.includes(permission),
      hasAnyPermission: (list) => list.some((p) => permissions.includes(p)),
      notice,
      setNotice,
      dismissNotice: () => setNotice(null),
      signOut,
      signOutEverywhere,
    };
  }, [api, token, restoring, notice, signOut, signOutEverywhere]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth() {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth() needs an <AuthProvider> above it');
  return value;
}
