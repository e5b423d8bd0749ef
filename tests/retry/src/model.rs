//! The executable spec the model-based parts of the checks compare attempts with.
//!
//! A [`Scenario`] is a policy (any factor, 1 and 3 included; sub-second, equal and inverted
//! base/cap; up to `u32::MAX` retries) and a script of operation calls (transient with or
//! without a `retry_after` hint, permanent at any position including the last allowed call,
//! success), each with a latency. [`expect`] says what a correct `retry` does on it: how many
//! calls, what it returns, and for each wait the interval `[lo, hi]` it must lie in.
//!
//! The strategies put the edges in by construction (`max_retries = 0`, the last allowed call,
//! a hint of 0, a hint equal to `max_delay` and one far beyond it, slow calls), so that they are
//! not left to luck, and each check explores its own seed on the paused clock: hundreds of
//! scenarios cost milliseconds. A failure is shrunk to the smallest scenario.

use std::time::Duration;

use grade_kit::proptest::collection::vec;
use grade_kit::proptest::prelude::*;
use retry::{Policy, RetryError};

use crate::harness::{OpError, Script, Step, describe};

/// One generated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The policy `retry` is called with.
    pub policy: Policy,
    /// What each call does and how long it takes (ms); the last entry repeats forever.
    pub steps: Vec<(Step, u64)>,
    /// Seed of the RNG handed to `retry`.
    pub seed: u64,
}

impl Scenario {
    /// The scripted operation.
    pub fn script(&self) -> Script {
        Script::timed(&self.steps)
    }
}

/// `min(max_delay, base · factor^n)`, computed the slow, obviously-correct way.
pub fn ceiling(p: &Policy, n: usize) -> Duration {
    let mut ceiling = p.base.min(p.max_delay);
    for _ in 0..n {
        if ceiling >= p.max_delay || ceiling.is_zero() || p.factor <= 1 {
            break;
        }
        ceiling = ceiling.saturating_mul(p.factor).min(p.max_delay);
    }
    ceiling
}

/// The interval a wait must lie in, and whether the error before it carried a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// `min(retry_after, max_delay)`, or zero without a hint.
    pub lo: Duration,
    /// `max(ceiling, lo)`: the jittered backoff, or the (capped) hint when that is longer.
    pub hi: Duration,
    /// Whether the error before this wait had a `retry_after` hint.
    pub hinted: bool,
}

/// What a correct `retry` does on a scenario.
#[derive(Debug)]
pub struct Expected {
    /// How many calls it makes.
    pub calls: usize,
    /// What it returns.
    pub result: Result<u32, RetryError<OpError>>,
    /// `waits[n]`: the allowed wait before retry `n`.
    pub waits: Vec<Wait>,
}

/// The model: walks the script as the prompt says `retry` must.
pub fn expect(p: &Policy, script: &Script) -> Expected {
    let mut waits = Vec::new();
    let mut call: u32 = 1;
    loop {
        let step = script.step(call).0;
        let result = match step {
            Step::Ok => Ok(call),
            Step::Permanent => Err(RetryError::Permanent(OpError { call, step })),
            Step::Transient(_) if call > p.max_retries => Err(RetryError::Exhausted {
                last_error: OpError { call, step },
                attempts: call,
            }),
            Step::Transient(hint) => {
                let lo = hint.map_or(Duration::ZERO, |h| h.min(p.max_delay));
                let hi = ceiling(p, call as usize - 1).max(lo);
                waits.push(Wait {
                    lo,
                    hi,
                    hinted: hint.is_some(),
                });
                call += 1;
                continue;
            }
        };
        return Expected {
            calls: call as usize,
            result,
            waits,
        };
    }
}

/// "N calls, returned X": what the budget and classification parts compare.
pub fn summary(calls: usize, result: &Result<u32, RetryError<OpError>>) -> String {
    format!("{calls} calls, then {}", describe(result))
}

/// How the script may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The last step (repeated forever) may be a transient failure: runs can end exhausted.
    Any,
    /// The last step is a success: every run ends within the script (for checks about waits,
    /// so that a budget bug does not make them fail too).
    Success,
}

