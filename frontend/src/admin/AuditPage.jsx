import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Loading, PageHead, Time } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { AUDIT_EVENTS, eventLabel, formatDetails, pageInfo, readPage } from './adminApi.js';
import { AdminError, Pager } from './components.jsx';
import { useAdmin } from './useAdmin.js';

const PER_PAGE = 25;

function UserRef({ id, linkable }) {
  if (id === null || id === undefined || id === '') return <span className="muted">—</span>;
  if (!linkable) return <code>{id}</code>;
  return (
    <Link to={`/admin/users/${encodeURIComponent(id)}`} aria-label={`User ${id}`}>
      <code>{id}</code>
    </Link>
  );
}

/** `/admin/audit?user_id=&event=&page=`: security events, newest first (audit:read). */
export default function AuditPage() {
  const { admin, can } = useAdmin();
  const [params, setParams] = useSearchParams();
  const userId = (params.get('user_id') || '').trim();
  const event = (params.get('event') || '').trim();
  const page = readPage(params.get('page'));
  const [draftUser, setDraftUser] = useState(userId);
  const [draftEvent, setDraftEvent] = useState(event);
  useDocumentTitle('Audit log');

  // Back and Forward change the query: show it in the filter.
  useEffect(() => {
    setDraftUser(userId);
    setDraftEvent(event);
  }, [userId, event]);

  const list = useResource(() => admin.listAudit({ userId, event, page, perPage: PER_PAGE }), [admin, userId, event, page]);
  const events = Array.isArray(list.data?.events) ? list.data.events : [];
  const info = list.data ? pageInfo(list.data) : null;
  const filtered = Boolean(userId || event);

  function withFilter(next) {
    const query = {};
    if (next.userId) query.user_id = next.userId;
    if (next.event) query.event = next.event;
    if (next.page > 1) query.page = String(next.page);
    return query;
  }

  function applyFilter(submitEvent) {
    submitEvent.preventDefault();
    setParams(withFilter({ userId: draftUser.trim(), event: draftEvent, page: 1 }));
  }

  return (
    <>
      <PageHead title="Audit log" resource={list} />
      <form className="filter-bar" onSubmit={applyFilter} aria-label="Filter the audit log">
        <div className="field field-narrow">
          <label htmlFor="audit-user">User id</label>
          <input
            id="audit-user"
            type="text"
            inputMode="numeric"
            value={draftUser}
            onChange={(e) => setDraftUser(e.target.value)}
            autoComplete="off"
            maxLength={12}
            aria-describedby="audit-user-hint"
          />
        </div>
        <div className="field">
          <label htmlFor="audit-event">Event</label>
          <select id="audit-event" value={draftEvent} onChange={(e) => setDraftEvent(e.target.value)}>
            <option value="">Any event</option>
            {AUDIT_EVENTS.map(([code, label]) => (
              <option key={code} value={code}>
                {label} ({code})
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button button-primary">
          Filter
        </button>
        {filtered && (
          <button type="button" className="button button-ghost" onClick={() => setParams({})}>
            Clear filters
          </button>
        )}
      </form>
      <p id="audit-user-hint" className="filter-hint muted small">
        A user id finds the events about that user and the changes that user made as an admin.
      </p>
      <section className="panel" aria-labelledby="audit-title" aria-busy={list.loading}>
        <h2 id="audit-title" className="visually-hidden">
          Events
        </h2>
        {list.loading && !list.data && <Loading label="Loading the audit log…" />}
        {list.error && <AdminError error={list.error} title="Could not load the audit log" onRetry={list.reload} />}
        {list.data && !list.error && events.length === 0 && (
          <p className="muted">{filtered ? 'No events match this filter.' : 'No events yet.'}</p>
        )}
        {events.length > 0 && !list.error && (
          <table className={`data-table${list.loading ? ' is-stale' : ''}`}>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">User</th>
                <th scope="col">By</th>
                <th scope="col">Email</th>
                <th scope="col">IP</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((row) => (
                <tr key={row.id} data-testid="audit-row">
                  <td data-label="Time">
                    <Time value={row.created_at} absolute />
                  </td>
                  <td data-label="Event">
                    {eventLabel(row.event)}
                    <code className="block muted small">{row.event}</code>
                  </td>
                  <td data-label="User">
                    <UserRef id={row.user_id} linkable={can.readUsers} />
                  </td>
                  <td data-label="By">
                    <UserRef id={row.actor_id} linkable={can.readUsers} />
                  </td>
                  <td data-label="Email" className="break">
                    {row.email || <span className="muted">—</span>}
                  </td>
                  <td data-label="IP">{row.ip || <span className="muted">—</span>}</td>
                  <td data-label="Details" className="break small">
                    {formatDetails(row.details) || <span className="muted">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {info && !list.error && (info.total > 0 || page > 1) && (
          <Pager
            info={info}
            onPage={(number) => setParams(withFilter({ userId, event, page: number }))}
            label="Pages of the audit log"
            noun="events"
          />
        )}
      </section>
    </>
  );
}
