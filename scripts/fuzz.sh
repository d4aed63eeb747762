#!/usr/bin/env bash
# Fuzzes every operation of the OpenAPI spec with schemathesis (from PyPI, in a venv under
# ~/.cache/frontdesk) against the server ($FRONTDESK_BIN, by default target/debug/frontdesk as
# `make e2e` builds it) on a fresh SQLite database with the offline assistant, signed in as an
# admin so the staff endpoints are reached too. Fails on any 5xx, undocumented status, wrong
# content type or a body that breaks its schema. Left out: signing out (it would end the fuzzing
# session) and the SSE stream (it never ends; tests/api covers it).
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
  OPENAI_API_KEY= FRONTDESK_OFFLINE_WORD_DELAY_MS=0 FRONTDESK_SENDS_PER_MINUTE=100000 \
  FRONTDESK_SENDS_PER_NETWORK_PER_MINUTE=1000000 FRONTDESK_SENDS_PER_MINUTE_TOTAL=10000000 \
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

"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  --header "Cookie: $cookie" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${FUZZ_EXAMPLES:-25}" \
  --exclude-path /api/v1/auth/logout \
  --exclude-path '/api/v1/chats/{id}/events' \
  --continue-on-failure
