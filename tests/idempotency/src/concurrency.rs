//! Concurrent requests with one key: exactly one side effect, and 409 at once for the others
//! while it is in flight (`concurrent`).
//!
//! The gateway holds the first call open until every other request has answered, so "the
//! first is in flight" is a fact of the check, not a matter of timing: a correct attempt must
//! answer the others 409 while it holds, and an attempt that makes them wait never gets its
//! answers (a hang, reported as one).
//!
//! Catching a check-then-set race (read "no record", then write the lock, in two round trips)
//! needs two requests to read before either writes. The burst is built to make that happen
//! every time: [`CLIENTS`] clients, each with its own connection opened beforehand (so no
//! request waits for a TCP handshake), are released by one barrier, and the round is repeated
//! [`ROUNDS`] times with new keys. The requests arrive within a few hundred microseconds of
//! each other, while the race window is a full Redis round trip per request; and one overlap
//! in any round is enough to see a second gateway call. An atomic claim (a Lua script, or
//! `SET NX`) can never let two through, so the verdict for a correct attempt does not depend
//! on timing at all.

use std::sync::Arc;
use std::time::Duration;

use grade_kit::{CheckResult, Failure, ensure, fail};
use tokio::sync::{Barrier, mpsc};
use tokio::time::Instant;

use crate::harness::{Client, Gate, REQUEST_LIMIT, Reply, Server, Step, body};
use crate::replay::{LEASE, TTL};

/// Concurrent requests per round, each on its own connection.
pub const CLIENTS: usize = 16;
/// Rounds, each with a new key.
pub const ROUNDS: usize = 8;

const CLAIM_HINT: &str = "claim the key atomically, in one Redis command (a Lua script, or SET \
                          key value NX PX lease): reading first and writing second lets \
                          concurrent requests both see no record";

/// N concurrent requests, one key: one gateway call, N - 1 answers of 409 while it holds.
pub async fn one_side_effect() -> CheckResult {
    let server = Server::start(TTL, LEASE).await?;
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let client = server.client("alice");
        client.warm_up().await?;
        clients.push(client);
    }
    for round in 0..ROUNDS {
        burst(&server, &clients, round).await?;
    }
    Ok(())
}

/// One round: a burst of [`CLIENTS`] requests with a new key, then a late one.
async fn burst(server: &Server, clients: &[Client], round: usize) -> CheckResult {
    let key = format!("burst-{round}");
    let payload = body(u32::try_from(round).unwrap_or(0));
    let gate = Gate::new();
    server.gateway.otherwise(Step::Hold(gate.clone()));
    let calls_before = server.gateway.calls();

    let barrier = Arc::new(Barrier::new(CLIENTS));
    let (answers, mut answered) = mpsc::unbounded_channel();
    for client in clients {
        let (client, barrier, answers) = (client.clone(), barrier.clone(), answers.clone());
        let (key, payload) = (key.clone(), payload.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            let _ = answers.send(client.send(&key, &payload).await);
        });
    }

    // Wait for every request but one to answer, while the gateway holds the first call; stop
    // early if a second call starts (that is already the verdict).
    let mut calls = server.gateway.watch_calls();
    let deadline = Instant::now() + grade_kit::env::scaled(Duration::from_secs(3));
    let mut early: Vec<Reply> = Vec::new();
    while early.len() < CLIENTS - 1 && *calls.borrow() <= calls_before + 1 {
        tokio::select! {
            answer = answered.recv() => match answer {
                Some(reply) => early.push(reply?),
                None => break,
            },
            _ = calls.changed() => {}
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    // The request that won the claim may answer the others' 409s before it reaches the
    // gateway (a loaded machine schedules it late): give it until the deadline to get there,
    // so a slow winner is not mistaken for no winner.
    while *calls.borrow() == calls_before {
        tokio::select! {
            changed = calls.changed() => if changed.is_err() { break },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let made = server.gateway.calls() - calls_before;
    let statuses: Vec<u16> = early.iter().map(|reply| reply.status).collect();
    let result = judge_burst(made, &statuses, round);
    if result.is_ok() {
        // One more request while the first still holds: late arrivals get 409 too.
        let late = clients[0].send(&key, &payload).await?;
        late.expect_status(
            409,
            &format!(
                "round {round}: a request arriving after the burst, while the first was still \
                 in flight"
            ),
            "keep the claim until the first request stores its response; a request that \
             loses the claim must leave the record alone",
        )?;
    }
    gate.open();
    result?;

    let last = grade_kit::time::within(REQUEST_LIMIT, "the first request", answered.recv())
        .await?
        .ok_or_else(|| Failure::new("the first request's task ended without an answer"))??;
    last.expect_status(
        201,
        &format!("round {round}: the request that ran, once the gateway let it finish"),
        "the request that claimed the key runs and answers 201 once the gateway returns",
    )?;
    let made = server.gateway.calls() - calls_before;
    ensure!(
        made == 1,
        hint = CLAIM_HINT,
        "round {round}: {made} gateway calls for one key, expected exactly 1"
    );
    Ok(())
}

/// The verdict on what the burst did while the first call was held.
fn judge_burst(made: usize, statuses: &[u16], round: usize) -> CheckResult {
    let requests = format!("{CLIENTS} concurrent requests with one key (round {round})");
    if made != 1 {
        fail!(
            hint = CLAIM_HINT,
            "{requests}: the gateway was called {made} times, expected exactly once \
             (answers so far: {statuses:?})"
        );
    }
    if statuses.len() < CLIENTS - 1 {
        fail!(
            hint = "a request whose key is in flight must answer 409 Conflict at once, not \
                    wait for the first to finish (the suite holds the first until the others \
                    have answered)",
            "{requests}: only {} of the other {} answered while the first was in flight \
             (statuses: {statuses:?})",
            statuses.len(),
            CLIENTS - 1
        );
    }
    ensure!(
        statuses.iter().all(|&status| status == 409),
        hint = "while a request with the key is in flight, answer the others 409 Conflict",
        "{requests}: expected 409 for each of the {} others while the first was in flight, \
         got {statuses:?}",
        CLIENTS - 1
    );
    Ok(())
}
