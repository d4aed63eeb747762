import { chromium, request as playwrightRequest, type Locator, type Page } from '@playwright/test';
import { expect, test } from './base';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium';
import { ChatPage, FAKE_UPSTREAM, UPSTREAM_APP } from './chat-page';
import { ADMIN } from './staff';

async function upstreamRequests(page: Page): Promise<any[]> {
  const response = await page.request.get(`${FAKE_UPSTREAM}/__requests`);
  return response.json();
}

test.describe('a first visit', () => {
  test('looking writes nothing; the first message starts the conversation, live, and it stays', async ({ page, context }) => {
    const chat = new ChatPage(page);
    const calls: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (/^\/api\/fn\/(start_chat|send_message)/.test(path)) calls.push(path.replace(/\d+$/, ''));
    });
    await chat.open(UPSTREAM_APP);
    const session = async () => (await context.cookies(UPSTREAM_APP)).find((c) => c.name === 'fd_session');
    expect(await session()).toBeUndefined();
    await expect(chat.window).toHaveAttribute('data-chat-id', '0');
    await expect(chat.byRole('assistant')).toHaveCount(1); // the greeting, shown before anything exists
    await chat.send('hello there');
    const id = await chat.chatId();
    await expect(chat.contentOf(await chat.lastReplyWhenDone())).toHaveText('Upstream reply to: hello there');
    await expect(chat.messages).toHaveCount(3);
    expect(calls).toEqual(['/api/fn/start_chat']); // the first message went with the request that started the chat
    expect(await session()).toBeDefined();
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(chat.window).toHaveAttribute('data-chat-id', id);
    await expect(chat.messages).toHaveCount(3);
  });

  test("a shop's visitor downloads the window's bundle and never the staff panel's", async ({ page }) => {
    const bundles: string[] = [];
    page.on('request', (request) => {
      const file = new URL(request.url()).pathname;
      if (/^\/pkg\/.*\.(wasm|js)$/.test(file)) bundles.push(file);
    });
    const chat = new ChatPage(page);
    await chat.open('/products/2');
    await chat.send('Is it in stock?');
    await chat.lastReplyWhenDone();
    await page.goto('/');
    await chat.waitForHydration();
    expect(bundles.length).toBeGreaterThan(0);
    expect(bundles.filter((file) => file.includes('_panel'))).toEqual([]);
    // Staff get theirs, and it hydrates the panel.
    await page.goto('/admin/login');
    await chat.waitForHydration();
    expect(bundles).toContain('/pkg/frontdesk_panel.wasm');
  });

  test('when the conversation cannot be started the message comes back to the box, and sending again works', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await page.route('**/api/fn/start_chat', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ code: 'unavailable', message: 'the service is busy; try again in a moment' }) }),
    );
    await chat.send('first words');
    await expect(page.getByTestId('notice')).toHaveText('the service is busy; try again in a moment');
    await expect(chat.composer).toHaveValue('first words');
    await expect(chat.byRole('user')).toHaveCount(0);
    await expect(chat.window).toHaveAttribute('data-chat-id', '0');
    await page.unroute('**/api/fn/start_chat');
    await chat.sendButton.click();
    await chat.chatId();
    await expect(chat.contentOf(await chat.lastReplyWhenDone())).toHaveText('Upstream reply to: first words');
    await expect(chat.byRole('user')).toHaveCount(1);
  });
});

test.describe('the composer', () => {
  test('Enter adds a line by default, and the setting makes Enter send', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.composer.fill('one');
    await chat.composer.press('Enter');
    await expect(chat.byRole('user')).toHaveCount(0);
    await page.getByTestId('settings-button').click();
    const dialog = page.getByTestId('settings-dialog');
    await expect(dialog).toBeVisible();
    await dialog.getByTestId('send-key-enter').check();
    await expect(dialog.getByRole('status')).toHaveText('Saved');
    await dialog.press('Escape');
    await expect(dialog).toBeHidden();
    await chat.composer.press('Shift+Enter');
    await chat.composer.pressSequentially('two');
    await expect(chat.composer).toHaveValue('one\n\ntwo');
    await chat.composer.press('Enter');
    await expect(chat.byRole('user')).toHaveCount(1);
    await expect(chat.contentOf(chat.byRole('user'))).toHaveText('one\n\ntwo');
  });

  test('words typed before the page hydrated are kept and can be sent', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open();
    // On the next load the app's WASM arrives only once the customer has typed.
    let release!: () => void;
    const typed = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/pkg/*.wasm', async (route) => {
      await typed;
      await route.continue();
    });
    await page.reload();
    await chat.composer.fill('typed while the page loaded');
    await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
    release();
    await chat.waitForHydration();
    await expect(chat.sendButton).toBeEnabled();
    await chat.sendButton.click();
    await expect(chat.contentOf(chat.byRole('user'))).toHaveText('typed while the page loaded');
  });

  test('a counter appears near the limit and sending stops over it', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    const counter = page.getByTestId('char-counter');
    await chat.composer.fill('a'.repeat(3000));
    await expect(counter).toBeHidden();
    await chat.composer.fill('a'.repeat(3700));
    await expect(counter).toHaveText('3700 / 4000');
    await chat.composer.fill('a'.repeat(4005));
    await expect(counter).toContainText('5 characters over the limit');
    await expect(chat.sendButton).toBeDisabled();
    await chat.composer.press('Shift+Enter');
    await expect(chat.byRole('user')).toHaveCount(0);
    await chat.composer.fill('a'.repeat(4000));
    await expect(chat.sendButton).toBeEnabled();
  });

  test('a refused message rolls back and its text returns to the box', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    // The server refuses the message (as it would when the visitor sends too fast); a first
    // message goes with the request that starts the conversation.
    await page.route('**/api/fn/{start_chat,send_message}*', (route) =>
      route.fulfill({ status: 429, contentType: 'application/json', body: JSON.stringify({ code: 'rate_limited', message: 'too many requests; try again in a moment' }) }),
    );
    await chat.composer.fill('will be refused');
    await chat.composer.press('Shift+Enter');
    await expect(page.getByTestId('notice')).toContainText('too many requests');
    await expect(chat.byRole('user')).toHaveCount(0);
    await expect(chat.composer).toHaveValue('will be refused');
  });

  test('past the day\'s allowance the window says so, keeps the draft, and a person can still be asked', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    // The fake model reports 500,000 tokens for this reply: more than a visitor's day.
    await chat.send('costly question');
    await expect(await chat.lastReplyWhenDone()).toContainText('Upstream reply to: costly question');
    await chat.send('one more question');
    await expect(page.getByTestId('notice')).toContainText("today's allowance");
    await expect(chat.byRole('user')).toHaveCount(1);
    await expect(chat.composer).toHaveValue('one more question');
    await page.getByTestId('talk-to-person').click();
    await expect(page.getByTestId('handoff-banner')).toContainText('A person from our team will answer here soon');
  });
});

