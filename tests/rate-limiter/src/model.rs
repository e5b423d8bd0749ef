//! The sliding window as an executable model, and seeded request schedules to run it on.
//!
//! # The model
//! A request allowed at `s` counts against every decision in `[s, s + window)`. A decision at
//! `now` is "allow" iff fewer than `limit` requests count then; only allowed requests are
//! recorded. When the window holds requests, `r` is `limit` minus the requests counting
//! (this one included when allowed, 0 on a 429) and `t` (and `Retry-After` on a 429) is
//! `ceil((oldest + window - now) / 1 s)`.
//!
//! # Judging a recorded history
//! The model does not replay its own verdicts next to the attempt's: it judges each decision
//! against the attempt's *own* history of allowed requests (as Jepsen judges a recorded
//! history rather than a re-run). That splits the window rule cleanly in two halves, so each
//! check blames its own mistake and only that:
//! - **safety** (`window.boundary`): an allowed request while `limit` of the client's allowed
//!   requests still count. Fixed windows, windows kept at one-second resolution, entries
//!   leaving a millisecond early, same-instant requests counted once.
//! - **liveness** (`window.expiry_edge`): a rejected request while fewer than `limit` count.
//!   Entries leaving a millisecond late, rejected requests recorded.
//!
//! # The schedules
//! Several clients, times at arbitrary milliseconds (the base itself is off the whole second,
//! so a window kept in whole seconds shows), and the edges put in by construction: a request
//! at `s + window - 1 ms`, `s + window` and `s + window + 1 ms` for an earlier request `s` of
//! the same client, bursts a millisecond apart that fill the limit. No two requests share a
//! millisecond (same-instant requests are `atomic.burst`'s). The clock is the suite's
//! [`TestClock`](crate::harness::TestClock), so no scenario waits: each costs one Redis round
//! trip per request.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use grade_kit::CheckResult;

use grade_kit::proptest::collection::vec;
use grade_kit::proptest::prelude::*;

use crate::harness::{TestClock, config, limiter};
use crate::http::{Reply, Who, app, call_reply};

/// One request of a schedule: which client, and when (ms after the scenario's base).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The client: `c0`, `c1`, `c2`.
    pub client: usize,
    /// Milliseconds after the base.
    pub at: u64,
}

/// A limiter configuration and a schedule of requests against it.
#[derive(Clone)]
pub struct Scenario {
    /// The policy's limit.
    pub limit: u32,
    /// The window, in whole seconds.
    pub window_s: u64,
    /// How far past a whole minute (a boundary of every fixed window) the base is, in ms.
    pub base_offset: u64,
    /// The requests, in time order.
    pub requests: Vec<Request>,
}

impl Scenario {
    /// The window in ms.
    pub fn window_ms(&self) -> u64 {
        self.window_s * 1000
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "limit {} per {} s; B = a whole minute + {} ms; requests:",
            self.limit, self.window_s, self.base_offset
        )?;
        for (i, r) in self.requests.iter().enumerate() {
            writeln!(f, "  {:>2}. c{} at B + {} ms", i + 1, r.client, r.at)?;
        }
        Ok(())
    }
}

/// One step of a raw schedule, before times are resolved.
#[derive(Debug, Clone)]
enum Step {
    /// `client` calls `gap` ms after the previous request.
    After { client: usize, gap: u64 },
    /// `n` requests of `client` 1 ms apart, the first `gap` ms after the previous one.
    Burst { client: usize, gap: u64, n: usize },
    /// The client of an earlier request (`of`, modulo the count so far) calls at that
    /// request's time + window + `delta` ms: the millisecond before, at or after its edge.
    Edge { of: usize, delta: i64 },
}

fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => Just(0u64),
        1 => Just(1u64),
        1 => Just(999u64),
        1 => Just(1000u64),
        4 => 2u64..1500,
    ]
}

fn step(clients: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..clients, gap()).prop_map(|(client, gap)| Step::After { client, gap }),
        1 => (0..clients, 0u64..3, 2usize..=4).prop_map(|(client, gap, n)| Step::Burst {
            client,
            gap,
            n
        }),
        3 => (any::<usize>(), -1i64..=1).prop_map(|(of, delta)| Step::Edge { of, delta }),
    ]
}

/// Schedules for the window checks: limit 1 to 4 per 1 to 3 s, up to three clients, up to
/// about 20 requests, crossing fixed-window boundaries freely.
pub fn window_scenario() -> impl Strategy<Value = Scenario> {
    let base_offset = prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(999u64),
        Just(500u64),
        0u64..60_000,
    ];
    (
        prop_oneof![Just(1u32), Just(2u32), 1u32..=4],
        1u64..=3,
        base_offset,
        1usize..=3,
    )
        .prop_flat_map(|(limit, window_s, base_offset, clients)| {
            vec(step(clients), 1..=14).prop_map(move |steps| Scenario {
                limit,
                window_s,
                base_offset,
                requests: resolve(&steps, window_s * 1000, u64::MAX),
            })
        })
}

