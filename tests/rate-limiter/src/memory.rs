//! `memory`: Redis stays bounded. Every key expires (and its TTL follows the client's
//! activity), and a client's stored history is trimmed to the window.
//!
//! The suite looks at every key under the limiter's prefix rather than at a key name it
//! guesses: the attempt may name, hash or structure its keys as it likes.

use std::time::Duration;

use grade_kit::{CheckResult, Failure, ensure, fail};

use crate::harness::{
    TestClock, config, keys_under, limiter, namespace_prefix, real_now_ms, redis,
};
use crate::http::{Who, app, call};

/// Limit 1 per 10 s. Two requests 1 s apart (real time, and the clock with it), the second
/// one rejected, then every key under the prefix must expire between 9.5 s and 21 s from now: the
/// TTL is refreshed on every decision, a rejected one included.
pub async fn ttl() -> CheckResult {
    let gap = grade_kit::env::scaled(Duration::from_secs(1));
    let clock = TestClock::at(real_now_ms());
    let limiter = limiter(config("ttl", "default", 1, 10), &clock)?;
    let router = app(&limiter);
    let who = Who::key("ttl-client");
    call(&router, who).await?;
    tokio::time::sleep(gap).await;
    clock.advance(gap);
    // Rejected by a sliding window. (Whatever the verdict, the TTL must follow this decision:
    // the check does not insist on the verdict, which is `window`'s business.)
    call(&router, who).await?;

    let mut redis = redis().await?;
    let keys = keys_under(&mut redis, &namespace_prefix("ttl")).await?;
    ensure!(
        !keys.is_empty(),
        "after two allowed requests, no Redis key starts with the configured key_prefix {:?}",
        namespace_prefix("ttl")
    );
    let window_ms: i64 = 10_000;
    let refreshed_floor = window_ms - gap.as_millis() as i64 / 2;
    for key in keys {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .map_err(|e| Failure::new(format!("PTTL {key} failed: {e}")))?;
        match pttl {
            -2 => continue, // Expired or deleted meanwhile: bounded by definition.
            -1 => fail!(
                hint = "set a TTL on every key you write (PEXPIRE key <window ms> in the same \
                        script): a client that never comes back must not cost memory forever",
                "key {key:?} has no TTL: it lives forever"
            ),
            ms if ms < refreshed_floor => fail!(
                hint = "refresh the TTL on every decision, allowed or rejected (PEXPIRE each \
                        time, not only when the key is created or a request recorded)",
                "key {key:?} expires in {ms} ms, but the client's latest request was just now: \
                 its TTL was not refreshed by the second request (rejected, {} ms after the \
                 first), and should be about one window (10 s)",
                gap.as_millis()
            ),
            ms if ms > 2 * window_ms + 1_000 => fail!(
                hint = "a key is useless one window after its newest entry: expire it then",
                "key {key:?} expires in {ms} ms, more than twice the 10 s window"
            ),
            _ => {}
        }
    }
    Ok(())
}

/// The number of entries a key holds, whatever its type.
async fn size(redis: &mut redis::aio::MultiplexedConnection, key: &str) -> Result<u64, Failure> {
    let kind: String = redis::cmd("TYPE")
        .arg(key)
        .query_async(redis)
        .await
        .map_err(|e| Failure::new(format!("TYPE {key} failed: {e}")))?;
    let command = match kind.as_str() {
        "zset" => "ZCARD",
        "list" => "LLEN",
        "set" => "SCARD",
        "hash" => "HLEN",
        "stream" => "XLEN",
        _ => return Ok(1),
    };
    redis::cmd(command)
        .arg(key)
        .query_async(redis)
        .await
        .map_err(|e| Failure::new(format!("{command} {key} failed: {e}")))
}

/// Limit 5 per 10 s; one request per second for 20 windows (100 allowed in all), then the
/// entries stored under the prefix must number at most 2 × limit.
pub async fn trimmed() -> CheckResult {
    const LIMIT: u64 = 5;
    let clock = TestClock::at(real_now_ms());
    let limiter = limiter(config("trim", "default", LIMIT as u32, 10), &clock)?;
    let router = app(&limiter);
    let who = Who::key("trim-client");
    let mut allowed = 0;
    for _ in 0..200 {
        clock.advance(Duration::from_secs(1));
        allowed += u64::from(call(&router, who).await?);
    }

    let mut redis = redis().await?;
    let keys = keys_under(&mut redis, &namespace_prefix("trim")).await?;
    let mut total = 0;
    let mut sizes = Vec::new();
    for key in &keys {
        let n = size(&mut redis, key).await?;
        total += n;
        sizes.push(format!("{key}: {n}"));
    }
    ensure!(
        !keys.is_empty(),
        "after {allowed} allowed requests no key starts with the configured key_prefix"
    );
    ensure!(
        total <= 2 * LIMIT,
        hint = "trim entries that left the window on every decision (ZREMRANGEBYSCORE key -inf \
                <now - window>) before counting: a TTL alone never fires for a client that \
                keeps coming",
        "after 200 s of one request per second ({allowed} allowed, limit {LIMIT} per 10 s), the \
         keys under the prefix hold {total} entries, expected at most {}: {sizes:?}",
        2 * LIMIT
    );
    Ok(())
}
