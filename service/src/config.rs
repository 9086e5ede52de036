//! Command line and environment: every flag also reads a `SEARCH_*` variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// The largest request body the service reads.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Parser)]
#[command(name = "search-service", version, about = "Product search service")]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "SEARCH_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// A second, private address with the same routes, so a supervisor can probe and
    /// scrape one replica when several share the main port.
    #[arg(long, env = "SEARCH_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Bind with SO_REUSEPORT so several replicas share one port.
    #[arg(long, env = "SEARCH_REUSE_PORT")]
    pub reuse_port: bool,
    /// Search worker threads (one thread behaves like a one-vCPU replica). Default: one
    /// per core.
    #[arg(long, env = "SEARCH_WORKERS")]
    pub workers: Option<usize>,
    /// Threads that parse and write HTTP. They do little, so that a request is read as
    /// soon as it arrives and its wait for a worker is measured.
    #[arg(long, env = "SEARCH_IO_THREADS", default_value_t = 1)]
    pub io_threads: usize,
    /// Extra CPU burnt per search, e.g. "1ms": emulates a smaller, slower task (a 0.25 vCPU
    /// Fargate task of the original service) so that scaling shows on a laptop.
    #[arg(long, env = "SEARCH_COST", default_value = "0s", value_parser = parse_duration)]
    pub search_cost: Duration,
    /// Products generated at start.
    #[arg(long, env = "SEARCH_CATALOG_SIZE", default_value_t = 100_000)]
    pub catalog_size: usize,
    /// Products POST /products may add; past it the answer is 507 (the catalog lives in memory).
    #[arg(long, env = "SEARCH_MAX_CREATED", default_value_t = 10_000)]
    pub max_created: usize,
    /// Requests admitted to the workers (running or queued) at most; past it, 503 at once.
    #[arg(long, env = "SEARCH_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub max_in_flight: usize,
    /// A request that waited this long for a worker is answered 503 without being run.
    #[arg(long, env = "SEARCH_QUEUE_DEADLINE", default_value = "1s", value_parser = parse_duration)]
    pub queue_deadline: Duration,
    /// Open connections at most; more wait in the listen backlog.
    #[arg(long, env = "SEARCH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// A request head must arrive within this once it has started.
    #[arg(long, env = "SEARCH_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// A request body must arrive within this once its head has.
    #[arg(long, env = "SEARCH_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed. Keep it above the
    /// load balancer's idle timeout (60 s on an ALB).
    #[arg(long, env = "SEARCH_IDLE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// On SIGTERM: keep serving (reporting not ready, closing connections after each
    /// response) for this long, so a load balancer stops sending new work.
    #[arg(long, env = "SEARCH_DRAIN_GRACE", default_value = "1s", value_parser = parse_duration)]
    pub drain_grace: Duration,
    /// On SIGTERM: how long requests already received may take before the process exits.
    #[arg(long, env = "SEARCH_SHUTDOWN_DEADLINE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_deadline: Duration,
    /// Print CloudWatch EMF latency records on stdout.
    #[arg(long, env = "SEARCH_EMF")]
    pub emf: bool,
    #[arg(long, env = "SEARCH_EMF_NAMESPACE", default_value = "SearchService")]
    pub emf_namespace: String,
    /// Window of the EMF percentiles.
    #[arg(long, env = "SEARCH_EMF_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub emf_interval: Duration,
    /// EMF dimensions as NAME=VALUE (repeat the flag, or separate with commas in the variable).
    #[arg(long = "emf-dimension", env = "SEARCH_EMF_DIMENSIONS", value_delimiter = ',', default_value = "Service=search", value_parser = parse_dimension)]
    pub emf_dimensions: Vec<(String, String)>,
    #[arg(long, env = "SEARCH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Probe an HTTP health endpoint: exit 0 on 2xx (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("\"{s}\" is not a duration like \"10s\" ({e})"))
}

fn parse_dimension(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok((k.trim().into(), v.trim().into())),
        _ => Err(format!("\"{s}\" is not NAME=VALUE")),
    }
}

impl Config {
    /// Search worker threads: the flag, or one per core.
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// What a client may cost this replica.
    pub fn limits(&self) -> hardened_http::Limits {
        hardened_http::Limits {
            max_connections: self.max_connections.max(1),
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            body_timeout: self.body_timeout,
            max_body_bytes: MAX_BODY_BYTES,
            drain_grace: self.drain_grace,
            shutdown_deadline: self.shutdown_deadline,
            ..hardened_http::Limits::default()
        }
    }

    /// Defaults for tests and embedding: 127.0.0.1 on a free port, a small catalog.
    pub fn for_tests(catalog_size: usize) -> Self {
        let mut c = Config::parse_from(["search-service"]);
        c.listen = "127.0.0.1:0".parse().expect("valid address");
        c.catalog_size = catalog_size;
        c.drain_grace = Duration::from_millis(300);
        c
    }
}
