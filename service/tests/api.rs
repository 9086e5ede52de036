//! The service over real HTTP on 127.0.0.1: every error case, search against a brute-force
//! scan, creating products, the metrics text through a real parser, and a graceful
//! shutdown under load that fails no request.

#[path = "../../tests/promtool/mod.rs"]
mod promtool;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use search_service::catalog;
use search_service::config::Config;
use search_service::index::tokens;
use serde_json::Value;

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(catalog_size: usize) -> Server {
    start_with(Config::for_tests(catalog_size)).await
}

async fn start_with(config: Config) -> Server {
    let listener = search_service::bind(config.listen, false).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(search_service::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http
        .get(format!("http://{addr}/ready"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "not ready within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::get(self.url(path)).await.unwrap();
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn search_matches_a_brute_force_scan() {
    let s = start(2000).await;
    let products = catalog::generate(2000);
    for q in ["alpha", "Books", "gamma robot", "1", "elec 3", "zzz", "PRODUCT", "ep"] {
        let qt: Vec<String> = tokens(q).collect();
        let expected: Vec<u64> = products
            .iter()
            .filter(|p| {
                qt.iter().all(|t| {
                    tokens(&p.name)
                        .chain(tokens(&p.category))
                        .any(|w| w.starts_with(t.as_str()))
                })
            })
            .map(|p| p.id)
            .collect();
        let (code, body) = s
            .get(&format!("/products/search?q={}&limit=100", q.replace(' ', "+")))
            .await;
        assert_eq!(code, 200);
        assert_eq!(body["total"], expected.len(), "{q}");
        let ids: Vec<u64> = body["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, expected.iter().take(100).copied().collect::<Vec<_>>(), "{q}");
    }
    let (_, page) = s.get("/products/search?q=alpha&limit=5&offset=10").await;
    assert_eq!(page["products"].as_array().unwrap().len(), 5);
    assert_eq!(page["offset"], 10);
    assert!(page["took_us"].is_number());
    let (_, default) = s.get("/products/search?q=alpha").await;
    assert_eq!(
        default["products"].as_array().unwrap().len(),
        20,
        "20 results by default"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_get_the_right_4xx_with_json() {
    let s = start(500).await;
    let long = "a".repeat(101);
    let cases: Vec<(String, u16, &str)> = vec![
        ("/products/search".into(), 400, "missing_query"),
        ("/products/search?q=".into(), 400, "missing_query"),
        ("/products/search?q=%20%20".into(), 400, "missing_query"),
        (format!("/products/search?q={long}"), 400, "query_too_long"),
        ("/products/search?q=a&limit=0".into(), 400, "bad_limit"),
        ("/products/search?q=a&limit=101".into(), 400, "bad_limit"),
        ("/products/search?q=a&limit=ten".into(), 400, "bad_limit"),
        ("/products/search?q=a&offset=-1".into(), 400, "bad_offset"),
        ("/products/search?q=a&offset=100001".into(), 400, "bad_offset"),
        ("/products/search?q=%FF".into(), 400, "bad_encoding"),
        ("/products/search?q=alpha&limit=%FF".into(), 400, "bad_encoding"),
        ("/products/search?q=a&limit=+5".into(), 400, "bad_limit"),
        ("/products/abc".into(), 400, "bad_id"),
        ("/products/+5".into(), 400, "bad_id"),
        ("/products/-5".into(), 400, "bad_id"),
        ("/products/%205".into(), 400, "bad_id"),
        ("/products/0".into(), 400, "bad_id"),
        ("/products/999999".into(), 404, "not_found"),
        ("/nope".into(), 404, "not_found"),
    ];
    for (path, code, error) in cases {
        let (got, body) = s.get(&path).await;
        assert_eq!((got, body["error"].as_str()), (code, Some(error)), "{path}: {body}");
        assert!(body["message"].is_string());
    }
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        http.post(s.url("/products"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(b"{not json".to_vec()).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = post(br#"{"name":"","category":"Toys","price_cents":100}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = post(br#"{"name":"X","category":"Toys","price_cents":-5}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "negative price");
    let r = post(br#"{"name":"X","category":"Toys","price_cents":1,"colour":"red"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "unknown field");
    let big = format!(
        r#"{{"name":"X","category":"Toys","price_cents":1,"description":"{}"}}"#,
        "d".repeat(20_000)
    );
    let r = post(big.into_bytes()).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let r = http.delete(s.url("/products/1")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let (_, body) = s.get("/products/search?q=a&limit=0").await;
    assert!(
        body["message"].as_str().unwrap().contains("from 1 to 100"),
        "the message names the range that is accepted: {body}"
    );
    for path in ["/health", "/ready", "/products/search?q=alpha", "/products/1"] {
        let r = http.head(s.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "HEAD {path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_created_product_is_searchable_at_once() {
    let s = start(500).await;
    let r = reqwest::Client::new()
        .post(s.url("/products"))
        .json(&serde_json::json!({"name": "Zebra Quantum Widget", "category": "Gadgets", "price_cents": 4999}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["id"], 501);
    let (_, body) = s.get("/products/search?q=quantum+zeb").await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["products"][0]["name"], "Zebra Quantum Widget");
    let (code, one) = s.get("/products/501").await;
    assert_eq!((code, &one["category"]), (200, &Value::from("Gadgets")));
    s.stop().await;
}

#[tokio::test]
async fn the_metrics_text_parses() {
    let s = start(500).await;
    for _ in 0..3 {
        s.get("/products/search?q=alpha").await;
    }
    s.get("/products/search").await;
    let text = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition text");
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for want in [
        "search_requests_total",
        "search_request_duration_seconds",
        "search_in_flight_requests",
        "process_cpu_seconds_total",
        "search_catalog_products",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "{want} missing from {names:?}"
        );
    }
    let ok = scrape
        .samples
        .iter()
        .find(|m| {
            m.metric == "search_requests_total"
                && m.labels.get("route") == Some("search")
                && m.labels.get("status") == Some("200")
        })
        .expect("search 200 counter");
    assert!(matches!(ok.value, prometheus_parse::Value::Counter(v) if v >= 3.0));
    promtool::lint(&text);
    s.stop().await;
}

/// Shedding with real concurrent connections: one worker, each search holding it for
/// 150 ms, room for `limit` admitted requests. `limit` concurrent searches all succeed;
/// `limit + extra` give exactly `extra` fast 503s, and probes are never shed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_shedding_fires_at_the_limit_and_not_below() {
    let limit = 4;
    let mut config = Config::for_tests(200);
    config.workers = Some(1);
    config.max_in_flight = limit;
    config.queue_deadline = Duration::from_secs(10);
    config.search_cost = Duration::from_millis(150);
    let s = start_with(config).await;
    let burst = |n: usize| {
        let url = s.url("/products/search?q=alpha");
        async move {
            let http = reqwest::Client::new();
            let requests = (0..n).map(|_| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let started = Instant::now();
                    let r = http.get(url).send().await.unwrap();
                    let retry = r.headers().get("retry-after").is_some();
                    let code = r.status().as_u16();
                    let body: Value = r.json().await.unwrap();
                    (code, body["error"].clone(), retry, started.elapsed())
                }
            });
            futures::future::join_all(requests).await
        }
    };
    let below = burst(limit).await;
    assert!(below.iter().all(|(code, ..)| *code == 200), "{below:?}");

    let extra = 3;
    // Probes go to the HTTP thread, not the pool: one sent while the pool is full answers.
    let probe = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let code = reqwest::get(s.url("/health")).await.unwrap().status().as_u16();
        (code, started.elapsed())
    };
    let (over, (health, health_took)) = tokio::join!(burst(limit + extra), probe);
    assert_eq!(health, 200, "health is never shed");
    assert!(
        health_took < Duration::from_millis(100),
        "health waited {health_took:?}"
    );
    let shed: Vec<_> = over.iter().filter(|(code, ..)| *code == 503).collect();
    assert_eq!(shed.len(), extra, "{over:?}");
    for (_, error, retry, took) in &shed {
        assert_eq!(error, "overloaded");
        assert!(*retry, "a 503 carries Retry-After");
        assert!(*took < Duration::from_millis(140), "shed before any work: {took:?}");
    }
    s.stop().await;
}

/// A request that waited past the queue deadline is refused rather than served late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_queued_past_the_deadline_gets_503() {
    let mut config = Config::for_tests(200);
    config.workers = Some(1);
    config.queue_deadline = Duration::from_millis(100);
    config.search_cost = Duration::from_millis(250);
    let s = start_with(config).await;
    let url = s.url("/products/search?q=alpha");
    let first = tokio::spawn(reqwest::get(url.clone()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = reqwest::get(url).await.unwrap();
    assert_eq!(second.status().as_u16(), 503);
    let body: Value = second.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("waited"), "{body}");
    assert_eq!(first.await.unwrap().unwrap().status().as_u16(), 200);
    s.stop().await;
}

/// The latency the service reports includes the wait for a worker: with one worker and
/// eight clients each search (20 ms of work) waits behind the others, and the service's
/// own EMF records (the real binary, one process, one-second windows) must show waits of
/// the size the clients see, not only the 20 ms of work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_latency_includes_the_wait_for_a_worker() {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_search-service"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--catalog-size",
            "2000",
            "--workers",
            "1",
            "--search-cost",
            "20ms",
            "--emf",
            "--emf-interval",
            "1s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let records = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .collect::<Vec<Value>>()
    });
    let url = format!("http://127.0.0.1:{port}/products/search?q=beta");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "not up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let clients = (0..8).map(|_| {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            let load_until = Instant::now() + Duration::from_millis(2500);
            let mut slowest = Duration::ZERO;
            while Instant::now() < load_until {
                let started = Instant::now();
                assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
                slowest = slowest.max(started.elapsed());
            }
            slowest
        })
    });
    let client_max = futures::future::join_all(clients)
        .await
        .into_iter()
        .map(Result::unwrap)
        .max()
        .unwrap();
    // SAFETY: kill(2) with the PID of a child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert!(child.wait().unwrap().success());
    let records = records.join().unwrap();
    assert!(
        client_max >= Duration::from_millis(100),
        "the load queued: {client_max:?}"
    );
    // Windows fully under load: the first and last are partly idle (clients starting and
    // stopping at different moments) and hold few requests with little queueing, so
    // only windows with at least half the busiest one's requests count.
    let count = |r: &Value| r["RequestCount"].as_u64().unwrap_or(0);
    let most = records.iter().map(count).max().unwrap_or(0);
    let busy: Vec<&Value> = records
        .iter()
        .filter(|r| count(r) >= 5 && count(r) * 2 >= most)
        .collect();
    assert!(!busy.is_empty(), "no window under load in {records:?}");
    for r in busy {
        let p50 = r["LatencyP50"].as_f64().unwrap();
        assert!(
            p50 >= 60.0,
            "a median of {p50} ms while each search waits for seven others of 20 ms: {r}"
        );
    }
}

/// Slow and idle clients are cut off by the timeouts, and a stop does not wait for idle
/// connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_slow_bodies_and_idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = Config::for_tests(200);
    config.header_timeout = Duration::from_millis(300);
    config.body_timeout = Duration::from_millis(300);
    config.idle_timeout = Duration::from_millis(600);
    config.shutdown_deadline = Duration::from_secs(20);
    let s = start_with(config).await;
    let closed_within = |mut c: tokio::net::TcpStream, limit: Duration| async move {
        let started = Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(limit, c.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "still open after {limit:?}");
        (started.elapsed(), String::from_utf8_lossy(&buf).to_string())
    };

    let mut head = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    head.write_all(b"GET /products/search?q=alpha HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (took, _) = closed_within(head, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(250), "{took:?}");

    let mut body = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    body.write_all(
        b"POST /products HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\ncontent-type: application/json\r\n\r\n{\"na",
    )
    .await
    .unwrap();
    let (_, answer) = closed_within(body, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");

    let idle = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (took, _) = closed_within(idle, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(550), "{took:?}");

    // An idle keep-alive client does not hold up a stop.
    let mut kept = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.unwrap();
    let started = Instant::now();
    s.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stop waited {:?}",
        started.elapsed()
    );
    drop(kept);
}

/// A drain loses nothing: clients open a new connection for every request (what a
/// `Connection: close` on every response makes them do), right through the stop. Every
/// connection that was accepted gets its answer; the only failures allowed are refused
/// connections once the port is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_answers_every_connection_it_accepted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut config = Config::for_tests(2000);
    config.drain_grace = Duration::from_millis(300);
    let s = start_with(config).await;
    let addr = s.addr;
    let stop_at = Instant::now() + Duration::from_millis(400);
    let answered = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let clients = (0..24).map(|_| {
        let (answered, lost) = (Arc::clone(&answered), Arc::clone(&lost));
        tokio::spawn(async move {
            loop {
                let Ok(mut c) = tokio::net::TcpStream::connect(addr).await else {
                    return; // refused: the port is closed, as it should be at the end
                };
                let sent = c
                    .write_all(b"GET /products/search?q=alpha&limit=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await;
                let mut buf = Vec::new();
                let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
                match (sent, read) {
                    (Ok(()), Ok(Ok(_))) if buf.starts_with(b"HTTP/1.1 200") => {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {
                        lost.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    tokio::time::sleep_until(stop_at.into()).await;
    s.stop().await;
    for c in clients {
        tokio::time::timeout(Duration::from_secs(10), c).await.unwrap().unwrap();
    }
    let (answered, lost) = (answered.load(Ordering::SeqCst), lost.load(Ordering::SeqCst));
    assert!(answered > 100, "the load ran: {answered}");
    assert_eq!(lost, 0, "{lost} accepted connections got no answer ({answered} did)");
}

/// The real binary under load, stopped with SIGTERM: clients stop sending once /ready says
/// 503 (as a load balancer would), and no request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_fails_no_request() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_search-service"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--catalog-size",
            "20000",
            "--drain-grace",
            "500ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http
        .get(format!("{base}/ready"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let routed = Arc::new(AtomicBool::new(true));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for i in 0..16 {
        let (http, base, routed, ok, failed) = (http.clone(), base.clone(), routed.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            let terms = ["alpha", "books", "1", "gamma"];
            let mut n = 0;
            while routed.load(Ordering::SeqCst) && n < 100_000 {
                let r = http
                    .get(format!("{base}/products/search?q={}", terms[(i + n) % terms.len()]))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // SAFETY: kill(2) with the PID of a child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    // The "load balancer": stop routing once the replica reports not ready.
    let deadline = Instant::now() + Duration::from_secs(5);
    while http
        .get(format!("{base}/ready"))
        .send()
        .await
        .map(|r| r.status() == 200)
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "never reported not ready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    routed.store(false, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert!(ok > 100, "the load ran: {ok} requests");
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
}
