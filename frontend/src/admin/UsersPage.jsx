import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Loading, PageHead } from '../components/ui.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import { useResource } from '../hooks/useResource.js';
import { pageInfo, readPage } from './adminApi.js';
import { AdminError, Pager, RolesCell, StatusBadge, TimeCell } from './components.jsx';
import { accountAccess } from './permissions.js';
import { useAdmin } from './useAdmin.js';

const PER_PAGE = 20;

/** `/admin/users?q=&page=`: search and page through the accounts (users:read). */
export default function UsersPage() {
  const { admin, can, currentUserId, held } = useAdmin();
  const [params, setParams] = useSearchParams();
  const q = (params.get('q') || '').trim();
  const page = readPage(params.get('page'));
  const [draft, setDraft] = useState(q);
  useDocumentTitle(q ? `Users matching ${q}` : 'Users');

  // Back and Forward change the query: show it in the search box.
  useEffect(() => setDraft(q), [q]);

  const list = useResource(() => admin.listUsers({ q, page, perPage: PER_PAGE }), [admin, q, page]);
  const users = Array.isArray(list.data?.users) ? list.data.users : [];
  const info = list.data ? pageInfo(list.data) : null;

  function search(event) {
    event.preventDefault();
    const text = draft.trim();
    setParams(text ? { q: text } : {});
  }

  function goToPage(number) {
    const next = {};
    if (q) next.q = q;
    if (number > 1) next.page = String(number);
    setParams(next);
  }

  return (
    <>
      <PageHead title="Users" resource={list} />
      <form className="filter-bar" role="search" onSubmit={search}>
        <div className="field">
          <label htmlFor="user-search">Search users</label>
          <input
            id="user-search"
            type="search"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            placeholder="Email or name"
            maxLength={254}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <button type="submit" className="button button-primary">
          Search
        </button>
        {q && (
          <button type="button" className="button button-ghost" onClick={() => setParams({})}>
            Clear search
          </button>
        )}
      </form>
      <section className="panel" aria-labelledby="users-title" aria-busy={list.loading}>
        <h2 id="users-title" className="visually-hidden">
          {q ? `Users matching “${q}”` : 'All users'}
        </h2>
        {list.loading && !list.data && <Loading label="Loading users…" />}
        {list.error && <AdminError error={list.error} title="Could not load the users" onRetry={list.reload} />}
        {list.data && !list.error && users.length === 0 && (
          <p className="muted">{q ? `No users match “${q}”.` : 'No users on this page.'}</p>
        )}
        {users.length > 0 && (
          <table className={`data-table${list.loading ? ' is-stale' : ''}`}>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Roles</th>
                <th scope="col">Status</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <tr key={user.id} data-testid="user-row">
                  <td data-label="User">
                    <Link to={`/admin/users/${encodeURIComponent(user.id)}`} className="break">
                      {user.email}
                    </Link>
                    {String(user.id) === currentUserId && <span className="badge badge-info">You</span>}
                    {can.writeUsers && !accountAccess(held, user).editable && (
                      <span className="block muted small" title={accountAccess(held, user).reason}>
                        Holds more than you: you cannot change this account
                      </span>
                    )}
                    {user.name && <span className="block muted small">{user.name}</span>}
                  </td>
                  <RolesCell roles={user.roles} />
                  <td data-label="Status">
                    <StatusBadge active={user.active} />
                  </td>
                  <TimeCell label="Last sign-in" value={user.last_login_at} empty="never" />
                  <TimeCell label="Created" value={user.created_at} />
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {info && !list.error && (info.total > 0 || page > 1) && (
          <Pager info={info} onPage={goToPage} label="Pages of users" noun="users" />
        )}
      </section>
    </>
  );
}