fn ms(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = u64> {
    range
}

/// Policies with the edges in: factor 1, 2, 3 and up to 10; sub-second ceilings; a base above
/// the cap; `max_retries` 0, small, 200 and `u32::MAX`. No zero ceilings here (base and cap are
/// at least 1 ms): those are `jitter.rng`'s edge, so that a range that cannot be empty fails
/// the jitter criterion only. No huge factors either: with at most ten retries per scenario,
/// `base · factor^n` stays far from overflowing, which is `cap.saturates`' business (and an
/// overshoot of the cap by a huge factor, `cap.never_exceeded`'s).
pub fn policy() -> impl Strategy<Value = Policy> {
    let retries = prop_oneof![
        4 => 0u32..=3,
        2 => 4u32..=10,
        1 => Just(200u32),
        1 => Just(u32::MAX),
    ];
    let base = prop_oneof![Just(1u64), ms(1..=999), Just(1_000u64), ms(1_001..=5_000)];
    let factor = prop_oneof![Just(1u32), Just(2u32), Just(3u32), 4u32..=10, Just(10u32)];
    let max = prop_oneof![Just(1u64), ms(1..=999), Just(1_000u64), ms(1_001..=60_000)];
    (retries, base, factor, max).prop_map(|(max_retries, base, factor, max)| Policy {
        max_retries,
        base: Duration::from_millis(base),
        factor,
        max_delay: Duration::from_millis(max),
    })
}

/// A transient failure, with no hint or a hint at one of the edges (0, around a second, an
/// hour), and a latency (mostly instant, sometimes slow).
fn transient() -> impl Strategy<Value = (Step, u64)> {
    let hint = prop_oneof![
        3 => Just(None),
        1 => Just(Some(0u64)),
        2 => ms(1..=3_000).prop_map(Some),
        1 => Just(Some(60_000u64)),
        1 => Just(Some(3_600_000u64)),
    ];
    (hint, latency())
        .prop_map(|(hint, latency)| (Step::Transient(hint.map(Duration::from_millis)), latency))
}

fn latency() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 1 => Just(1u64), 1 => ms(2..=5_000)]
}

/// Scripts of transient failures ending as `ending` says; no permanent error. Scripts have at
/// most nine calls before their last step; an always-failing last step comes with a budget of
/// at most 10 retries (so that `base · factor^n` stays small: huge exponents are
/// `cap.saturates`' business).
pub fn transient_scenario(ending: Ending) -> impl Strategy<Value = Scenario> {
    let last = match ending {
        Ending::Any => prop_oneof![
            2 => latency().prop_map(|l| (Step::Ok, l)),
            3 => transient(),
        ]
        .boxed(),
        Ending::Success => latency().prop_map(|l| (Step::Ok, l)).boxed(),
    };
    (policy(), vec(transient(), 0..8), last, any::<u64>()).prop_map(
        |(mut policy, mut steps, last, seed)| {
            if matches!(last.0, Step::Transient(_)) && policy.max_retries > 10 {
                policy.max_retries %= 11;
            }
            steps.push(last);
            Scenario {
                policy,
                steps,
                seed,
            }
        },
    )
}

/// Scripts with one permanent error, placed at the last allowed call half of the time (when
/// the budget allows a short script), anywhere in the first nine calls otherwise.
pub fn permanent_scenario() -> impl Strategy<Value = Scenario> {
    (
        policy(),
        any::<bool>(),
        0usize..9,
        vec(transient(), 9),
        latency(),
        any::<u64>(),
    )
        .prop_map(|(policy, at_last, position, transients, latency, seed)| {
            let last_allowed = policy.max_retries as usize;
            let position = if at_last && last_allowed < 9 {
                last_allowed
            } else {
                position
            };
            let mut steps = transients[..position].to_vec();
            steps.push((Step::Permanent, latency));
            Scenario {
                policy,
                steps,
                seed,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_counts_calls_and_bounds_waits() {
        let p = Policy {
            max_retries: 2,
            base: Duration::from_millis(100),
            factor: 3,
            max_delay: Duration::from_millis(500),
        };
        let hint = Step::Transient(Some(Duration::from_secs(2)));
        let e = expect(&p, &Script::new(&[Step::Transient(None), hint]));
        assert_eq!(e.calls, 3);
        assert!(matches!(
            e.result,
            Err(RetryError::Exhausted { attempts: 3, .. })
        ));
        assert_eq!(e.waits[0].hi, Duration::from_millis(100));
        assert_eq!(e.waits[1].lo, Duration::from_millis(500));
        let e = expect(
            &p,
            &Script::new(&[
                Step::Transient(None),
                Step::Transient(None),
                Step::Permanent,
            ]),
        );
        assert!(matches!(e.result, Err(RetryError::Permanent(_))));
    }
}
