import { test, expect } from './fixtures.js';
import { signIn, uniqueEmail } from './helpers.js';

const ENDED = 'Your session has ended, please sign in again';

/** Trigger an API call in a signed-in tab until it is sent back to the landing page. */
async function expectSignedOutOnNextCall(page) {
  await expect(async () => {
    if (new URL(page.url()).pathname === '/profile') {
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    await expect(page.getByText(ENDED)).toBeVisible({ timeout: 1500 });
  }).toPass({ timeout: 15_000, intervals: [500, 1000] });
  expect(new URL(page.url()).pathname).toBe('/');
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
}

test('revoking a session from another device signs that tab out on its next call', async ({ page, newContext, shot }) => {
  const email = uniqueEmail('revoke');
  await signIn(page, email);

  const other = await (await newContext()).newPage();
  await signIn(other, email);
  await other.goto('/sessions');
  const sessions = other.getByTestId('session');
  await expect(sessions).toHaveCount(2);
  await expect(sessions.filter({ hasText: 'This device' })).toHaveCount(1);

  const target = sessions.filter({ hasNotText: 'This device' });
  await target.getByRole('button', { name: /^Revoke session/ }).click();
  await expect(other.getByText(/^Signed out /)).toBeVisible();
  await expect(sessions).toHaveCount(1);

  await expectSignedOutOnNextCall(page);
  shot.page = page;

  // The other device is still signed in.
  await other.reload();
  await expect(other.getByTestId('session')).toHaveCount(1);
});

test('sign out returns to the landing page and protected pages then need sign-in', async ({ page }) => {
  const email = uniqueEmail('signout');
  await signIn(page, email);
  await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();

  await page.waitForURL((url) => url.pathname === '/');
  await expect(page.getByText('You have signed out.')).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: 'Sign in with Google' })).toBeVisible();

  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: 'Sign in required' })).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: 'Sign in with Google' })).toHaveAttribute(
    'href',
    '/api/auth/login?next=%2Fprofile',
  );
  await page.goto('/sessions');
  await expect(page.getByRole('heading', { name: 'Sign in required' })).toBeVisible();
});

test('sign out everywhere ends the sessions of every device', async ({ page, newContext, shot }) => {
  const email = uniqueEmail('everywhere');
  await signIn(page, email);
  const other = await (await newContext()).newPage();
  await signIn(other, email);

  await other.goto('/sessions');
  await other.getByRole('button', { name: 'Sign out everywhere' }).click();
  await other.getByRole('button', { name: 'Yes, sign out everywhere' }).click();
  await other.waitForURL((url) => url.pathname === '/');
  await expect(other.getByText('You have signed out on every device.')).toBeVisible();

  await expectSignedOutOnNextCall(page);
  await page.reload();
  await page.goto('/profile');
  await expect(page.getByRole('heading', { name: 'Sign in required' })).toBeVisible();
  shot.page = other;
});

test('signing out in one tab signs out the other tabs of the browser', async ({ page, context }) => {
  const email = uniqueEmail('tabs-out');
  await signIn(page, email);
  const second = await context.newPage();
  await second.goto('/profile');
  await expect(second.getByTestId('profile-email')).toHaveText(email);

  await second.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
  await second.waitForURL((url) => url.pathname === '/');
  await page.waitForURL((url) => url.pathname === '/');
  await expect(page.getByText('You signed out in another tab.')).toBeVisible();
});
