//! The candidate's practice loop: timed sessions, watch mode, hints, reset with backups, the
//! reference solution, progress and shell completions.
//!
//! Everything here sits on top of grading: `app.rs` dispatches the subcommands here, and the
//! grading path calls [`record_grade`] so that every report of the candidate's attempt carries
//! the clock. What is remembered lives in `.grade/state.json` ([`crate::state`]); the only
//! command that writes into `exercises/` is `grade reset`.
//!
//! # Layout
//! - [`args`]: the subcommands' options (`cli.rs` declares the subcommands).
//! - [`clock`]: "now", reading a session's clock, the report's practice line.
//! - [`markdown`]: the prompt rendered for the terminal.
//! - [`start`], [`hint`], [`solution`], [`overview`]: `grade start`, `hint`, `solution`,
//!   `list` / `progress`.
//! - [`files`], [`pristine`], [`backup`], [`reset`]: the attempt's files, the stub as git has
//!   it, timestamped backups, and `grade reset`.
//! - [`watch`], [`debounce`], [`terminal`], [`child`]: `grade watch`: file events folded into
//!   one trigger, the terminal in key-at-a-time mode, each grading a cancellable child
//!   process.

pub mod args;
pub mod backup;
pub mod child;
pub mod clock;
pub mod debounce;
pub mod files;
pub mod hint;
pub mod markdown;
pub mod overview;
pub mod pristine;
pub mod reset;
pub mod solution;
pub mod start;
pub mod terminal;
pub mod watch;

use std::io::IsTerminal;

use crate::error::GradeError;
use crate::repo::{Exercise, Repo};
use crate::report::{Report, RunStatus};
use crate::state::{ExerciseState, LastResult, Store};

use self::clock::Note;

/// After grading the candidate's own attempt (requested at `requested_at`): remember the
/// result (full runs only: a `--check` subset says nothing about the whole attempt), stop
/// the clock on the session's first pass, and return the practice line for the report.
pub fn record_grade(
    repo: &Repo,
    exercise: &Exercise,
    report: &Report,
    full_run: bool,
    requested_at: u64,
) -> Result<Option<Note>, GradeError> {
    let store = Store::new(&repo.state_dir());
    let hints = exercise.meta.hints.len();
    if !full_run {
        let entry = exercise_state(&store, &exercise.slug);
        return Ok(Note::of(&entry, hints, requested_at));
    }
    store.update(|state| {
        let entry = state.exercises.entry(exercise.slug.clone()).or_default();
        entry.last = Some(LastResult::from_report(report));
        if report.status == RunStatus::Pass {
            clock::record_pass(entry, requested_at);
        }
        Note::of(entry, hints, requested_at)
    })
}

/// What is remembered about `slug` (empty when nothing is).
pub fn exercise_state(store: &Store, slug: &str) -> ExerciseState {
    store.load().exercises.remove(slug).unwrap_or_default()
}

/// Columns to lay text out in: the terminal's width on a terminal, else `COLUMNS`, else 100;
/// never more than 100, which keeps prose readable on wide screens.
pub fn text_width() -> usize {
    let terminal = std::io::stdout()
        .is_terminal()
        .then(|| console::Term::stdout().size_checked())
        .flatten()
        .map(|(_, columns)| usize::from(columns));
    let columns = terminal.or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|value| value.parse().ok())
    });
    columns.unwrap_or(100).clamp(40, 100)
}

/// `grade completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "grade", &mut std::io::stdout());
    crate::exit::SUCCESS
}
