//! The HTTP status API (warp): health, status with explanations, decision history,
//! Prometheus metrics, an HTML page, and token-protected pause/resume/reload.

mod page;
mod status;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use autoscaler_core::digest::sha256_hex;
use serde::Serialize;
use subtle::ConstantTimeEq;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

pub use status::{Leadership, PolicyStatus, RejectedFile, RuleStatus, StateStore, Status, status};

use crate::daemon::Shared;

/// The routes, with every rejection answered as a JSON error.
pub fn routes(shared: Arc<Shared>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let with = move || {
        let shared = Arc::clone(&shared);
        warp::any().map(move || Arc::clone(&shared))
    };
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json(StatusCode::OK, &serde_json::json!({"status": "ok"})));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<Shared>| {
            // Leader and followers alike: a follower serves the status API and stands by
            // to take over, so a health check must not replace it.
            if s.is_ready() {
                json(
                    StatusCode::OK,
                    &serde_json::json!({"status": "ready", "leadership": Leadership::of(&s)}),
                )
            } else {
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_ready",
                    "no policy is in force (not loaded yet, or every file was rejected): see GET /v1/status",
                )
            }
        });
    let status = warp::path!("v1" / "status")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<Shared>| json(StatusCode::OK, &status(&s)));
    let decisions = warp::path!("v1" / "policies" / String / "decisions")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with())
        .then(|name: String, q: HashMap<String, String>, s: Arc<Shared>| async move { decisions(&s, &name, &q).await });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with())
        .map(|s: Arc<Shared>| {
            let mut r = Response::new(s.render_metrics().into());
            r.headers_mut().insert(
                "content-type",
                warp::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        });
    let index = warp::path::end().and(warp::get()).and(with()).map(|s: Arc<Shared>| {
        // The snapshot is taken, and the lock let go, before the page is drawn.
        let snapshot = self::status(&s);
        let mut r = Response::new(page::render(&snapshot).into());
        r.headers_mut().insert(
            "content-type",
            warp::http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    });
    let auth = warp::header::optional::<String>("authorization");
    let pause = warp::path!("v1" / "policies" / String / "pause")
        .and(warp::post())
        .and(auth)
        .and(with())
        .map(|name: String, h: Option<String>, s: Arc<Shared>| set_paused(&s, &name, h, true));
    let resume = warp::path!("v1" / "policies" / String / "resume")
        .and(warp::post())
        .and(auth)
        .and(with())
        .map(|name: String, h: Option<String>, s: Arc<Shared>| set_paused(&s, &name, h, false));
    let reload = warp::path!("v1" / "reload")
        .and(warp::post())
        .and(auth)
        .and(with())
        .map(|h: Option<String>, s: Arc<Shared>| match refusal(&s, h) {
            Some(r) => r,
            None => {
                s.request_reload();
                json(StatusCode::ACCEPTED, &serde_json::json!({"status": "reload requested"}))
            }
        });
    healthz
        .or(readyz)
        .unify()
        .or(status)
        .unify()
        .or(decisions)
        .unify()
        .or(metrics)
        .unify()
        .or(index)
        .unify()
        .or(pause)
        .unify()
        .or(resume)
        .unify()
        .or(reload)
        .unify()
        .recover(rejection)
        .unify()
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, &hardened_http::error_body(code, message))
}

async fn rejection(r: Rejection) -> Result<Response, Infallible> {
    Ok(if r.is_not_found() {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; see GET /v1/status",
        )
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    } else if r.find::<warp::reject::InvalidQuery>().is_some() {
        error(StatusCode::BAD_REQUEST, "bad_query", "the query string is malformed")
    } else if r.find::<warp::reject::InvalidHeader>().is_some() {
        error(StatusCode::BAD_REQUEST, "bad_header", "a header is malformed")
    } else {
        error(StatusCode::BAD_REQUEST, "bad_request", &format!("{r:?}"))
    })
}

/// The answer refusing a mutating request, if it must be refused. The bearer token is
/// compared in constant time; without a configured token the endpoints are disabled.
fn refusal(s: &Shared, header: Option<String>) -> Option<Response> {
    let Some(token) = s.settings.api_token.as_deref() else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "disabled",
            "mutating endpoints are disabled: no api_token is configured",
        ));
    };
    // The scheme is case-insensitive (RFC 7235); the token is not.
    let given = header
        .as_deref()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim_start());
    // Hashing first makes the comparison independent of the lengths too.
    let ok: bool = sha256_hex(given.as_bytes())
        .as_bytes()
        .ct_eq(sha256_hex(token.as_bytes()).as_bytes())
        .into();
    (!ok).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    })
}

fn set_paused(s: &Shared, name: &str, header: Option<String>, paused: bool) -> Response {
    if let Some(r) = refusal(s, header) {
        return r;
    }
    if s.set_paused(name, paused) {
        let word = if paused { "paused" } else { "resumed" };
        tracing::info!(policy = name, "{word} through the API");
        json(StatusCode::OK, &serde_json::json!({"policy": name, "paused": paused}))
    } else {
        error(
            StatusCode::NOT_FOUND,
            "unknown_policy",
            &format!("no policy named \"{name}\""),
        )
    }
}

async fn decisions(s: &Shared, name: &str, q: &HashMap<String, String>) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_limit",
                "limit must be a whole number from 1 to 1000",
            );
        }
    };
    if let Some(other) = q.keys().find(|k| k.as_str() != "limit") {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_query",
            &format!("unknown query parameter \"{other}\""),
        );
    }
    let Some(newest_first) = s.decisions(name, limit).await else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_policy",
            &format!("no policy named \"{name}\""),
        );
    };
    json(
        StatusCode::OK,
        &serde_json::json!({"policy": name, "decisions": newest_first}),
    )
}

/// Counts nothing: the API's own requests are not the daemon's business metrics.
struct Quiet;

impl hardened_http::Observer for Quiet {
    type Label = ();
    fn start(&self, _: &warp::http::Method, _: &str) {}
    fn finish(&self, _: (), _: StatusCode, _: std::time::Duration) {}
}

/// What an API client may cost: short timeouts, few connections (well under the
/// descriptor limit, so the daemon's own AWS calls always find one), small bodies, and
/// a shutdown that waits for no idle client.
pub fn limits() -> hardened_http::Limits {
    let nofile = {
        // SAFETY: getrlimit only writes into the struct we pass.
        let mut l: libc::rlimit = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } == 0 {
            l.rlim_cur as usize
        } else {
            1024
        }
    };
    hardened_http::Limits {
        max_connections: (nofile / 4).clamp(8, 256),
        header_timeout: std::time::Duration::from_secs(5),
        idle_timeout: std::time::Duration::from_secs(30),
        body_timeout: std::time::Duration::from_secs(5),
        max_body_bytes: 16 * 1024,
        max_head_bytes: 16 * 1024,
        drain_grace: std::time::Duration::ZERO,
        drain_idle: std::time::Duration::ZERO,
        shutdown_deadline: std::time::Duration::from_secs(2),
    }
}

/// Serves the API on an already bound listener until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let service = warp::service(routes(shared));
    hardened_http::serve(listener, service, Arc::new(Quiet), limits(), shutdown).await;
}
