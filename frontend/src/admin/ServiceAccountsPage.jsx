import { useMemo, useState } from 'react';
import { TextField } from '../components/fields.jsx';
import { Alert, CopyButton, Loading, PageHead } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { AdminError, FormPanel, RolesCell, TimeCell } from './components.jsx';
import { createServiceAccountsApi, serviceAccountRoleChoice, tokenCurl } from './serviceAccounts.js';
import { useAction, useAdmin } from './useAdmin.js';

/** A secret shown once, with a copy button and a curl example. */
function SecretOnce({ clientId, secret, onDone, rotated = false }) {
  return (
    <Alert kind="warning" title={rotated ? 'New client secret' : 'Service account created'}>
      <p>
        Copy the secret now: it is shown only this once and is stored only as a hash.
        {rotated && ' The old secret has stopped working, and tokens issued with it are refused within seconds.'}
      </p>
      <dl className="secret-once">
        <dt>Client id</dt>
        <dd>
          <code data-testid="client-id">{clientId}</code>
        </dd>
        <dt>Client secret</dt>
        <dd>
          <code data-testid="client-secret">{secret}</code> <CopyButton label="Copy secret" getText={() => secret} />
        </dd>
      </dl>
      <p className="small">Get a token:</p>
      <pre className="small">{tokenCurl(window.location.origin, clientId)}</pre>
      <button type="button" className="button button-secondary button-small" onClick={onDone}>
        I have stored it
      </button>
    </Alert>
  );
}

function CreateForm({ accounts, roles, onCreated }) {
  const { held } = useAdmin();
  const [name, setName] = useState('');
  const [checked, setChecked] = useState(new Set());
  const action = useAction();

  async function create() {
    const created = await accounts.create({ name: name.trim(), roles: [...checked].sort() });
    setName('');
    setChecked(new Set());
    onCreated(created);
    return null;
  }

  return (
    <FormPanel id="create-sa-title" title="Create a service account" action={action} task={create}
      submitLabel="Create" busyLabel="Creating…" ready={name.trim() !== ''}>
      <TextField id="sa-name" label="Name" type="text" maxLength={255} value={name} onChange={setName} required />
      <fieldset className="checks">
        <legend>Roles</legend>
        {roles.map((role) => {
          const choice = serviceAccountRoleChoice(held, role);
          return (
            <label key={role.name} className={choice.disabled ? 'muted' : ''}>
              <input
                type="checkbox"
                checked={checked.has(role.name)}
                disabled={choice.disabled || action.busy}
                onChange={(event) => {
                  const next = new Set(checked);
                  if (event.target.checked) next.add(role.name);
                  else next.delete(role.name);
                  setChecked(next);
                }}
              />{' '}
              {role.name}
              {choice.reason && <span className="small"> ({choice.reason})</span>}
            </label>
          );
        })}
      </fieldset>
    </FormPanel>
  );
}

function AccountRow({ account, accounts, onSecret, onChanged }) {
  const { busy, message, setMessage, run } = useAction();
  async function rotate() {
    if (!window.confirm(`Give ${account.name} a new secret? The current one stops working at once.`)) return;
    await run(async () => {
      const answer = await accounts.rotate(account.client_id);
      onSecret({ clientId: account.client_id, secret: answer.client_secret, rotated: true });
      return null;
    });
  }
  async function remove() {
    if (!window.confirm(`Delete ${account.name}? Its tokens are refused within seconds.`)) return;
    await run(async () => {
      await accounts.remove(account.client_id);
      onChanged();
      return null;
    });
  }
  return (
    <tr data-testid="service-account">
      <td data-label="Name">{account.name}</td>
      <td data-label="Client id">
        <code>{account.client_id}</code>
      </td>
      <RolesCell roles={account.roles} />
      <TimeCell label="Created" value={account.created_at} />
      <TimeCell label="Last token" value={account.last_used_at} empty="never" />
      <td data-label="Actions">
        <button type="button" className="button button-secondary button-small" onClick={rotate} disabled={busy}>
          New secret
        </button>{' '}
        <button type="button" className="button button-danger button-small" onClick={remove} disabled={busy}>
          Delete
        </button>
        {message && (
          <Alert kind={message.kind} onDismiss={() => setMessage(null)}>
            {message.text}
          </Alert>
        )}
      </td>
    </tr>
  );
}

/** `/admin/service-accounts`: list, create (secret shown once), new secret, delete. */
export default function ServiceAccountsPage() {
  const { api, admin } = useAdmin();
  useDocumentTitle('Service accounts');
  const accounts = useMemo(() => createServiceAccountsApi(api), [api]);
  const list = useResource(() => accounts.list(), [accounts]);
  const roles = useResource(() => admin.listRoles(), [admin]);
  const [secret, setSecret] = useState(null);
  const rows = Array.isArray(list.data?.service_accounts) ? list.data.service_accounts : [];

  return (
    <>
      <PageHead title="Service accounts" resource={list} />
      <p className="muted">
        A service account lets a script or another service call the API with the OAuth 2.0 client credentials grant:
        it sends its client id and secret to <code>POST /api/auth/token</code> and gets an access token carrying the
        permissions of its roles. You can only give roles whose permissions you hold yourself.
      </p>
      {secret && <SecretOnce {...secret} onDone={() => setSecret(null)} />}
      {roles.error && <AdminError error={roles.error} title="Could not load the roles" onRetry={roles.reload} />}
      <CreateForm
        accounts={accounts}
        roles={Array.isArray(roles.data?.roles) ? roles.data.roles : []}
        onCreated={(created) => {
          setSecret({ clientId: created.client_id, secret: created.client_secret });
          list.reload();
        }}
      />
      <section className="panel" aria-labelledby="sa-list-title" aria-busy={list.loading}>
        <h2 id="sa-list-title">Accounts</h2>
        {list.loading && !list.data && <Loading label="Loading the service accounts…" />}
        {list.error && <AdminError error={list.error} title="Could not load the service accounts" onRetry={list.reload} />}
        {list.data && !list.error && rows.length === 0 && <p className="muted">No service accounts yet.</p>}
        {rows.length > 0 && (
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Client id</th>
                <th scope="col">Roles</th>
                <th scope="col">Created</th>
                <th scope="col">Last token</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((account) => (
                <AccountRow
                  key={account.client_id}
                  account={account}
                  accounts={accounts}
                  onSecret={setSecret}
                  onChanged={list.reload}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
