//! The HTTP API. Every error is JSON with a code and a message; nothing a client sends
//! can make a handler panic.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::App;
use crate::catalog::Product;

pub const MAX_QUERY_CHARS: usize = 100;
pub const MAX_LIMIT: usize = 100;
pub const MAX_OFFSET: usize = 100_000;
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, &serde_json::json!({"error": code, "message": message}))
}

/// Holds a place among the requests in flight; gives it back when dropped.
pub struct Admission {
    app: Arc<App>,
    admitted: bool,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.app.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn admit(app: Arc<App>) -> Admission {
    let now = app.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let admitted = now <= app.max_in_flight;
    Admission { app, admitted }
}

fn overloaded() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "too many requests in flight; retry shortly",
    )
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

/// A bad query parameter: (error code, message).
struct BadParameter(String, String);

fn parse_number(q: &HashMap<String, String>, key: &str, default: usize, max: usize) -> Result<usize, BadParameter> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(BadParameter(
                format!("bad_{key}"),
                format!("{key} must be a whole number from 0 to {max}"),
            )),
        },
    }
}

fn search(app: &App, q: &HashMap<String, String>) -> Response {
    let started = Instant::now();
    let query = match q.get("q").map(|s| s.trim()) {
        None | Some("") => {
            return error(
                StatusCode::BAD_REQUEST,
                "missing_query",
                "q is required, e.g. /products/search?q=alpha",
            );
        }
        Some(s) if s.chars().count() > MAX_QUERY_CHARS => {
            return error(
                StatusCode::BAD_REQUEST,
                "query_too_long",
                &format!("q may have at most {MAX_QUERY_CHARS} characters"),
            );
        }
        Some(s) => s,
    };
    let limit = match parse_number(q, "limit", 20, MAX_LIMIT) {
        Ok(0) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_limit",
                &format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            );
        }
        Ok(n) => n,
        Err(BadParameter(code, message)) => return error(StatusCode::BAD_REQUEST, &code, &message),
    };
    let offset = match parse_number(q, "offset", 0, MAX_OFFSET) {
        Ok(n) => n,
        Err(BadParameter(code, message)) => return error(StatusCode::BAD_REQUEST, &code, &message),
    };
    if !app.search_cost.is_zero() {
        // Busy, not asleep: the point is to use CPU like a slower task would.
        let until = started + app.search_cost;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    let store = app.store.read().unwrap_or_else(|p| p.into_inner());
    let hits = store.index.search(&store.products, query, offset, limit);
    let body = SearchResult {
        query,
        total: hits.total,
        offset,
        limit,
        took_us: started.elapsed().as_micros(),
        products: hits.page,
    };
    json(StatusCode::OK, &body)
}

fn product(app: &App, id: &str) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_id",
            "a product id is a positive whole number",
        );
    };
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

fn metrics_text(app: &App) -> Response {
    metrics::gauge!(crate::telemetry::IN_FLIGHT).set(app.in_flight.load(Ordering::SeqCst) as f64);
    let mut body = crate::telemetry::handle().map(|h| h.render()).unwrap_or_default();
    // The metrics crate's counters are whole numbers; CPU seconds need fractions.
    body.push_str(&format!(
        "\n# HELP {cpu} Total user and system CPU time spent in seconds.\n# TYPE {cpu} counter\n{cpu} {:.3}\n",
        crate::telemetry::process_cpu_seconds(),
        cpu = crate::telemetry::CPU
    ));
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Route label for metrics, from a request path (bounded set, so no label explosion).
fn route(method: &warp::http::Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        (_, "/products/search") => "search",
        ("POST", "/products") => "create",
        (_, p) if p.starts_with("/products/") => "product",
        (_, "/health") => "health",
        (_, "/ready") => "ready",
        (_, "/metrics") => "metrics",
        _ => "other",
    }
}

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let log_app = Arc::clone(&app);
    let with = move || {
        let app = Arc::clone(&app);
        warp::any().map(move || Arc::clone(&app))
    };
    let health = warp::path!("health")
        .and(warp::get())
        .map(|| json(StatusCode::OK, &serde_json::json!({"status": "ok"})));
    let ready = warp::path!("ready").and(warp::get()).and(with()).map(|app: Arc<App>| {
        if app.ready.load(Ordering::SeqCst) {
            json(StatusCode::OK, &serde_json::json!({"status": "ready"}))
        } else {
            error(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "starting or draining")
        }
    });
    let search = warp::path!("products" / "search")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with())
        .map(|q: HashMap<String, String>, app: Arc<App>| {
            let admission = admit(Arc::clone(&app));
            if !admission.admitted {
                return overloaded();
            }
            search(&app, &q)
        });
    let one = warp::path!("products" / String)
        .and(warp::get())
        .and(with())
        .map(|id: String, app: Arc<App>| {
            let admission = admit(Arc::clone(&app));
            if !admission.admitted {
                return overloaded();
            }
            product(&app, &id)
        });
    let create = warp::path!("products")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with())
        .map(|body: bytes::Bytes, app: Arc<App>| {
            let admission = admit(Arc::clone(&app));
            if !admission.admitted {
                return overloaded();
            }
            create(&app, &body)
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with())
        .map(|app: Arc<App>| metrics_text(&app));

    let closing = with();
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
        .and(closing)
        .map(|mut r: Response, app: Arc<App>| {
            if app.draining.load(Ordering::SeqCst) {
                // Moves keep-alive clients off this replica while it drains.
                r.headers_mut()
                    .insert("connection", warp::http::HeaderValue::from_static("close"));
            }
            r
        })
        .with(warp::log::custom(move |info| {
            let route = route(info.method(), info.path());
            if matches!(route, "search" | "product" | "create") {
                log_app.window.record(info.elapsed());
            }
            let status = info.status().as_u16().to_string();
            metrics::counter!(crate::telemetry::REQUESTS, "route" => route, "status" => status).increment(1);
            metrics::histogram!(crate::telemetry::DURATION, "route" => route).record(info.elapsed().as_secs_f64());
        }))
}

async fn rejection(r: Rejection) -> Result<Response, Infallible> {
    Ok(if r.is_not_found() {
        error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("bodies may have at most {MAX_BODY_BYTES} bytes"),
        )
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        error(StatusCode::LENGTH_REQUIRED, "length_required", "send a Content-Length")
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    } else if r.find::<warp::reject::InvalidQuery>().is_some() {
        error(StatusCode::BAD_REQUEST, "bad_query", "the query string is malformed")
    } else {
        error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request could not be handled",
        )
    })
}
