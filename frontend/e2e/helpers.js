import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from './fixtures.js';
import { BASE_URL, REPO_DIR } from './env.js';

let counter = 0;

/** A fresh user for the dev IdP, which signs in whoever `login_hint` names. */
export function uniqueEmail(prefix = 'e2e') {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}-${Date.now()}-${counter}-${random}@example.com`;
}

/**
 * Sign in as `email` through the real login flow (gateway → backend → dev
 * IdP → callback) and wait for the profile.
 */
export async function signIn(page, email, next = '/profile') {
  const query = new URLSearchParams({ login_hint: email, next });
  await page.goto(`/api/auth/login?${query}`);
  await page.waitForURL((url) => url.pathname === next);
  if (next === '/profile') await expect(page.getByTestId('profile-email')).toHaveText(email);
}

/** Read the access token this tab holds, through the "Show token" button. */
export async function readAccessToken(page) {
  const button = page.getByRole('button', { name: /show token|hide token/i });
  if ((await button.textContent()).match(/show/i)) await button.click();
  const token = (await page.getByTestId('access-token').textContent()).trim();
  await page.getByRole('button', { name: /hide token/i }).click();
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  return token;
}

/** Ask the gateway about a token until it refuses it (expired or revoked). */
export async function waitUntilRefused(request, token, timeoutMs = 60_000) {
  await expect
    .poll(
      async () => (await request.get('/api/me', { headers: { Authorization: `Bearer ${token}` } })).status(),
      { timeout: timeoutMs, intervals: [500, 1000] },
    )
    .toBe(401);
}

/** Record the answers of POST /api/auth/refresh seen by these pages. */
export function watchRefreshes(...pages) {
  const statuses = [];
  for (const page of pages) {
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/api/auth/refresh' && response.request().method() === 'POST') {
        statuses.push(response.status());
      }
    });
  }
  return statuses;
}

const STACK = process.env.E2E_STACK_SCRIPT || path.join(REPO_DIR, 'scripts', 'stack');

/** True when this run can restart the backend of a native stack. */
export function canRestartBackend() {
  return process.env.E2E_NO_RESTART !== '1' && fs.existsSync(STACK);
}

/**
 * Restart the native stack's backend with extra environment, then wait
 * until it is ready behind the gateway.
 */
export async function restartBackend(env = {}) {
  const childEnv = { ...process.env, ...env };
  if (!('ACCESS_TOKEN_TTL' in env)) delete childEnv.ACCESS_TOKEN_TTL;
  execFileSync(STACK, ['restart', 'backend'], { cwd: REPO_DIR, env: childEnv, stdio: 'inherit', timeout: 180_000 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const response = await fetch(`${BASE_URL}/api/health/ready`);
      if (response.ok) return;
    } catch {
      // The gateway is up but the backend is not answering yet.
    }
    if (Date.now() > deadline) throw new Error('backend not ready 60 s after restart');
    await new Promise((r) => setTimeout(r, 500));
  }
}
