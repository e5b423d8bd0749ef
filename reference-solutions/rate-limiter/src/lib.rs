//! A sliding-window rate limiter stored in Redis, as tower middleware for axum.
//!
//! Every request is attributed to a client (its API key, else its peer IP) and allowed only
//! if that client made fewer than `limit` allowed requests in the last `window`. The count
//! lives in Redis, so every server behind a load balancer enforces one shared limit.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{net::SocketAddr, sync::Arc, time::Duration};
//! use axum::{Router, routing::get};
//! use rate_limiter::{Config, RateLimiter, SystemClock};
//!
//! let config = Config::new("default", 100, Duration::from_secs(60));
//! let limiter = RateLimiter::new("redis://127.0.0.1/", config, Arc::new(SystemClock))?;
//! let app = Router::new().route("/", get(|| async { "hello" })).layer(limiter.layer());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! // `with_connect_info` gives the middleware the peer address, for clients without a key.
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`clock`](Clock): where "now" comes from, injectable so tests drive time.
//! - `config`: the policy ([`Config`]) and what to do when Redis is down ([`FailureMode`]).
//! - `store`: the Redis side, a sorted set per client and one Lua script per decision. The
//!   heart of the exercise: read it first.
//! - `middleware`: the tower [`Layer`](tower::Layer) and the HTTP side: who the client is, the
//!   429 answer, the `RateLimit` header fields.
//! - `metrics`: allowed / rejected / Redis-error counters.
//!
//! This module ties them together: [`RateLimiter`] turns "a request from client X, now" into a
//! decision, within a time budget.

mod clock;
mod config;
mod metrics;
mod middleware;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use clock::{Clock, SystemClock};
pub use config::{Config, FailureMode};
pub use metrics::{Metrics, MetricsSnapshot};
pub use middleware::{RateLimit, RateLimitLayer};

use store::{Decision, Store};

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
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    clock: Arc<dyn Clock>,
    store: Store,
    metrics: Metrics,
    /// Random per instance, so members written by two servers never collide.
    instance: u64,
    /// Counts this instance's decisions, so its own members never collide.
    sequence: AtomicU64,
}

impl RateLimiter {
    /// A limiter for `config`, keeping its counts in the Redis at `redis_url`.
    ///
    /// Does not connect: the first request does, so a service starts even while Redis is
    /// down. Call it within a tokio runtime.
    pub fn new(redis_url: &str, config: Config, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        config.validate().map_err(Error::InvalidConfig)?;
        let store = Store::open(redis_url, config.redis_timeout)?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                clock,
                store,
                metrics: Metrics::default(),
                instance: rand::random(),
                sequence: AtomicU64::new(0),
            }),
        })
    }

    /// The tower layer that applies this limiter to a service (an axum `Router`, say).
    pub fn layer(&self) -> RateLimitLayer {
        RateLimitLayer::new(self.clone())
    }

    /// This policy's counters.
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics.clone()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Decides one request from `client` (`key:…` or `ip:…`), now.
    ///
    /// `None` when Redis could not decide within `redis_timeout`: refused, reset, script error,
    /// or simply too slow. The budget covers everything, connecting included, so a request
    /// never waits on Redis longer than the operator said it may. (A real service would also
    /// log the cause; here it only goes to the metric.)
    pub(crate) async fn decide(&self, client: &str) -> Option<Decision> {
        let shared = &*self.shared;
        let config = &shared.config;
        let now = clock::unix_millis(shared.clock.now());
        let key = format!("{}{}:{client}", config.key_prefix, config.policy);
        // Scores can tie (two requests in one millisecond, on one server or two); members
        // must not, or `ZADD` would overwrite instead of add, and the second request would
        // go uncounted. The timestamp is only there to make the set readable in redis-cli.
        let sequence = shared.sequence.fetch_add(1, Ordering::Relaxed);
        let member = format!("{now}-{:016x}-{sequence}", shared.instance);
        let decision = shared
            .store
            .decide(&key, now, config.window, config.limit, &member);
        match tokio::time::timeout(config.redis_timeout, decision).await {
            Ok(Ok(decision)) => {
                if decision.allowed {
                    shared.metrics.allowed();
                } else {
                    shared.metrics.rejected();
                }
                Some(decision)
            }
            Ok(Err(_)) | Err(_) => {
                shared.metrics.redis_error();
                None
            }
        }
    }
}
