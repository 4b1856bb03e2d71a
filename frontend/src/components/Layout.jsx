import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Outlet, useLocation } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { signInPagePath, usePasswordLogin } from '../hooks/usePasswordLogin.js';
import { NAV_ITEMS } from '../routes.js';
import { Alert, BusyButton, SignInButton } from './ui.jsx';

function SignOutButton() {
  const { signOut, setNotice } = useAuth();
  const [busy, setBusy] = useState(false);
  async function onClick() {
    setBusy(true);
    try {
      await signOut();
    } catch {
      setNotice({ kind: 'error', text: 'Signing out did not work because the server could not be reached. Please try again.' });
      setBusy(false);
    }
  }
  return (
    <BusyButton className="button button-secondary button-small" onClick={onClick} busy={busy} busyLabel="Signing out…">
      Sign out
    </BusyButton>
  );
}

export default function Layout() {
  const { status, claims, hasAnyPermission, notice, dismissNotice } = useAuth();
  const passwordLogin = usePasswordLogin();
  const location = useLocation();
  const mainRef = useRef(null);
  const firstRender = useRef(true);

  // Move focus to the new page after client-side navigation, so keyboard
  // and screen-reader users start at its top.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    mainRef.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [location.pathname]);

  const items = NAV_ITEMS.filter((item) => !item.anyPermission || hasAnyPermission(item.anyPermission));

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="container header-inner">
          <Link to="/" className="brand" aria-label="authgw home">
            <img src="/favicon.svg" alt="" width="28" height="28" />
            <span>authgw</span>
          </Link>
          {status === 'authenticated' && (
            <nav aria-label="Main" className="main-nav">
              <ul>
                {items.map((item) => (
                  <li key={item.to}>
                    <NavLink to={item.to}>{item.label}</NavLink>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          <div className="header-account">
            {status === 'loading' && <span className="muted small">Checking session…</span>}
            {status === 'authenticated' && (
              <>
                <span className="account-email" title={claims?.email}>
                  {claims?.email || claims?.name || 'Signed in'}
                </span>
                <SignOutButton />
              </>
            )}
            {status === 'anonymous' && location.pathname !== '/' && location.pathname !== '/login' && (
              passwordLogin ? (
                // The sign-in page offers Google and email and password.
                <Link className="button button-small" to={signInPagePath(location.pathname)}>Sign in</Link>
              ) : (
                <SignInButton next={location.pathname} label="Sign in" className="button-small" />
              )
            )}
          </div>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="container main">
        {notice && (
          <Alert kind={notice.kind} onDismiss={dismissNotice}>
            {notice.text}
          </Alert>
        )}
        <Outlet />
      </main>
      <footer className="site-footer">
        <div className="container footer-inner">
          <span>authgw: Google sign-in, short-lived JWTs, one gateway.</span>
          <span className="footer-links">
            <a href="/.well-known/jwks.json">JWK Set</a>
            <a href="/api/public/info">Public info</a>
          </span>
        </div>
      </footer>
    </div>
  );
}
