import { Navigate, NavLink, Outlet, Route, Routes } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext.jsx';
import { RequirePermission } from '../components/guards.jsx';
import NotFound from '../pages/NotFound.jsx';
import AllowedEmailsPage from './AllowedEmailsPage.jsx';
import AuditPage from './AuditPage.jsx';
import { ADMIN_SECTIONS, hasAnyOf, visibleSections } from './permissions.js';
import RolesPage from './RolesPage.jsx';
import { SERVICE_ACCOUNTS_SECTION } from './serviceAccounts.js';
import ServiceAccountsPage from './ServiceAccountsPage.jsx';
import UserDetailPage from './UserDetailPage.jsx';
import UsersPage from './UsersPage.jsx';

/**
 * The admin area, mounted at `/admin/*` behind <RequirePermission> with
 * ADMIN_PERMISSIONS (App.jsx): anyone without one of them never loads this
 * chunk and makes no admin request. Inside, each section is guarded by its
 * own permission (permissions.js); the API enforces them all anyway.
 */
/** The sections the token may see, service accounts last. */
function sectionsFor(permissions) {
  const extra = hasAnyOf(permissions, SERVICE_ACCOUNTS_SECTION.anyOf) ? [SERVICE_ACCOUNTS_SECTION] : [];
  return [...visibleSections(permissions), ...extra];
}

function AdminLayout() {
  const { permissions } = useAuth();
  const sections = sectionsFor(permissions);
  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin sections">
        <ul>
          {sections.map((section) => (
            <li key={section.path}>
              <NavLink to={`/admin/${section.path}`}>{section.title}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Outlet />
    </div>
  );
}

/** `/admin` opens the first section the token may see. */
function AdminIndex() {
  const { permissions } = useAuth();
  const [first] = sectionsFor(permissions);
  if (!first) return <NotFound />;
  return <Navigate to={`/admin/${first.path}`} replace />;
}

function section(path) {
  return ADMIN_SECTIONS.find((s) => s.path === path).anyOf;
}

export default function AdminRoutes() {
  return (
    <Routes>
      <Route element={<AdminLayout />}>
        <Route index element={<AdminIndex />} />
        <Route
          path="users"
          element={
            <RequirePermission anyOf={section('users')}>
              <UsersPage />
            </RequirePermission>
          }
        />
        <Route
          path="users/:id"
          element={
            <RequirePermission anyOf={section('users')}>
              <UserDetailPage />
            </RequirePermission>
          }
        />
        <Route
          path="allowed-emails"
          element={
            <RequirePermission anyOf={section('allowed-emails')}>
              <AllowedEmailsPage />
            </RequirePermission>
          }
        />
        <Route
          path="roles"
          element={
            <RequirePermission anyOf={section('roles')}>
              <RolesPage />
            </RequirePermission>
          }
        />
        <Route
          path="audit"
          element={
            <RequirePermission anyOf={section('audit')}>
              <AuditPage />
            </RequirePermission>
          }
        />
        <Route
          path="service-accounts"
          element={
            <RequirePermission anyOf={SERVICE_ACCOUNTS_SECTION.anyOf}>
              <ServiceAccountsPage />
            </RequirePermission>
          }
        />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
