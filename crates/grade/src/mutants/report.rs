//! What a sweep found, and its two renderings: for people (counts, then every unexplained
//! survivor with its diff and what to do about it) and JSON (versioned, for CI and for the
//! record a full sweep leaves in `tests/<exercise>/mutants.json`).
//!
//! Like the grading report, the human text always carries styles; it is written through
//! `anstream`, which strips them for NO_COLOR, pipes and files.

use std::fmt::Write as _;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::mutants::equivalent::Entry;
use crate::mutants::listing::Mutant;
use crate::mutants::sweep::FailingCheck;
use crate::outcome::human_duration;

/// The schema version written in every JSON report.
pub const SCHEMA_VERSION: u32 = 1;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default();

/// How the suite fared against one mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Some check failed, timed out, crashed or ran out of memory.
    Caught,
    /// Every check passed, and `equivalent-mutants.toml` explains why none can fail.
    Equivalent,
    /// Every check passed, unexplained: a gap in the suite (or an undocumented equivalent).
    Survived,
    /// The mutant did not build, so it says nothing about the suite.
    Unviable,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Self; 4] = [
        Self::Caught,
        Self::Equivalent,
        Self::Survived,
        Self::Unviable,
    ];

    /// The stable machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caught => "caught",
            Self::Equivalent => "equivalent",
            Self::Survived => "survived",
            Self::Unviable => "unviable",
        }
    }

    /// Its colour in progress lines and the report.
    pub fn style(self) -> Style {
        match self {
            Self::Caught => GREEN,
            Self::Equivalent => CYAN,
            Self::Survived => RED,
            Self::Unviable => DIM,
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Self::Caught => "a check failed",
            Self::Equivalent => "every check passed; explained in equivalent-mutants.toml",
            Self::Survived => "every check passed, unexplained",
            Self::Unviable => "did not build",
        }
    }
}

/// One graded mutant.
#[derive(Debug, Clone)]
pub struct MutantResult {
    /// The mutant as cargo-mutants listed it.
    pub mutant: Mutant,
    /// The verdict.
    pub status: Status,
    /// For a caught mutant: the checks that noticed.
    pub failing: Vec<FailingCheck>,
    /// For an equivalent mutant: the entry's `why`.
    pub why: Option<String>,
    /// For an unviable mutant: the compiler's first error.
    pub build_error: Option<String>,
    /// For a survivor: the entry that would explain it, if it is an equivalent.
    pub suggestion: Option<Entry>,
    /// Wall time of its grading.
    pub duration: Duration,
}

/// How many mutants ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Graded mutants.
    pub total: usize,
    /// See [`Status::Caught`].
    pub caught: usize,
    /// See [`Status::Equivalent`].
    pub equivalent: usize,
    /// See [`Status::Survived`].
    pub survived: usize,
    /// See [`Status::Unviable`].
    pub unviable: usize,
}

impl Counts {
    /// Counts `results` by status.
    pub fn of(results: &[MutantResult]) -> Self {
        let mut counts = Self::default();
        for result in results {
            counts.total += 1;
            *counts.get_mut(result.status) += 1;
        }
        counts
    }

    fn get_mut(&mut self, status: Status) -> &mut usize {
        match status {
            Status::Caught => &mut self.caught,
            Status::Equivalent => &mut self.equivalent,
            Status::Survived => &mut self.survived,
            Status::Unviable => &mut self.unviable,
        }
    }

    /// How many ended as `status`.
    pub fn get(mut self, status: Status) -> usize {
        *self.get_mut(status)
    }
}

/// An equivalent-mutants entry that fits several mutants.
#[derive(Debug, Clone, Serialize)]
pub struct Ambiguous {
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// The names of the mutants it fits.
    pub mutants: Vec<String>,
}

/// A finished sweep.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// The exercise.
    pub exercise: String,
    /// The reference crate, relative to the checkout.
    pub reference: String,
    /// The equivalents file, relative to the checkout.
    pub equivalents_file: String,
    /// `cargo mutants --version`.
    pub tool: String,
    /// The `--in-diff` file, as given.
    pub in_diff: Option<String>,
    /// How many mutants the reference has in all (the graded ones are a subset with
    /// `--in-diff`).
    pub listed: usize,
    /// Every graded mutant, in listing order.
    pub results: Vec<MutantResult>,
    /// Entries of the equivalents file that fit no mutant.
    pub stale: Vec<Entry>,
    /// Entries that fit several mutants.
    pub ambiguous: Vec<Ambiguous>,
    /// Anything else worth fixing in the equivalents file.
    pub warnings: Vec<String>,
    /// Wall time of the whole sweep.
    pub duration: Duration,
}

