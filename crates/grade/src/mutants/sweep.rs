//! Grading mutants: each applied to a slot (a private copy of the reference) and graded there
//! by the grader's own machinery ([`grade_attempt`]), exactly as a candidate's attempt would
//! be: same harness, same sandbox, same time limits.
//!
//! Workers run in parallel, one slot each, taking the next mutant from a shared counter; the
//! calling thread receives each result as it finishes (to show progress) and collects them in
//! listing order. Builds queue on the grader's build lock anyway, so two workers overlap one
//! mutant's build with another's checks, which is where a second worker pays off.
//!
//! A grading yields one [`Graded`]: the suite noticed (some check failed, timed out, crashed or
//! ran out of memory), it did not (every check passed), or the mutant did not build. What a
//! survivor means (a gap, or an explained equivalent) is decided by the caller.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::app::grade_attempt;
use crate::error::{GradeError, MutantsError};
use crate::mutants::apply::Slot;
use crate::repo::{Exercise, Repo};
use crate::report::human::build_headline;
use crate::report::{Report, RunStatus};
use crate::runner::{Event, Observer, Settings};
use crate::services::Host;

/// Everything a grading needs besides the attempt.
pub struct Context<'a> {
    /// The checkout.
    pub repo: &'a Repo,
    /// The exercise whose suite is measured.
    pub exercise: &'a Exercise,
    /// How each grading runs its checks.
    pub settings: Settings,
    /// Where services come from.
    pub host: &'a Host,
}

/// A mutant ready to grade: which file of the slot to change, to what, and back to what.
pub struct Job<'a> {
    /// cargo-mutants' name, for errors.
    pub name: &'a str,
    /// The file, relative to the crate.
    pub file: &'a str,
    /// The file's text with the mutant applied.
    pub mutated: &'a str,
    /// The reference's text of the file.
    pub original: &'a str,
}

/// What one grading found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Graded {
    /// Every check passed: the suite did not notice.
    Passed,
    /// These checks did not pass.
    Failed(Vec<FailingCheck>),
    /// The mutant did not build (the compiler's first error).
    Unviable(String),
}

/// A check that noticed a mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingCheck {
    /// The check's id.
    pub id: String,
    /// How it ended: `fail`, `timeout`, `crashed` or `out_of_memory`.
    pub status: &'static str,
    /// What happened, in one line.
    pub message: String,
}

/// Reads a grading's report.
pub fn classify(report: &Report) -> Result<Graded, String> {
    if let Some(failure) = &report.build_failure {
        let first = failure
            .diagnostics
            .first()
            .map(|d| d.lines().take(12).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        return Ok(Graded::Unviable(
            format!("{}\n{first}", build_headline(failure.culprit))
                .trim_end()
                .to_owned(),
        ));
    }
    match report.status {
        RunStatus::Pass => Ok(Graded::Passed),
        RunStatus::Fail => Ok(Graded::Failed(
            report
                .checks
                .iter()
                .filter(|c| !c.outcome.is_pass())
                .map(|c| FailingCheck {
                    id: c.id.clone(),
                    status: c.outcome.as_str(),
                    message: c.outcome.summary().lines().next().unwrap_or("").to_owned(),
                })
                .collect(),
        )),
        RunStatus::Error => Err("no check ran".to_owned()),
    }
}

/// The runner's events are not shown per mutant: the sweep shows one line per mutant instead.
struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: Event<'_>) {}
}

/// Grades whatever the slot holds now.
fn grade_slot(context: &Context<'_>, slot: &Slot) -> Result<Graded> {
    let label = context.repo.display_path(slot.dir());
    let (report, _) = grade_attempt(
        context.repo,
        context.exercise,
        slot.dir(),
        label,
        &[],
        context.settings,
        context.host,
        false,
        &mut Quiet,
    )?;
    classify(&report).map_err(|reason| anyhow::anyhow!(reason))
}

/// Grades the unmutated reference in `slot`: every check must pass, or no mutant can be judged
/// (a check that fails anyway would "catch" every mutant). It also warms the slot's build.
pub fn baseline(context: &Context<'_>, slot: &Slot) -> Result<()> {
    let graded = grade_slot(context, slot).context("grading the unmutated reference")?;
    let problems = match graded {
        Graded::Passed => return Ok(()),
        Graded::Unviable(error) => vec![format!("it does not build: {error}")],
        Graded::Failed(checks) => checks
            .iter()
            .map(|c| format!("{} ({}): {}", c.id, c.status, c.message))
            .collect(),
    };
    Err(MutantsError::Baseline {
        exercise: context.exercise.slug.clone(),
        problems,
    }
    .into())
}

