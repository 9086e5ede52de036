//! The state every request shares: the catalog and its index, readiness, the worker pool
//! and the latency window.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::catalog::{self, Product};
use crate::config::Config;
use crate::index::Index;
use crate::{pool, telemetry};

pub struct Store {
    pub products: Vec<Product>,
    pub index: Index,
    /// Products generated at start; the rest were created through the API.
    pub generated: usize,
}

/// State shared by every request.
pub struct App {
    pub store: RwLock<Store>,
    pub ready: AtomicBool,
    pub pool: pool::Pool,
    pub window: Arc<telemetry::Window>,
    /// CPU to burn per search (see `--search-cost`).
    pub search_cost: Duration,
    /// Products the API may add to the in-memory catalog.
    pub max_created: usize,
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
            store: RwLock::new(Store {
                generated: products.len(),
                products,
                index,
            }),
            ready: AtomicBool::new(false),
            pool: pool::Pool::start(config.worker_count(), config.max_in_flight, config.queue_deadline),
            window: Arc::default(),
            search_cost: config.search_cost,
            max_created: config.max_created,
        }
    }
}
