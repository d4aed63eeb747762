/**
 * The server binary the tests start, relative to end2end/: `FRONTDESK_BIN` when set, else the
 * debug build that `cargo test` makes (`make e2e` runs `cargo test --no-run`, so it reuses what
 * the Rust tests compiled), serving the release site (`scripts/build-site.sh --frontend-only`).
 * `make bench-browser` sets it to the release build.
 */
export const SERVER_BIN = process.env.FRONTDESK_BIN ?? '../target/debug/frontdesk';
