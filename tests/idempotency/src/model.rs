//! Model-based checks: seeded scenarios of requests around one payment, run against the
//! attempt on a real Redis and compared with an executable model of what each request must get
//! and how many charges there must be.
//!
//! - `concurrent.model`: requests with the first's key (and requests with keys one character
//!   away) arriving at chosen points of the first request's life: while its gateway call is
//!   held (*in flight*), in the gap between its completion's first Redis write and the rest
//!   (*completing*, made wide on purpose by the [`Proxy`]), and after it answered (*done*).
//!   The model: in flight, 409; completing, 409 or the first's response; done, the first's
//!   response; another key, a new payment; and exactly one charge per key.
//! - `mismatch.model`: after the first request completed, retries with the same key whose body
//!   is the same, or differs from it in one byte of any field's value (the amount, the
//!   currency, the description). The model: the same bytes are replayed, any other body gets
//!   422, nothing is charged again, and the original is still replayed at the end.
//!
//! Each check judges only its own criterion: responses are compared by status and JSON body
//! (the `replay` and `errors` checks judge headers and content types), gateway calls always
//! succeed (`errors` owns failures), and `concurrent.model` never varies the body (`mismatch`
//! owns that). Real Redis and real time, so few scenarios and a small shrinking budget; every
//! scenario gets its own server, proxy and key prefix.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::proptest::prelude::*;
use grade_kit::{CheckResult, Failure, ensure_text_eq};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::harness::{Client, Gate, REQUEST_LIMIT, Reply, Server, Step};
use crate::proxy::Proxy;
use crate::replay::{LEASE, TTL};

/// The first request's key; other keys differ from it in the last character.
const KEY: &str = "pay-0";
/// The first request's body. Variants change one byte of one value.
const BODY: &str = r#"{"amount":1250,"currency":"EUR","description":"order 7"}"#;

/// How long a retry of a key in flight may take to answer (409 is due at once; this only
/// tells "at once" from "waits for the first", which the gate holds indefinitely, with room
/// for a loaded machine).
const AT_ONCE: Duration = Duration::from_secs(1);
/// The longest the proxy holds the first's completion when nothing shows the retries read
/// Redis (an attempt on a connection pool: the retries then run to their end meanwhile).
/// Below the `redis` crate's 500 ms response timeout, which the held command counts against.
/// Not scaled, for that reason.
const MAX_HOLD: Duration = Duration::from_millis(300);

/// A fresh key prefix per scenario: scenarios reuse key names and must not see each other.
fn scenario_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}s{}:",
        grade_kit::services::key_prefix(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

// ---------------------------------------------------------------------------------------------
// concurrent.model

/// Which key a request uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The first request's key (and body): a retry.
    Same,
    /// A key one character away from it: an unrelated payment.
    Other,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Same => "retry (same key, same body)",
            Target::Other => "another key (one character different)",
        })
    }
}

/// Requests sent at each point of the first request's life.
#[derive(Debug, Clone)]
struct Timeline {
    /// While its gateway call is held: one after another, each must answer at once.
    in_flight: Vec<Target>,
    /// In the gap after its completion's first Redis write: all at once.
    completing: Vec<Target>,
    /// After it answered: one after another.
    done: Vec<Target>,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![3 => Just(Target::Same), 1 => Just(Target::Other)]
}

fn timeline() -> impl Strategy<Value = Timeline> {
    (
        prop::collection::vec(target(), 0..=2),
        prop::collection::vec(target(), 1..=3),
        prop::collection::vec(target(), 0..=2),
    )
        .prop_map(|(in_flight, completing, done)| Timeline {
            in_flight,
            completing,
            done,
        })
}

/// `concurrent.model`: the outcomes of requests arriving at each point of the first's life.
pub async fn concurrent_model() -> CheckResult {
    explore(
        Explore::new(0x1D3_C0DE).cases(12).max_shrink_steps(16),
        timeline(),
        run_timeline,
    )
    .await
}

