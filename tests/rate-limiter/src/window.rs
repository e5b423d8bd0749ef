//! `window`: at most `limit` requests in *any* window of the given length, to the millisecond.
//!
//! Each check has a hand-written scenario and a model part (`crate::model`): seeded schedules
//! of several clients at arbitrary milliseconds, with the edges put in by construction, each
//! decision judged against the client's own allowed requests. `boundary` takes the safety
//! half (never allowed while `limit` requests count: fixed windows, whole-second windows,
//! entries leaving early), `expiry_edge` the liveness half (never rejected while fewer count:
//! entries leaving late, rejected requests recorded).
//!
//! The hand-written scenarios, each isolating one mistake. `boundary` straddles a fixed-window boundary
//! (a multiple of the window, where an epoch-aligned counter resets) with requests that are
//! 200 ms apart: a fixed window lets a second full quota through, a sliding window does not.
//! It stays clear of the exact edge `s + window`. `expiry_edge` is about that edge alone and
//! starts on a fixed-window boundary, where fixed and sliding windows agree: a request made at
//! `s` still counts at `s + window - 1 ms` and no longer counts at `s + window`.

use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::{CheckResult, ensure, ensure_eq};

use crate::harness::{TestClock, aligned, at, config, limiter};
use crate::http::{Server, Who};
use crate::model::{self, Decision};

/// Sends one request as `who` at `ms` and checks the verdict.
async fn expect(
    server: &Server,
    clock: &TestClock,
    (base, ms): (u64, u64),
    who: Who<'_>,
    expected: bool,
    why: &str,
) -> CheckResult {
    clock.set(ms);
    let allowed = server.allowed(who).await?;
    let verdict = |a: bool| if a { "allowed" } else { "rejected" };
    ensure!(
        allowed == expected,
        "the request at {} was {}, expected {}: {why}",
        at(base, ms),
        verdict(allowed),
        verdict(expected)
    );
    Ok(())
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "rejected" }
}

