"""The runtime checks of scripts/ops/runtime.sh (which builds the release binaries, then runs this).

1. "container contract under bubblewrap": the release ooloi-server runs as the image runs it
   (uid/gid 10001, the image's environment, cwd /data), without a container engine: bwrap gives
   it new user, PID and IPC namespaces, a root that is entirely read-only (every entry of the host's
   / bound read-only onto bwrap's own root, which is then remounted read-only; /tmp included) and
   one writable bind, a fresh data directory as /data. When the script runs as root, bwrap itself
   is started as uid 10001 (setpriv), so the server is unprivileged on the host too, not only
   inside its namespace. The check asserts: it becomes ready; its uid/gid are 10001 and it holds
   no capability; `ooloi-server health --ready` (the image's HEALTHCHECK) passes in the same
   sandbox; writes outside /data fail with EROFS (a probe shell, and the server itself when given a
   data directory elsewhere: it must exit non-zero naming the read-only file system); a piece is
   created and edited over gRPC with the `ooloi` CLI; SIGTERM stops it with exit 0; a second
   server on the same directory returns the piece and the exact value written; the data directory
   holds only the SQLite files, owned by the server's uid.
2. "real Prometheus": Debian's /usr/bin/prometheus scrapes a plain release server every second;
   a query through its HTTP API must return ooloi_server_build_info with job="ooloi-server". Then
   every PromQL expression of the Grafana dashboard (every "expr" anywhere in the JSON: panels,
   rows' nested panels, annotations) and every query variable goes through the same API, instant
   and range, with Grafana's variables replaced by values Prometheus actually holds; any status
   other than success fails the check. How many returned data is printed, for information.

Everything the sandbox uses on the host (copies of the release binaries, the data directory, the
read-only probe directory) lives in one fresh directory under /tmp, mode 0755: $OPS_RUNTIME_DIR
when runtime.sh made it (it removes it in its exit trap), else one made and removed here. As root
the sandbox is uid 10001, which must be able to reach all of it; the repository, and with it
target/, may be anywhere (a CI checkout under /root, mode 0700, is not reachable), so nothing
of the sandbox's may live there. Every directory on the way is checked to be searchable.

Every process started here runs in its own process group with a parent-death SIGKILL, and is
killed (group-wise) on exit; every wait is bounded. Scratch files (logs, the Prometheus run):
${CARGO_TARGET_DIR}/ops/runtime.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or "target")
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET
SCRATCH = TARGET / "ops" / "runtime"
RELEASE = TARGET / "release"
# Replaced in main() by copies in RUN_DIR/bin, reachable by the sandbox's uid.
SERVER = RELEASE / "ooloi-server"
CLI = RELEASE / "ooloi"
RUN_DIR = Path("/nonexistent")  # set by main(): see prepare_run_dir()
RUN_DIR_MADE_HERE = False  # then main() removes it
GRPCURL = TARGET / "e2e-venv" / "bin" / "grpcurl"
PROMETHEUS = Path("/usr/bin/prometheus")
DASHBOARD = Path(os.environ.get("OPS_DASHBOARD") or ROOT / "helm/ooloi-server/dashboards/ooloi-server.json")
if not DASHBOARD.is_absolute():
    DASHBOARD = ROOT / DASHBOARD

SANDBOX_UID = 10001
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 45.0
CALL_TIMEOUT = 20.0
SCRAPE_TIMEOUT = 30.0

_libc = ctypes.CDLL(None, use_errno=True)
_children: list[subprocess.Popen] = []


class CheckFailed(Exception):
    pass


class DashboardFailed(CheckFailed):
    """Queries Prometheus rejected: the logs of the processes say nothing more."""


# ---------------------------------------------------------------------------------------------
# processes


def _die_with_us():
    # PR_SET_PDEATHSIG = 1: the child gets SIGKILL if this script dies, even by SIGKILL.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def start(argv, log: Path, env=None, **kw) -> subprocess.Popen:
    """Starts a process in its own process group, output to `log`; it is killed on exit."""
    out = open(log, "ab")
    proc = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_us,
        **kw,
    )
    out.close()
    proc.log = log  # type: ignore[attr-defined]
    _children.append(proc)
    return proc


def kill(proc: subprocess.Popen):
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def cleanup():
    for proc in reversed(_children):
        kill(proc)


def _on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def run(argv, timeout=CALL_TIMEOUT, env=None, check=True, cwd=None) -> subprocess.CompletedProcess:
    """Runs a short command (bounded), in its own session, killed on timeout."""
    try:
        done = subprocess.run(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_us,
        )
    except subprocess.TimeoutExpired as e:
        raise CheckFailed(f"timed out after {timeout:.0f} s: {' '.join(map(str, argv))}") from e
    if check and done.returncode != 0:
        raise CheckFailed(
            f"exit {done.returncode}: {' '.join(map(str, argv))}\n{done.stdout}{done.stderr}"
        )
    return done


def tail(path: Path, lines=40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"(no log {path}: {e})"
    return "\n".join(text[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout=5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(what: str, probe, timeout: float, proc: subprocess.Popen | None = None, every=0.2):
    """Calls probe() until it returns a true value (returned), or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise CheckFailed(f"{what}: the process exited ({proc.returncode}) while waiting")
        try:
            value = probe()
            if value:
                return value
        except (OSError, ValueError) as e:
            last = e
        time.sleep(every)
    raise CheckFailed(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last})" if last else ""))


