import { test, expect } from './fixtures.js';
import { readAccessToken, signIn, uniqueEmail } from './helpers.js';

// Login CSRF through the callback fragment (docs/login-and-tokens.md, "The
// callback fragment"): a link `/auth/callback#access_token=<A's token>`
// opened in another browser must sign no tab of that browser in as A.

/** The callback URL the backend would send A's browser to, with A's token. */
function plantedLink(token) {
  const fragment = new URLSearchParams({ access_token: token, token_type: 'Bearer', expires_in: '900', next: '/profile' });
  return `/auth/callback#${fragment}`;
}

/** Every Authorization header the pages of `context` send. */
function watchBearers(context) {
  const sent = [];
  context.on('request', (request) => {
    const header = request.headers().authorization;
    if (header) sent.push(header.replace(/^Bearer\s+/i, ''));
  });
  return sent;
}

async function expectRefusedLink(page) {
  await page.waitForURL((url) => url.pathname !== '/auth/callback');
  expect(new URL(page.url()).pathname, 'where the planted link led').toBe('/login');
  expect(new URL(page.url()).searchParams.get('error')).toBe('sign_in_not_from_this_browser');
  await expect(page.getByRole('heading', { name: 'This sign-in link did not start in this browser' })).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: 'Sign in', exact: true })).toHaveAttribute(
    'href',
    /^\/api\/auth\/login\?/,
  );
  expect(page.url()).not.toContain('access_token');
}

test.describe('a planted callback fragment', () => {
  let alice;
  let aliceToken;

  test.beforeEach(async ({ page }) => {
    // Context 1 (the attacker's browser): A signs in and copies its token.
    alice = uniqueEmail('planter');
    await signIn(page, alice);
    aliceToken = await readAccessToken(page);
  });

  test('signs no tab of a browser signed in as B in as A', async ({ newContext, shot }) => {
    const victim = await newContext();
    const bearers = watchBearers(victim);
    const bob = uniqueEmail('victim');
    const planted = await victim.newPage();
    await signIn(planted, bob);
    const other = await victim.newPage();
    await other.goto('/profile');
    await expect(other.getByTestId('profile-email')).toHaveText(bob);

    await planted.goto(plantedLink(aliceToken));
    shot.page = planted;
    await expectRefusedLink(planted);

    // Both tabs still act as B: after a reload, and after asking the API again.
    await planted.goto('/profile');
    await expect(planted.getByTestId('profile-email')).toHaveText(bob);
    await other.getByRole('button', { name: 'Refresh', exact: true }).click();
    await expect(other.getByRole('button', { name: 'Refresh', exact: true })).toBeEnabled();
    await expect(other.getByTestId('profile-email')).toHaveText(bob);
    await other.reload();
    await expect(other.getByTestId('profile-email')).toHaveText(bob);
    await expect(planted.getByText(alice)).toHaveCount(0);
    await expect(other.getByText(alice)).toHaveCount(0);
    expect(bearers).not.toContain(aliceToken);
  });

  test('signs a browser without a session in as nobody', async ({ newContext, shot }) => {
    const victim = await newContext();
    const bearers = watchBearers(victim);
    const planted = await victim.newPage();
    const other = await victim.newPage();
    await other.goto('/');

    await planted.goto(plantedLink(aliceToken));
    shot.page = planted;
    await expectRefusedLink(planted);
    await expect(planted.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' })).toHaveCount(0);

    for (const page of [planted, other]) {
      await page.goto('/profile');
      await expect(page.getByRole('heading', { name: 'Sign in required' })).toBeVisible();
      await expect(page.getByText(alice)).toHaveCount(0);
    }
    expect(bearers).not.toContain(aliceToken);
  });

  test('the sign-in link of the browser that signed in still works there', async ({ page }) => {
    // A's own browser: a login opened directly (typed, bookmarked, login_hint)
    // sets the refresh cookie of the session its fragment names.
    const again = uniqueEmail('direct');
    await signIn(page, again, '/sessions');
    await page.goto('/profile');
    await expect(page.getByTestId('profile-email')).toHaveText(again);
  });
});
