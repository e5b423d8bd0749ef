//! The executable spec of "which task may start when", and seeded scenarios to compare it with.
//!
//! A [`Scenario`] is a task count, a limit (1, small, exactly the count, above it), each task's
//! duration on the paused clock, which tasks fail, how each reacts to its token (stops at once,
//! fails at once, slowly, or not at all), the mode (fail-fast or settle-all) and, maybe, the
//! instant the caller cancels. [`schedule`] is the model: tasks start in input order, each the
//! moment fewer than `limit` run, so every start time follows from the durations. [`execute`]
//! runs the attempt on the scenario and records what happened, including anything that starts
//! after `run` has returned (a runner that leaves tasks to wind down keeps a runtime busy).
//!
//! The checks that use this module each judge one criterion, and read the other criteria's
//! part from what the attempt actually did: `eager.refills_at_once` compares start times with the model
//! up to the first failure or cancellation; `errors.first_error` and
//! `errors.no_start_after_error` take the first failure the probe saw (so a runner that
//! schedules differently is judged on its own schedule); `cancel.stops_run` judges what happens
//! from the cancellation on. A bug is then blamed on the criterion it breaks.
//!
//! Durations are multiples of 10ms and cancellations come 1ms after or 1ms before such an
//! instant, so a cancellation never ties with a task finishing: the prompt leaves that race
//! open, and the scenarios stay clear of it. A failure can tie with another task finishing;
//! the checks allow what the prompt allows then.

use std::fmt;
use std::time::Duration;

use grade_kit::Failure;
use grade_kit::proptest::prelude::*;
use grade_kit::time::within;
use task_runner::{RunError, Runner};
use tokio_util::sync::CancellationToken;

use crate::probe::{DEADLINE, Plan, Probe, Reaction, TaskError};

/// How long after `run` returns a check keeps watching for late starts: longer than any task
/// of a scenario, including a slow wind-down.
const AFTER_RETURN: Duration = Duration::from_secs(3);

/// One task of a scenario.
#[derive(Clone, Copy)]
pub struct TaskSpec {
    /// Planned duration in milliseconds.
    pub ms: u64,
    /// Whether it ends with `TaskError::Failed` instead of `Ok`.
    pub fails: bool,
    /// What it does when its token is cancelled first.
    pub reaction: Reaction,
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = if self.fails { "fails" } else { "ok" };
        write!(f, "{}ms {outcome}, {:?} on cancel", self.ms, self.reaction)
    }
}

/// Which entry point a scenario calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `Runner::run`.
    FailFast,
    /// `Runner::run_settled`.
    SettleAll,
}

/// One generated run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub limit: usize,
    pub mode: Mode,
    /// The caller cancels its token at this millisecond (from a spawned task), if at all.
    pub cancel_at_ms: Option<u64>,
    pub tasks: Vec<TaskSpec>,
}

impl Scenario {
    fn plans(&self) -> Vec<Plan> {
        self.tasks
            .iter()
            .map(|t| {
                if t.fails {
                    Plan::Fail(t.ms)
                } else {
                    Plan::Succeed(t.ms)
                }
            })
            .collect()
    }

    /// The model's start time of every task, ignoring failures and cancellation.
    pub fn schedule(&self) -> Vec<Duration> {
        self.schedule_with(self.limit)
    }

    /// The model's start times if only `limit` slots were used.
    pub fn schedule_with(&self, limit: usize) -> Vec<Duration> {
        schedule(limit, &self.tasks.iter().map(|t| t.ms).collect::<Vec<_>>())
            .into_iter()
            .map(Duration::from_millis)
            .collect()
    }

    /// In fail-fast mode, the instant the model's first failure ends the run.
    pub fn first_failure(&self) -> Option<Duration> {
        if self.mode != Mode::FailFast {
            return None;
        }
        let starts = self.schedule();
        self.tasks
            .iter()
            .zip(starts)
            .filter(|(t, _)| t.fails)
            .map(|(t, start)| start + Duration::from_millis(t.ms))
            .min()
    }

    pub fn cancel_at(&self) -> Option<Duration> {
        self.cancel_at_ms.map(Duration::from_millis)
    }
}

/// The model: with at most `limit` in flight, tasks start in input order, each the moment a
/// slot is free. Returns every task's start time in milliseconds.
pub fn schedule(limit: usize, durations: &[u64]) -> Vec<u64> {
    let mut running: Vec<u64> = Vec::new(); // end times of the tasks in flight
    let mut now = 0;
    let mut starts = Vec::with_capacity(durations.len());
    for &ms in durations {
        running.retain(|&end| end > now);
        if running.len() >= limit {
            now = *running
                .iter()
                .min()
                .expect("limit >= 1, so a task is running");
            running.retain(|&end| end > now);
        }
        starts.push(now);
        running.push(now + ms);
    }
    starts
}

