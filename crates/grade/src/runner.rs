//! Running a suite's checks: list them, run each in its own sandboxed process, in parallel up
//! to `--jobs`, and emit [`Event`]s as they start and finish.
//!
//! The runner knows processes and time; it knows nothing of terminals or file formats. Whatever
//! wants to show progress implements [`Observer`] (see `progress.rs`); the report is built from
//! the results it returns.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use grade_protocol::{
    CheckInfo, ENV_MEMORY_LIMIT, ENV_RESULT_FILE, ENV_SCRATCH_DIR, ENV_TIMEOUT_SCALE, LIST_FLAG,
    Listing, PROTOCOL_VERSION, RUN_FLAG, Verdict,
};

use crate::error::{GradeError, io};
use crate::outcome::CheckOutcome;
use crate::repo::Exercise;
use crate::report::CheckResult;
use crate::sandbox::{self, Finished, Limits};
use crate::services::Services;

/// What happens during a grading run, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// The harness build started.
    BuildStarted,
    /// Cargo finished compiling one crate.
    Compiled(&'a str),
    /// The build ended (successfully or not).
    BuildFinished,
    /// Checks are about to run.
    ChecksStarting {
        /// How many checks will run.
        total: usize,
    },
    /// A check's (first) run started.
    CheckStarted(&'a str),
    /// A check finished (every repeat of it).
    CheckFinished(&'a CheckResult),
}

/// Consumes events; implemented by the progress display.
pub trait Observer {
    /// Called for each event, on the thread that called the runner.
    fn event(&mut self, event: Event<'_>);
}

/// How checks are run.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Checks run at once.
    pub jobs: usize,
    /// Runs per check (flakiness detection when > 1).
    pub repeat: usize,
    /// Multiplier for every check's time limit.
    pub timeout_scale: f64,
    /// Resident memory cap per check, in bytes.
    pub memory: u64,
}

/// Asks the suite binary for its checks.
pub fn list_checks(executable: &Path) -> Result<Vec<CheckInfo>, GradeError> {
    // Listing runs no candidate code (checks are only declared), so a plain, bounded-by-design
    // call is enough here; the sandbox is for running checks.
    let output = Command::new(executable)
        .arg(LIST_FLAG)
        .output()
        .map_err(|e| GradeError::Listing {
            reason: format!("cannot run {}: {e}", executable.display()),
        })?;
    if !output.status.success() {
        return Err(GradeError::Listing {
            reason: format!(
                "{} ({})",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let listing: Listing =
        serde_json::from_slice(&output.stdout).map_err(|e| GradeError::Listing {
            reason: format!("unreadable listing: {e}"),
        })?;
    if listing.protocol != PROTOCOL_VERSION {
        return Err(GradeError::Listing {
            reason: format!(
                "protocol {} (this grader speaks {PROTOCOL_VERSION}); update grade-kit",
                listing.protocol
            ),
        });
    }
    Ok(listing.checks)
}

/// Keeps the checks matching any selector: an exact check id or a criterion id.
pub fn select(checks: Vec<CheckInfo>, selectors: &[String]) -> Result<Vec<CheckInfo>, GradeError> {
    if selectors.is_empty() {
        return Ok(checks);
    }
    for selector in selectors {
        if !checks
            .iter()
            .any(|c| c.id == *selector || c.criterion == *selector)
        {
            let names = checks
                .iter()
                .flat_map(|c| [c.id.as_str(), c.criterion.as_str()]);
            return Err(GradeError::UnknownCheck {
                selector: selector.clone(),
                suggestion: crate::error::did_you_mean(selector, names),
            });
        }
    }
    Ok(checks
        .into_iter()
        .filter(|c| selectors.iter().any(|s| c.id == *s || c.criterion == *s))
        .collect())
}

/// One run of one check.
struct RunResult {
    check: usize,
    outcome: CheckOutcome,
    duration: Duration,
    output: String,
}

enum Message {
    Started(usize),
    Finished(RunResult),
    Failed(GradeError),
}

/// Runs `checks` of `exercise` with `executable`; returns results in suite order.
pub fn run_checks(
    executable: &Path,
    exercise: &Exercise,
    checks: &[CheckInfo],
    settings: Settings,
    services: &Services,
    observer: &mut dyn Observer,
) -> Result<Vec<CheckResult>, GradeError> {
    observer.event(Event::ChecksStarting {
        total: checks.len(),
    });
    let scratch_root = tempfile::Builder::new()
        .prefix("grade-run-")
        .tempdir()
        .map_err(io(
            "cannot create a temporary directory in",
            std::env::temp_dir(),
        ))?;
    let repeat = settings.repeat.max(1);
    let jobs: Vec<(usize, usize)> = (0..checks.len())
        .flat_map(|c| (0..repeat).map(move |r| (c, r)))
        .collect();
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel();

    let mut runs: Vec<Vec<RunResult>> = (0..checks.len()).map(|_| Vec::new()).collect();
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..settings.jobs.max(1).min(jobs.len().max(1)) {
            let sender = sender.clone();
            let (jobs, next, scratch_root) = (&jobs, &next, scratch_root.path());
            scope.spawn(move || {
                while let Some(&(check, run)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if crate::interrupt::requested() {
                        break;
                    }
                    if run == 0 {
                        let _ = sender.send(Message::Started(check));
                    }
                    let info = &checks[check];
                    let message = match run_one(
                        executable,
                        exercise,
                        info,
                        settings,
                        &services.check_env(&info.id, run),
                        &scratch_root.join(format!("{check}-{run}")),
                    ) {
                        Ok((outcome, duration, output)) => Message::Finished(RunResult {
                            check,
                            outcome,
                            duration,
                            output,
                        }),
                        Err(error) => Message::Failed(error),
                    };
                    let _ = sender.send(message);
                }
            });
        }
        drop(sender);
        for message in receiver {
            match message {
                Message::Started(check) => observer.event(Event::CheckStarted(&checks[check].id)),
                Message::Finished(run) => {
                    let check = run.check;
                    runs[check].push(run);
                    if runs[check].len() == repeat {
                        let result = aggregate(
                            exercise,
                            &checks[check],
                            std::mem::take(&mut runs[check]),
                            repeat,
                        );
                        observer.event(Event::CheckFinished(&result));
                        results[check] = Some(result);
                    }
                }
                Message::Failed(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
    });
    if crate::interrupt::requested() {
        return Err(GradeError::Interrupted);
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every check ran"))
        .collect())
}

/// Runs one check once, in its own process group, and classifies how it ended.
fn run_one(
    executable: &Path,
    exercise: &Exercise,
    info: &CheckInfo,
    settings: Settings,
    service_env: &[(&'static str, String)],
    scratch: &Path,
) -> Result<(CheckOutcome, Duration, String), GradeError> {
    std::fs::create_dir_all(scratch).map_err(io("cannot create", scratch))?;
    let result_file = scratch.join("verdict.json");
    let limit = exercise
        .meta
        .timeout_for(&info.id)
        .mul_f64(settings.timeout_scale);
    let mut command = Command::new(executable);
    command
        .args([RUN_FLAG, info.id.as_str()])
        .current_dir(scratch)
        .env(ENV_RESULT_FILE, &result_file)
        .env(ENV_SCRATCH_DIR, scratch)
        .env(ENV_TIMEOUT_SCALE, settings.timeout_scale.to_string())
        .env(ENV_MEMORY_LIMIT, settings.memory.to_string())
        // Where the run's services are, and this run's own key prefix (empty if none).
        .envs(service_env.iter().map(|(name, value)| (name, value)))
        // The panic message is in the report already; a backtrace would bury it.
        .env_remove("RUST_BACKTRACE");
    let finished = sandbox::run(
        &mut command,
        Limits {
            timeout: limit,
            memory: settings.memory,
        },
    )
    .map_err(io("cannot run", executable))?;
    if finished.ended == sandbox::Ended::Interrupted {
        return Err(GradeError::Interrupted);
    }
    let verdict = std::fs::read_to_string(&result_file)
        .ok()
        .and_then(|text| Verdict::from_json(&text).ok());
    let outcome = CheckOutcome::classify(&finished, verdict, limit, settings.memory);
    let output = combined_output(&finished);
    // Each run's scratch space goes as soon as the run ends; the root goes with the run.
    let _ = std::fs::remove_dir_all(scratch);
    Ok((outcome, finished.duration, output))
}

/// stdout and stderr for the report: labelled when both have something to say.
fn combined_output(finished: &Finished) -> String {
    let (stdout, stderr) = (finished.stdout.text(), finished.stderr.text());
    match (stdout.trim().is_empty(), stderr.trim().is_empty()) {
        (true, true) => String::new(),
        (false, true) => stdout,
        (true, false) => stderr,
        (false, false) => format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"),
    }
}

/// Folds the runs of one check into its result: the first run that did not pass decides.
fn aggregate(
    exercise: &Exercise,
    info: &CheckInfo,
    mut runs: Vec<RunResult>,
    repeat: usize,
) -> CheckResult {
    let statuses = if repeat > 1 {
        runs.iter().map(|r| r.outcome.as_str()).collect()
    } else {
        Vec::new()
    };
    let duration = runs.iter().map(|r| r.duration).max().unwrap_or_default();
    let decisive = runs.iter().position(|r| !r.outcome.is_pass()).unwrap_or(0);
    let run = runs.swap_remove(decisive);
    CheckResult {
        id: info.id.clone(),
        criterion: info.criterion.clone(),
        description: info.description.clone(),
        outcome: run.outcome,
        hint: info.hint.clone(),
        weight: exercise.meta.check_weight(&info.id),
        duration,
        output: run.output,
        runs: statuses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, criterion: &str) -> CheckInfo {
        CheckInfo {
            id: id.into(),
            criterion: criterion.into(),
            description: String::new(),
            hint: None,
        }
    }

    #[test]
    fn selects_by_id_or_criterion() {
        let checks = vec![info("a.one", "a"), info("a.two", "a"), info("b.one", "b")];
        let ids = |selected: Vec<CheckInfo>| selected.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(select(checks.clone(), &["a".into()]).unwrap()),
            ["a.one", "a.two"]
        );
        assert_eq!(
            ids(select(checks.clone(), &["b.one".into(), "a.two".into()]).unwrap()),
            ["a.two", "b.one"]
        );
        assert_eq!(ids(select(checks.clone(), &[]).unwrap()).len(), 3);
        let error = select(checks, &["a.on".into()]).unwrap_err().to_string();
        assert!(error.contains("did you mean `a.one`"), "{error}");
    }
}
