import { Link } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { CopyButton, ErrorMessage, JsonBlock, Loading, SignInButton } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { formatDuration } from '../lib/format.js';

const INFO_FIELDS = [
  ['name', 'Service'],
  ['provider', 'Identity provider'],
  ['issuer', 'Issuer (iss)'],
  ['audience', 'Audience (aud)'],
  ['algorithms', 'Signing algorithms'],
  ['access_token_ttl', 'Access token lifetime'],
  ['jwks_uri', 'JWK Set'],
];

function InfoValue({ field, value }) {
  if (value === null || value === undefined || value === '') return <span className="muted">not set</span>;
  if (field === 'access_token_ttl' && Number.isFinite(Number(value))) {
    return (
      <span>
        {formatDuration(value)} <span className="muted">({Number(value)} s)</span>
      </span>
    );
  }
  if (field === 'jwks_uri' && typeof value === 'string' && /^(https?:\/\/|\/)/.test(value)) {
    return (
      <a href={value} className="break">
        {value}
      </a>
    );
  }
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
    return <span>{value.length ? value.join(', ') : <span className="muted">none</span>}</span>;
  }
  if (typeof value === 'object') {
    return <code className="break">{JSON.stringify(value)}</code>;
  }
  return <span className="break">{String(value)}</span>;
}

function PublicInfo() {
  const { api } = useAuth();
  const info = useResource(() => api.get('/api/public/info', { auth: false }), [api]);
  const data = info.data && typeof info.data === 'object' ? info.data : {};
  const known = new Set(INFO_FIELDS.map(([key]) => key));
  const rows = [
    ...INFO_FIELDS.filter(([key]) => key in data),
    ...Object.keys(data)
      .filter((key) => !known.has(key) && data[key] !== null && data[key] !== undefined && data[key] !== '')
      .map((key) => [key, key.replace(/_/g, ' ')]),
  ];

  return (
    <article className="panel" aria-labelledby="info-title" aria-busy={info.loading}>
      <div className="panel-head">
        <h3 id="info-title">Public configuration</h3>
        <code className="endpoint">GET /api/public/info</code>
      </div>
      {info.loading && !info.data && <Loading label="Loading public configuration…" />}
      {info.error && <ErrorMessage error={info.error} what="the public configuration" onRetry={info.reload} />}
      {info.data !== undefined && !info.error && (
        <>
          {rows.length === 0 ? (
            <p className="muted">The service published no details.</p>
          ) : (
            <dl className="details" data-testid="public-info">
              {rows.map(([key, label]) => (
                <div key={key} className="details-row">
                  <dt>{label}</dt>
                  <dd>
                    <InfoValue field={key} value={data[key]} />
                  </dd>
                </div>
              ))}
            </dl>
          )}
        </>
      )}
      <div className="panel-foot">
        <button type="button" className="button button-ghost button-small" onClick={info.reload} disabled={info.loading}>
          Reload
        </button>
        <CopyButton label="Copy curl command" getText={() => `curl ${window.location.origin}/api/public/info`} />
      </div>
    </article>
  );
}

function Jwks() {
  const { api } = useAuth();
  const jwks = useResource(() => api.get('/.well-known/jwks.json', { auth: false }), [api]);
  const keys = Array.isArray(jwks.data?.keys) ? jwks.data.keys : [];

  return (
    <article className="panel" aria-labelledby="jwks-title" aria-busy={jwks.loading}>
      <div className="panel-head">
        <h3 id="jwks-title">Public JWK Set</h3>
        <code className="endpoint">GET /.well-known/jwks.json</code>
      </div>
      <p className="muted small">Services verify access tokens offline with these public keys, picked by the token's <code>kid</code>.</p>
      {jwks.loading && !jwks.data && <Loading label="Loading public keys…" />}
      {jwks.error && <ErrorMessage error={jwks.error} what="the JWK Set" onRetry={jwks.reload} />}
      {jwks.data !== undefined && !jwks.error && (
        <>
          {keys.length === 0 ? (
            <p className="muted">The JWK Set holds no keys.</p>
          ) : (
            <ul className="key-list" data-testid="jwks-keys">
              {keys.map((key, index) => (
                <li key={key.kid || index} className="key-card">
                  <div className="key-kid">
                    <span className="muted small">kid</span> <code className="break">{key.kid || '(none)'}</code>
                  </div>
                  <div className="key-meta">
                    {['kty', 'crv', 'alg', 'use']
                      .filter((field) => key[field])
                      .map((field) => (
                        <span key={field} className="chip">
                          {field}: {String(key[field])}
                        </span>
                      ))}
                  </div>
                </li>
              ))}
            </ul>
          )}
          <details className="raw">
            <summary>Raw JSON</summary>
            <JsonBlock value={jwks.data} label="JWK Set as JSON" />
          </details>
        </>
      )}
      <div className="panel-foot">
        <button type="button" className="button button-ghost button-small" onClick={jwks.reload} disabled={jwks.loading}>
          Reload
        </button>
        <CopyButton label="Copy curl command" getText={() => `curl ${window.location.origin}/.well-known/jwks.json`} />
      </div>
    </article>
  );
}

const FEATURES = [
  {
    title: 'Sign in with Google',
    text: 'OpenID Connect authorization code flow with PKCE, state and nonce. Optional allowlists of emails and domains.',
  },
  {
    title: 'JWT-protected APIs',
    text: 'The gateway checks a short-lived signed access token on every /api call. A rotating HttpOnly refresh cookie keeps you signed in; revoked sessions stop within seconds.',
  },
  {
    title: 'JWKS for microservices',
    text: 'Your services verify tokens themselves with the public keys at /.well-known/jwks.json and read roles and permissions from the claims.',
  },
];

export default function Landing() {
  const { status } = useAuth();
  useDocumentTitle(undefined);

  return (
    <>
      <section className="hero" aria-labelledby="hero-title">
        <p className="eyebrow">Authentication gateway</p>
        <h1 id="hero-title">Google sign-in in, short-lived JWTs out.</h1>
        <p className="lead">
          authgw signs people in with Google, gives the browser a short-lived access token, and guards every API
          behind one gateway. Your microservices verify the same tokens with a public JWK Set.
        </p>
        <div className="actions">
          {status === 'authenticated' ? (
            <Link className="button button-primary" to="/profile">
              Go to your profile
            </Link>
          ) : (
            <SignInButton next="/profile" />
          )}
          <a className="button button-ghost" href="#try-it">
            Try it without signing in
          </a>
        </div>
      </section>

      <section aria-label="Features" className="features">
        {FEATURES.map((feature) => (
          <article key={feature.title} className="feature">
            <h2>{feature.title}</h2>
            <p>{feature.text}</p>
          </article>
        ))}
      </section>

      <section id="try-it" className="try-it" aria-labelledby="try-title">
        <h2 id="try-title">Try it without signing in</h2>
        <p className="muted">These endpoints are public: this is what every client and service can read.</p>
        <div className="grid-2">
          <PublicInfo />
          <Jwks />
        </div>
      </section>
    </>
  );
}
