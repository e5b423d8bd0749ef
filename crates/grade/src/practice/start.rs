//! `grade start`: the prompt, the acceptance criteria and the time budget, and the clock.
//!
//! Starting is idempotent: a second `grade start` while a clock runs prints the prompt again
//! and says how much time is used, without touching the clock, so re-reading the prompt never
//! costs the candidate their session. `--restart` is the explicit way to start from zero.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::args::StartArgs;
use super::clock::{self, Reading, format_clock};
use super::{markdown, text_width};
use crate::cli::ColorChoice;
use crate::repo::{Exercise, Repo};
use crate::state::{Session, Store};

/// What `grade start` did to the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new session started.
    New(Session),
    /// A session was already there and was left alone.
    Kept(Session),
}

/// Runs `grade start`.
pub fn run(repo: &Repo, args: &StartArgs, color: ColorChoice, styled: bool) -> Result<i32> {
    let exercise = repo.exercise(&args.exercise)?;
    let readme_path = exercise.attempt_dir.join("README.md");
    let readme = std::fs::read_to_string(&readme_path)
        .with_context(|| format!("cannot read the prompt {}", readme_path.display()))?;
    let now = clock::now_unix();
    let started = start_clock(&Store::new(&repo.state_dir()), &exercise, args.restart, now)
        .context("cannot start the clock")?;

    let mut out = markdown::render(&readme, text_width(), styled);
    out.push('\n');
    out.push_str(&footer(repo, &exercise, &started, now, text_width()));
    crate::app::write_report(&out, None, color)?;
    Ok(crate::exit::SUCCESS)
}

/// Starts (or keeps) the clock of `exercise` in `store`.
pub fn start_clock(
    store: &Store,
    exercise: &Exercise,
    restart: bool,
    now: u64,
) -> Result<Started, crate::error::GradeError> {
    store.update(|state| {
        let entry = state.exercises.entry(exercise.slug.clone()).or_default();
        match &entry.session {
            Some(session) if !restart => Started::Kept(session.clone()),
            _ => {
                let session = clock::new_session(now, exercise.meta.time_budget_minutes);
                if restart {
                    entry.hints_used = 0;
                }
                entry.session = Some(session.clone());
                Started::New(session)
            }
        }
    })
}

/// The part after the prompt: criteria from `exercise.toml`, the budget, the clock, and what
/// to run next.
fn footer(repo: &Repo, exercise: &Exercise, started: &Started, now: u64, width: usize) -> String {
    let meta = &exercise.meta;
    let slug = &exercise.slug;
    let mut out = String::new();
    let _ = writeln!(out, "{}", "─".repeat(width.min(60)));
    let points: f64 = meta.criteria.iter().map(|c| c.weight).sum();
    let _ = writeln!(
        out,
        "Acceptance criteria: {} checks, {} points",
        meta.check_ids().count(),
        number(points)
    );
    let id_width = meta.criteria.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let weight_width = meta
        .criteria
        .iter()
        .map(|c| number(c.weight).len())
        .max()
        .unwrap_or(1);
    for criterion in &meta.criteria {
        let lead = format!(
            "  {:<id_width$}  {:>weight_width$}  ",
            criterion.id,
            number(criterion.weight)
        );
        let indent = lead.chars().count();
        let _ = writeln!(
            out,
            "{lead}{}",
            markdown::wrap_plain(&criterion.title, width, indent)
        );
    }
    out.push('\n');
    let budget = format_clock(u64::from(meta.time_budget_minutes) * 60);
    match started {
        Started::New(_) => {
            let _ = writeln!(
                out,
                "Time budget: {budget}. The clock is running: 0:00 of {budget} used."
            );
        }
        Started::Kept(session) => {
            let reading = Reading::of(session, now);
            let _ = writeln!(
                out,
                "Time budget: {budget}. This session's clock was already {}: {}.",
                if reading.passed { "stopped" } else { "running" },
                reading.describe()
            );
            let _ = writeln!(
                out,
                "`cargo grade start {slug} --restart` starts it again from zero."
            );
        }
    }
    let attempt = repo.display_path(&exercise.attempt_dir.join("src/lib.rs"));
    let _ = writeln!(out, "\nYour attempt: {attempt}");
    let _ = writeln!(
        out,
        "  cargo grade {slug}           grade it (every report shows the clock)"
    );
    let _ = writeln!(out, "  cargo grade watch {slug}     re-grade on every save");
    if !meta.hints.is_empty() {
        let _ = writeln!(
            out,
            "  cargo grade hint {slug}      one hint at a time ({} available)",
            meta.hints.len()
        );
    }
    out
}

/// A number without needless decimals.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Metadata;

    fn exercise(dir: &std::path::Path) -> Exercise {
        Exercise {
            slug: "retry".into(),
            meta: Metadata::parse(
                "schema = 1\ntitle = \"T\"\ntime_budget_minutes = 30\nhints = [\"a\"]\n\
                 [[criteria]]\nid = \"c\"\ntitle = \"C\"\nchecks = [\"c.one\"]\n",
            )
            .unwrap(),
            attempt_dir: dir.join("exercises/retry"),
            reference_dir: dir.join("reference-solutions/retry"),
            suite_dir: dir.join("tests/retry"),
        }
    }

    #[test]
    fn starting_twice_keeps_the_clock_and_restarting_resets_it_and_the_hints() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let exercise = exercise(dir.path());
        let Started::New(first) = start_clock(&store, &exercise, false, 100).unwrap() else {
            panic!("the first start starts a session");
        };
        assert_eq!(first.budget_secs, 1800);
        store
            .update(|s| s.exercises.get_mut("retry").unwrap().hints_used = 1)
            .unwrap();
        assert_eq!(
            start_clock(&store, &exercise, false, 500).unwrap(),
            Started::Kept(first)
        );
        let Started::New(second) = start_clock(&store, &exercise, true, 900).unwrap() else {
            panic!("--restart starts a new session");
        };
        assert_eq!(second.started_at_unix, 900);
        assert_eq!(store.load().exercises["retry"].hints_used, 0);
    }
}
