//! The commands: what `grade <exercise>`, `grade list` and `grade verify` do, wired from the
//! library modules. Errors carry context naming the exercise or file involved; `main` turns
//! them into a message and an exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cli::{Cli, ColorChoice, Command, Format, GradeArgs};
use crate::exit;
use crate::harness::{BuildOutcome, Harness};
use crate::progress::Progress;
use crate::repo::{Exercise, Repo};
use crate::report::{self, Report, RunStatus};
use crate::runner::{self, Event, Observer, Settings};
use crate::state::{LastResult, Store};

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let repo = Repo::discover()?;
    let color = color_enabled(cli.color);
    match cli.command {
        Some(Command::List) => list(&repo),
        Some(Command::Verify(args)) => {
            let settings = settings(args.jobs, 1, args.timeout_scale, 1024)?;
            crate::verify::run(&repo, &args.exercises, settings, color)
        }
        None => {
            let name = cli
                .exercise
                .expect("clap requires an exercise when no subcommand is given");
            grade(&repo, &name, &cli.grade, cli.color)
        }
    }
}

/// Whether stdout gets colour under `choice` (NO_COLOR, CLICOLOR_FORCE and TTY-ness for auto).
fn color_enabled(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    }
}

/// Builds runner settings from command-line values, rejecting nonsense early.
pub fn settings(
    jobs: Option<usize>,
    repeat: u32,
    timeout_scale: f64,
    memory_mib: u64,
) -> Result<Settings> {
    if !(timeout_scale.is_finite() && timeout_scale > 0.0) {
        bail!("--timeout-scale must be a positive number, not {timeout_scale}");
    }
    if jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    if memory_mib < 16 {
        bail!("--memory-limit must be at least 16 MiB, not {memory_mib}");
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(Settings {
        jobs: jobs.unwrap_or(cores),
        repeat: repeat as usize,
        timeout_scale,
        memory: memory_mib << 20,
    })
}

/// Which attempt is graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttemptKind {
    /// The candidate's own, in `exercises/`: its result is remembered.
    Candidate,
    /// The reference solution.
    Reference,
    /// Any other crate (`--attempt DIR`).
    Elsewhere,
}

fn grade(repo: &Repo, name: &str, args: &GradeArgs, color: ColorChoice) -> Result<i32> {
    let exercise = repo.exercise(name)?;
    let settings = settings(
        args.jobs,
        args.repeat,
        args.timeout_scale,
        args.memory_limit,
    )?;
    let (attempt_dir, kind) = match (&args.attempt, args.reference) {
        (Some(dir), _) => (absolute(dir)?, AttemptKind::Elsewhere),
        (None, true) => (exercise.reference_dir.clone(), AttemptKind::Reference),
        (None, false) => (exercise.attempt_dir.clone(), AttemptKind::Candidate),
    };
    let attempt_label = repo.display_path(&attempt_dir);
    let silent = args.format != Format::Human && args.output.is_none();
    let mut progress = Progress::new(format!("{} ({attempt_label})", exercise.slug), silent);
    let diagnostics_color =
        args.output.is_none() && args.format == Format::Human && color_enabled(color);

    let (report, code) = grade_attempt(
        repo,
        &exercise,
        &attempt_dir,
        attempt_label,
        &args.checks,
        settings,
        diagnostics_color,
        &mut progress,
    )?;
    drop(progress);

    let text = match args.format {
        Format::Human => report::human::render(&report),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
    };
    write_report(&text, args.output.as_deref(), color)?;

    if kind == AttemptKind::Candidate && args.checks.is_empty() {
        let last = LastResult::from_report(&report);
        Store::new(&repo.state_dir())
            .update(|state| {
                state
                    .exercises
                    .entry(exercise.slug.clone())
                    .or_default()
                    .last = Some(last)
            })
            .context("cannot save your result")?;
    }
    Ok(code)
}

/// Builds and grades one attempt; returns the report and the exit code it implies.
#[allow(clippy::too_many_arguments)]
pub fn grade_attempt(
    repo: &Repo,
    exercise: &Exercise,
    attempt_dir: &Path,
    attempt_label: String,
    selectors: &[String],
    settings: Settings,
    color: bool,
    observer: &mut dyn Observer,
) -> Result<(Report, i32)> {
    let started = Instant::now();
    let harness = Harness::prepare(repo, exercise, attempt_dir)
        .with_context(|| format!("cannot prepare the build of {}", exercise.slug))?;
    observer.event(Event::BuildStarted);
    let built = harness.build(color, |krate| observer.event(Event::Compiled(krate)))?;
    observer.event(Event::BuildFinished);
    let executable = match built {
        BuildOutcome::Built(executable) => executable,
        BuildOutcome::Failed(failure) => {
            let report = Report::build_failed(exercise, attempt_label, failure, started.elapsed());
            return Ok((report, exit::BUILD_FAILED));
        }
    };
    let checks = runner::select(runner::list_checks(&executable)?, selectors)?;
    let results = runner::run_checks(&executable, exercise, &checks, settings, observer)?;
    let report = Report::from_checks(exercise, attempt_label, results, started.elapsed());
    let code = match report.status {
        RunStatus::Pass => exit::SUCCESS,
        RunStatus::Fail => exit::CHECKS_FAILED,
        RunStatus::Error => exit::NO_CHECKS,
    };
    Ok((report, code))
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    dir.canonicalize()
        .with_context(|| format!("--attempt {}: no such folder", dir.display()))
}

/// Writes the report to FILE (styles stripped) or to stdout (styles as the terminal allows).
fn write_report(text: &str, output: Option<&Path>, color: ColorChoice) -> Result<()> {
    match output {
        Some(path) => {
            let plain = anstream::adapter::strip_str(text).to_string();
            std::fs::write(path, plain)
                .with_context(|| format!("cannot write the report to {}", path.display()))
        }
        None => {
            let choice = match color {
                ColorChoice::Auto => anstream::ColorChoice::Auto,
                ColorChoice::Always => anstream::ColorChoice::Always,
                ColorChoice::Never => anstream::ColorChoice::Never,
            };
            let mut stdout = anstream::AutoStream::new(std::io::stdout().lock(), choice);
            stdout
                .write_all(text.as_bytes())
                .context("cannot write the report")?;
            stdout.flush().context("cannot write the report")
        }
    }
}

fn list(repo: &Repo) -> Result<i32> {
    let exercises = repo.exercises()?;
    let state = Store::new(&repo.state_dir()).load();
    let width = exercises
        .iter()
        .map(|e| e.slug.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    out.push_str(&format!(
        "{:<width$}  {:>6}  {:>6}  {:<18}  {}\n",
        "EXERCISE", "BUDGET", "CHECKS", "LAST RESULT", "TITLE"
    ));
    for exercise in &exercises {
        let last = state
            .exercises
            .get(&exercise.slug)
            .and_then(|s| s.last.as_ref())
            .map_or_else(
                || "not graded".to_owned(),
                |last| format!("{} {}/{} checks", last.status, last.passed, last.total),
            );
        out.push_str(&format!(
            "{:<width$}  {:>4}m  {:>6}  {:<18}  {}\n",
            exercise.slug,
            exercise.meta.time_budget_minutes,
            exercise.meta.check_ids().count(),
            last,
            exercise.meta.title
        ));
    }
    out.push_str(
        "\nStart with `cargo grade <EXERCISE>`; the prompt is in exercises/<EXERCISE>/README.md.\n",
    );
    write_report(&out, None, ColorChoice::Auto)?;
    Ok(exit::SUCCESS)
}
