import { Link, useSearchParams } from 'react-router-dom';
import { loginUrl, useAuth } from '../auth/AuthContext.jsx';
import { safeNextPath } from '../auth/callback.js';
import { SignInButton } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { usePasswordLogin } from '../hooks/usePasswordLogin.js';
import PasswordSignIn from './PasswordSignIn.jsx';

/** What went wrong, per error code of the login callback (docs/interface.md). */
export const LOGIN_ERRORS = {
  access_denied: {
    title: 'Sign-in was cancelled',
    text: 'You cancelled the sign-in, or Google did not grant access. Nothing was changed.',
  },
  invalid_state: {
    title: 'Sign-in expired',
    text: 'The sign-in took too long or was started in another browser or tab, so it could not be matched to this one. Please start again.',
  },
  invalid_id_token: {
    title: 'Sign-in could not be verified',
    text: 'The answer from Google could not be verified. Please try again; if it keeps happening, contact an administrator.',
  },
  email_not_verified: {
    title: 'Email address not verified',
    text: 'The email address of your Google account is not verified. Verify it with Google, then sign in again.',
  },
  not_allowed: {
    title: 'Account not allowed',
    text: 'This Google account is not allowed to use this service. Sign in with another account, or ask an administrator to allow your email address.',
  },
  account_disabled: {
    title: 'Account disabled',
    text: 'This account has been disabled. Contact an administrator if you think this is a mistake.',
  },
  provider_error: {
    title: 'Google sign-in is unavailable',
    text: 'The sign-in service had a problem or could not be reached. Please try again in a moment.',
  },
  // Set by the SPA itself when a callback fragment is refused (auth/callback.js).
  sign_in_not_from_this_browser: {
    title: 'This sign-in link did not start in this browser',
    text: 'The link carried a sign-in that was started somewhere else, so it was ignored: nobody was signed in with it. If you want to use this service, sign in yourself.',
    action: 'Sign in',
  },
  sign_in_unconfirmed: {
    title: 'Sign-in could not be confirmed',
    text: 'The server could not be reached to confirm that this sign-in started in this browser, so it was not used. Check your connection, then sign in again.',
    action: 'Sign in',
  },
};

const GENERIC_ERROR = {
  title: 'Sign-in failed',
  text: 'Something went wrong while signing you in. Please try again.',
};

/** `/login` and `/login?error=<code>`. */
export default function LoginPage() {
  const [params] = useSearchParams();
  const { status } = useAuth();
  const passwordLogin = usePasswordLogin();
  // `/login?next=/notes` (the header's and the guard's link): both ways of
  // signing in come back there.
  const next = params.has('next') ? safeNextPath(params.get('next')) : '/profile';
  const code = params.get('error');
  const known = code && Object.hasOwn(LOGIN_ERRORS, code) ? LOGIN_ERRORS[code] : null;
  const problem = code ? known || GENERIC_ERROR : null;
  useDocumentTitle(problem ? problem.title : 'Sign in');

  if (problem) {
    return (
      <section className="panel narrow" aria-labelledby="login-title">
        <h1 id="login-title">{problem.title}</h1>
        <div className="alert alert-error" role="alert">
          <p>{problem.text}</p>
        </div>
        {/^[a-z0-9_]{1,64}$/.test(code) && <p className="muted small">Error code: <code>{code}</code></p>}
        <div className="actions">
          <a className="button button-primary" href={loginUrl('/profile')}>
            {problem.action || 'Try again'}
          </a>
          <Link className="button button-ghost" to="/">
            Back to the home page
          </Link>
        </div>
      </section>
    );
  }

  return (
    <section className="panel narrow center" aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      {status === 'authenticated' ? (
        <>
          <p>You are already signed in.</p>
          <Link className="button button-primary" to="/profile">
            Go to your profile
          </Link>
        </>
      ) : (
        <>
          <p>Use your Google account. You will come back here afterwards.</p>
          <SignInButton next={next} />
          {passwordLogin && <PasswordSignIn next={next} registered={params.get('registered') === '1'} />}
        </>
      )}
    </section>
  );
}
