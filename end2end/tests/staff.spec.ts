import { type Browser } from '@playwright/test';
import { expect, test } from './base';
import { ChatPage, UPSTREAM_APP } from './chat-page';
import { ADMIN, OwnServer, StaffPage } from './staff';

// Two browsers at once: a customer in the chat window and a staff member in the inquiry panel,
// each in a context of its own (their own cookies), against the offline assistant.
const REPLY_TIMEOUT = 45_000;

async function twoPeople(browser: Browser) {
  const customerContext = await browser.newContext();
  const staffContext = await browser.newContext();
  const customer = new ChatPage(await customerContext.newPage());
  const staff = new StaffPage(await staffContext.newPage());
  return {
    customer,
    staff,
    close: async () => {
      await customerContext.close();
      await staffContext.close();
    },
  };
}

test('a product-page question reaches the panel live, and the staff reply reaches the customer live with read marks', async ({
  browser,
}) => {
  const { customer, staff, close } = await twoPeople(browser);
  await staff.signIn();
  await customer.open('/products/2');
  const question = `Does the chair come assembled? (${Date.now()})`;
  await customer.send(question);

  // The question shows in the pending list without a reload, with its product.
  const chatId = await customer.chatId();
  const row = staff.inquiry(chatId);
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('inquiry-product')).toHaveText('Nimbus Office Chair');
  await expect(row).toHaveAttribute('data-status', 'pending');
  // It reached a staff screen: the customer sees it delivered (or already read).
  await expect(customer.byRole('user').last().getByTestId('receipt')).toHaveAttribute('data-mark', /delivered|read/);

  // Staff open it and watch the assistant's reply being written.
  await row.click();
  await expect(staff.conversation.getByTestId('conversation-product')).toHaveText('About Nimbus Office Chair');
  const assistantReply = staff.byRole('assistant').last();
  await expect(staff.byRole('user').last()).toContainText(question);
  await expect(assistantReply).toHaveAttribute('data-status', 'streaming');
  const grew = await staff.watchUntilComplete(assistantReply, REPLY_TIMEOUT);
  expect(grew, 'staff saw the reply grow').toBeGreaterThanOrEqual(2);

  // Opening the conversation read the question: the customer sees the read mark.
  await expect(customer.byRole('user').last().getByTestId('receipt')).toHaveAttribute('data-mark', 'read');

  // Staff take over and reply; the customer sees it live with the staff member's name.
  await staff.page.getByTestId('take-over').click();
  await expect(staff.page.getByTestId('hand-back')).toBeVisible();
  await expect(customer.page.getByTestId('handoff-banner')).toBeVisible();
  // Typing shows on the other side.
  await staff.reply.fill('Hi!');
  await expect(customer.page.getByTestId('typing')).toHaveText(`${ADMIN.name} is typing…`);
  await staff.send('Hi! It ships flat-packed; assembly takes about 15 minutes.');
  const staffReply = customer.byRole('agent').last();
  await expect(customer.contentOf(staffReply)).toHaveText('Hi! It ships flat-packed; assembly takes about 15 minutes.');
  await expect(staffReply.getByTestId('author')).toHaveText(ADMIN.name);
  await expect(customer.page.getByTestId('handoff-banner')).toContainText(`You're chatting with ${ADMIN.name}`);
  await expect(customer.byRole('system').filter({ hasText: `${ADMIN.name} joined the conversation` })).toHaveCount(1);

  await expect(customer.page.getByTestId('typing')).toHaveCount(0);
  await customer.composer.fill('Great, thanks');
  await expect(staff.page.getByTestId('staff-typing')).toHaveText('The customer is typing…');
  await customer.composer.fill('');

  // The customer's window shows the reply: staff see it was read.
  await expect(staff.byRole('agent').last().getByTestId('seen')).toBeVisible();

  // The customer leaves an email; staff see it.
  await customer.page.getByTestId('email-input').fill('sam@example.com');
  await customer.page.getByTestId('email-save').click();
  await expect(customer.page.getByTestId('email-saved')).toContainText('sam@example.com');
  await expect(staff.conversation.getByTestId('conversation-email')).toHaveText('sam@example.com');

  // Resolving takes it off the pending list (the default filter).
  await staff.page.getByTestId('set-status').selectOption('resolved');
  await expect(staff.inquiry(chatId)).toHaveCount(0);
  await staff.page.getByTestId('filter-status').selectOption('resolved');
  await expect(staff.inquiry(chatId).getByTestId('inquiry-customer')).toHaveText('sam@example.com');
  await close();
});

