import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';

/**
 * Playwright's `test`, failing every test in whose pages an error went uncaught: a panic, a
 * failed hydration, or a trap in the WASM (the customer's bundle has the async hydration it never
 * runs replaced by traps: scripts/drop-async-hydration.mjs). Watches the test's own context and
 * every context it opens with `browser.newContext()`.
 */
export const test = base.extend<{ uncaughtErrors: void }>({
  uncaughtErrors: [
    async ({ browser, context }, use) => {
      const errors: string[] = [];
      const watchPage = (page: Page) => page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
      const watch = (watched: BrowserContext) => {
        watched.pages().forEach(watchPage);
        watched.on('page', watchPage);
      };
      watch(context);
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (...options) => {
        const opened = await newContext(...options);
        watch(opened);
        return opened;
      };
      try {
        await use();
      } finally {
        browser.newContext = newContext;
      }
      expect(errors, 'errors went uncaught in the pages').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
