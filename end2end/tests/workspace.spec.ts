import { type Browser } from '@playwright/test';
import { expect, test } from './base';
import { ChatPage } from './chat-page';
import { ADMIN, StaffPage } from './staff';

// The team's workspace (issue 32): the team page, private notes with mentions, the default view
// and the staff wording of system lines, with people in browsers of their own.
async function person<T>(browser: Browser, make: (page: import('@playwright/test').Page) => T) {
  const context = await browser.newContext();
  return { who: make(await context.newPage()), close: () => context.close() };
}

test('an admin adds a member who signs in, and deactivating them signs them out at once', async ({ browser }) => {
  const admin = await person(browser, (page) => new StaffPage(page));
  await admin.who.signIn();
  await admin.who.page.getByTestId('nav-team').click();
  const stamp = Date.now();
  const email = `kim.${stamp}@e2e.test`;
  await admin.who.page.getByTestId('member-email').fill(email);
  await admin.who.page.getByTestId('member-name').fill(`Kim ${stamp}`);
  await admin.who.page.getByTestId('member-add-submit').click();
  const password = (await admin.who.page.getByTestId('member-password').textContent())!.trim();
  expect(password.length).toBeGreaterThanOrEqual(12);
  const row = admin.who.page.locator(`[data-testid="team-member"][data-email="${email}"]`);
  await expect(row).toHaveAttribute('data-active', 'true');

  // The new member signs in with the password shown once.
  await expect(row.getByTestId('presence')).toHaveAttribute('data-state', 'offline');
  const kim = await person(browser, (page) => new StaffPage(page));
  await kim.who.signIn('', { email, password, name: `Kim ${stamp}` });
  // Their panel open, they are online on the admin's page at once; they say they are away.
  await expect(row.getByTestId('presence')).toHaveAttribute('data-state', 'online');
  await kim.who.page.getByTestId('own-availability').selectOption('away');
  await expect(row.getByTestId('presence')).toHaveAttribute('data-state', 'away');
  await expect(kim.who.page.getByTestId('own-presence').getByTestId('presence')).toHaveAttribute('data-state', 'away');
  await kim.who.page.getByTestId('own-availability').selectOption('online');
  await expect(row.getByTestId('presence')).toHaveAttribute('data-state', 'online');

  // Deactivated: their open panel is signed out at once, and the team page says so.
  await row.getByTestId('member-deactivate').click();
  await expect(row).toHaveAttribute('data-active', 'false');
  await expect(row.getByTestId('member-status')).toHaveText('Deactivated');
  await expect(kim.who.page.getByTestId('panel-link').first()).toHaveAttribute('data-state', /refused/);
  await expect(row.getByTestId('presence')).toHaveAttribute('data-state', 'offline');
  await kim.who.page.reload();
  await expect(kim.who.page.getByTestId('signin-email')).toBeVisible();

  // The only admin cannot demote themselves: the reason is shown.
  const me = admin.who.page.locator(`[data-testid="team-member"][data-email="${ADMIN.email}"]`);
  await me.getByTestId('member-role').selectOption('agent');
  await expect(admin.who.page.getByTestId('team-error')).toContainText('active admin');
  await row.getByTestId('member-reactivate').click();
  await expect(row).toHaveAttribute('data-active', 'true');
  await kim.close();
  await admin.close();
});

