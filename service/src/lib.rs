//! The product search service: the workload ecs-autoscaler was made for.
//!
//! `app` is the state every request shares, `catalog` generates the products, `index` answers searches, `params` parses a search
//! request, `pool` runs the work on worker threads behind an admission limit, `http` is
//! the warp API (served through `hardened_http`), `telemetry` the Prometheus metrics and
//! the latency window, `emf` the CloudWatch records, `config` the flags. [`run`] ties
//! them together.

pub mod app;
pub mod catalog;
pub mod config;
pub mod emf;
pub mod http;
pub mod index;
pub mod params;
pub mod pool;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use app::{App, Store};
use config::Config;

/// Binds the listener, with SO_REUSEPORT if asked, so replicas can share a port.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<tokio::net::TcpListener> {
    hardened_http::bind(addr, reuse_port, 1024)
}

/// Serves until `shutdown` completes, then drains: reports not ready and keeps answering
/// (closing connections after each response) for the drain grace, stops accepting
/// without losing the connections already queued, and answers every request already
/// received before the deadline.
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
    let observer = Arc::new(telemetry::RequestObserver {
        window: Arc::clone(&app.window),
    });
    let service = warp::service(http::routes(Arc::clone(&app)));
    let limits = config.limits();
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = admin.map(|l| {
        let admin_limits = hardened_http::Limits {
            drain_grace: Duration::ZERO,
            drain_idle: Duration::ZERO,
            shutdown_deadline: Duration::from_secs(1),
            ..limits.clone()
        };
        let stopped = async {
            let _ = admin_stopped.await;
        };
        tokio::spawn(hardened_http::serve(
            l,
            service.clone(),
            Arc::clone(&observer),
            admin_limits,
            stopped,
        ))
    });
    let emf = config.emf.then(|| tokio::spawn(emit(Arc::clone(&app), config.clone())));
    app.ready.store(true, Ordering::SeqCst);
    tracing::info!("ready");

    let draining = {
        let app = Arc::clone(&app);
        let grace = config.drain_grace;
        async move {
            shutdown.await;
            tracing::info!(
                grace_ms = grace.as_millis() as u64,
                "draining: not ready, closing connections"
            );
            app.ready.store(false, Ordering::SeqCst);
        }
    };
    let report = hardened_http::serve(listener, service, observer, limits, draining).await;
    if report.dropped_at_deadline == 0 {
        tracing::info!(from_backlog = report.from_backlog, "all requests answered");
    } else {
        tracing::warn!(
            deadline_s = config.shutdown_deadline.as_secs(),
            dropped = report.dropped_at_deadline,
            "deadline passed with connections open"
        );
    }
    if let Some(task) = emf {
        task.abort();
        print_emf(&app, &config, emf::period_start(emf::now_ms(), config.emf_interval));
    }
    let _ = stop_admin.send(());
    if let Some(task) = admin {
        let _ = task.await;
    }
}

/// Prints one record per EMF period, at the period's end, stamped with its start: every
/// period of the metric's resolution gets exactly one datapoint.
async fn emit(app: Arc<App>, config: Config) {
    let period = config.emf_interval.max(Duration::from_secs(1));
    let (mut start, _) = emf::next_boundary(emf::now_ms(), period);
    loop {
        let end = start + period.as_millis() as i64;
        // Sleep until the wall clock has passed the period's end (a timer may wake early
        // relative to the wall clock if it is adjusted).
        loop {
            let now = emf::now_ms();
            if now >= end {
                break;
            }
            tokio::time::sleep(Duration::from_millis((end - now) as u64)).await;
        }
        print_emf(&app, &config, start);
        // After a stall (SIGSTOP, a suspended host) skip the periods that passed unseen.
        start = end.max(emf::period_start(emf::now_ms(), period));
    }
}

fn print_emf(app: &App, config: &Config, stamp_ms: i64) {
    let record = emf::record(
        &config.emf_namespace,
        &config.emf_dimensions,
        app.window.take(),
        stamp_ms,
    );
    println!("{record}");
}

/// The whole service as a program: runtime, logging, listeners, signals. Used by the
/// `search-service` binary and by ecs-autoscaler's local replicas.
pub fn main_with(config: Config) -> std::process::ExitCode {
    use std::process::ExitCode;
    init_logging(config.log_format);
    // HTTP only: parsing and writing stay quick so that a request's wait for a search
    // worker is measured, not hidden in an unread socket.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.worker_threads(config.io_threads.max(1)).thread_name("http");
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
