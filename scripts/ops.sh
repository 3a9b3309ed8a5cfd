#!/usr/bin/env bash
# The operations checks (Stage 7): what an operator deploys is checked here, offline, with the
# real tools, without a Docker engine or a cluster. scripts/deps.sh (run first) brings the tools:
# the ops venv (Helm's Go SDK, kubernetes-validate, yamllint, checkov, hadolint,
# check-jsonschema) and Debian's prometheus, promtool and bubblewrap.
# - scripts/ops/chart.sh: the Helm chart lints, renders for every ci/*-values.yaml, validates
#   strictly against the Kubernetes schemas, passes yamllint and checkov, refuses unsafe values,
#   and its README matches values.yaml.
# - scripts/ops/container.sh: the Dockerfile (hadolint, checkov), the compose file (Compose
#   Specification schema), the Prometheus config (promtool), the collector config and the
#   Grafana dashboard.
# - scripts/ops/runtime.sh: the release binary under bubblewrap as the container runs it (an
#   unprivileged UID, read-only root, only /data writable) serves, persists and restarts with
#   its data; a real Prometheus scrapes a running server, and every PromQL expression of the
#   dashboard runs through Prometheus's HTTP API.
# Every check prints `ops: <check>: ok|FAILED`; this script adds one closing line,
# `ops: N passed, M failed`, and exits non-zero if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
for part in chart container runtime; do
  echo "== ops: $part"
  scripts/ops/"$part".sh 2>&1 | tee -a "$log" || status=1
done
passed="$(grep -cE '^ops: .+: ok$' "$log" || true)"
failed="$(grep -cE '^ops: .+: FAILED$' "$log" || true)"
echo "ops: $passed passed, $failed failed"
if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  status=1
fi
exit "$status"
