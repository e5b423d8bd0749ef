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
    /// A service an exercise needs (Redis, Kafka) could not be provided.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A practice-loop command (start, watch, hint, reset, solution) cannot do what was asked.
    #[error(transparent)]
    Practice(#[from] PracticeError),
    /// `grade mutants` cannot measure a suite (cargo-mutants missing, a bad listing, …).
    #[error(transparent)]
    Mutants(#[from] MutantsError),
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

/// Why a service an exercise declares could not be provided. Every message ends with what to
/// do about it: these stop a run before the build, so they are what a candidate sees first.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// No source could provide the service.
    #[error(
        "`{exercise}` needs {display}, and none is available:\n{}\n{fix}\n\
         `grade doctor` shows what is available.",
        bullet_list(.tried)
    )]
    Unavailable {
        /// The exercise that needs it.
        exercise: String,
        /// What it needs, with its article: "a Redis server".
        display: &'static str,
        /// Each source tried and why it could not be used, in order.
        tried: Vec<String>,
        /// How to get one, per platform (from the service's own description).
        fix: String,
    },
    /// The exercise's metadata names a service this grader does not know.
    #[error(
        "`{exercise}` needs the service `{service}`, which this grader cannot provide (it knows: {known})\n\
         hint: update grade, or fix `services` in exercises/{exercise}/exercise.toml"
    )]
    Unknown {
        /// The exercise that needs it.
        exercise: String,
        /// The name in `services = [...]`.
        service: String,
        /// The services this grader can provide, comma-separated.
        known: String,
    },
    /// A Redis URL (from `--redis-url` or `REDIS_URL`) could not be understood.
    #[error(
        "{origin} `{url}` is not a usable Redis URL: {reason}\n\
         hint: use redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], e.g. redis://127.0.0.1:6379"
    )]
    BadUrl {
        /// The URL, with any password hidden.
        url: String,
        /// Where it came from: "--redis-url" or "REDIS_URL".
        origin: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A server given by URL did not answer.
    #[error(
        "cannot reach Redis at {url} (from {origin}): {error}\n\
         hint: start that server, fix the URL, or leave out --redis-url and unset REDIS_URL to let \
         grade start a private one"
    )]
    Unreachable {
        /// The URL, with any password hidden.
        url: String,
        /// Where it came from: "--redis-url" or "REDIS_URL".
        origin: &'static str,
        /// What went wrong talking to it (not a `source`: the message already says it).
        error: RespError,
    },
    /// Kafka bootstrap servers (from `--kafka-brokers` or `KAFKA_BROKERS`) could not be
    /// understood.
    #[error(
        "{origin} `{brokers}` is not a usable list of Kafka brokers: {reason}\n\
         hint: use HOST:PORT[,HOST:PORT…], e.g. 127.0.0.1:9092"
    )]
    BadBrokers {
        /// The list as given.
        brokers: String,
        /// Where it came from: "--kafka-brokers" or "KAFKA_BROKERS".
        origin: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No broker of a list given by address answered.
    #[error(
        "no Kafka broker answers at {brokers} (from {origin}):\n{}\n\
         hint: start that broker, fix the list, or leave out --kafka-brokers and unset \
         KAFKA_BROKERS to let grade start a private one",
        bullet_list(.errors)
    )]
    BrokersUnreachable {
        /// The list as given.
        brokers: String,
        /// Where it came from: "--kafka-brokers" or "KAFKA_BROKERS".
        origin: &'static str,
        /// Each broker and what went wrong asking it.
        errors: Vec<String>,
    },
    /// grade's own Kafka broker did not build.
    #[error(
        "`{exercise}` needs a Kafka-protocol broker; grade tried to build its own with `{}` in \
         {}, and the build failed ({status}):\n{tail}\n\
         Another way to get one:\n{}",
        crate::services::locate::BROKER_BUILD_COMMAND,
        .workspace.display(),
        crate::services::kafka::OTHER_WAYS
    )]
    BrokerBuildFailed {
        /// The exercise that needs it.
        exercise: String,
        /// Where the build ran.
        workspace: PathBuf,
        /// How it ended.
        status: String,
        /// The last lines of its output (the error), indented.
        tail: String,
    },
    /// A server the grader started (binary or container) did not come up.
    #[error("cannot start {what}: {reason}\nhint: `grade doctor` shows what is available")]
    StartFailed {
        /// What was started, e.g. "redis-server (/usr/bin/redis-server)".
        what: String,
        /// Why it failed, with the server's own last words when there are any.
        reason: String,
    },
}

