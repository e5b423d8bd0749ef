//! A sliding-window rate limiter stored in Redis, as tower middleware for axum. See README.md
//! for the task, the pinned semantics and the acceptance criteria.
//!
//! The types below are the API the acceptance suite uses: keep their names and signatures
//! (add private fields, helpers and modules as you like). Implement [`RateLimiter::new`],
//! [`RateLimiter::metrics`], [`Metrics::snapshot`] and the middleware's [`Service::call`].
//!
//! Take "now" from the [`Clock`] you are given and pass it to Redis (as a script argument, say):
//! the suite drives that clock, and never waits for real time to pass a window.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::http::HeaderName;
use axum::response::Response;
use tower::{Layer, Service};

/// The limiter's source of the current time.
///
/// Implement it to drive time in tests; use [`SystemClock`] in production.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The real clock: `SystemTime::now()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// What to do with a request when Redis cannot decide (refused, reset, or too slow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Let the request through, without rate-limit headers.
    Open,
    /// Refuse the request with `503 Service Unavailable`.
    Closed,
}

/// One rate-limit policy: at most `limit` requests per client in any `window`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The policy's name, shown in the `RateLimit-Policy` and `RateLimit` fields.
    pub policy: String,
    /// The quota: requests allowed per client in any window (`q` in `RateLimit-Policy`).
    pub limit: u32,
    /// The window's length, a whole number of seconds (`w` in `RateLimit-Policy`).
    pub window: Duration,
    /// Every Redis key the limiter writes starts with this.
    pub key_prefix: String,
    /// The header that carries a client's API key; without it, the client is its peer IP.
    pub api_key_header: HeaderName,
    /// What to do when Redis cannot decide.
    pub failure_mode: FailureMode,
    /// The longest a decision may wait for Redis (connecting included) before `failure_mode`
    /// applies.
    pub redis_timeout: Duration,
}

impl Config {
    /// A policy with the defaults: keys under `ratelimit:`, the API key in `x-api-key`, fail
    /// open, and a 100 ms budget for Redis.
    pub fn new(policy: impl Into<String>, limit: u32, window: Duration) -> Self {
        Self {
            policy: policy.into(),
            limit,
            window,
            key_prefix: "ratelimit:".to_owned(),
            api_key_header: HeaderName::from_static("x-api-key"),
            failure_mode: FailureMode::Open,
            redis_timeout: Duration::from_millis(100),
        }
    }
}

/// Why a limiter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Redis URL cannot be parsed.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// The configuration cannot work (zero limit, fractional window...).
    #[error("invalid rate-limit configuration: {0}")]
    InvalidConfig(String),
}

/// One rate-limit policy backed by Redis. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct RateLimiter {}

impl RateLimiter {
    /// A limiter for `config`, keeping its counts in the Redis at `redis_url`.
    ///
    /// Must not connect (nor fail) when Redis is down: the first request connects. It is
    /// called within a tokio runtime.
    #[allow(unused_variables)] // The stub ignores its arguments: remove this with the `todo!`.
    pub fn new(redis_url: &str, config: Config, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        todo!(
            "validate the config and prepare a Redis connection to `redis_url` without opening \
             it (the first request connects)"
        )
    }

    /// The tower layer that applies this limiter to a service (an axum `Router`, say).
    pub fn layer(&self) -> RateLimitLayer {
        RateLimitLayer {
            limiter: self.clone(),
        }
    }

    /// This policy's counters.
    pub fn metrics(&self) -> Metrics {
        todo!("return a handle on this limiter's allowed / rejected / redis_errors counters")
    }
}

/// A handle on one limiter's counters; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Metrics {}

/// The counters' values at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Requests Redis judged within the limit.
    pub allowed: u64,
    /// Requests Redis judged over the limit (answered 429).
    pub rejected: u64,
    /// Requests Redis could not judge (timeout, refused or broken connection), whatever the
    /// failure mode then did with them.
    pub redis_errors: u64,
}

impl Metrics {
    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        todo!("read the counters that the middleware bumps on every decision")
    }
}

/// Applies a [`RateLimiter`] to a service. Made by [`RateLimiter::layer`].
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
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
        let _ = (&self.limiter, request); // The stub ignores them: remove this with the `todo!`.
        todo!(
            "find the client (API key header, else peer IP), decide in one atomic Redis round \
             trip within `redis_timeout`, then call the inner service adding the RateLimit \
             fields, or answer 429 (problem+json, Retry-After), or apply the failure mode"
        )
    }
}
