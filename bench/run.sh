#!/usr/bin/env bash
# Every benchmark of llm-edge in one command (`npm run bench`), on loopback only, bounded in
# time, stopping every process it started (by the PIDs it recorded). Prints the results table
# and writes bench/results/latest.md plus bench/results/<timestamp>.json.
#
#   1. proxy   the Worker's added latency, time to first byte, CPU and memory, beside a
#              JavaScript passthrough floor, Portkey and LiteLLM (bench/proxy/)
#   2. client  consuming a long stream in Node: llm-edge vs the Vercel AI SDK vs
#              eventsource-parser + JSON.parse (bench/client/)
#   3. size    package, browser bundles and Worker sizes; start-up times (bench/size/)
#   4. core    native hot paths of the Rust core (bench/core-bench/)
#
# Each section runs even if another fails. Knobs: SECTIONS [proxy,client,size,core],
# BENCH_BUDGET [570] seconds for the sections together, QUICK=1 (a smoke run), and each
# section's own (see the header of its script). The peers run from a writable copy of
# ../shared/peers in PEERS_DIR [~/.cache/llm-edge-bench/peers]: its dependencies (Portkey,
# LiteLLM) are installed there on first use, outside the repository and outside the budget.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUDGET=${BENCH_BUDGET:-570}
SECTIONS=${SECTIONS:-proxy,client,size,core}
CACHE=${BENCH_CACHE:-$HOME/.cache/llm-edge-bench}
export PEERS_DIR=${PEERS_DIR:-$CACHE/peers}
TMP=$REPO/bench/results/tmp
say() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

rm -rf "$TMP" && mkdir -p "$TMP"
export BENCH_PIDFILE=$TMP/pids.txt
: > "$BENCH_PIDFILE"
: > "$TMP/status.txt"

# Last resort only: each section stops what it started itself. This catches a section killed
# by its timeout: it signals only the process groups recorded in the PID file, and only while
# they still look like ours.
cleanup() {
  [ -f "$BENCH_PIDFILE" ] || return 0
  while read -r pid name; do
    [ -n "${pid:-}" ] || continue
    if kill -0 -- "-$pid" 2>/dev/null && grep -qaE 'workerd|wrangler|mock-upstream|start-server|litellm|replay-server' "/proc/$pid/cmdline" 2>/dev/null; then
      say "stopping leftover $name (process group $pid)"
      kill -TERM -- "-$pid" 2>/dev/null
      sleep 1
      kill -KILL -- "-$pid" 2>/dev/null
    fi
  done < "$BENCH_PIDFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- prerequisites (not timed)
if [ ! -d node_modules/wrangler ] || [ ! -d node_modules/ai ]; then
  say "installing npm dev dependencies"
  npm ci --no-audit --no-fund >&2 || npm install --no-audit --no-fund >&2
fi
if [ ! -f pkg/wasm/llm_edge_bg.wasm ] || [ ! -f build/index_bg.wasm ]; then
  say "no built package or Worker: building them first (npm run build)"
  bash scripts/build.sh >&2 || say "the build failed: sections that need it will fail"
fi
if [[ ",$SECTIONS," == *",proxy,"* ]]; then
  if [ ! -f "$PEERS_DIR/bench-peers.mjs" ] && [ -d "$REPO/../shared/peers" ]; then
    say "copying the peer harness to $PEERS_DIR"
    mkdir -p "$(dirname "$PEERS_DIR")" && cp -r "$REPO/../shared/peers" "$PEERS_DIR" && chmod -R u+w "$PEERS_DIR"
  fi
  if [ -x "$PEERS_DIR/setup-deps.sh" ] && { [ ! -f "$PEERS_DIR/.deps/node/node_modules/@portkey-ai/gateway/build/start-server.js" ] || [ ! -x "$PEERS_DIR/.deps/venv/bin/litellm" ]; }; then
    say "installing the peers (Portkey, LiteLLM) into $PEERS_DIR/.deps (once)"
    timeout 900 "$PEERS_DIR/setup-deps.sh" >&2 || say "installing the peers failed: the proxy section runs without them"
  fi
fi

# Snapshot the artifacts under test, so a rebuild elsewhere during the run cannot mix builds.
mkdir -p "$TMP/artifacts"
cp -rp pkg "$TMP/artifacts/pkg" 2>/dev/null
mkdir -p "$TMP/artifacts/build" && cp -p build/index.js build/index_bg.wasm "$TMP/artifacts/build/" 2>/dev/null
export BENCH_PKG=$TMP/artifacts/pkg BENCH_BUILD=$TMP/artifacts/build
export BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
export BENCH_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo n/a)
export BENCH_UNCOMMITTED=$(git status --porcelain -- src Cargo.toml 2>/dev/null | wc -l)
[ "${QUICK:-}" = 1 ] && export QUICK

