#!/usr/bin/env bash
# Builds the npm package into pkg/ (release wasm, wasm-bindgen glue, wasm-opt -Oz) and the
# Worker proxy into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "[build] npm package: cargo build (release, wasm32, feature js)"
cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features js
rm -rf pkg/wasm
wasm-bindgen target/wasm32-unknown-unknown/release/llm_edge.wasm \
  --out-dir pkg/wasm --out-name llm_edge --target web --no-typescript
# The generated glue ships minified (31 -> 13 KB raw, 6.3 -> 4.1 KB gzip); its exports keep
# their names.
node_modules/.bin/esbuild pkg/wasm/llm_edge.js --minify --format=esm --allow-overwrite \
  --outfile=pkg/wasm/llm_edge.js --log-level=warning
# Debian's binaryen is too old (its output crashes at load): use the pinned npm one. -Oz twice:
# the second pass finds what the first one's inlining and merging exposed (-1.9 KB gzip).
node_modules/.bin/wasm-opt -Oz -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals \
  pkg/wasm/llm_edge_bg.wasm -o pkg/wasm/llm_edge_bg.wasm
node scripts/size.mjs

echo "[build] Worker proxy: worker-build (feature proxy)"
bash scripts/build-worker.sh
