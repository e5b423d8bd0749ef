//! Criterion `eager`: a queued task starts the moment a slot frees, not when a batch is done.
//!
//! The check compares instants on the paused clock: whenever a task finishes while others are
//! still waiting, a waiting task must start at that same instant. That holds for any runner
//! that refills per completion, whatever its limit in practice (even one at a time), and fails
//! a runner that works through the input in groups (`chunks(limit)` + `join_all`) or refills
//! only once several slots are free.

use std::time::Duration;

use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, fail};
use task_runner::Runner;

use crate::probe::{DEADLINE, Kind, Plan, Probe, ms};

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "eager.refills_at_once",
            "eager",
            "With limit 3 and tasks of mixed durations (one of 100ms first), each time a task \
             finishes while others wait, the next one starts at that same instant.",
        )
        .hint(
            "Wait for whichever in-flight task finishes first (`JoinSet::join_next`, \
             `FuturesUnordered`, a semaphore permit) and start the next one right then; don't \
             wait for a whole group of `limit` tasks.",
        )
        .paused(refills_at_once),
    ]
}

async fn refills_at_once() -> CheckResult {
    let millis = [100, 10, 20, 10, 30, 10, 10, 50, 10, 10, 40, 10];
    let plans: Vec<Plan> = millis.iter().map(|&ms| Plan::Succeed(ms)).collect();
    let probe = Probe::new();
    let runner = Runner::new(3);
    let result = within(DEADLINE, "Runner::run", runner.run(probe.tasks(&plans))).await?;
    if let Err(error) = result {
        fail!("every task succeeds, yet run returned Err({error:?})");
    }

    let events = probe.events();
    let count_at = |kind: fn(Kind) -> bool, at: Duration| {
        events.iter().filter(|e| kind(e.kind) && e.at == at).count()
    };
    let mut end_times: Vec<Duration> = events
        .iter()
        .filter(|e| e.kind.is_end())
        .map(|e| e.at)
        .collect();
    end_times.dedup();
    for at in end_times {
        let started_before = events
            .iter()
            .filter(|e| e.kind == Kind::Start && e.at < at)
            .count();
        let waiting = plans.len() - started_before;
        let finished = count_at(Kind::is_end, at);
        let started = count_at(|kind| kind == Kind::Start, at);
        if started < finished.min(waiting) {
            let next_start = events
                .iter()
                .filter(|e| e.kind == Kind::Start && e.at > at)
                .map(|e| ms(e.at))
                .next()
                .unwrap_or_else(|| "never".to_owned());
            fail!(
                "at {}, {finished} task(s) finished while {waiting} were waiting, but {started} \
                 started at that instant (expected {}); the next start came at {next_start}",
                ms(at),
                finished.min(waiting)
            );
        }
    }
    Ok(())
}
