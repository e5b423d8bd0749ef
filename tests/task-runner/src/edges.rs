//! Criterion `edges`: no tasks, and a limit of zero.

use std::future::Future;
use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::proptest::prelude::*;
use grade_kit::time::within;
use grade_kit::{Check, CheckResult, Failure, check, ensure, ensure_eq};
use task_runner::{RunError, Runner};

use crate::probe::{Kind, Plan, Probe, TaskError, ms};

const NO_TASKS_HINT: &str =
    "With nothing queued and nothing in flight the run is over: don't wait for a completion.";
const ZERO_LIMIT_HINT: &str =
    "Validate `limit` before starting anything: with 0 slots no task could ever start.";

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "edges.no_tasks",
            "edges",
            "An empty task list gives `Ok(vec![])` at once, from `run` and `run_settled`.",
        )
        .hint(NO_TASKS_HINT)
        .paused(no_tasks),
        check(
            "edges.zero_limit",
            "edges",
            "`limit == 0` is rejected with `RunError::InvalidLimit` by both entry points, \
             without starting a task or hanging, for 1 to 8 tasks that succeed or fail.",
        )
        .hint(ZERO_LIMIT_HINT)
        .paused(zero_limit),
    ]
}

/// Awaits `run` for at most 5s of virtual time; a hang fails with this check's own hint.
async fn promptly<T>(what: &str, hint: &str, run: impl Future<Output = T>) -> Result<T, Failure> {
    within(Duration::from_secs(5), what, run)
        .await
        .map_err(|failure| failure.with_hint(hint))
}

async fn no_tasks() -> CheckResult {
    let probe = Probe::new();
    // A fresh runner per run: reusing one is not what this check is about.
    let runner = Runner::new(3);
    let run = runner.run(Vec::new());
    let result = promptly("Runner::run with no tasks", NO_TASKS_HINT, run).await?;
    ensure_eq!(
        result,
        Ok::<Vec<u64>, RunError<TaskError>>(Vec::new()),
        "run with no tasks should return an empty list"
    );
    let runner = Runner::new(3);
    let settled = runner.run_settled(Vec::new());
    let result = promptly("Runner::run_settled with no tasks", NO_TASKS_HINT, settled).await?;
    ensure_eq!(
        result,
        Ok::<Vec<Result<u64, TaskError>>, RunError<TaskError>>(Vec::new()),
        "run_settled with no tasks should return an empty list"
    );
    ensure!(
        probe.now() == Duration::ZERO,
        "with no tasks the run should return at once, not after {}",
        ms(probe.now())
    );
    Ok(())
}

async fn zero_limit() -> CheckResult {
    let probe = Probe::new();
    let runner = Runner::new(0);
    let plans = [Plan::Succeed(10); 3];
    let run = runner.run(probe.tasks(&plans));
    let result = promptly("Runner::run with limit 0", ZERO_LIMIT_HINT, run).await?;
    ensure_eq!(
        result,
        Err(RunError::InvalidLimit),
        "run with limit 0 should be rejected"
    );
    let settled = runner.run_settled(probe.tasks(&plans));
    let result = promptly("Runner::run_settled with limit 0", ZERO_LIMIT_HINT, settled).await?;
    ensure_eq!(
        result,
        Err(RunError::InvalidLimit),
        "run_settled with limit 0 should be rejected"
    );
    ensure!(
        probe.first(Kind::Start).is_none(),
        "a run with limit 0 started a task"
    );
    // The model's answer for limit 0 does not depend on the tasks: always InvalidLimit.
    let plans = prop::collection::vec(
        prop_oneof![
            (10u64..=50).prop_map(Plan::Succeed),
            (10u64..=50).prop_map(Plan::Fail)
        ],
        1..=8,
    );
    explore(
        Explore::new(0x2E20).cases(40),
        (plans, any::<bool>()),
        |(plans, settled)| async move {
            let probe = Probe::new();
            let runner = Runner::new(0);
            let result = if settled {
                let run = runner.run_settled(probe.tasks(&plans));
                let result = promptly("Runner::run_settled with limit 0", ZERO_LIMIT_HINT, run);
                result.await?.map(|_| ())
            } else {
                let run = runner.run(probe.tasks(&plans));
                promptly("Runner::run with limit 0", ZERO_LIMIT_HINT, run)
                    .await?
                    .map(|_| ())
            };
            ensure_eq!(
                result,
                Err(RunError::InvalidLimit),
                "limit 0 should be rejected"
            );
            ensure!(
                probe.first(Kind::Start).is_none(),
                "a run with limit 0 started a task"
            );
            Ok(())
        },
    )
    .await
}
