import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from '@playwright/test';
import { expect, test } from './base';
import lighthouse from 'lighthouse';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium';
import { StaffPage } from './staff';

// Lighthouse's accessibility audit (axe-based) in Debian's Chromium: the pages customers see, the
// API docs, and the staff panel signed in (the list and a conversation).
const PORT = 9333;

/** A browser Lighthouse can drive, whose default profile the test can sign in with first. */
async function withBrowser(run: (context: BrowserContext) => Promise<void>): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'frontdesk-lighthouse-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, `--remote-debugging-port=${PORT}`],
  });
  try {
    await run(context);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Audits `url` and expects accessibility 100 and no console errors. Storage is kept (a signed-in page stays signed in). */
async function audit(url: string): Promise<void> {
  const result = await lighthouse(url, {
    port: PORT,
    output: 'json',
    logLevel: 'error',
    onlyCategories: ['accessibility', 'best-practices'],
    disableStorageReset: true,
  });
  const lhr = result!.lhr;
  const failing = Object.values(lhr.audits)
    .filter((a: any) => a.score !== null && a.score < 1 && a.scoreDisplayMode === 'binary')
    .map((a: any) => `${a.id}: ${a.title} ${JSON.stringify([...new Set(a.details?.items?.map((i: any) => i.node?.snippet ?? i))].slice(0, 8))}`);
  const path = new URL(url).pathname;
  console.log(`${path}: accessibility ${lhr.categories.accessibility.score! * 100}, best practices ${lhr.categories['best-practices'].score! * 100}`);
  expect(lhr.categories.accessibility.score, failing.join('\n')).toBe(1);
  expect(lhr.audits['errors-in-console'].score, JSON.stringify(lhr.audits['errors-in-console'].details)).toBe(1);
}

test.describe('Lighthouse', () => {
  test.setTimeout(180_000);

  for (const path of ['/', '/products/2', '/admin/login', '/admin/reset-password', '/docs']) {
    test(`accessibility scores 100 on ${path} with no console errors`, async ({ baseURL }) => {
      await withBrowser(() => audit(`${baseURL}${path}`));
    });
  }

  test('accessibility scores 100 on the signed-in panel, a conversation with a note and the team page, with no console errors', async ({ baseURL, request }) => {
    // A conversation to open: a visitor's chat with a message.
    const created = await request.post(`${baseURL}/api/v1/chats`, { data: {} });
    expect(created.status()).toBe(201);
    const chat = await created.json();
    const sent = await request.post(`${baseURL}/api/v1/chats/${chat.id}/messages`, { data: { content: 'Where is my order?' } });
    expect(sent.status()).toBe(201);
    await withBrowser(async (context) => {
      const staff = new StaffPage(context.pages()[0] ?? (await context.newPage()));
      await staff.signIn(baseURL);
      // A private note, so the conversation shows one.
      const note = await context.request.post(`${baseURL}/api/v1/admin/inquiries/${chat.id}/notes`, {
        data: { content: 'Checked the courier: it left the warehouse today.' },
        headers: { origin: baseURL! },
      });
      expect(note.status()).toBe(201);
      await audit(`${baseURL}/admin`);
      await audit(`${baseURL}/admin/inquiries/${chat.id}`);
      await audit(`${baseURL}/admin/team`);
      await audit(`${baseURL}/admin/labels`);
      await audit(`${baseURL}/admin/window`);
      await audit(`${baseURL}/admin/audit`);
      await audit(`${baseURL}/admin/usage`);
    });
  });
});
