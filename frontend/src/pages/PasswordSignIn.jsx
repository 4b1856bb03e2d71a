import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { signInWithPassword } from '../auth/password.js';
import { EmailField, TextField } from '../components/fields.jsx';
import { Alert, BusyButton } from '../components/ui.jsx';

/**
 * "Email and password" sign-in (docs/local-accounts.md), shown on the
 * sign-in page beside Google when the server enables it. A wrong password
 * and an unknown email get the same answer, on purpose.
 */
export default function PasswordSignIn({ next = '/profile', registered = false }) {
  const { api } = useAuth();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const result = await signInWithPassword(api, email, password);
    setBusy(false);
    if (result.ok) {
      navigate(next, { replace: true });
      return;
    }
    setPassword('');
    setProblem(result.message);
  }

  return (
    // Not a labelled region: its name would also match the "Email" field's label.
    <section className="password-sign-in">
      <h2>Email and password</h2>
      {registered && <Alert kind="success">Your account was created. Sign in with it now.</Alert>}
      <form onSubmit={submit} className="stack-form" noValidate>
        <EmailField id="password-email" label="Email" autoComplete="username" value={email} onChange={setEmail} />
        <TextField
          id="password-password"
          label="Password"
          type="password"
          autoComplete="current-password"
          maxLength={128}
          value={password}
          onChange={setPassword}
          required
        />
        {problem && (
          <Alert kind="error" title="Could not sign in">
            {problem}
          </Alert>
        )}
        <div className="actions">
          <BusyButton type="submit" className="button button-primary" busy={busy} busyLabel="Signing in…" disabled={!email.trim() || !password}>
            Sign in
          </BusyButton>
          <Link className="button button-ghost" to="/register">
            Create an account
          </Link>
        </div>
      </form>
    </section>
  );
}
