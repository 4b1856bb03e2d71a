import { useState } from 'react';
import { useAuth } from '../auth/AuthContext.jsx';
import { SessionEndedError } from '../api/client.js';
import { Alert, BusyButton, ErrorMessage, LabelledTime, Loading, PageHead } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useRemoval } from '../hooks/useRemoval.js';
import { useResource } from '../hooks/useResource.js';
import { describeUserAgent } from '../lib/format.js';

function SessionItem({ session, onRevoke, busy }) {
  const { signOut, setNotice } = useAuth();
  const device = describeUserAgent(session.user_agent);
  const [signingOut, setSigningOut] = useState(false);

  async function signOutHere() {
    setSigningOut(true);
    try {
      await signOut();
    } catch {
      setNotice({ kind: 'error', text: 'Signing out did not work. Please try again.' });
      setSigningOut(false);
    }
  }

  return (
    <li className={`session${session.current ? ' session-current' : ''}`} data-testid="session" data-session-id={session.id}>
      <div className="session-main">
        <p className="session-device">
          {device}
          {session.current && <span className="badge">This device</span>}
        </p>
        <p className="session-meta muted small">
          {session.ip && <span>IP {session.ip}</span>}
          <LabelledTime label="Signed in" value={session.created_at} />
          <LabelledTime label="Last active" value={session.last_used_at} />
        </p>
        {session.user_agent && (
          <p className="session-ua muted small break" title={session.user_agent}>
            {session.user_agent}
          </p>
        )}
      </div>
      <div className="session-actions">
        {session.current ? (
          <BusyButton className="button button-secondary button-small" onClick={signOutHere} busy={signingOut} busyLabel="Signing out…">
            Sign out
          </BusyButton>
        ) : (
          <BusyButton className="button button-danger button-small" onClick={() => onRevoke(session)} busy={busy}
            busyLabel="Revoking…" aria-label={`Revoke session: ${device}${session.ip ? `, IP ${session.ip}` : ''}`}>
            Revoke
          </BusyButton>
        )}
      </div>
    </li>
  );
}

function SignOutEverywhere() {
  const { signOutEverywhere } = useAuth();
  const [step, setStep] = useState('idle'); // idle | confirm | busy
  const [error, setError] = useState(null);

  async function confirm() {
    setStep('busy');
    setError(null);
    try {
      await signOutEverywhere();
    } catch (e) {
      if (e instanceof SessionEndedError) return;
      setError(e);
      setStep('confirm');
    }
  }

  return (
    <section className="panel danger-zone" aria-labelledby="everywhere-title">
      <h2 id="everywhere-title">Sign out everywhere</h2>
      <p className="muted">Ends every session of your account, on all devices, this one included.</p>
      {error && (
        <Alert kind="error" title="Could not sign out everywhere">
          {error.description || error.message || 'Please try again.'}
        </Alert>
      )}
      {step === 'idle' ? (
        <button type="button" className="button button-danger" onClick={() => setStep('confirm')}>
          Sign out everywhere
        </button>
      ) : (
        <div className="actions" role="group" aria-label="Confirm signing out everywhere">
          <span>Sign out on every device?</span>
          <BusyButton className="button button-danger" onClick={confirm} busy={step === 'busy'} busyLabel="Signing out…" autoFocus>
            Yes, sign out everywhere
          </BusyButton>
          <button type="button" className="button button-ghost" onClick={() => setStep('idle')} disabled={step === 'busy'}>
            Cancel
          </button>
        </div>
      )}
    </section>
  );
}

export default function Sessions() {
  const { api } = useAuth();
  useDocumentTitle('Devices');
  const list = useResource(() => api.get('/api/auth/sessions'), [api]);
  const [message, setMessage] = useState(null);
  const removal = useRemoval(setMessage);

  const sessions = (Array.isArray(list.data?.sessions) ? list.data.sessions : []).filter((s) => !removal.removed.has(s.id));
  // This device first, then the most recently used.
  sessions.sort((a, b) => Number(Boolean(b.current)) - Number(Boolean(a.current)) || String(b.last_used_at || '').localeCompare(String(a.last_used_at || '')));

  function revoke(session) {
    return removal.remove(session.id, () => api.delete(`/api/auth/sessions/${encodeURIComponent(session.id)}`), {
      done: `Signed out ${describeUserAgent(session.user_agent)}.`,
      gone: 'That session had already ended.',
      failed: (error) => `Could not revoke the session: ${error.description || error.message}`,
    });
  }

  return (
    <>
      <PageHead title="Devices and sessions" resource={list} />
      <p className="muted">Every browser or device where you signed in has its own session. Revoke the ones you do not recognise.</p>
      {message && (
        <Alert kind={message.kind} onDismiss={() => setMessage(null)}>
          {message.text}
        </Alert>
      )}
      <section className="panel" aria-labelledby="sessions-title" aria-busy={list.loading}>
        <h2 id="sessions-title" className="visually-hidden">
          Active sessions
        </h2>
        {list.loading && !list.data && <Loading label="Loading your sessions…" />}
        {list.error && <ErrorMessage error={list.error} what="your sessions" onRetry={list.reload} />}
        {list.data && !list.error && sessions.length === 0 && <p className="muted">No active sessions.</p>}
        {sessions.length > 0 && (
          <ul className="session-list">
            {sessions.map((session) => (
              <SessionItem key={session.id} session={session} onRevoke={revoke} busy={removal.removing === session.id} />
            ))}
          </ul>
        )}
      </section>
      <SignOutEverywhere />
    </>
  );
}
