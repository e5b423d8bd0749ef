//! What a retry gets back: the stored response (`replay`), a 422 for a reused key
//! (`mismatch`), a fresh run for another client's key (`scope`), and which first outcomes are
//! stored at all (`errors`).
//!
//! Only `replay.same_response` looks at the `Idempotent-Replayed` header; the others judge
//! status, body and gateway calls, so a missing header fails one check, not six.

use std::time::Duration;

use grade_kit::{CheckResult, ensure};

use crate::harness::{Server, Step, body, ensure_calls, ensure_same_response};

/// Responses are kept for a minute in these checks: far longer than any of them runs.
pub const TTL: Duration = Duration::from_secs(60);
/// A lease no request in these checks comes near.
pub const LEASE: Duration = Duration::from_secs(30);

const CREATED_HINT: &str = "a valid POST /payments with a new Idempotency-Key calls the gateway \
                            once and answers 201 with the Payment as JSON";

/// A retry replays status and body, marked, without a second charge; a new key charges again.
pub async fn same_response() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let alice = server.client("alice");
    let first = alice.send("order-1", &body(1)).await?;
    first.expect_status(201, "the first request", CREATED_HINT)?;
    ensure_calls(&server.gateway, 1, "after the first request")?;
    let payment = first.json().unwrap_or_default();
    ensure!(
        first.media_type().as_deref() == Some("application/json")
            && payment["status"] == "succeeded"
            && payment["charge_id"] == "ch_1"
            && payment["id"].is_string(),
        hint = CREATED_HINT,
        "the first request's 201 should be application/json with the Payment (`id`, \
         `status: \"succeeded\"`, `charge_id` = the gateway's charge id \"ch_1\"); got {} \
         (Content-Type {:?})",
        first.summary(),
        first.content_type
    );
    ensure!(
        first.replayed.is_none(),
        hint = "only replays carry the `Idempotent-Replayed` header: leave it off the first \
                response (not even `false`)",
        "the first response carries `Idempotent-Replayed: {}`, but it was not a replay",
        first.replayed.as_deref().unwrap_or_default()
    );
    for retry in 1..=2 {
        let again = alice.send("order-1", &body(1)).await?;
        let what = format!("retry {retry} with the same key and body");
        ensure_same_response(&again, &first, &what)?;
        ensure_calls(&server.gateway, 1, &format!("after {what}"))?;
        ensure!(
            again.is_replay(),
            hint = "mark every replayed response with the header `Idempotent-Replayed: true`",
            "{what}: the replayed response has no `Idempotent-Replayed: true` header (got {:?})",
            again.replayed
        );
    }
    let other = alice.send("order-2", &body(1)).await?;
    other.expect_status(
        201,
        "the same body with a new key",
        "the key, not the body, identifies the operation: a new key is a new payment",
    )?;
    ensure_calls(&server.gateway, 2, "after a request with a new key")?;
    ensure!(
        other.json() != first.json(),
        hint = "a new key is a new payment, with its own id",
        "a new key got the first payment's response back: {}",
        other.summary()
    );
    Ok(())
}

/// Same key, different body: 422 (a problem), no charge, and the stored response is untouched.
pub async fn rejected() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let alice = server.client("alice");
    let first = alice.send("order-1", &body(1)).await?;
    first.expect_status(201, "the first request", CREATED_HINT)?;
    let reused = alice.send("order-1", &body(2)).await?;
    reused.expect_status(
        422,
        "the same key with a different body",
        "store a fingerprint of the body (e.g. SHA-256) with the key, and answer 422 when a \
         request with that key has a different one",
    )?;
    ensure!(
        reused.media_type().as_deref() == Some("application/problem+json"),
        hint = "answer the 422 with a problem: `Problem::new(StatusCode::UNPROCESSABLE_ENTITY, \
                \"...\").into_response()`",
        "the 422 for a reused key has Content-Type {:?}, expected application/problem+json",
        reused.content_type
    );
    ensure_calls(
        &server.gateway,
        1,
        "after reusing the key with another body",
    )?;
    let retry = alice.send("order-1", &body(1)).await?;
    ensure_same_response(
        &retry,
        &first,
        "a retry with the original body, after the 422",
    )?;
    ensure_calls(&server.gateway, 1, "after retrying the original request")?;
    Ok(())
}

