//! `responses`: what a client is told. A 429 is an RFC 9457 problem document with a truthful
//! `Retry-After`; every decided response carries `RateLimit-Policy` and `RateLimit`.
//!
//! Scenarios start on a fixed-window boundary and decide nothing in the next fixed window that
//! a fixed window would decide differently, so a fixed window (which `window.boundary` alone is
//! about) gives the same answers here. Waits are fractional (rounding down and rounding up
//! differ) and whole (rounding up must not add a second). The model parts (`crate::model`)
//! run seeded schedules inside one fixed window and compare `r`, `t` and `Retry-After` with
//! the model on every decision whose verdict the model agrees with.

use std::sync::atomic::Ordering;
use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::{CheckResult, Failure, ensure, ensure_eq, fail};

use crate::fields::{Item, policy_item, retry_after};
use crate::harness::{TestClock, aligned, at, config, limiter};
use crate::http::{HANDLED, Reply, Server, Who};
use crate::model;

/// Fills a limit of 2 and checks the third request's 429.
pub async fn problem_json() -> CheckResult {
    let clock = TestClock::at(aligned(Duration::from_secs(60)));
    let server = Server::start(&limiter(config("problem", "default", 2, 60), &clock)?).await?;
    let who = Who::key("problem-client");
    for _ in 0..2 {
        clock.advance(Duration::from_millis(10));
        server.allowed(who).await?;
    }
    clock.advance(Duration::from_millis(10));
    let reply = server.get(who).await?;
    ensure_eq!(
        reply.status.as_u16(),
        429,
        "the third request with a limit of 2 should be rejected with 429 Too Many Requests"
    );
    let media_type = reply.header("content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    ensure_eq!(
        media_type.as_deref(),
        Some("application/problem+json"),
        hint = "RFC 9457: a problem document is served as `Content-Type: application/problem+json`",
        "the 429's Content-Type"
    );
    let body: serde_json::Value = serde_json::from_str(&reply.body).map_err(|e| {
        Failure::new(format!(
            "the 429's body is not JSON ({e}): {:?}",
            reply.body
        ))
    })?;
    let hint = "RFC 9457: {\"type\": \"about:blank\" (or a URI), \"title\": \"Too Many Requests\", \
                \"status\": 429, \"detail\": \"what happened, for this request\"}";
    for member in ["type", "title", "detail"] {
        let ok = body
            .get(member)
            .and_then(|v| v.as_str())
            .is_some_and(|s| !s.trim().is_empty());
        ensure!(
            ok,
            hint = hint,
            "the problem document needs a non-empty string `{member}`: {body}"
        );
    }
    ensure!(
        body.get("status").and_then(|v| v.as_u64()) == Some(429),
        hint = hint,
        "the problem document's `status` must be the number 429: {body}"
    );
    ensure_eq!(
        HANDLED.load(Ordering::SeqCst),
        2,
        hint = "a rejected request must not reach the inner service: answer the 429 instead of \
                calling it",
        "times the application's handler ran for 2 allowed requests and 1 rejected"
    );
    Ok(())
}

/// The `Retry-After` of `reply`, which must be a 429.
fn retry_after_of(reply: &Reply, when: &str) -> Result<u64, Failure> {
    ensure_eq!(
        reply.status.as_u16(),
        429,
        "{when}: the client has made 3 requests in the last 60 s, its limit: expected a 429"
    );
    let Some(field) = reply.header("retry-after") else {
        fail!(
            hint = "send `Retry-After: <seconds>` with every 429: the time until the oldest \
                    counted request leaves the window, rounded up to whole seconds",
            "{when}: the 429 has no Retry-After"
        );
    };
    retry_after(field).map_err(|e| Failure::new(format!("{when}: {e}")))
}