test.describe('the message menu', () => {
  test('editing asks again: Cancel keeps the text, Confirm saves it and regenerates the reply', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.send('What does the lamp cost?');
    await expect(chat.contentOf(await chat.lastReplyWhenDone())).toHaveText('Upstream reply to: What does the lamp cost?');
    const mine = chat.byRole('user').first();
    await mine.hover();
    await mine.getByTestId('message-menu-button').click();
    await page.getByTestId('menu-edit').click();
    const input = mine.getByTestId('edit-input');
    await input.fill('changed my mind');
    await mine.getByTestId('edit-cancel').click();
    await expect(chat.contentOf(mine)).toHaveText('What does the lamp cost?');
    await mine.getByTestId('message-menu-button').click();
    await page.getByTestId('menu-edit').click();
    await input.fill('What does the chair cost?');
    await input.press('Escape');
    await expect(chat.contentOf(mine)).toHaveText('What does the lamp cost?');
    await mine.getByTestId('message-menu-button').click();
    await page.getByTestId('menu-edit').click();
    await input.fill('What does the chair cost?');
    await mine.getByTestId('edit-confirm').click();
    await expect(chat.contentOf(mine)).toHaveText('What does the chair cost?');
    await expect(chat.contentOf(chat.byRole('assistant').last())).toHaveText('Upstream reply to: What does the chair cost?', { timeout: 15_000 });
    await expect(chat.byRole('assistant')).toHaveCount(2);
  });

  test('the menu stays inside the window for short and long messages', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.send('hi');
    await expect(chat.contentOf(await chat.lastReplyWhenDone())).toHaveText('Upstream reply to: hi');
    await chat.send(`echo: ok ${'a rather long question about delivery times '.repeat(12)}`);
    await expect(chat.byRole('assistant')).toHaveCount(3);
    await chat.lastReplyWhenDone();
    const frame = (await chat.window.boundingBox())!;
    for (const mine of [chat.byRole('user').first(), chat.byRole('user').last()]) {
      await mine.hover();
      await mine.getByTestId('message-menu-button').click();
      const menu = mine.getByTestId('message-menu');
      await expect(menu).toBeVisible();
      const box = (await menu.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(frame.x);
      expect(box.x + box.width).toBeLessThanOrEqual(frame.x + frame.width);
      await menu.press('Escape');
      await expect(menu).toBeHidden();
    }
  });

  test('deleting asks first: Cancel keeps the message, Delete removes it', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.send('delete me');
    await chat.lastReplyWhenDone();
    const mine = chat.byRole('user').first();
    await mine.hover();
    await mine.getByTestId('message-menu-button').click();
    await page.getByTestId('menu-delete').click();
    const confirm = mine.getByTestId('delete-confirm');
    await expect(confirm).toBeVisible();
    await confirm.getByTestId('delete-cancel').click();
    await expect(confirm).toBeHidden();
    await expect(chat.byRole('user')).toHaveCount(1);
    await mine.getByTestId('message-menu-button').click();
    await page.getByTestId('menu-delete').click();
    await mine.getByTestId('delete-confirm-button').click();
    await expect(chat.byRole('user')).toHaveCount(0);
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(chat.byRole('user')).toHaveCount(0);
  });

  test('send, edit and delete work with the keyboard alone', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    // Tab from the top of the page to the message box.
    for (let i = 0; i < 30 && !(await chat.composer.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press('Tab');
    }
    await expect(chat.composer).toBeFocused();
    await page.keyboard.type('typed, not clicked');
    await page.keyboard.press('Shift+Enter');
    await chat.lastReplyWhenDone();
    const mine = chat.byRole('user').first();
    const menuButton = mine.getByTestId('message-menu-button');
    for (let i = 0; i < 30 && !(await menuButton.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press('Shift+Tab');
    }
    await expect(menuButton).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('menu-edit')).toBeFocused();
    await page.keyboard.press('Enter');
    const input = mine.getByTestId('edit-input');
    await expect(input).toBeFocused();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('edited by keyboard');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(mine.getByTestId('edit-confirm')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(chat.contentOf(mine)).toHaveText('edited by keyboard');
    await chat.lastReplyWhenDone();
    await menuButton.focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('menu-edit')).toBeFocused();
    await page.keyboard.press('ArrowDown');
    await expect(page.getByTestId('menu-delete')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(mine.getByTestId('delete-cancel')).toBeFocused();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect(chat.byRole('user')).toHaveCount(0);
  });
});

