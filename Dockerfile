# syntax=docker/dockerfile:1
# Frontdesk: build the server binary and the hydrated site (scripts/build-site.sh), run them on Debian slim.
#   docker build -t frontdesk .
#   docker run -p 3000:3000 -v frontdesk-data:/data -e OPENAI_API_KEY=... frontdesk

# Tailwind v4's native scanner needs Node >= 20; Debian bookworm ships Node 18, so take Node from here.
FROM node:20-bookworm-slim AS node

FROM rust:1-bookworm AS builder
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version \
 && rustup target add wasm32-unknown-unknown

WORKDIR /src
# Build tools first, so this layer is reused while only the sources change:
# wasm-bindgen-cli (version from Cargo.lock); tailwindcss, wasm-opt and esbuild (npm).
COPY Cargo.toml Cargo.lock package.json package-lock.json ./
COPY scripts/install-tools.sh scripts/install-tools.sh
RUN scripts/install-tools.sh

COPY . .
ENV PATH=/src/node_modules/.bin:${PATH}
RUN scripts/build-site.sh \
 && node scripts/precompress.mjs target/site/pkg \
 && test -x target/release/frontdesk \
 && test -d target/site/pkg

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin frontdesk \
 && mkdir -p /data \
 && chown frontdesk: /data

WORKDIR /app
COPY --from=builder /src/target/release/frontdesk /app/frontdesk
COPY --from=builder /src/target/site /app/site

ENV LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD \
    FRONTDESK_ADDR=0.0.0.0:3000 \
    DATABASE_URL=sqlite:///data/frontdesk.db \
    FRONTDESK_DEMO=false \
    RUST_LOG=info

VOLUME /data
EXPOSE 3000
USER 10001
CMD ["/app/frontdesk"]
