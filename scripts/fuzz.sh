#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20), starting from the committed seed
# corpus. Works on the stable toolchain: no sanitizer (the decoders are safe Rust; libFuzzer's
# coverage guidance and our assertions do the work). Installs cargo-fuzz when it is missing.
# A crash leaves its input in fuzz/artifacts/TARGET/ and fails the script with libFuzzer's report.
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")/../fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in $(cargo fuzz list); do
  echo "== fuzzing $target for ${seconds}s"
  mkdir -p "corpus/$target"
  if cargo fuzz run "$target" --sanitizer none --release -- \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      "corpus/$target" >"$log" 2>&1; then
    grep -E "^(Done|stat::)" "$log" || tail -n 3 "$log"
  else
    tail -n 80 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
