#!/usr/bin/env bash
# Every scenario family over paired seeds against every comparison (the 20 s and one-minute
# AWS target-tracking models, the reactive limit, the oracle), one table per family and a
# goals line per family; then writes the result into BENCHMARKS.md between its markers.
# Usage: benches/families.sh [seeds] [policy]   (default 1..10, policies/latency-slo.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-1..10}"
policy="${2:-policies/latency-slo.toml}"

cargo build --release --quiet --locked -p ecs-autoscaler
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
start=$(date +%s)
"$target_dir/release/ecs-autoscaler" simulate --families scenarios/families.toml --seeds "$seeds" --policy "$policy" | tee "$out"
took=$(( $(date +%s) - start ))
echo "($took s)"

python3 - "$out" "$seeds" "$policy" "$took" <<'PY'
import re, sys
table, seeds, policy, took = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], sys.argv[4]
begin, end = "<!-- families:begin -->", "<!-- families:end -->"
block = (f"{begin}\n`benches/families.sh {seeds} {policy}` ({took} s on this machine):\n\n```\n"
         + table.rstrip() + "\n```\n" + end)
text = open("BENCHMARKS.md").read()
if begin in text and end in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Scenario families\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(text)
print("BENCHMARKS.md updated")
PY
