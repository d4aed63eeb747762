import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { SERVER_BIN } from './server';

// The tests run against the release site served by the server binary of ./server.ts (see
// `make e2e`). Playwright starts that binary itself on port 3100 with a fresh SQLite database and
// the offline assistant, slowed down so a reply is still streaming when a test reloads the page.
const PORT = 3100;
const baseURL = `http://127.0.0.1:${PORT}`;

/** The first admin of every app these tests start (see tests/staff.ts). */
// Every test signs in as the one admin; the per-account sign-in allowance is raised for them.
const STAFF_ENV = [
  'FRONTDESK_ADMIN_EMAIL=admin@e2e.test',
  'FRONTDESK_ADMIN_PASSWORD=e2e-admin-password',
  'FRONTDESK_SIGN_INS_PER_ACCOUNT=1000',
];
// Every browser here comes from 127.0.0.1: one network. The per-network and overall allowances
// are tested over HTTP (tests/api/budgets.rs); here they would only make tests wait on each other.
// The visitor's own allowances stay as they ship.
const ONE_NETWORK_ENV = [
  'FRONTDESK_CALLS_PER_NETWORK_PER_MINUTE=100000',
  'FRONTDESK_TOKENS_PER_NETWORK_PER_DAY=1000000000000',
  'FRONTDESK_TOKENS_PER_DAY=1000000000000',
];

/** The server binary on `port` with a fresh SQLite database in a temporary directory. */
function app({ port, env }: { port: number; env: string[] }): string {
  return [
    'dir=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-e2e.XXXXXX")',
    '&& DATABASE_URL="sqlite://$dir/e2e.db"',
    `FRONTDESK_ADDR=127.0.0.1:${port}`,
    'LEPTOS_SITE_ROOT=../target/site',
    ...env,
    `exec ${SERVER_BIN}`,
  ].join(' ');
}

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 1,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  use: {
    baseURL,
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
      },
    },
  ],
  webServer: [
    {
      // The app with the offline assistant, slowed so a reply is still streaming when a test reloads.
      command: app({ port: PORT, env: ['FRONTDESK_OFFLINE_WORD_DELAY_MS=120', 'OPENAI_API_KEY=', ...STAFF_ENV, ...ONE_NETWORK_ENV] }),
      url: `${baseURL}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // A fake upstream speaking the OpenAI protocol; it records what it is asked.
      command: 'PORT=3199 exec node support/fake-openai.mjs',
      url: 'http://127.0.0.1:3199/health',
      reuseExistingServer: false,
      timeout: 20_000,
    },
    {
      // The app pointed at the fake upstream, for tests that check what the model is asked.
      command: app({
        port: 3101,
        env: [
          'OPENAI_API_KEY=e2e',
          'OPENAI_BASE_URL=http://127.0.0.1:3199/v1',
          'FRONTDESK_CALLS_PER_MINUTE=1000',
          ...STAFF_ENV,
          ...ONE_NETWORK_ENV,
        ],
      }),
      url: 'http://127.0.0.1:3101/healthz',
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // A plain page on another port that embeds Frontdesk with one script tag.
      command: 'PORT=3102 exec node support/static-host.mjs',
      url: 'http://127.0.0.1:3102/',
      reuseExistingServer: false,
      timeout: 20_000,
    },
  ],
});
