#!/usr/bin/env bash
# The prediction families (scenarios/prediction.toml: 14-21 days of per-minute load, the
# last two scored) over paired seeds: the shipped policy, the same with [predict] off,
# AWS target tracking on 20 s metrics, AWS predictive scaling with it (a seasonal
# forecaster, and one told each future hour's true mean), the reactive limit and the
# oracle; writes the tables into BENCHMARKS.md between the `prediction` markers.
# Usage: benches/prediction.sh [seeds] [policy]   (default 1..10, policies/latency-slo.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1..10}"
policy="${2:-policies/latency-slo.toml}"

# The simulator needs no AWS SDK: a build without it is a fraction of the time.
cargo build --release --quiet --locked -p ecs-autoscaler --no-default-features
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
start=$(date +%s)
"$target_dir/release/ecs-autoscaler" simulate --families scenarios/prediction.toml --seeds "$seeds" --policy "$policy" \
  --compare prediction-off --compare aws-target-tracking-20s --compare aws-predictive \
  --compare aws-predictive-perfect-hourly --compare reactive-limit --compare oracle | tee "$out"
took=$(( $(date +%s) - start ))
echo "($took s)"
benches/into-benchmarks.py "$out" prediction "Prediction families" "benches/prediction.sh $seeds $policy" "$took"
