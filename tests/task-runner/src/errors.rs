//! Criterion `errors`: fail-fast stops at the first error; settle-all reports every outcome.
//!
//! The fail-fast checks share one scenario (limit 3): task 0 succeeds after 40ms, task 1 fails
//! after 30ms, task 2 fails after 10ms, and four 7ms tasks wait in the queue. A runner that
//! fills its slots fails at 10ms with task 2, while tasks 0 and 1 are in flight. Expectations
//! are read from what the probe saw (which task failed first, which were in flight then), so a
//! runner that schedules differently is judged on its own run, and each check judges one
//! thing: the error returned, the cancellation of the others, or the queue left alone.
//!
//! `errors.first_error` and `errors.no_start_after_error` then go on over seeded fail-fast
//! scenarios ([`crate::model`]): any limit, several failures, tasks that react to their token
//! at once, by failing, slowly, or not at all. The first failure is again the one the probe
//! saw first; its instant may coincide with another task succeeding, whose freed slot may then
//! be refilled (the runner cannot know yet), but never the failed task's own slot, and nothing
//! may start later, even after `run` has returned.

use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, ensure, ensure_eq, fail};
use task_runner::{RunError, Runner};

use crate::model::{self, Returned, Scenario};
use crate::probe::{DEADLINE, Event, Kind, Plan, Probe, TaskError, WIND_DOWN, ms, value_of};

/// How long `no_start_after_error` keeps watching after `run` returns: a runner that leaves
/// tasks to wind down may still have a task it spawned just before returning.
const AFTER_RETURN: Duration = Duration::from_secs(1);

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "errors.first_error",
            "errors",
            "Fail-fast returns the error of the first task to fail by completion time (not the \
             lowest index), with that task's index; also over seeded scenarios with several \
             failures and tasks that react to cancellation in every way.",
        )
        .hint(
            "Return as soon as a task returns `Err`: that one is the first error. Errors of \
             tasks reacting to the cancellation that follows are not it.",
        )
        .paused(first_error),
        check(
            "errors.cancels_in_flight",
            "errors",
            "On the first error, fail-fast cancels the token of every task still in flight, \
             returns promptly, and leaves the caller's token alone.",
        )
        .hint(
            "Give the tasks a child of the caller's token (`child_token()`) and cancel it on \
             the first error; don't wait for the other tasks' full durations.",
        )
        .paused(cancels_in_flight),
        check(
            "errors.no_start_after_error",
            "errors",
            "After the first error, fail-fast never starts a queued task, not even into the \
             slot the failed task freed, nor after `run` has returned; also over seeded \
             scenarios.",
        )
        .hint("Once a task has failed, stop refilling: drop the queue instead of draining it.")
        .paused(no_start_after_error),
        check(
            "errors.settle_all",
            "errors",
            "Settle-all runs every task despite two failures and returns every outcome, `Ok` \
             and `Err`, in input order.",
        )
        .hint(
            "In settle-all mode an `Err` is an outcome to store in its slot like any other: \
             don't stop or cancel anything.",
        )
        .paused(settle_all),
    ]
}

/// The shared fail-fast scenario: what the probe saw, what `run` returned, and when.
struct FailFast {
    probe: Probe,
    runner: Runner,
    result: Result<Vec<u64>, RunError<TaskError>>,
    returned_at: Duration,
}

impl FailFast {
    async fn run() -> Result<Self, grade_kit::Failure> {
        let plans = [
            Plan::Succeed(40),
            Plan::Fail(30),
            Plan::Fail(10),
            Plan::Succeed(7),
            Plan::Succeed(7),
            Plan::Succeed(7),
            Plan::Succeed(7),
        ];
        let probe = Probe::new();
        let runner = Runner::new(3);
        let result = within(DEADLINE, "Runner::run", runner.run(probe.tasks(&plans))).await?;
        let returned_at = probe.now();
        Ok(Self {
            probe,
            runner,
            result,
            returned_at,
        })
    }

    /// The first planned failure the probe saw: its event position and the event.
    fn first_failure(&self) -> Result<(usize, Event), grade_kit::Failure> {
        match self.probe.first(Kind::Failed) {
            Some(found) => Ok(found),
            None => fail!(
                "no task ran to its planned failure (run returned {:?})",
                self.result
            ),
        }
    }
}

