//! Criterion `order`: results come back in input order, whatever the completion order.

use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, ensure_eq};
use task_runner::Runner;

use crate::probe::{DEADLINE, Plan, Probe, TaskError, value_of};

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "order.input_order",
            "order",
            "Twelve tasks that finish in reverse order (limit 4): both `run` and `run_settled` \
             return their results in input order.",
        )
        .hint(
            "Carry each task's index with its future and store its result in that slot, \
             instead of pushing results as they arrive.",
        )
        .paused(input_order),
    ]
}

async fn input_order() -> CheckResult {
    // Later tasks are shorter, so completions come in (roughly) reverse input order.
    let plans: Vec<Plan> = (0..12).map(|i| Plan::Succeed(120 - 10 * i)).collect();
    let expected: Vec<u64> = (0..12).map(value_of).collect();

    // A fresh runner per run: reusing one is not what this check is about.
    let (runner, probe) = (Runner::new(4), Probe::new());
    let result = within(DEADLINE, "Runner::run", runner.run(probe.tasks(&plans))).await?;
    ensure_eq!(
        result,
        Ok::<_, task_runner::RunError<TaskError>>(expected.clone()),
        "run should return task i's value at position i"
    );

    let (runner, probe) = (Runner::new(4), Probe::new());
    let settled = runner.run_settled(probe.tasks(&plans));
    let result = within(DEADLINE, "Runner::run_settled", settled).await?;
    let expected: Vec<Result<u64, TaskError>> = expected.into_iter().map(Ok).collect();
    ensure_eq!(
        result,
        Ok(expected),
        "run_settled should return task i's outcome at position i"
    );
    Ok(())
}