# ---------------------------------------------------------------- sections (timed)
START=$(date +%s)
# Each section gets at most its cap and never more than what is left of the budget once the
# later sections' minimums are set aside.
declare -A CAP=([proxy]=330 [client]=110 [size]=90 [core]=180)
declare -A FLOOR=([proxy]=60 [client]=30 [size]=30 [core]=60)
ORDER=(proxy client size core)

run_section() {
  local name=$1; shift
  local elapsed=$(( $(date +%s) - START ))
  local reserve=0 later=0
  for s in "${ORDER[@]}"; do
    [ "$s" = "$name" ] && { later=1; continue; }
    [ $later = 1 ] && [[ ",$SECTIONS," == *",$s,"* ]] && reserve=$(( reserve + FLOOR[$s] ))
  done
  local limit=$(( BUDGET - elapsed - reserve ))
  [ $limit -gt "${CAP[$name]}" ] && limit=${CAP[$name]}
  if [ $limit -lt "${FLOOR[$name]}" ]; then
    say "skipping $name: ${limit}s left of the budget"
    echo "$name 124 0 skipped: out of time budget" >> "$TMP/status.txt"
    return
  fi
  say "section $name (at most ${limit}s)"
  local t0=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$limit" "$@" 2>&1 | tee "$TMP/$name.log" >&2
  local rc=${PIPESTATUS[0]}
  local note=""
  [ $rc = 124 ] && note="timed out after ${limit}s"
  echo "$name $rc $(( $(date +%s) - t0 )) $note" >> "$TMP/status.txt"
  [ $rc = 0 ] || say "section $name FAILED (exit $rc); the others go on"
}

core_section() {
  # Its own crate and workspace; built outside the repository's target/ so that it never
  # waits on (or invalidates) the other builds there.
  CARGO_TARGET_DIR="$CACHE/core-target" cargo build --release --quiet --manifest-path bench/core-bench/Cargo.toml || return 1
  local samples=100
  [ "${QUICK:-}" = 1 ] && samples=20
  CORE_BENCH_SAMPLE_MS=${CORE_BENCH_SAMPLE_MS:-$samples} "$CACHE/core-target/release/llm-edge-core-bench" > "$TMP/core.json.part" || return 1
  mv "$TMP/core.json.part" "$TMP/core.json"
}
export -f core_section
export CACHE TMP

for section in "${ORDER[@]}"; do
  [[ ",$SECTIONS," == *",$section,"* ]] || continue
  case $section in
    proxy) run_section proxy env OUT="$TMP/proxy.json" node bench/proxy/bench-proxy.mjs ;;
    client) run_section client env OUT="$TMP/client.json" node --expose-gc bench/client/bench-client.mjs ;;
    size) run_section size env OUT="$TMP/size.json" node bench/size/bench-size.mjs ;;
    core) run_section core bash -c core_section ;;
  esac
done
say "sections done in $(( $(date +%s) - START ))s"
export BENCH_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

BENCH_COMMAND="${BENCH_COMMAND:-npm run bench}" node bench/report.mjs "$TMP"