/// Two clients with the same allowed requests: at `now` the first gets a 429 whose
/// `Retry-After` must be `expected`; it retries at `Retry-After - 1 s` (must fail) and its twin,
/// which never saw a 429, at `Retry-After` (must succeed). The twin keeps the check about the
/// header alone: a limiter that wrongly records rejected requests (`window.expiry_edge`'s
/// business) is not caught here by the probe one second early.
async fn truthful(
    server: &Server,
    clock: &TestClock,
    base: u64,
    (who, twin): (Who<'_>, Who<'_>),
    now: u64,
    (expected, whole): (u64, bool),
) -> CheckResult {
    clock.set(now);
    let when = format!("at {}", at(base, now));
    let wait = retry_after_of(&server.get(who).await?, &when)?;
    let rounding = "Retry-After is the wait until the oldest counted request leaves the window, \
                    rounded UP to whole seconds (rounding down sends clients back too early; \
                    a whole number of seconds stays as it is)";
    if wait > 0 {
        clock.set(now + (wait - 1) * 1000);
        let allowed = server.allowed(who).await?;
        ensure!(
            !allowed,
            hint = rounding,
            "{when} the 429 said `Retry-After: {wait}`, yet a retry {} s later was allowed: \
             Retry-After overstates the wait",
            wait - 1
        );
    }
    // The twin's retry, unless the wait is whole seconds: then it would land exactly on the
    // oldest request's edge, and whether that request still counts there is
    // `window.expiry_edge`'s business. (The early retry and the value still apply.)
    if !whole {
        clock.set(now + wait * 1000);
        let allowed = server.allowed(twin).await?;
        ensure!(
            allowed,
            hint = rounding,
            "{when} the 429 said `Retry-After: {wait}`, yet a request {wait} s later from a \
             client with the same history was rejected"
        );
    }
    ensure_eq!(
        wait,
        expected,
        hint = rounding,
        "{when}: Retry-After (seconds until the oldest counted request leaves the window)"
    );
    Ok(())
}

/// Three scenarios, limit 3 per 60 s, each starting at a boundary B: the wait is 1.5 s,
/// 19.2 s, then exactly 2 s. Then seeded schedules against the model.
pub async fn retry_after_check() -> CheckResult {
    let window = Duration::from_secs(60);
    let mut base = aligned(window);
    let clock = TestClock::at(base);
    let server = Server::start(&limiter(config("retry", "default", 3, 60), &clock)?).await?;

    // Requests at B, B + 20 s, B + 40 s; at B + 58.5 s the one at B leaves in 1.5 s. Then
    // B' + 0, 100, 200 ms, and at B' + 40.8 s the wait is 19.2 s. Then B'' + 0, 20 s, 40 s
    // and at B'' + 58 s the wait is exactly 2 s: not 3.
    let scenarios: [(&[u64], u64, (u64, bool)); 3] = [
        (&[0, 20_000, 40_000], 58_500, (2, false)),
        (&[0, 100, 200], 40_800, (20, false)),
        (&[0, 20_000, 40_000], 58_000, (2, true)),
    ];
    for (i, (offsets, now, expected)) in scenarios.into_iter().enumerate() {
        let (name, twin) = (format!("retry-client-{i}"), format!("retry-twin-{i}"));
        let (who, twin) = (Who::key(&name), Who::key(&twin));
        for &offset in offsets {
            clock.set(base + offset);
            server.allowed(who).await?;
            server.allowed(twin).await?;
        }
        truthful(&server, &clock, base, (who, twin), base + now, expected).await?;
        base += 2 * 60_000;
    }

    explore(
        Explore::new(0x2E7A).cases(50).max_shrink_steps(150),
        model::response_scenario(),
        |scenario| async move {
            let base = aligned(Duration::from_secs(60));
            model::run(&scenario, base, |d| {
                if d.allowed || d.expected.allowed {
                    return Ok(()); // Only 429s that the window agrees with.
                }
                let when = d.describe();
                let wait = retry_after_of(d.reply, &when)?;
                ensure_eq!(
                    wait,
                    d.expected.reset,
                    hint = "Retry-After = ceil((oldest counted + window - now) / 1 s): a wait \
                            of exactly k seconds is k, 1 ms more is k + 1",
                    "{when}: Retry-After, with the client's requests at {:?} (ms after B)",
                    d.history
                );
                Ok(())
            })
            .await
        },
    )
    .await
}

/// The two fields of `reply`, parsed, with their `policy` member.
fn fields(reply: &Reply, policy: &str, when: &str) -> Result<(Item, Item), Failure> {
    let hint = "on every response the limiter decided (allowed or 429), send \
                `RateLimit-Policy: \"<name>\";q=<limit>;w=<window seconds>` and \
                `RateLimit: \"<name>\";r=<remaining>;t=<seconds until quota frees>`";
    let mut items = Vec::new();
    for name in ["RateLimit-Policy", "RateLimit"] {
        let Some(field) = reply.header(name) else {
            fail!(
                hint = hint,
                "{when}: the {} response has no `{name}` field",
                reply.status
            );
        };
        let item = policy_item(field, policy)
            .map_err(|e| Failure::new(format!("{when}: `{name}: {field}`: {e}")).with_hint(hint))?;
        items.push(item);
    }
    let state = items.pop().expect("two items");
    let declared = items.pop().expect("two items");
    Ok((declared, state))
}

