#!/usr/bin/env python3
"""Is the service's own latency the latency its clients see, when it is saturated?

Starts the search service with ONE worker thread, saturates it with wrk (512
connections, the 14 terms), and compares three p99s of the same requests: the client's
(wrk), the EMF LatencyP99 and the Prometheus histogram's (histogram_quantile over the
run's bucket deltas). The EMF window is 60 s and the run starts just after a minute
begins and lasts 40 s, so one EMF record (printed when the service stops) covers the
whole run, as wrk's figure does. Repeats RUNS times and prints medians.

Usage: service/bench/saturation.py [--binary PATH] [--runs 3] [--duration 20]
       [--connections 512] [--script service/bench/terms.lua]
Needs wrk. Every process it starts is stopped by PID.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def buckets(text):
    """Cumulative (le, count) of search_request_duration_seconds for route=search."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'search_request_duration_seconds_bucket\{(.*)\} (\S+)$', line)
        if not m or 'route="search"' not in m.group(1):
            continue
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        out[float("inf") if le == "+Inf" else float(le)] = float(m.group(2))
    return out


def histogram_quantile(q, before, after):
    """Prometheus's histogram_quantile over the increase between two scrapes."""
    les = sorted(after)
    cum = [after[le] - before.get(le, 0.0) for le in les]
    total = cum[-1]
    if total <= 0:
        return float("nan")
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, cum):
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9)
        prev_le, prev_c = le, c
    return les[-2]


def ms(text):
    v = float(re.sub(r"[a-z]+$", "", text))
    return v / 1000 if text.endswith("us") else v * 1000 if re.search(r"[^m]s$", text) else v


def one_run(args):
    port = free_port()
    env = dict(os.environ, RUST_LOG="warn")
    emf = open(f"/tmp/saturation-emf-{port}.jsonl", "w+")
    server = subprocess.Popen(
        [args.binary, "--listen", f"127.0.0.1:{port}", "--workers", "1", "--emf", "--emf-interval", "60s"],
        stdout=emf, stderr=subprocess.DEVNULL, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 20
        while True:
            try:
                get(base + "/health")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.01)
        # Start just after a minute begins, so the run stays inside one EMF window.
        while not 1 <= time.time() % 60 <= 15:
            time.sleep(0.2)
        before = buckets(get(base + "/metrics"))
        started = time.time()
        wrk = subprocess.run(
            ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", args.script, base],
            capture_output=True, text=True, check=True).stdout
        ended = time.time()
        after = buckets(get(base + "/metrics"))
    finally:
        server.terminate()  # SIGTERM: the service prints the window in progress
        server.wait(timeout=60)
    client_p99 = ms(re.search(r"^\s+99%\s+(\S+)", wrk, re.M).group(1))
    rps = float(re.search(r"Requests/sec:\s+(\S+)", wrk).group(1))
    emf.seek(0)
    records = []
    for line in emf:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    # The record holding the run (the one with the most requests).
    full = max((r for r in records if r.get("RequestCount", 0) > 0), key=lambda r: r["RequestCount"], default=None)
    emf_p99 = full["LatencyP99"] if full else float("nan")
    emf.close()
    os.unlink(emf.name)
    prom_p99 = histogram_quantile(0.99, before, after) * 1000 if after else float("nan")
    return rps, client_p99, emf_p99, prom_p99


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/search-service"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=40)
    p.add_argument("--connections", type=int, default=512)
    p.add_argument("--script", default=os.path.join(ROOT, "service/bench/terms.lua"))
    args = p.parse_args()
    rows = [one_run(args) for _ in range(args.runs)]
    for r in rows:
        print("run: %.0f req/s, p99 client %.2f ms, EMF %.2f ms, Prometheus %.2f ms" % r, file=sys.stderr)
    med = [statistics.median(c) for c in zip(*rows)]
    print("| binary | req/s | client p99 (wrk) | EMF LatencyP99 | Prometheus p99 | EMF / client | Prometheus / client |")
    print("|---|---|---|---|---|---|---|")
    print("| %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %.0f %% | %.0f %% |" % (
        os.path.basename(args.binary), med[0], med[1], med[2], med[3], 100 * med[2] / med[1], 100 * med[3] / med[1]))


if __name__ == "__main__":
    main()
