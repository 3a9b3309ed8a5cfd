"""The small steps scripts/e2e.sh needs from Python (every wait bounded):

    harness.py ports N                       N distinct free TCP ports on 127.0.0.1, one a line
    harness.py wait-ready ADDR SECONDS PID   until gRPC health says SERVING (fails early if PID exits)
    harness.py run                           the e2e tests; closes with "e2e: N passed, M failed"
    harness.py scrape URL FILE SECONDS       GET URL into FILE, retrying refused connections
"""

from __future__ import annotations

import os
import socket
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def ports(count: int) -> int:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        for s in sockets:
            print(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the shell) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_ready(address: str, seconds: float, pid: int) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + seconds
    last = "no answer yet"
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if not alive(pid):
                print(f"e2e: the server (pid {pid}) exited before it was ready", file=sys.stderr)
                return 1
            try:
                response = health.Check(
                    health_pb2.HealthCheckRequest(service=""),
                    timeout=min(2.0, max(0.1, deadline - time.monotonic())),
                )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return 0
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as error:
                last = f"{error.code().name}: {error.details()}"
            time.sleep(0.1)
    print(f"e2e: not SERVING within {seconds} s on {address} ({last})", file=sys.stderr)
    return 1


def run() -> int:
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)

    def test_id(test) -> str:  # a failed subTest counts once, as its test
        return getattr(test, "test_case", test).id()

    failed_ids = {test_id(t) for t, _ in result.failures + result.errors}
    failed_ids |= {test_id(t) for t in result.unexpectedSuccesses}
    skipped = len({test_id(t) for t, _ in result.skipped} - failed_ids)
    failed = len(failed_ids)
    passed = max(0, result.testsRun - failed - skipped - len(result.expectedFailures))
    line = f"e2e: {passed} passed, {failed} failed"
    print(line + (f", {skipped} skipped" if skipped else ""), flush=True)
    return 0 if failed == 0 and result.testsRun > 0 else 1


def scrape(url: str, path: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
                content_type = response.headers.get("Content-Type", "")
            break
        except urllib.error.HTTPError as error:
            print(f"e2e: GET {url}: HTTP {error.code} {error.reason}", file=sys.stderr)
            return 1
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() >= deadline:
                print(f"e2e: GET {url}: {error} (for {seconds} s)", file=sys.stderr)
                return 1
            time.sleep(0.2)
    with open(path, "wb") as f:
        f.write(body)
    print(f"e2e: {url}: {len(body)} bytes, {content_type or 'no Content-Type'} -> {path}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["ports"] and len(argv) == 2:
        return ports(int(argv[1]))
    if argv[:1] == ["wait-ready"] and len(argv) == 4:
        return wait_ready(argv[1], float(argv[2]), int(argv[3]))
    if argv == ["run"]:
        return run()
    if argv[:1] == ["scrape"] and len(argv) == 4:
        return scrape(argv[1], argv[2], float(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
