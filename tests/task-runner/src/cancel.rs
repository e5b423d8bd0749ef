//! Criterion `cancel`: the caller's token stops the whole run promptly.
//!
//! Scenario: limit 2, six 100ms tasks, the caller cancels at 30ms (tasks 0 and 1 in flight).
//! The tasks watch their tokens and wind down within a millisecond, returning
//! `TaskError::Cancelled`; the runner must not mistake that reaction for a task failure.

use std::time::Duration;

use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, ensure, ensure_eq, fail};
use task_runner::{RunError, Runner};
use tokio_util::sync::CancellationToken;

use crate::probe::{DEADLINE, Kind, Plan, Probe, TaskError, WIND_DOWN, ms};

/// When the check cancels the caller's token.
const CANCEL_AT: Duration = Duration::from_millis(30);

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "cancel.stops_run",
            "cancel",
            "Cancelling the caller's token mid-run makes `run` and `run_settled` return \
             `RunError::Cancelled` promptly and start no further task; an already cancelled \
             token gives `Cancelled` too.",
        )
        .hint(
            "Wait on the caller's token alongside task completions (`tokio::select!`, `biased` \
             with the token first) and return `Cancelled` as soon as it fires.",
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

async fn cancel_mid_run(mode: Mode) -> Result<Cancelled, grade_kit::Failure> {
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
    let tasks = probe.tasks(&[Plan::Succeed(100); 6]);
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
    for mode in [Mode::Run, Mode::RunSettled] {
        let run = cancel_mid_run(mode).await?;
        if let Err(returned) = run.outcome {
            fail!(
                "the caller cancelled at {}; {mode} should return Err(Cancelled) but returned \
                 {returned}",
                ms(CANCEL_AT)
            );
        }
        let deadline = CANCEL_AT + WIND_DOWN * 5;
        ensure!(
            run.returned_at <= deadline,
            "the caller cancelled at {}, but {mode} returned only at {} (expected by {})",
            ms(CANCEL_AT),
            ms(run.returned_at),
            ms(deadline)
        );
        if let Some((position, _)) = run.probe.first(Kind::CallerCancelled)
            && let Some(&(task, at)) = run.probe.started_after(position).first()
        {
            fail!(
                "the caller cancelled at {}, yet {mode} then started task {task} (at {})",
                ms(CANCEL_AT),
                ms(at)
            );
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
    Ok(())
}

async fn reaches_tasks() -> CheckResult {
    for mode in [Mode::Run, Mode::RunSettled] {
        let run = cancel_mid_run(mode).await?;
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
