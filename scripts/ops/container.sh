#!/usr/bin/env bash
# The container and Compose checks, all offline and without a Docker engine (these machines have
# none), so that what a Docker user runs is at least checked by the tools that know its formats:
# - Dockerfile: hadolint at warning level (any ignore is an inline `# hadolint ignore=` comment
#   with its reason), checkov's Dockerfile policies with no failed check (any skip is a
#   `# checkov:skip=` comment with its reason), and the server's container contract that neither
#   tool knows: numeric non-root user, the listen addresses, data directory and JSON logs in ENV,
#   both ports exposed, /data a volume, the `ooloi-server health` health check and entrypoint.
# - docker-compose.yml: valid against the Compose Specification's JSON schema
#   (check-jsonschema's vendored copy), and wired as the stack needs: the files it mounts exist,
#   every published port is on 127.0.0.1, the server runs read-only as uid 10001 with its secrets
#   from files, the OTLP endpoint and Prometheus target match the collector and the server.
# - deploy/prometheus/prometheus.yml: `promtool check config`.
# - YAML style: yamllint (strict) on the compose file and deploy/, with the repository's
#   .yamllint.yaml when there is one.
# - The Grafana dashboard (helm/ooloi-server/dashboards/ooloi-server.json, shared by the chart and
#   Compose): parses, has the fixed uid and the datasource/job/instance variables, every panel
#   has the `${datasource}` data source and at least one target with an expression, every range
#   selector is [$__rate_interval]; and every expression parses as PromQL (promtool check rules
#   over them, with the variables substituted). scripts/ops/runtime.sh runs them against a real
#   Prometheus.
# - deploy/otel-collector/config.yaml: parses, and its pipelines name only receivers, processors
#   and exporters it defines, with OTLP over gRPC and HTTP in and the debug exporter out (there is
#   no collector binary here to validate it further).
# Tools: the ops venv (${CARGO_TARGET_DIR:-target}/ops-venv, from tests/ops/requirements.txt,
# made by scripts/deps.sh) and Debian's promtool. Scratch files go to
# ${CARGO_TARGET_DIR:-target}/ops/container. Each check prints one line, `ops: <check>: ok` or
# `ops: <check>: FAILED` after the tool's output; all run, and the script exits 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venv="$target/ops-venv"
scratch="$target/ops/container"
rm -rf "$scratch"
mkdir -p "$scratch"
python="$venv/bin/python"
dashboard="helm/ooloi-server/dashboards/ooloi-server.json"

failed=0
# check NAME COMMAND...: runs the command with its output in a log, shown only when it fails.
# Every tool runs under `timeout` (5 minutes), so that no check can hang.
check() {
  local name="$1"
  shift
  local log
  log="$scratch/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_-' '_').log"
  if "$@" >"$log" 2>&1; then
    echo "ops: $name: ok"
  else
    cat "$log"
    echo "ops: $name: FAILED"
    failed=1
  fi
}

# A tool from the ops venv, or a message saying how to get it.
venv_tool() {
  local tool="$venv/bin/$1"
  shift
  if [ ! -x "$tool" ]; then
    echo "missing $tool: run scripts/deps.sh (it makes the ops venv)"
    return 1
  fi
  timeout 300 "$tool" "$@"
}

need_promtool() {
  command -v promtool >/dev/null 2>&1 ||
    { echo "missing promtool: run scripts/deps.sh (Debian package prometheus)"; return 1; }
}

run_hadolint() {
  venv_tool hadolint --no-color --failure-threshold warning Dockerfile
}

run_checkov() {
  # --skip-download: offline; no guideline links or platform policies are fetched.
  venv_tool checkov --framework dockerfile --file Dockerfile --quiet --compact --skip-download \
    --output cli
}

