//! JUnit XML, as nextest writes it (through `quick-junit`), for GitHub and GitLab test reports.
//!
//! One test suite per exercise, one test case per check (`classname` is the criterion).
//! A failed assertion is a JUnit *failure*; a timeout, crash or memory kill is an *error*,
//! because the check could not finish, not because it disagreed.

use quick_junit::{NonSuccessKind, Report as JUnitReport, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::outcome::CheckOutcome;

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut junit = JUnitReport::new("grade");
    let mut suite = TestSuite::new(report.exercise.as_str());
    suite.set_time(report.duration);
    if let Some(failure) = &report.build_failure {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(super::human::build_headline(failure.culprit));
        status.set_type("build");
        status.set_description(failure.diagnostics.join("\n"));
        let mut case = TestCase::new("build", status);
        case.set_classname(report.exercise.as_str());
        suite.add_test_case(case);
    }
    for check in &report.checks {
        let status = match &check.outcome {
            CheckOutcome::Pass => TestCaseStatus::success(),
            outcome => {
                let kind = if matches!(outcome, CheckOutcome::Fail(_)) {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut status = TestCaseStatus::non_success(kind);
                status.set_message(outcome.summary());
                status.set_type(outcome.as_str());
                let mut description = Vec::new();
                if let CheckOutcome::Fail(failure) = outcome {
                    if let Some(diff) = &failure.diff {
                        description.push(diff.clone());
                    } else {
                        if let Some(expected) = &failure.expected {
                            description.push(format!("expected: {expected}"));
                        }
                        if let Some(actual) = &failure.actual {
                            description.push(format!("actual: {actual}"));
                        }
                    }
                }
                if let Some(hint) = check.effective_hint() {
                    description.push(format!("hint: {hint}"));
                }
                if !description.is_empty() {
                    status.set_description(description.join("\n"));
                }
                status
            }
        };
        let mut case = TestCase::new(check.id.as_str(), status);
        case.set_classname(format!("{}.{}", report.exercise, check.criterion));
        case.set_time(check.duration);
        if !check.outcome.is_pass() && !check.output.is_empty() {
            case.set_system_out(check.output.as_str());
        }
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);
    junit.to_string().expect("JUnit reports serialise")
}
