//! The backoff schedule: how long to wait before retry `n`.
//!
//! Two steps, kept apart because they fail in different ways:
//!
//! 1. The **ceiling** `min(max_delay, base · factor^n)`: deterministic, grows exponentially,
//!    and must saturate. `factor^n` overflows any integer type long before a caller runs out of
//!    retries (2^64 is only 64 retries away at factor 2), and `Duration` arithmetic panics on
//!    overflow. We never compute `factor^n` at all: we multiply step by step and stop as soon
//!    as the cap is reached.
//! 2. **Full jitter**: the delay is uniform in `[0, ceiling]`. This is what spreads a crowd of
//!    clients that failed together (a server restart) so they do not come back together.
//!    "Equal jitter" (`ceiling/2 + uniform(0, ceiling/2)`) keeps half of the synchronisation;
//!    no jitter keeps all of it. See the AWS architecture blog post "Exponential Backoff And
//!    Jitter" for the simulations.
//!
//! A server's `retry_after` hint then sets a floor, and the cap has the last word.

use std::time::Duration;

use rand::Rng;

/// How many times to retry, and how the wait between attempts grows.
///
/// The delay before retry `n` (`n = 0` for the first retry) is drawn uniformly from
/// `[0, min(max_delay, base · factor^n)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first attempt: `max_retries = N` means at most `N + 1` calls.
    pub max_retries: u32,
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// How much the ceiling grows per retry (`1` keeps it constant).
    pub factor: u32,
    /// No delay ever exceeds this, whatever the retry number, the jitter or a server's hint.
    pub max_delay: Duration,
}

impl Policy {
    /// `min(max_delay, base · factor^retry)`, saturating instead of overflowing.
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let mut ceiling = self.base;
        // Multiply one step at a time and stop at the cap: no intermediate value can overflow,
        // and the loop runs at most ~100 times (Duration::MAX is under 2^95 ns) however large
        // `retry` is. `factor == 1` never grows, so there is nothing to iterate; `factor == 0`
        // follows the formula (`0^n` is 0 from the first retry on) and the zero stops the loop.
        for _ in 0..retry {
            if ceiling >= self.max_delay || ceiling.is_zero() || self.factor == 1 {
                break;
            }
            ceiling = ceiling.saturating_mul(self.factor);
        }
        // The last multiplication may have overshot the cap (and `base` may exceed it).
        ceiling.min(self.max_delay)
    }

    /// The wait before retry `retry`: full jitter under the ceiling, at least the server's
    /// hint, never more than `max_delay`.
    pub(crate) fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut (impl Rng + ?Sized),
    ) -> Duration {
        // `ceiling` is already capped, so the jittered delay is too.
        let jittered = full_jitter(self.ceiling(retry), rng);
        // The hint is a floor ("not before"), not a replacement: if our own backoff is longer
        // we keep it, so clients told the same hint still spread out. The hint is capped too:
        // a server may ask for an hour, but `max_delay` is the caller's promise about how long
        // a single wait can take.
        let floor = retry_after.map_or(Duration::ZERO, |hint| hint.min(self.max_delay));
        jittered.max(floor)
    }
}

/// A delay drawn uniformly from `[0, ceiling]`, to the nanosecond.
///
/// Integer sampling on nanoseconds is exact and includes both ends. (Multiplying the ceiling
/// by a random `f64` in `[0, 1)` also works; it just rounds.) Ceilings beyond `u64::MAX`
/// nanoseconds (584 years) are clamped there.
fn full_jitter(ceiling: Duration, rng: &mut (impl Rng + ?Sized)) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base_ms: u64, factor: u32, max_ms: u64) -> Policy {
        Policy {
            max_retries: 3,
            base: Duration::from_millis(base_ms),
            factor,
            max_delay: Duration::from_millis(max_ms),
        }
    }

    #[test]
    fn ceiling_grows_then_saturates() {
        let p = policy(100, 2, 1_000);
        let ceilings: Vec<u64> = (0..6).map(|n| p.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(1));
        let huge = Policy {
            max_delay: Duration::MAX,
            ..policy(1, u32::MAX, 0)
        };
        assert_eq!(huge.ceiling(1_000), Duration::MAX);
    }

    #[test]
    fn factors_one_and_zero_follow_the_formula() {
        let flat = policy(100, 1, 1_000);
        assert_eq!(flat.ceiling(50), Duration::from_millis(100));
        let zero = policy(100, 0, 1_000);
        assert_eq!(zero.ceiling(0), Duration::from_millis(100));
        assert_eq!(zero.ceiling(1), Duration::ZERO);
        assert_eq!(zero.ceiling(7), Duration::ZERO);
    }

    #[test]
    fn hint_is_a_floor_under_the_cap() {
        let p = policy(1, 2, 10_000);
        let mut rng = rand::rng();
        let hinted = p.delay(0, Some(Duration::from_secs(5)), &mut rng);
        assert!(hinted >= Duration::from_secs(5) && hinted <= Duration::from_secs(10));
        let capped = p.delay(0, Some(Duration::from_secs(3_600)), &mut rng);
        assert_eq!(capped, Duration::from_secs(10));
    }
}
