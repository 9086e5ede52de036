//! HTTP/1.1 serving that slow or hostile clients cannot starve, shared by the search
//! service and the autoscaler's status API.
//!
//! What it adds to hyper:
//! - per-connection timeouts for each phase a client controls: idle between requests,
//!   reading a request head once it has started, and reading a body ([`Limits`]);
//! - a cap on open connections, so descriptors stay available for everything else;
//! - a body limit checked before a byte of the body is buffered;
//! - a drain that loses nothing: for a grace period every response closes its
//!   connection, then new connections are refused in the kernel *before* the listener is
//!   closed, the ones already queued in its backlog are accepted and answered, and every
//!   request already received is answered before its connection closes;
//! - a hook that sees each request from the moment its head has been read until its
//!   response has been handed to the socket ([`Observer`]), so latency includes every
//!   wait inside the process.

mod body;
mod listener;
mod phase;
mod server;

pub use listener::{bind, refuse_new_connections};
pub use server::{DrainReport, Handler, Limits, Observer, ResponseBody, error_body, serve};
