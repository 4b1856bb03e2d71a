import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { api } from './api/index.js';
import { consumeCallbackFragment } from './auth/callback.js';
import { AuthProvider } from './auth/AuthContext.jsx';
import App from './App.jsx';
import './styles.css';

// First thing on /auth/callback: take the token out of the address bar. Nothing
// uses it until AuthCallback confirmed the sign-in happened in this browser
// (auth/callback.js, confirmCallbackToken); tokens live in memory only.
const callback = consumeCallbackFragment(window.location, window.history);

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <BrowserRouter>
      <AuthProvider api={api}>
        <App callback={callback} />
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