# ---------------------------------------------------------------------------------------------
# the sandbox's directory


def unreachable(path: Path) -> str | None:
    """Why uid SANDBOX_UID (neither owner nor in the group of a root-owned path) could not reach
    `path` as root runs this script: a directory on the way without o+x, or the path itself
    without o+r (a file) or o+x (a directory). None when it can, or when not running as root."""
    if os.geteuid() != 0:
        return None
    path = Path(path)
    for d in list(reversed(path.parents)) + ([path] if path.is_dir() else []):
        st = d.stat()
        if st.st_uid != SANDBOX_UID and not st.st_mode & stat.S_IXOTH:
            return f"{d} (mode {stat.filemode(st.st_mode)}, uid {st.st_uid})"
    if path.is_file():
        st = path.stat()
        if st.st_uid != SANDBOX_UID and (st.st_mode & (stat.S_IROTH | stat.S_IXOTH)) != (stat.S_IROTH | stat.S_IXOTH):
            return f"{path} (mode {stat.filemode(st.st_mode)})"
    return None


def prepare_run_dir():
    """Sets RUN_DIR (runtime.sh's $OPS_RUNTIME_DIR, or a new mkdtemp under /tmp, which main()
    removes) and copies the release binaries into RUN_DIR/bin, mode 0755; SERVER and CLI then
    name the copies."""
    global RUN_DIR, RUN_DIR_MADE_HERE, SERVER, CLI
    given = os.environ.get("OPS_RUNTIME_DIR")
    if given:
        RUN_DIR = Path(given)
    else:
        RUN_DIR = Path(tempfile.mkdtemp(prefix="ooloi-ops-runtime.", dir="/tmp"))
        RUN_DIR_MADE_HERE = True
    RUN_DIR.chmod(0o755)
    bin_dir = RUN_DIR / "bin"
    bin_dir.mkdir(mode=0o755, exist_ok=True)
    for built in (RELEASE / "ooloi-server", RELEASE / "ooloi"):
        if not built.is_file():
            raise CheckFailed(f"no release binary {built} (runtime.sh builds it)")
        copy = bin_dir / built.name
        shutil.copyfile(built, copy)
        copy.chmod(0o755)
    SERVER, CLI = bin_dir / "ooloi-server", bin_dir / "ooloi"
    print(f"the sandbox's directory: {RUN_DIR} (binaries copied from {RELEASE})")


# ---------------------------------------------------------------------------------------------
# the server


