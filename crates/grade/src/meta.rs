//! `exercise.toml`: one typed, versioned metadata file per exercise.
//!
//! It is read from the checkout's `exercises/<slug>/` even when another attempt is graded, so
//! a fixture or submission cannot change its own weights or time limits. Every field is
//! documented here; `grade verify` checks it against the suite.
//!
//! ```toml
//! schema = 1
//! title = "Concurrency-limited task runner with cancellation"
//! summary = "One sentence for `grade list`."
//! time_budget_minutes = 30
//! timeout_secs = 10          # per check, before --timeout-scale (default 10)
//! services = []              # e.g. ["redis"]
//! hints = ["gentle", "stronger"]
//!
//! [[criteria]]
//! id = "limit"
//! title = "Never more than `limit` tasks run at once"
//! weight = 2
//! checks = ["limit.never_exceeded", "limit.is_used"]
//!
//! [timeouts]
//! "memory.one_gib" = 180     # per-check override, seconds
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{GradeError, io};

/// The only schema version this grader reads.
pub const SCHEMA: u32 = 1;

/// An exercise's metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Schema version; must be [`SCHEMA`].
    pub schema: u32,
    /// Human title.
    pub title: String,
    /// One sentence for listings.
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "validated now; shown by the practice-loop commands"
    )]
    pub summary: String,
    /// Where the exercise sits in `grade list` (lower first); defaults to the end.
    #[serde(default = "default_order")]
    pub order: u32,
    /// The time a candidate should aim to finish in.
    pub time_budget_minutes: u32,
    /// Wall-clock limit for each check, before `--timeout-scale`.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Services the checks need (`redis`, …): provisioned once per run, before the build
    /// (see `services`), and listed by `grade doctor`.
    #[serde(default)]
    pub services: Vec<String>,
    /// Hints in increasing strength, revealed one per `grade hint`.
    #[serde(default)]
    pub hints: Vec<String>,
    /// The acceptance criteria, in README order.
    pub criteria: Vec<Criterion>,
    /// Per-check timeout overrides in seconds.
    #[serde(default)]
    pub timeouts: BTreeMap<String, f64>,
    /// An exercise still being built: its reference passes and its stub fails (`grade verify`
    /// proves both), but its suite has not yet earned trust (red-team attempts, a fixture per
    /// check, a mutants sweep). `grade list` marks it, and the fixture tests do not require it
    /// yet. Grading it works as for any other.
    #[serde(default)]
    pub draft: bool,
}

/// One acceptance criterion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Stable id, the prefix of its checks' ids.
    pub id: String,
    /// What the criterion demands, as the README states it.
    pub title: String,
    /// Points the criterion is worth, shared equally by its checks.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// The ids of the checks that evidence it, in suite order.
    pub checks: Vec<String>,
}

fn default_order() -> u32 {
    u32::MAX
}

fn default_timeout() -> f64 {
    10.0
}

fn default_weight() -> f64 {
    1.0
}

impl Metadata {
    /// Reads and validates `exercise.toml`.
    pub fn load(path: &Path) -> Result<Self, GradeError> {
        let text = std::fs::read_to_string(path).map_err(io("cannot read", path))?;
        Self::parse(&text).map_err(|reason| GradeError::Metadata {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses and validates metadata text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let meta: Self = toml::from_str(text).map_err(|error| error.to_string())?;
        meta.validate()?;
        Ok(meta)
    }

    fn validate(&self) -> Result<(), String> {
        if self.schema != SCHEMA {
            return Err(format!(
                "schema {} is not supported (this grader reads schema {SCHEMA})",
                self.schema
            ));
        }
        if self.criteria.is_empty() {
            return Err("no [[criteria]]".into());
        }
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0) {
            return Err(format!(
                "timeout_secs must be positive, not {}",
                self.timeout_secs
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for criterion in &self.criteria {
            if !seen.insert(&criterion.id) {
                return Err(format!("criterion `{}` is declared twice", criterion.id));
            }
            if !(criterion.weight.is_finite() && criterion.weight > 0.0) {
                return Err(format!(
                    "criterion `{}` needs a positive weight",
                    criterion.id
                ));
            }
            if criterion.checks.is_empty() {
                return Err(format!("criterion `{}` lists no checks", criterion.id));
            }
        }
        for (check, secs) in &self.timeouts {
            if self.criterion_of(check).is_none() {
                return Err(format!(
                    "[timeouts] names `{check}`, which no criterion lists"
                ));
            }
            if !(secs.is_finite() && *secs > 0.0) {
                return Err(format!("timeout for `{check}` must be positive"));
            }
        }
        Ok(())
    }

    /// The criterion that lists `check`.
    pub fn criterion_of(&self, check: &str) -> Option<&Criterion> {
        self.criteria
            .iter()
            .find(|c| c.checks.iter().any(|id| id == check))
    }

    /// Every check id the metadata lists, in order.
    pub fn check_ids(&self) -> impl Iterator<Item = &str> {
        self.criteria
            .iter()
            .flat_map(|c| c.checks.iter().map(String::as_str))
    }

    /// The wall-clock limit for `check`, before scaling.
    pub fn timeout_for(&self, check: &str) -> Duration {
        Duration::from_secs_f64(
            self.timeouts
                .get(check)
                .copied()
                .unwrap_or(self.timeout_secs),
        )
    }

    /// The weight of one check: its criterion's weight shared equally among its checks.
    pub fn check_weight(&self, check: &str) -> f64 {
        self.criterion_of(check)
            .map_or(0.0, |c| c.weight / c.checks.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        schema = 1
        title = "T"
        time_budget_minutes = 30
        [[criteria]]
        id = "a"
        title = "A"
        weight = 2
        checks = ["a.one", "a.two"]
        [[criteria]]
        id = "b"
        title = "B"
        checks = ["b.one"]
        [timeouts]
        "b.one" = 60
    "#;

    #[test]
    fn parses_weights_and_timeouts() {
        let meta = Metadata::parse(GOOD).unwrap();
        assert_eq!(meta.check_weight("a.one"), 1.0);
        assert_eq!(meta.check_weight("b.one"), 1.0);
        assert_eq!(meta.timeout_for("b.one"), Duration::from_secs(60));
        assert_eq!(meta.timeout_for("a.one"), Duration::from_secs(10));
        assert_eq!(meta.criterion_of("a.two").unwrap().id, "a");
    }

    #[test]
    fn rejects_inconsistent_metadata() {
        let cases = [
            (GOOD.replace("schema = 1", "schema = 2"), "schema 2"),
            (GOOD.replace("\"b.one\" = 60", "\"c.one\" = 60"), "`c.one`"),
            (GOOD.replace("id = \"b\"", "id = \"a\""), "declared twice"),
            (GOOD.replace("weight = 2", "weight = 0"), "positive weight"),
            (
                GOOD.replace("checks = [\"b.one\"]", "checks = []"),
                "lists no checks",
            ),
            (
                GOOD.replace("title = \"T\"", "title = \"T\"\ncolour = 1"),
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let error = Metadata::parse(&text).unwrap_err();
            assert!(
                error.contains(expected),
                "{error:?} should mention {expected:?}"
            );
        }
    }
}
