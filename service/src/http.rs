//! The HTTP API. Every error is JSON with a code and a message; nothing a client sends
//! can make a handler panic. Probes and metrics are answered on the HTTP runtime; the
//! service's work (search, lookup, create) goes through the worker pool, so overload
//! is refused before any work is spent on it.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::app::App;
use crate::catalog::Product;
use crate::params::{self, SearchParams};
use crate::pool::Refused;

pub use crate::config::MAX_BODY_BYTES;
pub use crate::params::{MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS};

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, &hardened_http::error_body(code, message))
}

/// 503 for work refused by the pool; clients and load balancers may retry after a second.
fn shed(why: Refused) -> Response {
    metrics::counter!(crate::telemetry::SHED, "reason" => why.label()).increment(1);
    let message = match why {
        Refused::Full => "too many requests in flight; retry shortly".to_string(),
        Refused::Waited(w) => format!("waited {} ms for a worker; retry shortly", w.as_millis()),
        Refused::Stopped => "shutting down; retry on another replica".to_string(),
    };
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "overloaded", &message);
    r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
    r
}

#[derive(Serialize)]
struct SearchResult<'a> {
    query: &'a str,
    total: usize,
    offset: usize,
    limit: usize,
    took_us: u128,
    products: Vec<&'a Product>,
}

fn search(app: &App, p: &SearchParams) -> Response {
    let started = Instant::now();
    if !app.search_cost.is_zero() {
        // Busy, not asleep: the point is to use CPU like a slower task would.
        let until = started + app.search_cost;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    let store = app.store.read().unwrap_or_else(|p| p.into_inner());
    let hits = store.index.search(&store.products, &p.q, p.offset, p.limit);
    let body = SearchResult {
        query: &p.q,
        total: hits.total,
        offset: p.offset,
        limit: p.limit,
        took_us: started.elapsed().as_micros(),
        products: hits.page,
    };
    json(StatusCode::OK, &body)
}

fn product(app: &App, id: u64) -> Response {
    let store = app.store.read().unwrap_or_else(|p| p.into_inner());
    // Ids are positions + 1: products are only ever appended.
    match id.checked_sub(1).and_then(|i| store.products.get(i as usize)) {
        Some(p) => json(StatusCode::OK, p),
        None => error(StatusCode::NOT_FOUND, "not_found", &format!("no product with id {id}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProduct {
    name: String,
    category: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    manufacturer: String,
    price_cents: u64,
    #[serde(default)]
    weight_grams: u32,
}

fn create(app: &App, body: &[u8]) -> Response {
    let new: NewProduct = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                &format!("the body is not a valid product: {e}"),
            );
        }
    };
    let checks = [
        ("name", &new.name, 1, 200),
        ("category", &new.category, 1, 50),
        ("brand", &new.brand, 0, 100),
        ("description", &new.description, 0, 2000),
        ("sku", &new.sku, 0, 50),
        ("manufacturer", &new.manufacturer, 0, 100),
    ];
    for (field, value, min, max) in checks {
        let n = value.trim().chars().count();
        if n < min || n > max {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_product",
                &format!("{field} must have {min} to {max} characters"),
            );
        }
    }
    let mut store = app.store.write().unwrap_or_else(|p| p.into_inner());
    if store.products.len() >= store.generated + app.max_created {
        return error(
            StatusCode::INSUFFICIENT_STORAGE,
            "catalog_full",
            &format!(
                "this replica accepts at most {} new products (--max-created); the catalog is kept in memory",
                app.max_created
            ),
        );
    }
    let id = store.products.len() as u64 + 1;
    let product = Product {
        id,
        name: new.name.trim().into(),
        category: new.category.trim().into(),
        brand: new.brand.trim().into(),
        description: new.description.trim().into(),
        sku: if new.sku.trim().is_empty() {
            format!("NEW-{id:06}")
        } else {
            new.sku.trim().into()
        },
        manufacturer: new.manufacturer.trim().into(),
        price_cents: new.price_cents,
        weight_grams: new.weight_grams,
    };
    let pos = store.products.len() as u32;
    store.index.add(pos, &product);
    store.products.push(product.clone());
    metrics::gauge!(crate::telemetry::CATALOG).set(store.products.len() as f64);
    json(StatusCode::CREATED, &product)
}

fn metrics_text() -> Response {
    let mut body = crate::telemetry::handle().map(|h| h.render()).unwrap_or_default();
    // The metrics crate's counters are whole numbers; CPU seconds need fractions.
    body.push_str(&format!(
        "# HELP {cpu} Total user and system CPU time spent in seconds.\n# TYPE {cpu} counter\n{cpu} {:.3}\n",
        crate::telemetry::process_cpu_seconds(),
        cpu = crate::telemetry::CPU
    ));
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// GET, and HEAD (answered like GET; the connection sends no body).
fn read_method() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::get().or(warp::head()).unify()
}

/// The raw query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let with = move || {
        let app = Arc::clone(&app);
        warp::any().map(move || Arc::clone(&app))
    };
    let health = warp::path!("health")
        .and(read_method())
        .map(|| json(StatusCode::OK, &serde_json::json!({"status": "ok"})));
    let ready = warp::path!("ready")
        .and(read_method())
        .and(with())
        .map(|app: Arc<App>| {
            if app.ready.load(Ordering::SeqCst) {
                json(StatusCode::OK, &serde_json::json!({"status": "ready"}))
            } else {
                error(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "starting or draining")
            }
        });
    let search = warp::path!("products" / "search")
        .and(read_method())
        .and(raw_query())
        .and(with())
        .then(|raw: String, app: Arc<App>| async move {
            let p = match params::search(&raw) {
                Ok(p) => p,
                Err(e) => return error(StatusCode::BAD_REQUEST, e.code, &e.message),
            };
            let worker = Arc::clone(&app);
            app.pool.run(move || search(&worker, &p)).await.unwrap_or_else(shed)
        });
    let one =
        warp::path!("products" / String)
            .and(read_method())
            .and(with())
            .then(|id: String, app: Arc<App>| async move {
                let Some(id) = params::whole_number(&id).filter(|&n| n > 0) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "bad_id",
                        "a product id is a positive whole number written with digits only, e.g. /products/5",
                    );
                };
                let worker = Arc::clone(&app);
                app.pool.run(move || product(&worker, id)).await.unwrap_or_else(shed)
            });
    let create = warp::path!("products")
        .and(warp::post())
        .and(warp::body::bytes())
        .and(with())
        .then(|body: bytes::Bytes, app: Arc<App>| async move {
            let worker = Arc::clone(&app);
            app.pool.run(move || create(&worker, &body)).await.unwrap_or_else(shed)
        });
    let metrics = warp::path!("metrics").and(read_method()).map(metrics_text);

    health
        .or(ready)
        .unify()
        .or(search)
        .unify()
        .or(one)
        .unify()
        .or(create)
        .unify()
        .or(metrics)
        .unify()
        .recover(rejection)
        .unify()
}

async fn rejection(r: Rejection) -> Result<Response, Infallible> {
    Ok(if r.is_not_found() {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; see /products/search?q=, /products/{id}, /health, /ready, /metrics",
        )
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    } else {
        error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request could not be handled",
        )
    })
}
