#!/usr/bin/env bash
# Server CPU time and context switches per ExecuteMethod call, at 1, 16 and 64 callers: less
# sensitive to a busy machine than throughput. Starts SERVER (an ooloi-server binary) on
# 127.0.0.1:18720/18721 with the given environment, drives it with `ooloi bench unary` (the
# `ooloi` next to this checkout's release build, or $OOLOI), and reads the process's CPU ticks
# (/proc/PID/stat), its threads' context switches (/proc/PID/task/*/status) and the OK
# ExecuteMethod count (/metrics) before and after each load.
#   usage: scripts/cpu_per_call.sh SERVER [VAR=VALUE ...]
set -euo pipefail
server=$1; shift
ooloi=${OOLOI:-$(dirname "$0")/../target/release/ooloi}
env "$@" "$server" --grpc-listen 127.0.0.1:18720 --http-listen 127.0.0.1:18721 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf 127.0.0.1:18721/readyz >/dev/null && break; sleep 0.1; done
calls() { curl -s 127.0.0.1:18721/metrics | awk '/^grpc_server_handled_total.*ExecuteMethod.*code="OK"/{print $2}'; }
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
switches() { cat /proc/"$pid"/task/*/status | awk '/ctxt_switches/{s+=$2} END{print s}'; }
for c in 1 16 64; do
  c0=$(calls); t0=$(ticks); x0=$(switches)
  rate=$("$ooloi" bench unary --server http://127.0.0.1:18720 --callers "$c" --duration 3 2>/dev/null | awk '/c=/{print $3}')
  c1=$(calls); t1=$(ticks); x1=$(switches)
  tck=$(getconf CLK_TCK)
  python3 -c "n=$c1-$c0; print(f'c=$c: $rate calls/s, cpu/call {($t1-$t0)*1e6/$tck/n:.1f} us, switches/call {($x1-$x0)/n:.2f}')"
done
