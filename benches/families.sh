#!/usr/bin/env bash
# Every scenario family over paired seeds against every comparison (the 20 s and one-minute
# AWS target-tracking models, the reactive limit, the oracle), one table per family and a
# goals line per family and a knee line per family, for scenarios/families.toml and then
# scenarios/held-out.toml; writes each result into BENCHMARKS.md between its markers.
# Usage: benches/families.sh [seeds] [policy]   (default 1..10, policies/latency-slo.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1..10}"
policy="${2:-policies/latency-slo.toml}"

# The simulator needs no AWS SDK: a build without it is a fraction of the time.
cargo build --release --quiet --locked -p ecs-autoscaler --no-default-features
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# Runs one families file and writes its tables into BENCHMARKS.md between its markers.
run() {
  local file="$1" marker="$2" heading="$3"
  local start took
  start=$(date +%s)
  "$target_dir/release/ecs-autoscaler" simulate --families "$file" --seeds "$seeds" --policy "$policy" | tee "$out"
  took=$(( $(date +%s) - start ))
  echo "($took s)"
  benches/into-benchmarks.py "$out" "$marker" "$heading" \
    "simulate --families $file --seeds $seeds --policy $policy" "$took"
}

run scenarios/families.toml families "Scenario families"
# Shapes no policy is tuned on: a change that helps the families must hold here too.
run scenarios/held-out.toml held-out "Held-out families"