async fn first_error() -> CheckResult {
    let run = FailFast::run().await?;
    let (_, failure) = run.first_failure()?;
    let index = failure.task;
    ensure_eq!(
        run.result,
        Err(RunError::Task {
            index,
            error: TaskError::Failed(index)
        }),
        "task {index} was the first to fail (at {}), so run should return its error",
        ms(failure.at)
    );
    explore(
        Explore::new(0xE770).cases(250),
        model::failing_scenario(),
        |scenario: Scenario| async move {
            let run = model::execute(&scenario).await?;
            let Some(first) = run.probe.first_time(Kind::Failed) else {
                fail!(
                    "no task ran to its planned failure (run returned {:?})",
                    run.returned
                );
            };
            // Tasks failing at the very same instant are all "first": any of them will do.
            let tied: Vec<usize> = run
                .probe
                .events()
                .iter()
                .filter(|e| e.kind == Kind::Failed && e.at == first)
                .map(|e| e.task)
                .collect();
            let index = match run.returned.error() {
                Some(RunError::Task { index, .. }) if tied.contains(index) => *index,
                _ => tied[0],
            };
            let expected = Returned::Values(Err(RunError::Task {
                index,
                error: TaskError::Failed(index),
            }));
            ensure_eq!(
                run.returned,
                expected,
                "task {index} was the first to fail (at {}), so run should return its error",
                ms(first)
            );
            Ok(())
        },
    )
    .await
}

async fn cancels_in_flight() -> CheckResult {
    let run = FailFast::run().await?;
    let (position, failure) = run.first_failure()?;
    for task in run.probe.in_flight_at(position) {
        ensure!(
            run.probe.token_cancelled(task) == Some(true),
            "task {task} was still running when task {} failed at {}, but its token was not \
             cancelled when run returned",
            failure.task,
            ms(failure.at)
        );
    }
    // Cooperative tasks wind down in WIND_DOWN; allow a few times that.
    let deadline = failure.at + WIND_DOWN * 5;
    ensure!(
        run.returned_at <= deadline,
        "run returned at {}, though task {} failed at {}: it waited for the other tasks \
         instead of stopping them (expected by {})",
        ms(run.returned_at),
        failure.task,
        ms(failure.at),
        ms(deadline)
    );
    ensure!(
        !run.runner.cancel.is_cancelled(),
        hint = "cancel a child token (`runner.cancel.child_token()`), never the caller's own",
        "a task failure cancelled the caller's token (`Runner::cancel`), which other work may \
         share"
    );
    Ok(())
}

async fn no_start_after_error() -> CheckResult {
    let run = FailFast::run().await?;
    // A runner that leaves tasks to wind down may have spawned one just before returning: give
    // it the time to show.
    tokio::time::sleep(AFTER_RETURN).await;
    let (position, failure) = run.first_failure()?;
    let late = run.probe.started_after(position);
    if let Some(&(task, at)) = late.first() {
        fail!(
            "task {} failed at {}, yet {} queued task(s) started afterwards (task {task} at {})",
            failure.task,
            ms(failure.at),
            late.len(),
            ms(at)
        );
    }
    explore(
        Explore::new(0x5747).cases(250),
        model::failing_scenario(),
        |scenario: Scenario| async move {
            let run = model::execute(&scenario).await?;
            let Some((position, failure)) = run.probe.first(Kind::Failed) else {
                fail!(
                    "no task ran to its planned failure (run returned {:?})",
                    run.returned
                );
            };
            let events = run.probe.events();
            // Another task succeeding at that same instant frees a slot the runner may refill
            // before it sees the failure; the failed task's own slot it may not.
            let may_refill = events
                .iter()
                .filter(|e| e.kind == Kind::Succeeded && e.at == failure.at)
                .count();
            let late: Vec<(usize, Duration)> = run.probe.started_after(position);
            let at_once = late.iter().filter(|(_, at)| *at == failure.at).count();
            // Only starts at that instant can be excused, and no more than the slots freed.
            let allowed = at_once.min(may_refill);
            let started: Vec<String> = late
                .iter()
                .map(|(task, at)| format!("task {task} at {}", ms(*at)))
                .collect();
            ensure_eq!(
                late.len(),
                allowed,
                "task {} failed at {} ({may_refill} other task(s) succeeded at that instant), \
                 yet these queued tasks started afterwards: {started:?}",
                failure.task,
                ms(failure.at)
            );
            Ok(())
        },
    )
    .await
}

async fn settle_all() -> CheckResult {
    // Durations grow with the index, so completion order is input order: this check is about
    // errors not stopping the run, not about ordering.
    let plans = [
        Plan::Succeed(10),
        Plan::Fail(20),
        Plan::Succeed(30),
        Plan::Fail(40),
        Plan::Succeed(50),
        Plan::Succeed(60),
    ];
    let probe = Probe::new();
    let runner = Runner::new(3);
    let settled = runner.run_settled(probe.tasks(&plans));
    let result = within(DEADLINE, "Runner::run_settled", settled).await?;
    let expected = vec![
        Ok(value_of(0)),
        Err(TaskError::Failed(1)),
        Ok(value_of(2)),
        Err(TaskError::Failed(3)),
        Ok(value_of(4)),
        Ok(value_of(5)),
    ];
    ensure_eq!(
        result,
        Ok(expected),
        "run_settled should run all six tasks and report each outcome in input order"
    );
    Ok(())
}