/// What the attempt returned, with the error type of the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    Values(Result<Vec<u64>, RunError<TaskError>>),
    Settled(Result<Vec<Result<u64, TaskError>>, RunError<TaskError>>),
}

impl Returned {
    /// The run's error, if it ended with one.
    pub fn error(&self) -> Option<&RunError<TaskError>> {
        match self {
            Self::Values(Err(error)) | Self::Settled(Err(error)) => Some(error),
            _ => None,
        }
    }
}

/// What one execution of a scenario looked like.
pub struct Observed {
    pub probe: Probe,
    pub returned: Returned,
    pub returned_at: Duration,
}

impl Observed {
    /// Each task's start time (`None`: never started), watched until well after the return.
    pub fn starts(&self, scenario: &Scenario) -> Vec<Option<Duration>> {
        self.probe.start_times(scenario.tasks.len())
    }
}

/// Runs the attempt on `scenario`, then keeps the runtime going a while so that anything the
/// runner left behind (a task spawned just before it returned) shows up in the probe.
pub async fn execute(scenario: &Scenario) -> Result<Observed, Failure> {
    let probe = Probe::new();
    let token = CancellationToken::new();
    let runner = Runner {
        limit: scenario.limit,
        cancel: token.clone(),
    };
    // A spawned task cancels, while `run` is awaited right here: tasks reacting to the
    // cancellation get to run before the runner is polled again, as in production.
    let canceller = scenario.cancel_at().map(|at| {
        let probe = probe.clone();
        tokio::spawn(async move {
            tokio::time::sleep(at).await;
            probe.mark_caller_cancelled();
            token.cancel();
        })
    });
    let tasks: Vec<_> = scenario
        .plans()
        .into_iter()
        .zip(&scenario.tasks)
        .enumerate()
        .map(|(index, (plan, spec))| probe.task_with(index, plan, spec.reaction))
        .collect();
    let returned = match scenario.mode {
        Mode::FailFast => {
            Returned::Values(within(DEADLINE, "Runner::run", runner.run(tasks)).await?)
        }
        Mode::SettleAll => Returned::Settled(
            within(DEADLINE, "Runner::run_settled", runner.run_settled(tasks)).await?,
        ),
    };
    let returned_at = probe.now();
    if let Some(canceller) = canceller {
        canceller.abort();
    }
    tokio::time::sleep(AFTER_RETURN).await;
    Ok(Observed {
        probe,
        returned,
        returned_at,
    })
}

/// Scenarios for the schedule checks: some with failures, some with a caller cancellation.
pub fn any_scenario() -> impl Strategy<Value = Scenario> {
    scenarios(
        any_mode(),
        0.3,
        prop::option::weighted(0.4, cancel_instant()),
    )
}

/// Fail-fast scenarios with at least one failure and no caller cancellation.
pub fn failing_scenario() -> impl Strategy<Value = Scenario> {
    scenarios(Just(Mode::FailFast), 0.35, Just(None))
        .prop_filter("needs a failing task", |s| s.tasks.iter().any(|t| t.fails))
}

/// Scenarios in either mode where the caller cancels mid-run.
pub fn cancelled_scenario() -> impl Strategy<Value = Scenario> {
    scenarios(any_mode(), 0.2, cancel_instant().prop_map(Some))
}

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::FailFast), Just(Mode::SettleAll)]
}

/// 1ms after or 1ms before a multiple of 10ms, up to 150ms: never at the same instant as a
/// task finishing, and both sides of every such instant.
fn cancel_instant() -> impl Strategy<Value = u64> {
    (0u64..15, prop_oneof![Just(1u64), Just(9u64)]).prop_map(|(tens, offset)| tens * 10 + offset)
}

fn reaction() -> impl Strategy<Value = Reaction> + Clone {
    prop_oneof![
        Just(Reaction::WindDown),
        Just(Reaction::FailAtOnce),
        Just(Reaction::Slow),
        Just(Reaction::Ignore),
    ]
}

fn scenarios(
    mode: impl Strategy<Value = Mode>,
    fail_probability: f64,
    cancel: impl Strategy<Value = Option<u64>>,
) -> impl Strategy<Value = Scenario> {
    let task = (1u64..=5, prop::bool::weighted(fail_probability), reaction()).prop_map(
        |(tens, fails, reaction)| TaskSpec {
            ms: tens * 10,
            fails,
            reaction,
        },
    );
    let body = (1usize..=8).prop_flat_map(move |count| {
        // The limit's edges by construction: 1, exactly the count, above it; and between.
        let limit = prop_oneof![Just(1usize), 2usize..=3, Just(count), Just(count + 2)];
        (limit, prop::collection::vec(task.clone(), count))
    });
    (body, mode, cancel).prop_map(|((limit, tasks), mode, cancel_at_ms)| Scenario {
        limit,
        mode,
        cancel_at_ms,
        tasks,
    })
}
