//! The service over real HTTP on 127.0.0.1: every error case, search against a brute-force
//! scan, creating products, the metrics text through a real parser, and a graceful
//! shutdown under load that fails no request.

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
    let config = Config::for_tests(catalog_size);
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
        ("/products/abc".into(), 400, "bad_id"),
        ("/products/0".into(), 404, "not_found"),
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
    // promtool, where present, checks the text too.
    if let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(!report.contains("error"), "promtool: {report}");
    }
    s.stop().await;
}

#[tokio::test]
async fn load_shedding_answers_503_at_once() {
    let mut config = Config::for_tests(200);
    config.max_in_flight = 1;
    let listener = search_service::bind(config.listen, false).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Arc::new(search_service::App::new(&config));
    app.ready.store(true, Ordering::SeqCst);
    // One request is in flight: hold its place.
    app.in_flight.store(1, Ordering::SeqCst);
    let server = tokio::spawn(
        warp::serve(search_service::http::routes(Arc::clone(&app)))
            .incoming(listener)
            .run(),
    );
    let r = reqwest::get(format!("http://{addr}/products/search?q=alpha"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "overloaded");
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "health is never shed");
    app.in_flight.store(0, Ordering::SeqCst);
    assert_eq!(
        reqwest::get(format!("http://{addr}/products/search?q=alpha"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    server.abort();
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
