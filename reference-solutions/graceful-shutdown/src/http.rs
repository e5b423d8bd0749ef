//! The HTTP side: probes, one endpoint that does work, and the middleware that makes the drain
//! visible to clients.
//!
//! - `GET /livez`: 200 for as long as the process serves, draining or not. Liveness answers
//!   "should the kubelet restart me?", and a draining process must not be restarted.
//! - `GET /healthz`: readiness. 200 until the first signal, 503 from then on: "send me no new
//!   traffic".
//! - `GET /slow?ms=N`: work. Holds a pool connection for `N` milliseconds, then answers 200.
//!   While draining, a *new* request is answered 503 at once; one that started before the
//!   signal runs to the end.
//!
//! The middleware does the two things every route needs during a drain. It counts requests in
//! a [`TaskTracker`], so the drain knows when the last one is done. And it marks responses
//! written while draining `Connection: close`: hyper then closes the connection after the
//! response, and a keep-alive client (an ingress, a connection pool in another service)
//! reconnects, landing on a pod that is still in rotation. Without it, a client that holds a
//! keep-alive connection keeps sending to us until the socket is torn down at exit, and the
//! request it sends at that moment fails.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pool::Pool;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Cancelled at the first signal.
    pub(crate) draining: CancellationToken,
    /// Every request in flight; the drain waits for it to empty.
    pub(crate) requests: TaskTracker,
    /// The connection pool work requests use.
    pub(crate) pool: Pool,
}

/// The service's routes, wrapped in the drain middleware.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/healthz", get(healthz))
        .route("/slow", get(slow))
        .layer(middleware::from_fn_with_state(state.clone(), drain_aware))
        .with_state(state)
}

/// Counts the request while it runs, and asks the client to go away once we are draining.
async fn drain_aware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = state.requests.track_future(next.run(request)).await;
    // Checked when the response is ready, not when the request arrived: a slow request that
    // started before the signal must close its connection too.
    if state.draining.is_cancelled() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn livez() -> &'static str {
    "alive\n"
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.draining.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        "ready\n".into_response()
    }
}

/// The query of `/slow`.
#[derive(Deserialize)]
struct SlowParams {
    /// How long the request works, in milliseconds.
    ms: u64,
}

async fn slow(State(state): State<AppState>, Query(params): Query<SlowParams>) -> Response {
    // New work is refused while draining. 503 (rather than a slow success) tells a client or
    // a retrying proxy to try another replica now.
    if state.draining.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    let Ok(conn) = state.pool.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "pool closed\n").into_response();
    };
    tokio::time::sleep(Duration::from_millis(params.ms)).await;
    conn.release();
    format!("slept {} ms\n", params.ms).into_response()
}