impl SweepReport {
    /// The counts.
    pub fn counts(&self) -> Counts {
        Counts::of(&self.results)
    }

    /// Whether every mutant that survived is explained.
    pub fn passed(&self) -> bool {
        self.counts().survived == 0
    }

    /// The warning lines (stale and ambiguous entries, contradicted claims), unstyled.
    pub fn warning_lines(&self) -> Vec<String> {
        let file = &self.equivalents_file;
        let mut lines: Vec<String> = self
            .stale
            .iter()
            .map(|entry| {
                format!(
                    "{file}: stale entry {}: it matches no mutant any more; remove it",
                    entry.describe()
                )
            })
            .collect();
        lines.extend(self.ambiguous.iter().map(|a| {
            format!(
                "{file}: ambiguous entry {}: it fits {} mutants, so it explains none; add a \
                 `context` from the mutated line ({})",
                a.entry.describe(),
                a.mutants.len(),
                a.mutants.join("; ")
            )
        }));
        lines.extend(self.warnings.iter().cloned());
        lines
    }
}

/// One line for a finished mutant: `[ 3/15] caught     <name> · cap.saturates · 6.2s`.
pub fn progress_line(position: usize, total: usize, result: &MutantResult) -> String {
    let width = total.to_string().len();
    let style = result.status.style();
    let detail = match result.status {
        Status::Caught => {
            let first = result.failing.first().map_or("", |c| c.id.as_str());
            match result.failing.len() {
                0 | 1 => format!(" · {first}"),
                n => format!(" · {first} +{}", n - 1),
            }
        }
        _ => String::new(),
    };
    format!(
        "[{position:>width$}/{total}] {style}{:<10}{style:#} {}{DIM}{detail} · {}{DIM:#}",
        result.status.as_str(),
        result.mutant.name,
        human_duration(result.duration)
    )
}

/// The report for people, styled.
pub fn human(report: &SweepReport) -> String {
    let mut out = String::new();
    let counts = report.counts();
    let _ = writeln!(
        out,
        "{BOLD}{}{BOLD:#} {DIM}·{DIM:#} mutation testing of the acceptance suite",
        report.exercise
    );
    let _ = writeln!(
        out,
        "{DIM}reference{DIM:#}  {} ({} mutants, {})",
        report.reference, report.listed, report.tool
    );
    if let Some(diff) = &report.in_diff {
        let _ = writeln!(
            out,
            "{DIM}in diff{DIM:#}    {diff}: {} of {} mutants",
            counts.total, report.listed
        );
    }
    out.push('\n');
    if counts.total == 0 {
        let _ = writeln!(
            out,
            "No mutant to grade{}.",
            if report.in_diff.is_some() {
                ": the diff touches no mutated code of the reference"
            } else {
                ""
            }
        );
    }
    for status in Status::ALL {
        let style = status.style();
        let _ = writeln!(
            out,
            "  {style}{:<10}{style:#} {:>4}   {DIM}{}{DIM:#}",
            status.as_str(),
            counts.get(status),
            status.meaning()
        );
    }

    let survivors: Vec<&MutantResult> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Survived)
        .collect();
    for survivor in &survivors {
        let _ = writeln!(
            out,
            "\n{RED}SURVIVED{RED:#}  {BOLD}{}{BOLD:#}",
            survivor.mutant.name
        );
        for line in survivor.mutant.diff.lines() {
            let style = match line.chars().next() {
                _ if line.starts_with("+++") || line.starts_with("---") => DIM,
                Some('+') => GREEN,
                Some('-') => RED,
                Some('@') => CYAN,
                _ => Style::new(),
            };
            let _ = writeln!(out, "    {style}{line}{style:#}");
        }
        let _ = writeln!(
            out,
            "  Every check passed. Add a check that fails on this change, or, if no behaviour\n  \
             can change, explain it in {}:",
            report.equivalents_file
        );
        if let Some(entry) = &survivor.suggestion {
            for line in suggestion_toml(entry).lines() {
                let _ = writeln!(out, "    {DIM}{line}{DIM:#}");
            }
        }
    }

    let warnings = report.warning_lines();
    if !warnings.is_empty() {
        out.push('\n');
    }
    for warning in warnings {
        let _ = writeln!(out, "{YELLOW}warning{YELLOW:#}: {warning}");
    }

    out.push('\n');
    let took = human_duration(report.duration);
    if survivors.is_empty() {
        let _ = writeln!(
            out,
            "{GREEN}no unexplained survivor{GREEN:#} · {} graded · {took}",
            counts.total
        );
    } else {
        let _ = writeln!(
            out,
            "{RED}{} unexplained survivor{}{RED:#} of {} graded · {took}",
            survivors.len(),
            if survivors.len() == 1 { "" } else { "s" },
            counts.total
        );
    }
    out
}

