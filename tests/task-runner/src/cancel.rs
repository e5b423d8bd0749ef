//! Criterion `cancel`: the caller's token stops the whole run promptly.
//!
//! Scenario: limit 2, six 100ms tasks, the caller cancels at 30ms (tasks 0 and 1 in flight).
//! `cancel.stops_run` plays it with tasks that react to their token in each of four ways: wind
//! down within a millisecond, fail at once with `TaskError::Cancelled` ("in the same breath",
//! before the runner is polled again), take a second to wind down, or ignore the token. The run
//! must end at the cancellation whatever they do: a runner that notices the cancellation only
//! when some task finishes, or that takes a task's reaction for a task failure, is caught by
//! one of them. It then goes on over seeded scenarios ([`crate::model`]): any limit, both
//! modes, a cancellation 1ms before or after a task finishes, tasks reacting in every way.
//! `cancel.reaches_tasks` uses the cooperative tasks only.

use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, ensure, ensure_eq, fail};
use task_runner::{RunError, Runner};
use tokio_util::sync::CancellationToken;

use crate::model::{self, Scenario};
use crate::probe::{DEADLINE, Kind, Plan, Probe, Reaction, TaskError, ms};

/// When the check cancels the caller's token.
const CANCEL_AT: Duration = Duration::from_millis(30);

/// How long after the cancellation `run` may take to return: a few times a cooperative
/// task's wind-down, far less than a slow one's or a whole task's.
const GRACE: Duration = Duration::from_millis(5);

/// How long `stops_run` keeps watching for starts after `run` returns (a runner that leaves
/// tasks to wind down keeps running things): longer than any task or wind-down.
const AFTER_RETURN: Duration = Duration::from_secs(2);

/// Every way a probe task can react to its token.
const REACTIONS: [Reaction; 4] = [
    Reaction::WindDown,
    Reaction::FailAtOnce,
    Reaction::Slow,
    Reaction::Ignore,
];

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "cancel.stops_run",
            "cancel",
            "Cancelling the caller's token mid-run makes `run` and `run_settled` return \
             `RunError::Cancelled` within 5ms and start no further task, whether the tasks in \
             flight stop at once, fail at once, take a second, or ignore their token; also over \
             seeded scenarios; an already cancelled token gives `Cancelled` too.",
        )
        .hint(
            "Wait on the caller's token alongside task completions (`tokio::select!`, `biased` \
             with the token first) and return `Cancelled` as soon as it fires, without waiting \
             for the tasks in flight (abort or drop them, or leave them to wind down). Tasks \
             failing because of the cancellation must not turn it into a task error: check the \
             token before treating a completion as a result.",
        )
        .paused(stops_run),
        check(
            "cancel.reaches_tasks",
            "cancel",
            "When the caller cancels mid-run, the tasks in flight see their own token cancelled.",
        )
        .hint(
            "Hand the tasks `runner.cancel.child_token()`, not a fresh token: a child is \
             cancelled with its parent.",
        )
        .paused(reaches_tasks),
    ]
}

/// Which of the two entry points a scenario calls.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Run,
    RunSettled,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Run => "run",
            Self::RunSettled => "run_settled",
        })
    }
}

/// What one cancelled run looked like.
struct Cancelled {
    probe: Probe,
    /// `Ok(())` when the run returned `Err(RunError::Cancelled)`, else what it returned.
    outcome: Result<(), String>,
    returned_at: Duration,
}

