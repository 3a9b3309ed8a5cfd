#!/usr/bin/env bash
# The Helm chart's checks (helm/ooloi-server), offline: no helm binary, no cluster, no network.
# The tools come from ${CARGO_TARGET_DIR:-target}/ops-venv (scripts/deps.sh installs it from
# tests/ops/requirements.txt). For every helm/ooloi-server/ci/*-values.yaml, as release "ooloi"
# in namespace "ooloi":
# - chart lint: Helm's own linter (helm_python, Helm v4's Go SDK), strict; an error finding
#   fails, warnings and infos are printed. (Helm's lint mode does not stop at `fail`, so the
#   chart's guards are tested by rendering, below.) Chart.yaml's appVersion must be
#   Cargo.toml's version.
# - chart render: the real Helm engine renders the chart, the `helm test` hook pod included,
#   into ${CARGO_TARGET_DIR:-target}/ops/chart/<values name>/, one file per manifest (named
#   <kind>-<name>.yaml; NOTES.txt beside them).
# - chart kubernetes-validate: every rendered manifest validates strictly (unknown fields are
#   errors) against the Kubernetes OpenAPI schemas of the oldest Kubernetes the chart supports
#   (Chart.yaml's kubeVersion, 1.27) and of the newest kubernetes-validate carries. The
#   ServiceMonitor is a Prometheus Operator custom resource those schemas lack, and no package
#   from the registries this project uses carries its CRD schema for offline use, so it is
#   checked structurally instead: against a strict JSON schema, written here, of the subset of
#   monitoring.coreos.com/v1 ServiceMonitor fields the chart may emit (unknown fields, wrong
#   types and malformed durations fail), plus scrapeTimeout <= interval.
# - chart yamllint: `yamllint --strict` with the repository's .yamllint.yaml on the rendered
#   manifests and on the chart's own YAML (Chart.yaml, values.yaml, ci/*.yaml) and the config.
# - chart checkov: `checkov --framework kubernetes` on the rendered manifests of each values
#   file; no check may fail, and each run must report checks that passed (a run that produced
#   no report, or an empty one, checked nothing and fails). The only skips are checkov.io/skip<N> annotations in the templates, each with its
#   reason beside it (image digest pinning while image.digest is unset, probes of the one-shot
#   test pod).
# - chart guards: values that must not render do not, with the message that says what to set
#   (the defaults alone; JWT without a key source or issuer; auth none without
#   allowInsecureNetwork; a replica count; a grace period under 40 s; an https:// OTLP
#   endpoint; ...), and the smallest values that should render do.
# - chart readme: README.md's values table matches values.yaml's `# --` comments, key for key,
#   with the same defaults (scripts/ops/chart_readme.py; --write regenerates the table).
# Every tool run is bounded by `timeout` (checkov 300 s, the others 120 s), so a hung tool fails
# its check instead of hanging the build.
# Each check prints `ops: chart <check>: ok` or `ops: chart <check>: FAILED` (after the tool's
# output); all run even if one fails, and the script exits non-zero if any failed.
# CHART=DIR checks a copy of the chart elsewhere (the same checks; for trying changes).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venv="$target/ops-venv/bin"
chart="${CHART:-$root/helm/ooloi-server}"
out="$target/ops/chart"

if [ ! -x "$venv/python" ]; then
  echo "chart: $venv/python not found: run scripts/deps.sh first" >&2
  echo "ops: chart: FAILED"
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
tool="$out/chart_tool.py"
# The Python half: Helm's SDK (lint, render), the manifest splitter, the ServiceMonitor check
# and the guard cases.
cat >"$tool" <<'PY'
"""Helm work for scripts/ops/chart.sh: lint, render, the ServiceMonitor check, the guards."""
import json
import pathlib
import re
import sys

import helm_python
import jsonschema
import yaml

RELEASE, NAMESPACE = "ooloi", "ooloi"
SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def values_files(chart):
    files = sorted((chart / "ci").glob("*-values.yaml"))
    if not files:
        sys.exit(f"no ci/*-values.yaml in {chart}")
    return files


def load_values(path):
    return yaml.safe_load(path.read_text()) or {}


