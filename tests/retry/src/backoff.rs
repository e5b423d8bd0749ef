//! How long the attempt waits: the cap (`cap`) and the jitter (`jitter`).
//!
//! Every wait is measured as the gap between two calls on tokio's paused clock, so the checks
//! judge what the attempt did, not what it reports. Randomness is judged statistically over
//! many runs with a seeded RNG; each bound below is chosen so that a correct implementation
//! (any uniform draw in `[0, ceiling]`, whatever RNG calls it makes) fails with probability
//! below 1e-9, and the arithmetic is in the comments.

use std::time::Duration;

use std::collections::HashMap;

use grade_kit::model::{Explore, explore};
use grade_kit::{CheckResult, Failure, ensure, ensure_eq, fail};
use retry::Policy;

use crate::harness::{CountingRng, Script, TICK, describe, policy, rng, run};
use crate::model::{self, Ending, ceiling};

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
    // Base 1 s, factor 2, cap 1000 s: ceilings 1 s, 2 s, …, 512 s, then 1000 s from n = 10;
    // base 1 s, factor 3, cap 500 s: 1 s, 3 s, …, 243 s, then 500 s from n = 6 (the policy's
    // factor, not 2). Whole-second ceilings, so that jitter drawn in whole seconds (a `jitter`
    // mistake) still reaches them; sub-second ceilings are in the model part below.
    // For each n, the longest of 1000 waits must reach 97% of the ceiling: a correct uniform
    // draw misses with probability 0.97^1000 ≈ 6e-14 per n, < 1e-12 over the 21 values of n.
    // Below the cap the longest wait must not exceed the ceiling either (that is growth that is
    // too fast); at the cap, exceeding it is `cap.never_exceeded`'s business.
    for (i, (p, retries)) in [
        (policy(14, 1_000, 2, 1_000_000), 13),
        (policy(9, 1_000, 3, 500_000), 8),
    ]
    .into_iter()
    .enumerate()
    {
        let waits = waits_by_retry(&p, retries, 1000, 30 + i as u64).await?;
        for (n, waits) in waits.iter().enumerate() {
            let ceiling = ceiling(&p, n);
            let longest = waits.iter().max().copied().unwrap_or_default();
            let below_cap = ceiling < p.max_delay;
            if longest < ceiling.mul_f64(0.97) || (below_cap && longest > ceiling + TICK) {
                fail!(
                    hint = "the ceiling for retry n (0-based) is min(max_delay, base · \
                            factor^n): base for the first retry, then multiplied by factor each \
                            time, with no other limit on the exponent",
                    "with {p:?}, the longest of {} waits before retry {n} was {longest:?}; the \
                     ceiling there is {ceiling:?}, so the longest wait should be within 3% of it",
                    waits.len()
                );
            }
        }
    }

    // The model part: every wait after an error without a hint stays under its ceiling, for
    // any factor (1 keeps the ceiling at base, 3 triples it), sub-second and inverted
    // base/cap, huge budgets. As above, a ceiling at max_delay is `cap.never_exceeded`'s.
    explore(
        Explore::new(0xCE11).cases(300),
        model::transient_scenario(Ending::Success),
        |s| async move {
            let script = s.script();
            let expected = model::expect(&s.policy, &script);
            let run_ = run(&s.policy, &script, &mut rng(s.seed)).await?;
            for (n, (gap, wait)) in run_.gaps().into_iter().zip(expected.waits).enumerate() {
                if wait.hinted || wait.hi >= s.policy.max_delay {
                    continue;
                }
                ensure!(
                    gap <= wait.hi + TICK,
                    hint = "the ceiling for retry n (0-based) is min(max_delay, base · \
                            factor^n), with the policy's factor (1 keeps it at base)",
                    "with {:?}, the wait before retry {n} was {gap:?}, above its ceiling {:?}",
                    s.policy,
                    wait.hi
                );
            }
            Ok(())
        },
    )
    .await
}

