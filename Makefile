# Frontdesk tasks. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.NOTPARALLEL:
.DEFAULT_GOAL := help

# The site build finds tailwindcss, wasm-opt (npm binaryen), esbuild and wasm-bindgen on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

SSR_FEATURES := --no-default-features --features ssr
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: help tools run dev test-deps lint test-rust e2e fuzz test bench bench-browser clean-data

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-12s %s\n", $$1, $$2 }'

tools: ## Install build tools (wasm target, wasm-bindgen, npm packages); no-op when present
	scripts/install-tools.sh

run: tools ## Build the release site and serve it on FRONTDESK_ADDR (default 127.0.0.1:3000)
	scripts/build-site.sh
	node scripts/precompress.mjs target/site/pkg
	LEPTOS_SITE_ROOT=target/site exec target/release/frontdesk

dev: tools ## Rebuild and reload on change (cargo-leptos, installed on first use)
	scripts/install-tools.sh --dev
	cargo leptos watch

test-deps: ## Install Chromium for the browser tests when /usr/bin/chromium is missing
	if [ ! -x /usr/bin/chromium ]; then
	  $(SUDO) apt-get update
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
	fi

lint: ## rustfmt check, no circle among the modules of src/server and src/components, clippy and rustdoc (-D warnings: no broken doc link) for the server and the wasm builds; Dockerfile, Kubernetes and Compose files
	cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null || rustup target add wasm32-unknown-unknown
	cargo fmt --all -- --check
	node scripts/check-module-cycles.mjs
	cargo clippy $(SSR_FEATURES) --all-targets -- -D warnings
	cargo clippy --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --lib --no-default-features --features hydrate,panel --target wasm32-unknown-unknown -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps $(SSR_FEATURES)
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --no-default-features --features hydrate,panel --target wasm32-unknown-unknown
	scripts/lint-deploy.sh

test-rust: ## Rust tests against SQLite and PostgreSQL (started if none is running)
	pg_url=$$(scripts/ensure-postgres.sh)
	TEST_POSTGRES_URL="$$pg_url" cargo test $(SSR_FEATURES)

e2e: tools test-deps ## Playwright tests: the release site (download sizes checked first) on the debug server build (Playwright starts it)
	scripts/build-site.sh --frontend-only
	# The server binary as the Rust tests build it (same features, so no second build of its dependencies).
	cargo test $(SSR_FEATURES) --no-run
	node scripts/precompress.mjs target/site/pkg
	node scripts/check-sizes.mjs target/site
	npx tsc -p end2end/tsconfig.json --noEmit
	# The replicas' test shares a PostgreSQL database between two servers.
	E2E_POSTGRES_URL=$$(scripts/ensure-postgres.sh)
	export E2E_POSTGRES_URL
	cd end2end
	npx playwright test

fuzz: ## schemathesis over every endpoint of the OpenAPI spec against the server (run after e2e builds it)
	scripts/fuzz.sh

test: tools test-deps lint test-rust e2e fuzz ## Everything CI runs, in order

bench: ## Benchmarks (release server in its own process): time to first token on SQLite and PostgreSQL, two replicas, live-core load, history, knowledge retrieval and answer quality
	pg_url=$$(scripts/ensure-postgres.sh)
	cargo bench $(SSR_FEATURES) --bench ttft
	BENCH_POSTGRES_URL="$$pg_url" cargo bench $(SSR_FEATURES) --bench ttft
	BENCH_POSTGRES_URL="$$pg_url" cargo bench $(SSR_FEATURES) --bench replicas
	cargo bench $(SSR_FEATURES) --bench load
	cargo bench $(SSR_FEATURES) --bench history
	cargo bench $(SSR_FEATURES) --bench knowledge
	BENCH_POSTGRES_URL="$$pg_url" cargo bench $(SSR_FEATURES) --bench knowledge
	BENCH_KNOWLEDGE=5000 BENCH_PATTERN=steady cargo bench $(SSR_FEATURES) --bench ttft
	BENCH_KNOWLEDGE=5000 BENCH_PATTERN=steady BENCH_POSTGRES_URL="$$pg_url" cargo bench $(SSR_FEATURES) --bench ttft

bench-browser: tools test-deps ## Browser benchmark: a 1,000-message chat scrolled and streamed in Chromium
	scripts/build-site.sh
	node scripts/precompress.mjs target/site/pkg
	cd end2end
	FRONTDESK_BIN=../target/release/frontdesk npx playwright test --config playwright.bench.config.ts

clean-data: ## Delete the local database directory ./data
	rm -rf data
