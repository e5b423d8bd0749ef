//! `exit.deadline_abandons`, a model-based check: seeded drains with work that outlasts the
//! deadline, each judged against what the rule says must happen.
//!
//! The rule: *if work is still running when the drain deadline (counted from the first
//! signal) passes, abandon it and exit non-zero*. So whatever else is in flight, whichever
//! kind of work is the one that outlasts the deadline, however long the service ran before the
//! signal, the process exits non-zero at first signal + deadline: not before (the work was
//! still running, and had until then), not after (the slack of every timing verdict).
//!
//! The scenarios put on purpose the edges where a plausible drain gets this wrong:
//! - **The other kind of work ends just before the deadline.** A drain that applies the
//!   deadline to each phase in turn (`timeout(d, requests)` then `timeout(d, workers)`)
//!   lets the second phase start late and run a whole deadline more. One scenario has a
//!   request that ends 300-500 ms before the deadline and a stuck job, another the reverse, so
//!   either order of phases shows.
//! - **The service ran longer than the deadline before the signal.** A deadline computed when
//!   `run` starts has passed already when the signal comes: the drain is cut at once.
//! - **Idle workers** besides the busy ones, and work that is finite but longer than the
//!   deadline (abandoned all the same).
//!
//! A real process per scenario costs real time (about two deadlines for the one that waits
//! out a long uptime), so the scenarios of a case run side by side, each its own service
//! with its own keys, and there are few cases. The model itself is one line
//! ([`Scenario::expected`]); what is seeded is the mix of work around it.

use std::fmt;
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::model::{Explore, explore};
use grade_kit::proptest::prelude::*;
use grade_kit::{CheckResult, Failure, ensure_eq};
use tokio::time::Instant;

use crate::lifecycle::{EARLY, slack};
use crate::service::{Options, STOP, Service, describe, ms};

/// The drain deadline of every scenario, before `--timeout-scale`.
const DEADLINE_MS: u64 = 2000;

/// One piece of work in flight at the signal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Lasts this many milliseconds (before scaling).
    Finite(u64),
    /// Never ends (60 s).
    Stuck,
}

impl Work {
    fn millis(self) -> u64 {
        match self {
            Work::Finite(ms) => ms,
            Work::Stuck => 60_000,
        }
    }

    fn outlasts_deadline(self) -> bool {
        self.millis() > DEADLINE_MS
    }
}

impl fmt::Debug for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Work::Finite(ms) => write!(f, "{ms} ms"),
            Work::Stuck => f.write_str("never ends"),
        }
    }
}

/// One service, drained once.
#[derive(Clone, PartialEq, Eq)]
struct Scenario {
    /// `GET /slow` in flight at the signal.
    request: Work,
    /// The job a worker holds at the signal.
    job: Work,
    /// Workers idle (blocked in `BLMOVE`) at the signal, besides the busy one.
    idle_workers: usize,
    /// Whether the signal comes only after the service has run longer than the deadline.
    long_uptime: bool,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[GET /slow: {:?}; job: {:?}; {} idle worker(s); SIGINT {}; deadline {DEADLINE_MS} \
             ms]",
            self.request,
            self.job,
            self.idle_workers,
            if self.long_uptime {
                format!(
                    "{} ms after start (longer than the deadline)",
                    uptime().as_millis()
                )
            } else {
                "as soon as the work is in flight".to_owned()
            }
        )
    }
}

/// How a drain ended, as the verdict compares it.
#[derive(Clone, PartialEq, Eq)]
enum Ending {
    /// Exited non-zero at the deadline (within its tolerance).
    AbandonedAtDeadline,
    /// Exited, but not that way: before the deadline, or with status 0, or killed.
    Other(String),
    /// Still running at deadline + slack.
    StillRunning,
}

impl fmt::Debug for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let deadline = scaled(Duration::from_millis(DEADLINE_MS));
        match self {
            Ending::AbandonedAtDeadline => write!(
                f,
                "a non-zero exit at the deadline, {}-{} after SIGINT",
                ms(deadline),
                ms(deadline + slack())
            ),
            Ending::Other(what) => f.write_str(what),
            Ending::StillRunning => {
                write!(f, "still running {} after SIGINT", ms(deadline + slack()))
            }
        }
    }
}

impl Scenario {
    /// The model: work outlasts the deadline, so the drain is abandoned at the deadline.
    fn expected(&self) -> Ending {
        debug_assert!(self.request.outlasts_deadline() || self.job.outlasts_deadline());
        Ending::AbandonedAtDeadline
    }
}

fn uptime() -> Duration {
    scaled(Duration::from_millis(DEADLINE_MS + 400))
}

/// The other work: ends 300-500 ms before the deadline (mostly), a little after it, or never.
fn other_work() -> impl Strategy<Value = Work> {
    prop_oneof![
        3 => (DEADLINE_MS - 500..=DEADLINE_MS - 300).prop_map(Work::Finite),
        1 => (DEADLINE_MS + 300..=DEADLINE_MS + 800).prop_map(Work::Finite),
        1 => Just(Work::Stuck),
    ]
}

