//! The accept loop, one task per connection with its watchdog, and the drain.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::{Semaphore, watch};

use crate::body::Tracked;
use crate::listener::{accept_queued, refuse_new_connections};
use crate::phase::{Phase, PhaseClock, Watched};

/// What a client may cost the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most. A new connection past it closes the connection that has
    /// waited longest on a client that is not sending (idle, or part-way through a
    /// head); if every connection is busy with a request, the new one waits.
    pub max_connections: usize,
    /// From the first byte of a request head to its end.
    pub header_timeout: Duration,
    /// From the end of a response (or the connection's start) to the next request's first
    /// byte. Behind a load balancer keep it above the balancer's own idle timeout (60 s on
    /// an ALB), or the balancer may reuse a connection just as it is closed.
    pub idle_timeout: Duration,
    /// From the end of a request head to the end of its body.
    pub body_timeout: Duration,
    /// Request bodies larger than this are refused with 413 before they are read.
    pub max_body_bytes: u64,
    /// Request heads larger than this are refused by the parser.
    pub max_head_bytes: usize,
    /// On shutdown: how long to keep accepting while every response closes its connection,
    /// so keep-alive clients and load balancers move elsewhere.
    pub drain_grace: Duration,
    /// Once no longer accepting, a connection idle this long is closed.
    pub drain_idle: Duration,
    /// On shutdown: how long requests already received may take before their connections
    /// are dropped.
    pub shutdown_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            max_head_bytes: 16 * 1024,
            drain_grace: Duration::ZERO,
            drain_idle: Duration::from_millis(250),
            shutdown_deadline: Duration::from_secs(20),
        }
    }
}

/// Sees every request from the moment its head has been read until its response has been
/// handed to the connection.
pub trait Observer: Send + Sync + 'static {
    /// What the observer keeps about a request while it runs (a route label, say).
    type Label: Send + 'static;
    fn start(&self, method: &Method, path: &str) -> Self::Label;
    fn finish(&self, label: Self::Label, status: StatusCode, elapsed: Duration);
}

/// Where the server is in its life; connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Serving,
    /// The drain grace: every response closes its connection, idle connections are left
    /// alone (a client may be about to use one; the balancer is still moving away).
    Closing,
    /// No longer accepting: idle connections are closed after `drain_idle`.
    Stopping,
}

/// An open connection's phase, and how to tell it to close.
type Displaceable = (Arc<PhaseClock>, Arc<tokio::sync::Notify>);

/// The open connections that a new one may displace when the cap is reached.
#[derive(Default)]
struct Open {
    next: std::sync::atomic::AtomicU64,
    conns: std::sync::Mutex<std::collections::HashMap<u64, Displaceable>>,
}

