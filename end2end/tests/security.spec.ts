import { type Page } from '@playwright/test';
import { expect, test } from './base';
import { ChatPage } from './chat-page';
import { ADMIN, StaffPage } from './staff';

/** Records every Content-Security-Policy violation the page reports (the listener is installed
 * by the browser's automation channel, which the policy does not govern). */
async function recordViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('__cspViolation', (violation: string) => violations.push(violation));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __cspViolation: (v: string) => void }).__cspViolation(
        `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} on ${location.pathname}`,
      );
    });
  });
  return violations;
}

test.describe('the Content-Security-Policy', () => {
  test('the hydrated pages and the chat run with no violation', async ({ page }) => {
    const violations = await recordViolations(page);
    const chat = new ChatPage(page);
    for (const path of ['/products/2', '/widget', '/admin/login']) {
      await page.goto(path);
      await chat.waitForHydration();
    }
    await page.goto('/docs/');
    await expect(page.locator('.swagger-ui .info')).toBeVisible();
    // The customer's whole path: the window, a message, its streamed reply over the socket.
    await chat.open();
    await chat.send('Does the policy let the chat work?');
    await expect(chat.byRole('assistant')).toHaveCount(2); // the greeting and the reply
    await chat.lastReplyWhenDone();
    // The staff panel, signed in and live (staff are not the visitor who just chatted).
    await page.context().clearCookies();
    await new StaffPage(page).signIn();
    expect(violations).toEqual([]);
  });

  test('a script the page did not ship is blocked and reported', async ({ page }) => {
    const violations = await recordViolations(page);
    const chat = new ChatPage(page);
    await page.goto('/');
    await chat.waitForHydration();
    // What an injection would do: add an inline script to the page.
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.body.appendChild(script);
    });
    await expect.poll(() => violations.length).toBeGreaterThan(0);
    expect(violations[0]).toContain('script-src');
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
  });
});

test('signing in never follows a next= link out of the staff panel', async ({ page, baseURL }) => {
  const ran: string[] = [];
  await page.exposeFunction('__pwned', (what: string) => ran.push(what));
  const staff = new StaffPage(page);
  for (const next of ['javascript:window.__pwned("script")', '//example.com/', 'https://example.com/admin']) {
    await page.context().clearCookies();
    await page.goto(`/admin/login?next=${encodeURIComponent(next)}`);
    await staff.waitForHydration();
    await page.getByTestId('signin-email').fill(ADMIN.email);
    await page.getByTestId('signin-password').fill(ADMIN.password);
    await page.getByTestId('signin-submit').click();
    await expect(page.getByTestId('staff-name')).toHaveText(ADMIN.name);
    expect(page.url(), `next=${next}`).toBe(`${baseURL}/admin`);
  }
  expect(ran).toEqual([]);
});

test('the API docs have no form field without a name a screen reader can read', async ({ page }) => {
  await page.goto('/docs/');
  await expect(page.locator('.swagger-ui .info')).toBeVisible();
  await expect(page.locator('.opblock').first()).toBeVisible();
  const unnamed = await page.locator('input, select, textarea').evaluateAll((fields) =>
    fields
      .filter((f) => !(f as HTMLInputElement).labels?.length && !f.getAttribute('aria-label') && !f.getAttribute('aria-labelledby') && !f.getAttribute('title'))
      .map((f) => f.outerHTML.slice(0, 120)),
  );
  expect(unnamed).toEqual([]);
});
