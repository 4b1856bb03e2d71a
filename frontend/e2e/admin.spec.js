import { test, expect } from './fixtures.js';
import { signIn, uniqueEmail } from './helpers.js';

// The stack's ADMIN_EMAILS account (scripts/test starts it with admin@example.com).
const ADMIN_EMAIL = process.env.E2E_ADMIN_EMAIL || 'admin@example.com';

/** Record the admin API calls and the admin chunk downloads of a page. */
function watchAdminTraffic(page) {
  const seen = [];
  page.on('request', (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith('/api/admin') || /\/AdminRoutes-[\w-]+\.js$/.test(pathname)) seen.push(pathname);
  });
  return seen;
}

test('an admin finds a colleague, grants a role, sees it in the audit log and deactivates them', async ({
  page,
  newContext,
  shot,
}) => {
  test.setTimeout(120_000);

  // The colleague signs in on their own device first, so the account exists.
  const colleagueEmail = uniqueEmail('colleague');
  const colleague = await (await newContext()).newPage();
  await signIn(colleague, colleagueEmail);

  await signIn(page, ADMIN_EMAIL, '/admin');
  await page.waitForURL((url) => url.pathname === '/admin/users');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' })).toBeVisible();
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  await expect(page).toHaveTitle('Users · authgw');
  await expect(page.getByTestId('user-row').first()).toBeVisible();
  const sections = page.getByRole('navigation', { name: 'Admin sections' });

  // A role to grant, created in the roles section.
  const role = `e2e-${Date.now().toString(36)}`;
  await sections.getByRole('link', { name: 'Roles' }).click();
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill(role);
  await page.getByRole('textbox', { name: 'Description' }).fill('Reads the audit log (e2e)');
  await page.getByRole('group', { name: 'Permissions', exact: true }).getByRole('checkbox', { name: /audit:read/ }).check();
  await page.getByRole('button', { name: 'Create role' }).click();
  await expect(page.getByText(`Role ${role} created.`)).toBeVisible();
  await expect(page.getByTestId('role').filter({ hasText: role })).toContainText('audit:read');

  // Search the colleague (with the keyboard) and open their account.
  await sections.getByRole('link', { name: 'Users' }).click();
  const search = page.getByRole('searchbox', { name: 'Search users' });
  await search.fill(colleagueEmail);
  await search.press('Enter');
  const rows = page.getByTestId('user-row');
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText(colleagueEmail);
  await expect(rows).toContainText('Active');
  await rows.getByRole('link', { name: colleagueEmail }).click();
  await page.waitForURL((url) => /^\/admin\/users\/\d+$/.test(url.pathname));
  const colleagueId = new URL(page.url()).pathname.split('/').pop();
  await expect(page.getByTestId('admin-user-email')).toHaveText(colleagueEmail);
  await expect(page.getByTestId('admin-session')).toHaveCount(1);

  // Grant the role.
  await page.getByRole('checkbox', { name: new RegExp(`^${role}\\b`) }).check();
  await page.getByRole('button', { name: 'Save roles' }).click();
  await expect(page.getByText(`Roles saved. ${colleagueEmail} gets them`)).toBeVisible();
  await expect(page.getByRole('list', { name: 'Roles' })).toContainText(role);
  await expect(page.getByRole('button', { name: 'Save roles' })).toBeDisabled();

  // The grant is in the audit log, filtered by user id and event.
  await sections.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('textbox', { name: 'User id' }).fill(colleagueId);
  await page.getByRole('combobox', { name: 'Event' }).selectOption('roles_changed');
  await page.getByRole('button', { name: 'Filter', exact: true }).click();
  const events = page.getByTestId('audit-row');
  await expect(events).toHaveCount(1);
  await expect(events).toContainText('Roles changed');
  await expect(events).toContainText(colleagueEmail);
  await expect(events).toContainText(`added: ${role}`);
  expect(new URL(page.url()).search).toBe(`?user_id=${colleagueId}&event=roles_changed`);

  // Deactivate the colleague, after confirming.
  await events.getByRole('link', { name: `User ${colleagueId}` }).click();
  await expect(page.getByTestId('admin-user-email')).toHaveText(colleagueEmail);
  await page.getByRole('button', { name: 'Deactivate account' }).click();
  await expect(page.getByRole('group', { name: 'Confirm deactivation' })).toContainText(`Deactivate ${colleagueEmail}?`);
  await page.getByRole('button', { name: 'Yes, deactivate' }).click();
  await expect(page.getByText(`${colleagueEmail} is deactivated and signed out on every device.`)).toBeVisible();
  await expect(page.getByTestId('admin-user-status')).toHaveText('Inactive');
  await expect(page.getByTestId('admin-session')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Activate account' })).toBeVisible();

  // The colleague's tab is signed out on its next call.
  await expect(async () => {
    if (new URL(colleague.url()).pathname === '/profile') {
      await colleague.getByRole('button', { name: 'Refresh' }).click();
    }
    await expect(colleague.getByText('Your session has ended, please sign in again')).toBeVisible({ timeout: 1500 });
  }).toPass({ timeout: 15_000, intervals: [500, 1000] });

  // The list shows the account inactive, and fits a phone screen.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(`/admin/users?q=${encodeURIComponent(colleagueEmail)}`);
  await expect(page.getByTestId('user-row')).toContainText('Inactive');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  shot.page = page;
});

test('a normal user sees no admin navigation and is not authorised at /admin', async ({ page }) => {
  const adminTraffic = watchAdminTraffic(page);
  await signIn(page, uniqueEmail('plain'));
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Devices' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Admin' })).toHaveCount(0);

  for (const path of ['/admin', '/admin/users', '/admin/audit']) {
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1, name: 'Not authorised' })).toBeVisible();
    await expect(page).toHaveTitle('Not authorised · authgw');
    await expect(page.getByRole('navigation', { name: 'Admin sections' })).toHaveCount(0);
  }
  // No admin data was asked for, and the admin code was never downloaded.
  expect(adminTraffic).toEqual([]);
});