test.describe('the assistant', () => {
  test('a context picked first starts the chat in it; a switch later shows in the transcript; the upstream is asked in it', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await expect(page.getByTestId('subheader')).toContainText('products, prices and orders');
    await chat.contextSelect.selectOption('billing');
    await chat.chatId();
    await expect(page.getByTestId('subheader')).toContainText('Invoices, payments and refunds');
    await expect(chat.contentOf(chat.byRole('assistant').first())).toContainText('invoices, payments and refunds');
    await expect(chat.byRole('system')).toHaveCount(0);
    const question = `where is my invoice ${Date.now()}`;
    await chat.send(question);
    await chat.lastReplyWhenDone();
    const askedFor = async () => (await upstreamRequests(page)).find((r) => r.messages.at(-1).content === question);
    await expect.poll(askedFor, { message: 'the upstream was asked this question' }).toBeTruthy();
    const asked = await askedFor();
    expect(asked.messages[0].role).toBe('system');
    expect(asked.messages[0].content).toContain('billing assistant');
    await chat.contextSelect.selectOption('support');
    await expect(chat.byRole('system').last()).toHaveText('Switched to Support');
  });

  test('a reply can be stopped and retried', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.send('slow answer please');
    const reply = chat.byRole('assistant').last();
    await expect(reply).toHaveAttribute('data-status', 'streaming');
    await expect(chat.contentOf(reply)).toContainText('word3');
    await expect(chat.stopButton).toBeVisible();
    await chat.stopButton.click();
    await expect(reply).toHaveAttribute('data-status', 'stopped');
    await expect(reply.getByTestId('failure-reason')).toHaveText('stopped before it finished');
    await expect(chat.sendButton).toBeVisible();
    await reply.getByTestId('retry').click();
    await expect(reply).toHaveAttribute('data-status', 'streaming');
    await chat.stopButton.click();
    await expect(reply).toHaveAttribute('data-status', 'stopped');
  });

  test('messages sent while the assistant writes are shown at once and answered together by one reply', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    const tag = Date.now();
    const burst = [`slow: hi ${tag}`, `slow down, my order didn't arrive ${tag}`, `can you check? ${tag}`];
    await chat.send(burst[0]);
    const unfinished = chat.byRole('assistant').last();
    await expect(chat.contentOf(unfinished)).toContainText('word1');
    const unfinishedId = await unfinished.getAttribute('data-id');
    // Typing while the reply streams turns Stop back into Send.
    await chat.composer.fill(burst[1]);
    await expect(chat.stopButton).toHaveCount(0);
    await chat.sendButton.click();
    await expect(chat.contentOf(chat.byRole('user').last())).toHaveText(burst[1]);
    await expect(chat.byId(unfinishedId!)).toHaveCount(0);
    const second = chat.byRole('assistant').last();
    await expect(chat.contentOf(second)).toContainText('word1');
    await chat.send(burst[2]);
    const reply = await chat.lastReplyWhenDone();
    await expect(chat.contentOf(reply)).toHaveText(`Upstream reply to: ${burst[2]}`);
    const roles = await chat.messages.evaluateAll((els) => els.map((el) => el.getAttribute('data-role')));
    expect(roles.slice(-4)).toEqual(['user', 'user', 'user', 'assistant']);
    await expect(chat.contentOf(chat.byRole('user'))).toHaveText(burst);
    const asked = (await upstreamRequests(page)).find((r) => r.messages.at(-1).content === burst[2]);
    expect(asked.messages.slice(-3).map((m: { content: string }) => m.content)).toEqual(burst);
    // After a reload it is the same: nothing lost, one answer.
    await chat.reload();
    await expect(chat.contentOf(chat.byRole('user'))).toHaveText(burst);
    await expect(chat.contentOf(chat.byRole('assistant').last())).toHaveText(`Upstream reply to: ${burst[2]}`);
  });

  test('a reply that fails says so in a plain sentence, with no empty bubble, and offers Retry', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.send('broken on purpose');
    const reply = chat.byRole('assistant').last();
    await expect(reply).toHaveAttribute('data-status', 'failed', { timeout: 30_000 });
    await expect(reply.getByTestId('failure-reason')).toHaveText("Sorry, the assistant couldn't answer this time.");
    await expect(reply.getByTestId('message-content')).toHaveCount(0);
    await expect(reply.getByTestId('retry')).toBeVisible();
    await expect(reply).not.toContainText('HTTP');
  });

  test('Markdown renders, and HTML or script in a reply stays inert', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await page.evaluate(() => ((window as any).__xss = 0));
    const payload = [
      '**bold** and a list:',
      '- one\n- two',
      '<img src=x onerror="window.__xss++">',
      '<script>window.__xss++</script>',
      '[click](javascript:window.__xss++) [safe](https://example.com)',
      '<a href="javascript:window.__xss++">raw</a>',
      '| Plan | Price |\n|:--|--:|\n| Basic | $5 |',
      '```sh\nls -l <dir>\n```',
    ].join('\n\n');
    await chat.send(`echo: ${payload}`);
    const body = chat.contentOf(await chat.lastReplyWhenDone());
    await expect(body.locator('strong')).toHaveText('bold');
    await expect(body.locator('li')).toHaveCount(2);
    await expect(body.locator('img, script, iframe')).toHaveCount(0);
    await expect(body.locator('a')).toHaveCount(1);
    await expect(body.locator('a')).toHaveAttribute('href', 'https://example.com');
    await expect(body.locator('a')).toHaveAttribute('rel', 'noopener noreferrer');
    await expect(body).toContainText('<script>');
    await expect(body.locator('td')).toHaveText(['Basic', '$5']);
    await expect(body.locator('pre code')).toHaveText('ls -l <dir>');
    await body.getByText('click').click();
    expect(await page.evaluate(() => (window as any).__xss)).toBe(0);
    // The server renders the same HTML for the page as the browser did while the reply streamed.
    // (Leptos's empty marker comments aside.)
    const html = (el: Locator) => el.innerHTML().then((h) => h.replaceAll('<!---->', ''));
    const streamed = await html(body);
    await chat.reload();
    expect(await html(chat.contentOf(chat.byRole('assistant').last()))).toBe(streamed);
  });

  test('asking for a person pauses the assistant and says so', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await page.getByTestId('talk-to-person').click();
    await expect(page.getByTestId('handoff-banner')).toContainText('A person from our team will answer here soon');
    await expect(chat.byRole('system').last()).toContainText('Someone from our team will reply here');
    await chat.send('hello, anyone?');
    await expect(chat.byRole('user')).toHaveCount(1);
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(page.getByTestId('handoff-banner')).toBeVisible();
    await expect(chat.byRole('assistant')).toHaveCount(1); // only the greeting
  });
});

