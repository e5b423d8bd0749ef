//! How the process ends (criterion `exit`) and how it takes signals (criterion `signals`),
//! measured from outside: exit status, and when the exit came relative to the signals and to
//! the work in flight.
//!
//! Every verdict on time leaves a scaled second of slack where a correct service is fast, and
//! relies only on lower bounds that cannot be wrong: work of `d` ms started at `t` cannot end
//! before `t + d`.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, ensure, fail};
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::service::{Options, STOP, Service, describe, ms};

/// Slack on "soon": a correct service exits within milliseconds of its last work.
fn slack() -> Duration {
    scaled(Duration::from_secs(1))
}

/// Tolerance on "not before": timers and clocks may disagree by a few milliseconds.
const EARLY: Duration = Duration::from_millis(50);

/// `exit.clean_within_deadline`.
pub async fn clean_within_deadline() -> CheckResult {
    let deadline = scaled(Duration::from_secs(3));
    let mut service = Service::start(Options {
        workers: 1,
        deadline,
    })
    .await?;
    let result = clean_within_deadline_on(&mut service, deadline).await;
    service.explain(result)
}

async fn clean_within_deadline_on(service: &mut Service, deadline: Duration) -> CheckResult {
    let work = Duration::from_millis(600);
    let started = service.keep_busy("exit-job:600", 600).await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    let Some((status, at)) = service.wait_exit(signalled + deadline + slack()).await else {
        fail!(
            hint = "once the requests and jobs in flight are done, return from run and exit",
            "the service was still running {} after SIGINT, past its {} drain deadline, \
             although its work in flight took {}",
            ms(deadline + slack()),
            ms(deadline),
            ms(work)
        );
    };
    ensure!(
        status.code() == Some(0),
        hint = "exit 0 after a complete drain: Kubernetes, systemd and CI read anything else as \
                a failure",
        "after a complete drain the service {}: expected exit status 0",
        describe(Some(status))
    );
    let work_end = started + work;
    ensure!(
        at <= work_end + slack(),
        hint = "exit as soon as the drain is done: wait for the work *or* the deadline, \
                whichever comes first",
        "the service exited {} after SIGINT, although its work ended about {} after it: a \
         drained service exits at once, without waiting out the {} deadline",
        ms(at - signalled),
        ms(work_end.saturating_duration_since(signalled)),
        ms(deadline)
    );
    Ok(())
}

/// `exit.deadline_abandons`.
pub async fn deadline_abandons() -> CheckResult {
    let deadline = scaled(Duration::from_secs(2));
    let mut service = Service::start(Options {
        workers: 1,
        deadline,
    })
    .await?;
    let result = deadline_abandons_on(&mut service, deadline).await;
    service.explain(result)
}

async fn deadline_abandons_on(service: &mut Service, deadline: Duration) -> CheckResult {
    service.keep_busy("stuck-job:60000", 60_000).await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    // A second signal before the deadline: the deadline still counts from the first.
    let second = scaled(Duration::from_millis(1500));
    tokio::time::sleep_until(signalled + second).await;
    let _ = service.signal(STOP);
    let hint = "race the drain against a timer started at the first signal (tokio::select! \
                with sleep_until), and when the timer wins, return without waiting for the \
                stuck work; later signals leave the timer alone";
    let Some((status, _)) = service.wait_exit(signalled + deadline + slack()).await else {
        // For the message: did the second signal restart the deadline?
        let restarted = signalled + second + deadline + slack();
        if let Some((_, at)) = service.wait_exit(restarted).await {
            fail!(
                hint = hint,
                "with a {} drain deadline, the service exited {} after the first SIGINT, {} \
                 after the second: the second signal restarted the deadline, which counts from \
                 the first",
                ms(deadline),
                ms(at - signalled),
                ms(at.saturating_duration_since(signalled + second))
            );
        }
        fail!(
            hint = hint,
            "with a {} drain deadline, the service was still running {} after SIGINT, waiting \
             for a request and a job that never end: work still running at the deadline must \
             be abandoned, or Kubernetes ends the pod with SIGKILL",
            ms(deadline),
            ms(restarted - signalled)
        );
    };
    ensure!(
        status.code().is_some_and(|code| code != 0),
        hint = "exit non-zero (1, say) when the deadline cut the drain short: work was lost, \
                and whoever watches the exit status should know",
        "with work abandoned at the deadline the service {}: expected a non-zero exit status",
        describe(Some(status))
    );
    Ok(())
}

