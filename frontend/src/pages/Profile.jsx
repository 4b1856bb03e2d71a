import { useEffect, useState } from 'react';
import { useAuth } from '../auth/AuthContext.jsx';
import { Chips, CopyButton, ErrorMessage, Loading, PageHead } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { formatDuration } from '../lib/format.js';

function initials(name, email) {
  const source = (name || email || '?').trim();
  const words = source.split(/[\s@._-]+/).filter(Boolean);
  return (words.length > 1 ? words[0][0] + words[1][0] : source.slice(0, 2)).toUpperCase();
}

function Avatar({ picture, name, email }) {
  const [failed, setFailed] = useState(false);
  const usable = typeof picture === 'string' && /^(https?:\/\/|data:image\/)/i.test(picture) && !failed;
  if (usable) {
    return (
      <img
        className="avatar"
        src={picture}
        alt=""
        width="72"
        height="72"
        referrerPolicy="no-referrer"
        onError={() => setFailed(true)}
      />
    );
  }
  return (
    <span className="avatar avatar-initials" aria-hidden="true">
      {initials(name, email)}
    </span>
  );
}

function useSecondsLeft(expiresAt) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return expiresAt ? Math.max(0, Math.round((expiresAt - now) / 1000)) : null;
}

function mask(token) {
  return `${token.slice(0, 8)}${'•'.repeat(24)}`;
}

/**
 * The access token for API experiments: masked until the user asks, with a
 * ready curl line. It is the same in-memory token the app uses.
 */
function TokenPanel() {
  const { api, token, claims } = useAuth();
  const [shown, setShown] = useState(false);
  const secondsLeft = useSecondsLeft(api.getExpiresAt());
  const origin = window.location.origin;
  const curl = (value) => `curl -H "Authorization: Bearer ${value}" ${origin}/api/me`;

  return (
    <section className="panel" aria-labelledby="token-title">
      <div className="panel-head">
        <h2 id="token-title">Access token</h2>
        {secondsLeft !== null && (
          <span className="muted small" aria-live="off">
            {secondsLeft > 0 ? `expires in ${formatDuration(secondsLeft)}` : 'expired: renewed on the next request'}
          </span>
        )}
      </div>
      <p className="muted small">
        A short-lived JWT kept only in this tab's memory. Anyone holding it can act as you until it expires: share it
        with care.
      </p>
      <label className="field-label" htmlFor="access-token">
        Token
      </label>
      <output id="access-token" className="token-box" data-testid="access-token" aria-live="polite">
        {token ? (shown ? token : mask(token)) : '—'}
      </output>
      <label className="field-label" htmlFor="curl-line">
        Try it with curl
      </label>
      <output id="curl-line" className="token-box" data-testid="curl-line">
        {token ? curl(shown ? token : mask(token)) : '—'}
      </output>
      <div className="panel-foot">
        <button
          type="button"
          className="button button-secondary button-small"
          aria-pressed={shown}
          aria-controls="access-token curl-line"
          onClick={() => setShown((v) => !v)}
        >
          {shown ? 'Hide token' : 'Show token'}
        </button>
        <CopyButton label="Copy access token" getText={() => api.getAccessToken() || ''} />
        <CopyButton label="Copy curl command" getText={() => curl(api.getAccessToken() || '')} />
      </div>
      {claims && (
        <details className="raw">
          <summary>Token claims</summary>
          <dl className="details compact">
            {['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp'].map((claim) =>
              claims[claim] === undefined ? null : (
                <div className="details-row" key={claim}>
                  <dt>
                    <code>{claim}</code>
                  </dt>
                  <dd className="break">
                    {claim === 'iat' || claim === 'exp'
                      ? `${new Date(Number(claims[claim]) * 1000).toLocaleString()} (${claims[claim]})`
                      : Array.isArray(claims[claim])
                        ? claims[claim].join(', ')
                        : String(claims[claim])}
                  </dd>
                </div>
              ),
            )}
          </dl>
        </details>
      )}
    </section>
  );
}

export default function Profile() {
  const { api } = useAuth();
  useDocumentTitle('Profile');
  const me = useResource(() => api.get('/api/me'), [api]);
  const user = me.data || {};
  const roles = Array.isArray(user.roles) ? user.roles : [];
  const permissions = Array.isArray(user.permissions) ? user.permissions : [];

  return (
    <>
      <PageHead title="Your profile" resource={me} />
      <div className="grid-2">
        <section className="panel" aria-labelledby="profile-title" aria-busy={me.loading}>
          <h2 id="profile-title" className="visually-hidden">
            Account
          </h2>
          {me.loading && !me.data && <Loading label="Loading your profile…" />}
          {me.error && <ErrorMessage error={me.error} what="your profile" onRetry={me.reload} />}
          {me.data && (
            <>
              <div className="profile-head">
                <Avatar picture={user.picture} name={user.name} email={user.email} />
                <div>
                  <p className="profile-name">{user.name || 'No name'}</p>
                  <p className="profile-email" data-testid="profile-email">
                    {user.email}
                  </p>
                </div>
              </div>
              <dl className="details">
                <div className="details-row">
                  <dt>User id</dt>
                  <dd>
                    <code>{String(user.id ?? '—')}</code>
                  </dd>
                </div>
                <div className="details-row">
                  <dt>Roles</dt>
                  <dd>
                    <Chips items={roles} label="Roles" empty="No roles" />
                  </dd>
                </div>
                <div className="details-row">
                  <dt>Permissions</dt>
                  <dd>
                    <Chips items={permissions} label="Permissions" empty="No extra permissions" />
                  </dd>
                </div>
              </dl>
            </>
          )}
        </section>
        <TokenPanel />
      </div>
    </>
  );
}