test.describe('history', () => {
  test('scrolling to the top loads older pages without moving what is on screen', async ({ page }) => {
    const chat = new ChatPage(page);
    const id = await chat.startOverApi(UPSTREAM_APP);
    await chat.open(UPSTREAM_APP);
    for (let i = 0; i < 25; i++) {
      const sent = await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages?wait=true`, {
        data: { content: `history ${i}` },
      });
      expect(sent.status()).toBe(201);
    }
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(chat.messages).toHaveCount(20);
    await expect(page.getByTestId('load-older')).toBeVisible();
    const anchorId = await chat.messages.first().getAttribute('data-id');
    await chat.messageList.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect(chat.messages).toHaveCount(50, { timeout: 15_000 });
    // The message that was at the top stays at the top: the older page went in above it.
    const listTop = await chat.messageList.evaluate((el) => el.getBoundingClientRect().top);
    const anchorTop = await chat.byId(anchorId!).evaluate((el) => el.getBoundingClientRect().top);
    expect(anchorTop - listTop).toBeGreaterThanOrEqual(0);
    expect(anchorTop - listTop).toBeLessThan(150);
    expect(await chat.messageList.evaluate((el) => el.scrollTop)).toBeGreaterThan(500);
    await chat.messageList.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect(chat.messages).toHaveCount(51, { timeout: 15_000 });
    await expect(page.getByTestId('history-start')).toBeVisible();
  });

  test('a long chat keeps at most 150 messages on the page and pages back down to the newest', async ({ page }) => {
    test.setTimeout(90_000);
    const chat = new ChatPage(page);
    const id = await chat.startOverApi(UPSTREAM_APP);
    await chat.open(UPSTREAM_APP);
    for (let i = 0; i < 100; i++) {
      const sent = await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages?wait=true`, { data: { content: `echo: answer ${i}` } });
      expect(sent.status()).toBe(201);
    }
    await chat.page.reload();
    await chat.waitForHydration();
    const start = page.getByTestId('history-start');
    while (!(await start.isVisible())) {
      const first = await chat.messages.first().getAttribute('data-id');
      await chat.messageList.evaluate((el) => el.scrollTo({ top: 0 }));
      await expect(chat.messages.first()).not.toHaveAttribute('data-id', first!);
      expect(await chat.messages.count()).toBeLessThanOrEqual(150);
    }
    await expect(chat.contentOf(chat.messages.first())).toContainText('Looking for the right product?');
    await expect(page.getByTestId('load-newer')).toBeAttached();
    await expect(chat.messages).toHaveCount(150);
    // Back down: newer pages come back until the newest message.
    while (await page.getByTestId('load-newer').count()) {
      const last = await chat.messages.last().getAttribute('data-id');
      await chat.messageList.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      await expect(chat.messages.last()).not.toHaveAttribute('data-id', last!);
      expect(await chat.messages.count()).toBeLessThanOrEqual(150);
    }
    await expect(chat.contentOf(chat.byRole('user').last())).toHaveText('echo: answer 99');
    await expect(chat.contentOf(chat.byRole('assistant').last())).toHaveText('answer 99');
    // At the newest end again, live messages show as they arrive.
    await chat.send('back at the end');
    await expect(chat.contentOf(await chat.lastReplyWhenDone())).toHaveText('Upstream reply to: back at the end');
  });

  test('a new message while reading older ones shows a pill instead of jumping', async ({ page }) => {
    const chat = new ChatPage(page);
    const id = await chat.startOverApi(UPSTREAM_APP);
    await chat.open(UPSTREAM_APP);
    for (let i = 0; i < 8; i++) {
      await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages?wait=true`, { data: { content: `filler ${i}` } });
    }
    await chat.page.reload();
    await chat.waitForHydration();
    await chat.messageList.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect.poll(() => chat.messageList.evaluate((el) => el.scrollTop)).toBeLessThan(100);
    await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages`, { data: { content: 'arrived while reading' } });
    const pill = page.getByTestId('new-messages');
    await expect(pill).toBeVisible();
    await pill.click();
    await expect(pill).toBeHidden();
    await expect(chat.byRole('user').last()).toBeInViewport();
  });
});

