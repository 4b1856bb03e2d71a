import { test, expect } from './fixtures.js';
import {
  canRestartBackend,
  readAccessToken,
  restartBackend,
  signIn,
  uniqueEmail,
  waitUntilRefused,
  watchRefreshes,
} from './helpers.js';

// These tests need access tokens that expire while the test runs: the
// backend is restarted with ACCESS_TOKEN_TTL=4 and restored afterwards.
test.describe.configure({ mode: 'serial', timeout: 120_000 });

test.beforeAll(async () => {
  test.skip(!canRestartBackend(), 'needs scripts/stack to restart the backend');
  test.setTimeout(240_000);
  await restartBackend({ ACCESS_TOKEN_TTL: '4' });
});

test.afterAll(async () => {
  if (!canRestartBackend()) return;
  test.setTimeout(240_000);
  await restartBackend();
});

test('an expired access token is refreshed transparently', async ({ page }) => {
  const email = uniqueEmail('expired');
  await signIn(page, email);
  const expired = await readAccessToken(page);
  await waitUntilRefused(page.request, expired);

  const refreshes = watchRefreshes(page);
  const me = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/me' && r.status() === 200);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await me;

  await expect(page.getByTestId('profile-email')).toHaveText(email);
  expect(refreshes).toEqual([200]);
  expect(await readAccessToken(page)).not.toBe(expired);
  expect(new URL(page.url()).pathname).toBe('/profile');
});

test('two tabs refreshing at once both stay signed in', async ({ page, context }) => {
  const email = uniqueEmail('twotabs');
  await signIn(page, email);
  const second = await context.newPage();
  await second.goto('/profile');
  await expect(second.getByTestId('profile-email')).toHaveText(email);

  // Wait until the tokens of both tabs are refused.
  await waitUntilRefused(page.request, await readAccessToken(page));
  await waitUntilRefused(page.request, await readAccessToken(second));

  const refreshes = watchRefreshes(page, second);
  // Both tabs call the API with an expired token at the same moment.
  await Promise.all([
    page.evaluate(() => document.querySelector('.page-head button').click()),
    second.evaluate(() => document.querySelector('.page-head button').click()),
  ]);
  await expect(page.getByRole('button', { name: 'Refresh', exact: true })).toBeEnabled();
  await expect(second.getByRole('button', { name: 'Refresh', exact: true })).toBeEnabled();
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await expect(second.getByTestId('profile-email')).toHaveText(email);
  await expect.poll(() => refreshes.length).toBeGreaterThan(0);
  expect(refreshes.every((status) => status === 200)).toBe(true);
  // Single flight across tabs: one refresh, or two in a row, never a reuse.
  expect(refreshes.length).toBeLessThanOrEqual(2);

  // Nobody was signed out: the session is alive in both tabs after reloads.
  await page.reload();
  await second.reload();
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await expect(second.getByTestId('profile-email')).toHaveText(email);
  await expect(page.getByText(/session has ended/)).toHaveCount(0);
  await expect(second.getByText(/session has ended/)).toHaveCount(0);
});
