//! `grade`: graded coding exercises for senior backend engineers.
//!
//! `main` is thin: parse arguments, run the command, map the outcome to a documented exit code
//! ([`exit`]). Everything else lives in modules with one job each.
//!
//! # Layout
//! - [`cli`]: arguments and `--help`.
//! - [`app`]: the commands, wiring the modules below together.
//! - [`repo`], [`meta`]: the checkout, its exercises and their `exercise.toml`.
//! - [`harness`]: building a suite against any attempt, with cargo's JSON diagnostics.
//! - [`runner`], [`sandbox`], [`outcome`]: running checks in process groups with limits, and
//!   classifying how each ended; the runner emits events.
//! - [`progress`], [`report`]: consuming events (progress) and rendering reports (human,
//!   JSON, JUnit).
//! - [`state`]: the candidate's results in `.grade/`.
//! - [`verify`]: the repository's own invariants (references pass, stubs fail).
//! - [`mutants`]: `grade mutants`, mutation testing of a suite with cargo-mutants' mutants of
//!   the reference, each graded like an attempt.
//! - [`services`], [`doctor`]: the servers exercises need (Redis), provisioned per run and
//!   torn down after it; `grade doctor` says what this machine provides.
//! - [`practice`]: the practice loop: `start` and the clock, `watch`, `hint`, `reset` with
//!   backups, `solution`, `list` / `progress`, shell completions.
//! - [`interrupt`], [`error`], [`exit`]: signals, typed errors and exit codes.

mod app;
mod cli;
mod doctor;
mod error;
mod exit;
mod harness;
mod interrupt;
mod meta;
mod mutants;
mod outcome;
mod practice;
mod progress;
mod repo;
mod report;
mod runner;
mod sandbox;
mod services;
mod state;
mod trace;
mod verify;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    interrupt::install();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are not errors; anything else is bad arguments.
            let code = if error.use_stderr() {
                exit::GRADER_ERROR
            } else {
                exit::SUCCESS
            };
            let _ = error.print();
            return ExitCode::from(code as u8);
        }
    };
    let code = match app::run(cli) {
        Ok(code) => code,
        Err(error)
            if interrupt::requested()
                || matches!(error.downcast_ref(), Some(error::GradeError::Interrupted)) =>
        {
            eprintln!("interrupted: every process grade started has been stopped");
            exit::INTERRUPTED
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::GRADER_ERROR
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
