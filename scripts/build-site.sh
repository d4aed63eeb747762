#!/usr/bin/env bash
# Builds the release site into target/site and the release server into target/release/frontdesk:
# the steps of `cargo leptos build --release` (cargo-leptos 0.3.11, as configured under
# [package.metadata.leptos] in Cargo.toml), without needing cargo-leptos, whose own build costs
# a fresh machine several minutes. cargo-leptos stays the tool of `make dev` (watch and reload).
#   scripts/build-site.sh                  the WASM, JS, CSS and assets, and the server
#   scripts/build-site.sh --frontend-only  the WASM, JS, CSS and assets
# Tools on PATH (scripts/install-tools.sh): wasm-bindgen (= the crate's version), and from npm
# tailwindcss, wasm-opt (binaryen) and esbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

server=true
for arg in "$@"; do
  case $arg in
    --frontend-only) server=false ;;
    *) echo "usage: $0 [--frontend-only]" >&2; exit 2 ;;
  esac
done

name=frontdesk
site=target/site
pkg=$site/pkg
log() { printf '[build-site] %s\n' "$*" >&2; }

# A WASM bundle (`bind features out-name`): the hydrating build of the crate in its own target
# dir (so it builds beside the server without waiting on its lock), bound for the browser.
bind() {
  local features=$1 out=$2
  cargo build --lib --target-dir=target/front --target=wasm32-unknown-unknown \
    --no-default-features --features="$features" --profile=wasm-release
  wasm-bindgen --target=web --no-typescript --out-name="$out" --out-dir=$pkg \
    target/front/wasm32-unknown-unknown/wasm-release/$name.wasm
  # The hydration script asks for /pkg/<out>.wasm (leptos, built with LEPTOS_OUTPUT_NAME).
  mv "$pkg/${out}_bg.wasm" "$pkg/$out.wasm"
}

# A bound bundle optimised for size, and its JS glue minified. What a visitor downloads is the
# brotli-compressed bundle: `-Os`, control flow flattened and rebuilt, `-Os` again gives 4.7 KiB
# (brotli) less than `-Oz` for the window, though more raw bytes (measured 2026-12-06, binaryen 132);
# each `-Os` run twice gives 0.6 KiB less again (measured 2026-12-07).
shrink() {
  local out=$1
  wasm-opt -Os -Os --flatten --rereloop -Os -Os --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$pkg/$out.wasm" -o "$pkg/$out.wasm"
  esbuild "$pkg/$out.js" --minify --format=esm --log-level=warning --allow-overwrite --outfile="$pkg/$out.js"
  log "$out: $(wc -c <"$pkg/$out.wasm") bytes of WASM, $(wc -c <"$pkg/$out.js") of JS"
}

# Two bundles: the customer's (the window, all that a shop's page hydrates) and the staff panel's
# (src/app.rs picks one per page). Built one after the other (cargo writes both to the same file);
# the first shrinks while the second builds. Both hydrate synchronously, so the async hydration
# Leptos links into every erased view is dropped from them (see the script).
front() {
  bind hydrate $name
  (node scripts/drop-async-hydration.mjs "$pkg/$name.wasm" && shrink $name) &
  local first=$!
  bind hydrate,panel ${name}_panel
  node scripts/drop-async-hydration.mjs "$pkg/${name}_panel.wasm"
  shrink ${name}_panel
  wait $first
}

# The style sheets: Tailwind v4 scans the sources for the classes in use and minifies. The
# window's (every page but the panel's) leaves the panel's classes out.
style() {
  tailwindcss --input style/window.css --output $pkg/$name.css --minify
  tailwindcss --input style/tailwind.css --output $pkg/${name}_panel.css --minify
}

rm -rf $site
mkdir -p $pkg
cp -r public/. $site/

pids=()
front & pids+=($!)
style & pids+=($!)
if $server; then
  log "building the server and the window side by side"
  cargo build --release --bin=$name --no-default-features --features=ssr & pids+=($!)
fi
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
if [ $failed -ne 0 ]; then
  log "the build failed (see above)"
  exit 1
fi
if $server; then
  log "site in $site, server in target/release/$name"
else
  log "site in $site"
fi
