//! `atomic` and `multi_instance`: the count is right however requests interleave, and costs one
//! Redis round trip.
//!
//! # Why the burst exposes a check-then-write race every time
//! The burst calls the middleware directly (no HTTP) and awaits all 60 calls with one
//! `join_all`, so a single task polls them: every call runs up to its first Redis command
//! before any call sees a reply (`FuturesUnordered` polls each new future once before it polls
//! any again). An implementation that reads the count in one round trip and writes in another
//! therefore has 60 reads queued on the connection before the first write: all 60 read
//! "0 of 5" and all 60 are allowed. That is deterministic, not a matter of luck; three rounds
//! only add margin for attempts that pool connections. An atomic decision (a Lua script,
//! a function, `MULTI`) cannot be split that way and allows exactly 5 each round.
//!
//! # Why two servers cannot race unseen
//! Across two servers each limiter has its own connection, so the order of their commands in
//! Redis is up to the network. `combined` decides it on purpose: server A talks to Redis
//! through a proxy that runs only A's first `j` commands of a decision, then all of server B's
//! decision, then the rest of A's, for every `j` between A's commands. A count read in one
//! command and a write in a later one (two round trips, or one pipeline without `MULTI`)
//! then both read "room for one" at some `j`, every run; a script or `MULTI … EXEC` cannot be
//! split.
//!
//! The clock stands still during the burst: requests in one millisecond are the normal case
//! for a burst, and they must count as different requests (the sorted set's members must be
//! unique, or `ZADD` overwrites instead of adding).

use std::time::Duration;

use futures::future::join_all;
use grade_kit::{CheckResult, ensure};

use crate::harness::{TestClock, aligned, config, limiter, limiter_at};
use crate::http::{Server, Who, app, call};
use crate::proxy::Proxy;

/// The limit in the burst and round-trip checks.
const LIMIT: usize = 5;
/// Concurrent requests per burst round.
const BURST: usize = 60;

/// Sequential requests at one instant, then three rounds of 60 concurrent ones.
pub async fn burst() -> CheckResult {
    let clock = TestClock::at(aligned(Duration::from_secs(60)) + 1_000);
    let limiter = limiter(config("burst", "default", LIMIT as u32, 60), &clock)?;
    let router = app(&limiter);

    let who = Who::key("same-instant");
    let mut verdicts = Vec::new();
    for _ in 0..LIMIT + 2 {
        verdicts.push(call(&router, who).await?);
    }
    let allowed = verdicts.iter().filter(|&&a| a).count();
    ensure!(
        allowed <= LIMIT,
        hint = "give every request its own sorted-set member (timestamp plus a unique suffix: a \
                random id, a per-process id and counter, or a counter in Redis): with the \
                timestamp alone, ZADD of an existing member only updates its score",
        "{} requests one after another at the same instant: {allowed} were allowed, limit {LIMIT} \
         (verdicts {verdicts:?}): requests made in the same millisecond are not all counted",
        LIMIT + 2
    );
    ensure!(
        allowed == LIMIT,
        "{} requests one after another at the same instant: only {allowed} were allowed, \
         expected the first {LIMIT} (verdicts {verdicts:?})",
        LIMIT + 2
    );

    for round in 1..=3 {
        let key = format!("burst-round-{round}");
        let calls = (0..BURST).map(|_| call(&router, Who::key(&key)));
        let mut allowed = 0;
        for verdict in join_all(calls).await {
            allowed += usize::from(verdict?);
        }
        ensure!(
            allowed <= LIMIT,
            hint = "make the decision atomic in Redis: one Lua script (or function) that trims, \
                    counts, adds only when under the limit and sets the TTL; a count read in \
                    one command and a ZADD in another lets every concurrent request read the \
                    same count",
            "burst {round}: {BURST} concurrent requests from one client, limit {LIMIT}: {allowed} \
             were allowed"
        );
        ensure!(
            allowed > 0,
            "burst {round}: {BURST} concurrent requests from a fresh client, limit {LIMIT}: none \
             was allowed"
        );
    }
    Ok(())
}

