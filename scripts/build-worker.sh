#!/usr/bin/env bash
# Builds the Worker proxy (feature `proxy`) into build/ with worker-build, using the pinned
# wasm-bindgen and the npm wasm-opt/esbuild instead of downloading them from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
worker-build --release --no-default-features --features proxy
