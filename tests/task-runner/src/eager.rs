//! Criterion `eager`: a queued task starts the moment a slot frees, not when a batch is done.
//!
//! The check compares instants on the paused clock: whenever a task finishes while others are
//! still waiting, a waiting task must start at that same instant. That holds for any runner
//! that refills per completion, whatever its limit in practice (even one at a time), and fails
//! a runner that works through the input in groups (`chunks(limit)` + `join_all`) or refills
//! only once several slots are free.
//!
//! It then states the whole schedule as a model ([`crate::model::schedule`]), "which task may
//! start when": tasks start in input order, each the moment a slot frees, so every start time
//! follows from the durations. Over seeded scenarios (limit 1, limit at and above the count,
//! failures, caller cancellations, both modes, tasks that react to their token in every way) it
//! checks that no task starts later than the model says, up to the first failure or
//! cancellation. The model's limit is the number of tasks the attempt started at once at the
//! beginning (at most `limit`): whether the limit is used at all is `limit.fully_used`'s
//! question, and this check asks only whether each freed slot is refilled at once, in order.
//! Starting *earlier* than the model is a `limit` matter, and what happens after a failure or
//! cancellation is `errors`' and `cancel`'s, so those are left to their checks.

use std::time::Duration;

use grade_kit::model::{Explore, explore};
use grade_kit::time::within;
use grade_kit::{Check, CheckResult, check, ensure_eq, fail};
use task_runner::Runner;

use crate::model::{self, Mode, Scenario};
use crate::probe::{DEADLINE, Kind, Plan, Probe, ms};

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "eager.refills_at_once",
            "eager",
            "With limit 3 and tasks of mixed durations (one of 100ms first), each time a task \
             finishes while others wait, the next one starts at that same instant; and over \
             seeded scenarios (1 to 8 tasks of 10 to 50ms, limit 1, 2-3, the count or above, \
             failures, caller cancellations, both modes), every task starts when the model \
             says: in input order, the moment a slot frees.",
        )
        .hint(
            "Wait for whichever in-flight task finishes first (`JoinSet::join_next`, \
             `FuturesUnordered`, a semaphore permit) and start the next queued task, in input \
             order, right then; don't wait for a whole group of `limit` tasks, and don't take \
             the last task first.",
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
    model().await
}

/// Formats an optional start time for a report.
fn start(at: Option<Duration>) -> String {
    at.map_or_else(|| "never".to_owned(), ms)
}

async fn model() -> CheckResult {
    explore(
        Explore::new(0xEA6E).cases(300),
        model::any_scenario(),
        |scenario: Scenario| async move {
            let run = model::execute(&scenario).await?;
            let observed = run.starts(&scenario);
            // The model's limit: what the attempt filled at the start (see the module doc).
            let first_wave = observed
                .iter()
                .filter(|at| **at == Some(Duration::ZERO))
                .count();
            let limit = first_wave.clamp(1, scenario.limit);
            let expected = scenario.schedule_with(limit);
            // From the first failure or cancellation on, the schedule is other criteria's
            // business; the attempt's own first failure counts too (a runner that starts
            // tasks early fails early, which is `limit`'s to report).
            let observed_failure = (scenario.mode == Mode::FailFast)
                .then(|| run.probe.first_time(Kind::Failed))
                .flatten();
            let stop = [
                scenario.first_failure(),
                scenario.cancel_at(),
                observed_failure,
                run.probe.first_time(Kind::SawCancel),
            ]
            .into_iter()
            .flatten()
            .min();
            for (task, (&due, &actual)) in expected.iter().zip(&observed).enumerate() {
                if stop.is_some_and(|stop| due >= stop) {
                    continue;
                }
                if actual.is_none_or(|at| at > due) {
                    let model: Vec<String> = expected.iter().map(|&at| ms(at)).collect();
                    let attempt: Vec<String> = observed.iter().map(|&at| start(at)).collect();
                    ensure_eq!(
                        start(actual),
                        ms(due),
                        "task {task} should start at {} (the moment a slot frees, in input \
                         order, with the {limit} slot(s) the attempt filled at the start); model \
                         start times {model:?}, the attempt's {attempt:?}",
                        ms(due)
                    );
                }
            }
            Ok(())
        },
    )
    .await
}
