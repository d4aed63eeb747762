/**
 * The server binary the tests start, relative to end2end/: `FRONTDESK_BIN` when set, else the
 * debug build that `make e2e` makes (`cargo build`, sharing the compiled dependencies of the Rust
 * tests) serving the release site (`cargo leptos build --release --frontend-only`).
 * `make bench-browser` sets it to the release build.
 */
export const SERVER_BIN = process.env.FRONTDESK_BIN ?? '../target/debug/frontdesk';
