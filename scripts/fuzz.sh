#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time each (default 60 s), one core, and reports
# crashes. Not part of CI. Needs the nightly toolchain; installs cargo-fuzz if missing.
# Usage: scripts/fuzz.sh [seconds-per-target] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
# The chunk readers' fuzzer starts from every stream fixture's `data:` payloads.
seed=fuzz/corpus/stream_chunks
mkdir -p "$seed"
for fixture in tests/fixtures/*/*.sse; do
  sed -n 's/^data: \{0,1\}//p' "$fixture" | while IFS= read -r line; do
    printf '%s' "$line" > "$seed/$(printf '%s' "$line" | sha1sum | cut -c1-16)"
  done
done
status=0
for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds}s"
  # -rss_limit_mb catches unbounded memory growth; -max_len keeps inputs realistic.
  if ! (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" \
        -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 2>&1 | tail -n 15); then
    status=1
  fi
done
artifacts=$(find fuzz/artifacts -type f 2>/dev/null)
if [ -n "$artifacts" ]; then echo "artifacts (crashes, leaks, slow units):"; echo "$artifacts"; status=1; else echo "no artifacts: no crash, leak, timeout or slow unit"; fi
exit $status
