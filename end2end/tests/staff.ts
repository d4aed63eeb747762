import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Locator, type Page } from '@playwright/test';
import { SERVER_BIN } from '../server';

/** The first admin of the apps under test (FRONTDESK_ADMIN_* in playwright.config.ts). */
export const ADMIN = { email: 'admin@e2e.test', password: 'e2e-admin-password', name: 'Admin' };

/** The inquiry panel, as a staff member sees it. */
export class StaffPage {
  readonly list: Locator;
  readonly inquiries: Locator;
  readonly conversation: Locator;
  readonly messages: Locator;
  readonly reply: Locator;

  constructor(readonly page: Page) {
    this.list = page.getByTestId('inquiry-list');
    this.inquiries = this.list.getByTestId('inquiry');
    this.conversation = page.getByTestId('conversation');
    this.messages = this.conversation.getByTestId('staff-message');
    this.reply = page.getByTestId('staff-reply');
  }

  /**
   * Opens /admin (whose response is the sign-in form with 401), signs in (as the first admin
   * unless told otherwise) and waits for the live panel.
   */
  async signIn(base = '', who: { email: string; password: string; name: string } = ADMIN): Promise<void> {
    const response = await this.page.goto(`${base}/admin`);
    expect(response?.status()).toBe(401);
    await this.waitForHydration();
    await this.page.getByTestId('signin-email').fill(who.email);
    await this.page.getByTestId('signin-password').fill(who.password);
    await this.page.getByTestId('signin-submit').click();
    await expect(this.page.getByTestId('staff-name')).toHaveText(who.name);
    await this.waitForHydration();
    await expect(this.page.getByTestId('panel-link').first()).toHaveAttribute('data-state', 'live');
  }

  async waitForHydration(): Promise<void> {
    await expect(this.page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 30_000 });
  }

  inquiry(id: string | number): Locator {
    return this.list.locator(`[data-testid="inquiry"][data-id="${id}"]`);
  }

  byRole(role: string): Locator {
    return this.conversation.locator(`[data-testid="staff-message"][data-role="${role}"]`);
  }

  /**
   * Waits until `reply` (a staff-message element) is complete, watching it stream: the distinct
   * lengths its text had while streaming.
   */
  async watchUntilComplete(reply: Locator, timeout: number): Promise<number> {
    const lengths = new Set<number>();
    await expect
      .poll(
        async () => {
          const { status, length } = await reply.evaluate((el) => ({
            status: el.getAttribute('data-status'),
            length: el.querySelector('[data-testid="staff-message-content"]')?.textContent?.trim().length ?? 0,
          }));
          if (status === 'streaming' && length > 0) lengths.add(length);
          return status;
        },
        { timeout, intervals: [50] },
      )
      .toBe('complete');
    return lengths.size;
  }

  async send(text: string): Promise<void> {
    await this.reply.fill(text);
    await this.page.getByTestId('staff-send').click();
    await expect(this.reply).toHaveValue('');
  }
}

/**
 * A Frontdesk server of the test's own, on a database that outlives it: it can be stopped and
 * started again. Its database is a SQLite file of its own, or `databaseUrl` (a PostgreSQL database
 * other servers may share: replicas).
 */
export class OwnServer {
  private process: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'frontdesk-restart-'));

  constructor(
    readonly port: number,
    readonly databaseUrl?: string,
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = spawn(SERVER_BIN, [], {
      env: {
        ...process.env,
        DATABASE_URL: this.databaseUrl ?? `sqlite://${this.dir}/restart.db`,
        FRONTDESK_ADDR: `127.0.0.1:${this.port}`,
        LEPTOS_SITE_ROOT: '../target/site',
        OPENAI_API_KEY: '',
        FRONTDESK_OFFLINE_WORD_DELAY_MS: '40',
        FRONTDESK_ADMIN_EMAIL: ADMIN.email,
        FRONTDESK_ADMIN_PASSWORD: ADMIN.password,
      },
      stdio: 'ignore',
    });
    // Ready when /healthz answers (polled, not slept on).
    await expect
      .poll(async () => fetch(`${this.base}/healthz`).then((r) => r.status).catch(() => 0), { timeout: 30_000 })
      .toBe(200);
  }

  /** Stops the server: killed (SIGKILL, the default), or told to stop (SIGTERM) and waited for. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.process = null;
  }
}

/**
 * A PostgreSQL database of the test's own on the server `make e2e` found or started
 * (`E2E_POSTGRES_URL`); dropped by `drop()`.
 */
export class OwnPostgres {
  readonly name = `fd_e2e_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  private readonly admin: string;

  constructor() {
    const admin = process.env.E2E_POSTGRES_URL;
    if (!admin) throw new Error('E2E_POSTGRES_URL is not set: run `make e2e` (it finds or starts a PostgreSQL)');
    this.admin = admin;
    execFileSync('psql', [admin, '-q', '-c', `CREATE DATABASE ${this.name}`]);
  }

  get url(): string {
    return `${this.admin.replace(/\/[^/]*$/, '')}/${this.name}`;
  }

  drop(): void {
    execFileSync('psql', [this.admin, '-q', '-c', `DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`]);
  }
}