def server_env(data_dir: str, grpc="127.0.0.1:0", http="127.0.0.1:0") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OOLOI")}
    env.update(
        OOLOI__STORE__DATA_DIR=data_dir,
        OOLOI__GRPC__LISTEN=grpc,
        OOLOI__HTTP__LISTEN=http,
        OOLOI__LOG__FORMAT="json",
    )
    env.pop("RUST_LOG", None)
    return env


def listen_addresses(log: Path) -> tuple[str, str] | None:
    """The `grpc_listen` and `http_listen` of the server's "serving" log line, once written."""
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("grpc_listen") and entry.get("http_listen"):
                return entry["grpc_listen"], entry["http_listen"]
    return None


def wait_ready(proc: subprocess.Popen) -> tuple[str, str]:
    """Waits for the listen line and for /readyz 200; returns (grpc address, http address)."""
    grpc, http = wait_for("the server's listen line", lambda: listen_addresses(proc.log), READY_TIMEOUT, proc)
    wait_for(f"GET http://{http}/readyz 200", lambda: http_get(f"http://{http}/readyz")[0] == 200,
             READY_TIMEOUT, proc)
    return grpc, http


def ooloi(grpc: str, method: str, params: str) -> str:
    return run([CLI, "call", "--server", f"http://{grpc}", method, params]).stdout.strip()