def lint(chart, cargo_toml):
    bad = False
    import tomllib
    crate = tomllib.loads(cargo_toml.read_text())["package"]["version"]
    app = helm_python.Chart.load(str(chart)).metadata.get("appVersion")
    if app != crate:
        print(f"Chart.yaml: appVersion {app!r} is not Cargo.toml's version {crate!r}")
        bad = True
    for path in values_files(chart):
        report = helm_python.lint(str(chart), load_values(path), strict=True, namespace=NAMESPACE)
        for m in report.get("messages", []):
            print(f"  {path.name}: {SEVERITY.get(m['severity'], m['severity'])}: {m['path']}: {m['error']}")
            bad |= m["severity"] >= 3
        for e in report.get("errors", []):
            print(f"  {path.name}: ERROR: {e}")
            bad = True
        print(f"lint {path.name}: {len(report.get('messages', []))} finding(s)")
    return not bad


def render(chart, out):
    loaded = helm_python.Chart.load(str(chart))
    ok = True
    for path in values_files(chart):
        name = path.name[: -len("-values.yaml")]
        dest = out / name
        dest.mkdir(parents=True)
        try:
            rendered = loaded.render(load_values(path), name=RELEASE, namespace=NAMESPACE, is_install=True)
        except helm_python.HelmError as e:
            print(f"render {path.name}: {e}")
            ok = False
            continue
        count = 0
        for template, text in sorted(rendered.items()):
            if template.endswith("NOTES.txt"):
                (dest / "NOTES.txt").write_text(text)
                continue
            for doc in re.split(r"(?m)^---[ \t]*$", text):
                if not doc.strip():
                    continue
                manifest = yaml.safe_load(doc)
                if not manifest:  # only comments
                    continue
                kind, mname = manifest.get("kind", "unknown"), manifest.get("metadata", {}).get("name", "unnamed")
                file = dest / f"{kind.lower()}-{mname}.yaml"
                if file.exists():
                    print(f"render {path.name}: two manifests named {kind}/{mname}")
                    ok = False
                body = doc.strip("\n")
                file.write_text(f"---\n# Source: {template}\n{body}\n")
                count += 1
        print(f"render {path.name}: {count} manifests in {dest}")
        if count == 0:
            ok = False
    return ok


DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
# The subset of monitoring.coreos.com/v1 ServiceMonitor the chart may emit, strict.
SERVICE_MONITOR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
                "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": STRING_MAP,
                "annotations": STRING_MAP,
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}


def seconds(duration):
    units = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|y|w|d|h|m|s)", duration))


def servicemonitor(files):
    ok = True
    for file in files:
        manifest = yaml.safe_load(pathlib.Path(file).read_text())
        errors = [
            f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in jsonschema.Draft7Validator(SERVICE_MONITOR).iter_errors(manifest)
        ]
        if not errors:
            for ep in manifest["spec"]["endpoints"]:
                if "interval" in ep and "scrapeTimeout" in ep and seconds(ep["scrapeTimeout"]) > seconds(ep["interval"]):
                    errors.append(f"endpoint {ep['port']}: scrapeTimeout {ep['scrapeTimeout']} > interval {ep['interval']}")
        for e in errors:
            print(f"{file}: {e}")
        print(f"{file}: {'valid (structural ServiceMonitor schema)' if not errors else 'INVALID'}")
        ok &= not errors
    return ok


