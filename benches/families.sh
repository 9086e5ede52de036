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
  python3 - "$out" "$seeds" "$policy" "$took" "$file" "$marker" "$heading" <<'PY'
import re, sys
table, seeds, policy, took, file, marker, heading = open(sys.argv[1]).read(), *sys.argv[2:]
begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
block = (f"{begin}\n`simulate --families {file} --seeds {seeds} --policy {policy}` ({took} s on this machine):\n\n```\n"
         + table.rstrip() + "\n```\n" + end)
text = open("BENCHMARKS.md").read()
if begin in text and end in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + f"\n\n## {heading}\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
print("BENCHMARKS.md updated")
PY
}

run scenarios/families.toml families "Scenario families"
# Shapes no policy is tuned on: a change that helps the families must hold here too.
run scenarios/held-out.toml held-out "Held-out families"
