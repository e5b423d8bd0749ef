//! The check protocol: how the `grade` CLI talks to an acceptance-suite binary.
//!
//! A suite is an ordinary executable built against the candidate's attempt. The grader never
//! links candidate code into its own process; it re-executes the suite binary once per check so
//! that a check which loops, deadlocks, aborts or eats memory takes down only its own process
//! group. The conversation is deliberately tiny:
//!
//! 1. `suite --grade-list` prints a [`Listing`] as JSON on stdout: every check the suite knows,
//!    in suite order, with the acceptance criterion it belongs to.
//! 2. `suite --grade-run <ID>` runs one check. The verdict is written as JSON ([`Verdict`]) to
//!    the file named by [`ENV_RESULT_FILE`], not to stdout: candidate code may print anything
//!    to stdout/stderr, and those streams are captured for the report as they are.
//!
//! A check process that dies without writing a verdict (signal, abort, stack overflow, killed
//! for time or memory) is classified by the grader from its exit status; that classification
//! lives in the grader, not here.
//!
//! Both sides depend on this crate, so the types cannot drift apart.

use serde::{Deserialize, Serialize};

/// The protocol version; bumped on any incompatible change to the types below.
pub const PROTOCOL_VERSION: u32 = 1;

/// Flag that asks a suite binary to print its [`Listing`].
pub const LIST_FLAG: &str = "--grade-list";

/// Flag that asks a suite binary to run the check whose id follows.
pub const RUN_FLAG: &str = "--grade-run";

/// Environment variable naming the file the check process writes its [`Verdict`] to.
pub const ENV_RESULT_FILE: &str = "GRADE_RESULT_FILE";

/// Environment variable naming a private scratch directory for the check, removed afterwards.
pub const ENV_SCRATCH_DIR: &str = "GRADE_SCRATCH_DIR";

/// Environment variable carrying the grader's `--timeout-scale`, for checks that wait on real
/// time (a child process, a socket) and must stretch their own waits to match.
pub const ENV_TIMEOUT_SCALE: &str = "GRADE_TIMEOUT_SCALE";

/// Environment variable with the memory cap in bytes; the suite applies it to itself as an
/// address-space limit backstop (the grader also watches resident memory from outside).
pub const ENV_MEMORY_LIMIT: &str = "GRADE_MEMORY_LIMIT";

/// Environment variable with the URL of the Redis server the grader provisioned for this run
/// (`redis://127.0.0.1:PORT` for a server it started, or the URL given with `--redis-url` or
/// `REDIS_URL`), set only for exercises whose metadata lists `redis`.
pub const ENV_REDIS_URL: &str = "GRADE_REDIS_URL";

/// Environment variable with the Kafka bootstrap servers the grader provisioned for this run,
/// comma-separated `HOST:PORT`s (`127.0.0.1:PORT` for a broker it started, or the list given
/// with `--kafka-brokers` or `KAFKA_BROKERS`), set only for exercises whose metadata lists
/// `kafka`. The grader creates and deletes no topic: checks share the broker (and it may be the
/// user's own), so each check names its topics from [`ENV_KEY_PREFIX`] and deletes them itself.
pub const ENV_KAFKA_BROKERS: &str = "GRADE_KAFKA_BROKERS";

/// Environment variable with a key prefix unique to this check run
/// (`grade:<run>:<check>:<repeat>:`), set for exercises that need any service. Checks running
/// in parallel share one server, so every key a check (or the attempt it drives) creates must
/// start with it; the grader deletes keys under the run's prefix afterwards and never flushes a
/// server it did not start. Kafka topics are named from it too (`:` is not allowed in a topic
/// name: grade-kit's `topic_prefix` turns it into `.`).
pub const ENV_KEY_PREFIX: &str = "GRADE_KEY_PREFIX";

/// What `--grade-list` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Always [`PROTOCOL_VERSION`] of the suite that printed it.
    pub protocol: u32,
    /// Every check, in suite order.
    pub checks: Vec<CheckInfo>,
}

/// One check as the suite declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInfo {
    /// Stable id, `criterion.name` by convention, e.g. `order.matches_input`.
    pub id: String,
    /// Id of the acceptance criterion (from the exercise metadata) this check evidences.
    pub criterion: String,
    /// One sentence saying what the check establishes, shown in reports.
    pub description: String,
    /// Shown when the check fails and its failure carries no more specific hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What a check process reports about itself, written to [`ENV_RESULT_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Every assertion held.
    Pass,
    /// An assertion failed: the attempt is wrong in the way the failure describes.
    Fail(Failure),
    /// The attempt panicked (outside the suite's own assertions), e.g. `todo!()`.
    Panicked {
        /// The panic payload, when it was a string.
        message: String,
        /// `file:line:col` where it panicked, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
    },
}

/// A failed assertion, phrased for the candidate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What is wrong, in one or two sentences.
    pub message: String,
    /// The value the suite expected, rendered for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The value the attempt produced, rendered for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// A unified diff of expected vs actual, for text comparisons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// How to go about fixing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with only a message; add detail with the `with_*` methods.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }

    /// Records the value the suite expected.
    pub fn with_expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Records the value the attempt produced.
    pub fn with_actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }

    /// Attaches a unified diff of expected vs actual.
    pub fn with_diff(mut self, diff: impl Into<String>) -> Self {
        self.diff = Some(diff.into());
        self
    }

    /// Attaches a hint, replacing any earlier one.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl Verdict {
    /// Serialises the verdict as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a verdict always serialises")
    }

    /// Parses a verdict written by a check process.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_through_json() {
        let verdicts = [
            Verdict::Pass,
            Verdict::Fail(Failure {
                message: "wrong order".into(),
                expected: Some("[1, 2]".into()),
                actual: Some("[2, 1]".into()),
                diff: None,
                hint: Some("collect by index".into()),
            }),
            Verdict::Panicked {
                message: "not yet implemented".into(),
                location: None,
            },
        ];
        for verdict in verdicts {
            assert_eq!(Verdict::from_json(&verdict.to_json()).unwrap(), verdict);
        }
    }

    #[test]
    fn verdict_json_is_tagged_by_status() {
        assert_eq!(Verdict::Pass.to_json(), r#"{"status":"pass"}"#);
        let fail = Verdict::Fail(Failure {
            message: "m".into(),
            ..Failure::default()
        })
        .to_json();
        assert_eq!(fail, r#"{"status":"fail","message":"m"}"#);
    }
}
