//! The throughput baseline for `bench/run.sh`: plain warp on one worker thread, answering
//! every request with a page of 20 products serialized to JSON, the size of a search
//! answer. No index, no pool, no metrics: what the search service is compared against.
//!
//! `cargo run --release -p search-service --example hello -- 127.0.0.1:8081`

use std::net::SocketAddr;
use std::sync::Arc;

use search_service::catalog::{Product, generate};
use serde::Serialize;
use warp::Filter;

#[derive(Serialize)]
struct Page<'a> {
    query: &'a str,
    total: usize,
    offset: usize,
    limit: usize,
    took_us: u128,
    products: &'a [Product],
}

fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| "127.0.0.1:8081".parse().expect("valid address"));
    let products: Arc<Vec<Product>> = Arc::new(generate(20));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let route = warp::any().map(move || {
            warp::reply::json(&Page {
                query: "alpha",
                total: 24_887,
                offset: 0,
                limit: 20,
                took_us: 3,
                products: &products,
            })
        });
        warp::serve(route).run(addr).await;
    });
}
