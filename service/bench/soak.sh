#!/usr/bin/env bash
# Memory under a long run that nobody scrapes: REQUESTS requests (default 10,000,000)
# of the mixed query set on one worker thread, in 30 s wrk chunks, with RSS read after
# each chunk. /metrics is never requested. Prints RSS after warm-up, at the end, and
# the growth in between.
# Usage: [BIN=path/to/search-service] service/bench/soak.sh [requests]
# Needs wrk. Stops what it starts, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${1:-10000000}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet -p search-service --bin search-service
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
RUST_LOG=warn "${BIN:-target/release/search-service}" --listen "127.0.0.1:$port" --workers 1 >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.01; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
chunk() { wrk -t1 -c32 -d"$1" -s service/bench/mixed.lua "http://127.0.0.1:$port" | awk '/requests in/ {print $1}'; }
done_requests="$(chunk 10s)"
warm_kb="$(rss)"
echo "after warm-up ($done_requests requests): RSS $((warm_kb / 1024)) MiB"
while [ "$done_requests" -lt "$target" ]; do
  n="$(chunk 30s)"
  done_requests=$((done_requests + n))
  echo "  $done_requests requests: RSS $(( $(rss) / 1024 )) MiB"
done
end_kb="$(rss)"
echo "after $done_requests requests, never scraped: RSS $((warm_kb / 1024)) -> $((end_kb / 1024)) MiB ($(awk -v a="$warm_kb" -v b="$end_kb" 'BEGIN {printf "%+.1f", 100*(b-a)/a}') %)"
