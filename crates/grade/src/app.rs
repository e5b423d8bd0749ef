//! The commands: what `grade <exercise>`, `grade list` and `grade verify` do, wired from the
//! library modules (the practice loop's commands live in `practice/`). Errors carry context
//! naming the exercise or file involved; `main` turns them into a message and an exit code.

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
use crate::services::{Host, Services};

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    // Completion scripts need no checkout: they are installed once, from anywhere.
    if let Some(Command::Completions(args)) = &cli.command {
        return Ok(crate::practice::completions(args.shell));
    }
    let repo = Repo::discover()?;
    let color = color_enabled(cli.color);
    match cli.command {
        Some(Command::List) => crate::practice::overview::list(&repo, cli.color),
        Some(Command::Start(args)) => crate::practice::start::run(&repo, &args, cli.color, color),
        Some(Command::Watch(args)) => crate::practice::watch::run(&repo, &args, color),
        Some(Command::Hint(args)) => crate::practice::hint::run(&repo, &args, cli.color),
        Some(Command::Reset(args)) => crate::practice::reset::run(&repo, &args, cli.color),
        Some(Command::Solution(args)) => crate::practice::solution::run(&repo, &args, cli.color),
        Some(Command::Progress(args)) => {
            crate::practice::overview::progress(&repo, args.format, cli.color)
        }
        Some(Command::Completions(_)) => unreachable!("handled before the checkout is needed"),
        Some(Command::Verify(args)) => {
            let settings = settings(args.jobs, 1, args.timeout_scale, 1024)?;
            let host =
                Host::current(args.services.redis_url).with_kafka_brokers(args.kafka.kafka_brokers);
            crate::verify::run(&repo, &args.exercises, settings, &host, color)
        }
        Some(Command::Doctor(args)) => {
            let host =
                Host::current(args.services.redis_url).with_kafka_brokers(args.kafka.kafka_brokers);
            crate::doctor::run(&repo, &host)
        }
        Some(Command::Mutants(args)) => crate::mutants::run(&repo, &args, cli.color),
        Some(Command::DebugServices(args)) => crate::services::debug::run(args),
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

    let requested_at = crate::practice::clock::now_unix();
    let (mut report, code) = grade_attempt(
        repo,
        &exercise,
        &attempt_dir,
        attempt_label,
        &args.checks,
        settings,
        &Host::current(args.services.redis_url.clone())
            .with_kafka_brokers(args.kafka.kafka_brokers.clone()),
        diagnostics_color,
        &mut progress,
    )?;
    drop(progress);

    // The candidate's own attempt: remember the result, stop the clock on a pass, and put
    // the clock in the report. A state that cannot be saved must not cost the report.
    let mut unsaved = None;
    if kind == AttemptKind::Candidate {
        let full_run = args.checks.is_empty();
        match crate::practice::record_grade(repo, &exercise, &report, full_run, requested_at) {
            Ok(note) => report.practice = note,
            Err(error) => unsaved = Some(error),
        }
    }

    let text = match args.format {
        Format::Human => report::human::render(&report),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
    };
    write_report(&text, args.output.as_deref(), color)?;

    if let Some(error) = unsaved {
        return Err(error).context("cannot save your result");
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
    host: &Host,
    color: bool,
    observer: &mut dyn Observer,
) -> Result<(Report, i32)> {
    let started = Instant::now();
    // Before the build: a missing service should stop the run in a second, not after minutes
    // of compiling. Dropped (servers stopped, keys deleted) when this function returns.
    let services = Services::provision(&exercise.slug, &exercise.meta.services, host)?;
    let harness = Harness::prepare(repo, exercise, attempt_dir)
        .with_context(|| format!("cannot prepare the build of {}", exercise.slug))?;
    observer.event(Event::BuildStarted);
    let built = harness.build(color, |krate| observer.event(Event::Compiled(krate)))?;
    observer.event(Event::BuildFinished);
    let executable = match built {
        BuildOutcome::Built(executable) => executable,
        BuildOutcome::Failed(failure) => {
            let mut report =
                Report::build_failed(exercise, attempt_label, failure, started.elapsed());
            report.services = services.usage();
            return Ok((report, exit::BUILD_FAILED));
        }
    };
    let checks = runner::select(runner::list_checks(&executable)?, selectors)?;
    let results = runner::run_checks(
        &executable,
        exercise,
        &checks,
        settings,
        &services,
        observer,
    )?;
    let mut report = Report::from_checks(exercise, attempt_label, results, started.elapsed());
    report.services = services.usage();
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
pub(crate) fn write_report(text: &str, output: Option<&Path>, color: ColorChoice) -> Result<()> {
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