test('a private note shows to the team live, tells the member it mentions, and never reaches the customer', async ({ browser, baseURL }) => {
  // A second member to mention, added over the API as the admin.
  const admin = await person(browser, (page) => new StaffPage(page));
  await admin.who.signIn();
  const stamp = Date.now();
  const bea = { email: `bea.${stamp}@e2e.test`, name: `Bea${stamp}`, password: '' };
  const added = await admin.who.page.request.post(`${baseURL}/api/v1/admin/staff`, {
    data: { email: bea.email, display_name: bea.name, role: 'agent' },
    headers: { origin: baseURL! },
  });
  expect(added.status()).toBe(201);
  bea.password = (await added.json()).password;
  const beaPanel = await person(browser, (page) => new StaffPage(page));
  await beaPanel.who.signIn('', bea);

  const customer = await person(browser, (page) => new ChatPage(page));
  await customer.who.open('/');
  await customer.who.send(`Where is my parcel? (${stamp})`);
  const chatId = await customer.who.chatId();
  await customer.who.lastReplyWhenDone();

  await admin.who.inquiry(chatId).click();
  await admin.who.page.getByTestId('mode-note').click();
  await expect(admin.who.reply).toHaveAttribute('data-mode', 'note');
  await admin.who.reply.fill(`Courier says Tuesday. @${bea.name} can you follow up?`);
  await admin.who.page.getByTestId('staff-send').click();
  await expect(admin.who.reply).toHaveValue('');
  const note = admin.who.conversation.getByTestId('staff-note');
  await expect(note).toHaveCount(1);
  await expect(note).toContainText('Courier says Tuesday.');
  await expect(note).toContainText('Private note');

  // The member it mentions is told, and opens it from there; the note shows live beside the history.
  const mention = beaPanel.who.page.getByTestId('mention-notice');
  await expect(mention).toContainText(`Admin mentioned you in #${chatId}`);
  await mention.getByRole('link').click();
  await expect(beaPanel.who.conversation.getByTestId('staff-note')).toContainText('Courier says Tuesday.');

  // The customer's window never shows it, live or after a reload.
  await customer.who.send('Any news?');
  await customer.who.lastReplyWhenDone();
  await expect(customer.who.page.getByText('Courier says Tuesday')).toHaveCount(0);
  await customer.who.open('/');
  await expect(customer.who.byRole('user').last()).toContainText('Any news?');
  await expect(customer.who.page.getByText('Courier says Tuesday')).toHaveCount(0);
  // Nor does the customer's history over the API.
  const history = await customer.who.page.request.get(`${baseURL}/api/v1/chats/${chatId}/messages`);
  expect(await history.text()).not.toContain('Courier says Tuesday');
  await customer.close();
  await beaPanel.close();
  await admin.close();
});

test('a conversation staff replied to stays in the default view, and its system lines speak to staff', async ({ browser }) => {
  const staff = await person(browser, (page) => new StaffPage(page));
  await staff.who.signIn();
  const customer = await person(browser, (page) => new ChatPage(page));
  await customer.who.open('/');
  await customer.who.send(`I want a person (${Date.now()})`);
  const chatId = await customer.who.chatId();
  await customer.who.page.getByTestId('talk-to-person').click();
  const row = staff.who.inquiry(chatId);
  await expect(row).toHaveAttribute('data-status', 'pending');
  await row.click();
  await expect(staff.who.byRole('system').filter({ hasText: 'The customer asked for a person' })).toHaveCount(1);
  await expect(customer.who.byRole('system').filter({ hasText: 'You asked for a person' })).toHaveCount(1);
  await staff.who.send('Hi, I am here.');
  // In progress now, and still listed: the list never reads "No conversations here" beside it.
  await expect(row).toHaveAttribute('data-status', 'in_progress');
  await expect(staff.who.page.getByTestId('inquiry-empty')).toHaveCount(0);
  // Another member's "waiting" view does not hold it; "Unassigned" neither (the reply assigned it).
  await staff.who.page.getByTestId('filter-status').selectOption('pending');
  await expect(row).toHaveCount(0);
  await staff.who.page.getByTestId('filter-status').selectOption('active');
  await expect(row).toHaveCount(1);
  await staff.who.page.getByTestId('filter-assignee').selectOption('none');
  await expect(row).toHaveCount(0);
  await customer.close();
  await staff.close();
});

test('beside a conversation, staff see the customer: what they asked about, where, and their other conversations one click away', async ({ browser, baseURL }) => {
  const staff = await person(browser, (page) => new StaffPage(page));
  await staff.who.signIn();
  const customer = await person(browser, (page) => new ChatPage(page));
  await customer.who.open('/products/2');
  await customer.who.send(`Is this in stock? (${Date.now()})`);
  const chatId = await customer.who.chatId();
  // The same customer, another conversation (over the API, with their session).
  const other = await customer.who.page.request.post(`${baseURL}/api/v1/chats`, {
    data: { message: { content: 'And my older order?' } },
    headers: { origin: baseURL! },
  });
  expect(other.status()).toBe(201);
  const otherId = (await other.json()).id;
  await staff.who.page.goto(`/admin/inquiries/${chatId}`);
  const card = staff.who.page.getByTestId('customer');
  await expect(card.getByTestId('customer-product')).toHaveAttribute('data-id', '2');
  await expect(card.getByTestId('customer-page').first()).toHaveAttribute('href', /\/products\/2/);
  await expect(card.getByTestId('customer-first-seen')).not.toBeEmpty();
  await expect(card.getByTestId('customer-tokens')).toContainText('tokens');
  const link = card.locator(`[data-testid="customer-conversation"][data-id="${otherId}"]`);
  await link.click();
  await expect(staff.who.page).toHaveURL(new RegExp(`/admin/inquiries/${otherId}$`));
  await expect(staff.who.page.getByTestId('conversation')).toHaveAttribute('data-id', String(otherId));
  await expect(staff.who.page.locator(`[data-testid="customer-conversation"][data-id="${chatId}"]`)).toHaveCount(1);
  await customer.close();
  await staff.close();
});