/// The `[[mutant]]` table that would explain `entry`'s mutant, `why` left for a person.
fn suggestion_toml(entry: &Entry) -> String {
    let quote = |text: &str| toml_edit::Value::from(text).to_string();
    let mut out = String::from("[[mutant]]\n");
    let _ = writeln!(out, "file = {}", quote(&entry.file));
    if let Some(function) = &entry.function {
        let _ = writeln!(out, "function = {}", quote(function));
    }
    let _ = writeln!(out, "genre = {}", quote(&entry.genre));
    let _ = writeln!(out, "replacement = {}", quote(&entry.replacement));
    if let Some(context) = &entry.context {
        let _ = writeln!(out, "context = {}", quote(context));
    }
    out.push_str("why = \"\"  # required: why can no behaviour change?\n");
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    exercise: &'a str,
    reference: &'a str,
    equivalents_file: &'a str,
    cargo_mutants: &'a str,
    in_diff: Option<&'a str>,
    passed: bool,
    duration_ms: u128,
    listed: usize,
    counts: Counts,
    mutants: Vec<JsonMutant<'a>>,
    stale_equivalents: &'a [Entry],
    ambiguous_equivalents: &'a [Ambiguous],
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct JsonMutant<'a> {
    name: &'a str,
    description: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    function: Option<&'a str>,
    genre: &'a str,
    replacement: &'a str,
    status: &'static str,
    failing_checks: Vec<JsonCheck<'a>>,
    equivalent_why: Option<&'a str>,
    build_error: Option<&'a str>,
    duration_ms: u128,
    diff: &'a str,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    id: &'a str,
    status: &'static str,
    message: &'a str,
}