/// Turns steps into requests in strictly increasing time order (a step that would not move
/// time forward happens 1 ms after the previous request), dropping any at or after `end` ms.
///
/// No two requests share a millisecond: that requests at one instant all count is `atomic`'s
/// business (`atomic.burst`), so the window and response checks stay clear of it.
fn resolve(steps: &[Step], window_ms: u64, end: u64) -> Vec<Request> {
    let mut requests: Vec<Request> = Vec::new();
    let push = |requests: &mut Vec<Request>, client: usize, at: u64| {
        let at = match requests.last() {
            Some(last) => at.max(last.at + 1),
            None => at,
        };
        requests.push(Request { client, at });
    };
    for step in steps {
        let last = requests.last().map(|r| r.at);
        match *step {
            Step::After { client, gap } => {
                push(&mut requests, client, last.map_or(0, |t| t + gap));
            }
            Step::Burst { client, gap, n } => {
                let start = last.map_or(0, |t| t + gap);
                for i in 0..n as u64 {
                    push(&mut requests, client, start + i);
                }
            }
            Step::Edge { of, delta } => {
                let Some(earlier) = requests.get(of % requests.len().max(1)).copied() else {
                    continue;
                };
                let at = (earlier.at + window_ms).saturating_add_signed(delta);
                push(&mut requests, earlier.client, at);
            }
        }
        if requests.last().is_some_and(|r| r.at >= end) {
            break;
        }
    }
    requests.retain(|r| r.at < end);
    requests
}

/// Schedules for the response-field checks: limit 1 to 4 per 2 to 5 s, all inside one fixed
/// window `[B, B + window)` with B a boundary, so nothing leaves the window and a fixed-window
/// counter (`window.boundary`'s business) gives the same answers. Waits that are a whole
/// number of seconds, and a millisecond either side, are put in by construction: a request
/// `k` seconds (± 1 ms) after the client's first.
pub fn response_scenario() -> impl Strategy<Value = Scenario> {
    (prop_oneof![Just(1u32), 1u32..=4], 2u64..=5, 1usize..=2).prop_flat_map(
        |(limit, window_s, clients)| {
            let whole = (0..clients, 1u64..window_s, -1i64..=1);
            let raw = prop_oneof![
                2 => step(clients).prop_map(RawResponseStep::Plain),
                2 => whole.prop_map(|(client, k, delta)| RawResponseStep::Whole { client, k, delta }),
            ];
            (0u64..1500, vec(raw, 1..=12)).prop_map(move |(start, steps)| {
                let window_ms = window_s * 1000;
                Scenario {
                    limit,
                    window_s,
                    base_offset: 0,
                    requests: resolve_responses(start, &steps, window_ms),
                }
            })
        },
    )
}

#[derive(Debug, Clone)]
enum RawResponseStep {
    Plain(Step),
    /// `client` calls `k` s + `delta` ms after its first request.
    Whole {
        client: usize,
        k: u64,
        delta: i64,
    },
}

fn resolve_responses(start: u64, steps: &[RawResponseStep], window_ms: u64) -> Vec<Request> {
    // Edges of the window are out of reach here (everything stays inside one window), so an
    // `Edge` step becomes a request of that client 1 ms after the previous one.
    let mut requests: Vec<Request> = Vec::new();
    for step in steps {
        let last = requests.last().map_or(start, |r| r.at + 1);
        let (client, at, n) = match *step {
            RawResponseStep::Plain(Step::After { client, gap }) => (client, last + gap, 1),
            RawResponseStep::Plain(Step::Burst { client, gap, n }) => (client, last + gap, n),
            RawResponseStep::Plain(Step::Edge { of, .. }) => {
                match requests.get(of % requests.len().max(1)) {
                    Some(r) => (r.client, last, 1),
                    None => continue,
                }
            }
            RawResponseStep::Whole { client, k, delta } => {
                let first = requests.iter().find(|r| r.client == client).map(|r| r.at);
                let at = first.map_or(last, |first| {
                    (first + k * 1000).saturating_add_signed(delta)
                });
                (client, at, 1)
            }
        };
        // Strictly increasing, as in `resolve`.
        let at = at.max(last);
        if at + n as u64 > window_ms {
            break;
        }
        for i in 0..n as u64 {
            requests.push(Request { client, at: at + i });
        }
    }
    requests
}

/// What the model expects of one decision, given the client's own allowed requests so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Whether fewer than `limit` requests count now.
    pub allowed: bool,
    /// How many of the client's allowed requests count now (before this one).
    pub counting: usize,
    /// `r` for this verdict.
    pub remaining: u64,
    /// `t` (and `Retry-After` on a 429) for this verdict, in whole seconds.
    pub reset: u64,
}

