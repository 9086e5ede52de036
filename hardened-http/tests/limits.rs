//! The server against hostile clients on 127.0.0.1: slow heads that fill every slot do
//! not lock out a quick client, and a stop waits for no idle or stalled client.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hardened_http::{Limits, Observer, serve};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
struct Ok200;

impl tower_service::Service<Request<Full<Bytes>>> for Ok200 {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        Box::pin(async { Ok(Response::new(Full::new(Bytes::from_static(b"ok")))) })
    }
}

struct Nothing;
impl Observer for Nothing {
    type Label = ();
    fn start(&self, _: &http::Method, _: &str) {}
    fn finish(&self, _: (), _: StatusCode, _: Duration) {}
}

async fn get(addr: std::net::SocketAddr) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_holding_every_slot_do_not_lock_out_a_quick_one() {
    let listener = hardened_http::bind("127.0.0.1:0".parse().unwrap(), false, 128).unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits {
        max_connections: 8,
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, Ok200, Arc::new(Nothing), limits, async {
        let _ = stopped.await;
    }));
    // Forty clients that send half a head and stall, five times the cap.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(2), get(addr))
            .await
            .expect("answered although slow clients hold every slot");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }
    // Stopping waits for none of the stalled clients.
    let started = Instant::now();
    stop.send(()).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(report.dropped_at_deadline, 0, "{report:?}");
    drop(slow);
}
