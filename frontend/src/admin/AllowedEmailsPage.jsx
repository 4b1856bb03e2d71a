import { useState } from 'react';
import { Alert, Loading } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { AdminError, Time } from './components.jsx';
import { useAction, useAdmin } from './useAdmin.js';

function AllowEmailForm({ onAllowed }) {
  const { admin } = useAdmin();
  const [email, setEmail] = useState('');
  const { busy, message, run } = useAction();

  async function submit(event) {
    event.preventDefault();
    await run(async () => {
      // The server checks the address and says what is wrong with it.
      const answer = await admin.allowEmail(email.trim());
      setEmail('');
      onAllowed();
      return { kind: 'success', text: `${answer?.email || email.trim()} may now sign in.` };
    });
  }

  return (
    <section className="panel" aria-labelledby="allow-title">
      <h2 id="allow-title">Allow an email</h2>
      <form className="filter-bar" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="allow-email">Email address</label>
          <input
            id="allow-email"
            type="email"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            autoComplete="off"
            spellCheck={false}
            maxLength={320}
            required
          />
        </div>
        <button type="submit" className="button button-primary" disabled={busy || email.trim() === ''}>
          {busy ? 'Allowing…' : 'Allow'}
        </button>
      </form>
      {message && (
        <Alert kind={message.kind} onDismiss={() => setMessage(null)}>
          {message.text}
          {message.code && <span className="error-code"> ({message.code})</span>}
        </Alert>
      )}
    </section>
  );
}

/** `/admin/allowed-emails`: the emails allowed ahead of their first login. */
export default function AllowedEmailsPage() {
  const { admin, can } = useAdmin();
  useDocumentTitle('Allowed emails');
  const list = useResource(
    () => (can.readUsers ? admin.listAllowedEmails() : Promise.resolve(null)),
    [admin, can.readUsers],
  );
  const emails = Array.isArray(list.data?.allowed_emails) ? list.data.allowed_emails : [];

  return (
    <>
      <div className="page-head">
        <h1>Allowed emails</h1>
        {can.readUsers && (
          <button type="button" className="button button-ghost button-small" onClick={list.reload} disabled={list.loading}>
            {list.loading && list.data ? 'Refreshing…' : 'Refresh'}
          </button>
        )}
      </div>
      <p className="muted">
        When the server has an allowlist (<code>ALLOWED_EMAILS</code> or <code>ALLOWED_EMAIL_DOMAINS</code>), only
        those accounts can sign in; an address allowed here can too, before its first login. Without an allowlist any
        verified account can sign in.
      </p>
      {can.writeUsers && <AllowEmailForm onAllowed={list.reload} />}
      {can.readUsers && (
        <section className="panel" aria-labelledby="allowed-title" aria-busy={list.loading}>
          <h2 id="allowed-title">Allowed</h2>
          {list.loading && !list.data && <Loading label="Loading the allowed emails…" />}
          {list.error && <AdminError error={list.error} title="Could not load the allowed emails" onRetry={list.reload} />}
          {list.data && !list.error && emails.length === 0 && <p className="muted">No emails allowed here yet.</p>}
          {emails.length > 0 && (
            <table className="data-table">
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Allowed</th>
                </tr>
              </thead>
              <tbody>
                {emails.map((row) => (
                  <tr key={row.email} data-testid="allowed-email">
                    <td data-label="Email" className="break">
                      {row.email}
                    </td>
                    <td data-label="Allowed">
                      <Time value={row.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
    </>
  );
}
