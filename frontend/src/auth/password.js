/**
 * Local accounts (email and password) when the server enables them
 * (`PASSWORD_LOGIN=on`, docs/local-accounts.md): the rules shown before
 * submitting, the two calls, and their errors in words.
 *
 * The server decides every rule (length, commonly used passwords); the
 * browser only repeats the length rule so the form can say it early.
 */

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

/** The password rules, as the registration form shows them before submitting. */
export const PASSWORD_RULES = [
  `At least ${PASSWORD_MIN_LENGTH} and at most ${PASSWORD_MAX_LENGTH} characters; spaces and any characters are fine.`,
  'Not a commonly used password, and not made of your email or name.',
  'A few unrelated words make a strong password you can remember.',
];

/**
 * What is wrong with a password that the browser can tell without the server.
 *
 * @param {string} password
 * @returns {string|null} a sentence, or null when the length is right
 */
export function passwordLengthProblem(password) {
  const length = [...String(password ?? '')].length;
  if (length < PASSWORD_MIN_LENGTH) return `The password needs at least ${PASSWORD_MIN_LENGTH} characters (${length} so far).`;
  if (length > PASSWORD_MAX_LENGTH) return `The password can have at most ${PASSWORD_MAX_LENGTH} characters.`;
  return null;
}

async function readError(response) {
  let code = '';
  let description = '';
  try {
    const body = await response.json();
    code = typeof body?.error === 'string' ? body.error : '';
    description = typeof body?.error_description === 'string' ? body.error_description : '';
  } catch {
    // Not JSON: the status decides below.
  }
  return { status: response.status, code, description };
}

/**
 * Say why a password sign-in failed, in words.
 *
 * @param {{status: number, code: string}} failure
 * @returns {string}
 */
export function describeSignInFailure({ status, code }) {
  if (status === 401) return 'The email or password is wrong.';
  if (status === 429) return 'Too many failed attempts for this account. Wait a few minutes, then try again.';
  if (code === 'not_allowed') return 'This email address is not allowed to use this service. Ask an administrator.';
  if (code === 'account_disabled') return 'This account has been disabled. Contact an administrator.';
  if (status === 403) return 'The sign-in was refused because it did not come from this site. Reload the page and try again.';
  if (status === 404) return 'Signing in with a password is not enabled here.';
  if (status === 0) return 'The server could not be reached. Check your connection.';
  return 'Signing in failed. Please try again in a moment.';
}

/**
 * Say why a registration failed, in words: the server's own sentence for
 * a refused password or email.
 *
 * @param {{status: number, code: string, description: string}} failure
 * @returns {string}
 */
export function describeRegisterFailure({ status, code, description }) {
  if (status === 409) return 'An account with this email already exists. Sign in instead.';
  if (code === 'not_allowed') return 'This email address may not register here. Ask an administrator to allow it.';
  if (status === 400 && description) {
    const text = description.replace(/^password\b/, 'The password').replace(/^email\b/, 'The email');
    return text.endsWith('.') ? text : `${text}.`;
  }
  if (status === 429) return 'Too many attempts. Wait a minute, then try again.';
  if (status === 404) return 'Registration is not enabled here.';
  if (status === 0) return 'The server could not be reached. Check your connection.';
  return 'Registration failed. Please try again in a moment.';
}

async function postJson(api, path, body) {
  try {
    return await api.request(path, {
      auth: false,
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    return null;
  }
}

/**
 * Sign in with an email and password; on success the tab holds the access
 * token (the refresh cookie is set by the answer).
 *
 * @param {ReturnType<import('../api/client.js').createApiClient>} api
 * @returns {Promise<{ok: true} | {ok: false, message: string}>}
 */
export async function signInWithPassword(api, email, password) {
  const response = await postJson(api, '/api/auth/login/password', { email: email.trim(), password });
  if (!response) return { ok: false, message: describeSignInFailure({ status: 0, code: '' }) };
  if (!response.ok) return { ok: false, message: describeSignInFailure(await readError(response)) };
  const body = await response.json();
  api.setAccessToken(body.access_token, body.expires_in);
  return { ok: true };
}

/**
 * Create a local account.
 *
 * @returns {Promise<{ok: true} | {ok: false, message: string}>}
 */
export async function registerAccount(api, { email, password, name }) {
  const response = await postJson(api, '/api/auth/register', { email: email.trim(), password, name: name.trim() });
  if (!response) return { ok: false, message: describeRegisterFailure({ status: 0, code: '', description: '' }) };
  if (!response.ok) return { ok: false, message: describeRegisterFailure(await readError(response)) };
  return { ok: true };
}
