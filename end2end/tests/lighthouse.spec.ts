import { chromium, expect, test } from '@playwright/test';
import lighthouse from 'lighthouse';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium';

// Lighthouse's accessibility audit (axe-based) on the pages customers see and the staff sign-in,
// in Debian's Chromium.
const PORT = 9333;
const pages = ['/', '/products/2', '/admin/login'];

test.describe('Lighthouse', () => {
  test.setTimeout(120_000);

  for (const path of pages) {
    test(`accessibility scores 100 on ${path} with no console errors`, async ({ baseURL }) => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        args: [
          ...CHROMIUM_ARGS,
          `--remote-debugging-port=${PORT}`,
        ],
      });
      try {
        const result = await lighthouse(`${baseURL}${path}`, {
          port: PORT,
          output: 'json',
          logLevel: 'error',
          onlyCategories: ['accessibility', 'best-practices'],
        });
        const lhr = result!.lhr;
        const failing = Object.values(lhr.audits)
          .filter((a: any) => a.score !== null && a.score < 1 && a.scoreDisplayMode === 'binary')
          .map((a: any) => `${a.id}: ${a.title}`);
        console.log(`${path}: accessibility ${lhr.categories.accessibility.score! * 100}, best practices ${lhr.categories['best-practices'].score! * 100}`);
        expect(lhr.categories.accessibility.score, failing.join('\n')).toBe(1);
        expect(lhr.audits['errors-in-console'].score, JSON.stringify(lhr.audits['errors-in-console'].details)).toBe(1);
      } finally {
        await browser.close();
      }
    });
  }
});
