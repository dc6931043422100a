#!/usr/bin/env bash
# The README's run command: builds the package, starts the mock provider on 127.0.0.1 and
# streams from all three providers through the npm package. No keys needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh

node tests/mock-provider/server.mjs --port 0 > /tmp/llm-edge-mock.$$ &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null; rm -f /tmp/llm-edge-mock.$$' EXIT INT TERM
for _ in $(seq 100); do grep -q listening /tmp/llm-edge-mock.$$ 2>/dev/null && break; sleep 0.05; done
mock_url=$(grep -o 'http://127.0.0.1:[0-9]*' /tmp/llm-edge-mock.$$)
echo "mock provider: $mock_url"
MOCK_URL="$mock_url" node examples/stream-all-providers.mjs
