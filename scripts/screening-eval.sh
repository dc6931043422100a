#!/usr/bin/env bash
# Prints the input screen's measured detection and false-positive rates on the labelled set
# (tests/fixtures/screening/prompts.json), per split and per category, and the cost of
# screening 4 KB. The same test fails if the rates fall below the recorded floors.
#
#   scripts/screening-eval.sh            # debug build (what `cargo test` runs)
#   scripts/screening-eval.sh --release  # optimised build: the timing line is meaningful
#   SCREENING_EVAL_SHOW=1 scripts/screening-eval.sh   # list mistakes on the tune split only
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
if [[ "${1:-}" == "--release" ]]; then
  profile=(--release)
fi
cargo test "${profile[@]}" --test screening_eval -- --nocapture --test-threads=1 2>&1 \
  | sed -E 's/^test [a-z_]+ \.\.\. //' \
  | grep -v -E '^(running |test result|ok$|\s*$)'
