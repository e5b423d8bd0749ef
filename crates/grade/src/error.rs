//! Typed errors of the grader's library modules.
//!
//! Each variant is an expected way for grading to be impossible, phrased for the person at the
//! terminal. `main` adds context with `anyhow` and maps every one of them to
//! [`exit::GRADER_ERROR`](crate::exit::GRADER_ERROR); failures of the *attempt* are never
//! errors here, they are outcomes in the report.

use std::path::PathBuf;

use thiserror::Error;

/// Why the grader could not do what it was asked.
#[derive(Debug, Error)]
pub enum GradeError {
    /// No grade checkout was found above the current directory.
    #[error(
        "cannot find the grade checkout: no Cargo.toml with an `exercises/` folder above {start}\n\
         hint: run grade from inside the cloned repository, or set GRADE_ROOT"
    )]
    NoRoot {
        /// Where the search started.
        start: PathBuf,
    },
    /// The exercise named on the command line does not exist.
    #[error("unknown exercise `{name}`{}\nhint: `grade list` shows every exercise", suggestion_text(.suggestion))]
    UnknownExercise {
        /// What was typed.
        name: String,
        /// The closest existing exercise, if any is close.
        suggestion: Option<String>,
    },
    /// An exercise's metadata file is missing or malformed.
    #[error("invalid metadata in {path}: {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The attempt directory is not a usable crate.
    #[error("{path} is not an attempt crate: {reason}")]
    BadAttempt {
        /// The directory given.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A `--check` selector matched nothing.
    #[error("no check matches `{selector}`{}\nhint: check ids look like `criterion.name`; a criterion id selects all its checks", suggestion_text(.suggestion))]
    UnknownCheck {
        /// The selector given.
        selector: String,
        /// The closest check id, if any is close.
        suggestion: Option<String>,
    },
    /// `cargo` could not be started at all.
    #[error(
        "cannot run cargo ({program}): {source}\nhint: install Rust with rustup (https://rustup.rs) and make sure `cargo` is on PATH"
    )]
    NoCargo {
        /// The program tried.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The suite binary misbehaved when asked for its checks.
    #[error("the acceptance suite did not list its checks: {reason}")]
    Listing {
        /// What went wrong.
        reason: String,
    },
    /// Grading was interrupted by a signal; everything started has been stopped.
    #[error("interrupted")]
    Interrupted,
    /// An I/O error on a file the grader manages.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "cannot write".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// Shorthand for building [`GradeError::Io`] in `map_err`.
pub fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> GradeError {
    let path = path.into();
    move |source| GradeError::Io {
        action,
        path,
        source,
    }
}

/// The closest candidate to `name` by edit distance, if it is plausibly a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["task-runner", "retry", "csv-to-ndjson"];
        assert_eq!(
            did_you_mean("task-runer", names).as_deref(),
            Some("task-runner")
        );
        assert_eq!(did_you_mean("rerty", names).as_deref(), Some("retry"));
        assert_eq!(did_you_mean("kafka", names), None);
    }

    #[test]
    fn unknown_exercise_message_names_the_suggestion() {
        let error = GradeError::UnknownExercise {
            name: "retyr".into(),
            suggestion: Some("retry".into()),
        };
        assert!(
            error
                .to_string()
                .starts_with("unknown exercise `retyr`; did you mean `retry`?")
        );
    }
}
