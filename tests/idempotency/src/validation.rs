//! The `Idempotency-Key` header itself: required on this endpoint, and 1 to 255 visible ASCII
//! characters (`validation`).

use grade_kit::{CheckResult, ensure};

use crate::harness::{Server, body, ensure_calls, show_key};
use crate::replay::{LEASE, TTL};

/// No key: 400 with an `application/problem+json` body, and no charge.
pub async fn missing_key() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let reply = server.client("alice").post(None, &body(1)).await?;
    reply.expect_status(
        400,
        "a request without Idempotency-Key",
        "the key is required on this endpoint: without it a retry cannot be recognised, so \
         refuse the request before doing anything",
    )?;
    ensure_calls(&server.gateway, 0, "after a request without a key")?;
    let media_type = reply
        .content_type
        .as_deref()
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    ensure!(
        media_type.as_deref() == Some("application/problem+json"),
        hint = "send errors as RFC 9457 problems: `Problem::new(StatusCode::BAD_REQUEST, \
                \"...\").into_response()` does it",
        "the 400 has Content-Type {:?}, expected application/problem+json",
        reply.content_type
    );
    ensure!(
        reply.json().is_some_and(|json| json.is_object()),
        hint = "a problem body is a JSON object (type, title, status, detail)",
        "the 400's body is not a JSON object: {}",
        reply.summary()
    );
    Ok(())
}

/// Malformed keys get 400 and no charge; keys of 1 and 255 visible characters work.
pub async fn key_format() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let alice = server.client("alice");
    let hint = "accept keys of 1 to 255 characters, each visible ASCII (0x21..=0x7E); answer \
                400 to anything else before touching Redis or the gateway";
    let too_long = vec![b'k'; 256];
    let rejected: [(&[u8], &str); 5] = [
        (b"", "an empty key"),
        (&too_long, "a key of 256 characters"),
        (b"order 1", "a key with a space"),
        (b"order\t1", "a key with a tab"),
        ("caf\u{e9}-1".as_bytes(), "a key with a non-ASCII character"),
    ];
    for (key, what) in rejected {
        let reply = alice.post(Some(key), &body(1)).await?;
        ensure!(
            reply.status == 400,
            hint = hint,
            "{what} ({}) got {}, expected 400",
            show_key(Some(key)),
            reply.summary()
        );
        ensure_calls(&server.gateway, 0, &format!("after {what}"))?;
    }
    // Every visible ASCII character, cycled to exactly 255 of them: the longest valid key.
    let longest: String = (0x21u8..=0x7e).cycle().take(255).map(char::from).collect();
    let accepted = [
        (longest.as_str(), "a key of 255 visible ASCII characters"),
        ("x", "a key of one character"),
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "a UUID key"),
    ];
    for (n, (key, what)) in (1..).zip(accepted) {
        let reply = alice.send(key, &body(n)).await?;
        ensure!(
            reply.status == 201,
            hint = hint,
            "{what} ({}) got {}, expected 201",
            show_key(Some(key.as_bytes())),
            reply.summary()
        );
    }
    Ok(())
}
