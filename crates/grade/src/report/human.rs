//! The report for people: one line per criterion with its checks, then the details of every
//! failure (message, expected vs actual or a diff, the hint, the captured output), then the
//! score.
//!
//! It always renders with styles; the caller writes it through `anstream`, which strips them
//! for NO_COLOR, non-terminals and files. Marks are plain ASCII-compatible words next to the
//! symbols so the report reads the same without colour.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{CheckResult, Report, RunStatus};
use crate::harness::Culprit;
use crate::outcome::{CheckOutcome, human_duration};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default();

/// The first line of a build failure, by culprit.
pub fn build_headline(culprit: Culprit) -> &'static str {
    match culprit {
        Culprit::Attempt => "your attempt does not compile",
        Culprit::Suite => {
            "the acceptance suite does not compile against your attempt: did you change the public API (names, signatures, types)?"
        }
        Culprit::Cargo => "cargo could not build the attempt",
    }
}

/// Renders the report, styled.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BOLD}{}{BOLD:#} {DIM}·{DIM:#} {}",
        report.exercise, report.title
    );
    let _ = writeln!(out, "{DIM}attempt{DIM:#} {}", report.attempt);
    for service in &report.services {
        let _ = writeln!(out, "{DIM}{:<7}{DIM:#} {}", service.name, service.detail);
    }
    if let Some(note) = &report.practice {
        let style = if note.is_over() { YELLOW } else { Style::new() };
        let _ = writeln!(out, "{DIM}clock{DIM:#}   {style}{}{style:#}", note.text());
    }
    out.push('\n');

    if let Some(failure) = &report.build_failure {
        let _ = writeln!(
            out,
            "{RED}error{RED:#}{BOLD}: {}{BOLD:#}\n",
            build_headline(failure.culprit)
        );
        for diagnostic in &failure.diagnostics {
            out.push_str(diagnostic.trim_end());
            out.push_str("\n\n");
        }
        let _ = writeln!(
            out,
            "{BOLD}score 0/{}{BOLD:#} · nothing ran · {}",
            number(report.max_score),
            human_duration(report.duration)
        );
        return out;
    }

    let id_width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let criterion_width = report
        .criteria
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(0);
    for criterion in &report.criteria {
        let (mark, style) = if criterion.passed == criterion.total {
            ("PASS", GREEN)
        } else {
            ("FAIL", RED)
        };
        let _ = writeln!(
            out,
            "{style}{mark}{style:#} {BOLD}{:<criterion_width$}{BOLD:#}  {}  {DIM}{}/{}{DIM:#}",
            criterion.id,
            criterion.title,
            number(criterion.score),
            number(criterion.max_score),
        );
        for check in report.checks.iter().filter(|c| c.criterion == criterion.id) {
            let (symbol, style) = check_mark(&check.outcome);
            let status = if check.outcome.is_pass() {
                String::new()
            } else {
                format!("  {style}{}{style:#}", check.outcome.as_str())
            };
            let flaky = if check.is_flaky() {
                format!("  {YELLOW}flaky{YELLOW:#}")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "     {style}{symbol}{style:#} {:<id_width$}  {DIM}{:>6}{DIM:#}{status}{flaky}",
                check.id,
                human_duration(check.duration),
            );
        }
    }

    let failures: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| !c.outcome.is_pass())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{BOLD}Failures{BOLD:#}");
        for group in group_alike(&failures) {
            out.push('\n');
            match group.as_slice() {
                [check] => failure_details(&mut out, check),
                checks => grouped_failure_details(&mut out, checks),
            }
        }
    }

    out.push('\n');
    let percent = if report.max_score > 0.0 {
        report.score / report.max_score * 100.0
    } else {
        0.0
    };
    let style = match report.status {
        RunStatus::Pass => GREEN,
        RunStatus::Fail | RunStatus::Error => RED,
    };
    let _ = writeln!(
        out,
        "{style}score {}/{} ({percent:.0}%){style:#} · {} of {} checks passed · {}",
        number(report.score),
        number(report.max_score),
        report.passed(),
        report.checks.len(),
        human_duration(report.duration),
    );
    out
}

