import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { api } from './api/index.js';
import { consumeCallbackFragment } from './auth/callback.js';
import { AuthProvider } from './auth/AuthContext.jsx';
import App from './App.jsx';
import './styles.css';

// First thing on /auth/callback: take the token out of the address bar and
// keep it in memory only (never localStorage, sessionStorage or a cookie).
const callback = consumeCallbackFragment(window.location, window.history);
if (callback?.accessToken) api.setAccessToken(callback.accessToken, callback.expiresIn);

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <BrowserRouter>
      <AuthProvider api={api}>
        <App callback={callback} />
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
