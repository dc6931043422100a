#!/usr/bin/env bash
# Runs every test of llm-edge: the native core tests, the mock provider's own tests, the built
# npm package in Node, headless Chromium and workerd, and the built Worker proxy in workerd.
# Sets up what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --browser
bash scripts/build.sh

step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

step "native core tests (cargo test)"
cargo test --all-targets

step "mock provider tests"
node --test tests/mock-provider/

step "npm package: Node, headless Chromium, workerd"
node --test --test-concurrency=1 tests/js/

step "Worker proxy in workerd, called by the official openai and @anthropic-ai/sdk clients"
node --test --test-concurrency=1 tests/proxy/

step "demo page: served by the Worker, driven in headless Chromium"
node --test --test-concurrency=1 tests/demo/

step "TypeScript types (tsc --strict)"
node_modules/.bin/tsc -p tests/types/tsconfig.json
echo "tsc: the usage example compiles against pkg/index.d.ts"
