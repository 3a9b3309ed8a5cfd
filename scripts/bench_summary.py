#!/usr/bin/env python3
"""Summarises criterion results as a Markdown table: median time per iteration, throughput in
MB/s (10^6 bytes) and the ratio to the group's baseline, all from one run.

Usage: scripts/bench_summary.py [CRITERION_DIR] [BASELINE_FUNCTION]
(defaults: target/criterion and "prost")."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
baseline = sys.argv[2] if len(sys.argv) > 2 else "prost"

groups = {}
for bench in sorted(root.glob("*/*/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())
    median_ns = est["median"]["point_estimate"]
    nbytes = (meta.get("throughput") or {}).get("Bytes")
    groups.setdefault(meta["group_id"], []).append((meta["value_str"], median_ns, nbytes))

print("| group | function | median | MB/s | time vs %s |" % baseline)
print("|---|---|---:|---:|---:|")
for group, rows in groups.items():
    base = next((ns for name, ns, _ in rows if name == baseline), None)
    for name, ns, nbytes in rows:
        time = f"{ns / 1e3:.1f} µs" if ns < 1e6 else f"{ns / 1e6:.2f} ms"
        mbs = f"{nbytes / ns * 1e3:.0f}" if nbytes else "-"
        ratio = f"{ns / base:.2f}x" if base else "-"
        print(f"| {group} | {name} | {time} | {mbs} | {ratio} |")
