#!/usr/bin/env bash
# The runtime checks: the release binary run the way its container runs it, and a real Prometheus
# scraping it, both without a container engine (these machines have none).
# - "container contract under bubblewrap": ooloi-server runs under bwrap as uid/gid 10001 (and,
#   when this script runs as root, bwrap itself is started as 10001, so the server is unprivileged
#   on the host as well), in new user/PID/IPC namespaces, with the image's environment (data dir
#   /data, JSON logs) and a root that is read-only everywhere (/tmp too) except one bind, a fresh
#   data directory as /data. It must become ready, run as 10001 with no capabilities, pass the
#   image's health check (`ooloi-server health [--ready]`), fail with EROFS when told to keep its
#   data anywhere else, keep a piece written over gRPC (the `ooloi` CLI) across a SIGTERM (exit 0)
#   and a restart on the same directory, and leave only its SQLite files there. This is the
#   Dockerfile's and the chart's promise (non-root, read-only root file system, one volume) tested
#   on the real binary rather than assumed.
# - "real Prometheus": Debian's prometheus scrapes a release server every second; a query through
#   its HTTP API must return ooloi_server_build_info{job="ooloi-server"}. Every PromQL expression of
#   the Grafana dashboard (helm/ooloi-server/dashboards/ooloi-server.json, or $OPS_DASHBOARD) and
#   each of its query variables then runs through the same API, instant and over the last minute,
#   with Grafana's variables replaced by what Prometheus holds; any error fails the check, so the
#   dashboard cannot ship a query Prometheus rejects. How many returned data is printed.
# The logic is in runtime.py (the ops venv's Python, or the e2e venv's, or python3; standard
# library only). Servers listen on 127.0.0.1 ports that the kernel or a free-port probe picks;
# every process started is in its own process group, killed on exit (and by a parent-death
# signal); every wait is bounded. Scratch files: ${CARGO_TARGET_DIR:-target}/ops/runtime, emptied
# first. What the sandbox itself uses (copies of the two release binaries, the data directory) is
# in a fresh directory made here under /tmp (mktemp -d, mode 0755) and removed on exit: as root
# the sandbox runs as uid 10001, which could not reach target/ in a checkout under a private
# directory such as /root (mode 0700), so the check does not depend on where the repository is. Each check prints one line, `ops: <check>: ok` or `ops: <check>: FAILED` after what went
# wrong (with the server's log tail); both run, and the script exits 1 if either failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"
scratch="$target/ops/runtime"
rm -rf "$scratch"
mkdir -p "$scratch"

checks=("container contract under bubblewrap" "real Prometheus")
if ! cargo build --release --locked --bin ooloi-server --bin ooloi >"$scratch/build.log" 2>&1; then
  tail -n 40 "$scratch/build.log"
  for name in "${checks[@]}"; do echo "ops: $name: FAILED"; done
  exit 1
fi

python=""
for candidate in "$target/ops-venv/bin/python" "$target/e2e-venv/bin/python"; do
  if [ -x "$candidate" ]; then python="$candidate"; break; fi
done
python="${python:-python3}"

# runtime.py kills what it starts; this trap is the backstop for the case where Python itself is
# killed: its children carry a parent-death SIGKILL, and its own process is ended here (and
# waited for, its SIGTERM handler kills its children) before the sandbox's directory is removed.
pid=""
sandbox=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; [ -n "$sandbox" ] && rm -rf "$sandbox"; true' EXIT
trap 'exit 130' INT TERM HUP
sandbox="$(mktemp -d /tmp/ooloi-ops-runtime.XXXXXX)"
chmod 755 "$sandbox"
export OPS_RUNTIME_DIR="$sandbox"
status=0
"$python" -u scripts/ops/runtime.py &
pid=$!
wait "$pid" || status=$?
pid=""
exit "$status"
