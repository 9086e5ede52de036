#!/usr/bin/env bash
# Search throughput on ONE worker thread, measured with wrk on 127.0.0.1 rotating the
# original load test's 14 terms; plus time from start to ready and RSS.
# Usage: service/bench/run.sh [duration] [connections]    (defaults: 15s 32)
# Needs wrk (apt-get install wrk). Stops the service it starts, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-15s}"
connections="${2:-32}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet -p search-service
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

start_ns="$(date +%s%N)"
RUST_LOG=warn target/release/search-service --listen "127.0.0.1:$port" --workers 1 >/dev/null &
pid=$!
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.002; done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
rss_idle_kb="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"

out="$(wrk -t1 -c"$connections" -d"$duration" --latency -s service/bench/terms.lua "http://127.0.0.1:$port")"
rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
echo "$out" | sed 's/^/  wrk| /'
rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
errors="$(echo "$out" | awk '/Non-2xx|Socket errors/' || true)"
echo "searches/s on one worker thread: $rps"
echo "latency p50: $p50   p99: $p99   ($connections connections, $duration)"
echo "time to ready: ${ready_ms} ms (100,000 products)"
echo "RSS: $((rss_idle_kb / 1024)) MiB idle, $((rss_kb / 1024)) MiB peak under load"
[ -z "$errors" ] || echo "errors: $errors"
