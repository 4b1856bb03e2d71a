import { useEffect, useState } from 'react';
import { TextField } from '../components/fields.jsx';
import { BusyButton, Loading, PageHead } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { sameNames } from './adminApi.js';
import { ActionMessage, AdminError } from './components.jsx';
import { permissionChoice, roleAccess } from './permissions.js';
import { useAction, useAdmin } from './useAdmin.js';

/**
 * Checkboxes for a set of permissions, in a labelled fieldset. `roleName`
 * (null for a new role) chooses which boxes the caller may change
 * (permissionChoice: never a permission it does not hold).
 */
function PermissionChecks({ idPrefix, legend, permissions, checked, onChange, disabled, roleName = null }) {
  const { held } = useAdmin();
  function toggle(name, on) {
    const next = new Set(checked);
    if (on) next.add(name);
    else next.delete(name);
    onChange(next);
  }
  return (
    <fieldset className="check-list">
      <legend>{legend}</legend>
      {permissions.length === 0 && <p className="muted small">No permissions defined.</p>}
      {permissions.map((permission) => {
        const inputId = `${idPrefix}-${permission.name}`;
        const choice = permissionChoice(held, permission.name, roleName);
        return (
          <div key={permission.name} className="check">
            <input
              id={inputId}
              type="checkbox"
              checked={checked.has(permission.name)}
              disabled={disabled || choice.disabled}
              onChange={(event) => toggle(permission.name, event.target.checked)}
              aria-describedby={choice.reason ? `${inputId}-why` : undefined}
            />
            <label htmlFor={inputId}>
              <code className="check-name">{permission.name}</code>
              {permission.description && <span className="muted small"> {permission.description}</span>}
              {choice.reason && (
                <span id={`${inputId}-why`} className="muted small">
                  {' '}
                  ({choice.reason})
                </span>
              )}
            </label>
          </div>
        );
      })}
    </fieldset>
  );
}

function CreateRoleForm({ permissions, onCreated }) {
  const { admin } = useAdmin();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [checked, setChecked] = useState(() => new Set());
  const { busy, message, setMessage, run } = useAction();

  async function submit(event) {
    event.preventDefault();
    await run(async () => {
      const role = await admin.createRole({ name: name.trim(), description: description.trim(), permissions: [...checked].sort() });
      setName('');
      setDescription('');
      setChecked(new Set());
      onCreated();
      return { kind: 'success', text: `Role ${role?.name || name.trim()} created.` };
    });
  }

  return (
    <section className="panel" aria-labelledby="create-role-title">
      <h2 id="create-role-title">Create a role</h2>
      <form onSubmit={submit} noValidate>
        <div className="form-grid">
          <TextField
            id="role-name"
            label="Name"
            type="text"
            value={name}
            onChange={setName}
            autoComplete="off"
            spellCheck={false}
            maxLength={64}
            aria-describedby="role-name-hint"
            required
          >
            <span id="role-name-hint" className="muted small">
              Lower-case letters, digits, - or _, starting with a letter.
            </span>
          </TextField>
          <TextField id="role-description" label="Description" type="text" value={description} onChange={setDescription} maxLength={255} />
        </div>
        <PermissionChecks
          idPrefix="new-role"
          legend="Permissions"
          permissions={permissions}
          checked={checked}
          onChange={setChecked}
          disabled={busy}
        />
        <ActionMessage message={message} onDismiss={() => setMessage(null)} />
        <div className="actions">
          <BusyButton type="submit" className="button button-primary" busy={busy} busyLabel="Creating…" disabled={name.trim() === ''}>
            Create role
          </BusyButton>
        </div>
      </form>
    </section>
  );
}

function RoleCard({ role, permissions, onSaved }) {
  const { admin, held } = useAdmin();
  const saved = role.permissions || [];
  const savedKey = saved.join(' ');
  const [checked, setChecked] = useState(() => new Set(saved));
  const { busy, message, setMessage, run } = useAction();
  const titleId = `role-title-${role.name}`;
  const access = roleAccess(held, role);

  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setChecked(new Set(saved)), [savedKey]);

  const unchanged = sameNames(checked, saved);

  async function submit(event) {
    event.preventDefault();
    await run(async () => {
      const updated = await admin.setRolePermissions(role.name, [...checked].sort());
      onSaved(updated);
      return { kind: 'success', text: 'Permissions saved. Users get them with their next token refresh.' };
    });
  }

  return (
    <li className="panel role-card" data-testid="role">
      <div className="panel-head">
        <h3 id={titleId}>
          <code>{role.name}</code>
          {role.builtin && <span className="badge badge-info">built-in</span>}
        </h3>
      </div>
      {role.description && <p className="muted">{role.description}</p>}
      {!access.editable && <p className="muted small">{access.reason}</p>}
      <form onSubmit={submit}>
        <PermissionChecks
          idPrefix={`role-${role.name}`}
          legend={`Permissions of ${role.name}`}
          permissions={permissions}
          checked={checked}
          onChange={setChecked}
          disabled={busy || !access.editable}
          roleName={role.name}
        />
        <ActionMessage message={message} onDismiss={() => setMessage(null)} />
        <div className="actions">
          <BusyButton
            type="submit"
            className="button button-secondary button-small"
            busy={busy}
            busyLabel="Saving…"
            disabled={unchanged || !access.editable}
            aria-label={`Save permissions of ${role.name}`}
          >
            Save permissions
          </BusyButton>
          {!unchanged && !busy && <span className="muted small">Unsaved changes</span>}
        </div>
      </form>
    </li>
  );
}

/** `/admin/roles`: roles and their permissions (roles:write). */
export default function RolesPage() {
  const { admin } = useAdmin();
  useDocumentTitle('Roles');
  const list = useResource(() => admin.listRoles(), [admin]);
  const [updates, setUpdates] = useState({});

  // A saved role replaces its listed version until the list is loaded again.
  useEffect(() => setUpdates({}), [list.data]);

  const roles = (Array.isArray(list.data?.roles) ? list.data.roles : []).map((role) => updates[role.name] || role);
  const permissions = Array.isArray(list.data?.permissions) ? list.data.permissions : [];

  return (
    <>
      <PageHead title="Roles" resource={list} />
      <p className="muted">
        A token's permissions are the union of its roles' permissions when it was issued: a change shows in each
        user's next refreshed token.
      </p>
      {list.loading && !list.data && <Loading label="Loading the roles…" />}
      {list.error && <AdminError error={list.error} title="Could not load the roles" onRetry={list.reload} />}
      {list.data && (
        <>
          <CreateRoleForm permissions={permissions} onCreated={list.reload} />
          <section aria-labelledby="roles-list-title">
            <h2 id="roles-list-title">All roles</h2>
            {roles.length === 0 ? (
              <p className="muted">No roles yet.</p>
            ) : (
              <ul className="grid-2 plain">
                {roles.map((role) => (
                  <RoleCard
                    key={role.name}
                    role={role}
                    permissions={permissions}
                    onSaved={(updated) => setUpdates((previous) => ({ ...previous, [role.name]: updated }))}
                  />
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </>
  );
}
