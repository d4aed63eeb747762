import { expect, type Locator, type Page } from '@playwright/test';

export type Role = 'user' | 'assistant' | 'agent' | 'system';
export type Status = 'complete' | 'streaming' | 'stopped' | 'failed' | 'interrupted';

/** What one message element shows at a single instant. */
export interface MessageSnapshot {
  id: string | null;
  status: string | null;
  text: string;
}

/** The app whose assistant is the fake upstream (see playwright.config.ts). */
export const UPSTREAM_APP = 'http://127.0.0.1:3101';
/** The fake upstream itself: GET /__requests lists what it was asked. */
export const FAKE_UPSTREAM = 'http://127.0.0.1:3199';

/** The visitor's chat window (on `/` unless told otherwise). */
export class ChatPage {
  readonly window: Locator;
  readonly launcher: Locator;
  readonly messageList: Locator;
  readonly messages: Locator;
  readonly composer: Locator;
  readonly sendButton: Locator;
  readonly stopButton: Locator;
  readonly contextSelect: Locator;

  constructor(readonly page: Page) {
    this.window = page.getByTestId('chat-window');
    this.launcher = page.getByTestId('launcher');
    this.messageList = page.getByTestId('messages');
    this.messages = this.messageList.getByTestId('message');
    this.composer = page.getByTestId('composer');
    this.sendButton = page.getByTestId('send');
    this.stopButton = page.getByTestId('stop');
    this.contextSelect = page.getByTestId('context-select');
  }

  /** The conversation's id, once the window's draft became one (at the first action). */
  async chatId(): Promise<string> {
    await expect(this.window).not.toHaveAttribute('data-chat-id', '0');
    return (await this.window.getAttribute('data-chat-id'))!;
  }

  /**
   * Starts a conversation over the API for this browser's visitor (page views create nothing),
   * so a page opened afterwards shows it. Returns its id.
   */
  async startOverApi(base = ''): Promise<number> {
    const response = await this.page.request.post(`${base}/api/v1/chats`, { data: {} });
    expect(response.status()).toBe(201);
    return (await response.json()).id;
  }

  /** Opens a page with the chat and waits until the WASM app has hydrated. */
  async open(path = '/'): Promise<void> {
    await this.page.goto(path);
    await this.waitForHydration();
    // A first visit shows the launcher; the tests talk to the window.
    if (await this.launcher.isVisible()) {
      await this.launcher.click();
      await expect(this.window).toBeVisible();
    }
  }

  /** The reply to the newest message once it has finished: the list ends with it once it appears
   *  (right after a send the list still ends with the customer's message). */
  async lastReplyWhenDone(): Promise<Locator> {
    const last = this.messageList.locator('[data-testid="message"]').last();
    await expect(last).toHaveAttribute('data-role', 'assistant', { timeout: 30_000 });
    await expect(last).not.toHaveAttribute('data-status', 'streaming', { timeout: 30_000 });
    return this.byRole('assistant').last();
  }

  async reload(): Promise<void> {
    await this.page.reload();
    await this.waitForHydration();
  }

  async waitForHydration(): Promise<void> {
    await expect(this.page.locator('body')).toHaveAttribute('data-hydrated', 'true', {
      timeout: 30_000,
    });
  }

  /** Messages written by `role`, oldest first. */
  byRole(role: Role): Locator {
    return this.messageList.locator(`[data-testid="message"][data-role="${role}"]`);
  }

  byId(id: string): Locator {
    return this.messageList.locator(`[data-testid="message"][data-id="${id}"]`);
  }

  contentOf(message: Locator): Locator {
    return message.getByTestId('message-content');
  }

  /** Types `text` into the composer and clicks the send button. */
  async send(text: string): Promise<void> {
    await this.composer.fill(text);
    await expect(this.sendButton).toHaveAccessibleName('Send message');
    await this.sendButton.click();
  }

  /** Reads id, status and text in one go, so they describe the same moment. */
  async snapshot(message: Locator): Promise<MessageSnapshot> {
    return message.evaluate((el) => ({
      id: el.getAttribute('data-id'),
      status: el.getAttribute('data-status'),
      text: el.querySelector('[data-testid="message-content"]')?.textContent ?? '',
    }));
  }
}

/** Collapses runs of whitespace so server- and client-rendered text compare equal. */
export function normalize(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function wordCount(text: string): number {
  const words = normalize(text);
  return words === '' ? 0 : words.split(' ').length;
}
