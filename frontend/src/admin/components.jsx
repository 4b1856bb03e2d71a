import { Alert } from '../components/ui.jsx';
import { formatTime } from '../lib/format.js';
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

/** The outcome of an admin action (`useAction`'s `message`): its text, the error code if any, and Dismiss. */
export function ActionMessage({ message, onDismiss }) {
  if (!message) return null;
  return (
    <Alert kind={message.kind} onDismiss={onDismiss}>
      {message.text}
      {message.code && <span className="error-code"> ({message.code})</span>}
    </Alert>
  );
}

/**
 * A time of the API (RFC 3339): "3 minutes ago" with the full date on hover,
 * or (`absolute`) the full date with the relative one on hover.
 */
export function Time({ value, empty = '—', absolute = false }) {
  const time = formatTime(value);
  if (!time) return <span className="muted">{empty}</span>;
  return (
    <time dateTime={time.iso} title={absolute ? time.relative : time.absolute}>
      {absolute ? time.absolute : time.relative}
    </time>
  );
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