run_dockerfile_contract() {
  venv_tool python - Dockerfile <<'EOF'
import json, re, sys

text = open(sys.argv[1]).read().replace("\\\n", " ")
stages, problems = [], []
for line in text.splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    word, _, rest = line.partition(" ")
    if word.upper() == "FROM":
        stages.append([])
    if stages:
        stages[-1].append((word.upper(), rest.strip()))
final = stages[-1]

def all_of(kind):
    return [rest for word, rest in final if word == kind]

if len(stages) < 2:
    problems.append("not a multi-stage build")
image = final[0][1].split()[0]
if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
    problems.append(f"runtime image {image} is not pinned")
users = all_of("USER")
if not users or not re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", users[-1]):
    problems.append(f"last USER {users[-1:]} is not a numeric non-root uid:gid")
env = {}
for rest in all_of("ENV"):
    for key, value in re.findall(r"(\S+?)=(\S+)", rest):
        env[key] = value
want = {
    "OOLOI__GRPC__LISTEN": "0.0.0.0:10700",
    "OOLOI__HTTP__LISTEN": "0.0.0.0:10701",
    "OOLOI__STORE__DATA_DIR": "/data",
    "OOLOI__LOG__FORMAT": "json",
}
for key, value in want.items():
    if env.get(key) != value:
        problems.append(f"ENV {key}={env.get(key)}, wanted {value}")
for key in env:
    if re.search(r"SECRET|PASSWORD|TOKEN|ALLOW_INSECURE|AUTH__MODE", key):
        problems.append(f"ENV {key}: the image must carry no secret nor auth default")
ports = " ".join(all_of("EXPOSE")).split()
if sorted(ports) != ["10700", "10701"]:
    problems.append(f"EXPOSE {ports}, wanted 10700 10701")
if not any("/data" in rest for rest in all_of("VOLUME")):
    problems.append("/data is not a VOLUME")
health = all_of("HEALTHCHECK")
if not health or '"/usr/local/bin/ooloi-server", "health"' not in health[-1]:
    problems.append("HEALTHCHECK is not `ooloi-server health`")
for option in ("--interval=", "--timeout=", "--start-period="):
    if not health or option not in health[-1]:
        problems.append(f"HEALTHCHECK has no {option}")
entry = all_of("ENTRYPOINT")
if not entry or json.loads(entry[-1]) != ["/usr/local/bin/ooloi-server"]:
    problems.append("ENTRYPOINT is not [\"/usr/local/bin/ooloi-server\"]")
if not any("org.opencontainers.image." in rest for rest in all_of("LABEL")):
    problems.append("no OCI labels")
print("\n".join(problems) or "contract holds")
sys.exit(1 if problems else 0)
EOF
}

run_compose_schema() {
  venv_tool check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
}

