#!/usr/bin/env bash
# The whole test suite: every test target of the package, then the STM's schedule-exploration
# tests, which need a second build of the library on shuttle's primitives (feature `shuttle`).
# Extra arguments go to the first `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked "$@"
cargo test --locked --features shuttle --test stm_shuttle