fn check_mark(outcome: &CheckOutcome) -> (&'static str, Style) {
    match outcome {
        CheckOutcome::Pass => ("✓", GREEN),
        CheckOutcome::Fail(_) => ("✗", RED),
        CheckOutcome::Timeout { .. } | CheckOutcome::OutOfMemory { .. } => ("⧗", YELLOW),
        CheckOutcome::Crashed(_) => ("☠", RED),
    }
}

/// Failures that read the same, in order of first appearance. A stub's `todo!()` reached from
/// every check, or one missing function behind many checks, is one mistake: shown once, naming
/// the checks it hit, it stays on screen instead of scrolling the rest away. Flaky checks stay
/// apart: their runs differ by definition.
fn group_alike<'a>(failures: &[&'a CheckResult]) -> Vec<Vec<&'a CheckResult>> {
    let mut groups: Vec<Vec<&CheckResult>> = Vec::new();
    for &check in failures {
        let alike = groups
            .iter_mut()
            .find(|group| reads_the_same(group[0], check));
        match alike {
            Some(group) => group.push(check),
            None => groups.push(vec![check]),
        }
    }
    groups
}

/// Whether two failures say the same thing (status, message, expected, actual, diff); a flaky
/// check says something of its own.
fn reads_the_same(a: &CheckResult, b: &CheckResult) -> bool {
    let details = |check: &CheckResult| match &check.outcome {
        CheckOutcome::Fail(failure) => (
            failure.expected.clone(),
            failure.actual.clone(),
            failure.diff.clone(),
        ),
        _ => (None, None, None),
    };
    !a.is_flaky()
        && !b.is_flaky()
        && a.outcome.as_str() == b.outcome.as_str()
        && a.outcome.summary() == b.outcome.summary()
        && details(a) == details(b)
}

/// One entry for several checks that failed alike: every id, then the shared details; the hint
/// and the output only when they are the same for all (else `--check ID` shows each).
fn grouped_failure_details(out: &mut String, checks: &[&CheckResult]) {
    let first = checks[0];
    let (symbol, style) = check_mark(&first.outcome);
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    let _ = writeln!(
        out,
        "{style}{symbol} {} checks failed alike:{style:#} {}",
        checks.len(),
        ids.join(", ")
    );
    let same_hint = checks
        .iter()
        .all(|c| c.effective_hint() == first.effective_hint());
    let same_output = checks.iter().all(|c| c.output == first.output);
    failure_body(out, first, same_hint, same_output);
    if !same_hint {
        let _ = writeln!(
            out,
            "  {CYAN}hint{CYAN:#}: each check has its own: `--check ID` shows one in full"
        );
    }
}

fn failure_details(out: &mut String, check: &CheckResult) {
    let (symbol, style) = check_mark(&check.outcome);
    let _ = writeln!(
        out,
        "{style}{symbol} {}{style:#} {DIM}— {}{DIM:#}",
        check.id, check.description
    );
    failure_body(out, check, true, true);
}