test("the list shows the customer's question and a plain preview of the answer, and search follows typing", async ({ browser }) => {
  const { customer, staff, close } = await twoPeople(browser);
  await staff.signIn();
  await staff.page.getByTestId('filter-status').selectOption('all');
  await customer.open('/');
  const stamp = `${Date.now()}`;
  const question = `Can I pay by invoice? (${stamp})`;
  await customer.send(question);
  const row = staff.inquiry(await customer.chatId());
  await expect(row.getByTestId('inquiry-question')).toContainText(question);
  await expect(row.getByTestId('inquiry-last')).toContainText("Assistant: I'm the offline assistant", { timeout: REPLY_TIMEOUT });
  await row.click();
  // The conversation's header shows all its details, on a laptop screen too: nothing cut off.
  await staff.page.setViewportSize({ width: 1024, height: 700 });
  const details = staff.conversation.getByTestId('conversation-details');
  await expect(details.getByTestId('conversation-usage')).toBeVisible();
  expect(await details.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  expect(await staff.conversation.getByTestId('conversation-title').evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  await staff.page.getByTestId('take-over').click();
  await expect(staff.page.getByTestId('hand-back')).toBeVisible();
  await staff.send('**Yes**, by _invoice_: see [billing](https://example.com/billing).');
  // Markdown marks are not shown in the list; the customer's question stays visible.
  await expect(row.getByTestId('inquiry-last')).toHaveText('Team: Yes, by invoice: see billing.');
  await expect(row.getByTestId('inquiry-question')).toContainText(question);
  // The search applies as it is typed, without Enter.
  const search = staff.page.getByTestId('filter-q');
  await search.pressSequentially(stamp);
  await expect(staff.inquiries).toHaveCount(1);
  await expect(row).toHaveCount(1);
  await search.fill(`no-such-words-${stamp}`);
  await expect(staff.page.getByTestId('inquiry-empty')).toBeVisible();
  await close();
});

test('a conversation opened directly (a link, a bookmark, a reload) shows every time, live', async ({ browser }) => {
  const { customer, staff, close } = await twoPeople(browser);
  await staff.signIn();
  await customer.open('/');
  const question = `Opened from a bookmark (${Date.now()})`;
  await customer.send(question);
  const chatId = await customer.chatId();
  const problems: string[] = [];
  staff.page.on('pageerror', (error) => problems.push(error.message));
  staff.page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('panicked')) problems.push(message.text());
  });
  for (let load = 0; load < 6; load++) {
    const response = await staff.page.goto(`/admin/inquiries/${chatId}`);
    expect(response?.status()).toBe(200);
    await staff.waitForHydration();
    await expect(staff.byRole('user').last()).toContainText(question);
    await expect(staff.conversation.getByTestId('panel-link')).toHaveAttribute('data-state', 'live');
    expect(problems, `load ${load + 1}`).toEqual([]);
  }
  // Still live after the last load: the customer's next message shows, and so does the list.
  await customer.send(`and a follow-up (${chatId})`);
  await expect(staff.byRole('user').last()).toContainText(`and a follow-up (${chatId})`);
  await expect(staff.inquiry(chatId).getByTestId('inquiry-question')).toContainText('and a follow-up');
  expect(problems).toEqual([]);
  await close();
});