/// The model: judges a decision at `now` for a client whose allowed requests were at
/// `history` (ms, any order), with `verdict` the attempt's answer (the fields depend on it).
pub fn expect(limit: u32, window_ms: u64, history: &[u64], now: u64, verdict: bool) -> Expected {
    let counting: Vec<u64> = history
        .iter()
        .copied()
        .filter(|&s| s <= now && now < s + window_ms)
        .collect();
    let allowed = counting.len() < limit as usize;
    let after = counting.len() + usize::from(verdict);
    let oldest = counting.iter().copied().min().unwrap_or(now);
    let oldest = if verdict { oldest.min(now) } else { oldest };
    Expected {
        allowed,
        counting: counting.len(),
        remaining: if verdict {
            u64::from(limit).saturating_sub(after as u64)
        } else {
            0
        },
        reset: (oldest + window_ms - now).div_ceil(1000),
    }
}

/// One decision as the attempt made it, with the model's view of it.
pub struct Decision<'a> {
    /// 1-based position in the schedule.
    pub number: usize,
    /// The request.
    pub request: Request,
    /// The attempt's response.
    pub reply: &'a Reply,
    /// Whether the attempt allowed it.
    pub allowed: bool,
    /// The model's judgement, on the client's own allowed requests so far.
    pub expected: Expected,
    /// The client's allowed requests so far (ms after the base), for messages.
    pub history: &'a [u64],
    /// The window in ms.
    pub window_ms: u64,
}

impl Decision<'_> {
    /// "request 4 (c1 at B + 1999 ms)".
    pub fn describe(&self) -> String {
        format!(
            "request {} (c{} at B + {} ms)",
            self.number, self.request.client, self.request.at
        )
    }
}

/// Runs `scenario` against a fresh limiter (a key namespace of its own), calling the
/// middleware directly at each request's time, and hands every decision to `judge`.
pub async fn run(
    scenario: &Scenario,
    base: u64,
    mut judge: impl FnMut(&Decision<'_>) -> CheckResult,
) -> CheckResult {
    static SCENARIOS: AtomicU64 = AtomicU64::new(0);
    let n = SCENARIOS.fetch_add(1, Ordering::SeqCst);
    let clock = TestClock::at(base);
    let config = config(
        &format!("model-{n}"),
        "default",
        scenario.limit,
        scenario.window_s,
    );
    let router = app(&limiter(config, &clock)?);
    let names: Vec<String> = (0..3).map(|c| format!("c{c}")).collect();
    let mut histories: Vec<Vec<u64>> = vec![Vec::new(); names.len()];
    for (i, &request) in scenario.requests.iter().enumerate() {
        clock.set(base + request.at);
        let reply = call_reply(&router, Who::key(&names[request.client])).await?;
        let number = i + 1;
        let history = &histories[request.client];
        let allowed = reply.allowed(&format!(
            "request {number} (c{} at B + {} ms)",
            request.client, request.at
        ))?;
        let expected = expect(
            scenario.limit,
            scenario.window_ms(),
            history,
            request.at,
            allowed,
        );
        judge(&Decision {
            number,
            request,
            reply: &reply,
            allowed,
            expected,
            history,
            window_ms: scenario.window_ms(),
        })?;
        if allowed {
            histories[request.client].push(request.at);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_for_exactly_the_window() {
        let e = |now| expect(1, 10_000, &[5_000], now, false);
        assert!(!e(14_999).allowed);
        assert!(e(15_000).allowed);
        assert_eq!(e(14_999).reset, 1);
        assert_eq!(e(6_000).reset, 9);
        assert_eq!(e(6_001).reset, 9);
        assert_eq!(e(5_999).reset, 10);
    }

    #[test]
    fn fields_of_an_allowed_request_include_it() {
        let e = expect(3, 30_000, &[0, 5_000], 10_000, true);
        assert_eq!((e.allowed, e.remaining, e.reset), (true, 0, 20));
        let e = expect(3, 30_000, &[], 10_000, true);
        assert_eq!((e.remaining, e.reset), (2, 30));
    }

    #[test]
    fn edges_resolve_relative_to_an_earlier_request() {
        let steps = [
            Step::After { client: 1, gap: 7 },
            Step::After { client: 0, gap: 3 },
            Step::Edge { of: 0, delta: -1 },
            Step::Edge { of: 0, delta: 1 },
        ];
        let requests = resolve(&steps, 1000, u64::MAX);
        let times: Vec<(usize, u64)> = requests.iter().map(|r| (r.client, r.at)).collect();
        assert_eq!(times, [(1, 0), (0, 3), (1, 999), (1, 1001)]);
        let requests = resolve(
            &[
                Step::After { client: 0, gap: 0 },
                Step::Burst {
                    client: 1,
                    gap: 0,
                    n: 2,
                },
            ],
            1000,
            u64::MAX,
        );
        let times: Vec<u64> = requests.iter().map(|r| r.at).collect();
        assert_eq!(times, [0, 1, 2], "no two requests share a millisecond");
    }
}
