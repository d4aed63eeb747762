#!/usr/bin/env bash
# Installs the build tools Frontdesk needs, each only when missing:
#   - the wasm32-unknown-unknown target
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#   - npm packages (tailwind, binaryen's wasm-opt, esbuild, Playwright) from package-lock.json
#   - with `--dev` only: cargo-leptos 0.3.11 for `make dev` (built from its crate source with one
#     lock fix for rustc 1.95; scripts/build-site.sh builds the site without it)
# Safe to run again: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
log() { printf '[install-tools] %s\n' "$*" >&2; }

dev=false
for arg in "$@"; do
  case $arg in
    --dev) dev=true ;;
    *) echo "usage: $0 [--dev]" >&2; exit 2 ;;
  esac
done

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi


# Unpacks a crate's published source by asking cargo to resolve it as a dependency of a scratch crate.
unpack_crate() {
  local crate=$1 version=$2 dest=$3
  local scratch
  scratch=$(mktemp -d)
  mkdir -p "$scratch/src"
  printf '[package]\nname = "scratch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
    "$crate" "$version" >"$scratch/Cargo.toml"
  : >"$scratch/src/lib.rs"
  (cd "$scratch" && cargo fetch --quiet)
  local src
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$version" | head -n 1)
  cp -r "$src" "$dest"
  rm -rf "$scratch"
}

# Installs a crate from its crates.io source after pinning one dependency with `cargo update --precise`
# (both cargo-leptos and wasm-bindgen-cli ship locks that no longer build on this toolchain as published).
cargo_install_pinned() {
  local crate=$1 version=$2 pin_pkg=$3 pin_version=$4 features=${5:-}
  local work
  work=$(mktemp -d)
  log "installing $crate $version from source (one-time; several minutes)"
  unpack_crate "$crate" "$version" "$work/src"
  (
    cd "$work/src"
    cargo update --quiet -p "$pin_pkg" --precise "$pin_version"
    # A cheap profile: these tools mostly spawn other programs, so an unoptimised build serves as
    # well and compiles in a fraction of the time (cargo-leptos: ~15 min optimised on 2 cores).
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_DEBUG=0 \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_INCREMENTAL=false \
      cargo install --path . --locked ${features:+--features "$features"}
  )
  rm -rf "$work"
}

if $dev && ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  cargo_install_pinned cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1 no_downloads
fi

if [ -f Cargo.lock ]; then
  WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
  if [ -n "$WB_VERSION" ] && ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
    cargo_install_pinned wasm-bindgen-cli "$WB_VERSION" webpki-roots 1.0.10
  fi
fi

if [ -f package-lock.json ]; then
  if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/esbuild ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  fi
fi
