#!/usr/bin/env bash
# Prints the complexity router's measurements on the labelled prompt set
# (tests/fixtures/routing/prompts.json): agreement with the labels overall and per split, the
# confusion matrices, under- and over-routing, the cost of a 1,000-requests/day mix, and the
# same figures for the tutorial length-and-keyword router.
#
#   scripts/router-eval.sh            # debug build, like `cargo test`
#   scripts/router-eval.sh --release  # routing time as shipped (extra cargo arguments pass through)
#   ROUTER_EVAL_VERBOSE=1 scripts/router-eval.sh   # every tune-split prompt with its reason
set -euo pipefail
cd "$(dirname "$0")/.."

output=$(cargo test "$@" --test routing_eval routing_agrees_with_the_labels -- --nocapture --test-threads=1 2>&1) || {
  printf '%s\n' "$output"
  exit 1
}
# Keep the report: from its title up to the test harness's verdict.
printf '%s\n' "$output" | awk '/^router eval:/ { on = 1 } /^(ok|FAILED)$|^test result/ { on = 0 } on'
