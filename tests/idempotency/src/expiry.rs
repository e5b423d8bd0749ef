//! Expiry in Redis time: stored responses after the TTL (`ttl`), and the lock of a request
//! that died mid-flight after the lease (`lease`).
//!
//! Redis keeps real time, so these checks do too, with short expiries (scaled by the grader's
//! `--timeout-scale`) and margins that leave no room for a flake: an assertion that something
//! is still there is only made when the suite *knows* the expiry has not come yet (the reply
//! arrived before the earliest moment it could), and one that it is gone only once the latest
//! moment it could expire is half an expiry behind.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use grade_kit::{CheckResult, ensure, fail};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::harness::{Server, Step, body, ensure_calls, ensure_same_response};
use crate::replay::{LEASE, TTL};

/// The TTL of stored responses in the `ttl` check (scaled).
const SHORT_TTL: Duration = Duration::from_millis(500);
/// The lease of in-flight requests in the `lease` check (scaled).
const SHORT_LEASE: Duration = Duration::from_millis(800);

/// Before the TTL a retry is replayed; after it, the same key makes a new payment.
pub async fn expires() -> CheckResult {
    let ttl = grade_kit::env::scaled(SHORT_TTL);
    let server = Server::start(ttl, LEASE).await?;
    let alice = server.client("alice");
    let sent = Instant::now();
    let first = alice.send("order-1", &body(1)).await?;
    // The response was stored before it was sent: it expires at `answered + ttl` at the latest.
    let answered = Instant::now();
    first.expect_status(201, "the first request", "a valid request answers 201")?;
    let retry = alice.send("order-1", &body(1)).await?;
    // ... and at `sent + ttl` at the earliest: only a reply from before then must be a replay.
    if sent.elapsed() < ttl {
        ensure_same_response(&retry, &first, "a retry well within the TTL")?;
        ensure_calls(&server.gateway, 1, "after a retry within the TTL")?;
    }
    let margin = ttl / 2;
    tokio::time::sleep_until(answered + ttl + margin).await;
    let calls = server.gateway.calls();
    let later = alice.send("order-1", &body(1)).await?;
    let hint = "store the response with an expiry of config.ttl (PX on SET, or PEXPIRE), so \
                that after it the key counts as new";
    later.expect_status(
        201,
        &format!("the same key and body {margin:?} after the TTL ({ttl:?}) ran out"),
        hint,
    )?;
    ensure!(
        server.gateway.calls() == calls + 1 && !later.is_replay() && later.json() != first.json(),
        hint = hint,
        "after the TTL the same key should make a new payment, but the original response came \
         back: {}",
        later.summary()
    );
    Ok(())
}

/// A request that died after the charge, before storing: 409 before the lease, run after it.
pub async fn lease_expires() -> CheckResult {
    let lease = grade_kit::env::scaled(SHORT_LEASE);
    let server = Server::start(TTL, lease).await?;
    let alice = server.client("alice");

    // The crash: the first call of the gateway never returns, and once it has started the
    // suite drops the request's future, as a dying process (or a dropped connection) would.
    server.gateway.then(Step::Hang);
    let request = Request::post("/payments")
        .header("authorization", "Bearer alice")
        .header("content-type", "application/json")
        .header("idempotency-key", "order-1")
        .body(Body::from(body(1)))
        .map_err(|error| grade_kit::Failure::new(format!("suite bug: {error}")))?;
    let sent = Instant::now();
    let in_flight = tokio::spawn(server.router.clone().oneshot(request));
    server
        .gateway
        .wait_for_calls(1, "the first request reaching the gateway")
        .await?;
    // The key was claimed before the gateway was called: its lease ends by `entered + lease`.
    let entered = Instant::now();
    in_flight.abort();
    let _ = in_flight.await;

    let probe = alice.send("order-1", &body(1)).await?;
    if sent.elapsed() >= lease {
        fail!(
            hint = "this machine is too slow for the lease used here: grade again with a larger \
                    --timeout-scale",
            "could not probe the key within its lease ({lease:?}): the retry took until {:?} \
             after the first request",
            sent.elapsed()
        );
    }
    ensure!(
        probe.status == 409 && server.gateway.calls() == 1,
        hint = "the crashed request's charge may have happened: keep its claim until the lease \
                runs out, and answer retries 409 meanwhile (do not release it when the request \
                future is dropped)",
        "a retry right after the first request died mid-charge got {} ({} gateway calls); \
         expected 409 and no new call while the lease ({lease:?}) runs",
        probe.summary(),
        server.gateway.calls()
    );

    let margin = lease / 2;
    tokio::time::sleep_until(entered + lease + margin).await;
    let retry = alice.send("order-1", &body(1)).await?;
    retry.expect_status(
        201,
        &format!("a retry {margin:?} after the lease ({lease:?}) of the crashed request ran out"),
        "claim the key with an expiry of config.lease (SET NX PX, or PEXPIRE in the script), \
         so a request that dies before storing its response does not lock the key forever",
    )?;
    ensure_calls(&server.gateway, 2, "after the retry that ran")?;
    Ok(())
}
