#!/usr/bin/env bash
# The daemon's RSS and CPU while idle: 20 policies evaluated every 10 s, sim backend in
# real time (speed 1), status API on a free 127.0.0.1 port. Prints one line per figure.
# Usage: benches/daemon-idle.sh [seconds]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

cargo build --release --quiet -p ecs-autoscaler
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
ECS_AUTOSCALER_SIM__SPEED=1 \
RUST_LOG=warn \
  target/release/ecs-autoscaler run &
pid=$!

sleep 5 # start-up and first round
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
t0="$(date +%s.%N)"; c0="$(cpu_ticks)"
sleep "$seconds"
t1="$(date +%s.%N)"; c1="$(cpu_ticks)"
rss_kb="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
hwm_kb="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
policies="$(curl -sf "127.0.0.1:$port/v1/status" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["policies"]))')"

python3 - "$c0" "$c1" "$hz" "$t0" "$t1" "$rss_kb" "$hwm_kb" "$policies" <<'PY'
import sys
c0, c1, hz, t0, t1, rss, hwm, n = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(hz) / (float(t1) - float(t0)) * 100
print(f"policies evaluated: {n} (interval 10 s)")
print(f"CPU while idle: {cpu:.2f} % of one core over {float(t1) - float(t0):.0f} s")
print(f"RSS: {int(rss) / 1024:.1f} MiB (peak {int(hwm) / 1024:.1f} MiB)")
PY
