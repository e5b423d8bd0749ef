//! Counters an operator watches: how many requests a policy let through, refused, and could
//! not judge because Redis was unavailable.
//!
//! Three relaxed atomics behind an `Arc`: every clone of the limiter (one per connection,
//! in a tower stack) bumps the same counters without a lock. `Relaxed` is enough because
//! each counter is independent and only its final value matters; nothing else is ordered
//! against it. An exporter (Prometheus, OpenTelemetry) would read [`Metrics::snapshot`] on
//! scrape.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A handle on one limiter's counters; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    allowed: AtomicU64,
    rejected: AtomicU64,
    redis_errors: AtomicU64,
}

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
        MetricsSnapshot {
            allowed: self.counters.allowed.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            redis_errors: self.counters.redis_errors.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn allowed(&self) {
        self.counters.allowed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self) {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn redis_error(&self) {
        self.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
    }
}