test('a conversation its customer deletes leaves the list live, its open view says so, and the window starts over', async ({ browser }) => {
  const { customer, staff, close } = await twoPeople(browser);
  await staff.signIn();
  await customer.open('/');
  const question = `Please forget me (${Date.now()})`;
  await customer.send(question);
  const chatId = await customer.chatId();
  const row = staff.inquiry(chatId);
  await expect(row).toHaveCount(1);
  await row.click();
  await expect(staff.byRole('user').last()).toContainText(question);
  await expect(staff.conversation.getByTestId('panel-link')).toHaveAttribute('data-state', 'live');

  // The customer deletes the conversation over the API (the same session as their window).
  const origin = new URL(customer.page.url()).origin;
  const response = await customer.page.request.delete(`/api/v1/chats/${chatId}`, { headers: { origin } });
  expect(response.status()).toBe(204);

  await expect(row).toHaveCount(0);
  await expect(staff.conversation.getByTestId('conversation-error')).toHaveText('This conversation was deleted.');
  await expect(staff.conversation.getByTestId('panel-link')).toHaveText('Deleted');

  // The customer's open window says so, empties, and the next message starts a new conversation.
  await expect(customer.page.getByTestId('notice')).toHaveText(
    'This conversation was deleted. A new message starts a new one.',
  );
  await expect(customer.messages).toHaveCount(0);
  await customer.send('Starting again');
  const newId = await customer.chatId();
  expect(newId).not.toBe(chatId);
  await expect(customer.contentOf(await customer.lastReplyWhenDone())).not.toBeEmpty();
  await expect(staff.inquiry(newId)).toHaveCount(1);
  await close();
});

test('staff page back through a long conversation with what is on screen held in place, and a new message while reading shows a pill', async ({
  browser,
}) => {
  test.setTimeout(90_000);
  // The customer's side over the API, against the fast fake upstream: 30 exchanges and the greeting.
  const customerContext = await browser.newContext();
  const created = await customerContext.request.post(`${UPSTREAM_APP}/api/v1/chats`, { data: {} });
  expect(created.status()).toBe(201);
  const id = (await created.json()).id;
  for (let i = 0; i < 30; i++) {
    const sent = await customerContext.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages?wait=true`, {
      data: { content: `echo: answer ${i}` },
    });
    expect(sent.status()).toBe(201);
  }
  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn(UPSTREAM_APP);
  await staff.page.goto(`${UPSTREAM_APP}/admin/inquiries/${id}`);
  await staff.waitForHydration();
  await expect(staff.messages).toHaveCount(50);
  await expect(staff.messages.last()).toBeInViewport();
  const list = staff.page.getByTestId('staff-messages');
  const anchorId = await staff.messages.first().getAttribute('data-id');
  await list.evaluate((el) => el.scrollTo({ top: 0 }));
  await expect(staff.messages).toHaveCount(61);
  // The message that was at the top stays at the top: the older page went in above it.
  const listTop = await list.evaluate((el) => el.getBoundingClientRect().top);
  const anchor = staff.conversation.locator(`[data-testid="staff-message"][data-id="${anchorId}"]`);
  const anchorTop = await anchor.evaluate((el) => el.getBoundingClientRect().top);
  expect(anchorTop - listTop).toBeGreaterThanOrEqual(0);
  expect(anchorTop - listTop).toBeLessThan(150);
  await list.evaluate((el) => el.scrollTo({ top: 0 }));
  await expect(staff.page.getByTestId('history-start')).toHaveText('Start of the conversation');
  // Reading old messages, a new one does not pull the view down: a pill offers it.
  await expect.poll(() => list.evaluate((el) => el.scrollTop)).toBeLessThan(100);
  const later = await customerContext.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages`, {
    data: { content: 'arrived while staff read' },
  });
  expect(later.status()).toBe(201);
  const pill = staff.page.getByTestId('new-messages');
  await expect(pill).toBeVisible();
  expect(await list.evaluate((el) => el.scrollTop)).toBeLessThan(100);
  await pill.click();
  await expect(pill).toBeHidden();
  await expect(staff.byRole('user').last()).toContainText('arrived while staff read');
  await expect(staff.byRole('user').last()).toBeInViewport();
  await customerContext.close();
  await staffContext.close();
});

test('a visitor who opens /admin gets 403 and the sign-in form, and a wrong password is refused', async ({ page }) => {
  const customer = new ChatPage(page);
  await customer.open('/');
  await customer.startOverApi(); // now a visitor with a session (page views create none)
  const response = await page.goto('/admin');
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId('signin-reason')).toContainText('for staff');
  await customer.waitForHydration();
  await page.getByTestId('signin-email').fill(ADMIN.email);
  await page.getByTestId('signin-password').fill('not the password');
  await page.getByTestId('signin-submit').click();
  await expect(page.getByTestId('signin-error')).toHaveText('the email or the password is wrong');
});

