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
pub fn slack() -> Duration {
    scaled(Duration::from_secs(1))
}

/// Tolerance on "not before": timers and clocks may disagree by a few milliseconds.
pub const EARLY: Duration = Duration::from_millis(50);

/// `exit.clean_within_deadline`.
///
/// Three workers, one busy and two idle (blocked in `BLMOVE`) at the signal: how fast a drain
/// ends is decided by its slowest part, and an idle worker that only notices the drain when a
/// long blocking call returns is as slow as a stuck job.
pub async fn clean_within_deadline() -> CheckResult {
    let deadline = scaled(Duration::from_secs(3));
    let mut service = Service::start(Options {
        workers: 3,
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
    let idle_hint = "an idle worker must notice the drain at once: block in BLMOVE for a short \
                     poll interval (a fraction of a second) and look at the draining flag \
                     between polls, or race the wait against the flag";
    let Some((status, at)) = service.wait_exit(signalled + deadline + slack()).await else {
        fail!(
            hint = "once the requests and jobs in flight are done, return from run and exit; \
                    and make sure idle workers stop at once too",
            "the service was still running {} after SIGINT, past its {} drain deadline, \
             although its work in flight took {} (two of its three workers were idle)",
            ms(deadline + slack()),
            ms(deadline),
            ms(work)
        );
    };
    let work_end = started + work;
    ensure!(
        status.code() == Some(0),
        hint = if at + EARLY >= signalled + deadline {
            idle_hint
        } else {
            "exit 0 after a complete drain: Kubernetes, systemd and CI read anything else as a \
             failure"
        },
        "after a drain whose work in flight ended about {} after SIGINT (two of the three \
         workers idle), the service {} {} after SIGINT: expected exit status 0",
        ms(work_end.saturating_duration_since(signalled)),
        describe(Some(status)),
        ms(at - signalled)
    );
    ensure!(
        at <= work_end + slack(),
        hint = "exit as soon as the drain is done: wait for the work *or* the deadline, \
                whichever comes first, with no fixed sleep; idle workers must stop at once",
        "the service exited {} after SIGINT, although its work ended about {} after it (two \
         of the three workers idle): a drained service exits at once, without waiting out the \
         {} deadline",
        ms(at - signalled),
        ms(work_end.saturating_duration_since(signalled)),
        ms(deadline)
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
///
/// A request and a job that never end, so the drain lasts exactly until the deadline, and four
/// signals: the first, two more just after it (a "press Ctrl-C again to force quit" would cut
/// the drain short), and one three quarters into the deadline (a deadline restarted by it ends
/// half a deadline past the real one, beyond the slack).
pub async fn second_signal() -> CheckResult {
    let deadline = scaled(Duration::from_secs(2));
    let mut service = Service::start(Options {
        workers: 2,
        deadline,
    })
    .await?;
    let result = second_signal_on(&mut service, deadline).await;
    service.explain(result)
}

async fn second_signal_on(service: &mut Service, deadline: Duration) -> CheckResult {
    service.keep_busy("again-job:60000", 60_000).await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    // Not scaled: the point is to land just after the first signal.
    let gap = Duration::from_millis(150);
    let last = deadline * 3 / 4;
    for at in [gap, gap * 2, last] {
        tokio::time::sleep_until(signalled + at).await;
        let _ = service.signal(STOP);
    }
    let hint = "after the first signal, log later ones and change nothing: no \"press Ctrl-C \
                again to force quit\", no second drain, no new deadline; the deadline set at \
                the first signal is the only way out";
    let restarted = signalled + last + deadline + slack();
    let Some((status, at)) = service.wait_exit(restarted).await else {
        // Never exiting with stuck work is a deadline that does not work at all: the
        // business of `exit.deadline_abandons`, not of the later signals.
        return Ok(());
    };
    ensure!(
        status.code().is_some(),
        hint = hint,
        "later SIGINTs during the drain: the service {}, expected it to keep draining",
        describe(Some(status))
    );
    ensure!(
        at + EARLY >= signalled + deadline,
        hint = hint,
        "with a request and a job that never end and a {} drain deadline, the service exited \
         {} after the first SIGINT ({}), after later SIGINTs {} and {} after it: expected \
         exactly at the deadline; a later signal must not cut the drain short",
        ms(deadline),
        ms(at - signalled),
        describe(Some(status)),
        ms(gap),
        ms(gap * 2)
    );
    ensure!(
        at <= signalled + deadline + slack(),
        hint = hint,
        "with a {} drain deadline and work that never ends, the service exited {} after the \
         first SIGINT, {} after a later one: expected at {} (the deadline counts from the \
         first signal); the later signal restarted it",
        ms(deadline),
        ms(at - signalled),
        ms(at.saturating_duration_since(signalled + last)),
        ms(deadline)
    );
    Ok(())
}
