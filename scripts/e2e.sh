#!/usr/bin/env bash
# End-to-end tests from outside: builds ooloi-server, starts it on free loopback ports and runs
# tests/e2e (Python, grpcio stubs generated from proto/ooloi.proto) against it as a client would;
# then scrapes /metrics from the same server and checks it with `promtool check metrics`.
# Needs python3 (with venv) and promtool: scripts/deps.sh, run first, installs them as root or
# stops at once naming what to install, and sets up the venv (grpcio, grpcurl, ...).
# The venv, the stubs and the run's files live under ${CARGO_TARGET_DIR:-target}.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venv="$target/e2e-venv"
work="$target/e2e"
start_seconds=60    # bound on the wait for SERVING
scrape_seconds=10   # bound on the wait for the metrics endpoint
stop_seconds=10     # bound on a graceful stop, then SIGKILL

server_pid=""
stop_server() {
  # Stops the server (SIGTERM, then SIGKILL after $stop_seconds); sets server_status.
  server_status=0
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < stop_seconds * 10; i++)); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "e2e: the server did not stop within ${stop_seconds} s of SIGTERM; killing it" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || server_status=$?
  server_pid=""
}
trap 'stop_server' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== e2e: tools and Python environment ($venv)"
scripts/deps.sh
py="$venv/bin/python"
export PYTHONPYCACHEPREFIX="$work/pycache"  # no __pycache__ in the source tree

echo "== e2e: stubs from proto/ooloi.proto"
rm -rf "$work/stubs"
mkdir -p "$work/stubs"
"$py" -m grpc_tools.protoc -I "$root/proto" --python_out="$work/stubs" \
  --grpc_python_out="$work/stubs" --pyi_out="$work/stubs" "$root/proto/ooloi.proto"

echo "== e2e: build"
cargo build --locked --bin ooloi-server --bin ooloi
server="$target/debug/ooloi-server"

mapfile -t ports < <("$py" tests/e2e/harness.py ports 2)
[ "${#ports[@]}" -eq 2 ] || { echo "e2e: could not pick two free ports" >&2; exit 1; }
grpc_addr="127.0.0.1:${ports[0]}"
http_addr="127.0.0.1:${ports[1]}"
rm -rf "$work"/run.*  # a failed run's directory stays for inspection until the next run
run="$(mktemp -d "$work/run.XXXXXX")"
log="$run/server.log"

echo "== e2e: ooloi-server on $grpc_addr (HTTP $http_addr), log $log"
"$server" --grpc-listen "$grpc_addr" --http-listen "$http_addr" --data-dir "$run/data" \
  >"$log" 2>&1 &
server_pid=$!
show_log() {
  echo "---- last lines of $log" >&2
  tail -n 40 "$log" >&2 || true
  echo "----" >&2
}
if ! "$py" tests/e2e/harness.py wait-ready "$grpc_addr" "$start_seconds" "$server_pid"; then
  show_log
  exit 1
fi

echo "== e2e: tests"
tests_status=0
OOLOI_E2E_GRPC="$grpc_addr" PYTHONPATH="$work/stubs:$root/tests/e2e" \
  "$py" tests/e2e/harness.py run || tests_status=$?

echo "== e2e: promtool check metrics (http://$http_addr/metrics)"
metrics="$work/metrics.txt"
rm -f "$metrics"
metrics_status=0
if ! command -v promtool >/dev/null 2>&1; then
  echo "e2e: promtool not found (Debian package prometheus; scripts/deps.sh installs it)" >&2
  metrics_status=1
elif ! "$py" tests/e2e/harness.py scrape "http://$http_addr/metrics" "$metrics" "$scrape_seconds"; then
  metrics_status=1
elif ! promtool check metrics <"$metrics"; then
  metrics_status=1
else
  echo "e2e: promtool check metrics: OK ($(grep -c '^[a-zA-Z_]' "$metrics") samples)"
fi

stop_server
if [ "$server_status" -ne 0 ]; then
  echo "e2e: the server exited with status $server_status after SIGTERM" >&2
fi
if [ "$tests_status" -ne 0 ] || [ "$metrics_status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
  show_log
  echo "e2e: FAILED (tests $tests_status, metrics $metrics_status, server stop $server_status)" >&2
  exit 1
fi

# The same suite against a server in auth mode jwt, every client sending a token minted by
# `ooloi token` from the server's own settings (quotas raised: the suite is one tenant's burst).
echo "== e2e: again in auth mode jwt"
export OOLOI__AUTH__MODE=jwt OOLOI__AUTH__ISSUER=https://idp.e2e OOLOI__AUTH__AUDIENCE=ooloi \
  OOLOI__AUTH__HS256_SECRET=an-e2e-secret-of-at-least-32-bytes OOLOI__QUOTAS__REQUESTS_PER_SECOND=100000 \
  OOLOI__QUOTAS__BURST=100000
token="$("$target/debug/ooloi" token --tenant e2e --user tester --ttl 1h)"
log="$run/server-jwt.log"
"$server" --grpc-listen "$grpc_addr" --http-listen "$http_addr" --data-dir "$run/data" \
  >"$log" 2>&1 &
server_pid=$!
if ! "$py" tests/e2e/harness.py wait-ready "$grpc_addr" "$start_seconds" "$server_pid"; then
  show_log
  exit 1
fi
tests_status=0
OOLOI_E2E_GRPC="$grpc_addr" OOLOI_E2E_TOKEN="$token" PYTHONPATH="$work/stubs:$root/tests/e2e" \
  "$py" tests/e2e/harness.py run || tests_status=$?
stop_server
if [ "$tests_status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
  show_log
  echo "e2e: FAILED in auth mode jwt (tests $tests_status, server stop $server_status)" >&2
  exit 1
fi
rm -rf "$run"
echo "e2e: OK"