test('"Forgot password?" answers the same for any address, and a used or unknown link says why', async ({ page }) => {
  const staff = new StaffPage(page);
  const response = await page.goto('/admin/login');
  expect(response?.status()).toBe(200);
  await staff.waitForHydration();
  await page.getByTestId('forgot-password').click();
  await page.getByTestId('reset-email').fill(`nobody.${Date.now()}@e2e.test`);
  await page.getByTestId('reset-send').click();
  await expect(page.getByTestId('reset-sent')).toContainText('If that address has an account, a link is on its way');

  await page.goto('/admin/reset-password?token=not-a-real-token');
  await staff.waitForHydration();
  await page.getByTestId('reset-password').fill('a-long-new-password');
  await page.getByTestId('reset-submit').click();
  await expect(page.getByTestId('reset-error')).toContainText('used already, expired');
});

test('an admin makes a label, it goes on a conversation, shows in the list, filters it, and comes off', async ({ browser }) => {
  const staff = await person(browser, (page) => new StaffPage(page));
  await staff.who.signIn();
  const customer = await person(browser, (page) => new ChatPage(page));
  await customer.who.open('/');
  await customer.who.send(`I want a refund (${Date.now()})`);
  const chatId = await customer.who.chatId();

  const name = `Refund${Date.now() % 100000}`;
  await staff.who.page.getByTestId('nav-labels').click();
  await staff.who.page.getByTestId('label-new').click();
  await staff.who.page.getByTestId('label-name').fill(name);
  await staff.who.page.getByTestId('label-color').fill('#b91c1c');
  await staff.who.page.getByTestId('label-save').click();
  await expect(staff.who.page.locator(`[data-testid="label-item"][data-name="${name}"]`)).toHaveCount(1);

  const row = staff.who.inquiry(chatId);
  await row.click();
  await staff.who.page.getByTestId('add-label').selectOption({ label: name });
  const header = staff.who.conversation.getByTestId('conversation-labels');
  await expect(header.getByTestId('label-chip')).toHaveText(name + '×');
  await expect(row.getByTestId('label-chip')).toHaveText(name);
  // The list filters by it: only labelled conversations stay.
  await staff.who.page.getByTestId('filter-label').selectOption({ label: name });
  await expect(staff.who.inquiries).toHaveCount(1);
  await expect(row).toHaveCount(1);
  // Taken off, it leaves the filtered list live.
  await header.getByTestId('label-remove').click();
  await expect(header.getByTestId('label-chip')).toHaveCount(0);
  await expect(row).toHaveCount(0);
  await customer.close();
  await staff.close();
});

