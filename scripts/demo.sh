#!/usr/bin/env bash
# The README's run command (`npm start`): builds the package and the Worker, starts the mock
# provider and the Worker proxy (wrangler dev, workerd) on 127.0.0.1, and prints the URL of the
# demo page (www/), which uses the npm package in the browser and talks only to the proxy.
# With real keys in .dev.vars the proxy uses them instead of the mock (no failure switch then).
# Ctrl-C stops exactly the processes this script started.
#
# Usage: scripts/demo.sh [--no-build] [--port N]     (default port 8787, or a free one)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[demo]\033[0m %s\n' "$*"; }
build=1
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --port) port="${2:?--port needs a number}"; shift ;;
    *) echo "usage: scripts/demo.sh [--no-build] [--port N]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$build" = 1 ]; then
  bash scripts/build.sh # runs scripts/setup.sh first
fi
for file in pkg/browser.js pkg/core.js pkg/wasm/llm_edge.js pkg/wasm/llm_edge_bg.wasm build/index.js; do
  [ -f "$file" ] || { echo "missing $file: run without --no-build" >&2; exit 1; }
done

# The Worker serves only www/: put the browser build of the package next to the page.
rm -rf www/pkg
mkdir -p www/pkg/wasm
cp pkg/browser.js pkg/core.js www/pkg/
cp pkg/wasm/llm_edge.js pkg/wasm/llm_edge_bg.wasm www/pkg/wasm/

# A port on 127.0.0.1: the given one, 8787 when free, else any free one.
port_of() { node -e '
  const s = require("net").createServer();
  s.once("error", () => process.exit(1));
  s.listen(Number(process.argv[1]), "127.0.0.1", () => { console.log(s.address().port); s.close(); });' "$1"; }
if [ -z "$port" ]; then port=$(port_of 8787 || port_of 0); fi
inspector_port=$(port_of 0)
origin="http://127.0.0.1:$port"

real=0
if [ -f .dev.vars ] && grep -Eq '^[[:space:]]*(ANTHROPIC|OPENAI|GEMINI)_API_KEY[[:space:]]*=[[:space:]]*[^[:space:]]' .dev.vars; then
  real=1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llm-edge-demo.XXXXXX")
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f www/demo-config.json
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; say "stopping"; cleanup; exit 0' INT TERM

# A fresh token per run: nothing secret is committed, and yesterday's page stops working.
token="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
vars=(
  --var "CLIENTS:{\"$token\":{\"name\":\"demo\",\"dailyBudgetUsd\":0.5,\"requestsPerMinute\":30,\"tokensPerMinute\":50000,\"models\":[\"*\"]}}"
  --var "ALLOWED_ORIGINS:$origin,http://localhost:$port"
)
# The page's client retries and falls back itself, so that its event log shows every decision:
# the proxy passes failures straight through (unless .dev.vars sets its own POLICY).
if ! { [ -f .dev.vars ] && grep -Eq '^[[:space:]]*POLICY[[:space:]]*=' .dev.vars; }; then
  vars+=(--var 'POLICY:{"retry":{"maxRetries":0},"circuitBreaker":null}')
fi

mock_url=null
if [ "$real" = 0 ]; then
  node tests/mock-provider/server.mjs --port 0 >"$tmp/mock.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$tmp/mock.log" 2>/dev/null && break; sleep 0.05; done
  mock=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/mock.log") || { cat "$tmp/mock.log" >&2; exit 1; }
  mock_url="\"$mock\""
  vars+=(
    --var ANTHROPIC_API_KEY:mock-anthropic-key --var OPENAI_API_KEY:mock-openai-key --var GEMINI_API_KEY:mock-gemini-key
    --var "ANTHROPIC_BASE_URL:$mock" --var "OPENAI_BASE_URL:$mock" --var "GEMINI_BASE_URL:$mock"
  )
fi
printf '{"token":"%s","mockUrl":%s}\n' "$token" "$mock_url" >www/demo-config.json

WRANGLER_SEND_METRICS=false CI=true NO_COLOR=1 node node_modules/wrangler/bin/wrangler.js dev \
  --ip 127.0.0.1 --port "$port" --inspector-port "$inspector_port" --persist-to "$tmp/state" \
  --show-interactive-dev-session=false "${vars[@]}" >"$tmp/proxy.log" 2>&1 &
pids+=($!)
proxy_pid=$!
ready=0
for _ in $(seq 240); do
  kill -0 "$proxy_pid" 2>/dev/null || break
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$origin/health"; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ "$ready" = 0 ]; then
  echo "the proxy did not start; its output:" >&2
  cat "$tmp/proxy.log" >&2
  exit 1
fi

echo
say "open $origin/"
if [ "$real" = 1 ]; then
  say "providers: the real APIs, with the keys in .dev.vars (for this session the proxy's only client is the demo token)"
else
  say "providers: the mock provider at $mock (the page can make it fail)"
fi
say "demo token: \$0.50 a day, 30 requests a minute; proxy log: $tmp/proxy.log"
say "Ctrl-C stops the proxy and the mock"
# Until Ctrl-C, or until either process ends on its own.
set +e
wait -n "${pids[@]}"
say "a process ended on its own; its log:"
tail -n 20 "$tmp/proxy.log" "$tmp/mock.log" 2>/dev/null
exit 1
