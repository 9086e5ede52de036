#!/usr/bin/env bash
# The daemon's memory with nothing scraping it, as on ECS: 20 policies (copies of
# policies/latency-slo.toml) evaluated every 10 s of simulated time on the sim backend at
# SPEED (default 50: five rounds per second, an hour's worth of rounds every 72 s), for an
# hour; the status API is up but never asked for /metrics. Prints the RSS every
# `step` seconds and, at the end, the first sample after warm-up against the highest and
# the last. Histogram samples the recorder never folded into buckets would show as RSS
# rising round after round.
# Usage: benches/unscraped-rss.sh [seconds] [step]   (default 3600 60; WARMUP=600 s)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3600}"
step="${2:-60}"

# BIN: another build to compare (an older commit's), run the same way.
bin="${BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --locked --no-default-features -p ecs-autoscaler
  bin=target/release/ecs-autoscaler
fi
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir "$work/policies"
for i in $(seq -w 1 20); do
  sed -e "0,/^name = .*/s//name = \"svc-$i\"/" \
      -e "s/^interval = .*/interval = \"10s\"/" \
      -e "s/^service = .*/service = \"svc-$i\"/" \
      policies/latency-slo.toml > "$work/policies/svc-$i.toml"
done
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

ECS_AUTOSCALER_BACKEND=sim \
ECS_AUTOSCALER_POLICIES_DIR="$work/policies" \
ECS_AUTOSCALER_STATE_FILE="$work/state.json" \
ECS_AUTOSCALER_LISTEN="127.0.0.1:$port" \
ECS_AUTOSCALER_SIM__SPEED="${SPEED:-50}" \
RUST_LOG=warn \
  "$bin" run &
pid=$!

out="$work/rss.tsv"
start="$(date +%s)"
while [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
  sleep "$step"
  printf '%s\t%s\n' "$(( $(date +%s) - start ))" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" | tee -a "$out"
done

# Warm-up: the sim backend keeps 4 simulated hours of each service's world, and the
# policies' journals and learned state fill over their first simulated hours; at speed 50
# that takes about 10 real minutes (RSS rises ~6 MB a minute until then, flat after).
python3 - "$out" "${WARMUP:-600}" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
warmup = int(sys.argv[2])
warm = [r for r in rows if r[0] >= warmup] or rows
first, high, last = warm[0][1], max(r[1] for r in warm), warm[-1][1]
print(f"RSS after warm-up ({warmup} s): {first / 1024:.1f} MiB; highest {high / 1024:.1f} MiB "
      f"({(high / first - 1) * 100:+.1f} %); last {last / 1024:.1f} MiB ({(last / first - 1) * 100:+.1f} %)")
PY