/// Two clients using the same key string make two payments; each replays its own.
pub async fn per_client() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let (alice, bob) = (server.client("alice"), server.client("bob"));
    let hint = "scope the stored key by client (the bearer token): store it under (client, key), \
                so one client's key never matches another's";
    let alices = alice.send("order-1", &body(1)).await?;
    alices.expect_status(201, "alice's first request", CREATED_HINT)?;
    let bobs = bob.send("order-1", &body(1)).await?;
    bobs.expect_status(201, "bob's first request with alice's key string", hint)?;
    ensure!(
        bobs.json() != alices.json(),
        hint = hint,
        "bob got alice's payment back: {}",
        bobs.summary()
    );
    ensure_calls(&server.gateway, 2, "after alice's and bob's requests")?;
    let alice_again = alice.send("order-1", &body(1)).await?;
    ensure_same_response(&alice_again, &alices, "alice's retry")?;
    let bob_again = bob.send("order-1", &body(1)).await?;
    ensure_same_response(&bob_again, &bobs, "bob's retry")?;
    ensure_calls(&server.gateway, 2, "after both retries")?;
    Ok(())
}

/// A 502 caused by the gateway is the request's outcome: stored and replayed, Content-Type
/// and all.
pub async fn failure_stored() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    server.gateway.then(Step::Fail(503));
    let alice = server.client("alice");
    let first = alice.send("order-1", &body(1)).await?;
    ensure!(
        first.status == 502 && first.media_type().as_deref() == Some("application/problem+json"),
        hint = "when the gateway fails, answer 502 Bad Gateway with a problem: \
                `Problem::new(StatusCode::BAD_GATEWAY, ...).into_response()`",
        "the gateway failed with 503; expected 502 with Content-Type application/problem+json, \
         got {} (Content-Type {:?})",
        first.summary(),
        first.content_type
    );
    ensure_calls(&server.gateway, 1, "after the first request")?;
    let retry = alice.send("order-1", &body(1)).await?;
    if retry.status == 201 || server.gateway.calls() > 1 {
        grade_kit::fail!(
            hint = "store the error response like any other once the gateway has been called: \
                    the request ran, and a retry must not charge again",
            "the retry called the gateway again ({} calls) instead of replaying the stored {}: \
             got {}",
            server.gateway.calls(),
            first.status,
            retry.summary()
        );
    }
    ensure_same_response(&retry, &first, "a retry after the gateway failed")?;
    Ok(())
}

/// A request rejected by validation stores nothing: the corrected request, same key, runs
/// (and the smallest valid amount, 1, is valid).
pub async fn validation_not_stored() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let alice = server.client("alice");
    // Each invalid in one way only: the amount just below the limit, a currency with three
    // letters that are not uppercase, four uppercase letters, and a body that is not JSON.
    let invalid = [
        r#"{"amount":0,"currency":"EUR"}"#,
        r#"{"amount":1000,"currency":"eur"}"#,
        r#"{"amount":1000,"currency":"EURO"}"#,
        r#"{"amount":"#,
    ];
    for bad in invalid {
        let reply = alice.send("order-1", bad).await?;
        ensure!(
            (400..500).contains(&reply.status),
            hint = "validate the body (amount ≥ 1, currency three uppercase letters) and \
                    answer 400 before calling the gateway",
            "an invalid body {bad} got {}, expected a 4xx",
            reply.summary()
        );
        ensure_calls(&server.gateway, 0, &format!("after the invalid body {bad}"))?;
    }
    // The corrected request, at the smallest valid amount.
    let fixed = alice
        .send("order-1", r#"{"amount":1,"currency":"EUR"}"#)
        .await?;
    fixed.expect_status(
        201,
        "the corrected request, with the key the invalid ones used",
        "a request that failed validation did nothing: release its key (or never claim it) \
         instead of storing the 400, so the client's corrected retry runs",
    )?;
    ensure_calls(&server.gateway, 1, "after the corrected request")?;
    Ok(())
}
