//! The product search service: the workload ecs-autoscaler was made for.
//!
//! `catalog` generates the products, `index` answers searches from token and prefix
//! postings, `http` is the warp API, `telemetry` the Prometheus metrics and the latency
//! window, `emf` the CloudWatch records, `config` the flags. [`run`] ties them together.

pub mod catalog;
pub mod config;
pub mod emf;
pub mod http;
pub mod index;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use catalog::Product;
use config::Config;
use index::Index;

pub struct Store {
    pub products: Vec<Product>,
    pub index: Index,
}

/// State shared by every request.
pub struct App {
    pub store: RwLock<Store>,
    pub ready: AtomicBool,
    pub draining: AtomicBool,
    pub in_flight: AtomicUsize,
    pub max_in_flight: usize,
    pub window: telemetry::Window,
    /// CPU to burn per search (see `--search-cost`).
    pub search_cost: Duration,
}

impl App {
    pub fn new(config: &Config) -> Self {
        let started = Instant::now();
        let products = catalog::generate(config.catalog_size);
        let index = Index::build(&products);
        metrics::gauge!(telemetry::CATALOG).set(products.len() as f64);
        tracing::info!(
            products = products.len(),
            ms = started.elapsed().as_millis() as u64,
            "catalog indexed"
        );
        Self {
            store: RwLock::new(Store { products, index }),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            max_in_flight: config.max_in_flight.max(1),
            window: telemetry::Window::default(),
            search_cost: config.search_cost,
        }
    }
}

/// Binds the listener, with SO_REUSEPORT if asked, so replicas can share a port.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// Serves until `shutdown` completes, then drains: reports not ready and keeps answering
/// (closing connections after each response) for the drain grace, stops accepting, and
/// gives in-flight requests until the deadline.
pub async fn run(config: Config, listener: tokio::net::TcpListener, shutdown: impl Future<Output = ()>) {
    run_with_admin(config, listener, None, shutdown).await
}

/// As [`run`], also serving on a private admin listener until the very end of the drain.
pub async fn run_with_admin(
    config: Config,
    listener: tokio::net::TcpListener,
    admin: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()>,
) {
    let _ = telemetry::handle();
    let app = Arc::new(App::new(&config));
    let admin = admin.map(|l| tokio::spawn(warp::serve(http::routes(Arc::clone(&app))).incoming(l).run()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = warp::serve(http::routes(Arc::clone(&app)))
        .incoming(listener)
        .graceful(async move {
            let _ = stopped.await;
        });
    let server = tokio::spawn(server.run());
    let emf = config.emf.then(|| tokio::spawn(emit(Arc::clone(&app), config.clone())));
    app.ready.store(true, Ordering::SeqCst);
    tracing::info!("ready");

    shutdown.await;
    tracing::info!(
        grace_ms = config.drain_grace.as_millis() as u64,
        "draining: not ready, closing connections"
    );
    app.ready.store(false, Ordering::SeqCst);
    app.draining.store(true, Ordering::SeqCst);
    tokio::time::sleep(config.drain_grace).await;
    let _ = stop.send(());
    match tokio::time::timeout(config.shutdown_deadline, server).await {
        Ok(_) => tracing::info!("all requests finished"),
        Err(_) => tracing::warn!(
            deadline_s = config.shutdown_deadline.as_secs(),
            "deadline passed with requests in flight"
        ),
    }
    if let Some(task) = emf {
        task.abort();
        print_emf(&app, &config);
    }
    if let Some(task) = admin {
        task.abort();
    }
}

async fn emit(app: Arc<App>, config: Config) {
    let mut tick = tokio::time::interval(config.emf_interval.max(Duration::from_secs(1)));
    tick.tick().await;
    loop {
        tick.tick().await;
        print_emf(&app, &config);
    }
}

fn print_emf(app: &App, config: &Config) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let record = emf::record(&config.emf_namespace, &config.emf_dimensions, app.window.take(), now_ms);
    println!("{record}");
}

/// The whole service as a program: runtime, logging, listeners, signals. Used by the
/// `search-service` binary and by ecs-autoscaler's local replicas.
pub fn main_with(config: Config) -> std::process::ExitCode {
    use std::process::ExitCode;
    init_logging(config.log_format);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.workers {
        runtime.worker_threads(n.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let listener = match bind(config.listen, config.reuse_port) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: binding {}: {e}", config.listen);
                return ExitCode::from(2);
            }
        };
        let admin = match config.admin_listen.map(|a| bind(a, false)).transpose() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: binding the admin address: {e}");
                return ExitCode::from(2);
            }
        };
        tracing::info!(address = %config.listen, reuse_port = config.reuse_port, "listening");
        run_with_admin(config, listener, admin, terminated()).await;
        ExitCode::SUCCESS
    })
}

async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout carries only EMF records.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Pretty => builder.try_init(),
    };
}
