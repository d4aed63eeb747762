import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';

/**
 * Playwright's `test`, failing every test in whose pages an error went uncaught: a panic, a
 * failed hydration, or a trap in the WASM (the bundles have the async hydration they never run
 * replaced by traps: scripts/drop-async-hydration.mjs). Watches the test's own context and every
 * context it opens with `browser.newContext()`; a test that launches a browser of its own hands
 * its contexts to `watchErrors`.
 */
export const test = base.extend<{ watchErrors: (context: BrowserContext) => void }>({
  watchErrors: [
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
        await use(watch);
      } finally {
        // The prototype's method again (the browser is shared by the worker's tests).
        delete (browser as { newContext?: unknown }).newContext;
      }
      expect(errors, 'errors went uncaught in the pages').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
