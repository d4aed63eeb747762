import { expect, test } from './base';
import { ChatPage } from './chat-page';
import { ADMIN, StaffPage } from './staff';

// The offline assistant answers from the shop's knowledge and lists the articles it cites under
// its reply, as links a keyboard and a screen reader reach.
const REPLY_TIMEOUT = 45_000;

test('a reply cites the article it answers from, as a link under it, and staff see every passage it was given', async ({ browser, page, request }) => {
  const signIn = await request.post('/api/v1/auth/login', { data: { email: ADMIN.email, password: ADMIN.password } });
  expect(signIn.status()).toBe(200);
  const created = await request.post('/api/v1/admin/api-keys', { data: { name: 'e2e' } });
  expect(created.status()).toBe(201);
  const { key } = await created.json();
  // Words no other test asks about, so this article answers this question only.
  const id = `zephyr-care-${Date.now()}`;
  const put = await request.put(`/api/v1/admin/knowledge/${id}`, {
    headers: { authorization: `Bearer ${key}` },
    data: {
      title: 'Zephyr kettle care',
      url: 'https://shop.example/zephyr-care',
      body: '## Descaling\n\nDescale the Zephyr kettle monthly with citric acid.',
    },
  });
  expect(put.status()).toBe(201);

  const chat = new ChatPage(page);
  await chat.open();
  await chat.send('How do I descale my Zephyr kettle?');
  const reply = chat.byRole('assistant').nth(1);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: REPLY_TIMEOUT });
  await expect(chat.contentOf(reply)).toContainText('citric acid');
  const sources = reply.getByRole('navigation', { name: 'Sources' });
  const link = sources.getByRole('link', { name: 'Zephyr kettle care' });
  await expect(link).toHaveAttribute('href', 'https://shop.example/zephyr-care');
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer');

  // Coming back shows the same sources (they are kept with the reply).
  await chat.open();
  await expect(chat.byRole('assistant').nth(1).getByRole('link', { name: 'Zephyr kettle care' })).toBeVisible();
  const chatId = await chat.chatId();

  // Staff open the conversation and read what the shop's knowledge gave the reply, cited or not.
  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn();
  await staff.page.goto(`/admin/inquiries/${chatId}`);
  await staff.waitForHydration();
  const answer = staff.byRole('assistant').nth(1);
  const toggle = answer.getByRole('button', { name: 'Sources the assistant was given' });
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  const given = answer.getByTestId('given-source').filter({ hasText: 'Zephyr kettle care' });
  await expect(given).toHaveAttribute('data-cited', 'true');
  await expect(given.getByTestId('given-passage')).toContainText('Descale the Zephyr kettle monthly');
  await staffContext.close();
});

test('a reply that could not answer offers a person right under it, and staff find it as not answered', async ({ browser, page }) => {
  const chat = new ChatPage(page);
  await chat.open();
  await chat.send('What is the airspeed velocity of an unladen swallow?');
  const reply = chat.byRole('assistant').nth(1);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: REPLY_TIMEOUT });
  const offer = reply.getByTestId('talk-to-person-under-reply');
  await expect(offer).toHaveAccessibleName('Talk to a person');
  const chatId = await chat.chatId();

  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn();
  await staff.page.getByLabel('Answered').selectOption('unanswered');
  await expect(staff.inquiry(chatId).getByTestId('inquiry-unanswered')).toHaveText('Not answered');

  // The customer takes the offer: the conversation waits for a person.
  await offer.click();
  await expect(page.getByTestId('handoff-banner')).toBeVisible();
  await expect(offer).toBeHidden();
  await staffContext.close();
});

test('staff write an article in the panel with a preview, the assistant answers from it, and they delete it', async ({ browser, page }) => {
  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn();
  await staff.page.getByTestId('nav-knowledge').click();
  const knowledge = staff.page.getByTestId('knowledge-page');
  await expect(knowledge.getByRole('heading', { name: 'Knowledge' })).toBeVisible();

  const id = `lumen-bulbs-${Date.now()}`;
  await staff.page.getByTestId('knowledge-new').click();
  const editor = staff.page.getByTestId('knowledge-editor');
  await editor.getByTestId('knowledge-id').fill(id);
  await editor.getByTestId('knowledge-title').fill('Lumen bulbs');
  await editor.getByTestId('knowledge-url').fill('https://shop.example/lumen-bulbs');
  await editor.getByTestId('knowledge-body').fill('## Bulbs\n\nThe Lumen floor lamp takes **E27** bulbs of up to 60 watts.');
  await editor.getByRole('button', { name: 'Preview' }).click();
  await expect(editor.getByTestId('knowledge-preview').locator('strong')).toHaveText('E27');
  await editor.getByTestId('knowledge-save').click();
  await expect(editor).toBeHidden();
  const item = staff.page.locator(`[data-testid="knowledge-item"][data-id="${id}"]`);
  await expect(item).toContainText('Lumen bulbs');

  // Edited: the new title is what the list and the customer's citation show.
  await item.getByRole('button', { name: 'Edit Lumen bulbs' }).click();
  await editor.getByTestId('knowledge-title').fill('Lumen floor lamp bulbs');
  await editor.getByTestId('knowledge-save').click();
  await expect(item).toContainText('Lumen floor lamp bulbs');

  const chat = new ChatPage(page);
  await chat.open();
  await chat.send('Which bulbs does the Lumen floor lamp take?');
  const reply = chat.byRole('assistant').nth(1);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: REPLY_TIMEOUT });
  await expect(reply.getByRole('link', { name: 'Lumen floor lamp bulbs' })).toHaveAttribute('href', 'https://shop.example/lumen-bulbs');

  // An address inside the server's own network is not fetched; the panel says why.
  await staff.page.getByTestId('knowledge-import-url').fill('http://127.0.0.1:9/help');
  await staff.page.getByTestId('knowledge-import').click();
  await expect(staff.page.getByTestId('knowledge-import-result')).toContainText('private or local address');

  await item.getByRole('button', { name: 'Edit Lumen floor lamp bulbs' }).click();
  await editor.getByTestId('knowledge-delete').click();
  await expect(item).toBeHidden();
  await staffContext.close();
});

