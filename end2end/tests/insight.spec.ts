import { type Browser } from '@playwright/test';
import { expect, test } from './base';
import { ChatPage } from './chat-page';
import { StaffPage } from './staff';

// What the team learns (issue 33): the customer's thumbs on the assistant's replies and their
// rating of a resolved conversation, seen by staff, who mark a wrong answer too.
async function person<T>(browser: Browser, make: (page: import('@playwright/test').Page) => T) {
  const context = await browser.newContext();
  return { who: make(await context.newPage()), close: () => context.close() };
}

test('a customer thumbs a reply and rates the resolved conversation, and staff see both and mark the answer', async ({ browser, baseURL }) => {
  const customer = await person(browser, (p) => new ChatPage(p));
  const chat = customer.who;
  await chat.open('/');
  await chat.send('Do you ship to Spain?');
  const reply = await chat.lastReplyWhenDone();
  await reply.getByTestId('thumb-up').click();
  await expect(reply.getByTestId('thumb-up')).toHaveAttribute('aria-pressed', 'true');
  // Kept: the window shows it again after a reload.
  await chat.reload();
  await expect(chat.byRole('assistant').last().getByTestId('thumb-up')).toHaveAttribute('aria-pressed', 'true');
  await expect(chat.page.getByTestId('rating')).toHaveCount(0);

  const staff = await person(browser, (p) => new StaffPage(p));
  await staff.who.signIn();
  const id = await chat.chatId();
  const page = staff.who.page;
  await page.goto(`/admin/inquiries/${id}`);
  const marks = page.locator('[data-testid="staff-message"][data-role="assistant"]').last().getByTestId('reply-marks');
  await expect(marks.getByTestId('customer-thumb')).toHaveAttribute('data-value', 'up');
  await marks.getByTestId('mark-wrong').click();
  await expect(marks.getByTestId('mark-wrong')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('customer-ratings')).toContainText('Not rated');

  // Resolved: the window asks at once how it went.
  const resolved = await page.request.patch(`${baseURL}/api/v1/admin/inquiries/${id}`, {
    data: { status: 'resolved' },
    headers: { origin: baseURL! },
  });
  expect(resolved.status()).toBe(200);
  const rating = chat.page.getByTestId('rating');
  await expect(rating).toContainText('How did we do?');
  await rating.locator('[data-testid="rate"][data-score="4"]').click();
  await expect(rating).toContainText('You rated us 4 of 5');
  await rating.getByTestId('rating-comment').fill('Quick and clear');
  await rating.getByTestId('rating-send').click();
  await expect(rating.getByTestId('rating-comment')).toHaveCount(0);

  // Staff see the rating with its comment, and their mark stayed.
  await page.reload();
  const seen = page.getByTestId('customer-rating');
  await expect(seen).toHaveAttribute('data-score', '4');
  await expect(seen).toContainText('Quick and clear');
  await expect(marks.getByTestId('mark-wrong')).toHaveAttribute('aria-pressed', 'true');
  // The customer never sees staff's mark: their own thumb is what their window shows.
  await chat.reload();
  const theirs = chat.byRole('assistant').last();
  await expect(theirs.getByTestId('thumb-up')).toHaveAttribute('aria-pressed', 'true');
  await expect(theirs.getByTestId('thumb-down')).toHaveAttribute('aria-pressed', 'false');
  await expect(chat.page.getByTestId('mark-wrong')).toHaveCount(0);
  await customer.close();
  await staff.close();
});

test('an admin reads the audit log narrowed to one kind of action and one conversation, and the assistant\'s use per day', async ({ browser, baseURL }) => {
  const staff = await person(browser, (p) => new StaffPage(p));
  await staff.who.signIn();
  const page = staff.who.page;
  // Something to find: a label made, and a conversation the assistant answered.
  const stamp = Date.now();
  const made = await page.request.post(`${baseURL}/api/v1/admin/labels`, {
    data: { name: `Audit ${stamp}`, color: '#1d4ed8' },
    headers: { origin: baseURL! },
  });
  expect(made.status()).toBe(201);
  const customer = await person(browser, (p) => new ChatPage(p));
  await customer.who.open('/');
  await customer.who.send('How long does delivery take?');
  await customer.who.lastReplyWhenDone();
  const id = await customer.who.chatId();
  const changed = await page.request.patch(`${baseURL}/api/v1/admin/inquiries/${id}`, {
    data: { status: 'in_progress' },
    headers: { origin: baseURL! },
  });
  expect(changed.status()).toBe(200);

  await page.getByTestId('nav-audit').click();
  const rows = page.getByTestId('audit-entry');
  await expect(rows.first()).toBeVisible();
  await page.getByTestId('audit-kind').selectOption('label.');
  await page.getByTestId('audit-apply').click();
  await expect(rows.first()).toHaveAttribute('data-action', 'label.created');
  expect(await rows.evaluateAll((all) => all.every((r) => r.getAttribute('data-action')!.startsWith('label.')))).toBe(true);
  await page.getByTestId('audit-kind').selectOption('');
  await page.getByTestId('audit-chat').fill(id);
  await page.getByTestId('audit-apply').click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-action', 'inquiry.updated');
  await expect(rows.first()).toContainText(`#${id}`);

  // Today's use counts the reply just written.
  await page.getByTestId('nav-usage').click();
  const today = new Date().toISOString().slice(0, 10);
  await expect(page.locator(`[data-testid="usage-day"][data-day="${today}"]`)).toBeVisible();
  await page.getByTestId('usage-days').selectOption('7');
  await expect(page.getByTestId('usage-total')).toContainText('replies in all');
  await customer.close();
  await staff.close();
});