/// Applies `job` in `slot`, grades it, and puts the reference's text back.
fn grade_job(context: &Context<'_>, slot: &Slot, job: &Job<'_>) -> Result<Graded> {
    slot.write(job.file, job.mutated)?;
    let graded = grade_slot(context, slot);
    // Put the file back even when grading failed: the slot is reused by the next mutant.
    slot.write(job.file, job.original)?;
    graded.with_context(|| format!("grading the mutant `{}`", job.name))
}

/// Grades every job, one worker per slot, and calls `finished(index in jobs, result, wall
/// time)` on this thread as each one ends. Returns Ok once every job has been graded; on the
/// first error it stops handing out jobs, lets those under way finish, and returns the error.
pub fn sweep(
    context: &Context<'_>,
    slots: &[Slot],
    jobs: &[Job<'_>],
    mut finished: impl FnMut(usize, &Graded, Duration),
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, Result<Graded>, Duration)>();
    let mut graded_count = 0;
    let mut first_error = None;
    std::thread::scope(|scope| {
        for slot in slots {
            let (next, stop, sender) = (&next, &stop, sender.clone());
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) || crate::interrupt::requested() {
                        return;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(index) else { return };
                    let started = Instant::now();
                    let graded = grade_job(context, slot, job);
                    if sender.send((index, graded, started.elapsed())).is_err() {
                        return;
                    }
                }
            });
        }
        // The workers hold the only other senders: the loop ends when the last one is done.
        drop(sender);
        for (index, graded, took) in receiver {
            match graded {
                Ok(graded) => {
                    graded_count += 1;
                    finished(index, &graded, took);
                }
                Err(error) => {
                    // Stop handing out mutants; the ones already grading finish first.
                    stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(error);
                }
            }
        }
    });
    if crate::interrupt::requested() {
        return Err(GradeError::Interrupted.into());
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    if graded_count != jobs.len() {
        bail!("{} of {} mutants were graded", graded_count, jobs.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{BuildFailure, Culprit};
    use crate::meta::Metadata;
    use crate::outcome::CheckOutcome;
    use crate::report::CheckResult;

    fn exercise() -> Exercise {
        let meta = Metadata::parse(
            r#"
            schema = 1
            title = "T"
            summary = "S"
            order = 1
            time_budget_minutes = 30
            timeout_secs = 10
            hints = []
            [[criteria]]
            id = "cap"
            title = "Cap"
            weight = 1
            checks = ["cap.a", "cap.b"]
            "#,
        )
        .expect("valid metadata");
        Exercise {
            slug: "retry".into(),
            meta,
            attempt_dir: "/x".into(),
            reference_dir: "/x".into(),
            suite_dir: "/x".into(),
        }
    }

    fn check(id: &str, outcome: CheckOutcome) -> CheckResult {
        CheckResult {
            id: id.into(),
            criterion: "cap".into(),
            description: String::new(),
            outcome,
            hint: None,
            weight: 1.0,
            duration: Duration::ZERO,
            output: String::new(),
            runs: Vec::new(),
        }
    }

    #[test]
    fn a_report_reads_as_passed_failed_or_unviable() {
        let exercise = exercise();
        let pass = Report::from_checks(
            &exercise,
            "a".into(),
            vec![check("cap.a", CheckOutcome::Pass)],
            Duration::ZERO,
        );
        assert_eq!(classify(&pass), Ok(Graded::Passed));

        let timeout = CheckOutcome::Timeout {
            limit: Duration::from_secs(10),
        };
        let fail = Report::from_checks(
            &exercise,
            "a".into(),
            vec![check("cap.a", CheckOutcome::Pass), check("cap.b", timeout)],
            Duration::ZERO,
        );
        let Ok(Graded::Failed(checks)) = classify(&fail) else {
            panic!("a timeout is noticed");
        };
        assert_eq!(checks.len(), 1);
        assert_eq!(
            (checks[0].id.as_str(), checks[0].status),
            ("cap.b", "timeout")
        );

        let failure = BuildFailure {
            culprit: Culprit::Attempt,
            diagnostics: vec!["error[E0308]: mismatched types".into()],
        };
        let unviable = Report::build_failed(&exercise, "a".into(), failure, Duration::ZERO);
        let Ok(Graded::Unviable(error)) = classify(&unviable) else {
            panic!("a build failure is unviable");
        };
        assert!(error.contains("E0308"), "{error}");

        let nothing = Report::from_checks(&exercise, "a".into(), Vec::new(), Duration::ZERO);
        assert!(classify(&nothing).is_err());
    }
}