test.describe('a returning visitor', () => {
  /** Sends `count` messages to a chat over the API, each answered before the next. */
  async function exchanges(page: Page, chatId: number, count: number, label = 'exchange', headers: Record<string, string> = {}) {
    for (let i = 0; i < count; i++) {
      const sent = await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${chatId}/messages?wait=true`, {
        data: { content: `${label} ${i}` },
        headers,
      });
      expect(sent.status()).toBe(201);
    }
  }

  /** The list is scrolled to its end and its newest message is in view. */
  async function atNewest(list: Locator, newest: Locator) {
    await expect(newest).toBeInViewport();
    await expect.poll(() => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(2);
  }

  test('opening the window shows the newest message at the bottom, also after replies came while it was minimized', async ({ page }) => {
    const chat = new ChatPage(page);
    const id = await chat.startOverApi(UPSTREAM_APP);
    await exchanges(page, id, 23);
    await page.goto(UPSTREAM_APP);
    await chat.waitForHydration();
    await expect(chat.window).toBeHidden(); // closed, as on every first view
    await chat.launcher.click();
    await expect(chat.window).toBeVisible();
    await expect(chat.contentOf(chat.messages.last())).toHaveText('Upstream reply to: exchange 22');
    await atNewest(chat.messageList, chat.messages.last());
    await expect(page.getByTestId('new-messages')).toBeHidden();
    // Minimized, the window is kept but not shown: what arrives meanwhile is there when it opens.
    await page.getByTestId('minimize').click();
    await expect(chat.window).toBeHidden();
    await exchanges(page, id, 1, 'while minimized');
    await chat.launcher.click();
    await expect(chat.contentOf(chat.messages.last())).toHaveText('Upstream reply to: while minimized 0');
    await atNewest(chat.messageList, chat.messages.last());
    // Reading older messages, the reader stays where they are and the pill says what is below.
    await chat.messageList.evaluate((el) => el.scrollTo({ top: 400 }));
    await expect.poll(() => chat.messageList.evaluate((el) => el.scrollTop)).toBe(400);
    await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages`, { data: { content: 'while reading' } });
    await expect(page.getByTestId('new-messages')).toBeVisible();
    expect(await chat.messageList.evaluate((el) => el.scrollTop)).toBe(400);
  });

  test('Frontdesk.open() on another site shows the newest message at the bottom, and again after a reply came while closed', async ({ page }) => {
    const made = await page.request.post(`${UPSTREAM_APP}/api/v1/chats`, { data: {}, headers: { 'x-frontdesk-token': '' } });
    expect(made.status()).toBe(201);
    const token = made.headers()['x-frontdesk-token'];
    const headers = { 'x-frontdesk-token': token };
    const { id } = await made.json();
    await exchanges(page, id, 23, 'exchange', headers);
    await page.goto('http://127.0.0.1:3102/host-upstream.html');
    await page.evaluate((t) => localStorage.setItem('frontdesk:visitor@http://127.0.0.1:3101', t), token);
    await page.reload();
    await page.waitForFunction(() => (window as any).Frontdesk);
    await page.evaluate(() => (window as any).Frontdesk.open());
    const frame = page.frameLocator('[data-frontdesk=frame]');
    await expect(frame.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 30_000 });
    const list = frame.getByTestId('messages');
    const newest = list.getByTestId('message').last();
    await expect(newest.getByTestId('message-content')).toHaveText('Upstream reply to: exchange 22');
    await atNewest(list, newest);
    // Closed, the frame is kept but not shown: a reply that arrives meanwhile is in view on opening.
    await page.evaluate(() => (window as any).Frontdesk.close());
    await expect(page.locator('[data-frontdesk=frame]')).toBeHidden();
    await exchanges(page, id, 1, 'while closed', headers);
    await expect(newest.getByTestId('message-content')).toHaveText('Upstream reply to: while closed 0');
    await page.evaluate(() => (window as any).Frontdesk.open());
    await atNewest(list, newest);
  });
});