/// `signals.sigterm_drains`.
pub async fn sigterm_drains() -> CheckResult {
    let mut service = Service::start(Options {
        workers: 1,
        deadline: scaled(Duration::from_secs(10)),
    })
    .await?;
    let result = sigterm_drains_on(&mut service).await;
    service.explain(result)
}

async fn sigterm_drains_on(service: &mut Service) -> CheckResult {
    let work = Duration::from_millis(1000);
    let started = service.keep_busy("term-job:1000", 1000).await?;
    service.signal(Signal::SIGTERM)?;
    let signalled = Instant::now();
    let hint = "install a handler for SIGTERM as well as SIGINT \
                (tokio::signal::unix::signal(SignalKind::terminate())) and start the same \
                drain: Kubernetes, Docker and systemd stop processes with SIGTERM";
    let limit = work + scaled(Duration::from_secs(4));
    let Some((status, at)) = service.wait_exit(signalled + limit).await else {
        fail!(
            hint = hint,
            "the service was still running {} after SIGTERM with {} of work in flight: it \
             ignores SIGTERM",
            ms(limit),
            ms(work)
        );
    };
    if status.signal() == Some(Signal::SIGTERM as i32) {
        fail!(
            hint = hint,
            "SIGTERM killed the service on the spot ({}): with no handler installed, its \
             default action ran and dropped the work in flight",
            describe(Some(status))
        );
    }
    ensure!(
        status.code().is_some(),
        hint = hint,
        "after SIGTERM the service {}: expected it to drain and exit by itself",
        describe(Some(status))
    );
    ensure!(
        at + EARLY >= started + work,
        hint = hint,
        "the service exited {} after SIGTERM ({}), before its {} of work in flight could \
         finish: SIGTERM must start the same drain as SIGINT",
        ms(at - signalled),
        describe(Some(status)),
        ms(work)
    );
    Ok(())
}

/// `signals.second_signal`.
pub async fn second_signal() -> CheckResult {
    let mut service = Service::start(Options {
        workers: 1,
        deadline: scaled(Duration::from_secs(10)),
    })
    .await?;
    let result = second_signal_on(&mut service).await;
    service.explain(result)
}

async fn second_signal_on(service: &mut Service) -> CheckResult {
    let work = Duration::from_millis(1200);
    let started = service.keep_busy("again-job:1200", 1200).await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    // Not scaled: the point is to land inside the drain, which the work keeps open.
    let gap = Duration::from_millis(150);
    for _ in 0..2 {
        tokio::time::sleep(gap).await;
        let _ = service.signal(STOP);
    }
    let hint = "after the first signal, log later ones and change nothing: no \"press Ctrl-C \
                again to force quit\", no second drain; the deadline is the only way out";
    let limit = work + scaled(Duration::from_secs(4));
    let Some((status, at)) = service.wait_exit(signalled + limit).await else {
        fail!(
            hint = hint,
            "the service was still running {} after three SIGINTs with {} of work in flight: \
             the drain never ended",
            ms(limit),
            ms(work)
        );
    };
    ensure!(
        status.code().is_some(),
        hint = hint,
        "a second SIGINT during the drain: the service {}, expected it to keep draining",
        describe(Some(status))
    );
    ensure!(
        at + EARLY >= started + work,
        hint = hint,
        "the service exited {} after the first SIGINT and {} after the second ({}), before its \
         {} of work in flight could finish: a second signal must not cut the drain short",
        ms(at - signalled),
        ms(at.saturating_duration_since(signalled + gap)),
        describe(Some(status)),
        ms(work)
    );
    Ok(())
}
