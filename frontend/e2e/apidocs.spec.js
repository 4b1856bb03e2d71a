import { test, expect } from './fixtures.js';
import { readAccessToken, signIn, uniqueEmail } from './helpers.js';

/**
 * Swagger UI at /api/docs (docs/operations.md "API documentation"): every
 * file from this origin under the gateway's policy (a CSP violation or a
 * blocked script shows as a console error, which fails the test), and
 * "Authorize" with the token the profile page shows makes "Try it out"
 * call /api/me as that user.
 */
test('Swagger UI loads from this origin, authorizes with a bearer token and calls /api/me', async ({ page }) => {
  const email = uniqueEmail('apidocs');
  await signIn(page, email, '/profile');
  const token = await readAccessToken(page);

  const foreign = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(new URL(page.url()).origin)) foreign.push(request.url());
  });
  const response = await page.goto('/api/docs');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-security-policy']).toContain("script-src 'self'");
  await expect(page.getByRole('heading', { name: /authgw API/ })).toBeVisible();

  await page.getByRole('button', { name: 'Authorize' }).first().click();
  const dialog = page.locator('.modal-ux');
  await expect(dialog.getByText('bearerAuth')).toBeVisible();
  await dialog.locator('input[type="text"], input[type="password"]').first().fill(token);
  await dialog.getByRole('button', { name: 'Apply credentials' }).click();
  await expect(dialog.locator('button', { hasText: 'Logout' })).toBeVisible();
  await dialog.getByRole('button', { name: 'Close' }).click();

  const operation = page.locator('#operations-account-api_me');
  await operation.locator('.opblock-summary').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  const call = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/me');
  await operation.getByRole('button', { name: 'Execute' }).click();
  const answer = await call;
  expect(answer.status()).toBe(200);
  expect(answer.request().headers()['authorization']).toBe(`Bearer ${token}`);
  expect((await answer.json()).email).toBe(email);
  await expect(operation.locator('.live-responses-table tbody .response-col_status').first()).toHaveText('200');
  await expect(operation.locator('.live-responses-table')).toContainText(email);

  expect(foreign, 'requests to other origins').toEqual([]);
});
