#!/usr/bin/env bash
# The whole test suite: first the tools the tests need beyond cargo (scripts/deps.sh: as root it
# installs python3-venv and promtool with apt-get when they are missing, starting no service;
# otherwise it stops at once, before any build, naming what to install; then the Python venv in
# the target directory), then every test target of the package (the PostgreSQL cases of the
# store tests get a fresh database from scripts/postgres.sh, which starts the local cluster if it
# is down), then the schedule-exploration tests (the STM's, the event commit order's, the
# executor's and the JWKS fetch gate's), which need a second build of the library on shuttle's
# primitives (feature `shuttle`), then the end-to-end tests from outside (scripts/e2e.sh: Python grpcio and grpcurl tests against
# a live ooloi-server and `promtool check metrics`), then the operations checks (scripts/ops.sh:
# the Helm chart, the Dockerfile, the compose file, the release binary under bubblewrap and a real
# Prometheus scraping it).
# With FUZZ_SECONDS=N (CI sets 20) it then also runs every fuzz target for N seconds
# (scripts/fuzz.sh, which installs cargo-fuzz with cargo when it is missing).
# Extra arguments go to the first `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# A fresh PostgreSQL database for the store's PostgreSQL cases (exports OOLOI_TEST_POSTGRES_URL).
. scripts/postgres.sh
cargo test --locked "$@"
cargo test --locked --features shuttle --test stm_shuttle
cargo test --locked --features shuttle --lib api::order::shuttle_tests
cargo test --locked --features shuttle --lib executor::shuttle_tests
cargo test --locked --features shuttle --lib auth::jwks::shuttle_tests
scripts/e2e.sh
scripts/ops.sh
if [ -n "${FUZZ_SECONDS:-}" ]; then
  scripts/fuzz.sh "$FUZZ_SECONDS"
fi