# Values that must not render, and a piece of the message each must fail with.
JWT = {"mode": "jwt", "issuer": "https://id.example.test", "audience": "ooloi"}
GUARDS = [
    ("the chart's defaults alone (an explicit auth choice is needed)", {}, "auth.mode is jwt but no key source is set"),
    ("jwt without a key source", {"auth": JWT}, "auth.mode is jwt but no key source is set"),
    ("jwt without an issuer", {"auth": {"mode": "jwt", "audience": "a", "jwksUrl": "http://jwks/keys"}},
     "auth.issuer is not set"),
    ("public keys without key names", {"auth": dict(JWT, publicKeys={"existingSecret": "keys"})},
     "auth.publicKeys.keys is empty"),
    ("auth none without allowInsecureNetwork", {"auth": {"mode": "none"}},
     "auth.mode is none but auth.allowInsecureNetwork is not true"),
    ("a replica count", {"auth": dict(JWT, hs256={"existingSecret": "s"}), "replicas": 2},
     "additional properties 'replicas' not allowed"),
    ("a grace period under 40 s", {"auth": dict(JWT, hs256={"existingSecret": "s"}), "terminationGracePeriodSeconds": 10},
     "minimum: got 10, want 40"),
    ("an https:// OTLP endpoint (the server has no TLS client)",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}), "telemetry": {"otlpEndpoint": "https://otel-collector:4317"}},
     "at '/telemetry/otlpEndpoint'"),
    ("no DNS port (an empty list would allow every port)",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}), "networkPolicy": {"dns": {"ports": []}}},
     "at '/networkPolicy/dns/ports'"),
    ("a config key the chart sets", {"auth": dict(JWT, hs256={"existingSecret": "s"}), "config": {"grpc": {"listen": "0.0.0.0:1"}}},
     "config.grpc.listen is set by the chart itself"),
    ("the insecure-network switch through config",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}), "config": {"auth": {"allow_insecure_network": True}}},
     "config.auth.allow_insecure_network is not allowed here; use the chart's value auth.allowInsecureNetwork"),
    ("a database URL in the ConfigMap",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}), "config": {"store": {"url": "postgres://u:p@db/x"}}},
     "config.store.url is not allowed here; use the chart's value store.existingSecret"),
    ("the insecure-network switch through extraEnv",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}),
      "extraEnv": [{"name": "OOLOI__AUTH__ALLOW_INSECURE_NETWORK", "value": "true"}]},
     "extraEnv sets OOLOI__AUTH__ALLOW_INSECURE_NETWORK"),
]
# ... and the smallest values that do render (the guards are not simply always failing).
PASSES = [
    ("jwt with an HS256 secret", {"auth": dict(JWT, hs256={"existingSecret": "s"})}),
    ("auth none with allowInsecureNetwork", {"auth": {"mode": "none", "allowInsecureNetwork": True}}),
    ("an http:// OTLP endpoint",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}), "telemetry": {"otlpEndpoint": "http://otel-collector:4317"}}),
    ("OpenShift's DNS (namespace openshift-dns, port 5353)",
     {"auth": dict(JWT, hs256={"existingSecret": "s"}),
      "networkPolicy": {"dns": {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}}}],
                                "ports": [{"port": 5353, "protocol": "UDP"}, {"port": 5353, "protocol": "TCP"}]}}}),
]


def guards(chart):
    loaded = helm_python.Chart.load(str(chart))
    ok = True
    for what, values, expected in GUARDS:
        try:
            loaded.render(values, name=RELEASE, namespace=NAMESPACE)
            print(f"guard {what}: rendered, but must fail with {expected!r}")
            ok = False
        except helm_python.HelmError as e:
            if expected in str(e):
                print(f"guard {what}: refused: {str(e).strip().splitlines()[-1].strip()}")
            else:
                print(f"guard {what}: failed with {e!s}, not with {expected!r}")
                ok = False
    for what, values in PASSES:
        try:
            loaded.render(values, name=RELEASE, namespace=NAMESPACE)
            print(f"guard {what}: renders")
        except helm_python.HelmError as e:
            print(f"guard {what}: must render, but: {e}")
            ok = False
    return ok


