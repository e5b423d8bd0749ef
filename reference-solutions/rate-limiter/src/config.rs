//! What a limiter enforces and how it behaves when Redis is not there.

use std::time::Duration;

use axum::http::HeaderName;

/// What to do with a request when Redis cannot decide (refused, reset, or too slow).
///
/// There is no right answer, only a trade-off to make explicitly. Failing *open* keeps the
/// API up when the limiter's store is down, at the price of not limiting anyone meanwhile:
/// right for limits that protect fairness. Failing *closed* protects what the limit protects
/// (an expensive backend, a paid upstream) at the price of an outage: right for limits that
/// protect money or safety.
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

    /// Why this configuration cannot work, if it cannot.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.limit == 0 {
            return Err("limit must be at least 1".into());
        }
        if self.window.is_zero() || self.window.subsec_nanos() != 0 {
            return Err(format!(
                "window must be a positive whole number of seconds, not {:?}",
                self.window
            ));
        }
        if self.redis_timeout.is_zero() {
            return Err("redis_timeout must be positive".into());
        }
        // The name goes into a Structured Field string: printable ASCII only.
        if !self.policy.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(format!(
                "policy name {:?} must be printable ASCII",
                self.policy
            ));
        }
        Ok(())
    }
}
