/** Debian's Chromium (`make test-deps`); Playwright's own browser download is not used. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, and quiet on a closed network (no background requests to Google's hosts). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
