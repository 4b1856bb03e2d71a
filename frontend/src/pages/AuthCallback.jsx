import { useEffect } from 'react';
import { useNavigate } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { confirmCallbackTokenOnce } from '../auth/callback.js';
import { Loading, SignInButton } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';

/**
 * `/auth/callback`. main.jsx has already taken the token out of the fragment
 * and the address bar. This page confirms that the sign-in happened in this
 * browser (auth/callback.js, `confirmCallbackToken`), then moves on to
 * `next`, or to the sign-in page saying why the link was not used; either
 * way it replaces its own history entry so Back does not return here.
 */
export default function AuthCallback({ callback }) {
  const { api, status } = useAuth();
  const navigate = useNavigate();
  useDocumentTitle('Signing in');

  const fragmentToken = callback?.fragmentToken ?? null;
  const next = callback?.next ?? '/';

  useEffect(() => {
    if (!fragmentToken) return undefined;
    let active = true;
    confirmCallbackTokenOnce(api, fragmentToken).then((result) => {
      if (!active) return;
      navigate(result.ok ? next : `/login?error=${encodeURIComponent(result.reason)}`, { replace: true });
    });
    return () => {
      active = false;
    };
  }, [api, fragmentToken, next, navigate]);

  useEffect(() => {
    if (!fragmentToken && status === 'authenticated') navigate('/', { replace: true });
  }, [fragmentToken, status, navigate]);

  if (fragmentToken || status !== 'anonymous') return <Loading label="Signing you in…" />;
  return (
    <section className="panel narrow center" aria-labelledby="callback-title">
      <h1 id="callback-title">This sign-in link has already been used</h1>
      <p>The sign-in answer is no longer here (for example after a reload). Please sign in again.</p>
      <SignInButton />
    </section>
  );
}