/// What one request of a scenario expects, by the model.
struct Expect {
    what: String,
    /// Acceptable outcomes, as [`outcome`] names them.
    allowed: Vec<&'static str>,
}

const CONFLICT: &str = "409";
const REPLAY: &str = "the first's response again";
const NEW: &str = "201, a new payment";

async fn run_timeline(timeline: Timeline) -> CheckResult {
    let proxy = Proxy::start(&grade_kit::services::redis_url()).await?;
    let server = Server::start_at(&proxy.url, &scenario_prefix(), TTL, LEASE).await?;
    let alice = server.client("alice");
    alice.warm_up().await?;
    let mut others = 0usize;
    let mut key_for = |target: Target| match target {
        Target::Same => KEY.to_owned(),
        Target::Other => {
            others += 1;
            format!("pay-{others}")
        }
    };
    let mut expected: Vec<Expect> = Vec::new();
    let mut replies: Vec<Option<Reply>> = Vec::new();

    // The first request: its gateway call waits at the gate.
    let gate = Gate::new();
    server.gateway.then(Step::Hold(gate.clone()));
    let first = spawn_send(&alice, KEY);
    server
        .gateway
        .wait_for_calls(1, "the first request reaching the gateway")
        .await?;

    for &target in &timeline.in_flight {
        let key = key_for(target);
        expected.push(expect("in flight", target, &key, &[CONFLICT]));
        // A new key runs (a gateway call and two round trips): no "at once" for it.
        let limit = if target == Target::Same {
            AT_ONCE
        } else {
            REQUEST_LIMIT
        };
        replies.push(send_within(&alice, &key, limit).await?);
    }

    // Hold the first's completion after its first write, and send the requests into the gap.
    proxy.arm();
    let mut hold = proxy.watch();
    gate.open();
    let deadline = Instant::now() + grade_kit::env::scaled(Duration::from_secs(2));
    while proxy.holding().is_none() && !first.is_finished() && Instant::now() < deadline {
        tokio::select! {
            _ = hold.changed() => {}
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    let mut gap = Vec::new();
    for &target in &timeline.completing {
        let key = key_for(target);
        expected.push(expect("completing", target, &key, &[CONFLICT, REPLAY]));
        gap.push(spawn_send(&alice, &key));
    }
    if proxy.holding().is_some() {
        // Release once a request in the gap has had Redis run a command (its reply now waits
        // behind the held one), or all of them answered, or after MAX_HOLD at the latest.
        let until = Instant::now() + MAX_HOLD;
        while proxy.blocked() == 0 && !gap.iter().all(JoinHandle::is_finished) {
            tokio::select! {
                _ = hold.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(2)) => {}
                () = tokio::time::sleep_until(until) => break,
            }
        }
    }
    proxy.release();
    let first = join(first).await?.ok_or_else(|| {
        Failure::new("the first request did not answer once its gateway call returned")
    })?;
    for request in gap {
        replies.push(join(request).await?);
    }

    for &target in &timeline.done {
        let key = key_for(target);
        expected.push(expect("done", target, &key, &[REPLAY]));
        replies.push(send_within(&alice, &key, REQUEST_LIMIT).await?);
    }

    let mut want = vec![format!("the first request ({KEY}): {NEW}")];
    let mut got = vec![format!("the first request ({KEY}): {}", {
        let first_new = first.status == 201 && payment_id(&first).is_some();
        if first_new {
            NEW.to_owned()
        } else {
            first.summary()
        }
    })];
    for (expect, reply) in expected.iter().zip(&replies) {
        let outcome = outcome(reply.as_ref(), &first);
        want.push(format!("{}: {}", expect.what, expect.allowed.join(" or ")));
        got.push(if expect.allowed.contains(&outcome.as_str()) {
            format!("{}: {}", expect.what, expect.allowed.join(" or "))
        } else {
            format!("{}: {outcome}", expect.what)
        });
    }
    want.push(format!("gateway calls: {}", 1 + others));
    got.push(format!("gateway calls: {}", server.gateway.calls()));
    ensure_text_eq!(
        got.join("\n"),
        want.join("\n"),
        hint = "claim the key atomically, answer 409 at once while it is in flight, and store \
                the response in the same atomic step that ends the lock (one Lua script, or \
                MULTI/EXEC): deleting the lock and then storing the response in a second round \
                trip lets a retry that arrives in between find neither and charge again",
        "the requests around one payment got other outcomes than the model's"
    );
    Ok(())
}

fn expect(when: &str, target: Target, key: &str, same: &[&'static str]) -> Expect {
    let (what, allowed) = match target {
        Target::Same => (format!("{when}, retry of {KEY}"), same.to_vec()),
        Target::Other => (format!("{when}, new key {key}"), vec![NEW]),
    };
    Expect { what, allowed }
}

/// Names what `reply` is, relative to the first response.
fn outcome(reply: Option<&Reply>, first: &Reply) -> String {
    let Some(reply) = reply else {
        return "no answer in time".to_owned();
    };
    if reply.status == 409 {
        return CONFLICT.to_owned();
    }
    if same_response(reply, first) {
        return REPLAY.to_owned();
    }
    if reply.status == 201 && payment_id(reply).is_some() {
        return NEW.to_owned();
    }
    reply.summary()
}

/// Same status and body (as JSON when both are).
fn same_response(reply: &Reply, first: &Reply) -> bool {
    let same_body = match (reply.json(), first.json()) {
        (Some(a), Some(b)) => a == b,
        _ => reply.body == first.body,
    };
    reply.status == first.status && same_body
}

fn payment_id(reply: &Reply) -> Option<String> {
    reply
        .json()
        .and_then(|json| json.get("id").and_then(Value::as_str).map(str::to_owned))
}

fn spawn_send(client: &Client, key: &str) -> JoinHandle<Result<Reply, Failure>> {
    let (client, key) = (client.clone(), key.to_owned());
    tokio::spawn(async move { client.send(&key, BODY).await })
}

/// The reply, or `None` if it took longer than `limit`.
async fn send_within(
    client: &Client,
    key: &str,
    limit: Duration,
) -> Result<Option<Reply>, Failure> {
    let limit = grade_kit::env::scaled(limit);
    match tokio::time::timeout(limit, client.send(key, BODY)).await {
        Ok(reply) => reply.map(Some),
        Err(_) => Ok(None),
    }
}

async fn join(task: JoinHandle<Result<Reply, Failure>>) -> Result<Option<Reply>, Failure> {
    match tokio::time::timeout(grade_kit::env::scaled(REQUEST_LIMIT), task).await {
        Ok(Ok(reply)) => reply.map(Some),
        Ok(Err(error)) => Err(Failure::new(format!("a request task failed: {error}"))),
        Err(_) => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// mismatch.model

/// A request body: the first's, or the first's with one byte of one value changed.
#[derive(Clone)]
struct Body {
    text: String,
    change: Option<String>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.change {
            None => write!(f, "the same body {}", self.text),
            Some(change) => write!(f, "{change}: {}", self.text),
        }
    }
}

/// `BODY` with the byte at `at` (an index into the value `value`) replaced by `with`.
fn variant(value: &str, at: usize, with: u8) -> Body {
    let start = BODY.find(value).unwrap_or(0);
    let mut bytes = BODY.as_bytes().to_vec();
    let old = bytes[start + at];
    bytes[start + at] = with;
    let field = match value {
        "1250" => "amount",
        "EUR" => "currency",
        _ => "description",
    };
    Body {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        change: Some(format!(
            "{field} changed in one byte ({:?} -> {:?})",
            char::from(old),
            char::from(with)
        )),
    }
}

fn body() -> impl Strategy<Value = Body> {
    let same = Just(Body {
        text: BODY.to_owned(),
        change: None,
    });
    // Replacements keep the body valid: a digit (never a leading zero) in the amount, an
    // uppercase letter in the currency, any printable ASCII but `"` and `\` in the description.
    let amount = (0usize..4, 1u8..=9).prop_map(|(at, digit)| {
        let old = BODY.as_bytes()[BODY.find("1250").unwrap_or(0) + at];
        let mut with = b'0' + digit;
        if at > 0 && with == old {
            with = b'0';
        } else if with == old {
            with = if old == b'9' { b'8' } else { old + 1 };
        }
        variant("1250", at, with)
    });
    let currency = (0usize..3, 0u8..25).prop_map(|(at, n)| {
        let old = BODY.as_bytes()[BODY.find("EUR").unwrap_or(0) + at];
        let with = (old - b'A' + 1 + n) % 26 + b'A';
        variant("EUR", at, with)
    });
    let description = (0usize..7, 0x20u8..=0x7e).prop_map(|(at, with)| {
        let old = BODY.as_bytes()[BODY.find("order 7").unwrap_or(0) + at];
        let with = match with {
            b'"' | b'\\' => b'_',
            same if same == old => {
                if old == b'y' {
                    b'z'
                } else {
                    b'y'
                }
            }
            other => other,
        };
        variant("order 7", at, with)
    });
    prop_oneof![2 => same, 2 => amount, 1 => currency, 3 => description]
}

/// `mismatch.model`: retries with the same key and the same or a one-byte-different body.
pub async fn mismatch_model() -> CheckResult {
    explore(
        Explore::new(0x0422_B0D1).cases(16).max_shrink_steps(24),
        prop::collection::vec(body(), 1..=3),
        run_retries,
    )
    .await
}

async fn run_retries(bodies: Vec<Body>) -> CheckResult {
    let server = Server::start_at(
        &grade_kit::services::redis_url(),
        &scenario_prefix(),
        TTL,
        LEASE,
    )
    .await?;
    let alice = server.client("alice");
    let first = alice.send(KEY, BODY).await?;
    let mut want = vec![format!("the first request: {NEW}")];
    let mut got = vec![format!(
        "the first request: {}",
        if first.status == 201 && payment_id(&first).is_some() {
            NEW.to_owned()
        } else {
            first.summary()
        }
    )];
    let original = Body {
        text: BODY.to_owned(),
        change: None,
    };
    // The scenario's retries, then the original once more: the stored response must be intact.
    for (n, body) in (1..).zip(bodies.iter().chain(std::iter::once(&original))) {
        let reply = alice.send(KEY, &body.text).await?;
        let (expected, actual) = if body.change.is_none() {
            let actual = if same_response(&reply, &first) {
                REPLAY.to_owned()
            } else {
                reply.summary()
            };
            (REPLAY.to_owned(), actual)
        } else if reply.status == 422 {
            ("422".to_owned(), "422".to_owned())
        } else if same_response(&reply, &first) {
            ("422".to_owned(), REPLAY.to_owned())
        } else {
            ("422".to_owned(), reply.summary())
        };
        let what = format!("retry {n} ({body:?})");
        want.push(format!("{what}: {expected}"));
        got.push(format!(
            "{what}: {}",
            if actual == expected {
                expected.clone()
            } else {
                actual
            }
        ));
    }
    want.push("gateway calls: 1".to_owned());
    got.push(format!("gateway calls: {}", server.gateway.calls()));
    ensure_text_eq!(
        got.join("\n"),
        want.join("\n"),
        hint = "fingerprint the whole body, byte for byte (SHA-256 of the bytes), and store it \
                with the key: any other body with that key, even one differing only in the \
                description, gets 422 and leaves the stored response as it was",
        "retries with the same key and the same or a slightly different body"
    );
    Ok(())
}