run_compose_wiring() {
  venv_tool python - docker-compose.yml "$dashboard" <<'EOF'
import os, re, sys
import yaml

compose = yaml.safe_load(open(sys.argv[1]))
problems = []
if "version" in compose:
    problems.append("top-level `version:` is obsolete in the Compose Specification")
services = compose.get("services", {})
for name in ("ooloi-server", "postgres", "prometheus", "otel-collector", "grafana"):
    if name not in services:
        problems.append(f"no service {name}")
for name, service in services.items():
    image = service.get("image", "")
    if "build" not in service and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
        problems.append(f"{name}: image {image!r} is not pinned to a tag")
    for port in service.get("ports", []):
        if not str(port).startswith("127.0.0.1:"):
            problems.append(f"{name}: port {port} is not published on 127.0.0.1 only")
    if "no-new-privileges:true" not in service.get("security_opt", []):
        problems.append(f"{name}: no security_opt no-new-privileges:true")
    for volume in service.get("volumes", []):
        source = str(volume).split(":")[0]
        if source.startswith("./") and not os.path.exists(source):
            problems.append(f"{name}: mounts {source}, which does not exist")
server = services.get("ooloi-server", {})
if server.get("read_only") is not True:
    problems.append("ooloi-server: not read_only")
if str(server.get("user", "")).split(":")[0] != "10001":
    problems.append("ooloi-server: not user 10001")
if server.get("cap_drop") != ["ALL"]:
    problems.append("ooloi-server: capabilities not all dropped")
if server.get("healthcheck", {}).get("test", [])[-2:] != ["health", "--ready"]:
    problems.append("ooloi-server: healthcheck is not `ooloi-server health --ready`")
env = server.get("environment", {})
for key in env:
    if re.search(r"SECRET$|PASSWORD$|STORE__URL$", key):
        problems.append(f"ooloi-server: {key} in the environment; use a secret file")
if env.get("OOLOI__AUTH__MODE") != "jwt":
    problems.append("ooloi-server: auth is not jwt")
for key in ("OOLOI__AUTH__ISSUER", "OOLOI__AUTH__AUDIENCE", "OOLOI__STORE__URL_FILE",
            "OOLOI__AUTH__HS256_SECRET_FILE"):
    if key not in env:
        problems.append(f"ooloi-server: no {key}")
secrets = compose.get("secrets", {})
for secret in server.get("secrets", []):
    secret = secret if isinstance(secret, str) else secret.get("source")
    if "file" not in secrets.get(secret, {}):
        problems.append(f"secret {secret}: a read-only service takes only file secrets")
    if not any(str(v).endswith("/run/secrets/" + secret) for v in env.values()):
        problems.append(f"secret {secret}: no OOLOI__*_FILE points at /run/secrets/{secret}")
depends = server.get("depends_on", {})
if depends.get("postgres", {}).get("condition") != "service_healthy":
    problems.append("ooloi-server: does not wait for a healthy postgres")
if "otel-collector" not in depends:
    problems.append("ooloi-server: does not depend on otel-collector")
# The OTLP endpoint reaches the collector's gRPC receiver.
otel = yaml.safe_load(open("deploy/otel-collector/config.yaml"))
grpc_port = otel["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].rsplit(":", 1)[-1]
if env.get("OOLOI__TELEMETRY__OTLP_ENDPOINT") != f"http://otel-collector:{grpc_port}":
    problems.append("OOLOI__TELEMETRY__OTLP_ENDPOINT does not reach the collector's OTLP/gRPC receiver")
# Prometheus scrapes the server's sidecar.
prometheus = yaml.safe_load(open("deploy/prometheus/prometheus.yml"))
targets = [t for job in prometheus.get("scrape_configs", [])
           for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
if "ooloi-server:10701" not in targets:
    problems.append("Prometheus does not scrape ooloi-server:10701")
# Grafana: the provider's path is where the dashboard is mounted; the data source uid is fixed.
grafana = services.get("grafana", {})
mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in grafana.get("volumes", [])}
provider = yaml.safe_load(open("deploy/grafana/provisioning/dashboards/ooloi.yaml"))
path = provider["providers"][0]["options"]["path"]
if not any(os.path.normpath(source) == os.path.normpath(sys.argv[2])
           and os.path.dirname(mounted) == path for mounted, source in mounts.items()):
    problems.append(f"Grafana does not mount {sys.argv[2]} under the provider's path {path}")
datasources = yaml.safe_load(open("deploy/grafana/provisioning/datasources/prometheus.yaml"))
if [d.get("uid") for d in datasources["datasources"]] != ["prometheus"]:
    problems.append("Grafana's Prometheus data source has not the uid `prometheus`")
if "${GRAFANA_ADMIN_PASSWORD:?" not in open(sys.argv[1]).read():
    problems.append("Grafana's admin password is not a required variable")
print("\n".join(problems) or "wiring holds")
sys.exit(1 if problems else 0)
EOF
}

run_promtool_config() {
  need_promtool && timeout 300 promtool check config deploy/prometheus/prometheus.yml
}

run_yamllint() {
  local config=(-d "{extends: default, rules: {line-length: {max: 120}}}")
  if [ -f .yamllint.yaml ]; then config=(-c .yamllint.yaml); fi
  local files=(docker-compose.yml)
  while IFS= read -r -d '' file; do files+=("$file"); done \
    < <(find deploy -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | sort -z)
  venv_tool yamllint --strict --format parsable "${config[@]}" "${files[@]}"
}

# The dashboard's structure; writes its expressions, variables substituted, as a rules file.
run_dashboard() {
  venv_tool python - "$dashboard" "$scratch/dashboard-rules.yml" <<'EOF'
import json, re, sys
import yaml

dashboard = json.load(open(sys.argv[1]))
problems = []
if dashboard.get("uid") != "ooloi-server":
    problems.append(f"uid is {dashboard.get('uid')!r}, wanted 'ooloi-server'")
if not isinstance(dashboard.get("schemaVersion"), int):
    problems.append("no schemaVersion")
variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
ds = variables.get("datasource", {})
if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    problems.append("no `datasource` variable of type datasource for prometheus")
if "job" not in variables and "instance" not in variables:
    problems.append("no `job` or `instance` variable")
want_ds = {"type": "prometheus", "uid": "${datasource}"}
exprs, ids = [], set()
for name in ("job", "instance"):
    if name in variables:
        if variables[name].get("datasource") != want_ds:
            problems.append(f"variable {name}: data source is not ${{datasource}}")
        query = variables[name].get("query")
        query = query.get("query") if isinstance(query, dict) else query
        inner = re.fullmatch(r"label_values\((.*), *\w+\)", query or "")
        if not inner:
            problems.append(f"variable {name}: query {query!r} is not label_values(selector, label)")
        else:
            exprs.append((f"variable {name}", inner.group(1)))

def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))

