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
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ExerciseState {
    /// The last grading of the candidate's own attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastResult>,
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
            at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
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

    /// Applies `change` to the stored state and writes it back atomically.
    pub fn update(&self, change: impl FnOnce(&mut State)) -> Result<(), GradeError> {
        let mut state = self.load();
        state.version = VERSION;
        change(&mut state);
        let dir = self.path.parent().expect("the state file has a parent");
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let temporary = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&state).expect("state serialises");
        std::fs::write(&temporary, text).map_err(io("cannot write", &temporary))?;
        std::fs::rename(&temporary, &self.path).map_err(io("cannot write", &self.path))
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