def sigterm_and_wait(proc: subprocess.Popen, pid: int, what: str) -> int:
    """Sends SIGTERM to `pid` (the server) and waits for `proc` (its bwrap, or itself) to exit."""
    os.kill(pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise CheckFailed(f"{what} did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM") from e


# ---------------------------------------------------------------------------------------------
# check 1: bubblewrap


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for c in map(int, children):
            out.append(c)
            todo.append(c)
    return out


def status_fields(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def bwrap_argv(data_dir: Path) -> list[str]:
    """bwrap as the brief's `--ro-bind / /` sandbox, with /data added. /data does not exist on
    the host, and bwrap cannot make a mount point inside a read-only bind of /, so the sandbox's
    root is bwrap's own (empty) root with every entry of the host's / bound read-only onto it,
    /data bound read-write, and the root itself remounted read-only at the end."""
    argv = ["bwrap"]
    if os.geteuid() == 0:
        # Root on the host would map uid 10001 inside to root outside; run bwrap as 10001.
        argv = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups", "bwrap"]
    argv += [
        "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
        "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
    ]
    for entry in sorted(os.listdir("/")):
        path = f"/{entry}"
        if entry in ("proc", "dev", "data"):
            continue
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        else:
            argv += ["--ro-bind", path, path]
    argv += [
        "--dev", "/dev", "--proc", "/proc",
        "--bind", str(data_dir), "/data",
        "--remount-ro", "/",
        "--chdir", "/data",
        "--",
    ]
    return argv


def expected_host_uid() -> int:
    return SANDBOX_UID if os.geteuid() == 0 else os.geteuid()


def own(path: Path):
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, SANDBOX_UID, SANDBOX_UID)


def start_sandboxed(data_dir: Path, log: Path, data_env="/data") -> subprocess.Popen:
    return start(bwrap_argv(data_dir) + [str(SERVER)], log, env=server_env(data_env), cwd=RUN_DIR)


def sandboxed_server_pid(bwrap: subprocess.Popen) -> int:
    def find():
        for p in descendants(bwrap.pid):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{p}/comm").read_text().strip() == "ooloi-server":
                    return p
        return None

    return wait_for("the server's pid under bwrap", find, 10, bwrap)


def check_bubblewrap():
    for tool in ("bwrap", "setpriv") if os.geteuid() == 0 else ("bwrap",):
        if run(["sh", "-c", f"command -v {tool}"], check=False).returncode != 0:
            raise CheckFailed(f"missing {tool} (Debian packages bubblewrap, util-linux)")
    # Under RUN_DIR, not target/: the sandbox's uid must reach every path it is given.
    base = RUN_DIR / "bwrap"
    base.mkdir(mode=0o755)
    base.chmod(0o755)
    data = base / "data"
    own(data)
    # A directory the sandbox's uid owns on the host, but which the sandbox sees read-only:
    # a write there fails only because the root is read-only, not for want of permission.
    owned_ro = base / "owned-but-read-only"
    own(owned_ro)
    for path in (SERVER, data, owned_ro):
        why = unreachable(path)
        if why:
            raise CheckFailed(f"uid {SANDBOX_UID} cannot reach {path}: {why}")

    # The uid mapping and the read-only root, from a probe in an identical sandbox.
    probe = run(bwrap_argv(data) + ["/bin/sh", "-c", (
        'id -u; id -g; '
        f'for p in / /tmp /var/lib "{owned_ro}"; do '
        '  if err=$(mkdir "$p/ooloi-probe" 2>&1); then echo "WRITABLE $p"; else echo "refused $p: $err"; fi; '
        'done; '
        'touch /data/probe && rm /data/probe && echo "writable /data"'
    )], cwd=RUN_DIR)
    lines = probe.stdout.splitlines()
    print("probe in the sandbox: " + "; ".join(lines))
    if lines[:2] != [str(SANDBOX_UID), str(SANDBOX_UID)]:
        raise CheckFailed(f"the sandbox's id -u / id -g are {lines[:2]}, not {SANDBOX_UID}")
    refused = [l for l in lines if l.startswith("refused ")]
    if any(l.startswith("WRITABLE") for l in lines) or len(refused) != 4:
        raise CheckFailed("a path outside /data is writable in the sandbox")
    if not all("Read-only file system" in l for l in refused):
        raise CheckFailed("a write outside /data failed, but not with EROFS: " + "; ".join(refused))
    if "writable /data" not in lines:
        raise CheckFailed("/data is not writable in the sandbox")

    # The server itself, given a data directory outside /data, must refuse to start.
    for where in ("/var/lib/ooloi-test", str(owned_ro / "data")):
        log = SCRATCH / f"bwrap-readonly-{where.strip('/').replace('/', '_')[-40:]}.log"
        proc = start(bwrap_argv(data) + [str(SERVER)], log, env=server_env(where), cwd=RUN_DIR)
        try:
            code = proc.wait(timeout=READY_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise CheckFailed(f"the server with data dir {where} did not exit: {tail(log)}") from e
        text = log.read_text(errors="replace")
        if code == 0 or "Read-only file system" not in text:
            raise CheckFailed(f"the server with data dir {where}: exit {code}, expected non-zero "
                              f"naming the read-only file system:\n{tail(log)}")
        print(f"data dir {where}: exit {code}, refused (read-only file system)")

    # First run: serve, check who it runs as, write, stop.
    log1 = SCRATCH / "bwrap-server-1.log"
    proc = start_sandboxed(data, log1)
    try:
        grpc, http = wait_ready(proc)
        pid = sandboxed_server_pid(proc)
        st = status_fields(pid)
        uid_map = Path(f"/proc/{pid}/uid_map").read_text().split()
        host_uid = expected_host_uid()
        print(f"server pid {pid} on the host: Uid {' '.join(st['Uid'])}, Gid {' '.join(st['Gid'])}, "
              f"CapEff {st['CapEff'][0]}, NoNewPrivs {st.get('NoNewPrivs', ['?'])[0]}, "
              f"uid_map {' '.join(uid_map)}")
        if any(int(u) != host_uid for u in st["Uid"]) or any(int(g) != host_uid for g in st["Gid"]):
            raise CheckFailed(f"the server runs as Uid {st['Uid']} Gid {st['Gid']} on the host, not {host_uid}")
        if uid_map[:2] != [str(SANDBOX_UID), str(host_uid)]:
            raise CheckFailed(f"uid_map {uid_map}: uid {SANDBOX_UID} inside is not {host_uid} outside")
        if int(st["CapEff"][0], 16) != 0:
            raise CheckFailed(f"the server holds capabilities: CapEff {st['CapEff'][0]}")

        # The image's HEALTHCHECK, in an identical sandbox, against the running server.
        health_env = server_env("/data", http=http)
        for args in (["health"], ["health", "--ready"]):
            done = run(bwrap_argv(data) + [str(SERVER)] + args, env=health_env, check=False, cwd=RUN_DIR)
            if done.returncode != 0:
                raise CheckFailed(f"ooloi-server {' '.join(args)} in the sandbox: exit "
                                  f"{done.returncode}\n{done.stdout}{done.stderr}")
        print("ooloi-server health and health --ready in the sandbox: exit 0")

        value = f"Violin I, bubblewrap {os.getpid()}"
        piece = json.loads(ooloi(grpc, "new-piece", '[{:title "runtime check"}]'))
        ooloi(grpc, "add-musician", f'[[] "{piece}" {{:name "first"}}]')
        ooloi(grpc, "set-name", f'[[:m 0] "{piece}" {json.dumps(value)}]')
        if json.loads(ooloi(grpc, "get-name", f'[[:m 0] "{piece}"]')) != value:
            raise CheckFailed("get-name did not return the name just written")
        code = sigterm_and_wait(proc, pid, "the sandboxed server")
        if code != 0:
            raise CheckFailed(f"the sandboxed server exited {code} after SIGTERM, not 0")
        print(f"piece {piece} written; SIGTERM: exit 0")
    except CheckFailed:
        print(f"--- {log1} (tail)\n{tail(log1)}")
        raise
    finally:
        kill(proc)

    # Second run on the same directory: the piece and the value are back.
    log2 = SCRATCH / "bwrap-server-2.log"
    proc = start_sandboxed(data, log2)
    try:
        grpc, _ = wait_ready(proc)
        pieces = ooloi(grpc, "list-pieces", "[]")
        if piece not in pieces:
            raise CheckFailed(f"after the restart list-pieces does not show {piece}: {pieces}")
        got = json.loads(ooloi(grpc, "get-name", f'[[:m 0] "{piece}"]'))
        if got != value:
            raise CheckFailed(f"after the restart the name is {got!r}, not {value!r}")
        print(f"restarted on the same /data: list-pieces shows the piece, get-name returns {got!r}")
        pid = sandboxed_server_pid(proc)
        code = sigterm_and_wait(proc, pid, "the restarted sandboxed server")
        if code != 0:
            raise CheckFailed(f"the restarted sandboxed server exited {code} after SIGTERM, not 0")
    except CheckFailed:
        print(f"--- {log2} (tail)\n{tail(log2)}")
        raise
    finally:
        kill(proc)

    # What the server left in /data: the SQLite files only, owned by its uid.
    files = sorted(data.iterdir())
    print("in /data: " + ", ".join(f"{f.name} (uid {f.stat().st_uid})" for f in files))
    strays = [f.name for f in files if not f.name.startswith("ooloi.db")]
    if strays or not any(f.name == "ooloi.db" for f in files):
        raise CheckFailed(f"/data should hold ooloi.db (and its -wal/-shm) only: {[f.name for f in files]}")
    wrong = [f.name for f in files if f.stat().st_uid != expected_host_uid()]
    if wrong:
        raise CheckFailed(f"files in /data not owned by uid {expected_host_uid()}: {wrong}")
    for log in (log1, log2):
        if re.search(r"Read-only file system|os error 30", log.read_text(errors="replace")):
            raise CheckFailed(f"the server tried to write outside /data (see {log}):\n{tail(log)}")


# ---------------------------------------------------------------------------------------------
# check 2: Prometheus


class Prom:
    def __init__(self, base: str):
        self.base = base

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(f"{self.base}{path}?{query}", timeout=15)
        try:
            reply = json.loads(body)
        except ValueError:
            reply = {"status": f"http {status}", "error": body[:300].decode(errors="replace")}
        return reply

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)

    def query_range(self, expr: str, seconds=60, step="5s") -> dict:
        end = time.time()
        return self.get("/api/v1/query_range", query=expr, start=f"{end - seconds:.3f}",
                        end=f"{end:.3f}", step=step)


BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}


