//! The queue side of the drain and the pool (criteria `queue` and `pool`), judged from Redis
//! and from the pool's events file after the process has exited.

use std::collections::BTreeSet;
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, Failure, ensure, fail};
use tokio::time::Instant;

use crate::events::Event;
use crate::http;
use crate::queue::count;
use crate::service::{Options, STOP, Service};

fn options(workers: usize) -> Options {
    Options {
        workers,
        deadline: scaled(Duration::from_secs(10)),
    }
}

/// How long to wait for the process to exit before judging what it left.
fn exit_wait() -> Duration {
    scaled(Duration::from_secs(5))
}

/// `queue.held_jobs_finish`.
pub async fn held_jobs_finish() -> CheckResult {
    let mut service = Service::start(options(2)).await?;
    let result = held_jobs_finish_on(&mut service).await;
    service.explain(result)
}

async fn held_jobs_finish_on(service: &mut Service) -> CheckResult {
    let jobs = ["held-1:1000", "held-2:1000"];
    service.queue.push(&jobs).await?;
    service.queue.wait_held(&jobs).await?;
    service.wait_in_use(2, "the two jobs").await?;
    service.signal(STOP)?;
    service.wait_exit(Instant::now() + exit_wait()).await;
    let lists = service.queue.lists().await?;
    for job in jobs {
        let (done, elsewhere) = (
            count(&lists.done, job),
            count(&lists.queue, job) + count(&lists.processing, job),
        );
        let hint = if done == 0 && count(&lists.processing, job) > 0 {
            "the worker dropped the job it held: finish the job in hand, and check the draining \
             flag only before taking the next one (never race the job against the signal)"
        } else {
            "finish a job exactly once: LREM it from processing and RPUSH it onto done in one \
             MULTI, and do not also hand it back to the queue"
        };
        ensure!(
            done == 1 && elsewhere == 0,
            hint = hint,
            "job {job:?}, held by a worker when SIGINT came, should end in done exactly once; \
             it is in: {}",
            lists.whereabouts(job)
        );
    }
    Ok(())
}

/// `queue.no_new_job`.
///
/// The dangerous moment is right after the drain begins: an idle worker is most likely blocked
/// in `BLMOVE` then, and whatever job arrives before that call returns is handed to it. A
/// worker that checks the flag only *before* each `BLMOVE` works that job. So the check pushes
/// jobs the moment readiness flips (the sign the drain began), and keeps pushing for a few
/// hundred milliseconds, longer than any sensible poll interval: every idle worker is handed
/// a job while it is blocked, whatever its poll interval and wherever in it the signal fell.
pub async fn no_new_job() -> CheckResult {
    let mut service = Service::start(options(3)).await?;
    let result = no_new_job_on(&mut service).await;
    service.explain(result)
}

/// How long after readiness flips the check keeps pushing jobs.
const PUSH_FOR: Duration = Duration::from_millis(400);
/// Between two pushes.
const PUSH_EVERY: Duration = Duration::from_millis(20);

