import { useEffect, useRef, useState } from 'react';
import { loginUrl } from '../auth/AuthContext.jsx';
import { formatTime } from '../lib/format.js';

/** A busy indicator with a spoken label. */
export function Loading({ label = 'Loading…' }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

/**
 * A page's heading with a Refresh button for what it shows: `resource` is a
 * `useResource` result (the button says "Refreshing…" while a reload runs
 * over shown data); without one, no button. `onRefresh` defaults to
 * `resource.reload`.
 */
export function PageHead({ title, resource, onRefresh = resource?.reload, titleClassName }) {
  return (
    <div className="page-head">
      <h1 className={titleClassName}>{title}</h1>
      {resource && (
        <button type="button" className="button button-ghost button-small" onClick={onRefresh} disabled={resource.loading}>
          {resource.loading && resource.data ? 'Refreshing…' : 'Refresh'}
        </button>
      )}
    </div>
  );
}

/**
 * A button that says what it is doing while `busy` (`busyLabel`, e.g. "Saving…") and
 * cannot be pressed then; the other props (`className`, `onClick`, `aria-label`,
 * `disabled`, …) go to the `<button>`, whose `type` is "button" unless given.
 */
export function BusyButton({ busy, busyLabel, disabled, type = 'button', children, ...props }) {
  return (
    <button type={type} {...props} disabled={busy || disabled}>
      {busy ? busyLabel : children}
    </button>
  );
}

/**
 * A time of the API (RFC 3339): "3 minutes ago" with the full date on hover,
 * or (`absolute`) the full date with the relative one on hover; `empty` when
 * `value` is not a time.
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

/** "`label` 3 minutes ago" in a `Tag` (span by default), or nothing when `value` is not a time. */
export function LabelledTime({ label, value, as: Tag = 'span', className }) {
  if (!formatTime(value)) return null;
  return (
    <Tag className={className}>
      {label} <Time value={value} />
    </Tag>
  );
}

/** A message box; `kind` is info, success, warning or error. */
export function Alert({ kind = 'info', title, children, onDismiss, actions }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      <div className="alert-body">
        {title && <strong className="alert-title">{title}</strong>}
        <div>{children}</div>
      </div>
      {(actions || onDismiss) && (
        <div className="alert-actions">
          {actions}
          {onDismiss && (
            <button type="button" className="button button-ghost button-small" onClick={onDismiss} aria-label="Dismiss message">
              Dismiss
            </button>
          )}
        </div>
      )}
    </div>
  );
}

/** Explain a failed request in words, with a retry button. */
export function ErrorMessage({ error, what = 'this', onRetry }) {
  let text;
  if (error instanceof TypeError) text = 'The server could not be reached. Check your connection.';
  else if (error?.status >= 500) text = 'The server had a problem. Please try again in a moment.';
  else if (error?.status === 403) text = 'You do not have permission to see this.';
  else if (error?.status === 404) text = 'It was not found.';
  else if (error?.status === 429) text = 'Too many requests. Please wait a moment.';
  else text = error?.description || error?.message || 'Something went wrong.';
  return (
    <Alert
      kind="error"
      title={`Could not load ${what}`}
      actions={
        onRetry && (
          <button type="button" className="button button-secondary button-small" onClick={onRetry}>
            Try again
          </button>
        )
      }
    >
      {text}
      {error?.code && <span className="error-code"> ({error.code})</span>}
    </Alert>
  );
}

function GoogleLogo() {
  return (
    <svg className="google-logo" viewBox="0 0 48 48" width="18" height="18" aria-hidden="true" focusable="false">
      <path fill="#EA4335" d="M24 9.5c3.54 0 6.71 1.22 9.21 3.6l6.85-6.85C35.9 2.38 30.47 0 24 0 14.62 0 6.51 5.38 2.56 13.22l7.98 6.19C12.43 13.72 17.74 9.5 24 9.5z" />
      <path fill="#4285F4" d="M46.98 24.55c0-1.57-.15-3.09-.38-4.55H24v9.02h12.94c-.58 2.96-2.26 5.48-4.78 7.18l7.73 6c4.51-4.18 7.09-10.36 7.09-17.65z" />
      <path fill="#FBBC05" d="M10.53 28.59c-.48-1.45-.76-2.99-.76-4.59s.27-3.14.76-4.59l-7.98-6.19C.92 16.46 0 20.12 0 24c0 3.88.92 7.54 2.56 10.78l7.97-6.19z" />
      <path fill="#34A853" d="M24 48c6.48 0 11.93-2.13 15.89-5.81l-7.73-6c-2.15 1.45-4.92 2.3-8.16 2.3-6.26 0-11.57-4.22-13.47-9.91l-7.98 6.19C6.51 42.62 14.62 48 24 48z" />
    </svg>
  );
}

/**
 * The "Sign in with Google" button: a link, so that the browser does a full
 * page navigation to the backend, which redirects to the provider.
 */
export function SignInButton({ next = '/profile', label = 'Sign in with Google', className = '' }) {
  return (
    <a className={`button button-google ${className}`} href={loginUrl(next)}>
      <GoogleLogo />
      <span>{label}</span>
    </a>
  );
}

async function writeClipboard(text) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: fall back to a selection copy below.
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** A button that copies `getText()` and says whether it worked. */
export function CopyButton({ getText, label, className = 'button button-secondary button-small', ...rest }) {
  const [state, setState] = useState('idle');
  const timer = useRef(null);
  useEffect(() => () => clearTimeout(timer.current), []);
  async function copy() {
    const ok = await writeClipboard(getText());
    setState(ok ? 'copied' : 'failed');
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setState('idle'), 2000);
  }
  return (
    <button type="button" className={className} onClick={copy} {...rest}>
      {state === 'copied' ? 'Copied ✓' : state === 'failed' ? 'Copy failed' : label}
      <span className="visually-hidden" aria-live="polite">
        {state === 'copied' ? 'Copied to the clipboard' : state === 'failed' ? 'Could not copy' : ''}
      </span>
    </button>
  );
}

/** Pretty-printed JSON in a scrollable block. */
export function JsonBlock({ value, label }) {
  return (
    <pre className="code-block" tabIndex={0} aria-label={label}>
      <code>{JSON.stringify(value, null, 2)}</code>
    </pre>
  );
}

/** A list of short strings as chips, or a placeholder when empty. */
export function Chips({ items, empty = 'None', label }) {
  if (!items || items.length === 0) return <span className="muted">{empty}</span>;
  return (
    <ul className="chips" aria-label={label}>
      {items.map((item) => (
        <li key={String(item)} className="chip">
          {String(item)}
        </li>
      ))}
    </ul>
  );
}
