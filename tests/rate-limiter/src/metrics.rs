//! `metrics`: each policy counts what it allowed and rejected, exactly.

use std::time::Duration;

use grade_kit::{CheckResult, ensure_eq};
use rate_limiter::{FailureMode, MetricsSnapshot};

use crate::harness::{TestClock, aligned, config, limiter, limiter_at};
use crate::http::{Server, Who};
use crate::proxy::closed_port_url;

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

    // Redis refusing connections, failing open: the requests pass, but Redis decided none of
    // them. They are `redis_errors` (the `unavailable` checks count those), not `allowed`.
    let mut config = config("metrics-down", "down", 2, 60);
    config.failure_mode = FailureMode::Open;
    config.redis_timeout = Duration::from_millis(250);
    let down = limiter_at(&closed_port_url().await?, config, &clock)?;
    let server = Server::start(&down).await?;
    for _ in 0..2 {
        server
            .get_within(Who::key("metrics-client"), Duration::from_secs(5))
            .await?;
    }
    let MetricsSnapshot {
        allowed, rejected, ..
    } = down.metrics().snapshot();
    ensure_eq!(
        (allowed, rejected),
        (0, 0),
        hint = "`allowed` and `rejected` count what Redis decided; a request let through \
                because Redis was down is only a redis_error",
        "(allowed, rejected) of a fail-open limiter after two requests with Redis refusing \
         connections"
    );
    Ok(())
}
