#!/usr/bin/env bash
# The whole test suite: every test target of the package, then the schedule-exploration tests
# (the STM's, and the event commit order's), which need a second build of the library on
# shuttle's primitives (feature `shuttle`),
# then the end-to-end tests from outside (scripts/e2e.sh: Python grpcio tests against a live
# ooloi-server and `promtool check metrics`; needs python3 and promtool).
# Extra arguments go to the first `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked "$@"
cargo test --locked --features shuttle --test stm_shuttle
cargo test --locked --features shuttle --lib api::order::shuttle_tests
scripts/e2e.sh
