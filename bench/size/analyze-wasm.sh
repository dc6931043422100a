#!/usr/bin/env bash
# What the npm package's wasm is made of: builds it like scripts/build.sh (release, feature js,
# wasm-bindgen --target web, wasm-opt -Oz) but keeping the function names (wasm-opt -g), then
# groups twiggy's per-item sizes by crate and by llm-edge module. Not part of `npm run bench`
# (a release wasm build takes minutes); run it when the size changes:
#   bash bench/size/analyze-wasm.sh            # prints the tables, writes bench/results/wasm-size.md
# Builds into ~/.cache/llm-edge-bench/wasm-target, never the repository's target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${BENCH_CACHE:-$HOME/.cache/llm-edge-bench}
TARGET=$CACHE/wasm-target
OUT=$CACHE/wasm-named
mkdir -p "$OUT"
CARGO_TARGET_DIR=$TARGET cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features js
wasm-bindgen "$TARGET/wasm32-unknown-unknown/release/llm_edge.wasm" --out-dir "$OUT" --out-name llm_edge --target web --no-typescript
# -g keeps the name section, so twiggy can attribute every function; the code is what -Oz ships.
node_modules/.bin/wasm-opt -Oz -Oz -g --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals "$OUT/llm_edge_bg.wasm" -o "$OUT/llm_edge_bg.named.wasm"
twiggy top -n 1000000 --format json "$OUT/llm_edge_bg.named.wasm" > "$OUT/top.json"
node bench/size/wasm-breakdown.mjs "$OUT/top.json" "$OUT/llm_edge_bg.named.wasm" | tee bench/results/wasm-size.md
