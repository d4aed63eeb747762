#!/usr/bin/env bash
# Fuzzes every operation of the OpenAPI spec with schemathesis (from PyPI, in a venv under
# ~/.cache/frontdesk) against the server ($FRONTDESK_BIN, by default target/debug/frontdesk as
# `make e2e` builds it) on a fresh SQLite database with the offline assistant, signed in as an
# admin so the staff endpoints are reached too. Every check runs (scripts/schemathesis.toml): no
# 5xx, no undocumented status, content types and bodies as the spec says, every request the spec
# allows accepted and every one it forbids refused, so the spec states each rule the server
# enforces. Signing in and out run apart, without the admin's session. Left out: the SSE stream
# (it never ends) and the WebSockets (an HTTP client reads the socket that follows a 101 as its
# next response); tests/api drives them, with the handshake the spec states.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FRONTDESK_CACHE:-$HOME/.cache/frontdesk}/schemathesis-4.32.5"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi

port="${FUZZ_PORT:-3190}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-fuzz.XXXXXX")
DATABASE_URL="sqlite://$dir/fuzz.db" FRONTDESK_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
  OPENAI_API_KEY= FRONTDESK_OFFLINE_WORD_DELAY_MS=0 FRONTDESK_CALLS_PER_MINUTE=100000 \
  FRONTDESK_CALLS_PER_NETWORK_PER_MINUTE=1000000 FRONTDESK_CALLS_PER_MINUTE_TOTAL=10000000 \
  FRONTDESK_ADMIN_EMAIL=admin@fuzz.test FRONTDESK_ADMIN_PASSWORD=fuzz-admin-password \
  "${FRONTDESK_BIN:-target/debug/frontdesk}" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT

# Ready when /healthz answers (polled for up to 30 s).
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$dir/server.log"; exit 1; }
  sleep 0.1
done

cookie=$(curl -fsS -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"admin@fuzz.test","password":"fuzz-admin-password"}' \
  "http://127.0.0.1:$port/api/v1/auth/login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[ -n "$cookie" ] || { echo "fuzz: could not sign in"; exit 1; }

fuzz() {
  "$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" \
    --checks all --max-examples "${FUZZ_EXAMPLES:-25}" --continue-on-failure "$@"
}
# Signed in as the admin: every operation but signing in and out (the stateful phase signs in as
# the staff members it creates, which would end the admin's session), changing a member (it may
# deactivate the admin itself once it made another), the SSE stream and the WebSockets.
failed=0
fuzz --header "Cookie: $cookie" \
  --exclude-path /api/v1/auth/login --exclude-path /api/v1/auth/logout --exclude-path '/api/v1/chats/{id}/events' \
  --exclude-path '/api/v1/chats/{id}/ws' --exclude-path '/api/v1/admin/inquiries/{id}/ws' --exclude-path /api/v1/admin/ws \
  --exclude-path '/api/v1/admin/staff/{id}' ||
  failed=1
# Changing members, last: the admin's session may end with it.
fuzz --header "Cookie: $cookie" --include-path '/api/v1/admin/staff/{id}' || failed=1
# Signing in and out, with no session to lose.
fuzz --include-path /api/v1/auth/login --include-path /api/v1/auth/logout || failed=1
exit $failed
