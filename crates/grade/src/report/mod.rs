//! The report: what a grading run found, independent of how it is shown.
//!
//! The runner produces check records; [`Report`] joins them with the exercise's metadata
//! (criteria, weights) and computes scores. The renderers ([`human`], [`json`], [`junit`])
//! only format a finished report: none of them decides anything about the run.

pub mod human;
pub mod json;
pub mod junit;

use std::time::Duration;

use crate::harness::BuildFailure;
use crate::outcome::CheckOutcome;
use crate::repo::Exercise;

/// The overall status, as exercism's test runners report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every check that ran passed.
    Pass,
    /// Some check did not pass.
    Fail,
    /// Nothing could run: the attempt did not build, or no check was selected.
    Error,
}

impl RunStatus {
    /// The stable machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// A finished grading run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Exercise slug.
    pub exercise: String,
    /// Exercise title.
    pub title: String,
    /// The attempt graded, as a path relative to the checkout when inside it.
    pub attempt: String,
    /// Overall status.
    pub status: RunStatus,
    /// Weighted points earned.
    pub score: f64,
    /// Weighted points available over the checks that ran.
    pub max_score: f64,
    /// Wall time of the whole run, build included.
    pub duration: Duration,
    /// Why nothing ran, when the build failed.
    pub build_failure: Option<BuildFailure>,
    /// Per criterion, in metadata order (only criteria with checks that ran).
    pub criteria: Vec<CriterionResult>,
    /// Per check, in suite order.
    pub checks: Vec<CheckResult>,
    /// The services the run provisioned and where each came from (empty when none).
    pub services: Vec<ServiceUse>,
    /// The practice clock, hints and solution views, for the candidate's own attempt.
    pub practice: Option<crate::practice::clock::Note>,
}

/// A service a run used, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUse {
    /// The service, as `exercise.toml` names it (`redis`).
    pub name: String,
    /// The stable name of its source: `url`, `binary` or `docker`.
    pub source: &'static str,
    /// For people: version, address, whether the grader started it.
    pub detail: String,
}

/// One criterion's score.
#[derive(Debug, Clone)]
pub struct CriterionResult {
    /// Criterion id.
    pub id: String,
    /// Criterion title.
    pub title: String,
    /// Points earned.
    pub score: f64,
    /// Points available (over the checks that ran).
    pub max_score: f64,
    /// Checks that passed.
    pub passed: usize,
    /// Checks that ran.
    pub total: usize,
}

/// One check's result.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// Check id.
    pub id: String,
    /// Criterion id.
    pub criterion: String,
    /// What the check establishes.
    pub description: String,
    /// How it ended (for `--repeat`, the first run that did not pass, else a pass).
    pub outcome: CheckOutcome,
    /// The suite's general hint for this check, used when the failure has none.
    pub hint: Option<String>,
    /// Points this check is worth.
    pub weight: f64,
    /// Wall time (the slowest run under `--repeat`).
    pub duration: Duration,
    /// Captured stdout and stderr of the (first failing) run, bounded.
    pub output: String,
    /// The outcome of each run, when the check ran more than once.
    pub runs: Vec<&'static str>,
}

impl CheckResult {
    /// Whether repeated runs disagreed.
    pub fn is_flaky(&self) -> bool {
        self.runs.contains(&"pass") && self.runs.iter().any(|run| *run != "pass")
    }

    /// The hint to show: the failure's own, else the check's.
    pub fn effective_hint(&self) -> Option<&str> {
        match &self.outcome {
            CheckOutcome::Fail(failure) if failure.hint.is_some() => failure.hint.as_deref(),
            _ => self.hint.as_deref(),
        }
    }

    /// Points earned.
    pub fn score(&self) -> f64 {
        if self.outcome.is_pass() {
            self.weight
        } else {
            0.0
        }
    }
}

impl Report {
    /// A report for a run whose checks ran.
    pub fn from_checks(
        exercise: &Exercise,
        attempt: String,
        checks: Vec<CheckResult>,
        duration: Duration,
    ) -> Self {
        let criteria: Vec<CriterionResult> = exercise
            .meta
            .criteria
            .iter()
            .filter_map(|criterion| {
                let own: Vec<&CheckResult> = checks
                    .iter()
                    .filter(|c| c.criterion == criterion.id)
                    .collect();
                (!own.is_empty()).then(|| CriterionResult {
                    id: criterion.id.clone(),
                    title: criterion.title.clone(),
                    score: own.iter().map(|c| c.score()).sum(),
                    max_score: own.iter().map(|c| c.weight).sum(),
                    passed: own.iter().filter(|c| c.outcome.is_pass()).count(),
                    total: own.len(),
                })
            })
            .collect();
        let status = if checks.is_empty() {
            RunStatus::Error
        } else if checks.iter().all(|c| c.outcome.is_pass()) {
            RunStatus::Pass
        } else {
            RunStatus::Fail
        };
        Self {
            exercise: exercise.slug.clone(),
            title: exercise.meta.title.clone(),
            attempt,
            status,
            score: round2(checks.iter().map(CheckResult::score).sum()),
            max_score: round2(checks.iter().map(|c| c.weight).sum()),
            duration,
            build_failure: None,
            criteria,
            checks,
            services: Vec::new(),
            practice: None,
        }
    }

    /// A report for an attempt that did not build.
    pub fn build_failed(
        exercise: &Exercise,
        attempt: String,
        failure: BuildFailure,
        duration: Duration,
    ) -> Self {
        let max_score = exercise.meta.criteria.iter().map(|c| c.weight).sum();
        Self {
            exercise: exercise.slug.clone(),
            title: exercise.meta.title.clone(),
            attempt,
            status: RunStatus::Error,
            score: 0.0,
            max_score: round2(max_score),
            duration,
            build_failure: Some(failure),
            criteria: Vec::new(),
            checks: Vec::new(),
            services: Vec::new(),
            practice: None,
        }
    }

    /// Checks that passed.
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.outcome.is_pass()).count()
    }
}

/// Rounds a score to two decimals, so reports never show `6.999999`.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