impl Open {
    fn register(&self, clock: Arc<PhaseClock>, evict: Arc<tokio::sync::Notify>) -> u64 {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (clock, evict));
        id
    }

    fn remove(&self, id: u64) {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Closes the connection whose client has kept it without sending for longest;
    /// false when every connection is busy with a request.
    fn evict_idlest(&self) -> bool {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let idlest = conns
            .iter()
            .filter_map(|(id, (clock, _))| {
                let (phase, since) = clock.get();
                (phase != Phase::Busy).then_some((since, *id))
            })
            .min();
        match idlest.and_then(|(_, id)| conns.remove(&id)) {
            Some((_, evict)) => {
                evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// How a drain went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Connections taken from the backlog after new ones were refused.
    pub from_backlog: usize,
    /// Connections still open at the deadline, dropped with whatever they were doing.
    pub dropped_at_deadline: usize,
}

/// Once stopping, how long a started request head may still take.
const STOPPING_HEAD: Duration = Duration::from_secs(1);

/// How long handshakes already under way get to complete once new ones are refused.
const HANDSHAKE_SETTLE: Duration = Duration::from_millis(50);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What `serve` can serve: a cloneable tower service (a warp filter through
/// `warp::service`, say) answering every request.
pub trait Handler<B>:
    tower_service::Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, B> Handler<B> for S where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// A response body `serve` can write.
pub trait ResponseBody: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin + 'static {}

impl<B> ResponseBody for B where B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin + 'static {}

/// Serves `service` on `listener` until `shutdown` completes, then drains (see
/// [`Limits::drain_grace`] and [`Limits::shutdown_deadline`]).
pub async fn serve<S, B, O>(
    listener: tokio::net::TcpListener,
    service: S,
    observer: Arc<O>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> DrainReport
where
    S: Handler<B>,
    B: ResponseBody,
    O: Observer,
{
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stage_tx, stage) = watch::channel(Stage::Serving);
    let (abort_tx, abort) = watch::channel(false);
    let open = Arc::new(Open::default());
    let spawn = |stream: tokio::net::TcpStream, permit| {
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            service.clone(),
            Arc::clone(&observer),
            Arc::clone(&limits),
            stage.clone(),
            abort.clone(),
            (permit, Arc::clone(&open)),
        ));
    };
    let mut shutdown = pin!(shutdown);

    // Serving, then the grace period: both accept; the second makes every response close.
    let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        let accepted = async {
            let (stream, _) = listener.accept().await?;
            let permit = match Arc::clone(&slots).try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    // At the cap: make room by closing the connection whose client has
                    // kept it longest without sending, so slow clients cannot lock out
                    // a quick one. If all are busy with requests, wait for one to end.
                    open.evict_idlest();
                    Arc::clone(&slots).acquire_owned().await.expect("never closed")
                }
            };
            Ok::<_, std::io::Error>((stream, permit))
        };
        tokio::select! {
            biased;
            _ = &mut shutdown, if grace.is_none() => {
                let _ = stage_tx.send(Stage::Closing);
                grace = Some(Box::pin(tokio::time::sleep(limits.drain_grace)));
            }
            _ = async { grace.as_mut().expect("guarded").await }, if grace.is_some() => break,
            result = accepted => match result {
                Ok((stream, permit)) => spawn(stream, permit),
                Err(e) => {
                    // Out of descriptors or a transient error: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }

    // Refuse new connections in the kernel, answer the ones it already completed, close.
    let mut report = DrainReport::default();
    let _ = stage_tx.send(Stage::Stopping);
    if let Err(e) = refuse_new_connections(&listener) {
        tracing::warn!("cannot filter the listener ({e}); connections in its backlog may be reset");
    }
    // Let handshakes already under way complete (a round trip; inside a VPC well under
    // this) so that they too are in the queue before it is emptied.
    tokio::time::sleep(HANDSHAKE_SETTLE).await;
    loop {
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            // At the cap: make room as while serving, and wait no longer than the deadline.
            open.evict_idlest();
            match tokio::time::timeout(limits.shutdown_deadline, Arc::clone(&slots).acquire_owned()).await {
                Ok(Ok(p)) => match accept_queued(&listener) {
                    Some(s) => {
                        report.from_backlog += 1;
                        spawn(s, p);
                        continue;
                    }
                    None => break,
                },
                _ => break,
            }
        };
        match accept_queued(&listener) {
            Some(s) => {
                report.from_backlog += 1;
                spawn(s, permit);
            }
            None => break,
        }
    }
    drop(listener);

    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let finished = tokio::time::timeout(limits.shutdown_deadline, slots.acquire_many(all)).await;
    if finished.is_err() {
        report.dropped_at_deadline = limits.max_connections.max(1) - slots.available_permits();
        let _ = abort_tx.send(true);
    }
    report
}

#[allow(clippy::too_many_arguments)]
async fn connection<S, B, O>(
    stream: tokio::net::TcpStream,
    service: S,
    observer: Arc<O>,
    limits: Arc<Limits>,
    stage: watch::Receiver<Stage>,
    mut abort: watch::Receiver<bool>,
    (_permit, open): (tokio::sync::OwnedSemaphorePermit, Arc<Open>),
) where
    S: Handler<B>,
    B: ResponseBody,
    O: Observer,
{
    let clock = Arc::new(PhaseClock::default());
    let evict = Arc::new(tokio::sync::Notify::new());
    let id = open.register(Arc::clone(&clock), Arc::clone(&evict));
    struct Registered(Arc<Open>, u64);
    impl Drop for Registered {
        fn drop(&mut self) {
            self.0.remove(self.1);
        }
    }
    let _registered = Registered(open, id);
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: Arc::clone(&clock),
    });
    let adapter = Adapter {
        inner: service,
        observer,
        clock: Arc::clone(&clock),
        limits: Arc::clone(&limits),
        stage: stage.clone(),
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(limits.max_head_bytes.max(8192))
        .serve_connection(io, adapter);
    let mut conn = pin!(conn);
    let mut watchdog = pin!(watchdog(clock, Arc::clone(&limits), stage));
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = abort.wait_for(|a| *a) => return,
        _ = evict.notified() => return,
        expired = &mut watchdog => {
            if expired != Phase::Idle {
                // A client that started a request and stalled: drop it.
                return;
            }
        }
    }
    // Idle past its limit: close without cutting a request short, but do not wait on a
    // client that has stopped reading what was already written to it.
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn => {}
        _ = abort.wait_for(|a| *a) => {}
        _ = evict.notified() => {}
        _ = tokio::time::sleep(limits.header_timeout) => {}
    }
}

