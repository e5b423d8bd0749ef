//! How long the attempt waits: the cap (`cap`) and the jitter (`jitter`).
//!
//! Every wait is measured as the gap between two calls on tokio's paused clock, so the checks
//! judge what the attempt did, not what it reports. Randomness is judged statistically over
//! many runs with a seeded RNG; each bound below is chosen so that a correct implementation
//! (any uniform draw in `[0, ceiling]`, whatever RNG calls it makes) fails with probability
//! below 1e-9, and the arithmetic is in the comments.

use std::time::Duration;

use grade_kit::{CheckResult, Failure, ensure, fail};
use retry::Policy;

use crate::harness::{Script, TICK, describe, policy, rng, run};

/// `min(max_delay, base · factor^n)`, computed the slow, obviously-correct way.
fn ceiling(p: &Policy, n: usize) -> Duration {
    let mut ceiling = p.base.min(p.max_delay);
    for _ in 0..n {
        ceiling = ceiling.saturating_mul(p.factor).min(p.max_delay);
    }
    ceiling
}

/// Runs `runs` times on an always-failing operation and returns the waits grouped by retry
/// number: `result[n]` holds every wait before retry `n`, for `n < retries`.
async fn waits_by_retry(
    p: &Policy,
    retries: usize,
    runs: usize,
    seed: u64,
) -> Result<Vec<Vec<Duration>>, Failure> {
    let mut rng = rng(seed);
    let mut waits = vec![Vec::with_capacity(runs); retries];
    for _ in 0..runs {
        let run_ = run(p, &Script::always_transient(), &mut rng).await?;
        let gaps = run_.gaps();
        ensure!(
            gaps.len() >= retries,
            "with {p:?} and an operation that always fails transiently, expected at least \
             {retries} retries, saw {} calls ending in {}",
            run_.calls.len(),
            describe(&run_.result)
        );
        for (n, gap) in gaps.into_iter().take(retries).enumerate() {
            waits[n].push(gap);
        }
    }
    Ok(waits)
}

/// No wait ever exceeds `max_delay`, jitter included.
pub async fn never_exceeded() -> CheckResult {
    // Moderate retry numbers (3^30 · 100 ms still fits a Duration): this check is about the
    // cap, `saturates` about huge exponents. The second policy starts above its cap.
    let policies = [policy(30, 100, 3, 2_000), policy(5, 5_000, 2, 2_000)];
    for (i, p) in policies.iter().enumerate() {
        // The last retry is left out (here and below) so that a budget off by one, which
        // `budget.total_calls` reports, does not fail this check too.
        let retries = p.max_retries as usize - 1;
        let waits = waits_by_retry(p, retries, 100, 10 + i as u64).await?;
        for (n, waits) in waits.iter().enumerate() {
            let longest = waits.iter().max().copied().unwrap_or_default();
            ensure!(
                longest <= p.max_delay + TICK,
                hint = "apply min(max_delay, …) to the ceiling you draw the jitter under, so \
                        the random delay can never land above the cap",
                "with {p:?}, the wait before retry {n} was {longest:?}, above max_delay = {:?}",
                p.max_delay
            );
        }
    }
    Ok(())
}

/// Huge retry numbers neither panic nor overflow: the ceiling stays at `max_delay`.
pub async fn saturates() -> CheckResult {
    // `base == max_delay`, so the true ceiling is `max_delay` at every retry; what is tested is
    // that computing `base · factor^n` for n up to 200 neither panics (Duration and integer
    // overflow) nor wraps around to something small. 10 s · 2^n overflows u64 nanoseconds at
    // n = 31 and Duration at n = 61; 60 s · 10^n overflows u64 nanoseconds at n = 9.
    //
    // Collapse is detected statistically: among the waits before retries `from..max - 1`, the
    // longest must reach 98% of max_delay. For a uniform draw under max_delay, the chance that
    // k samples all stay below 0.98·max_delay is 0.98^k: 0.98^1350 ≈ 1.4e-12 (first policy,
    // 135 retries × 10 runs) and 0.98^1185 ≈ 4e-11 (second, 79 × 15). Rounding up to the
    // millisecond only lengthens measured waits.
    let cases = [
        (policy(200, 10_000, 2, 10_000), 10, 64),
        (policy(100, 60_000, 10, 60_000), 15, 20),
    ];
    for (i, (p, runs, from)) in cases.iter().enumerate() {
        let waits = waits_by_retry(p, p.max_retries as usize - 1, *runs, 20 + i as u64).await?;
        let mut longest_late = Duration::ZERO;
        for (n, waits) in waits.iter().enumerate() {
            let longest = waits.iter().max().copied().unwrap_or_default();
            ensure!(
                longest <= p.max_delay + TICK,
                hint = "saturate instead of overflowing: once base · factor^n passes max_delay \
                        the ceiling is max_delay, however large n gets",
                "with {p:?}, the wait before retry {n} was {longest:?}, above max_delay"
            );
            if n >= *from {
                longest_late = longest_late.max(longest);
            }
        }
        ensure!(
            longest_late >= p.max_delay.mul_f64(0.98),
            hint = "an exponent that overflows (u32/u64 pow or shift wrapping around) makes the \
                    ceiling collapse; stop growing once you reach max_delay",
            "with {p:?}, the waits before retries {from}..{} never came near max_delay: the \
             longest was {longest_late:?} over {runs} runs; the ceiling there should still be \
             max_delay",
            p.max_retries - 1
        );
    }
    Ok(())
}

