import { useState } from 'react';
import { EmailField } from '../components/fields.jsx';
import { Loading, PageHead, Time } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { AdminError, FormPanel } from './components.jsx';
import { useAction, useAdmin } from './useAdmin.js';

function AllowEmailForm({ onAllowed }) {
  const { admin } = useAdmin();
  const [email, setEmail] = useState('');
  const action = useAction();

  async function allow() {
    // The server checks the address and says what is wrong with it.
    const answer = await admin.allowEmail(email.trim());
    setEmail('');
    onAllowed();
    return { kind: 'success', text: `${answer?.email || email.trim()} may now sign in.` };
  }

  return (
    <FormPanel id="allow-title" title="Allow an email" formClassName="filter-bar" action={action} task={allow}
      submitLabel="Allow" busyLabel="Allowing…" ready={email.trim() !== ''}>
      <EmailField id="allow-email" label="Email address" value={email} onChange={setEmail} autoComplete="off" maxLength={320} />
    </FormPanel>
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
      <PageHead title="Allowed emails" resource={can.readUsers ? list : null} />
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
