import { test, expect } from './fixtures.js';
import { readAccessToken, signIn, uniqueEmail } from './helpers.js';

test('sign in with the button shows the profile of the default user', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('main').getByRole('link', { name: 'Sign in with Google' }).click();
  await page.waitForURL((url) => url.pathname === '/profile');
  await expect(page.getByTestId('profile-email')).toHaveText('demo@example.com');
  await expect(page.getByRole('list', { name: 'Roles' })).toContainText('user');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
});

test('profile shows the email of the signed-in user', async ({ page }) => {
  const email = uniqueEmail('profile');
  await signIn(page, email);
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' })).toBeVisible();
});

test('no token in the URL, the history or web storage after sign-in', async ({ page }) => {
  await page.goto('/');
  const email = uniqueEmail('notoken');
  await signIn(page, email);

  const state = await page.evaluate(() => ({
    href: window.location.href,
    entries: window.navigation ? window.navigation.entries().map((entry) => entry.url) : [],
    local: JSON.stringify({ ...window.localStorage }),
    session: JSON.stringify({ ...window.sessionStorage }),
    cookie: document.cookie,
  }));
  expect(state.href).not.toContain('access_token');
  expect(state.entries.length).toBeGreaterThan(0);
  for (const url of state.entries) expect(url).not.toContain('access_token');
  expect(state.local).not.toMatch(/eyJ|access_token/);
  expect(state.session).not.toMatch(/eyJ|access_token/);
  expect(state.cookie).not.toMatch(/eyJ|access_token|refresh_token/);

  // Back goes to the landing page, not to the callback.
  await page.goBack();
  expect(page.url()).not.toContain('access_token');
  expect(new URL(page.url()).pathname).toBe('/');
  await page.goForward();
  await expect(page.getByTestId('profile-email')).toHaveText(email);
});

test('reload keeps the session', async ({ page }) => {
  const email = uniqueEmail('reload');
  await signIn(page, email);
  await page.reload();
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await page.goto('/sessions');
  await expect(page.getByText('This device')).toBeVisible();
});

test('the access token is masked until asked for and works with curl', async ({ page, request }) => {
  const email = uniqueEmail('curl');
  await signIn(page, email);
  await expect(page.getByTestId('access-token')).toContainText('•');
  await expect(page.getByTestId('curl-line')).toContainText('curl -H "Authorization: Bearer ');

  const token = await readAccessToken(page);
  await page.getByRole('button', { name: 'Show token' }).click();
  await expect(page.getByTestId('curl-line')).toHaveText(
    `curl -H "Authorization: Bearer ${token}" ${new URL(page.url()).origin}/api/me`,
  );
  await page.getByRole('button', { name: 'Hide token' }).click();

  // What the curl line does: the same token reads the profile.
  const response = await request.get('/api/me', { headers: { Authorization: `Bearer ${token}` } });
  expect(response.status()).toBe(200);
  expect((await response.json()).email).toBe(email);
});