test('the keyboard works the panel, and the tab title counts the customers waiting for a person', async ({ browser }) => {
  const staff = await person(browser, (page) => new StaffPage(page));
  await staff.who.signIn();
  const page = staff.who.page;
  const waiting = async () => Number((await page.title()).match(/^\((\d+)\) /)?.[1] ?? 0);
  const counted = async () => (await (await page.request.get('/api/v1/admin/inquiries/counts')).json()).waiting as number;
  // The title shows the server's count once the panel has it.
  await expect.poll(async () => (await waiting()) === (await counted())).toBe(true);
  const before = await counted();

  const customer = await person(browser, (p) => new ChatPage(p));
  await customer.who.open('/');
  await customer.who.send(`Keyboard test (${Date.now()})`);
  const chatId = await customer.who.chatId();
  await customer.who.page.getByTestId('talk-to-person').click();
  // The title follows the server's count live (others' conversations may count too).
  await expect.poll(async () => (await counted()) > before && (await waiting()) === (await counted())).toBe(true);
  await expect(staff.who.inquiry(chatId)).toHaveCount(1);

  // ? lists every shortcut; Esc closes the list.
  await page.locator('body').press('?');
  const help = page.getByTestId('shortcuts');
  await expect(help).toBeVisible();
  await expect(help).toContainText('Assign the conversation to me');
  await page.keyboard.press('Escape');
  await expect(help).toHaveCount(0);

  // j opens the first conversation of the list, then the next; k goes back. The list is live
  // (earlier tests' conversations may move in it), so each step reads it as it is then.
  const listed = () => staff.who.inquiries.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
  const first = (await listed())[0];
  await page.keyboard.press('j');
  await expect(page).toHaveURL(new RegExp(`/admin/inquiries/${first}$`));
  const ids = await listed();
  const at = ids.indexOf(first);
  if (ids.length > 1) {
    const [away, back] = at < ids.length - 1 ? ['j', 'k'] : ['k', 'j'];
    await page.keyboard.press(away);
    await expect(page).toHaveURL(new RegExp(`/admin/inquiries/${ids[away === 'j' ? at + 1 : at - 1]}$`));
    await page.keyboard.press(back);
    await expect(page).toHaveURL(new RegExp(`/admin/inquiries/${first}$`));
  }

  // In the customer's conversation: a assigns it to me, n and r pick the box's mode, / opens the
  // canned responses, e resolves.
  await staff.who.inquiry(chatId).click();
  await expect(staff.who.conversation).toHaveAttribute('data-id', chatId);
  await page.getByTestId('conversation-title').click();
  await page.keyboard.press('a');
  await expect(page.getByTestId('set-assignee')).not.toHaveValue('');
  await page.keyboard.press('n');
  await expect(staff.who.reply).toBeFocused();
  await expect(staff.who.reply).toHaveAttribute('data-mode', 'note');
  // Keys typed in the box are text.
  await page.keyboard.type('e a j');
  await expect(staff.who.reply).toHaveValue('e a j');
  await staff.who.reply.fill('');
  await page.getByTestId('conversation-title').click();
  await page.keyboard.press('r');
  await expect(staff.who.reply).toBeFocused();
  await expect(staff.who.reply).toHaveAttribute('data-mode', 'reply');
  await page.getByTestId('conversation-title').click();
  await page.keyboard.press('/');
  await expect(staff.who.reply).toHaveValue('/');
  await staff.who.reply.fill('');
  await page.getByTestId('conversation-title').click();
  const withOurs = await counted();
  await page.keyboard.press('e');
  await expect(page.getByTestId('set-status')).toHaveValue('resolved');
  await expect.poll(async () => (await counted()) < withOurs && (await waiting()) === (await counted())).toBe(true);
  await customer.close();
  await staff.close();
});

test('snoozing sets a conversation aside until its time, and the customer writing wakes it', async ({ browser }) => {
  const staff = await person(browser, (page) => new StaffPage(page));
  await staff.who.signIn();
  const customer = await person(browser, (page) => new ChatPage(page));
  await customer.who.open('/');
  await customer.who.send(`Snooze me (${Date.now()})`);
  const chatId = await customer.who.chatId();
  await customer.who.lastReplyWhenDone();
  const row = staff.who.inquiry(chatId);
  await row.click();
  await staff.who.page.getByTestId('snooze').selectOption('3600');
  await expect(staff.who.page.getByTestId('set-status')).toHaveValue('snoozed');
  await expect(staff.who.page.getByTestId('snooze')).toHaveValue('');
  await expect(staff.who.page.getByTestId('snoozed-until')).toContainText('Snoozed until');
  // Out of the default view; in the snoozed one.
  await expect(row).toHaveCount(0);
  await staff.who.page.getByTestId('filter-status').selectOption('snoozed');
  await expect(row).toHaveAttribute('data-status', 'snoozed');
  // The customer writes: it is pending again, live.
  await customer.who.send('Any news?');
  await expect(row).toHaveCount(0);
  await expect(staff.who.page.getByTestId('set-status')).toHaveValue('pending');
  await customer.close();
  await staff.close();
});