/// Seeded schedules; `judge` sees every decision.
async fn schedules(seed: u64, judge: impl Fn(&Decision<'_>) -> CheckResult + Copy) -> CheckResult {
    explore(
        Explore::new(seed).cases(60).max_shrink_steps(150),
        model::window_scenario(),
        |scenario| async move {
            let base = aligned(Duration::from_secs(60)) + scenario.base_offset;
            model::run(&scenario, base, judge).await
        },
    )
    .await
}

/// The client's allowed requests that count at this decision, for messages.
fn counting(d: &Decision<'_>, window_ms: u64) -> Vec<String> {
    d.history
        .iter()
        .filter(|&&s| d.request.at < s + window_ms)
        .map(|s| format!("B + {s} ms"))
        .collect()
}

/// Safety: no decision is allowed while `limit` of the client's allowed requests count.
async fn never_over_the_limit() -> CheckResult {
    schedules(0xB0_0DA7, |d| {
        if d.allowed && !d.expected.allowed {
            let window_ms = d.window_ms;
            ensure_eq!(
                verdict(d.allowed),
                verdict(d.expected.allowed),
                hint = "count the requests made in (now - window, now], to the millisecond: a \
                        counter per calendar window, or times kept in whole seconds, let more \
                        than limit through in some window",
                "{}: the client's allowed requests at {:?} still count (each counts for {} ms \
                 after it was made), and that is the limit",
                d.describe(),
                counting(d, window_ms),
                window_ms
            );
        }
        Ok(())
    })
    .await
}

/// limit 4 per 60 s. With B a multiple of 60 s: one request at B - 59.95 s, three at
/// B - 100 ms, then four at B + 100 ms. At B + 100 ms the first request has left the window
/// (it is 60.05 s old) but the three made 200 ms earlier have not: one more fits, three don't.
pub async fn boundary() -> CheckResult {
    let window = Duration::from_secs(60);
    let base = aligned(window);
    let clock = TestClock::at(base - 60_000);
    let limiter = limiter(config("boundary", "default", 4, 60), &clock)?;
    let server = Server::start(&limiter).await?;
    let who = Who::key("boundary-client");

    let first = base - 59_950;
    expect(
        &server,
        &clock,
        (base, first),
        who,
        true,
        "the first request of a fresh client is within the limit",
    )
    .await?;
    for i in 0..3 {
        let ms = base - 100 + i;
        expect(
            &server,
            &clock,
            (base, ms),
            who,
            true,
            "fewer than 4 requests were made in the last 60 s",
        )
        .await?;
    }
    expect(
        &server,
        &clock,
        (base, base - 50),
        who,
        false,
        "4 requests were made in the last 60 s: the limit is reached",
    )
    .await?;

    let after = base + 100;
    expect(
        &server,
        &clock,
        (base, after),
        who,
        true,
        "the request at B - 59.95 s is now 60.05 s old and no longer counts: 3 remain in the window",
    )
    .await?;
    for i in 1..4 {
        let ms = after + i;
        clock.set(ms);
        let allowed = server.allowed(who).await?;
        ensure!(
            !allowed,
            hint = "count the requests in the last `window` (a sorted set of timestamps, trimmed \
                    to (now - window, now]), not in the current calendar window: a counter that \
                    resets at B lets a second full quota through 200 ms after the first",
            "the request at {} was allowed, but the 60 s window ending there already holds 4 \
             allowed requests (three at B - 100 ms .. B - 98 ms, one at B + 100 ms): a fixed \
             window that resets at the boundary B lets up to 2 × limit through around it",
            at(base, ms)
        );
    }
    never_over_the_limit().await
}

/// limit 3 per 10 s, starting on a boundary s: requests at s, s + 1 ms, s + 2 ms. At
/// s + 10 s - 1 ms the one from s still counts; at s + 10 s it has left.
pub async fn expiry_edge() -> CheckResult {
    let window = Duration::from_secs(10);
    let start = aligned(window);
    let clock = TestClock::at(start);
    let limiter = limiter(config("edge", "default", 3, 10), &clock)?;
    let server = Server::start(&limiter).await?;
    let who = Who::key("edge-client");

    for i in 0..3 {
        expect(
            &server,
            &clock,
            (start, start + i),
            who,
            true,
            "the limit is 3 per 10 s",
        )
        .await?;
    }
    clock.set(start + 9_999);
    let allowed = server.allowed(who).await?;
    ensure!(
        !allowed,
        hint = "a request made at s counts against every decision in [s, s + window): at \
                now, trim only entries with score <= now - window",
        "the request at s + 9.999 s was allowed, but the request made at s is only 9.999 s old \
         and still counts (3 requests in the last 10 s): requests leave the window too early"
    );
    clock.set(start + 10_000);
    let allowed = server.allowed(who).await?;
    ensure!(
        allowed,
        hint = "a request made at s counts against decisions in [s, s + window) only: at \
                s + window it has left, so trim `score <= now - window`, inclusive \
                (ZREMRANGEBYSCORE key -inf <now - window>); and record allowed requests only",
        "the request at s + 10 s was rejected, but the only requests that still count are the \
         ones allowed at s + 1 ms and s + 2 ms: the one made at s is exactly 10 s old and has \
         left the window, and the one rejected at s + 9.999 s never counted"
    );
    never_below_the_limit_rejected().await
}

/// Liveness: no decision is rejected while fewer than `limit` of the client's allowed
/// requests count.
async fn never_below_the_limit_rejected() -> CheckResult {
    schedules(0xED6E, |d| {
        if !d.allowed && d.expected.allowed {
            let window_ms = d.window_ms;
            ensure_eq!(
                verdict(d.allowed),
                verdict(d.expected.allowed),
                hint = "a request made at s counts in [s, s + window) only: at now, trim \
                        `score <= now - window`; and record allowed requests only",
                "{}: only {} of the client's allowed requests count then ({:?}; each counts \
                 for {} ms after it was made), fewer than the limit",
                d.describe(),
                d.expected.counting,
                counting(d, window_ms),
                window_ms
            );
        }
        Ok(())
    })
    .await
}
