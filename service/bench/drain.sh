#!/usr/bin/env bash
# A drain under load: wrk (128 connections, the mixed set) runs for 10 s; at 4 s the
# service gets SIGTERM (1 s drain grace). Prints wrk's socket errors: "read" and
# "write" count requests lost on connections the service had accepted, "connect"
# counts connections refused once the port is closed, which a client retries elsewhere.
# Repeats RUNS times (default 5).
# Usage: service/bench/drain.sh [runs]       Needs wrk. Stops what it starts, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet -p search-service --bin search-service
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
for run in $(seq "$runs"); do
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  RUST_LOG=warn target/release/search-service --listen "127.0.0.1:$port" --workers 1 --drain-grace 1s >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.01; done
  (sleep 4; kill -TERM "$pid") &
  out="$(wrk -t1 -c128 -d10s -s service/bench/mixed.lua "http://127.0.0.1:$port" 2>&1)"
  wait "$pid" 2>/dev/null || true; pid=""
  requests="$(echo "$out" | awk '/requests in/ {print $1}')"
  errors="$(echo "$out" | awk '/Socket errors/ {print}' | sed 's/^ *//')"
  echo "run $run: $requests requests; ${errors:-Socket errors: none}"
done
