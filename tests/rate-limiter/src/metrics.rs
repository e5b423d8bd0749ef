//! `metrics`: each policy counts what it allowed and rejected, exactly.

use std::time::Duration;

use grade_kit::{CheckResult, ensure_eq};
use rate_limiter::MetricsSnapshot;

use crate::harness::{TestClock, aligned, config, limiter};
use crate::http::{Server, Who};

/// Two policies on two servers: "small" (limit 2) sees 5 requests, "large" (limit 3) sees 4.
pub async fn counters() -> CheckResult {
    let clock = TestClock::at(aligned(Duration::from_secs(60)));
    let small = limiter(config("metrics-small", "small", 2, 60), &clock)?;
    let large = limiter(config("metrics-large", "large", 3, 60), &clock)?;
    ensure_eq!(
        small.metrics().snapshot(),
        MetricsSnapshot::default(),
        "a new limiter's counters"
    );
    let (small_server, large_server) = (Server::start(&small).await?, Server::start(&large).await?);
    for _ in 0..5 {
        clock.advance(Duration::from_millis(1));
        small_server.allowed(Who::key("metrics-client")).await?;
    }
    for _ in 0..4 {
        clock.advance(Duration::from_millis(1));
        large_server.allowed(Who::key("metrics-client")).await?;
    }
    let hint = "bump `allowed` or `rejected` once per request Redis decided, on the limiter's own \
                shared counters (an Arc of atomics cloned into every service)";
    ensure_eq!(
        small.metrics().snapshot(),
        MetricsSnapshot {
            allowed: 2,
            rejected: 3,
            redis_errors: 0
        },
        hint = hint,
        "policy \"small\" (limit 2) after 5 requests"
    );
    ensure_eq!(
        large.metrics().snapshot(),
        MetricsSnapshot {
            allowed: 3,
            rejected: 1,
            redis_errors: 0
        },
        hint = hint,
        "policy \"large\" (limit 3) after 4 requests"
    );
    Ok(())
}
