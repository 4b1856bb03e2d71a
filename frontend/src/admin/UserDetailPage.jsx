import { useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { SessionEndedError } from '../api/client.js';
import { Alert, BusyButton, Chips, Loading, PageHead, Time } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { describeUserAgent } from '../lib/format.js';
import { describeError, rolesToSave, sameNames } from './adminApi.js';
import { ActionMessage, AdminError, StatusBadge } from './components.jsx';
import { accountAccess, roleChoice } from './permissions.js';
import { useAction, useAdmin } from './useAdmin.js';

/**
 * The roles a user can be given: every role when the token may list them
 * (users:read or roles:write), else only the user's own roles (which can
 * then only be taken away). `user` is every account's and cannot be
 * unticked. Which of them the caller may tick is roleChoice()'s answer.
 */
function roleOptions(catalogue, userRoles) {
  const byName = new Map();
  for (const role of catalogue || []) byName.set(role.name, role);
  for (const name of userRoles) if (!byName.has(name)) byName.set(name, { name, description: '' });
  if (!byName.has('user')) byName.set('user', { name: 'user', description: 'Every account' });
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function RolesForm({ user, catalogue, isSelf, account, onSaved }) {
  const { api, admin, held } = useAdmin();
  const userRoles = user.roles || [];
  const rolesKey = userRoles.join(' ');
  const [checked, setChecked] = useState(() => new Set(userRoles));
  const { busy, message, setMessage, run } = useAction();
  const [refreshing, setRefreshing] = useState(false);

  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setChecked(new Set(userRoles)), [rolesKey]);

  const options = roleOptions(catalogue.data?.roles, userRoles);
  const unchanged = sameNames(rolesToSave(checked), rolesToSave(userRoles));

  function toggle(name, on) {
    setChecked((previous) => {
      const next = new Set(previous);
      if (on) next.add(name);
      else next.delete(name);
      return next;
    });
  }

  async function save(event) {
    event.preventDefault();
    await run(async () => {
      const updated = await admin.updateUser(user.id, { roles: rolesToSave(checked) });
      onSaved(updated);
      return {
        kind: 'success',
        text: isSelf
          ? 'Roles saved. Your own access token still carries the old roles until it is refreshed.'
          : `Roles saved. ${user.email} gets them with their next token refresh.`,
        self: isSelf,
      };
    });
  }

  async function refreshOwnToken() {
    setRefreshing(true);
    try {
      await api.refresh(api.getAccessToken());
      setMessage({ kind: 'success', text: 'Your access token now carries your new roles.' });
    } catch (error) {
      if (error instanceof SessionEndedError) return;
      setMessage({ kind: 'error', text: describeError(error), code: error?.code });
    } finally {
      setRefreshing(false);
    }
  }

  return (
    <form onSubmit={save}>
      {!account.editable && (
        <Alert kind="info" title="You cannot change this account">
          {account.reason}
        </Alert>
      )}
      <fieldset className="check-list">
        <legend className="visually-hidden">Roles of {user.email}</legend>
        {options.map((role) => {
          const fixed = role.name === 'user';
          const inputId = `role-${role.name}`;
          // Whether the account has it as saved: a ticked, unsaved role can be unticked again.
          const choice = roleChoice(held, role, userRoles.includes(role.name), account);
          const hint = fixed ? choice.reason : [role.description, choice.reason && `(${choice.reason})`].filter(Boolean).join(' ');
          return (
            <div key={role.name} className="check">
              <input
                id={inputId}
                type="checkbox"
                checked={fixed || checked.has(role.name)}
                disabled={fixed || busy || (choice.disabled && !checked.has(role.name)) || !account.editable}
                onChange={(event) => toggle(role.name, event.target.checked)}
                aria-describedby={hint ? `${inputId}-hint` : undefined}
              />
              <label htmlFor={inputId}>
                <span className="check-name">{role.name}</span>
                {hint && (
                  <span id={`${inputId}-hint`} className="muted small">
                    {' '}
                    {hint}
                  </span>
                )}
              </label>
            </div>
          );
        })}
      </fieldset>
      {catalogue.loading && !catalogue.data && <Loading label="Loading the roles…" />}
      {catalogue.error && <AdminError error={catalogue.error} title="Could not load the list of roles" onRetry={catalogue.reload} />}
      {catalogue.skipped && (
        <p className="muted small">Only this user's roles are listed: the list of every role needs users:read or roles:write.</p>
      )}
      <ActionMessage
        message={message}
        onDismiss={() => setMessage(null)}
        actions={
          message?.self && (
            <BusyButton className="button button-secondary button-small" onClick={refreshOwnToken} busy={refreshing} busyLabel="Refreshing…">
              Refresh my token now
            </BusyButton>
          )
        }
      />
      <div className="actions">
        <BusyButton type="submit" className="button button-primary" busy={busy} busyLabel="Saving…" disabled={unchanged || !account.editable}>
          Save roles
        </BusyButton>
        {!unchanged && !busy && <span className="muted small">Unsaved changes</span>}
      </div>
    </form>
  );
}

function ActivationControl({ user, isSelf, account, onSaved }) {
  const { admin } = useAdmin();
  const [step, setStep] = useState('idle'); // idle | confirm | busy
  const [message, setMessage] = useState(null);
  const messageRef = useRef(null);
  const deactivating = user.active;
  const blocked = deactivating && isSelf ? 'You cannot deactivate your own account.' : account.editable ? null : account.reason;

  useEffect(() => {
    if (message) messageRef.current?.focus();
  }, [message]);

  async function confirm() {
    setStep('busy');
    setMessage(null);
    try {
      const updated = await admin.updateUser(user.id, { active: !deactivating });
      onSaved(updated);
      setStep('idle');
      setMessage({
        kind: 'success',
        text: deactivating
          ? `${user.email} is deactivated and signed out on every device.`
          : `${user.email} is active again and can sign in.`,
      });
    } catch (error) {
      if (error instanceof SessionEndedError) return;
      setStep('confirm');
      setMessage({ kind: 'error', text: describeError(error), code: error?.code });
    }
  }

  return (
    <>
      <p className="muted">
        {deactivating
          ? 'Deactivating ends every session of this account at once and refuses its sign-ins until it is activated again.'
          : 'This account is deactivated: it cannot sign in.'}
      </p>
      {message && (
        <div ref={messageRef} tabIndex={-1} className="focus-target">
          <ActionMessage message={message} onDismiss={() => setMessage(null)} />
        </div>
      )}
      {step === 'idle' ? (
        <>
          <button
            type="button"
            className={`button ${deactivating ? 'button-danger' : 'button-primary'}`}
            onClick={() => setStep('confirm')}
            disabled={Boolean(blocked)}
            aria-describedby={blocked ? 'activation-blocked-hint' : undefined}
          >
            {deactivating ? 'Deactivate account' : 'Activate account'}
          </button>
          {blocked && (
            <p id="activation-blocked-hint" className="muted small">
              {blocked}
            </p>
          )}
        </>
      ) : (
        <div className="actions" role="group" aria-label={deactivating ? 'Confirm deactivation' : 'Confirm activation'}>
          <span>{deactivating ? `Deactivate ${user.email}?` : `Activate ${user.email}?`}</span>
          <BusyButton
            className={`button ${deactivating ? 'button-danger' : 'button-primary'}`}
            onClick={confirm}
            busy={step === 'busy'}
            busyLabel="Saving…"
            autoFocus
          >
            {deactivating ? 'Yes, deactivate' : 'Yes, activate'}
          </BusyButton>
          <button type="button" className="button button-ghost" onClick={() => setStep('idle')} disabled={step === 'busy'}>
            Cancel
          </button>
        </div>
      )}
    </>
  );
}

function SessionList({ sessions }) {
  if (sessions.length === 0) return <p className="muted">No active sessions.</p>;
  return (
    <ul className="session-list">
      {sessions.map((session) => (
        <li key={session.id} className="session" data-testid="admin-session">
          <div className="session-main">
            <p className="session-device">{describeUserAgent(session.user_agent)}</p>
            <p className="session-meta muted small">
              {session.ip && <span>IP {session.ip}</span>}
              <span>
                Signed in <Time value={session.created_at} />
              </span>
              <span>
                Last active <Time value={session.last_used_at} />
              </span>
            </p>
            {session.user_agent && (
              <p className="session-ua muted small" title={session.user_agent}>
                {session.user_agent}
              </p>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}

/** `/admin/users/<id>`: one account, its roles, sessions and activation. */
export default function UserDetailPage() {
  const { id } = useParams();
  const { admin, can, currentUserId, held } = useAdmin();
  const detail = useResource(() => admin.getUser(id), [admin, id]);
  const mayEditRoles = can.writeUsers;
  // GET /api/admin/roles answers users:read or roles:write: whoever grants roles sees them.
  const mayListRoles = can.readUsers || can.manageRoles;
  const catalogue = useResource(
    () => (mayEditRoles && mayListRoles ? admin.listRoles() : Promise.resolve(null)),
    [admin, mayEditRoles, mayListRoles],
  );
  const [user, setUser] = useState(null);

  useEffect(() => {
    if (detail.data) setUser(detail.data);
  }, [detail.data]);

  useDocumentTitle(user ? `User ${user.email}` : 'User');

  function onSaved(updated) {
    setUser((previous) => ({
      ...previous,
      ...updated,
      // Deactivation revoked every session; activation opens none.
      sessions: updated.active && previous.active ? previous.sessions : [],
    }));
  }

  const shown = user && String(user.id) === String(id) ? user : null;
  const isSelf = shown !== null && String(shown.id) === currentUserId;
  const account = accountAccess(held, shown);

  return (
    <>
      <p className="back-link">
        <Link to="/admin/users">← All users</Link>
      </p>
      <PageHead title={shown ? shown.name || shown.email : 'User'} resource={detail} titleClassName="break" />
      {detail.loading && !shown && <Loading label="Loading the user…" />}
      {detail.error && <AdminError error={detail.error} title="Could not load the user" onRetry={detail.reload} />}
      {shown && (
        <div className="grid-2">
          <section className="panel" aria-labelledby="account-title">
            <h2 id="account-title">Account</h2>
            <dl className="details">
              <div className="details-row">
                <dt>Email</dt>
                <dd className="break" data-testid="admin-user-email">
                  {shown.email}
                  {isSelf && <span className="badge badge-info">You</span>}
                </dd>
              </div>
              <div className="details-row">
                <dt>Name</dt>
                <dd>{shown.name || <span className="muted">—</span>}</dd>
              </div>
              <div className="details-row">
                <dt>ID</dt>
                <dd>
                  <code>{shown.id}</code>
                </dd>
              </div>
              <div className="details-row">
                <dt>Status</dt>
                <dd data-testid="admin-user-status">
                  <StatusBadge active={shown.active} />
                </dd>
              </div>
              <div className="details-row">
                <dt>Roles</dt>
                <dd>
                  <Chips items={shown.roles} label="Roles" />
                </dd>
              </div>
              <div className="details-row">
                <dt>Permissions</dt>
                <dd>
                  <Chips items={shown.permissions} label="Permissions" empty="none" />
                </dd>
              </div>
              <div className="details-row">
                <dt>Issuer</dt>
                <dd className="break">{shown.issuer || <span className="muted">—</span>}</dd>
              </div>
              <div className="details-row">
                <dt>Created</dt>
                <dd>
                  <Time value={shown.created_at} />
                </dd>
              </div>
              <div className="details-row">
                <dt>Last sign-in</dt>
                <dd>
                  <Time value={shown.last_login_at} empty="never" />
                </dd>
              </div>
            </dl>
            {can.readAudit && (
              <p className="panel-foot">
                <Link to={`/admin/audit?user_id=${encodeURIComponent(shown.id)}`}>Audit events of this user</Link>
              </p>
            )}
          </section>

          <div>
            {mayEditRoles && (
              <section className="panel" aria-labelledby="roles-title">
                <h2 id="roles-title">Roles</h2>
                <RolesForm
                  user={shown}
                  catalogue={{ ...catalogue, skipped: !mayListRoles }}
                  isSelf={isSelf}
                  account={account}
                  onSaved={onSaved}
                />
              </section>
            )}
            <section className="panel" aria-labelledby="user-sessions-title">
              <h2 id="user-sessions-title">Sessions</h2>
              <SessionList sessions={Array.isArray(shown.sessions) ? shown.sessions : []} />
            </section>
            {can.writeUsers && (
              <section className="panel danger-zone" aria-labelledby="activation-title">
                <h2 id="activation-title">{shown.active ? 'Deactivate account' : 'Activate account'}</h2>
                <ActivationControl user={shown} isSelf={isSelf} account={account} onSaved={onSaved} />
              </section>
            )}
          </div>
        </div>
      )}
    </>
  );
}