test('an admin sets the window: the preview follows, a pale colour is refused with its contrast, and the window shows the change', async ({ browser, baseURL }) => {
  const admin = await person(browser, (page) => new StaffPage(page));
  await admin.who.signIn();
  const page = admin.who.page;
  const defaults = await (await page.request.get(`${baseURL}/api/v1/admin/settings/window`)).json();
  try {
    await page.getByTestId('nav-window').click();
    await page.getByTestId('window-color').fill('#ffcc00');
    await expect(page.getByTestId('window-contrast')).toHaveAttribute('data-passes', 'false');
    await page.getByTestId('window-save').click();
    await expect(page.getByTestId('window-message')).toContainText('4.5:1');
    await page.getByTestId('window-color').fill('#0f766e');
    await expect(page.getByTestId('window-contrast')).toHaveAttribute('data-passes', 'true');
    await page.getByTestId('window-title-input').fill('Acme help');
    await expect(page.getByTestId('preview-title')).toHaveText('Acme help');
    await page.getByTestId('window-welcome').fill('Questions? Ask us');
    await expect(page.getByTestId('preview-welcome')).toHaveText('Questions? Ask us');
    await page.getByTestId('window-launcher-left').check();
    await expect(page.getByTestId('window-preview')).toHaveAttribute('data-side', 'left');
    await page.getByTestId('window-save').click();
    await expect(page.getByTestId('window-message')).toContainText('Saved');

    // A customer's next page has it: the launcher on the left in the brand colour, the welcome
    // beside it, the title in the window.
    const customer = await person(browser, (p) => new ChatPage(p));
    await customer.who.page.goto('/');
    const launcher = customer.who.page.getByTestId('launcher');
    await expect(launcher).toBeVisible();
    await expect(launcher).toHaveCSS('background-color', 'rgb(15, 118, 110)');
    await expect(launcher).toHaveCSS('left', '20px');
    await expect(customer.who.page.getByTestId('launcher-prompt')).toHaveText('Questions? Ask us');
    await launcher.click();
    await expect(customer.who.page.getByTestId('window-title')).toHaveText('Acme help');

    // On a shop's own site, embed.js draws its launcher the same way, with the welcome beside it
    // until the window is first opened.
    const shop = customer.who.page;
    await shop.goto('http://127.0.0.1:3102/');
    const embedded = shop.locator('[data-frontdesk=launcher]');
    await expect(embedded).toHaveCSS('background-color', 'rgb(15, 118, 110)');
    await expect(embedded).toHaveCSS('left', '20px');
    const welcome = shop.locator('[data-frontdesk=welcome]');
    await expect(welcome).toHaveText('Questions? Ask us');
    await welcome.click();
    await expect(shop.frameLocator('[data-frontdesk=frame]').getByTestId('window-title')).toHaveText('Acme help');
    await expect(welcome).toHaveCount(0);
    await customer.close();
  } finally {
    // Leave the window as the other tests expect it.
    const put = await page.request.put(`${baseURL}/api/v1/admin/settings/window`, {
      data: { ...defaults, avatar: undefined },
      headers: { origin: baseURL! },
    });
    expect(put.status()).toBe(200);
    await admin.close();
  }
});

test('after hours the window says when the team is back, the assistant answers, and asking for a person asks for an email', async ({ browser, baseURL }) => {
  const admin = await person(browser, (page) => new StaffPage(page));
  await admin.who.signIn();
  const api = admin.who.page.request;
  const settings = `${baseURL}/api/v1/admin/settings/window`;
  const defaults = await (await api.get(settings)).json();
  // Closed every day: the team is out whenever this runs.
  const closed = { ...defaults, avatar: undefined, business_hours: { enabled: true, time_zone: 'Europe/Paris', days: Array(7).fill(null) } };
  expect((await api.put(settings, { data: closed, headers: { origin: baseURL! } })).status()).toBe(200);
  try {
    const customer = await person(browser, (p) => new ChatPage(p));
    const chat = customer.who;
    await chat.open('/');
    await expect(chat.page.getByTestId('subheader')).toHaveText("We're away now.");
    await chat.send('Do you ship to Spain?');
    await expect(chat.contentOf(await chat.lastReplyWhenDone())).not.toBeEmpty();
    await chat.page.getByTestId('talk-to-person').click();
    const banner = chat.page.getByTestId('handoff-banner');
    await expect(banner).toContainText('The team is away now. Leave your email');
    await expect(chat.byRole('system').last()).toContainText("We're away now. Leave your email so the team can write to you.");
    await banner.getByTestId('email-input').fill('sam@example.com');
    await banner.getByTestId('email-save').click();
    await expect(banner.getByTestId('email-saved')).toContainText('sam@example.com');

    // Staff read what happened, and have the address to answer at.
    const id = await chat.chatId();
    await admin.who.page.goto(`/admin/inquiries/${id}`);
    await expect(admin.who.page.getByText('The customer asked for a person after hours, asked to leave an email')).toBeVisible();
    await customer.close();
  } finally {
    const put = await api.put(settings, { data: { ...defaults, avatar: undefined }, headers: { origin: baseURL! } });
    expect(put.status()).toBe(200);
    await admin.close();
  }
});