/// Waits until the connection has spent too long in a phase the client controls, and
/// says which.
async fn watchdog(clock: Arc<PhaseClock>, limits: Arc<Limits>, mut stage: watch::Receiver<Stage>) -> Phase {
    let mut final_stage = false;
    loop {
        let now_stage = *stage.borrow();
        let (phase, since) = clock.get();
        let limit = match phase {
            Phase::Idle if now_stage == Stage::Stopping => Some(limits.drain_idle.min(limits.idle_timeout)),
            Phase::Idle => Some(limits.idle_timeout),
            // Once stopping, a head still incomplete gets a second more, not the full timeout.
            Phase::Head if now_stage == Stage::Stopping => Some(limits.header_timeout.min(STOPPING_HEAD)),
            Phase::Head => Some(limits.header_timeout),
            // The body's own deadline is applied where it is read; a handler is the server's.
            Phase::Busy => None,
        };
        let wake = match limit {
            Some(limit) => {
                let deadline = since + limit;
                if Instant::now() >= deadline {
                    return phase;
                }
                deadline
            }
            None => Instant::now() + Duration::from_secs(1),
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            changed = stage.changed(), if now_stage != Stage::Stopping && !final_stage => {
                if changed.is_err() {
                    final_stage = true;
                }
            }
        }
    }
}

/// Adapts a tower service to one hyper connection: reads the body under its limits,
/// marks phases, closes connections while draining, and reports each request.
struct Adapter<S, O> {
    inner: S,
    observer: Arc<O>,
    clock: Arc<PhaseClock>,
    limits: Arc<Limits>,
    stage: watch::Receiver<Stage>,
}

/// The body of every error answer, here and in the services served: a stable code for
/// programs and a message for people.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"error": code, "message": message})
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = error_body(code, message).to_string();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

impl<S, B, O> hyper::service::Service<Request<Incoming>> for Adapter<S, O>
where
    // Spelled out: B is constrained only through the service's response type.
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible> + Handler<B>,
    B: ResponseBody,
    O: Observer,
{
    type Response = Response<Tracked<Either<B, Full<Bytes>>>>;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let started = Instant::now();
        self.clock.set(Phase::Busy);
        let label = self.observer.start(req.method(), req.uri().path());
        let mut inner = self.inner.clone();
        let observer = Arc::clone(&self.observer);
        let clock = Arc::clone(&self.clock);
        let limits = Arc::clone(&self.limits);
        let stage = self.stage.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let declared = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let read = if declared.is_some_and(|n| n > limits.max_body_bytes) {
                Err(too_large(limits.max_body_bytes))
            } else if http_body::Body::is_end_stream(&body) {
                Ok(Bytes::new())
            } else {
                let limited = Limited::new(body, usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX));
                match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
                    Ok(Ok(collected)) => Ok(collected.to_bytes()),
                    Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limits.max_body_bytes)),
                    Ok(Err(_)) => Err(json_error(
                        StatusCode::BAD_REQUEST,
                        "bad_body",
                        "the request body could not be read",
                    )),
                    Err(_) => Err(json_error(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        &format!(
                            "the request body did not arrive within {}s",
                            limits.body_timeout.as_secs_f64()
                        ),
                    )),
                }
            };
            let mut response = match read {
                Ok(bytes) => {
                    let request = Request::from_parts(parts, Full::new(bytes));
                    let Ok(r) = inner.call(request).await;
                    r.map(Either::Left)
                }
                Err(refusal) => refusal.map(Either::Right),
            };
            if *stage.borrow() != Stage::Serving {
                // Moves keep-alive clients (and load balancers) off this server while it drains.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            let status = response.status();
            let done = Box::new(move || {
                clock.set(Phase::Idle);
                observer.finish(label, status, started.elapsed());
            });
            Ok(response.map(|b| Tracked::new(b, done)))
        })
    }
}

fn too_large(max: u64) -> Response<Full<Bytes>> {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        &format!("bodies may have at most {max} bytes"),
    )
}
