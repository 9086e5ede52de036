#!/usr/bin/env bash
# A drain under load: wrk (128 connections, the mixed set) runs against one replica; 4 s
# in, the replica gets SIGTERM (1 s drain grace); when the replica has exited, wrk is
# stopped. Prints wrk's socket errors: "read" counts requests lost on connections the
# replica had accepted; "connect" and "write" count reconnections refused once the port
# is closed (wrk reports a refused non-blocking connect as a write error), which a
# client retries on another replica.
# Usage: [BIN=path/to/search-service] service/bench/drain.sh [runs]   (default 5)
# Needs wrk. Stops what it starts, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet -p search-service --bin search-service
pid=""
load=""
out="$(mktemp)"
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$load" ] && kill "$load" 2>/dev/null; rm -f "$out"; wait 2>/dev/null || true' EXIT
for run in $(seq "$runs"); do
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  RUST_LOG=warn "${BIN:-target/release/search-service}" --listen "127.0.0.1:$port" --workers 1 --drain-grace 1s >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.01; done
  wrk -t1 -c128 -d60s -s service/bench/mixed.lua "http://127.0.0.1:$port" >"$out" 2>&1 &
  load=$!
  sleep 4
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  kill -INT "$load"
  wait "$load" 2>/dev/null || true
  load=""
  requests="$(awk '/requests in/ {print $1}' "$out")"
  errors="$(awk '/Socket errors/ {print}' "$out" | sed 's/^ *//')"
  echo "run $run: $requests requests; ${errors:-Socket errors: none}"
done