async fn cancel_mid_run(mode: Mode, reaction: Reaction) -> Result<Cancelled, grade_kit::Failure> {
    let probe = Probe::new();
    let token = CancellationToken::new();
    let runner = Runner {
        limit: 2,
        cancel: token.clone(),
    };
    let canceller = {
        let probe = probe.clone();
        tokio::spawn(async move {
            tokio::time::sleep(CANCEL_AT).await;
            probe.mark_caller_cancelled();
            token.cancel();
        })
    };
    let tasks = probe.tasks_reacting(&[Plan::Succeed(100); 6], reaction);
    let outcome = match mode {
        Mode::Run => match within(DEADLINE, "Runner::run", runner.run(tasks)).await? {
            Err(RunError::Cancelled) => Ok(()),
            other => Err(format!("{other:?}")),
        },
        Mode::RunSettled => {
            let settled = runner.run_settled(tasks);
            match within(DEADLINE, "Runner::run_settled", settled).await? {
                Err(RunError::Cancelled) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    };
    let returned_at = probe.now();
    canceller.abort();
    Ok(Cancelled {
        probe,
        outcome,
        returned_at,
    })
}

async fn stops_run() -> CheckResult {
    for reaction in REACTIONS {
        for mode in [Mode::Run, Mode::RunSettled] {
            let run = cancel_mid_run(mode, reaction).await?;
            let tasks = format!("tasks that react to their token with {reaction:?}");
            if let Err(returned) = run.outcome {
                fail!(
                    "the caller cancelled at {}, with {tasks}; {mode} should return \
                     Err(Cancelled) but returned {returned}",
                    ms(CANCEL_AT)
                );
            }
            let deadline = CANCEL_AT + GRACE;
            ensure!(
                run.returned_at <= deadline,
                "the caller cancelled at {}, with {tasks}, but {mode} returned only at {} \
                 (expected by {})",
                ms(CANCEL_AT),
                ms(run.returned_at),
                ms(deadline)
            );
            tokio::time::sleep(AFTER_RETURN).await;
            if let Some((position, _)) = run.probe.first(Kind::CallerCancelled)
                && let Some(&(task, at)) = run.probe.started_after(position).first()
            {
                fail!(
                    "the caller cancelled at {}, with {tasks}, yet {mode} then started task \
                     {task} (at {})",
                    ms(CANCEL_AT),
                    ms(at)
                );
            }
        }
    }

    let token = CancellationToken::new();
    token.cancel();
    let runner = Runner {
        limit: 2,
        cancel: token,
    };
    let probe = Probe::new();
    let result = within(
        DEADLINE,
        "Runner::run",
        runner.run(probe.tasks(&[Plan::Succeed(100); 4])),
    )
    .await?;
    ensure_eq!(
        result,
        Err::<Vec<u64>, _>(RunError::<TaskError>::Cancelled),
        "with a token cancelled before the run, run should return Cancelled"
    );

    explore(
        Explore::new(0xCA2C).cases(300),
        model::cancelled_scenario(),
        |scenario: Scenario| async move {
            let run = model::execute(&scenario).await?;
            let cancel_at = scenario.cancel_at().expect("a cancelled scenario");
            // A run that ended before the cancellation, or (fail-fast) failed before it, is
            // judged by the other criteria.
            let failed_first = scenario.mode == model::Mode::FailFast
                && run
                    .probe
                    .first_time(Kind::Failed)
                    .is_some_and(|at| at < cancel_at);
            if run.returned_at < cancel_at || failed_first {
                return Ok(());
            }
            ensure_eq!(
                run.returned.error(),
                Some(&RunError::Cancelled),
                "the caller cancelled at {}: the run should end with Err(Cancelled)",
                ms(cancel_at)
            );
            let deadline = cancel_at + GRACE;
            ensure!(
                run.returned_at <= deadline,
                "the caller cancelled at {}, but the run returned only at {} (expected by {})",
                ms(cancel_at),
                ms(run.returned_at),
                ms(deadline)
            );
            if let Some((position, _)) = run.probe.first(Kind::CallerCancelled) {
                let late: Vec<String> = run
                    .probe
                    .started_after(position)
                    .iter()
                    .map(|(task, at)| format!("task {task} at {}", ms(*at)))
                    .collect();
                ensure_eq!(
                    late,
                    Vec::<String>::new(),
                    "the caller cancelled at {}: no task may start after that",
                    ms(cancel_at)
                );
            }
            Ok(())
        },
    )
    .await
}

async fn reaches_tasks() -> CheckResult {
    for mode in [Mode::Run, Mode::RunSettled] {
        let run = cancel_mid_run(mode, Reaction::WindDown).await?;
        let Some((position, _)) = run.probe.first(Kind::CallerCancelled) else {
            fail!(
                "{mode} returned before the caller cancelled at {} (it returned {:?})",
                ms(CANCEL_AT),
                run.outcome
            );
        };
        let in_flight = run.probe.in_flight_at(position);
        ensure!(
            !in_flight.is_empty(),
            "no task was running when the caller cancelled at {} (limit 2, six 100ms tasks)",
            ms(CANCEL_AT)
        );
        for task in in_flight {
            ensure!(
                run.probe.token_cancelled(task) == Some(true),
                "task {task} was running when the caller cancelled at {}, but the token it was \
                 given was still not cancelled when {mode} returned",
                ms(CANCEL_AT)
            );
        }
    }
    Ok(())
}
