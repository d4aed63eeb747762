import { expect, test } from '@playwright/test';
import { ChatPage, UPSTREAM_APP } from '../tests/chat-page';

// A browser benchmark, not a test: `make bench-browser`. It seeds a chat with 1,000 messages,
// scrolls back to the first and down to the newest again (the list renders a window of them),
// then streams a reply, and reports the main thread's long tasks (> 50 ms) and frame gaps.

test('a 1,000-message chat scrolls and streams', async ({ page }) => {
  test.setTimeout(240_000);
  const chat = new ChatPage(page);
  await chat.open(UPSTREAM_APP);
  const chats = await (await page.request.get(`${UPSTREAM_APP}/api/v1/chats`)).json();
  const id = chats.chats[0].id;
  for (let i = 0; i < 500; i++) {
    const sent = await page.request.post(`${UPSTREAM_APP}/api/v1/chats/${id}/messages?wait=true`, {
      data: { content: `echo: reply ${i} with **some** Markdown and a [link](https://example.com)` },
    });
    expect(sent.status()).toBe(201);
  }
  await chat.page.reload();
  await chat.waitForHydration();
  await page.evaluate(() => {
    const w = window as any;
    w.__long = [];
    new PerformanceObserver((list) => w.__long.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: false });
    w.__gaps = [];
    let last = performance.now();
    const tick = (now: number) => {
      w.__gaps.push(now - last);
      last = now;
      w.__raf = requestAnimationFrame(tick);
    };
    w.__raf = requestAnimationFrame(tick);
  });
  const measure = async (label: string) => {
    const { long, gaps } = await page.evaluate(() => {
      const w = window as any;
      const out = { long: w.__long.slice(), gaps: w.__gaps.slice() };
      w.__long = [];
      w.__gaps = [];
      return out;
    });
    const sorted = [...gaps].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    console.log(
      `${label}: ${long.length} long tasks (max ${Math.max(0, ...long).toFixed(0)} ms); ` +
        `frames ${gaps.length}, p99 frame gap ${p99.toFixed(1)} ms, max ${Math.max(0, ...gaps).toFixed(1)} ms`,
    );
  };

  let started = Date.now();
  let most = 0;
  while (!(await page.getByTestId('history-start').isVisible())) {
    const first = await chat.messages.first().getAttribute('data-id');
    await chat.messageList.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect(chat.messages.first()).not.toHaveAttribute('data-id', first!);
    most = Math.max(most, await chat.messages.count());
  }
  console.log(`scrolled back to the first of 1,001 messages in ${Date.now() - started} ms (at most ${most} rendered)`);
  await measure('scrolling back');
  started = Date.now();
  while (await page.getByTestId('load-newer').count()) {
    const last = await chat.messages.last().getAttribute('data-id');
    await chat.messageList.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await expect(chat.messages.last()).not.toHaveAttribute('data-id', last!);
  }
  console.log(`scrolled down to the newest again in ${Date.now() - started} ms`);
  await measure('scrolling forward');

  await chat.messageList.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
  await chat.send('long reply please');
  const reply = chat.byRole('assistant').last();
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(chat.contentOf(reply)).toContainText('token119');
  await measure('streaming a 120-word reply at the end of a 1,000-message chat');
});
