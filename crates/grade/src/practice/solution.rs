//! `grade solution`: the reference solution's source, once the attempt has passed.
//!
//! Reading the reference first turns an exercise into a reading exercise, so it is locked
//! until the last grading of the attempt passed. `--force` opens it anyway and records when,
//! once and for good: `grade list` and every later report say the solution was viewed.

use std::fmt::Write as _;
use std::path::PathBuf;

use anstyle::Style;
use anyhow::{Context, Result};

use super::args::SolutionArgs;
use super::{clock, exercise_state, files};
use crate::cli::ColorChoice;
use crate::error::{GradeError, PracticeError};
use crate::repo::Repo;
use crate::state::Store;

const BOLD: Style = Style::new().bold();

/// Runs `grade solution`.
pub fn run(repo: &Repo, args: &SolutionArgs, color: ColorChoice) -> Result<i32> {
    let exercise = repo.exercise(&args.exercise)?;
    let slug = &exercise.slug;
    let store = Store::new(&repo.state_dir());
    let state = exercise_state(&store, slug);
    let passed = state
        .last
        .as_ref()
        .is_some_and(|last| last.status == "pass");
    if !passed {
        if !args.force {
            let last = state.last.as_ref().map_or_else(
                || "not graded yet".to_owned(),
                |last| {
                    format!(
                        "last result: {} {}/{} checks",
                        last.status, last.passed, last.total
                    )
                },
            );
            return Err(GradeError::from(PracticeError::SolutionLocked {
                exercise: slug.clone(),
                last,
            })
            .into());
        }
        let now = clock::now_unix();
        store
            .update(|state| {
                let entry = state.exercises.entry(slug.clone()).or_default();
                entry.solution_viewed_at_unix.get_or_insert(now);
            })
            .context("cannot record that you viewed the solution")?;
    }

    let src = exercise.reference_dir.join("src");
    let mut sources: Vec<PathBuf> = files::walk(&src)?
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    // lib.rs first: it is where the API is, and it says where the rest lives.
    sources.sort_by_key(|path| (path != &PathBuf::from("lib.rs"), path.clone()));
    let mut out = String::new();
    for relative in &sources {
        let path = src.join(relative);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let _ = writeln!(out, "{BOLD}── {} ──{BOLD:#}\n", repo.display_path(&path));
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
    if !passed {
        let _ = writeln!(
            out,
            "(Viewed before your attempt passed: your progress and reports say so.)"
        );
    }
    crate::app::write_report(&out, None, color)?;
    Ok(crate::exit::SUCCESS)
}