/// Counts the round trips of six decisions (three allowed, three rejected) through a proxy.
pub async fn one_round_trip() -> CheckResult {
    let proxy = Proxy::start(&grade_kit::services::redis_url()).await?;
    let clock = TestClock::at(aligned(Duration::from_secs(60)) + 1_000);
    let limiter = limiter_at(&proxy.url, config("trips", "default", 3, 60), &clock)?;
    let router = app(&limiter);
    // The first decision connects and (with EVALSHA) may load the script: not measured.
    call(&router, Who::key("warm-up")).await?;

    let who = Who::key("round-trips");
    let mut total = 0;
    for decision in 1..=6 {
        clock.advance(Duration::from_millis(1));
        proxy.reset();
        let allowed = call(&router, who).await?;
        let batches = proxy.batches();
        let verdict = if allowed { "allowed" } else { "rejected" };
        ensure!(
            batches.len() <= 1,
            hint = "send the whole decision at once: EVALSHA of one script (redis::Script), an \
                    FCALL, or a MULTI/EXEC pipeline; a command whose arguments depend on an \
                    earlier reply costs another round trip",
            "decision {decision} ({verdict}) took {} round trips to Redis; the commands sent \
             in each, in order: {batches:?}",
            batches.len()
        );
        total += batches.len();
    }
    ensure!(
        total > 0,
        "six decisions sent no command to Redis through the URL the limiter was given"
    );
    Ok(())
}

/// Two servers, each with its own limiter instance, sharing one Redis, at one instant.
pub async fn combined() -> CheckResult {
    const LIMIT: usize = 6;
    let clock = TestClock::at(aligned(Duration::from_secs(60)) + 1_000);
    let config = config("shared", "default", LIMIT as u32, 60);
    let a = Server::start(&limiter(config.clone(), &clock)?).await?;
    let b = Server::start(&limiter(config, &clock)?).await?;
    let who = Who::key("roaming-client");

    let mut verdicts = Vec::new();
    for i in 0..10 {
        let (name, server) = if i % 2 == 0 { ("A", &a) } else { ("B", &b) };
        verdicts.push((name, server.allowed(who).await?));
    }
    let allowed = verdicts.iter().filter(|(_, a)| *a).count();
    let expected: Vec<bool> = (0..10).map(|i| i < LIMIT).collect();
    let actual: Vec<bool> = verdicts.iter().map(|(_, a)| *a).collect();
    ensure!(
        allowed <= LIMIT,
        hint = "keep all state in Redis under a key that depends only on the policy and the \
                client, and make members unique across servers too (a per-process counter \
                alone restarts at 0 on every server)",
        "10 requests at one instant, alternating between two servers sharing one Redis \
         (limit {LIMIT}): {allowed} were allowed ({verdicts:?})"
    );
    ensure!(
        actual == expected,
        "10 requests at one instant, alternating between two servers sharing one Redis \
         (limit {LIMIT}): expected the first {LIMIT} allowed, got {verdicts:?}"
    );
    interleaved().await
}

/// Limit 1: server A's decision held after each of its commands in turn while server B decides
/// for the same client; exactly one of the two may be allowed.
async fn interleaved() -> CheckResult {
    let proxy = Proxy::start(&grade_kit::services::redis_url()).await?;
    let clock = TestClock::at(aligned(Duration::from_secs(60)) + 1_000);
    let config = config("interleaved", "default", 1, 60);
    let a = app(&limiter_at(&proxy.url, config.clone(), &clock)?);
    let b = app(&limiter(config, &clock)?);
    // Connect both and load any script; then count the data commands of one decision of A.
    call(&a, Who::key("warm-up-a")).await?;
    call(&b, Who::key("warm-up-b")).await?;
    proxy.reset();
    call(&a, Who::key("count-a")).await?;
    let commands: usize = proxy.batches().iter().map(Vec::len).sum();
    let sent = proxy.batches();

    for held_after in 1..commands {
        let name = format!("interleaved-{held_after}");
        let who = Who::key(&name);
        proxy.hold_after(held_after);
        let a_call = call(&a, who);
        tokio::pin!(a_call);
        let a_early = tokio::select! {
            verdict = &mut a_call => Some(verdict),
            () = proxy.holding() => None,
        };
        // B runs while A is held. A limiter that (wrongly or not) routes B's commands through
        // A's connection would wait for A here: give up waiting after a while and let A go.
        let b_call = call(&b, who);
        tokio::pin!(b_call);
        let b_early = tokio::select! {
            verdict = &mut b_call => Some(verdict),
            () = tokio::time::sleep(Duration::from_secs(1)) => None,
        };
        proxy.release();
        let a_allowed = match a_early {
            Some(verdict) => verdict?,
            None => a_call.await?,
        };
        let b_allowed = match b_early {
            Some(verdict) => verdict?,
            None => b_call.await?,
        };
        ensure!(
            a_allowed != b_allowed,
            hint = "make the decision atomic in Redis: one Lua script, or a MULTI/EXEC \
                    transaction; a plain pipeline is one round trip but not atomic (another \
                    server's commands can run between its count and its add)",
            "limit 1, one client, one request on each of two servers: server A's decision was \
             held in Redis after its first {held_after} of {commands} commands ({sent:?}) while \
             server B decided: A {}, B {}; exactly one may be allowed",
            if a_allowed { "allowed" } else { "rejected" },
            if b_allowed { "allowed" } else { "rejected" },
        );
    }
    Ok(())
}
