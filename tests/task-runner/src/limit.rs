//! Criterion `limit`: never more than `limit` tasks in flight, and the limit actually used.

use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, ensure, ensure_eq, fail};
use task_runner::Runner;

use crate::probe::{DEADLINE, Plan, Probe};

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "limit.never_exceeded",
            "limit",
            "Never more than `limit` tasks run at once, from `run` and from `run_settled`: \
             varying durations with limit 3, limit 1, a limit above the task count, and 10 000 \
             tasks with limit 64 (the volume case).",
        )
        .hint(
            "Start a task only while fewer than `limit` are in flight, and count a task as \
             finished only once its future has returned.",
        )
        .paused(never_exceeded),
        check(
            "limit.fully_used",
            "limit",
            "With limit 3 and nine tasks, three do run at the same time.",
        )
        .hint(
            "Start up to `limit` tasks before waiting on any of them: awaiting each task in turn \
             runs them one at a time.",
        )
        .paused(fully_used),
    ]
}

/// A scenario for `never_exceeded`: a name for the report, the limit, and the tasks.
struct Scenario {
    name: &'static str,
    limit: usize,
    plans: Vec<Plan>,
}

async fn never_exceeded() -> CheckResult {
    let scenarios = [
        Scenario {
            name: "20 tasks of 5 to 54ms",
            limit: 3,
            plans: (0..20).map(|i| Plan::Succeed(i * 37 % 50 + 5)).collect(),
        },
        Scenario {
            name: "limit 1, 6 tasks",
            limit: 1,
            plans: (0..6).map(|i| Plan::Succeed(10 + i)).collect(),
        },
        Scenario {
            name: "limit 10 above 4 tasks",
            limit: 10,
            plans: (0..4).map(|i| Plan::Succeed(40 - 10 * i)).collect(),
        },
        Scenario {
            name: "10 000 tasks of 1 to 13ms",
            limit: 64,
            plans: (0..10_000).map(|i| Plan::Succeed(i * 7 % 13 + 1)).collect(),
        },
    ];
    for Scenario { name, limit, plans } in scenarios {
        // Both entry points: a runner often keeps the limit in one and not in the other, and
        // the bug belongs to this criterion whichever of the two has it.
        for entry in ["run", "run_settled"] {
            let probe = Probe::new();
            let count = plans.len();
            let runner = Runner::new(limit);
            let tasks = probe.tasks(&plans);
            let returned = if entry == "run" {
                let result = within(DEADLINE, "Runner::run", runner.run(tasks)).await?;
                match result {
                    Ok(values) => values.len(),
                    Err(error) => {
                        fail!("{name}: every task succeeds, yet run returned Err({error:?})")
                    }
                }
            } else {
                let settled = runner.run_settled(tasks);
                match within(DEADLINE, "Runner::run_settled", settled).await? {
                    Ok(outcomes) => outcomes.len(),
                    Err(error) => fail!(
                        "{name}: run_settled returns Err only for a bad limit or a \
                         cancellation, yet it returned Err({error:?})"
                    ),
                }
            };
            ensure_eq!(
                returned,
                count,
                "{name}: {entry} should return one result per task"
            );
            ensure!(
                probe.peak() <= limit,
                "{name}: {} tasks ran at the same time in {entry} with limit {limit}",
                probe.peak()
            );
        }
    }
    Ok(())
}

async fn fully_used() -> CheckResult {
    let probe = Probe::new();
    let runner = Runner::new(3);
    let plans = [Plan::Succeed(10); 9];
    let result = within(DEADLINE, "Runner::run", runner.run(probe.tasks(&plans))).await?;
    if let Err(error) = result {
        fail!("every task succeeds, yet run returned Err({error:?})");
    }
    ensure!(
        probe.peak() >= 3,
        "with limit 3 and nine 10ms tasks, at most {} ran at the same time (expected 3): the \
         runner does not use its limit",
        probe.peak()
    );
    Ok(())
}
