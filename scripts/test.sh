#!/usr/bin/env bash
# Runs every test of llm-edge: the native core tests, the mock provider's own tests, then the
# built npm package in Node, in headless Chromium and in workerd. Sets up what is missing first.
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

step "TypeScript types (tsc --strict)"
node_modules/.bin/tsc -p tests/types/tsconfig.json
echo "tsc: the usage example compiles against pkg/index.d.ts"