test.describe('the window', () => {
  test('minimize keeps the draft, maximize fills the screen, and the state survives a reload', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open();
    await expect(chat.window).toHaveAttribute('data-mode', 'open');
    await chat.composer.fill('half-written');
    await page.getByTestId('minimize').click();
    await expect(chat.window).toBeHidden();
    await expect(chat.launcher).toBeVisible();
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(chat.launcher).toBeVisible();
    await expect(chat.window).toBeHidden();
    await chat.launcher.click();
    await expect(chat.window).toBeVisible();
    await page.getByTestId('maximize').click();
    await expect(chat.window).toHaveAttribute('data-mode', 'maximized');
    const box = await chat.window.boundingBox();
    const viewport = page.viewportSize()!;
    expect(box!.width).toBeGreaterThan(viewport.width * 0.9);
    expect(box!.height).toBeGreaterThan(viewport.height * 0.9);
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(chat.window).toHaveAttribute('data-mode', 'maximized');
    await page.getByTestId('maximize').click();
    await expect(chat.window).toHaveAttribute('data-mode', 'open');
    // Minimized keeps what was typed.
    await chat.composer.fill('still here');
    await page.getByTestId('minimize').click();
    await chat.launcher.click();
    await expect(chat.composer).toHaveValue('still here');
    await page.getByTestId('close').click();
    await expect(chat.launcher).toBeVisible();
  });

  test('pop-out continues the same chat in a small window of its own', async ({ page, context }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await chat.send('before the pop-out');
    await chat.lastReplyWhenDone();
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByTestId('pop-out').click()]);
    await popup.waitForLoadState();
    expect(new URL(popup.url()).pathname).toBe('/widget');
    const popped = new ChatPage(popup);
    await popped.waitForHydration();
    await expect(popped.contentOf(popped.byRole('user').first())).toHaveText('before the pop-out');
    await expect(chat.launcher).toBeVisible();
    await popped.send('from the pop-out');
    await chat.launcher.click();
    await expect(chat.contentOf(chat.byRole('user').last())).toHaveText('from the pop-out');
  });

  test('settings persist across a reload and apply at once', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await page.getByTestId('settings-button').click();
    const dialog = page.getByTestId('settings-dialog');
    await dialog.getByTestId('theme-dark').check();
    await expect(chat.window).toHaveClass(/\bdark\b/);
    await dialog.getByTestId('text-size').selectOption('large');
    await expect(chat.window).toHaveClass(/\btext-lg\b/);
    await dialog.getByTestId('sound').check();
    await expect(dialog.getByRole('status')).toHaveText('Saved');
    await dialog.getByTestId('settings-close').click();
    await chat.page.reload();
    await chat.waitForHydration();
    await expect(chat.window).toHaveClass(/\bdark\b/);
    await expect(chat.window).toHaveClass(/\btext-lg\b/);
    await page.getByTestId('settings-button').click();
    await expect(dialog.getByTestId('sound')).toBeChecked();
    await expect(dialog.getByTestId('theme-dark')).toBeChecked();
  });

  test('replies that arrive while the window is minimized show as an unread badge', async ({ page }) => {
    const chat = new ChatPage(page);
    const id = await chat.startOverApi(UPSTREAM_APP);
    await chat.open(UPSTREAM_APP);
    await page.getByTestId('minimize').click();
    const badge = page.getByTestId('unread-badge');
    await expect(badge).toBeHidden();
    await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages?wait=true`, { data: { content: 'from another tab' } });
    await expect(badge).toHaveText('1');
    await expect(chat.launcher).toHaveAccessibleName('Open chat, 1 unread');
    await chat.launcher.click();
    await expect(badge).toBeHidden();
    await expect(chat.contentOf(chat.byRole('assistant').last())).toHaveText('Upstream reply to: from another tab');
  });

  test('on a narrow screen the window fills the screen, with the header subtitle in full', async ({ page }) => {
    await page.setViewportSize({ width: 375, height: 700 });
    const chat = new ChatPage(page);
    await chat.open('/products/2');
    const box = (await chat.window.boundingBox())!;
    expect(box.x).toBe(0);
    expect(box.y).toBe(0);
    expect(box.width).toBe(375);
    expect(box.height).toBe(700);
    // A small phone: the subtitle names the product in full (it wraps rather than being cut).
    await page.setViewportSize({ width: 320, height: 640 });
    const subheader = page.getByTestId('subheader');
    await expect(subheader).toContainText('about Nimbus Office Chair');
    expect(await subheader.evaluate((el) => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight)).toBe(true);
  });

  test('on a small phone the composer\'s placeholder shows in full and the footer fits', async ({ page }) => {
    await page.setViewportSize({ width: 320, height: 640 });
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    const fits = await chat.composer.evaluate((el: HTMLTextAreaElement) => {
      const style = getComputedStyle(el);
      const context = document.createElement('canvas').getContext('2d')!;
      context.font = style.font;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return { text: el.placeholder, width: context.measureText(el.placeholder).width, room };
    });
    expect(fits.text).not.toBe('');
    expect(fits.width, `"${fits.text}" in ${fits.room}px`).toBeLessThanOrEqual(fits.room);
    for (const id of ['context-select', 'talk-to-person', 'settings-button', 'send']) {
      const box = (await page.getByTestId(id).boundingBox())!;
      expect(box.x + box.width, id).toBeLessThanOrEqual(320);
    }
    await expect(page.getByTestId('talk-to-person')).toHaveAccessibleName('Talk to a person');
  });

  test('"Talk to a person" sits in the footer under the conversation, not over it', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    const button = page.getByTestId('talk-to-person');
    const list = (await chat.messageList.boundingBox())!;
    const box = (await button.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(list.y + list.height);
    const composer = (await chat.composer.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(composer.y + composer.height);
    await button.click();
    await expect(page.getByTestId('handoff-banner')).toContainText('A person from our team will answer here soon');
    await expect(button).toHaveCount(0);
  });

  test('an email for follow-up can be left from the settings at any time', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await page.getByTestId('settings-button').click();
    const dialog = page.getByRole('dialog', { name: 'Chat settings' });
    // The browser lets this through (no dot needed there); the server's rule refuses it.
    await dialog.getByTestId('settings-email-input').fill('pat@localhost');
    await dialog.getByTestId('settings-email-save').click();
    await expect(dialog.getByTestId('settings-email-error')).toBeVisible();
    const email = `pat.${Date.now()}@example.com`;
    await dialog.getByTestId('settings-email-input').fill(email);
    await dialog.getByTestId('settings-email-save').click();
    await expect(dialog.getByTestId('settings-email-saved')).toContainText(email);
    // Saving it started the conversation, and staff see the email on it.
    const id = await chat.chatId();
    const saved = await (await page.request.get(`${UPSTREAM_APP}/api/v1/chats/${id}`)).json();
    expect(saved.customer_email).toBe(email);
    await expect(page.getByTestId('handoff-banner')).toHaveCount(0);
  });

  test('the system theme follows the visitor\'s colour scheme', async ({ page }) => {
    const chat = new ChatPage(page);
    await page.emulateMedia({ colorScheme: 'dark' });
    await chat.open(UPSTREAM_APP);
    const background = () => chat.window.evaluate((el) => getComputedStyle(el).backgroundColor);
    await expect(chat.window).toHaveClass(/theme-system/);
    const dark = await background();
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(background).not.toBe(dark);
    expect(await background()).toBe('rgb(255, 255, 255)');
  });

  test('the settings dialog keeps focus inside and closes on Escape', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open(UPSTREAM_APP);
    await page.getByTestId('settings-button').click();
    const dialog = page.getByRole('dialog', { name: 'Chat settings' });
    await expect(dialog).toBeVisible();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      expect(await dialog.evaluate((el) => el.contains(document.activeElement))).toBe(true);
    }
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
  });
});

test.describe('product pages', () => {
  test('a first visit shows a launcher with a prompt; the window opens with focus in the composer and gives it back', async ({ page }) => {
    const chat = new ChatPage(page);
    await page.goto('/products/2');
    await chat.waitForHydration();
    await expect(chat.window).toBeHidden();
    const prompt = page.getByTestId('launcher-prompt');
    await expect(prompt).toHaveText('Ask about this product');
    await chat.launcher.focus();
    await page.keyboard.press('Enter');
    await expect(chat.window).toBeVisible();
    await expect(chat.composer).toBeFocused();
    await expect(chat.contentOf(chat.byRole('assistant').first())).toContainText('Nimbus Office Chair');
    await page.getByTestId('close').click();
    await expect(chat.launcher).toBeFocused();
    await prompt.click();
    await expect(chat.window).toBeVisible();
    await page.getByTestId('minimize').click();
    await expect(chat.launcher).toBeFocused();
    // Pages without a product have no prompt.
    await chat.page.goto('/');
    await chat.waitForHydration();
    await expect(chat.launcher).toBeVisible();
    await expect(prompt).toHaveCount(0);
  });

  test('every storefront picture loads, and a product id the catalog does not hold is not found', async ({ page }) => {
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.request().resourceType() === 'image' && (r.status() !== 200 || !r.headers()['content-type']?.startsWith('image/'))) {
        failed.push(`${r.url()} ${r.status()} ${r.headers()['content-type']}`);
      }
    });
    await page.goto('/products');
    const pictures = page.getByTestId('product-list').locator('img');
    await expect(pictures).toHaveCount(4);
    for (const img of await pictures.all()) {
      await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBeGreaterThan(0);
    }
    expect(failed).toEqual([]);
    expect((await page.request.get('/products/lamp.svg')).status()).toBe(404);
    expect((await page.request.get('/products/abc')).status()).toBe(404);
    expect((await page.request.get('/products/999')).status()).toBe(404);
  });

  test("the shop's links lead from page to page, each hydrated with the window, and an unknown page is not found", async ({ page }) => {
    const chat = new ChatPage(page);
    await page.goto('/');
    await chat.waitForHydration();
    await page.getByRole('link', { name: 'Browse products' }).click();
    await expect(page).toHaveURL(/\/products$/);
    await chat.waitForHydration();
    await page.getByTestId('product-list').getByRole('link').first().click();
    await expect(page).toHaveURL(/\/products\/\d+$/);
    await chat.waitForHydration();
    await expect(page.getByTestId('product')).toBeVisible();
    await expect(chat.launcher).toBeVisible();
    await page.getByRole('link', { name: 'Frontdesk Store' }).click();
    await expect(page).toHaveURL(/\/$/);
    const missing = await page.goto('/products/1/reviews');
    expect(missing?.status()).toBe(404);
    await chat.waitForHydration();
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  });

  test('a product page with the window open hydrates without an error, load after load', async ({ browser }) => {
    // The window once hydrated inside the product's own boundary and panicked in about half
    // of these loads, leaving a page that looked right and did nothing.
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const chat = new ChatPage(page);
    await chat.open('/products/2');
    for (let load = 0; load < 8; load++) {
      await chat.reload();
      await chat.composer.fill(`question ${load}`);
      await expect(chat.sendButton).toBeEnabled();
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  test('a chat opened on a product page is about that product', async ({ page }) => {
    const chat = new ChatPage(page);
    await chat.open('/products');
    await page.getByRole('link', { name: 'Nimbus Office Chair' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nimbus Office Chair');
    await chat.waitForHydration();
    await expect(page.getByTestId('subheader')).toContainText('Nimbus Office Chair');
    await chat.send('How long does assembly take?');
    const reply = await chat.lastReplyWhenDone();
    await expect(chat.contentOf(reply)).toContainText('Assembly takes about 15 minutes');
    // The general chat on other pages is a different conversation.
    await chat.open('/');
    await expect(chat.byRole('user')).toHaveCount(0);
  });
});

test.describe('on any site', () => {
  test('the embed adds a launcher that opens the chat in an iframe, with a JS API', async ({ page }) => {
    const loaded: string[] = [];
    page.on('request', (r) => loaded.push(r.url()));
    await page.goto('http://127.0.0.1:3102/');
    const launcher = page.locator('[data-frontdesk=launcher]');
    await expect(launcher).toBeVisible();
    expect(loaded.some((u) => u.includes('/widget'))).toBe(false);
    await expect(page.locator('[data-frontdesk=frame]')).toHaveCount(0);
    await launcher.click();
    const frame = page.frameLocator('[data-frontdesk=frame]');
    await expect(frame.getByTestId('chat-window')).toBeVisible({ timeout: 20_000 });
    await expect(frame.getByTestId('subheader')).toContainText('Nimbus Office Chair');
    await page.evaluate(() => (window as any).Frontdesk.close());
    await expect(page.locator('[data-frontdesk=frame]')).toBeHidden();
    await page.evaluate(() => (window as any).Frontdesk.open());
    await expect(page.locator('[data-frontdesk=frame]')).toBeVisible();
    // A reply that arrives while the window is closed counts as unread.
    await frame.getByTestId('composer').fill('Is the chair comfortable?');
    await frame.getByTestId('composer').press('Shift+Enter');
    await expect(frame.locator('[data-testid=message][data-role=assistant][data-status=streaming]')).toHaveCount(1);
    await frame.getByTestId('close').click();
    await expect(page.locator('[data-frontdesk=frame]')).toBeHidden();
    await expect.poll(() => page.evaluate(() => (window as any).unreadCounts.at(-1)), { timeout: 30_000 }).toBe(1);
    await expect(page.locator('[data-frontdesk=unread]')).toHaveText('1');
    await expect(page.locator('[data-frontdesk=launcher]')).toHaveAccessibleName('Open chat, 1 unread');
    await page.locator('#host-button').click();
    await expect(page.locator('#host-button')).toHaveText('Host page still works');
  });

  test('on another site, with third-party cookies blocked, a visitor chats, reloads and continues the same conversation', async ({ watchErrors }) => {
    // The shop is on localhost, Frontdesk on 127.0.0.1: two sites. Chromium blocks the frame's
    // cookies as Safari does by default; nothing falls back to partitioned cookies.
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, '--test-third-party-cookie-phaseout'],
    });
    try {
      const context = await browser.newContext({ timezoneId: 'Asia/Tokyo' });
      watchErrors(context);
      const page = await context.newPage();
      const frame = page.frameLocator('[data-frontdesk=frame]');
      const byRole = (role: string) => frame.locator(`[data-testid=message][data-role=${role}]`);
      const openWindow = async () => {
        await page.locator('[data-frontdesk=launcher]').click();
        await expect(frame.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 30_000 });
      };
      const send = async (text: string) => {
        await frame.getByTestId('composer').fill(text);
        await frame.getByRole('button', { name: 'Send message' }).click();
      };
      await page.goto('http://localhost:3102/');
      await openWindow();
      const greetings = await byRole('assistant').count();
      await send('Does the chair come assembled?');
      await expect(byRole('assistant')).toHaveCount(greetings + 1);
      await expect(byRole('assistant').last()).not.toHaveAttribute('data-status', 'streaming', { timeout: 30_000 });
      await expect(frame.getByRole('alert')).toHaveCount(0);
      // The conversation knows the shop's page it began on, its address and its title.
      const chatId = await frame.getByTestId('chat-window').getAttribute('data-chat-id');
      const admin = await playwrightRequest.newContext({ baseURL: 'http://127.0.0.1:3100' });
      expect((await admin.post('/api/v1/auth/login', { data: { email: ADMIN.email, password: ADMIN.password } })).status()).toBe(200);
      const inquiry = await (await admin.get(`/api/v1/admin/inquiries/${chatId}`)).json();
      expect(inquiry.page).toEqual({ url: 'http://localhost:3102/', title: await page.title() });
      // Staff see the visitor's time zone, as the shop's page said it.
      const customer = await (await admin.get(`/api/v1/admin/inquiries/${chatId}/customer`)).json();
      expect(customer.time_zone).toBe('Asia/Tokyo');
      await admin.dispose();
      // The frame got no cookie: the visitor lives in the shop page's own storage.
      expect(await context.cookies('http://127.0.0.1:3100')).toEqual([]);
      const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('frontdesk:')));
      expect(stored).toEqual(['frontdesk:visitor@http://127.0.0.1:3100']);

      await page.reload();
      await openWindow();
      await expect(byRole('user').getByTestId('message-content')).toHaveText(['Does the chair come assembled?']);
      await expect(byRole('assistant')).toHaveCount(greetings + 1);
      await send('And how long does delivery take?');
      await expect(byRole('user')).toHaveCount(2);
      await expect(byRole('assistant')).toHaveCount(greetings + 2);
      await expect(byRole('assistant').last()).not.toHaveAttribute('data-status', 'streaming', { timeout: 30_000 });
      await page.reload();
      await openWindow();
      await expect(byRole('user').getByTestId('message-content')).toHaveText([
        'Does the chair come assembled?',
        'And how long does delivery take?',
      ]);
      // The token never stays in the frame's address.
      const frameUrl = page.frames().find((f) => f.url().includes('/widget'))?.url() ?? '';
      expect(frameUrl).toContain('/widget');
      expect(frameUrl).not.toContain('fd-token');
    } finally {
      await browser.close();
    }
  });

  test('a link to the window with a token in it does not sign its reader in as someone else', async ({ page, baseURL }) => {
    // Someone makes a visitor of their own and sends a link carrying its token.
    const made = await page.request.post(`${baseURL}/api/v1/chats`, { data: {}, headers: { 'x-frontdesk-token': '' } });
    expect(made.status()).toBe(201);
    const token = made.headers()['x-frontdesk-token'];
    expect(token).toMatch(/^[\w-]{20,}$/);
    const chat = await made.json();
    const sent = await page.request.post(`${baseURL}/api/v1/chats/${chat.id}/messages`, {
      data: { content: 'A question only its author should see' },
      headers: { 'x-frontdesk-token': token },
    });
    expect(sent.status()).toBe(201);
    const chatPage = new ChatPage(page);
    await page.goto(`${baseURL}/widget#fd-token=${token}`);
    await chatPage.waitForHydration();
    // Whatever the window would load with the token has been loaded once the network is quiet.
    await page.waitForLoadState('networkidle');
    await expect(page.getByTestId('chat-window')).toBeVisible();
    await expect(page.getByTestId('chat-window')).toHaveAttribute('data-chat-id', '0');
    await expect(page.getByText('A question only its author should see')).toHaveCount(0);
    expect(page.url()).not.toContain('fd-token');
  });

  test('the host page keeps working when the chat server cannot be reached', async ({ page }) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('http://127.0.0.1:3102/unreachable.html');
    await page.locator('#host-button').click();
    await expect(page.locator('#host-button')).toHaveText('Host page still works');
    expect(errors).toEqual([]);
  });
});