test('an admin creates an API key in the panel, an integration writes the catalog with it, and revoking it stops it', async ({ browser, request }) => {
  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn();
  await staff.page.getByTestId('nav-api-keys').click();
  const name = `Catalog sync ${Date.now()}`;
  await staff.page.getByTestId('api-key-name').fill(name);
  await staff.page.getByTestId('api-key-create').click();
  const key = (await staff.page.getByTestId('api-key-value').textContent())!.trim();
  expect(key).toMatch(/^fdk_/);
  const listed = staff.page.getByTestId('api-key').filter({ hasText: name });
  await expect(listed).toContainText(key.slice(0, 8));

  const product = {
    name: 'Kestrel desk fan',
    price: { amount: '39.00', currency: 'EUR' },
    description: 'A quiet desk fan with three speeds.',
  };
  const put = (id: string) =>
    request.put(`/api/v1/admin/products/${id}`, { headers: { authorization: `Bearer ${key}` }, data: product });
  const id = `kestrel-${Date.now()}`;
  expect((await put(id)).status()).toBe(201);

  await listed.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(listed).toBeHidden();
  expect((await put(id)).status()).toBe(401);
  await staffContext.close();
});

test('an admin renames a topic on the Assistant page and an open chat window offers it at once', async ({ browser, page }) => {
  const chat = new ChatPage(page);
  await chat.open();
  await chat.send('Hello there');
  await expect(chat.byRole('assistant').nth(1)).toHaveAttribute('data-status', 'complete', { timeout: REPLY_TIMEOUT });
  await expect(chat.contextSelect.locator('option[value="support"]')).toHaveText('Support');

  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn();
  await staff.page.getByTestId('nav-assistant').click();
  const support = staff.page.locator('[data-testid="context-form"][data-id="support"]');
  await expect(support.getByTestId('context-label')).toHaveValue('Support');
  const rename = async (label: string) => {
    await support.getByTestId('context-label').fill(label);
    await support.getByTestId('context-save').click();
    await expect(staff.page.getByTestId('context-said')).toHaveText('Saved.');
    await expect(support.getByTestId('context-label')).toHaveValue(label);
  };
  await rename('Help & returns');
  // The window hears it on its live connection: no reload.
  await expect(chat.contextSelect.locator('option[value="support"]')).toHaveText('Help & returns');

  // A blank label is refused with the reason, and nothing changes.
  await support.getByTestId('context-label').fill(' ');
  await support.getByTestId('context-save').click();
  await expect(support.getByTestId('context-error')).toContainText('label');

  await rename('Support');
  await expect(chat.contextSelect.locator('option[value="support"]')).toHaveText('Support');
  await staffContext.close();
});

test('staff import Markdown and HTML files from the Knowledge page, and a file that cannot be an article is listed with its reason', async ({ browser, page }) => {
  const staffContext = await browser.newContext();
  const staff = new StaffPage(await staffContext.newPage());
  await staff.signIn();
  await staff.page.getByTestId('nav-knowledge').click();
  const stamp = Date.now();
  await staff.page.getByTestId('knowledge-files').setInputFiles([
    { name: `oak-care-${stamp}.md`, mimeType: 'text/markdown', buffer: Buffer.from('# Oak care\n\nOil the Quercus oak chair twice a year with linseed oil.') },
    { name: `gift-wrap-${stamp}.html`, mimeType: 'text/html', buffer: Buffer.from('<html><body><h1>Gift wrap</h1><p>Gift wrap costs 4 euros.</p></body></html>') },
    { name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) },
  ]);
  await staff.page.getByTestId('knowledge-upload').click();
  const result = staff.page.getByTestId('knowledge-upload-result');
  await expect(result).toContainText('2 created, 0 updated, 0 unchanged.');
  await expect(result).toContainText('Not imported: logo.png');
  await expect(staff.page.locator(`[data-testid="knowledge-item"][data-id="oak-care-${stamp}"]`)).toContainText('Oak care');

  // The assistant answers from the uploaded file.
  const chat = new ChatPage(page);
  await chat.open();
  await chat.send('How often should I oil the Quercus oak chair?');
  const reply = chat.byRole('assistant').nth(1);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: REPLY_TIMEOUT });
  await expect(reply).toContainText('twice a year');
  await staffContext.close();
});
