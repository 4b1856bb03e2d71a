import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { PASSWORD_RULES, passwordLengthProblem, registerAccount } from '../auth/password.js';
import { EmailField, TextField } from '../components/fields.jsx';
import { Alert, BusyButton, Loading } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';

/**
 * `/register`: create a local account (docs/local-accounts.md) when the
 * server enables email and password sign-in. The rules are shown before
 * submitting; the server checks them all and says what is wrong.
 */
export default function RegisterPage() {
  const { api, status } = useAuth();
  const navigate = useNavigate();
  useDocumentTitle('Create an account');
  const info = useResource(() => api.get('/api/public/info', { auth: false }), [api]);
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState(false);
  const [showPassword, setShowPassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);

  if (info.loading && !info.data) return <Loading />;
  if (!info.data?.password_login) {
    return (
      <section className="panel narrow" aria-labelledby="register-title">
        <h1 id="register-title">Create an account</h1>
        <p>Accounts with a password are not enabled here. Sign in with Google instead.</p>
        <Link className="button button-primary" to="/login">
          Go to the sign-in page
        </Link>
      </section>
    );
  }

  const lengthProblem = passwordLengthProblem(password);

  async function submit(event) {
    event.preventDefault();
    setTouched(true);
    if (lengthProblem) return;
    setBusy(true);
    setProblem(null);
    const result = await registerAccount(api, { email, password, name });
    setBusy(false);
    if (result.ok) {
      navigate('/login?registered=1', { replace: true });
      return;
    }
    setProblem(result.message);
  }

  return (
    <section className="panel narrow" aria-labelledby="register-title">
      <h1 id="register-title">Create an account</h1>
      {status === 'authenticated' && <Alert kind="info">You are already signed in; you can still create another account.</Alert>}
      <div className="password-rules" id="password-rules">
        <h2>Password rules</h2>
        <ul>
          {PASSWORD_RULES.map((rule) => (
            <li key={rule}>{rule}</li>
          ))}
        </ul>
      </div>
      <form onSubmit={submit} className="stack-form" noValidate>
        <EmailField id="register-email" label="Email" autoComplete="email" value={email} onChange={setEmail} />
        <TextField id="register-name" label="Name" type="text" autoComplete="name" maxLength={255} value={name} onChange={setName} />
        <TextField
          id="register-password"
          label="Password"
          type={showPassword ? 'text' : 'password'}
          autoComplete="new-password"
          aria-describedby="password-rules register-password-hint"
          value={password}
          onChange={setPassword}
          required
        >
          <p id="register-password-hint" className={`small ${touched && lengthProblem ? 'field-error' : 'muted'}`}>
            {lengthProblem || 'Long enough.'}
          </p>
          <label className="small">
            <input type="checkbox" checked={showPassword} onChange={(event) => setShowPassword(event.target.checked)} /> Show
            what I type
          </label>
        </TextField>
        {problem && (
          <Alert kind="error" title="Could not create the account">
            {problem}
          </Alert>
        )}
        <div className="actions">
          <BusyButton type="submit" className="button button-primary" busy={busy} busyLabel="Creating…" disabled={!email.trim()}>
            Create account
          </BusyButton>
          <Link className="button button-ghost" to="/login">
            I already have an account
          </Link>
        </div>
      </form>
    </section>
  );
}
