import { useEffect } from 'react';
import { useNavigate } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { Loading, SignInButton } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';

/**
 * `/auth/callback`. main.jsx has already taken the token out of the fragment
 * and the address bar; this page only moves on to `next`, replacing its own
 * history entry so Back does not return here.
 */
export default function AuthCallback({ callback }) {
  const { status } = useAuth();
  const navigate = useNavigate();
  useDocumentTitle('Signing in');

  const hasToken = Boolean(callback?.accessToken);
  useEffect(() => {
    if (hasToken || status === 'authenticated') {
      navigate(hasToken ? callback.next : '/', { replace: true });
    }
  }, [hasToken, status, callback, navigate]);

  if (hasToken || status !== 'anonymous') return <Loading label="Signing you in…" />;
  return (
    <section className="panel narrow center" aria-labelledby="callback-title">
      <h1 id="callback-title">This sign-in link has already been used</h1>
      <p>The sign-in answer is no longer here (for example after a reload). Please sign in again.</p>
      <SignInButton />
    </section>
  );
}