/// Three scenarios run side by side. By construction: a request ending just before the
/// deadline with a stuck job (short uptime), the reverse with a long uptime, and one free mix
/// in which something outlasts the deadline.
fn scenarios() -> impl Strategy<Value = Vec<Scenario>> {
    let near = (DEADLINE_MS - 500..=DEADLINE_MS - 300).prop_map(Work::Finite);
    let free = (other_work(), any::<bool>(), any::<bool>(), 0..=2usize).prop_map(
        |(other, stuck_is_job, long_uptime, idle_workers)| {
            let (request, job) = if stuck_is_job {
                (other, Work::Stuck)
            } else {
                (Work::Stuck, other)
            };
            Scenario {
                request,
                job,
                idle_workers,
                long_uptime,
            }
        },
    );
    (near.clone(), near, 0..=1usize, 0..=1usize, free).prop_map(
        |(request, job, idle_a, idle_b, free)| {
            vec![
                Scenario {
                    request,
                    job: Work::Stuck,
                    idle_workers: idle_a,
                    long_uptime: false,
                },
                Scenario {
                    request: Work::Stuck,
                    job,
                    idle_workers: idle_b,
                    long_uptime: true,
                },
                free,
            ]
        },
    )
}

/// `exit.deadline_abandons`.
pub async fn deadline_abandons() -> CheckResult {
    let settings = Explore::new(0x6AC3_F0D1).cases(1).max_shrink_steps(2);
    explore(settings, scenarios(), |batch| async move {
        let runs: Vec<_> = batch
            .iter()
            .cloned()
            .map(|scenario| tokio::spawn(run(scenario)))
            .collect();
        let mut first_failure = None;
        for (scenario, handle) in batch.iter().zip(runs) {
            let result = handle
                .await
                .unwrap_or_else(|error| Err(Failure::new(format!("the suite's task: {error}"))));
            if let Err(failure) = result
                && first_failure.is_none()
            {
                let message = format!("in scenario {scenario:?}: {}", failure.message);
                first_failure = Some(Failure { message, ..failure });
            }
        }
        first_failure.map_or(Ok(()), Err)
    })
    .await
}

async fn run(scenario: Scenario) -> CheckResult {
    let deadline = scaled(Duration::from_millis(DEADLINE_MS));
    let mut service = Service::start(Options {
        workers: 1 + scenario.idle_workers,
        deadline,
    })
    .await?;
    let result = run_on(&mut service, &scenario, deadline).await;
    service.explain(result)
}

async fn run_on(service: &mut Service, scenario: &Scenario, deadline: Duration) -> CheckResult {
    if scenario.long_uptime {
        tokio::time::sleep(uptime()).await;
    }
    let (request_ms, job_ms) = (
        scaled(Duration::from_millis(scenario.request.millis())).as_millis(),
        scaled(Duration::from_millis(scenario.job.millis())).as_millis(),
    );
    let job = format!("model-job:{job_ms}");
    service.queue.push(&[job.as_str()]).await?;
    drop(service.spawn_get(&format!("/slow?ms={request_ms}")));
    service
        .wait_in_use(2, &format!("GET /slow?ms={request_ms} and the job {job:?}"))
        .await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    let ending = match service.wait_exit(signalled + deadline + slack()).await {
        None => Ending::StillRunning,
        Some((status, at)) => {
            let after = at - signalled;
            if status.code() == Some(0) && after + EARLY < deadline {
                // Exit 0 before the deadline with work still running: the service took its
                // drain for complete without waiting for some of its work. That is the
                // business of `inflight.complete` and `queue.held_jobs_finish`, which say
                // which work; this check judges the deadline.
                return Ok(());
            }
            if status.code().is_some_and(|code| code != 0) && after + EARLY >= deadline {
                Ending::AbandonedAtDeadline
            } else {
                Ending::Other(format!(
                    "{} {} after SIGINT",
                    describe(Some(status)),
                    ms(after)
                ))
            }
        }
    };
    let hint = match &ending {
        Ending::StillRunning => {
            "race the whole drain (requests *and* jobs) against one timer set at the first \
             signal (tokio::select! with sleep_until), and when the timer wins, return without \
             waiting for the rest: not a timeout per phase, which restarts the clock"
        }
        Ending::Other(_) if scenario.long_uptime => {
            "the deadline counts from the first signal, not from when the service started: \
             take Instant::now() when the signal arrives"
        }
        _ => {
            "abandon the work only when the deadline (first signal + drain deadline) passes, \
             and then exit non-zero (1, say): work was lost, and whoever watches the exit \
             status should know"
        }
    };
    ensure_eq!(
        ending,
        scenario.expected(),
        hint = hint,
        "with work still running at the {} drain deadline, expected a non-zero exit {} after \
         SIGINT (up to {} later)",
        ms(deadline),
        ms(deadline),
        ms(slack())
    );
    Ok(())
}
