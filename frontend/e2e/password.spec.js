import { test, expect } from './fixtures.js';
import { BASE_URL } from './env.js';
import { canRestartBackend, restartBackend, uniqueEmail } from './helpers.js';

// Needs PASSWORD_LOGIN=on (docs/local-accounts.md): scripts/test starts the
// stack with it; a stack started without it gets its backend restarted.
const PASSWORD = 'copper meadow violin 31';
let restarted = false;

test.beforeAll(async () => {
  const info = await (await fetch(`${BASE_URL}/api/public/info`)).json();
  if (info.password_login === true) return;
  if (!canRestartBackend()) throw new Error('the stack runs without PASSWORD_LOGIN=on and cannot be restarted');
  await restartBackend({ PASSWORD_LOGIN: 'on' });
  restarted = true;
});

test.afterAll(async () => {
  if (restarted) await restartBackend();
});

async function register(page, email, password = PASSWORD) {
  await page.goto('/register');
  await expect(page.getByRole('heading', { name: 'Password rules' })).toBeVisible();
  await expect(page.getByText('At least 12 and at most 128 characters')).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name').fill('Playwright Person');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

test('register a new account, then sign in with the password', async ({ page }) => {
  const email = uniqueEmail('local');
  await register(page, email);
  await page.waitForURL((url) => url.pathname === '/login');
  await expect(page.getByText('Your account was created')).toBeVisible();

  await expect(page.getByRole('heading', { name: 'Email and password' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Sign in with Google' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.pathname === '/profile');
  await expect(page.getByTestId('profile-email')).toHaveText(email);

  // A session like any other: it survives a reload and is in the devices list.
  await page.reload();
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await page.goto('/sessions');
  await expect(page.getByText('This device')).toBeVisible();
});

test('a wrong password is said in words, and a weak one is refused before the account exists', async ({
  page,
  consoleErrors,
}) => {
  const email = uniqueEmail('weak');
  await register(page, email, 'qwerty123456');
  await expect(page.getByRole('alert')).toContainText('commonly used');
  await expect(page).toHaveURL(/\/register$/);

  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('whatever it might be');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('The email or password is wrong.');
  await expect(page).toHaveURL(/\/login$/);
  // The refused registration is an expected 400: Chromium logs every non-2xx
  // fetch, under the page's URL.
  const expected = /\/register: Failed to load resource: the server responded with a status of 400/;
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((text) => !expected.test(text)));
});

test('the sign-in links of a protected page lead to the email and password form and back', async ({ page }) => {
  const email = uniqueEmail('back');
  await register(page, email);
  await page.waitForURL((url) => url.pathname === '/login');

  await page.goto('/notes');
  await expect(page.getByRole('heading', { name: 'Sign in required' })).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: 'Sign in with email and password' })).toBeVisible();
  // The header's "Sign in" opens the sign-in page, which offers both ways.
  await page.getByRole('banner').getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.pathname === '/login' && url.searchParams.get('next') === '/notes');
  await expect(page.getByRole('link', { name: 'Sign in with Google' })).toHaveAttribute('href', /next=%2Fnotes/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.pathname === '/notes');
  await expect(page.getByRole('button', { name: 'Add note' })).toBeVisible();
});
