import { lazy, Suspense } from 'react';
import { Route, Routes } from 'react-router-dom';
import Layout from './components/Layout.jsx';
import { RequireAuth, RequirePermission } from './components/guards.jsx';
import { Loading } from './components/ui.jsx';
import Landing from './pages/Landing.jsx';
import AuthCallback from './pages/AuthCallback.jsx';
import LoginPage from './pages/LoginPage.jsx';
import RegisterPage from './pages/RegisterPage.jsx';
import Profile from './pages/Profile.jsx';
import Sessions from './pages/Sessions.jsx';
import Notes from './pages/Notes.jsx';
import NotFound from './pages/NotFound.jsx';
import { ADMIN_PERMISSIONS } from './routes.js';

// The admin area is its own chunk: most users never download it.
const AdminRoutes = lazy(() => import('./admin/AdminRoutes.jsx'));

export default function App({ callback }) {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Landing />} />
        <Route path="auth/callback" element={<AuthCallback callback={callback} />} />
        <Route path="login" element={<LoginPage />} />
        <Route path="register" element={<RegisterPage />} />
        <Route element={<RequireAuth />}>
          <Route path="profile" element={<Profile />} />
          <Route path="sessions" element={<Sessions />} />
          <Route path="notes" element={<Notes />} />
          <Route
            path="admin/*"
            element={
              <RequirePermission anyOf={ADMIN_PERMISSIONS}>
                <Suspense fallback={<Loading />}>
                  <AdminRoutes />
                </Suspense>
              </RequirePermission>
            }
          />
        </Route>
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