for panel in panels(dashboard.get("panels", [])):
    title = panel.get("title", "?")
    if panel.get("id") in ids:
        problems.append(f"panel {title}: id {panel.get('id')} used twice")
    ids.add(panel.get("id"))
    if "gridPos" not in panel:
        problems.append(f"panel {title}: no gridPos")
    if panel.get("type") == "row":
        continue
    if panel.get("datasource") != want_ds:
        problems.append(f"panel {title}: data source {panel.get('datasource')} is not ${{datasource}}")
    targets = [t for t in panel.get("targets", []) if t.get("expr", "").strip()]
    if not targets:
        problems.append(f"panel {title}: no target with an expression")
    for t in panel.get("targets", []):
        if t.get("datasource", want_ds) != want_ds:
            problems.append(f"panel {title}: target {t.get('refId')} has another data source")
        for selector in re.findall(r"\[([^\]]*)\]", t.get("expr", "")):
            if selector != "$__rate_interval":
                problems.append(f"panel {title}: range [{selector}], wanted [$__rate_interval]")
        exprs.append((f"{title} {t.get('refId')}", t.get("expr", "")))

def substitute(expr):
    return (expr.replace("$__rate_interval", "5m")
            .replace("${datasource}", "prometheus")
            .replace("$job", ".+").replace("$instance", ".+"))

rules = [{"record": f"dashboard:expr_{i}", "expr": substitute(e)} for i, (_, e) in enumerate(exprs)]
for where, e in exprs:
    if "$" in substitute(e):
        problems.append(f"{where}: unknown variable in {e}")
with open(sys.argv[2], "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)
print("\n".join(problems) or f"{len(exprs)} expressions in {len(ids)} panels")
sys.exit(1 if problems else 0)
EOF
}

run_dashboard_promql() {
  if [ ! -s "$scratch/dashboard-rules.yml" ]; then
    echo "no expressions: the dashboard check did not pass"
    return 1
  fi
  need_promtool && timeout 300 promtool check rules "$scratch/dashboard-rules.yml"
}

run_otel_config() {
  venv_tool python - deploy/otel-collector/config.yaml <<'EOF'
import sys
import yaml

config = yaml.safe_load(open(sys.argv[1]))
problems = []
protocols = (config.get("receivers", {}).get("otlp") or {}).get("protocols") or {}
for protocol in ("grpc", "http"):
    if not (protocols.get(protocol) or {}).get("endpoint"):
        problems.append(f"receiver otlp has no {protocol} endpoint")
if "batch" not in (config.get("processors") or {}):
    problems.append("no batch processor")
if "debug" not in (config.get("exporters") or {}):
    problems.append("no debug exporter")
pipelines = (config.get("service") or {}).get("pipelines") or {}
if "traces" not in pipelines:
    problems.append("no traces pipeline (the server sends spans)")
for name, pipeline in pipelines.items():
    for kind in ("receivers", "processors", "exporters"):
        defined = config.get(kind) or {}
        listed = pipeline.get(kind) or []
        if kind != "processors" and not listed:
            problems.append(f"pipeline {name}: no {kind}")
        for component in listed:
            if component not in defined:
                problems.append(f"pipeline {name}: {kind[:-1]} {component} is not defined")
for extension in (config.get("service") or {}).get("extensions") or []:
    if extension not in (config.get("extensions") or {}):
        problems.append(f"extension {extension} is not defined")
print("\n".join(problems) or "pipelines hold")
sys.exit(1 if problems else 0)
EOF
}

check "hadolint Dockerfile" run_hadolint
check "checkov Dockerfile" run_checkov
check "Dockerfile contract" run_dockerfile_contract
check "compose schema" run_compose_schema
check "compose wiring" run_compose_wiring
check "promtool check config" run_promtool_config
check "yamllint compose and deploy" run_yamllint
check "dashboard structure" run_dashboard
check "dashboard PromQL parses" run_dashboard_promql
check "otel-collector config" run_otel_config

exit "$failed"
