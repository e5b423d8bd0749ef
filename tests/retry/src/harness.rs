//! The scripted operation, the recording observer and the runner every check uses.
//!
//! A check describes what the operation does on each call (a [`Script`] of [`Step`]s, each
//! with a latency), runs [`retry::retry`] on it with a seeded RNG, and gets back a [`Run`]: the
//! result, when every call started and ended (tokio's paused clock, so exact), and when
//! `retry` returned. The waits the attempt actually slept are the gaps between calls: the
//! suite measures them rather than trusting what the attempt reports.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use grade_kit::Failure;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use retry::{AttemptOutcome, ErrorClass, Observer, Outcome, Policy, RetryError};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Slack on measured waits: tokio's timer has millisecond resolution and rounds every sleep's
/// deadline *up* to the next millisecond, so a wait of `d` is observed as `d ..= d + 1ms`.
pub const TICK: Duration = Duration::from_millis(1);

/// A virtual-time limit on one `retry` call, so a hang reads as a failure, not a timeout.
const RUN_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the operation does on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Return `Ok(call number)`.
    Ok,
    /// Fail with an error the classifier calls transient, with this `retry_after` hint.
    Transient(Option<Duration>),
    /// Fail with an error the classifier calls permanent.
    Permanent,
}

/// Shorthand for a transient failure without a hint.
pub const T: Step = Step::Transient(None);

/// The operation's error: which call failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// The call that failed, counting from 1.
    pub call: u32,
    /// `Step::Transient(..)` or `Step::Permanent`.
    pub step: Step,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {} failed ({:?})", self.call, self.step)
    }
}

impl std::error::Error for OpError {}

/// The classifier handed to `retry`.
pub fn classify(error: &OpError) -> ErrorClass {
    match error.step {
        Step::Transient(retry_after) => ErrorClass::Transient { retry_after },
        Step::Ok | Step::Permanent => ErrorClass::Permanent,
    }
}

/// Steps with their latencies; the last one repeats forever.
#[derive(Debug, Clone)]
pub struct Script(Vec<(Step, Duration)>);

impl Script {
    /// Every call instantaneous.
    pub fn new(steps: &[Step]) -> Self {
        Self(steps.iter().map(|&step| (step, Duration::ZERO)).collect())
    }

    /// Steps with latencies in milliseconds.
    pub fn timed(steps: &[(Step, u64)]) -> Self {
        Self(
            steps
                .iter()
                .map(|&(step, ms)| (step, Duration::from_millis(ms)))
                .collect(),
        )
    }

    /// Always fails transiently, instantly.
    pub fn always_transient() -> Self {
        Self::new(&[T])
    }

    /// What call `call` (from 1) does, and how long it takes.
    pub fn step(&self, call: u32) -> (Step, Duration) {
        let index = (call as usize - 1).min(self.0.len() - 1);
        self.0[index]
    }
}

/// One call of the operation, as the operation itself saw it.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// When the call started.
    pub start: Instant,
    /// When it returned (`None` if its future was dropped first).
    pub end: Option<Instant>,
    /// What it did.
    pub step: Step,
}

/// Everything a check needs to know about one `retry` call.
#[derive(Debug)]
pub struct Run {
    /// What `retry` returned.
    pub result: Result<u32, RetryError<OpError>>,
    /// Every call, in order.
    pub calls: Vec<Call>,
    /// When `retry` returned.
    pub finished: Instant,
}

impl Run {
    /// The waits between calls: `gaps()[n]` is the wait before retry `n`.
    pub fn gaps(&self) -> Vec<Duration> {
        self.calls
            .windows(2)
            .map(|pair| pair[1].start - pair[0].end.unwrap_or(pair[0].start))
            .collect()
    }
}

/// The shared call log, and signals raised whenever a call returns and when the attempt makes
/// far more calls than its budget allows.
#[derive(Clone, Default)]
pub struct Log {
    calls: Arc<Mutex<Vec<Call>>>,
    returned: Arc<Notify>,
    overrun: Arc<Notify>,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until some call has returned since the last wait.
    pub async fn call_returned(&self) {
        self.returned.notified().await;
    }
}

/// Everything the attempt told its observer.
#[derive(Debug, Default)]
pub struct Recorder {
    /// `on_attempt` calls.
    pub attempts: Vec<(u32, Duration, AttemptOutcome)>,
    /// `on_retry_scheduled` calls.
    pub scheduled: Vec<Duration>,
    /// When each `on_retry_scheduled` call happened (tokio's clock).
    pub scheduled_at: Vec<Instant>,
    /// `on_finish` calls.
    pub finished: Vec<Outcome>,
}

impl Observer for Recorder {
    fn on_attempt(&mut self, attempt: u32, latency: Duration, outcome: AttemptOutcome) {
        self.attempts.push((attempt, latency, outcome));
    }