fn int(item: &Item, key: &str, field: &str, when: &str) -> Result<u64, Failure> {
    item.int(key)
        .map_err(|e| Failure::new(format!("{when}: `{field}`: {e}")))
}

/// Policy "api-v1", limit 4 per 30 s, from a boundary B: four allowed, then a 429 at B + 22.4 s.
pub async fn ratelimit_headers() -> CheckResult {
    let base = aligned(Duration::from_secs(30));
    let clock = TestClock::at(base);
    let server = Server::start(&limiter(config("fields", "api-v1", 4, 30), &clock)?).await?;
    let who = Who::key("fields-client");

    for (n, offset) in [0u64, 5_000, 10_000, 15_000].into_iter().enumerate() {
        clock.set(base + offset);
        let when = format!("request {} at {}", n + 1, at(base, base + offset));
        let reply = server.get(who).await?;
        ensure!(
            reply.allowed(&when)?,
            "{when} was rejected; limit 4 per 30 s"
        );
        let (declared, state) = fields(&reply, "api-v1", &when)?;
        ensure_eq!(
            (
                int(&declared, "q", "RateLimit-Policy", &when)?,
                int(&declared, "w", "RateLimit-Policy", &when)?
            ),
            (4, 30),
            "{when}: RateLimit-Policy (q, w) for a limit of 4 per 30 s"
        );
        ensure_eq!(
            int(&state, "r", "RateLimit", &when)?,
            3 - n as u64,
            hint = "r is the quota left after this request: limit minus the requests in the \
                    window, this one included",
            "{when}: RateLimit r"
        );
        ensure_eq!(
            int(&state, "t", "RateLimit", &when)?,
            30 - 5 * n as u64,
            hint = "t is the time until the oldest counted request (here the one at B) leaves \
                    the window, rounded up: not the window itself",
            "{when}: RateLimit t"
        );
    }

    let now = base + 22_400;
    clock.set(now);
    let when = format!("the 429 at {}", at(base, now));
    let reply = server.get(who).await?;
    ensure!(
        !reply.allowed(&when)?,
        "{when} was allowed; 4 requests in the last 30 s"
    );
    let (declared, state) = fields(&reply, "api-v1", &when)?;
    ensure_eq!(
        (
            int(&declared, "q", "RateLimit-Policy", &when)?,
            int(&declared, "w", "RateLimit-Policy", &when)?
        ),
        (4, 30),
        "{when}: RateLimit-Policy (q, w)"
    );
    ensure_eq!(
        int(&state, "r", "RateLimit", &when)?,
        0,
        "{when}: RateLimit r"
    );
    ensure_eq!(
        int(&state, "t", "RateLimit", &when)?,
        8,
        hint = "t is the time until the oldest counted request (at B) leaves the window, \
                rounded up: B + 30 s - (B + 22.4 s) = 7.6 s -> 8",
        "{when}: RateLimit t"
    );
    fields_model().await
}

/// Seeded schedules inside one fixed window: `r` and `t` of every decision whose verdict the
/// model agrees with (a wrong verdict is `window`'s business).
async fn fields_model() -> CheckResult {
    explore(
        Explore::new(0xF1E1D).cases(50).max_shrink_steps(150),
        model::response_scenario(),
        |scenario| async move {
            let base = aligned(Duration::from_secs(60));
            model::run(&scenario, base, |d| {
                if d.allowed != d.expected.allowed {
                    return Ok(());
                }
                let when = d.describe();
                let (_, state) = fields(d.reply, "default", &when)?;
                ensure_eq!(
                    (
                        int(&state, "r", "RateLimit", &when)?,
                        int(&state, "t", "RateLimit", &when)?
                    ),
                    (d.expected.remaining, d.expected.reset),
                    hint = "r = limit - requests counting now, this one included (0 on a 429); \
                            t = ceil((oldest counted + window - now) / 1 s)",
                    "{when} ({}): RateLimit (r, t), with the client's allowed requests at {:?} \
                     (ms after B)",
                    if d.allowed { "allowed" } else { "rejected" },
                    d.history
                );
                Ok(())
            })
            .await
        },
    )
    .await
}