/// The ceiling is `base · factor^n` until it reaches `max_delay`: the longest wait seen at each
/// retry number tracks it.
pub async fn grows_exponentially() -> CheckResult {
    // base 10 ms, factor 2, cap 10 s: ceilings 10 ms, 20 ms, …, 5.12 s, then 10 s from n = 10.
    // For each n, the longest of 1000 waits must reach 97% of the ceiling: a correct uniform
    // draw misses with probability 0.97^1000 ≈ 6e-14 per n, < 1e-12 over the 13 values of n.
    // Below the cap the longest wait must not exceed the ceiling either (that is growth that is
    // too fast); at the cap, exceeding it is `cap.never_exceeded`'s business.
    const RETRIES: usize = 13;
    let p = policy(RETRIES as u32 + 1, 10, 2, 10_000);
    let waits = waits_by_retry(&p, RETRIES, 1000, 30).await?;
    for (n, waits) in waits.iter().enumerate() {
        let ceiling = ceiling(&p, n);
        let longest = waits.iter().max().copied().unwrap_or_default();
        let below_cap = ceiling < p.max_delay;
        if longest < ceiling.mul_f64(0.97) || (below_cap && longest > ceiling + TICK) {
            fail!(
                hint = "the ceiling for retry n (0-based) is min(max_delay, base · factor^n): \
                        base for the first retry, then multiplied by factor each time, with no \
                        other limit on the exponent",
                "with {p:?}, the longest of {} waits before retry {n} was {longest:?}; the \
                 ceiling there is {ceiling:?}, so the longest wait should be within 3% of it",
                waits.len()
            );
        }
    }
    Ok(())
}

/// The wait is uniform over `[0, ceiling]`: deciles of `wait / ceiling` are evenly filled.
pub async fn spread() -> CheckResult {
    // Retries 0..4 of base 1 s, factor 2, cap 1 h (never reached): 1000 runs give 4000 values
    // of u = wait / ceiling, which are uniform on [0, 1] for full jitter. The 1 ms rounding of
    // tokio's timer moves u by at most 0.001, so each decile holds a given sample with
    // probability p in [0.099, 0.101]: its count X is Binomial(4000, p), mean in [396, 404].
    // Chernoff: P(X >= 600) <= exp(-d²μ/(2+d)) with μ = 404, d = 0.485: exp(-38) ≈ 3e-17;
    // P(X <= 200) <= exp(-d²μ/2) with μ = 396, d = 0.495: exp(-48) ≈ 1e-21. Over 10 deciles
    // and both tails, a correct implementation fails with probability < 1e-15. Equal jitter
    // leaves the lower five deciles empty, no jitter puts everything in the top one.
    const RETRIES: usize = 4;
    const RUNS: usize = 1000;
    const LOW: usize = 200;
    const HIGH: usize = 600;
    let p = policy(RETRIES as u32 + 1, 1_000, 2, 3_600_000);
    let waits = waits_by_retry(&p, RETRIES, RUNS, 40).await?;
    let mut deciles = [0usize; 10];
    for (n, waits) in waits.iter().enumerate() {
        let ceiling = ceiling(&p, n);
        for &wait in waits {
            ensure!(
                wait <= ceiling + TICK,
                hint = "full jitter draws the delay uniformly from [0, ceiling]; it never adds \
                        to the ceiling or starts from the previous delay",
                "with {p:?}, a wait before retry {n} was {wait:?}, above its ceiling {ceiling:?}"
            );
            let u = wait.as_secs_f64() / ceiling.as_secs_f64();
            deciles[((u * 10.0) as usize).min(9)] += 1;
        }
    }
    ensure!(
        deciles.iter().all(|&count| (LOW..=HIGH).contains(&count)),
        hint = "draw the delay uniformly from the whole range [0, ceiling] (e.g. \
                rng.random_range(0..=ceiling_nanos)), not ceiling/2 + jitter, not the ceiling \
                itself",
        "waits before retries 0..{RETRIES} as fractions of their ceiling, counted per decile \
         over {RUNS} runs: {deciles:?}; full jitter puts about {} in each (at least {LOW}, at \
         most {HIGH})",
        RUNS * RETRIES / 10
    );
    Ok(())
}
