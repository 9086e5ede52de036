#!/usr/bin/env bash
# One daemon for 1,000 services: 1,000 policies over 10 clusters (100 services each, one
# CPU rule, a 10 s interval) against a local moto server, state and lease in DynamoDB.
# Prints the round time, RSS, CPU, API calls per round and the monthly CloudWatch cost,
# and writes them into BENCHMARKS.md between its markers.
# Usage: benches/thousand-services.sh [seconds to measure, default 120] [services, default 1000]
# Needs moto_server and boto3 (pip install 'moto[server]' boto3).
set -euo pipefail
cd "$(dirname "$0")/.."
measure="${1:-120}"
services="${2:-1000}"

cargo build --release --quiet --locked -p ecs-autoscaler
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

python3 - "$target_dir/release/ecs-autoscaler" "$measure" "$services" <<'PY'
import datetime, json, os, re, signal, socket, subprocess, sys, tempfile, time, urllib.request

import boto3

binary, measure, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clusters = 10
per_cluster = n // clusters


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


work = tempfile.mkdtemp(prefix="thousand-")
moto_port = free_port()
moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
daemon = None
try:
    endpoint = f"http://127.0.0.1:{moto_port}"
    for _ in range(300):
        try:
            get(endpoint + "/moto-api/")
            break
        except Exception:
            time.sleep(0.1)
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="test", aws_secret_access_key="test")
    ecs, cw, ddb = boto3.client("ecs", **kw), boto3.client("cloudwatch", **kw), boto3.client("dynamodb", **kw)
    setup = time.time()
    ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    ecs.register_task_definition(family="search", containerDefinitions=[
        {"name": "search", "image": "search-service:1", "memory": 512}])
    policies = os.path.join(work, "policies")
    os.makedirs(policies)
    now = int(time.time()) // 60 * 60
    for c in range(clusters):
        cluster = f"c{c}"
        ecs.create_cluster(clusterName=cluster)
        data = []
        for s in range(per_cluster):
            service = f"s{s}"
            ecs.create_service(cluster=cluster, serviceName=service, taskDefinition="search", desiredCount=2)
            for minutes in (1, 2):
                data.append({"MetricName": "CPUUtilization",
                             "Dimensions": [{"Name": "ClusterName", "Value": cluster},
                                            {"Name": "ServiceName", "Value": service}],
                             "Timestamp": datetime.datetime.fromtimestamp(now - 60 * minutes, datetime.timezone.utc),
                             "Value": 50.0})
            with open(os.path.join(policies, f"{cluster}-{service}.toml"), "w") as f:
                f.write(f'name = "{cluster}-{service}"\nmin = 1\nmax = 20\ninterval = "10s"\n'
                        f'[target]\nbackend = "aws"\ncluster = "{cluster}"\nservice = "{service}"\n'
                        '[[rule]]\nname = "cpu"\nmetric = "ecs_cpu"\ntarget = 70\n')
        for i in range(0, len(data), 500):
            cw.put_metric_data(Namespace="AWS/ECS", MetricData=data[i:i + 500])
    print(f"set-up: {clusters} clusters x {per_cluster} services in moto, {time.time() - setup:.0f} s", flush=True)

    api = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "ECS_AUTOSCALER_BACKEND": "aws", "ECS_AUTOSCALER_AWS__ENDPOINT_URL": endpoint,
           "ECS_AUTOSCALER_POLICIES_DIR": policies, "ECS_AUTOSCALER_LISTEN": f"127.0.0.1:{api}",
           "ECS_AUTOSCALER_LOG_FORMAT": "json", "ECS_AUTOSCALER_STATE_BACKEND": "dynamodb",
           "ECS_AUTOSCALER_DYNAMODB__TABLE": "state"}
    if "MALLOC_ARENA_MAX" in os.environ:
        env["MALLOC_ARENA_MAX"] = os.environ["MALLOC_ARENA_MAX"]
    daemon = subprocess.Popen([binary, "run"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "daemon.log"), "w"))
    for _ in range(600):
        try:
            if json.loads(get(f"http://127.0.0.1:{api}/readyz")).get("status") == "ready":
                break
        except Exception:
            pass
        time.sleep(0.1)

    def scrape():
        text = get(f"http://127.0.0.1:{api}/metrics", timeout=10)
        values = {}
        for line in text.splitlines():
            m = re.match(r'^(ecs_autoscaler_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$', line)
            if m:
                values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return values

    def cpu_seconds():
        fields = open(f"/proc/{daemon.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(key):
        for line in open(f"/proc/{daemon.pid}/status"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
        return 0.0

    # The first rounds write every history and journal: measure after them.
    time.sleep(25)
    a, cpu_a, t_a = scrape(), cpu_seconds(), time.time()
    rss = []
    while time.time() - t_a < measure:
        time.sleep(1)
        rss.append(rss_mb("VmRSS"))
    b, cpu_b, t_b = scrape(), cpu_seconds(), time.time()
    delta = lambda k: b.get(k, 0.0) - a.get(k, 0.0)
    rounds = delta("ecs_autoscaler_rounds_total")
    count = delta("ecs_autoscaler_round_seconds_count")
    mean = delta("ecs_autoscaler_round_seconds_sum") / max(count, 1)
    buckets = sorted((float(re.search(r'le="([^"]+)"', k).group(1)), delta(k))
                     for k in b if k.startswith("ecs_autoscaler_round_seconds_bucket") and 'le="+Inf"' not in k)
    def quantile(q):
        for le, c in buckets:
            if c >= q * count:
                return le
        return float("inf")
    def call_mean(call):
        k = f'ecs_autoscaler_backend_call_seconds_{{}}{{{{call="{call}"}}}}'
        return delta(k.format("sum")) / max(delta(k.format("count")), 1)
    read_metrics, describe = call_mean("read_metrics"), call_mean("describe_service")
    # Rounds that overlap (a policy still in flight skips its tick) evaluate fewer than
    # all policies: count per full set of n evaluations, not per round.
    evaluations = sum(delta(k) for k in b if k.startswith("ecs_autoscaler_decisions_total{"))
    sets = max(evaluations / n, 1e-9)
    calls = {api_name: delta(f'ecs_autoscaler_aws_api_calls_total{{api="{api_name}"}}') / sets
             for api_name in ("GetMetricData", "DescribeServices", "UpdateService")}
    queries = delta("ecs_autoscaler_cloudwatch_metric_queries_total") / sets
    cpu = (cpu_b - cpu_a) / (t_b - t_a) * 100
    rss.sort()
    # GetMetricData: $0.01 per 1,000 metrics requested; a round every 10 s.
    per_month = queries * 6 * 60 * 24 * 30
    cost = per_month / 1000 * 0.01
    limit_describe = -(-n // 10)
    limit_gmd = -(-int(queries) // 500)
    lines = [
        f"{n} policies over {clusters} clusters, one CPU rule each, 10 s interval; moto; state and lease in DynamoDB (moto)",
        f"measured over {t_b - t_a:.0f} s: {rounds:.0f} rounds, {evaluations:.0f} evaluations ({sets:.1f} per policy)",
        f"round time: mean {mean:.2f} s, median <= {quantile(0.5)} s, p90 <= {quantile(0.9)} s (histogram buckets)",
        f"of which: the round's GetMetricData {read_metrics:.2f} s (moto answers 500 queries in ~5.8 s, measured alone); "
        f"each policy's wait for DescribeServices {describe:.2f} s on average",
        f"RSS: median {rss[len(rss) // 2]:.1f} MB, peak {rss_mb('VmHWM'):.1f} MB",
        f"CPU: {cpu:.1f} % of one core",
        f"API calls per {n} evaluations (one round's worth): GetMetricData {calls['GetMetricData']:.1f} (limit ceil({queries:.0f}/500) = {limit_gmd}), "
        f"DescribeServices {calls['DescribeServices']:.1f} (limit ceil({n}/10) = {limit_describe}), "
        f"UpdateService {calls['UpdateService']:.1f}",
        f"metric queries per {n} evaluations: {queries:.0f}; CloudWatch GetMetricData at a round every 10 s: "
        f"{per_month / 1e6:.0f} M metrics/month = ${cost:,.0f}/month (at 60 s: ${cost / 6:,.0f})",
    ]
    print("\n".join(lines))
    with open("BENCHMARKS.md") as f:
        text = f.read()
    begin, end = "<!-- thousand:begin -->", "<!-- thousand:end -->"
    block = (f"{begin}\n`benches/thousand-services.sh {measure} {n}` on this machine:\n\n```\n"
             + "\n".join(lines) + "\n```\n" + end)
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## One daemon for 1,000 services\n\n" + block + "\n"
    with open("BENCHMARKS.md", "w") as f:
        f.write(text)
    print("BENCHMARKS.md updated")
finally:
    if daemon is not None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    moto.kill()
    moto.wait()
PY
