//! `grade verify`: the repository's invariants, checked the way CI checks them.
//!
//! For each exercise: the metadata and the suite agree (every criterion has checks, every check
//! names a listed criterion, no check is missing from either side); the spec trace is complete
//! (every rule of the prompt has checks and every check tests a rule, see [`crate::trace`]); the reference solution
//! builds and passes every check; the stub builds clippy-clean with `-D warnings` and fails
//! every check (a check the stub passes proves nothing). It grades whatever is in `exercises/`,
//! so run it on a clean checkout: that is what CI does.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::app::grade_attempt;
use crate::exit;
use crate::harness::cargo_program;
use crate::progress::Progress;
use crate::repo::{Exercise, Repo};
use crate::report::{Report, human::build_headline};
use crate::runner::Settings;
use crate::services::Host;
use crate::trace;

/// Verifies `names` (every exercise when empty); returns the exit code.
pub fn run(
    repo: &Repo,
    names: &[String],
    settings: Settings,
    host: &Host,
    color: bool,
) -> Result<i32> {
    let exercises = if names.is_empty() {
        repo.exercises()?
    } else {
        names
            .iter()
            .map(|name| repo.exercise(name))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut failed = 0;
    for exercise in &exercises {
        let problems = verify_one(repo, exercise, settings, host, color)?;
        if problems.is_empty() {
            println!("ok      {}", exercise.slug);
        } else {
            failed += 1;
            println!("FAILED  {}", exercise.slug);
            for problem in problems {
                for (i, line) in problem.lines().enumerate() {
                    println!("{}{line}", if i == 0 { "  - " } else { "    " });
                }
            }
        }
    }
    println!("\n{} passed, {failed} failed", exercises.len() - failed);
    Ok(if failed == 0 {
        exit::SUCCESS
    } else {
        exit::CHECKS_FAILED
    })
}

/// Everything wrong with one exercise, one message each.
fn verify_one(
    repo: &Repo,
    exercise: &Exercise,
    settings: Settings,
    host: &Host,
    color: bool,
) -> Result<Vec<String>> {
    let grade_whole = |role: &str, dir: &Path| -> Result<Report> {
        let mut progress = Progress::new(format!("{} ({role})", exercise.slug), false);
        let label = repo.display_path(dir);
        let (report, _) = grade_attempt(
            repo,
            exercise,
            dir,
            label,
            &[],
            settings,
            host,
            color,
            &mut progress,
        )
        .with_context(|| format!("grading the {role} of {}", exercise.slug))?;
        Ok(report)
    };
    let mut problems = Vec::new();

    let reference = grade_whole("reference", &exercise.reference_dir)?;
    if let Some(problem) = build_problem("reference", &reference) {
        problems.push(problem);
        return Ok(problems);
    }
    problems.extend(consistency(exercise, &reference));
    problems.extend(spec_trace(exercise));
    for check in reference.checks.iter().filter(|c| !c.outcome.is_pass()) {
        problems.push(format!(
            "the reference fails {}: {}",
            check.id,
            check.outcome.summary()
        ));
    }

    eprintln!("clippy on the {} stub…", exercise.slug);
    if let Some(problem) = clippy_stub(repo, exercise)? {
        problems.push(problem);
    }

    let stub = grade_whole("stub", &exercise.attempt_dir)?;
    problems.extend(build_problem("stub", &stub));
    for check in stub.checks.iter().filter(|c| c.outcome.is_pass()) {
        problems.push(format!(
            "the stub passes {}: a check that a stub passes proves nothing",
            check.id
        ));
    }
    Ok(problems)
}

/// "the reference does not build: …" with the diagnostics, when `report` is a build failure.
fn build_problem(role: &str, report: &Report) -> Option<String> {
    report.build_failure.as_ref().map(|failure| {
        format!(
            "the {role} does not build: {}\n{}",
            build_headline(failure.culprit),
            failure.diagnostics.join("\n")
        )
    })
}

/// Metadata vs the suite's own listing.
fn consistency(exercise: &Exercise, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = exercise.meta.check_ids().collect();
    let declared: BTreeSet<&str> = report.checks.iter().map(|c| c.id.as_str()).collect();
    for missing in listed.difference(&declared) {
        problems.push(format!(
            "exercise.toml lists `{missing}`, which the suite does not declare"
        ));
    }
    for extra in declared.difference(&listed) {
        problems.push(format!(
            "the suite declares `{extra}`, which no criterion in exercise.toml lists"
        ));
    }
    for check in &report.checks {
        if let Some(criterion) = exercise.meta.criterion_of(&check.id)
            && criterion.id != check.criterion
        {
            problems.push(format!(
                "`{}` belongs to criterion `{}` in the suite but is listed under `{}` in exercise.toml",
                check.id, check.criterion, criterion.id
            ));
        }
    }
    problems
}

/// The prompt's rules vs `spec.toml` vs the checks (see [`crate::trace`]).
fn spec_trace(exercise: &Exercise) -> Vec<String> {
    let prompt = match std::fs::read_to_string(exercise.attempt_dir.join("README.md")) {
        Ok(prompt) => prompt,
        Err(error) => return vec![format!("cannot read the prompt README.md: {error}")],
    };
    match trace::load(&exercise.attempt_dir) {
        Ok(spec) => trace::problems(&spec, &prompt, &exercise.meta),
        Err(problem) => vec![problem],
    }
}

/// Runs clippy with `-D warnings` on the stub; a problem message when it is not clean.
fn clippy_stub(repo: &Repo, exercise: &Exercise) -> Result<Option<String>> {
    let manifest = exercise.attempt_dir.join("Cargo.toml");
    let output = Command::new(cargo_program())
        .args(["clippy", "--quiet", "--all-targets", "--manifest-path"])
        .arg(&manifest)
        .args(["--", "-D", "warnings"])
        .current_dir(repo.root())
        .output()
        .with_context(|| format!("cannot run cargo clippy on {}", manifest.display()))?;
    Ok((!output.status.success()).then(|| {
        format!(
            "the stub is not clippy-clean:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )
    }))
}