test('when the server restarts mid-conversation both sides reconnect and miss nothing', async ({ browser }) => {
  test.setTimeout(120_000);
  const server = new OwnServer(3103);
  await server.start();
  const { customer, staff, close } = await twoPeople(browser);
  try {
    await customer.open(`${server.base}/`);
    await customer.send('Can I talk to someone about a refund?');
    await customer.page.getByTestId('talk-to-person').click();
    await staff.signIn(server.base);
    await staff.inquiry(await customer.chatId()).click();
    await staff.send('Sure, I can help with that.');
    await expect(customer.contentOf(customer.byRole('agent').last())).toHaveText('Sure, I can help with that.');

    await server.stop();
    await expect(customer.page.getByTestId('link-status')).toHaveText('Reconnecting…');
    await expect(staff.page.getByTestId('panel-link').first()).toHaveText('Reconnecting…');

    await server.start();
    // A reply written before either side is back: both get it once, in order.
    const reply = await staff.page.evaluate(async (id) => {
      const response = await fetch(`/api/v1/admin/inquiries/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'Your refund is on its way.' }),
      });
      return response.status;
    }, await staff.conversation.getAttribute('data-id'));
    expect(reply).toBe(201);
    await expect(customer.page.getByTestId('link-status')).toHaveCount(0, { timeout: 30_000 });
    await expect(staff.page.getByTestId('panel-link').first()).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
    await expect(customer.byRole('agent')).toHaveText([/Sure, I can help/, /Your refund is on its way/]);
    await expect(staff.byRole('agent')).toHaveText([/Sure, I can help/, /Your refund is on its way/]);

    // And the conversation goes on both ways.
    await customer.send('Thank you!');
    await expect(staff.byRole('user').last()).toContainText('Thank you!');
    await expect(staff.byRole('user')).toHaveCount(2);
  } finally {
    await close();
    await server.stop();
  }
});

test('an admin saves a canned response, and staff put it in a reply with / filled in for the conversation', async ({ browser }) => {
  const { customer, staff, close } = await twoPeople(browser);
  await staff.signIn();
  await staff.page.getByTestId('nav-canned').click();
  const shortcut = `thanks${Date.now() % 100000}`;
  await staff.page.getByTestId('canned-new').click();
  await staff.page.getByTestId('canned-shortcut').fill(shortcut);
  await staff.page.getByTestId('canned-content').fill('Thanks for asking about the {{product.name}}! {{agent.name}}');
  await staff.page.getByTestId('canned-save').click();
  await expect(staff.page.locator(`[data-testid="canned-item"][data-shortcut="${shortcut}"]`)).toBeVisible();

  await customer.open('/products/2');
  await customer.send(`Is the chair heavy? (${Date.now()})`);
  const chatId = await customer.chatId();
  await staff.page.goto(`/admin/inquiries/${chatId}`);
  await staff.waitForHydration();
  await staff.reply.fill(`/${shortcut.slice(0, 6)}`);
  const option = staff.page.getByTestId('canned-option').filter({ hasText: `/${shortcut}` });
  await option.click();
  await expect(staff.reply).toHaveValue(`Thanks for asking about the Nimbus Office Chair! ${ADMIN.name}`);
  await staff.page.getByTestId('staff-send').click();
  await expect(customer.byRole('agent').last()).toContainText('Thanks for asking about the Nimbus Office Chair!');

  // A second one under a longer shortcut: ↓ chooses it and Enter puts it in the box.
  await staff.page.getByTestId('nav-canned').click();
  await staff.page.getByTestId('canned-new').click();
  await staff.page.getByTestId('canned-shortcut').fill(`${shortcut}-more`);
  await staff.page.getByTestId('canned-content').fill('Anything else I can help with?');
  await staff.page.getByTestId('canned-save').click();
  await expect(staff.page.locator(`[data-testid="canned-item"][data-shortcut="${shortcut}-more"]`)).toBeVisible();
  await staff.page.goto(`/admin/inquiries/${chatId}`);
  await staff.waitForHydration();
  await staff.reply.fill(`/${shortcut}`);
  const options = staff.page.getByTestId('canned-option');
  await expect(options).toHaveCount(2);
  await expect(options.first()).toHaveAttribute('data-chosen', 'true');
  await staff.reply.press('ArrowDown');
  await expect(options.nth(1)).toHaveAttribute('data-chosen', 'true');
  await staff.reply.press('Enter');
  await expect(staff.reply).toHaveValue('Anything else I can help with?');
  await close();
});