/// The wait is uniform over `[0, ceiling]`, at and below the cap: deciles are evenly filled
/// and no single value holds a lump of the waits.
pub async fn spread() -> CheckResult {
    // Base 300 ms, factor 2, cap 2 s: ceilings 300 ms, 600 ms, 1.2 s, then 2 s (from 2.4 s and
    // 4.8 s): sub-second ceilings, whole-second ones, and two at the cap, where drawing over
    // the uncapped ceiling and then clamping to max_delay piles waits up on max_delay.
    //
    // Each retry's waits are divided by the longest of them, not by the ceiling the model
    // computes: a wrong ceiling is the `cap` criterion's business; the shape is ours. For full
    // jitter the longest of 1000 draws is within 1% of the ceiling except with probability
    // 0.99^1000 ≈ 4e-5, and even 2% off moves a decile's edge by 2%, a few waits.
    //
    // 1000 runs give 5000 values u in [0, 1]. Each decile holds a sample with probability p in
    // [0.098, 0.102] (the 1 ms timer rounding and the normalisation), so its count X is
    // Binomial(5000, p), mean in [490, 510]. Chernoff: P(X >= 750) <= exp(-d²μ/(2+d)) with
    // μ = 510, d = 0.47: exp(-45); P(X <= 300) <= exp(-d²μ/2) with μ = 490, d = 0.39: exp(-37).
    // Over 10 deciles and both tails, a correct implementation fails with probability < 1e-15.
    //
    // Point masses: measured waits are whole milliseconds, and a ceiling of c ms spreads 1000
    // draws over c + 1 values (at least 301), so a value's count is at most Binomial(1000,
    // 1/300) (mean 3.3): P(>= 30) < 1e-16 per value, < 1e-12 over the 5 × 2001 values. Clamping
    // to max_delay, whole-second jitter (every sub-second ceiling gives 0), or no jitter puts
    // hundreds of waits on one value.
    const RETRIES: usize = 5;
    const RUNS: usize = 1000;
    const LOW: usize = 300;
    const HIGH: usize = 750;
    const LUMP: usize = 30;
    let p = policy(RETRIES as u32 + 1, 300, 2, 2_000);
    let waits = waits_by_retry(&p, RETRIES, RUNS, 40).await?;
    let mut deciles = [0usize; 10];
    for (n, waits) in waits.iter().enumerate() {
        let mut counts: HashMap<Duration, usize> = HashMap::new();
        for &wait in waits {
            *counts.entry(wait).or_default() += 1;
        }
        if let Some((&value, &count)) = counts.iter().max_by_key(|(_, count)| **count) {
            ensure!(
                count < LUMP,
                hint = "draw the delay uniformly from the whole range [0, ceiling], with \
                        sub-second precision, under the capped ceiling: clamping a draw over \
                        the uncapped ceiling piles waits up on max_delay",
                "with {p:?}, {count} of {RUNS} waits before retry {n} were exactly {value:?} \
                 (the ceiling there is {:?}); full jitter spreads them over every millisecond \
                 up to the ceiling (fewer than {LUMP} on any one value)",
                ceiling(&p, n)
            );
        }
        let longest = waits.iter().max().copied().unwrap_or_default();
        if longest.is_zero() {
            continue; // every wait on 0: the lump above already failed
        }
        for &wait in waits {
            let u = wait.as_secs_f64() / longest.as_secs_f64();
            deciles[((u * 10.0) as usize).min(9)] += 1;
        }
    }
    ensure!(
        deciles.iter().all(|&count| (LOW..=HIGH).contains(&count)),
        hint = "draw the delay uniformly from the whole range [0, ceiling] (e.g. \
                rng.random_range(0..=ceiling_nanos)), not ceiling/2 + jitter, not the ceiling \
                itself",
        "waits before retries 0..{RETRIES} as fractions of the longest wait before the same \
         retry, counted per decile over {RUNS} runs: {deciles:?}; full jitter puts about {} in \
         each (at least {LOW}, at most {HIGH})",
        RUNS * RETRIES / 10
    );
    Ok(())
}

/// All randomness comes from the `rng` argument, and a zero ceiling gives a zero wait.
pub async fn rng_argument() -> CheckResult {
    // Same seed, same waits: an attempt drawing from the thread RNG (or any other source)
    // gives different waits on the second run (1000 s ceilings: equal by chance with
    // probability ~1e-6 per wait, and five waits).
    let p = policy(5, 1_000_000, 1, 1_000_000);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut counting = CountingRng::new(80);
        let run_ = run(&p, &Script::always_transient(), &mut counting).await?;
        ensure!(
            counting.draws > 0,
            hint = "draw the jitter from the rng argument (rng.random_range(..)), not from \
                    rand::rng() or another source: the caller seeds it to make runs repeatable",
            "with {p:?}, retry() waited {:?} between calls without drawing anything from the \
             rng it was given",
            run_.gaps()
        );
        runs.push(run_.gaps());
    }
    ensure_eq!(
        runs[1],
        runs[0],
        hint = "take every random number from the rng argument: two runs with identically \
                seeded rngs must wait the same",
        "waits of a second run with an rng seeded like the first"
    );

    // A zero ceiling leaves one possible delay, 0: the range [0, ceiling] is never empty, so
    // nothing may panic and every wait is (within the timer's millisecond) zero. The zero
    // comes from base = 0 (with max_delay 0 too, and without): a base above a zero max_delay
    // would also test cutting the base down to the cap, which is `cap.never_exceeded`'s.
    let zero_ceilings = [policy(3, 0, 2, 1_000), policy(3, 0, 1, 0)];
    for (i, p) in zero_ceilings.iter().enumerate() {
        let run_ = run(p, &Script::always_transient(), &mut rng(81 + i as u64)).await?;
        for (n, gap) in run_.gaps().into_iter().enumerate() {
            ensure!(
                gap <= TICK,
                hint = "with a zero ceiling the only delay in [0, ceiling] is 0: draw from the \
                        inclusive range (random_range(0..=ceiling)), which is never empty",
                "with {p:?}, the ceiling is 0 but the wait before retry {n} was {gap:?}"
            );
        }
    }
    Ok(())
}
