import { test, expect } from './fixtures.js';
import { signIn } from './helpers.js';

// The stack's ADMIN_EMAILS account (scripts/test starts it with admin@example.com).
const ADMIN_EMAIL = process.env.E2E_ADMIN_EMAIL || 'admin@example.com';

test('an admin creates a service account, sees its secret once, and the secret gets a token', async ({
  page,
  request,
}) => {
  await signIn(page, ADMIN_EMAIL, '/admin');
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Service accounts' }).click();
  await expect(page.getByRole('heading', { name: 'Service accounts', level: 1 })).toBeVisible();
  const name = `e2e bot ${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('checkbox', { name: /^user/ }).check();
  await page.getByRole('button', { name: 'Create', exact: true }).click();

  const clientId = (await page.getByTestId('client-id').textContent()).trim();
  const secret = (await page.getByTestId('client-secret').textContent()).trim();
  expect(clientId).toMatch(/^sa_[\w-]{16}$/);
  const token = await request.post('/api/auth/token', {
    form: { grant_type: 'client_credentials' },
    headers: { Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
  });
  expect(token.status()).toBe(200);

  await page.getByRole('button', { name: 'I have stored it' }).click();
  await expect(page.getByTestId('client-secret')).toHaveCount(0);
  const row = page.getByTestId('service-account').filter({ hasText: name });
  await expect(row).toContainText(clientId);
  await expect(page.getByText(secret)).toHaveCount(0);

  page.once('dialog', (dialog) => dialog.accept());
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
});
