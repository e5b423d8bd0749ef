//! The HTTP side: a tower [`Layer`] that asks the limiter about every request and answers for
//! it when the answer is no.
//!
//! # Who is the client
//! The API key header when present (a key identifies a customer wherever it calls from), else
//! the peer's IP address from axum's `ConnectInfo<SocketAddr>`. The IP, not the socket
//! address: every connection from one host has a different port, and keying by port would
//! give each connection its own quota. The two kinds of id are namespaced (`key:…`, `ip:…`) so
//! an API key that happens to read `10.0.0.7` does not share, or exhaust, that address's quota.
//! `X-Forwarded-For` is deliberately ignored: any client can write it. Behind a trusted proxy,
//! put a layer before this one that rewrites `ConnectInfo` from the proxy's header.
//!
//! # What the client is told
//! Every decided response carries the IETF RateLimit header fields
//! (draft-ietf-httpapi-ratelimit-headers): the policy (`q` requests per `w` seconds) and the
//! current state (`r` remaining, `t` seconds until quota frees). A rejection is a 429 with an
//! RFC 9457 problem document and `Retry-After`, in whole seconds rounded *up*: rounding down
//! would send well-behaved clients back a fraction of a second too early, into another 429.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tower::{Layer, Service};

use crate::{Decision, FailureMode, RateLimiter};

/// `RateLimit-Policy`: the quota policy, `"name";q=<limit>;w=<window seconds>`.
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`: the client's state, `"name";r=<remaining>;t=<seconds until quota frees>`.
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Applies a [`RateLimiter`] to a service. Made by [`RateLimiter::layer`].
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    pub(crate) fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// The rate-limiting middleware around `S`.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S> Service<Request> for RateLimit<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // `self.inner` is the clone that `poll_ready` readied; take it and leave a fresh clone
        // behind for the next call (the standard tower idiom for services used across an
        // await).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let limiter = self.limiter.clone();
        Box::pin(async move {
            let client = client_id(&request, &limiter.config().api_key_header);
            match limiter.decide(&client).await {
                Some(decision) if decision.allowed => {
                    let mut response = inner.call(request).await?;
                    set_rate_limit_fields(response.headers_mut(), &limiter, &decision);
                    Ok(response)
                }
                Some(decision) => Ok(too_many_requests(&limiter, &decision)),
                None => match limiter.config().failure_mode {
                    FailureMode::Open => inner.call(request).await,
                    FailureMode::Closed => Ok(store_unavailable()),
                },
            }
        })
    }
}

/// `key:<api key>` when the request carries a usable one, else `ip:<peer address>`.
fn client_id(request: &Request, api_key_header: &HeaderName) -> String {
    let api_key = request
        .headers()
        .get(api_key_header)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty());
    if let Some(key) = api_key {
        return format!("key:{key}");
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => format!("ip:{}", peer.ip()),
        // Served without `into_make_service_with_connect_info`: every anonymous client is
        // the same client. Limiting them together is the safe reading of a setup mistake.
        None => "ip:unknown".to_owned(),
    }
}

/// `t`, and `Retry-After` on a rejection: whole seconds until quota frees, rounded up.
fn seconds_until_reset(decision: &Decision) -> u64 {
    decision.reset.as_millis().div_ceil(1000) as u64
}

fn set_rate_limit_fields(headers: &mut HeaderMap, limiter: &RateLimiter, decision: &Decision) {
    let config = limiter.config();
    let name = sf_string(&config.policy);
    let policy = format!("{name};q={};w={}", config.limit, config.window.as_secs());
    let state = format!(
        "{name};r={};t={}",
        decision.remaining,
        seconds_until_reset(decision)
    );
    // Both are printable ASCII by construction (the policy name is validated).
    headers.insert(
        RATELIMIT_POLICY,
        HeaderValue::try_from(policy).expect("ASCII"),
    );
    headers.insert(RATELIMIT, HeaderValue::try_from(state).expect("ASCII"));
}

/// The policy name as a Structured Field string: quoted, with `"` and `\` escaped.
fn sf_string(name: &str) -> String {
    let escaped = name.replace('\\', r"\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// 429 with the RateLimit fields, `Retry-After` and a problem document.
fn too_many_requests(limiter: &RateLimiter, decision: &Decision) -> Response {
    let config = limiter.config();
    let wait = seconds_until_reset(decision);
    let detail = format!(
        "Policy \"{}\" allows {} requests per {} seconds; retry in {wait} s.",
        config.policy,
        config.limit,
        config.window.as_secs()
    );
    let mut response = problem(StatusCode::TOO_MANY_REQUESTS, &detail);
    let headers = response.headers_mut();
    set_rate_limit_fields(headers, limiter, decision);
    headers.insert(RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// 503 for a fail-closed limiter whose store is unreachable.
fn store_unavailable() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "The rate limiter cannot reach its store; requests are refused until it recovers.",
    )
}

/// An RFC 9457 problem document. `about:blank` says "the status code is the whole story", so
/// the title is the status' reason phrase and the detail explains this occurrence.
fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
