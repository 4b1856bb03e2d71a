import { Route, Routes } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { useDocumentTitle } from '../hooks/useDocumentTitle.js';
import NotFound from '../pages/NotFound.jsx';

/**
 * The admin area, mounted at `/admin/*` behind <RequirePermission> (see
 * App.jsx and routes.js). Each section names the permission its API needs
 * (CONTRACT.md, "Admin API"); a later issue adds the pages here, e.g.
 * `<Route path="users" element={<Users />} />`, each wrapped in its own
 * <RequirePermission anyOf={['users:read']}>.
 */
export const ADMIN_SECTIONS = [
  { path: 'users', title: 'Users', permission: 'users:read', text: 'Find users, see their roles, disable accounts.' },
  { path: 'roles', title: 'Roles and permissions', permission: 'roles:write', text: 'Create roles and choose their permissions.' },
  { path: 'audit', title: 'Audit log', permission: 'audit:read', text: 'Security events: sign-ins, token reuse, revocations.' },
];

function AdminHome() {
  const { hasPermission } = useAuth();
  useDocumentTitle('Admin');
  return (
    <>
      <div className="page-head">
        <h1>Administration</h1>
      </div>
      <ul className="grid-3 plain">
        {ADMIN_SECTIONS.map((section) => (
          <li key={section.path} className="panel">
            <h2>{section.title}</h2>
            <p className="muted">{section.text}</p>
            <p className="small">
              Needs <code>{section.permission}</code>:{' '}
              {hasPermission(section.permission) ? 'you have it.' : 'you do not have it.'}
            </p>
            <p className="small muted">Coming soon.</p>
          </li>
        ))}
      </ul>
    </>
  );
}

export default function AdminRoutes() {
  return (
    <Routes>
      <Route index element={<AdminHome />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}