/// The JSON report (schema: `crates/grade/schema/mutants.v1.json`).
pub fn json(report: &SweepReport) -> String {
    let value = JsonReport {
        schema_version: SCHEMA_VERSION,
        exercise: &report.exercise,
        reference: &report.reference,
        equivalents_file: &report.equivalents_file,
        cargo_mutants: &report.tool,
        in_diff: report.in_diff.as_deref(),
        passed: report.passed(),
        duration_ms: report.duration.as_millis(),
        listed: report.listed,
        counts: report.counts(),
        mutants: report
            .results
            .iter()
            .map(|r| JsonMutant {
                name: &r.mutant.name,
                description: r.mutant.description(),
                file: &r.mutant.file,
                line: r.mutant.span.start.line,
                column: r.mutant.span.start.column,
                function: r.mutant.function_name(),
                genre: &r.mutant.genre,
                replacement: &r.mutant.replacement,
                status: r.status.as_str(),
                failing_checks: r
                    .failing
                    .iter()
                    .map(|c| JsonCheck {
                        id: &c.id,
                        status: c.status,
                        message: &c.message,
                    })
                    .collect(),
                equivalent_why: r.why.as_deref(),
                build_error: r.build_error.as_deref(),
                duration_ms: r.duration.as_millis(),
                diff: &r.mutant.diff,
            })
            .collect(),
        stale_equivalents: &report.stale,
        ambiguous_equivalents: &report.ambiguous,
        warnings: report.warning_lines(),
    };
    let mut text = serde_json::to_string_pretty(&value).expect("reports serialise");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutants::listing::parse;

    fn result(index: usize, status: Status) -> MutantResult {
        let mutant = parse(include_str!("testdata/retry-list-cargo-mutants-27.json"))
            .unwrap()
            .swap_remove(index);
        let crate_file = mutant
            .file
            .strip_prefix("reference-solutions/retry/")
            .unwrap()
            .to_owned();
        MutantResult {
            suggestion: (status == Status::Survived).then(|| Entry {
                file: crate_file,
                function: mutant.function_name().map(str::to_owned),
                genre: mutant.genre.clone(),
                replacement: mutant.replacement.clone(),
                context: None,
                why: String::new(),
            }),
            failing: match status {
                Status::Caught => vec![FailingCheck {
                    id: "cap.saturates".into(),
                    status: "fail",
                    message: "expected 10s".into(),
                }],
                _ => Vec::new(),
            },
            why: (status == Status::Equivalent).then(|| "no behaviour changes".to_owned()),
            build_error: (status == Status::Unviable).then(|| "error[E0308]".to_owned()),
            mutant,
            status,
            duration: Duration::from_millis(6200),
        }
    }

    fn report(statuses: &[Status]) -> SweepReport {
        SweepReport {
            exercise: "retry".into(),
            reference: "reference-solutions/retry".into(),
            equivalents_file: "tests/retry/equivalent-mutants.toml".into(),
            tool: "cargo-mutants 27.1.0".into(),
            in_diff: None,
            listed: 15,
            results: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| result(i, *s))
                .collect(),
            stale: Vec::new(),
            ambiguous: Vec::new(),
            warnings: Vec::new(),
            duration: Duration::from_secs(125),
        }
    }

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn counts_each_status() {
        use Status::*;
        let report = report(&[Caught, Caught, Caught, Equivalent, Survived, Unviable]);
        let counts = report.counts();
        assert_eq!(
            counts,
            Counts {
                total: 6,
                caught: 3,
                equivalent: 1,
                survived: 1,
                unviable: 1
            }
        );
        assert!(!report.passed());
        assert!(self::report(&[Caught, Equivalent, Unviable]).passed());
        assert!(
            self::report(&[]).passed(),
            "nothing graded, nothing survived"
        );
    }

    #[test]
    fn the_human_report_shows_counts_and_each_survivor_with_what_to_do() {
        use Status::*;
        let text = plain(&human(&report(&[Caught, Survived, Equivalent])));
        assert!(text.contains("  caught        1"), "{text}");
        assert!(text.contains("  survived      1"), "{text}");
        assert!(text.contains("  unviable      0"), "{text}");
        assert!(
            text.contains("SURVIVED  reference-solutions/retry/src/lib.rs:114:5"),
            "{text}"
        );
        assert!(text.contains("    +    Ok(Default::default())"), "{text}");
        assert!(
            text.contains("Add a check that fails on this change"),
            "{text}"
        );
        assert!(text.contains("    function = \"retry_loop\""), "{text}");
        assert!(
            text.contains("    replacement = \"Ok(Default::default())\""),
            "{text}"
        );
        assert!(
            text.contains("1 unexplained survivor of 3 graded · 2m 5s"),
            "{text}"
        );
    }

    #[test]
    fn stale_entries_are_warned_about_in_both_reports() {
        let mut report = report(&[Status::Caught]);
        report.stale.push(Entry {
            file: "src/policy.rs".into(),
            function: Some("Policy::cap".into()),
            genre: "BinaryOperator".into(),
            replacement: "&&".into(),
            context: None,
            why: "gone".into(),
        });
        let text = plain(&human(&report));
        assert!(
            text.contains(
                "warning: tests/retry/equivalent-mutants.toml: stale entry \"&&\" in Policy::cap"
            ),
            "{text}"
        );
        assert!(
            text.contains("no unexplained survivor · 1 graded"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&self::json(&report)).unwrap();
        assert_eq!(json["stale_equivalents"][0]["function"], "Policy::cap");
        assert_eq!(json["warnings"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn the_json_report_is_versioned_with_counts_and_entries() {
        use Status::*;
        let json: serde_json::Value =
            serde_json::from_str(&json(&report(&[Caught, Survived, Equivalent, Unviable])))
                .unwrap();
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["passed"], false);
        assert_eq!(json["counts"]["caught"], 1);
        assert_eq!(json["counts"]["total"], 4);
        let caught = &json["mutants"][0];
        assert_eq!(caught["status"], "caught");
        assert_eq!(caught["line"], 88);
        assert_eq!(caught["function"], "retry");
        assert_eq!(caught["failing_checks"][0]["id"], "cap.saturates");
        assert!(caught["diff"].as_str().unwrap().starts_with("--- "));
        assert_eq!(json["mutants"][2]["equivalent_why"], "no behaviour changes");
        assert_eq!(json["mutants"][3]["build_error"], "error[E0308]");
    }

    #[test]
    fn a_progress_line_names_the_mutant_and_the_first_check() {
        let line = plain(&progress_line(3, 15, &result(0, Status::Caught)));
        assert_eq!(
            line,
            "[ 3/15] caught     reference-solutions/retry/src/lib.rs:88:5: replace retry -> \
             Result<T, RetryError<E>> with Ok(Default::default()) · cap.saturates · 6.2s"
        );
    }
}