/// Talking RESP to a Redis server went wrong.
#[derive(Debug, Error)]
pub enum RespError {
    /// The connection failed, was closed or timed out.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server answered with an error reply.
    #[error("the server answered `{0}`")]
    Server(String),
    /// The server sent something that is not RESP, or not the reply the command implies.
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// Asking a Kafka broker for its API versions went wrong.
#[derive(Debug, Error)]
pub enum KafkaWireError {
    /// The connection failed, was closed or timed out.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Something answered, but not as a Kafka broker answers ApiVersions.
    #[error("not a Kafka answer: {0}")]
    Protocol(String),
}

/// Why a practice-loop command refused or failed. Each message says what to do instead.
#[derive(Debug, Error)]
pub enum PracticeError {
    /// A command that replaces the attempt's files needs a yes, and no one can be asked.
    #[error(
        "refusing to {action} without confirmation: standard input is not a terminal\n\
         hint: add --yes to confirm (your attempt is backed up first either way)"
    )]
    NotConfirmed {
        /// What would have happened, e.g. "reset exercises/retry to the stub".
        action: String,
    },
    /// The stub's pristine files cannot be found.
    #[error(
        "cannot find the stub of `{exercise}`: {reason}\n\
         hint: `grade reset` restores the files git tracks under exercises/{exercise}/; run it in a \
         git clone of grade, or name another revision with --from REV"
    )]
    NoStub {
        /// The exercise.
        exercise: String,
        /// What went wrong (not a git checkout, unknown revision, nothing tracked).
        reason: String,
    },
    /// `--restore ID` names no backup.
    #[error("`{exercise}` has no backup `{id}`{}\nhint: `grade reset {exercise} --list` lists them", suggestion_text(.suggestion))]
    UnknownBackup {
        /// The exercise.
        exercise: String,
        /// The ID given.
        id: String,
        /// The closest existing ID, if any is close.
        suggestion: Option<String>,
    },
    /// The reference solution is shown only after the attempt passed (or with `--force`).
    #[error(
        "the reference solution of `{exercise}` unlocks once your attempt passes ({last})\n\
         hint: `grade solution {exercise} --force` shows it now, and your progress will say you viewed it"
    )]
    SolutionLocked {
        /// The exercise.
        exercise: String,
        /// The last result, for people ("last result: fail 3/15 checks", "not graded yet").
        last: String,
    },
    /// Watching the attempt's files for changes failed.
    #[error(
        "cannot watch {path} for changes: {reason}\nhint: `grade watch --poll` looks for changes every second instead"
    )]
    Watch {
        /// The folder.
        path: PathBuf,
        /// The watcher's error.
        reason: String,
    },
    /// `git` failed while reading the stub.
    #[error("`{command}` failed: {reason}")]
    Git {
        /// The command line.
        command: String,
        /// Its error output or the OS error.
        reason: String,
    },
}

/// Why `grade mutants` cannot measure an exercise's suite. Each message says what to do.
#[derive(Debug, Error)]
pub enum MutantsError {
    /// `cargo mutants` is not installed (or does not run).
    #[error(
        "cargo-mutants is not installed ({reason})\n\
         hint: `grade mutants` lists the reference's mutants with it; install it with \
         `cargo install cargo-mutants --locked`"
    )]
    ToolMissing {
        /// What happened when `cargo mutants --version` ran.
        reason: String,
    },
    /// `cargo mutants --list` failed.
    #[error("`{command}` failed: {reason}")]
    ListFailed {
        /// The command line.
        command: String,
        /// Its error output, or the OS error.
        reason: String,
    },
    /// `cargo mutants --list --json` printed something this grader cannot read.
    #[error(
        "cannot read the mutants cargo-mutants listed: {reason}\n\
         hint: this grader reads the JSON of cargo-mutants 25 and later; update one or the other"
    )]
    BadListing {
        /// What is wrong with it.
        reason: String,
    },
    /// `tests/<slug>/equivalent-mutants.toml` is malformed.
    #[error(
        "invalid {path}: {reason}\n\
         hint: the format is described in README.md, under \"Measuring a suite with mutants\""
    )]
    Equivalents {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A mutant could not be applied to the copy of the reference.
    #[error("cannot apply the mutant `{mutant}`: {reason}")]
    Apply {
        /// The mutant's name, as cargo-mutants gives it.
        mutant: String,
        /// What went wrong.
        reason: String,
    },
    /// The unmutated reference does not pass its own suite, so no mutant can be judged.
    #[error(
        "the reference solution of `{exercise}` does not pass its suite, so no mutant can be judged:\n{}\n\
         hint: `grade {exercise} --reference` shows the full report",
        bullet_list(.problems)
    )]
    Baseline {
        /// The exercise.
        exercise: String,
        /// What failed: a build error or each failing check.
        problems: Vec<String>,
    },
}

fn bullet_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("  - {item}"))
        .collect::<Vec<_>>()
        .join("\n")
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