def substitute(expr: str, values: dict) -> str:
    """Grafana's $name, ${name}, ${name:format} and [[name]] forms, longest names first."""
    for name in sorted(values, key=len, reverse=True):
        value = values[name]
        n = re.escape(name)
        expr = re.sub(r"\$\{" + n + r"(?::[^}]*)?\}", lambda _m: value, expr)
        expr = re.sub(r"\[\[" + n + r"(?::[^\]]*)?\]\]", lambda _m: value, expr)
        expr = re.sub(r"\$" + n + r"(?![A-Za-z0-9_])", lambda _m: value, expr)
    return expr


def unresolved(expr: str) -> list[str]:
    """Grafana variable references left after substitution ($name, ${name}, [[name]]): a builtin
    this script does not know, or a variable the dashboard does not define. PromQL itself has no
    `$` outside string literals, where a regex's `$` anchor is not followed by a name."""
    return re.findall(r"\$\{?([A-Za-z_]\w*)", expr) + re.findall(r"\[\[([A-Za-z_]\w*)", expr)


def collect_exprs(node, path="$") -> list[tuple[str, str]]:
    """Every string "expr" anywhere in the dashboard, with a JSON path to name it."""
    found = []
    if isinstance(node, dict):
        title = node.get("title")
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "expr" and isinstance(value, str):
                found.append((f"{path}" + (f" ({title})" if title else ""), value))
            elif key != "templating":
                found += collect_exprs(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += collect_exprs(value, f"{path}[{i}]")
    return found


def split_args(inner: str) -> list[str]:
    args, depth, quote, cur = [], 0, None, ""
    for ch in inner:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


def variable_query(prom: Prom, query: str) -> tuple[list[str] | None, str]:
    """Runs a Grafana Prometheus variable query through the API: (values, how) or (None, reason)
    for a query form this script does not translate, or raises CheckFailed on an API error."""
    m = re.fullmatch(r"\s*(label_values|label_names|metrics|query_result)\s*\((.*)\)\s*", query, re.S)
    if not m:
        return None, "not a Grafana Prometheus variable function"
    fn, args = m.group(1), split_args(m.group(2))
    if fn == "label_values" and len(args) in (1, 2):
        label = args[-1]
        params = {"match[]": args[0]} if len(args) == 2 else {}
        reply = prom.get(f"/api/v1/label/{urllib.parse.quote(label)}/values", **params)
        how = f"/api/v1/label/{label}/values" + (f"?match[]={args[0]}" if params else "")
    elif fn == "label_names":
        params = {"match[]": args[0]} if args else {}
        reply, how = prom.get("/api/v1/labels", **params), "/api/v1/labels"
    elif fn == "metrics":
        reply, how = prom.get("/api/v1/label/__name__/values"), "/api/v1/label/__name__/values"
        if reply.get("status") == "success" and args:
            reply["data"] = [v for v in reply["data"] if re.search(args[0], v)]
    else:  # query_result(expr)
        reply, how = prom.query(m.group(2)), f"query {m.group(2)}"
        if reply.get("status") == "success":
            reply["data"] = [json.dumps(r.get("metric", {})) for r in reply["data"].get("result", [])]
    if reply.get("status") != "success":
        raise CheckFailed(f"variable query {query!r} ({how}): {reply.get('status')}: {reply.get('error')}")
    return list(reply.get("data") or []), how


def resolve_variables(prom: Prom, dashboard: dict, scraped: dict) -> tuple[dict, list[str]]:
    """Values for the dashboard's template variables, in order (later queries may use earlier
    ones): a label's scraped value when the variable names a label of the scraped series, else
    the first value the variable's query returns, else its current/first option."""
    values = dict(BUILTINS)
    errors: list[str] = []
    for var in (dashboard.get("templating") or {}).get("list") or []:
        name, kind = var.get("name"), var.get("type")
        if not name:
            continue
        current = (var.get("current") or {}).get("value")
        if isinstance(current, list):
            current = current[0] if current else None
        if kind == "datasource":
            values[name] = "prometheus"  # used in datasource fields, never in PromQL
            print(f"variable {name}: datasource, not PromQL (skipped)")
            continue
        if kind == "query":
            raw = var.get("query")
            query = raw.get("query") if isinstance(raw, dict) else raw
            query = substitute(query or "", values)
            try:
                found, how = variable_query(prom, query)
            except CheckFailed as e:
                errors.append(str(e))
                found, how = [], "failed"
            if found is None:
                print(f"variable {name}: query {query!r} skipped: {how}")
                found = []
            else:
                print(f"variable {name}: {how} -> {len(found)} value(s)")
            if name in scraped and (scraped[name] in found or not found):
                values[name] = scraped[name]
            elif found:
                values[name] = found[0]
            else:
                values[name] = scraped.get(name, ".+")
        elif kind in ("custom", "interval", "constant", "textbox"):
            options = [o.get("value") for o in var.get("options") or [] if o.get("value")]
            values[name] = str(current or (options[0] if options else None) or var.get("query") or "")
            if kind in ("custom", "interval"):
                values[name] = values[name].split(",")[0].strip()
        else:
            values[name] = scraped.get(name, str(current or ".+"))
        if values[name] in ("$__all", "All"):
            values[name] = ".+"
        print(f"variable {name} = {values[name]!r}")
    return values, errors


def non_empty(reply: dict) -> bool:
    data = reply.get("data") or {}
    if data.get("resultType") == "scalar":
        return True
    return bool(data.get("result"))


def check_prometheus():
    if not PROMETHEUS.exists():
        raise CheckFailed(f"missing {PROMETHEUS} (Debian package prometheus)")
    base = SCRATCH / "prometheus"
    data = base / "server-data"
    data.mkdir(parents=True)
    server_log = base / "ooloi-server.log"
    server = start([SERVER], server_log, env=server_env(str(data)))
    prom_proc = None
    prom_log = base / "prometheus.log"
    try:
        grpc, http = wait_ready(server)
        config = base / "prometheus.yml"
        config.write_text(
            "# Written by scripts/ops/runtime.sh: scrape the test's ooloi-server every second.\n"
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: ooloi-server\n"
            "    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['{http}']\n"
        )
        prom_port = free_port()
        prom_proc = start([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={base / 'tsdb'}",
                           f"--web.listen-address=127.0.0.1:{prom_port}"], prom_log)
        prom = Prom(f"http://127.0.0.1:{prom_port}")
        wait_for("Prometheus GET /-/ready 200", lambda: http_get(f"{prom.base}/-/ready")[0] == 200,
                 60, prom_proc, every=0.5)
        print(f"prometheus on 127.0.0.1:{prom_port} scraping {http}")

        known = 'ooloi_server_build_info{job="ooloi-server"}'

        def build_info():
            reply = prom.query(known)
            if reply.get("status") == "success" and reply["data"]["result"]:
                return reply["data"]["result"]
            return None

        result = wait_for(f"Prometheus returning {known}", build_info, SCRAPE_TIMEOUT, prom_proc, every=1)
        labels = result[0]["metric"]
        if labels.get("job") != "ooloi-server":
            raise CheckFailed(f"{known} came back without job=\"ooloi-server\": {labels}")
        print(f"known series through the API: {json.dumps(labels, sort_keys=True)}")

        up = prom.query('up{job="ooloi-server"}')
        if up.get("status") != "success" or [r["value"][1] for r in up["data"]["result"]] != ["1"]:
            raise CheckFailed(f'up{{job="ooloi-server"}} is not 1: {up}')

        # gRPC traffic once scrapes arrive, in two rounds a few scrapes apart so that rates have
        # something to see; a watcher keeps an event stream (and a subscription) open meanwhile.
        piece = json.loads(ooloi(grpc, "new-piece", '[{:title "prometheus check"}]'))
        start([CLI, "watch", "--server", f"http://{grpc}", piece], base / "watch.log")
        for round_ in range(2):
            ooloi(grpc, "list-pieces", "[]")
            ooloi(grpc, "add-musician", f'[[] "{piece}" {{:name "m{round_}"}}]')
            run([CLI, "call", "--server", f"http://{grpc}", "no-such-method", "[]"], check=False)
            if GRPCURL.exists():
                run([GRPCURL, "-plaintext", grpc, "grpc.health.v1.Health/Check"])
            time.sleep(2.5)

        wait_for("grpc_server_handled_total in Prometheus",
                 lambda: non_empty(prom.query('grpc_server_handled_total{job="ooloi-server"}')),
                 SCRAPE_TIMEOUT, prom_proc, every=1)
        time.sleep(3)  # two more scrapes after the last calls, for rate() and increase()

        check_dashboard(prom, labels)
    except DashboardFailed:
        raise
    except CheckFailed:
        print(f"--- {server_log} (tail)\n{tail(server_log)}")
        if prom_proc is not None:
            print(f"--- {prom_log} (tail)\n{tail(prom_log, 20)}")
        raise
    finally:
        if prom_proc is not None and prom_proc.poll() is None:
            prom_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                prom_proc.wait(timeout=STOP_TIMEOUT)
        cleanup()


def check_dashboard(prom: Prom, scraped: dict):
    if not DASHBOARD.exists():
        raise CheckFailed(f"no dashboard at {DASHBOARD} (set OPS_DASHBOARD to test another file)")
    dashboard = json.loads(DASHBOARD.read_text())
    print(f"dashboard {DASHBOARD}")
    values, errors = resolve_variables(prom, dashboard, scraped)
    exprs = collect_exprs(dashboard)
    if not exprs:
        raise CheckFailed("the dashboard has no PromQL expression")
    with_data = ran = 0
    for where, raw in exprs:
        expr = substitute(raw, values)
        left = unresolved(expr)
        if left:
            errors.append(f"{where}: unresolved variable(s) {left} in {raw!r}")
            continue
        ran += 1
        instant, ranged = prom.query(expr), prom.query_range(expr)
        failed = False
        for kind, reply in (("query", instant), ("query_range", ranged)):
            if reply.get("status") != "success":
                failed = True
                errors.append(f"{where}: {kind} {expr!r}: {reply.get('status')}: "
                              f"{reply.get('errorType', '')} {reply.get('error')}")
            for warning in reply.get("warnings") or []:
                print(f"warning: {where}: {kind} {expr!r}: {warning}")
        if non_empty(instant) or non_empty(ranged):
            with_data += 1
        elif not failed:
            print(f"no data (not an error): {expr}")
    for error in errors:
        print(f"error: {error}")
    print(f"dashboard: {len(exprs)} expressions, {ran} run (instant and over the last minute), "
          f"{len(errors)} error(s); {with_data} of {len(exprs)} returned data")
    if errors:
        raise DashboardFailed(f"{len(errors)} dashboard query error(s)")


# ---------------------------------------------------------------------------------------------


def main() -> int:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    try:
        try:
            prepare_run_dir()
            prepared = None
        except (CheckFailed, OSError) as e:
            prepared = f"preparing the sandbox's directory: {e}"
        failed = run_checks(prepared)
    finally:
        if RUN_DIR_MADE_HERE:
            shutil.rmtree(RUN_DIR, ignore_errors=True)
    return 1 if failed else 0


def run_checks(prepared: str | None) -> bool:
    """Runs both checks (each fails at once if the sandbox's directory could not be prepared);
    returns whether any failed."""
    failed = False
    for name, check in (("container contract under bubblewrap", check_bubblewrap),
                        ("real Prometheus", check_prometheus)):
        try:
            if prepared:
                raise CheckFailed(prepared)
            check()
            print(f"ops: {name}: ok", flush=True)
        except CheckFailed as e:
            print(str(e))
            print(f"ops: {name}: FAILED", flush=True)
            failed = True
        except Exception as e:  # a bug here, or the machine: still one FAILED line
            print(f"{type(e).__name__}: {e}")
            print(f"ops: {name}: FAILED", flush=True)
            failed = True
        finally:
            cleanup()
            sys.stdout.flush()
    return failed


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        cleanup()
