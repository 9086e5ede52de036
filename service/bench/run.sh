#!/usr/bin/env bash
# Search throughput on ONE worker thread, next to a warp hello-world that serializes a
# same-size JSON page (examples/hello.rs), measured in the same run, for two query sets:
# the original load test's 14 terms and a realistic mix (bench/mixed.lua). Each cell is
# the median of RUNS runs; servers alternate so machine noise hits both alike.
# Also: time from start to ready (median) and RSS.
# Usage: service/bench/run.sh [duration] [connections] [runs]   (defaults: 10s 32 3)
# Needs wrk (apt-get install wrk). Stops every process it starts, by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10s}"
connections="${2:-32}"
runs="${3:-3}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet -p search-service --bin search-service --example hello
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f\n", v}'; }

# One wrk run against a fresh server: prints "rps p99_ms errors".
measure() { # server(search|hello) script
  local port; port="$(free_port)"
  if [ "$1" = search ]; then
    RUST_LOG=warn target/release/search-service --listen "127.0.0.1:$port" --workers 1 >/dev/null 2>&1 &
  else
    target/release/examples/hello "127.0.0.1:$port" >/dev/null 2>&1 &
  fi
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do sleep 0.005; done
  local out; out="$(wrk -t1 -c"$connections" -d"$duration" --latency -s "$2" "http://127.0.0.1:$port")"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  local rps p99 errs
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p99="$(echo "$out" | awk '$1 == "99%" {print $2}' | ms)"
  errs="$(echo "$out" | awk '/Non-2xx/ {n+=$NF} /Socket errors/ {n+=1} END {print n+0}')"
  echo "$rps $p99 $errs"
}

echo "| query set | hello-world req/s | search req/s | search / hello | search p99 ms | errors |"
echo "|---|---|---|---|---|---|"
for set in terms mixed; do
  script="service/bench/$set.lua"
  : > /tmp/bench-hello.$$; : > /tmp/bench-search.$$
  for _ in $(seq "$runs"); do
    measure hello "$script" >> /tmp/bench-hello.$$
    measure search "$script" >> /tmp/bench-search.$$
  done
  h="$(awk '{print $1}' /tmp/bench-hello.$$ | median)"
  s="$(awk '{print $1}' /tmp/bench-search.$$ | median)"
  p="$(awk '{print $2}' /tmp/bench-search.$$ | median)"
  e="$(awk '{n+=$3} END {print n+0}' /tmp/bench-search.$$)"
  printf '| %s | %.0f | %.0f | %.0f %% | %.2f | %s |\n' "$set" "$h" "$s" "$(echo "$s $h" | awk '{print 100*$1/$2}')" "$p" "$e"
done
rm -f /tmp/bench-hello.$$ /tmp/bench-search.$$

# Time to ready with the default 100,000 products, median of RUNS starts.
for _ in $(seq "$runs"); do
  port="$(free_port)"
  start_ns="$(date +%s%N)"
  RUST_LOG=warn target/release/search-service --listen "127.0.0.1:$port" --workers 1 >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/ready"; do sleep 0.002; done
  echo $(( ($(date +%s%N) - start_ns) / 1000000 )) >> /tmp/bench-ready.$$
  rss_kb="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
echo
echo "time to ready (100,000 products): $(median < /tmp/bench-ready.$$) ms median of $runs; idle RSS $((rss_kb / 1024)) MiB"
rm -f /tmp/bench-ready.$$
