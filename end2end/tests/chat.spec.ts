import { expect, test } from './base';
import { ChatPage, normalize, wordCount } from './chat-page';

// Replies come from the offline assistant (no OPENAI_API_KEY), one word every 120 ms:
// a reply of 30+ words takes several seconds, long enough to watch it stream.
const REPLY_TIMEOUT = 45_000;

test('a visitor sends a message and sees the reply arrive in pieces', async ({ page }) => {
  const chat = new ChatPage(page);
  await chat.open();
  await expect(chat.byRole('assistant')).toHaveCount(1); // the greeting
  await expect(chat.byRole('user')).toHaveCount(0);

  const question = 'Hello! Do you ship to Norway?';
  await chat.send(question);

  const mine = chat.byRole('user').last();
  await expect(chat.contentOf(mine)).toHaveText(question);
  await expect(chat.composer).toHaveValue('');

  const reply = chat.byRole('assistant').nth(1);
  await expect(reply).toHaveAttribute('data-status', 'streaming');

  const lengthsWhileStreaming = new Set<number>();
  await expect
    .poll(
      async () => {
        const { status, text } = await chat.snapshot(reply);
        const length = text.trim().length;
        if (status === 'streaming' && length > 0) lengthsWhileStreaming.add(length);
        return status;
      },
      { timeout: REPLY_TIMEOUT, intervals: [50] },
    )
    .toBe('complete');

  expect(
    lengthsWhileStreaming.size,
    `reply text lengths seen while streaming: ${[...lengthsWhileStreaming].join(', ')}`,
  ).toBeGreaterThanOrEqual(2);
  await expect(reply).toHaveAttribute('data-status', 'complete');
  await expect(chat.contentOf(reply)).toContainText(/offline assistant/i);
  expect(wordCount(await chat.contentOf(reply).innerText())).toBeGreaterThanOrEqual(30);
});

test('pressing Shift+Enter sends and Enter adds a new line', async ({ page }) => {
  const chat = new ChatPage(page);
  await chat.open();

  await chat.composer.click();
  await chat.composer.pressSequentially('first line');
  await chat.composer.press('Enter');
  await chat.composer.pressSequentially('second line');

  await expect(chat.composer).toHaveValue('first line\nsecond line');
  await expect(chat.byRole('user')).toHaveCount(0);

  await chat.composer.press('Shift+Enter');

  const mine = chat.byRole('user');
  await expect(mine).toHaveCount(1);
  await expect(chat.contentOf(mine)).toContainText('first line');
  await expect(chat.contentOf(mine)).toContainText('second line');
  await expect(chat.composer).toHaveValue('');
  await expect(chat.byRole('assistant')).toHaveCount(2); // greeting + the reply
});

test('a reply keeps streaming into the page after a reload mid-reply', async ({ page }) => {
  const chat = new ChatPage(page);
  await chat.open();
  await chat.send('What are your opening hours?');

  const reply = chat.byRole('assistant').nth(1);
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await expect(chat.contentOf(reply)).toHaveText(/\S/);

  const before = await chat.snapshot(reply);
  expect(before.status).toBe('streaming');
  expect(before.id).toBeTruthy();
  const id = before.id as string;

  await chat.reload();

  const same = chat.byId(id);
  await expect(same).toHaveCount(1);
  await expect(same).toHaveAttribute('data-role', 'assistant');
  await expect(same).toHaveAttribute('data-status', 'complete', { timeout: REPLY_TIMEOUT });

  const after = normalize(await chat.contentOf(same).innerText());
  expect(after.length).toBeGreaterThan(normalize(before.text).length);
  expect(after.startsWith(normalize(before.text))).toBe(true);
  await expect(chat.messages).toHaveCount(3); // greeting, question, reply: nothing duplicated
});

test('the server renders the chat history before any script runs', async ({ request }) => {
  const response = await request.get('/');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('text/html');

  const html = await response.text();
  expect(html).toContain('data-testid="messages"');

  const messageTags = html.match(/<[a-z][^>]*\bdata-testid="message"[^>]*>/g) ?? [];
  expect(messageTags).toHaveLength(1);
  expect(messageTags[0]).toContain('data-role="assistant"');
  expect(messageTags[0]).toContain('data-status="complete"');
  expect(html).toContain('data-testid="message-content"');
});