def main():
    helm_python.disable_logging()  # the SDK's own log lines (fail messages seen in lint mode)
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "lint":
        ok = lint(pathlib.Path(args[0]), pathlib.Path(args[1]))
    elif mode == "render":
        ok = render(pathlib.Path(args[0]), pathlib.Path(args[1]))
    elif mode == "servicemonitor":
        ok = servicemonitor(args)
    elif mode == "guards":
        ok = guards(pathlib.Path(args[0]))
    else:
        sys.exit(f"unknown mode {mode}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
PY

failed=0
# run NAME COMMAND...: one check, its output shown, then its one verdict line.
run() {
  local name="$1"
  shift
  if "$@"; then
    echo "ops: chart $name: ok"
  else
    echo "ops: chart $name: FAILED"
    failed=1
  fi
}

# bounded SECONDS COMMAND...: runs COMMAND (a program, not a function) under `timeout`, which
# ends its whole process group on expiry (SIGTERM, SIGKILL 10 s later); says so when it does.
bounded() {
  local seconds="$1" rc=0
  shift
  timeout --kill-after=10 "$seconds" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "timed out after ${seconds} s: $*"
  fi
  return "$rc"
}

py() { bounded 120 "$venv/python" "$tool" "$@"; }

# The rendered manifests of every values file (after `render`).
manifests() { find "$out" -mindepth 2 -name '*.yaml' | sort; }

validate() {
  local status=0 files=() monitors=() f
  while IFS= read -r f; do
    if grep -q '^kind: ServiceMonitor$' "$f"; then monitors+=("$f"); else files+=("$f"); fi
  done < <(manifests)
  [ "${#files[@]}" -gt 0 ] || { echo "no rendered manifests"; return 1; }
  for version in 1.27.0 1.37.0; do
    echo "kubernetes-validate --strict -k $version: ${#files[@]} manifests"
    bounded 120 "$venv/kubernetes-validate" --strict --quiet -k "$version" "${files[@]}" || status=1
  done
  if [ "${#monitors[@]}" -gt 0 ]; then py servicemonitor "${monitors[@]}" || status=1; fi
  return "$status"
}

lint_yaml() {
  local files=()
  mapfile -t files < <(manifests)
  files+=("$chart/Chart.yaml" "$chart/values.yaml" "$chart"/ci/*.yaml "$root/.yamllint.yaml")
  echo "yamllint --strict: ${#files[@]} files"
  bounded 120 "$venv/yamllint" --strict -c "$root/.yamllint.yaml" "${files[@]}"
}

checkov() {
  local status=0 dir name rc dirs=()
  # Each values file in its own run, so that the graph check "every pod has a NetworkPolicy"
  # cannot match one release's pods with another's policies.
  for dir in "$out"/*/; do [ -d "$dir" ] && dirs+=("$dir"); done
  [ "${#dirs[@]}" -gt 0 ] || { echo "checkov: no rendered manifests"; return 1; }
  for dir in "${dirs[@]}"; do
    name="$(basename "$dir")"
    # checkov exits 1 when a check fails; its report (read below) says which. Only a timeout
    # is decided here.
    rc=0
    bounded 300 "$venv/checkov" -d "$dir" --framework kubernetes --compact --skip-download --output json \
      >"$out/checkov-$name.json" 2>"$out/checkov-$name.log" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      tail -n 20 "$out/checkov-$name.log"
      echo "checkov $name: timed out after 300 s"
      status=1
      continue
    fi
    bounded 120 "$venv/python" - "$out/checkov-$name.json" "$out/checkov-$name.log" "$name" <<'PY' || status=1
"""Prints checkov's summary, every skip with its reason and every failed check in full. Passes
only if no report has a failed check (or lacks its summary) and at least one report has passed
checks: checkov prints `[]`, or nothing, when it found nothing to check."""
import json, sys
name = sys.argv[3]
try:
    data = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print(open(sys.argv[2]).read())
    sys.exit(f"checkov {name}: no JSON report")
reports = data if isinstance(data, list) else [data]
ok, passed = True, 0
for report in reports:
    if not isinstance(report, dict) or not isinstance(report.get("summary"), dict):
        print(f"checkov {name}: a report without a summary: {json.dumps(report)[:300]}")
        ok = False
        continue
    s, results = report["summary"], report.get("results") or {}
    print(f"checkov {name} ({report.get('check_type', '?')}): passed {s.get('passed')}, failed {s.get('failed')}, "
          f"skipped {s.get('skipped')}")
    for c in results.get("skipped_checks", []):
        print(f"  skipped {c['check_id']} on {c['resource']}: {c['check_result'].get('suppress_comment')}")
    for c in results.get("failed_checks", []):
        print(f"  FAILED {c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})")
    ok &= s.get("failed") == 0 and not results.get("failed_checks")
    if isinstance(s.get("passed"), int):
        passed = max(passed, s["passed"])
if passed <= 0:
    print(open(sys.argv[2]).read()[-2000:])
    print(f"checkov {name}: no report with a passed check ({len(reports)} report(s)): checkov checked nothing")
    ok = False
sys.exit(0 if ok else 1)
PY
  done
  return "$status"
}

readme() { bounded 120 "$venv/python" "$root/scripts/ops/chart_readme.py" "$chart"; }

run lint py lint "$chart" "$root/Cargo.toml"
run render py render "$chart" "$out"
run kubernetes-validate validate
run yamllint lint_yaml
run checkov checkov
run guards py guards "$chart"
run readme readme
exit "$failed"
