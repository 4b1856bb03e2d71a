import { Alert, BusyButton, Time } from '../components/ui.jsx';
import { describeError } from './adminApi.js';

/** A failed admin call: the server's `error_description`, the code, and "Try again". */
export function AdminError({ error, title, onRetry }) {
  return (
    <Alert
      kind="error"
      title={title}
      actions={
        onRetry && (
          <button type="button" className="button button-secondary button-small" onClick={onRetry}>
            Try again
          </button>
        )
      }
    >
      {describeError(error)}
      {error?.code && <span className="error-code"> ({error.code})</span>}
    </Alert>
  );
}

/**
 * The outcome of an admin action (`useAction`'s `message`): its text, the error code if any,
 * Dismiss, and any further buttons (`actions`) beside it.
 */
export function ActionMessage({ message, onDismiss, actions }) {
  if (!message) return null;
  return (
    <Alert kind={message.kind} onDismiss={onDismiss} actions={actions}>
      {message.text}
      {message.code && <span className="error-code"> ({message.code})</span>}
    </Alert>
  );
}

/**
 * An admin panel holding one form: the heading `title` (its `id` labels the section), the
 * fields (`children`), a submit button (`submitLabel`; `busyLabel` while the action runs;
 * disabled unless `ready`) and the action's outcome. Submitting runs `task` through
 * `action` (the form's `useAction()`): `task` resolves to the message to show, or null.
 */
export function FormPanel({ id, title, formClassName, action, task, submitLabel, busyLabel, ready, children }) {
  function submit(event) {
    event.preventDefault();
    return action.run(task);
  }
  return (
    <section className="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <form className={formClassName} onSubmit={submit} noValidate>
        {children}
        <BusyButton type="submit" className="button button-primary" busy={action.busy} busyLabel={busyLabel} disabled={!ready}>
          {submitLabel}
        </BusyButton>
      </form>
      <ActionMessage message={action.message} onDismiss={() => action.setMessage(null)} />
    </section>
  );
}

/** A table cell holding a `Time`; `label` names its column on narrow screens (`data-label`). */
export function TimeCell({ label, value, empty }) {
  return (
    <td data-label={label}>
      <Time value={value} empty={empty} />
    </td>
  );
}

/** The "Roles" cell of a table: the role names, or "none". */
export function RolesCell({ roles }) {
  return <td data-label="Roles">{roles?.length ? roles.join(', ') : <span className="muted">none</span>}</td>;
}

/** "Active" / "Inactive". */
export function StatusBadge({ active }) {
  return <span className={`badge badge-status${active ? '' : ' badge-off'}`}>{active ? 'Active' : 'Inactive'}</span>;
}

/**
 * Previous / next buttons for a paged list.
 *
 * @param {{info: ReturnType<import('./adminApi.js').pageInfo>, onPage: (n: number) => void, label: string, noun: string}} props
 */
export function Pager({ info, onPage, label, noun = 'items' }) {
  return (
    <nav className="pager" aria-label={label}>
      <button
        type="button"
        className="button button-secondary button-small"
        onClick={() => onPage(info.page - 1)}
        disabled={!info.hasPrevious}
      >
        Previous<span className="visually-hidden"> page</span>
      </button>
      <span className="pager-status" aria-live="polite">
        Page {info.page} of {info.pages}
        <span className="muted">
          {' · '}
          {info.total === 0 ? `no ${noun}` : `${info.from}–${info.to} of ${info.total} ${noun}`}
        </span>
      </span>
      <button
        type="button"
        className="button button-secondary button-small"
        onClick={() => onPage(info.page + 1)}
        disabled={!info.hasNext}
      >
        Next<span className="visually-hidden"> page</span>
      </button>
    </nav>
  );
}
