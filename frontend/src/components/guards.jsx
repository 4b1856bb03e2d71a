import { Link, Outlet, useLocation } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { signInPagePath, usePasswordLogin } from '../hooks/usePasswordLogin.js';
import { Loading, SignInButton } from './ui.jsx';

/**
 * Show the nested routes to signed-in users only. Anonymous visitors get a
 * sign-in prompt that comes back to the same page; there is no automatic
 * redirect to the provider, which would sign a user straight back in after
 * signing out.
 */
export function RequireAuth() {
  const { status } = useAuth();
  const location = useLocation();
  if (status === 'loading') return <Loading label="Restoring your session…" />;
  if (status === 'anonymous') return <SignInRequired next={`${location.pathname}${location.search}`} />;
  return <Outlet />;
}

function SignInRequired({ next }) {
  useDocumentTitle('Sign in required');
  const passwordLogin = usePasswordLogin();
  return (
    <section className="panel narrow center" aria-labelledby="signin-required-title">
      <h1 id="signin-required-title">Sign in required</h1>
      <p>This page is only available to signed-in users.</p>
      <SignInButton next={next} />
      {passwordLogin && (
        <p>
          <Link to={signInPagePath(next)}>Sign in with email and password</Link>
        </p>
      )}
    </section>
  );
}

function NotAuthorised({ anyOf }) {
  useDocumentTitle('Not authorised');
  return (
    <section className="panel narrow center" aria-labelledby="forbidden-title">
      <h1 id="forbidden-title">Not authorised</h1>
      <p>Your account does not have the permission this page needs ({anyOf.join(' or ')}).</p>
      <p className="muted small">If it was granted a moment ago, it shows after your next sign-in or token refresh.</p>
    </section>
  );
}

/**
 * Show children only when the token carries one of `anyOf`; else a "Not
 * authorised" page (and the children never mount, so they request nothing).
 * It leaves the document title to the children: effects run child first, so
 * setting it here too would overwrite theirs.
 */
export function RequirePermission({ anyOf, children }) {
  const { hasAnyPermission } = useAuth();
  if (!hasAnyPermission(anyOf)) return <NotAuthorised anyOf={anyOf} />;
  return children;
}
