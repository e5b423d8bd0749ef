//! The candidate's progress, kept in `.grade/state.json` at the checkout's root.
//!
//! It lives outside `exercises/` (the grader never writes there) and outside `target/` (so
//! `cargo clean` keeps it). Writes go to a temporary file renamed into place, so an interrupted
//! run never leaves a half-written state behind. An unreadable state file is set aside (renamed
//! with a `.corrupt` suffix) rather than overwritten, and grading goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{GradeError, io};
use crate::report::Report;

/// The state file's schema version.
const VERSION: u32 = 1;

/// Everything the grader remembers about the candidate.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Schema version.
    #[serde(default)]
    pub version: u32,
    /// Per exercise slug.
    #[serde(default)]
    pub exercises: BTreeMap<String, ExerciseState>,
}

/// What is remembered about one exercise.
///
/// Every field but `last` belongs to the practice loop (`grade start`, `hint`, `solution`; see
/// `practice/`). All are optional with defaults, so older state files still read.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ExerciseState {
    /// The last grading of the candidate's own attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastResult>,
    /// The current (or last) timed session, from `grade start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// Hints revealed by `grade hint` (since the last `grade start --restart`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hints_used: u32,
    /// When the reference solution was first shown before the attempt passed
    /// (`grade solution --force`), in seconds since the Unix epoch. Never cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_viewed_at_unix: Option<u64>,
    /// The fastest session that ended in a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<BestRun>,
}

/// A timed practice session: `grade start` starts the clock, the first passing grade stops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// When the clock started, in seconds since the Unix epoch.
    pub started_at_unix: u64,
    /// The exercise's time budget when the session started, in seconds.
    pub budget_secs: u64,
    /// When the attempt first passed in this session (the clock stops there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_at_unix: Option<u64>,
    /// Whether that pass came within the budget; `None` until it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_within_budget: Option<bool>,
}

/// The fastest passing session of an exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BestRun {
    /// Seconds from `grade start` to the first passing grade.
    pub secs: u64,
    /// Whether that was within the budget.
    pub within_budget: bool,
    /// Hints used by then.
    pub hints_used: u32,
    /// Whether the solution had been viewed by then.
    pub solution_viewed: bool,
    /// When it passed, in seconds since the Unix epoch.
    pub at_unix: u64,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A summary of one grading run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastResult {
    /// `pass`, `fail` or `error`.
    pub status: String,
    /// Points earned.
    pub score: f64,
    /// Points available.
    pub max_score: f64,
    /// Checks passed.
    pub passed: usize,
    /// Checks run.
    pub total: usize,
    /// When, in seconds since the Unix epoch.
    pub at_unix: u64,
}

impl LastResult {
    /// Summarises a report.
    pub fn from_report(report: &Report) -> Self {
        Self {
            status: report.status.as_str().to_owned(),
            score: report.score,
            max_score: report.max_score,
            passed: report.passed(),
            total: report.checks.len(),
            at_unix: crate::practice::clock::now_unix(),
        }
    }
}

/// The state file of a checkout.
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The store under `state_dir` (`.grade/`).
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join("state.json"),
        }
    }

    /// Reads the state; a missing file is an empty state, a corrupt one is set aside.
    pub fn load(&self) -> State {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return State::default();
        };
        match serde_json::from_str(&text) {
            Ok(state) => state,
            Err(error) => {
                let aside = self.path.with_extension("json.corrupt");
                eprintln!(
                    "warning: {} is unreadable ({error}); moved it to {}",
                    self.path.display(),
                    aside.display()
                );
                let _ = std::fs::rename(&self.path, aside);
                State::default()
            }
        }
    }

    /// Applies `change` to the stored state and writes it back atomically; returns what
    /// `change` returned.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T, GradeError> {
        let mut state = self.load();
        state.version = VERSION;
        let value = change(&mut state);
        let dir = self.path.parent().expect("the state file has a parent");
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let temporary = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&state).expect("state serialises");
        std::fs::write(&temporary, text).map_err(io("cannot write", &temporary))?;
        std::fs::rename(&temporary, &self.path).map_err(io("cannot write", &self.path))?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_survive_a_reload_and_corruption_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.load().exercises.is_empty());
        store
            .update(|state| {
                state.exercises.entry("retry".into()).or_default().last = Some(LastResult {
                    status: "pass".into(),
                    score: 10.0,
                    max_score: 10.0,
                    passed: 7,
                    total: 7,
                    at_unix: 1,
                });
            })
            .unwrap();
        assert_eq!(
            store.load().exercises["retry"]
                .last
                .as_ref()
                .unwrap()
                .passed,
            7
        );

        std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
        assert!(store.load().exercises.is_empty());
        assert!(dir.path().join("state.json.corrupt").is_file());
    }
}