    fn on_retry_scheduled(&mut self, delay: Duration) {
        self.scheduled.push(delay);
        self.scheduled_at.push(Instant::now());
    }

    fn on_finish(&mut self, outcome: Outcome) {
        self.finished.push(outcome);
    }
}

/// A policy from milliseconds.
pub fn policy(max_retries: u32, base_ms: u64, factor: u32, max_ms: u64) -> Policy {
    Policy {
        max_retries,
        base: Duration::from_millis(base_ms),
        factor,
        max_delay: Duration::from_millis(max_ms),
    }
}

/// A seeded RNG: every check is deterministic for a given attempt.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// An RNG that counts how often the attempt draws from it (and otherwise is a seeded `StdRng`),
/// so a check can tell whether the attempt uses the `rng` argument at all.
pub struct CountingRng {
    inner: StdRng,
    /// Calls of any `RngCore` method so far.
    pub draws: u64,
}

impl CountingRng {
    /// A counting RNG seeded like [`rng`].
    pub fn new(seed: u64) -> Self {
        Self {
            inner: rng(seed),
            draws: 0,
        }
    }
}

impl RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        self.draws += 1;
        self.inner.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.draws += 1;
        self.inner.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.draws += 1;
        self.inner.fill_bytes(dst);
    }
}

/// The most calls a run may make before the harness stops it: a correct attempt makes at most
/// `max_retries + 1`, and an attempt that does not count some retries (say, those with a
/// `retry_after` hint) would otherwise call an always-failing operation forever.
fn call_limit(policy: &Policy) -> u32 {
    policy
        .max_retries
        .saturating_add(1)
        .saturating_mul(2)
        .saturating_add(10)
}

/// Runs `retry` once with a fresh token and no observer.
pub async fn run(
    policy: &Policy,
    script: &Script,
    rng: &mut (impl Rng + ?Sized),
) -> Result<Run, Failure> {
    run_with(
        policy,
        script,
        rng,
        &CancellationToken::new(),
        &mut (),
        &Log::default(),
    )
    .await
}

/// Runs `retry` once on `script`, logging calls to `log`, within a generous virtual deadline.
pub async fn run_with(
    policy: &Policy,
    script: &Script,
    rng: &mut (impl Rng + ?Sized),
    cancel: &CancellationToken,
    observer: &mut impl Observer,
    log: &Log,
) -> Result<Run, Failure> {
    log.lock().clear();
    let limit = call_limit(policy);
    let op = {
        let (log, script) = (log.clone(), Arc::new(script.clone()));
        move || {
            let (log, script) = (log.clone(), script.clone());
            async move {
                let start = Instant::now();
                let call = {
                    let mut calls = log.lock();
                    let call = calls.len() as u32 + 1;
                    if call <= limit {
                        let step = script.step(call).0;
                        calls.push(Call {
                            start,
                            end: None,
                            step,
                        });
                    }
                    call
                };
                if call > limit {
                    // Stop the run (`run_with` reports it): this call never returns.
                    log.overrun.notify_one();
                    std::future::pending::<()>().await;
                }
                let (step, latency) = script.step(call);
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                log.lock()[call as usize - 1].end = Some(Instant::now());
                log.returned.notify_one();
                match step {
                    Step::Ok => Ok(call),
                    step => Err(OpError { call, step }),
                }
            }
        }
    };
    let what = format!("retry() with {policy:?}");
    let retrying = grade_kit::time::within(
        RUN_LIMIT,
        &what,
        retry::retry(policy, classify, rng, cancel, observer, op),
    );
    let result = tokio::select! {
        result = retrying => result?,
        () = log.overrun.notified() => {
            let steps: Vec<Step> = log.lock().iter().take(4).map(|call| call.step).collect();
            grade_kit::fail!(
                hint = "count every retry against max_retries, whatever the error said (a \
                        retry with a retry_after hint too)",
                "with {policy:?}, retry() kept calling the operation: {limit} calls and \
                 counting, when at most {} are allowed (the operation's first calls: {steps:?}, \
                 the last one repeating)",
                policy.max_retries.saturating_add(1)
            );
        }
    };
    Ok(Run {
        result,
        calls: log.lock().clone(),
        finished: Instant::now(),
    })
}

/// A short description of a result for failure messages.
pub fn describe(result: &Result<u32, RetryError<OpError>>) -> String {
    match result {
        Ok(value) => format!("Ok({value})"),
        Err(RetryError::Permanent(e)) => format!("Err(Permanent({e}))"),
        Err(RetryError::Exhausted {
            last_error,
            attempts,
        }) => format!("Err(Exhausted {{ last_error: {last_error}, attempts: {attempts} }})"),
        Err(RetryError::Cancelled) => "Err(Cancelled)".to_owned(),
    }
}
