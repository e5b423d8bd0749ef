//! The JSON report: a documented, versioned schema for scripts and CI.
//!
//! The schema is `crates/grade/schema/report.v1.json` (JSON Schema draft 2020-12); the
//! end-to-end tests validate real output against it. Field names follow exercism's test-runner
//! results (`status`, `message`, `tests` → `checks`) and Gradescope's (`score`, `max_score`).
//! Additions are backwards compatible; anything else bumps `schema_version`.

use serde::Serialize;

use super::{CheckResult, Report};
use crate::harness::Culprit;
use crate::outcome::CheckOutcome;

/// The schema version written in every report.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    exercise: &'a str,
    title: &'a str,
    attempt: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    score: f64,
    max_score: f64,
    duration_ms: u128,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    services: Vec<JsonService<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    build: Option<JsonBuild<'a>>,
    criteria: Vec<JsonCriterion<'a>>,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(Serialize)]
struct JsonService<'a> {
    name: &'a str,
    source: &'static str,
    detail: &'a str,
}

#[derive(Serialize)]
struct JsonBuild<'a> {
    culprit: &'static str,
    diagnostics: &'a [String],
}

#[derive(Serialize)]
struct JsonCriterion<'a> {
    id: &'a str,
    title: &'a str,
    status: &'static str,
    score: f64,
    max_score: f64,
    passed: usize,
    total: usize,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    id: &'a str,
    criterion: &'a str,
    description: &'a str,
    status: &'static str,
    message: Option<String>,
    expected: Option<&'a str>,
    actual: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    output: Option<&'a str>,
    duration_ms: u128,
    weight: f64,
    score: f64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    runs: &'a [&'static str],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    flaky: bool,
}

/// Renders the report as pretty-printed JSON, newline-terminated.
pub fn render(report: &Report) -> String {
    let json = JsonReport {
        schema_version: SCHEMA_VERSION,
        exercise: &report.exercise,
        title: &report.title,
        attempt: &report.attempt,
        status: report.status.as_str(),
        message: report
            .build_failure
            .as_ref()
            .map(|failure| super::human::build_headline(failure.culprit).to_owned()),
        score: report.score,
        max_score: report.max_score,
        duration_ms: report.duration.as_millis(),
        services: report
            .services
            .iter()
            .map(|s| JsonService {
                name: &s.name,
                source: s.source,
                detail: &s.detail,
            })
            .collect(),
        build: report.build_failure.as_ref().map(|failure| JsonBuild {
            culprit: match failure.culprit {
                Culprit::Attempt => "attempt",
                Culprit::Suite => "suite",
                Culprit::Cargo => "cargo",
            },
            diagnostics: &failure.diagnostics,
        }),
        criteria: report
            .criteria
            .iter()
            .map(|c| JsonCriterion {
                id: &c.id,
                title: &c.title,
                status: if c.passed == c.total { "pass" } else { "fail" },
                score: c.score,
                max_score: c.max_score,
                passed: c.passed,
                total: c.total,
            })
            .collect(),
        checks: report.checks.iter().map(check).collect(),
    };
    let mut text = serde_json::to_string_pretty(&json).expect("reports serialise");
    text.push('\n');
    text
}

fn check(result: &CheckResult) -> JsonCheck<'_> {
    let failure = match &result.outcome {
        CheckOutcome::Fail(failure) => Some(failure),
        _ => None,
    };
    JsonCheck {
        id: &result.id,
        criterion: &result.criterion,
        description: &result.description,
        status: result.outcome.as_str(),
        message: (!result.outcome.is_pass()).then(|| result.outcome.summary()),
        expected: failure.and_then(|f| f.expected.as_deref()),
        actual: failure.and_then(|f| f.actual.as_deref()),
        diff: failure.and_then(|f| f.diff.as_deref()),
        hint: if result.outcome.is_pass() {
            None
        } else {
            result.effective_hint()
        },
        output: (!result.outcome.is_pass() && !result.output.is_empty())
            .then_some(result.output.as_str()),
        duration_ms: result.duration.as_millis(),
        weight: result.weight,
        score: result.score(),
        runs: &result.runs,
        flaky: result.is_flaky(),
    }
}
