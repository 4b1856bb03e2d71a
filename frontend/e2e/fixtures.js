import fs from 'node:fs';
import path from 'node:path';
import { test as base, expect } from '@playwright/test';
import { ARTIFACTS_DIR } from './env.js';

/**
 * Console messages that are expected and not errors of the app: Chromium
 * logs every non-2xx fetch as "Failed to load resource". A 401 is how an
 * anonymous page load, an expired access token or an ended session shows
 * itself (docs/interface.md), and the client handles each of them.
 */
const EXPECTED_CONSOLE = [/Failed to load resource: the server responded with a status of 401/];

/** Never write a token into a test log: the callback URL carries one. */
function redact(text) {
  return String(text).replace(/(access_token=)[^&\s]+/g, '$1[redacted]').replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '[jwt]');
}

function slug(title) {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100);
}

/**
 * Fixtures of every test:
 * - `consoleErrors`: console errors and uncaught exceptions of every page
 *   of every context the test opens; the test fails if any is unexpected;
 * - `shot`: which page the end-of-test screenshot shows (`shot.page = p`);
 * - `newContext`: more browser contexts (= other devices), closed after.
 */
export const test = base.extend({
  consoleErrors: [
    async ({}, use) => {
      const errors = [];
      await use(errors);
      const unexpected = errors.filter((text) => !EXPECTED_CONSOLE.some((re) => re.test(text)));
      expect(unexpected, 'console errors').toEqual([]);
    },
    { auto: true },
  ],

  watchPage: async ({ consoleErrors }, use) => {
    await use((page) => {
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(redact(`${page.url()}: ${message.text()}`));
      });
      page.on('pageerror', (error) => consoleErrors.push(redact(`${page.url()}: uncaught ${error.message}`)));
    });
  },

  context: async ({ context, watchPage }, use) => {
    context.on('page', watchPage);
    await use(context);
  },

  newContext: async ({ browser, watchPage }, use) => {
    const contexts = [];
    await use(async (options = {}) => {
      const context = await browser.newContext(options);
      context.on('page', watchPage);
      contexts.push(context);
      return context;
    });
    for (const context of contexts) await context.close();
  },

  shot: [
    // Depends on newContext so that the screenshot is taken before the
    // extra contexts close (fixtures tear down in reverse order).
    // eslint-disable-next-line no-unused-vars
    async ({ page, newContext }, use, testInfo) => {
      const shot = { page };
      await use(shot);
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      const name = `${path.basename(testInfo.file, '.spec.js')} ${testInfo.title}`;
      const file = path.join(ARTIFACTS_DIR, `${slug(name)}.png`);
      try {
        await shot.page.screenshot({ path: file, fullPage: true });
      } catch (error) {
        testInfo.annotations.push({ type: 'screenshot', description: `not taken: ${error.message}` });
      }
    },
    { auto: true },
  ],
});

export { expect };
