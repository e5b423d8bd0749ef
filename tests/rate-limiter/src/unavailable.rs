//! `unavailable`: without Redis, the configured failure mode decides, promptly, and the metric
//! says so.
//!
//! Two kinds of outage: a port nobody listens on (connections are refused at once) and a
//! server that accepts connections and never answers (the hung Redis, the one that needs a
//! timeout). These checks run on real time; their limits are generous multiples of the
//! configured budget, scaled by the grader's `--timeout-scale`.

use std::time::{Duration, Instant};

use grade_kit::{CheckResult, ensure, ensure_eq};
use rate_limiter::{FailureMode, RateLimiter};

use crate::harness::{TestClock, config, limiter_at, real_now_ms};
use crate::http::{Server, Who};
use crate::proxy::{black_hole_url, closed_port_url};

/// The Redis budget these checks configure.
const BUDGET: Duration = Duration::from_millis(250);

/// Serves a limiter in `mode` whose Redis is at `url`.
async fn serve(
    url: &str,
    mode: FailureMode,
) -> Result<(Server, rate_limiter::RateLimiter), grade_kit::Failure> {
    let clock = TestClock::at(real_now_ms());
    let mut config = config("down", "default", 10, 60);
    config.failure_mode = mode;
    config.redis_timeout = BUDGET;
    let limiter = limiter_at(url, config, &clock)?;
    Ok((Server::start(&limiter).await?, limiter))
}

/// Fail open, connection refused: two requests pass without RateLimit fields, and two Redis
/// errors are counted.
pub async fn fail_open() -> CheckResult {
    let url = closed_port_url().await?;
    let (server, limiter) = serve(&url, FailureMode::Open).await?;
    for n in 1..=2 {
        let reply = server
            .get_within(Who::key("open-client"), Duration::from_secs(5))
            .await?;
        ensure_eq!(
            reply.status.as_u16(),
            200,
            hint = "FailureMode::Open: when Redis cannot decide, call the inner service as if \
                    the request were allowed",
            "request {n} with Redis refusing connections and FailureMode::Open"
        );
        let fields: Vec<&str> = ["ratelimit", "ratelimit-policy"]
            .into_iter()
            .filter(|name| reply.header(name).is_some())
            .collect();
        ensure!(
            fields.is_empty(),
            hint = "failing open, nothing was decided: send no RateLimit fields (there is no \
                    quota to report)",
            "request {n}, let through because Redis refused connections, carries {fields:?}"
        );
    }
    ensure_eq!(
        limiter.metrics().snapshot().redis_errors,
        2,
        hint = "count every request Redis could not decide in `redis_errors`, whatever the \
                failure mode then does: an outage that fails open is otherwise invisible",
        "redis_errors after two requests with Redis refusing connections"
    );
    Ok(())
}

/// `redis_errors` after two requests Redis could not decide, whatever the mode did.
fn two_errors(limiter: &RateLimiter, outage: &str) -> CheckResult {
    ensure_eq!(
        limiter.metrics().snapshot().redis_errors,
        2,
        hint = "count every request Redis could not decide in `redis_errors` (refused, reset or \
                timed out), whatever the failure mode then does",
        "redis_errors after two requests with {outage}"
    );
    Ok(())
}

/// Fail closed, connection refused: two requests get 503, and both are counted.
pub async fn fail_closed() -> CheckResult {
    let url = closed_port_url().await?;
    let (server, limiter) = serve(&url, FailureMode::Closed).await?;
    for n in 1..=2 {
        let reply = server
            .get_within(Who::key("closed-client"), Duration::from_secs(5))
            .await?;
        ensure_eq!(
            reply.status.as_u16(),
            503,
            hint = "FailureMode::Closed: when Redis cannot decide, answer 503 Service \
                    Unavailable without calling the inner service",
            "request {n} with Redis refusing connections and FailureMode::Closed"
        );
    }
    two_errors(
        &limiter,
        "Redis refusing connections and FailureMode::Closed",
    )
}

/// A Redis that never answers: each of two requests is answered (either way) within
/// budget + 500 ms (scaled), and both are counted in `redis_errors`.
///
/// The slack is a fraction of a second on purpose: a client library's own connect timeout
/// (redis-rs defaults to about 1 s) must not stand in for `redis_timeout`, so a connection
/// opened outside the timeout is caught. The reference answers in about the budget.
pub async fn timeout() -> CheckResult {
    let url = black_hole_url().await?;
    let (server, limiter) = serve(&url, FailureMode::Closed).await?;
    let limit = BUDGET + Duration::from_millis(500);
    for n in 1..=2 {
        let started = Instant::now();
        let reply = server
            .get_within(Who::key("hung-client"), limit)
            .await
            .map_err(|failure| {
                failure.with_hint(
                    "bound the whole decision, connecting included, by redis_timeout \
                     (tokio::time::timeout around the connect and the command together), then \
                     apply the failure mode",
                )
            })?;
        ensure!(
            matches!(reply.status.as_u16(), 200 | 503),
            "request {n} to a limiter whose Redis never answers got {} after {:?}; expected the \
             failure mode's answer (503 here) once redis_timeout ({BUDGET:?}) passed",
            reply.status,
            started.elapsed()
        );
    }
    two_errors(&limiter, "a Redis that never answers")
}