/// The message, expected vs actual or the diff, flakiness, and (when asked) hint and output.
fn failure_body(out: &mut String, check: &CheckResult, hint: bool, output: bool) {
    // Messages may span lines (a failure naming its input, say): keep them all indented.
    for line in check.outcome.summary().lines() {
        let _ = writeln!(out, "  {line}");
    }
    if let CheckOutcome::Fail(failure) = &check.outcome {
        if let Some(diff) = &failure.diff {
            let _ = writeln!(out, "  {DIM}diff (- expected, + actual):{DIM:#}");
            for line in diff.lines() {
                let style = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => GREEN,
                    Some('-') if !line.starts_with("---") => RED,
                    Some('@') => CYAN,
                    _ => Style::new(),
                };
                let _ = writeln!(out, "    {style}{line}{style:#}");
            }
        } else {
            labelled_block(out, "expected", failure.expected.as_deref());
            labelled_block(out, "actual", failure.actual.as_deref());
        }
    }
    if check.is_flaky() {
        let passes = check.runs.iter().filter(|r| **r == "pass").count();
        let _ = writeln!(
            out,
            "  {YELLOW}flaky{YELLOW:#}: passed {passes} of {} runs ({})",
            check.runs.len(),
            check.runs.join(", ")
        );
    }
    if let Some(hint) = check.effective_hint().filter(|_| hint) {
        let _ = writeln!(out, "  {CYAN}hint{CYAN:#}: {hint}");
    }
    if output && !check.output.trim().is_empty() {
        let _ = writeln!(out, "  {DIM}output:{DIM:#}");
        for line in check.output.trim_end().lines() {
            let _ = writeln!(out, "    {DIM}|{DIM:#} {line}");
        }
    }
}

/// `expected: value`, or the label on its own line and an indented block for multi-line values.
fn labelled_block(out: &mut String, label: &str, value: Option<&str>) {
    let Some(value) = value else { return };
    if value.contains('\n') {
        let _ = writeln!(out, "  {BOLD}{label}:{BOLD:#}");
        for line in value.lines() {
            let _ = writeln!(out, "    {line}");
        }
    } else {
        let _ = writeln!(
            out,
            "  {BOLD}{label}:{BOLD:#} {}{value}",
            " ".repeat(8 - label.len())
        );
    }
}

/// A score without needless decimals: `2`, `1.5`, `0.33`.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(id: &str, message: &str, hint: &str) -> CheckResult {
        CheckResult {
            id: id.to_owned(),
            criterion: "c".to_owned(),
            description: format!("{id} works"),
            outcome: CheckOutcome::Fail(grade_protocol::Failure::new(message)),
            hint: Some(hint.to_owned()),
            weight: 1.0,
            duration: std::time::Duration::ZERO,
            output: String::new(),
            runs: Vec::new(),
        }
    }

    #[test]
    fn failures_that_read_the_same_are_grouped_in_order() {
        let checks = [
            failed("a.one", "not yet implemented", "hint a"),
            failed("a.two", "wrong answer", "hint b"),
            failed("a.three", "not yet implemented", "hint c"),
        ];
        let refs: Vec<&CheckResult> = checks.iter().collect();
        let groups = group_alike(&refs);
        let ids: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|c| c.id.as_str()).collect())
            .collect();
        assert_eq!(ids, vec![vec!["a.one", "a.three"], vec!["a.two"]]);

        let mut out = String::new();
        grouped_failure_details(&mut out, &groups[0]);
        let plain = anstream::adapter::strip_str(&out).to_string();
        assert!(
            plain.starts_with("✗ 2 checks failed alike: a.one, a.three\n  not yet implemented\n"),
            "{plain}"
        );
        assert!(plain.contains("each check has its own"), "{plain}");
        assert!(!plain.contains("hint a"), "{plain}");
    }

    #[test]
    fn a_shared_hint_is_shown_once_for_the_group() {
        let checks = [
            failed("a.one", "same", "the hint"),
            failed("a.two", "same", "the hint"),
        ];
        let refs: Vec<&CheckResult> = checks.iter().collect();
        let mut out = String::new();
        grouped_failure_details(&mut out, &refs);
        let plain = anstream::adapter::strip_str(&out).to_string();
        assert_eq!(plain.matches("the hint").count(), 1, "{plain}");
    }

    #[test]
    fn numbers_drop_needless_decimals() {
        assert_eq!(number(2.0), "2");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(1.0 / 3.0), "0.33");
        assert_eq!(number(0.0), "0");
    }
}