async fn no_new_job_on(service: &mut Service) -> CheckResult {
    // One worker busy (it keeps the drain open), two idle, blocked in BLMOVE at the signal.
    let busy = ["busy-1:1500"];
    service.queue.push(&busy).await?;
    service.queue.wait_held(&busy).await?;
    service.wait_in_use(1, "the busy job").await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    // Wait for the drain to begin, as seen from outside: /healthz turns 503. Should readiness
    // never flip (that is `readiness`' business), 300 ms after the signal stands in for it.
    let fallback = scaled(Duration::from_millis(300));
    while signalled.elapsed() < fallback {
        if let Ok(response) = http::get(service.addr, "/healthz", fallback).await
            && response.status == 503
        {
            break;
        }
    }
    let draining_at = signalled.elapsed();
    // A burst of two at once (one per idle worker), then one every PUSH_EVERY.
    let mut late = vec!["late-0:100".to_owned(), "late-1:100".to_owned()];
    service.queue.push(&["late-0:100", "late-1:100"]).await?;
    let push_until = Instant::now() + PUSH_FOR;
    while Instant::now() < push_until {
        tokio::time::sleep(PUSH_EVERY).await;
        let job = format!("late-{}:100", late.len());
        service.queue.push(&[job.as_str()]).await?;
        late.push(job);
    }
    service.wait_exit(Instant::now() + exit_wait()).await;
    let lists = service.queue.lists().await?;
    for job in &late {
        let hint = if count(&lists.processing, job) > 0 && count(&lists.done, job) == 0 {
            "a BLMOVE whose future was dropped still runs on the server and moves the next job \
             into processing for nobody: never abandon a blocking call mid-flight (poll with a \
             short timeout), and hand back a job taken after the drain began"
        } else {
            "look at the draining flag again when BLMOVE returns a job: if the drain began \
             while the worker was blocked, hand the job back (LREM from processing and RPUSH \
             onto the queue, in one MULTI) instead of working it"
        };
        ensure!(
            count(&lists.queue, job) == 1
                && count(&lists.processing, job) == 0
                && count(&lists.done, job) == 0,
            hint = hint,
            "job {job:?}, enqueued during the drain (from {} ms after SIGINT on, when /healthz turned 503) while two \
             workers were idle, should still be waiting in the queue; it is in: {}",
            draining_at.as_millis(),
            lists.whereabouts(job)
        );
    }
    Ok(())
}

/// `pool.closed_last`.
pub async fn closed_last() -> CheckResult {
    let mut service = Service::start(options(1)).await?;
    let result = closed_last_on(&mut service).await;
    service.explain(result)
}

async fn closed_last_on(service: &mut Service) -> CheckResult {
    // The request ends first, the job last: closing after "the HTTP side" is not enough.
    service.queue.push(&["pool-job:1200"]).await?;
    let request = service.spawn_get("/slow?ms=400");
    service
        .wait_in_use(2, "GET /slow?ms=400 and the job \"pool-job:1200\"")
        .await?;
    service.signal(STOP)?;
    let _ = request.await;
    service.wait_exit(Instant::now() + exit_wait()).await;
    let events = service.events();
    judge_pool(&events).map_err(|failure| {
        let sequence: Vec<String> = events.iter().map(Event::label).collect();
        failure.with_actual(sequence.join(", "))
    })
}

/// The pool was used, closed exactly once, and closed after every connection came back.
fn judge_pool(events: &[Event]) -> CheckResult {
    let hint = "close the pool last, after the HTTP server *and* the workers have finished \
                everything in flight";
    let acquired: BTreeSet<u64> = events
        .iter()
        .filter(|event| event.kind == "acquire")
        .map(|event| event.conn)
        .collect();
    ensure!(
        acquired.len() >= 2,
        hint = "acquire a pool connection for each /slow request and each job, for as long as \
                it works",
        "the pool lent {} connection(s); the request and the job in flight should each have \
         used one",
        acquired.len()
    );
    let Some(close_at) = events.iter().position(|event| event.kind == "close") else {
        fail!(
            hint = hint,
            "the pool was never closed (or the process did not exit within {} ms)",
            exit_wait().as_millis()
        );
    };
    let after: Vec<String> = events[close_at + 1..]
        .iter()
        .filter(|event| event.kind != "close")
        .map(Event::label)
        .collect();
    ensure!(
        after.is_empty(),
        hint = hint,
        "the pool was closed while still in use: after `close` came {}",
        after.join(", ")
    );
    let closes = events.iter().filter(|event| event.kind == "close").count();
    ensure!(
        closes == 1,
        hint = hint,
        "the pool was closed {closes} times: close it once"
    );
    let released: BTreeSet<u64> = events[..close_at]
        .iter()
        .filter(|event| event.kind == "release")
        .map(|event| event.conn)
        .collect();
    let missing: Vec<String> = acquired
        .difference(&released)
        .map(|conn| format!("#{conn}"))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(format!(
            "the pool was closed while connection(s) {} were still on loan",
            missing.join(", ")
        ))
        .with_hint(hint));
    }
    Ok(())
}
