import { test, expect } from './fixtures.js';

test('anonymous landing page shows the product, public info and the JWK Set', async ({ page }) => {
  await page.goto('/');

  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Sign in with Google' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'JWT-protected APIs' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'JWKS for microservices' })).toBeVisible();

  const signIn = page.getByRole('main').getByRole('link', { name: 'Sign in with Google' });
  await expect(signIn).toHaveAttribute('href', /^\/api\/auth\/login\?next=/);

  const info = page.getByTestId('public-info');
  await expect(info).toContainText('Issuer (iss)');
  await expect(info).toContainText('/.well-known/jwks.json');
  await expect(info).toContainText(/ES256|RS256/);

  const keys = page.getByTestId('jwks-keys');
  await expect(keys.getByRole('listitem').first()).toContainText('kid');
  await expect(keys).toContainText('use: sig');

  // Anonymous: no profile link, no sign-out button.
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
});

test('the landing page has a favicon and works on a phone-sized screen', async ({ page, request }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto('/');
  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  const response = await request.get(icon);
  expect(response.status()).toBe(200);
  await expect(page.getByTestId('jwks-keys')).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('login error page explains the error and offers to try again', async ({ page }) => {
  await page.goto('/login?error=not_allowed');
  await expect(page.getByRole('heading', { name: 'Account not allowed' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Try again' })).toHaveAttribute('href', /^\/api\/auth\/login/);

  await page.goto('/login?error=something_new');
  await expect(page.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
});

test('a refused consent at the provider lands on the login error page', async ({ page }) => {
  // The dev IdP answers error=access_denied for the user "deny".
  await page.goto('/api/auth/login?login_hint=deny@example.com&next=/profile');
  await page.waitForURL((url) => url.pathname === '/login');
  expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
  await expect(page.getByRole('heading', { name: 'Sign-in was cancelled' })).toBeVisible();
});
