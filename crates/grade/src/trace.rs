//! The spec trace: every rule of an exercise's prompt, and the checks that test it.
//!
//! A suite is a promise about a prompt: each normative sentence of `README.md` (a rule a
//! solution must follow) should be tested by some check, and each check should test something
//! the prompt says. A sentence without a check is a promise the grader does not keep; a check
//! without a sentence is a surprise for the candidate. Conformance suites (csv-spectrum, h2spec,
//! the WHATWG tests) keep the two in step by naming, for every requirement, the tests that
//! cover it. This module does the same for an exercise:
//!
//! - the prompt marks each rule with its id in inline code at the end of the sentence:
//!   `` `[budget.calls]` ``, or `` `[time.tokio-clock: not graded]` `` for a rule no check can
//!   test (said so in the prompt, so the candidate knows);
//! - `spec.toml`, beside `exercise.toml`, lists the rules with the checks that test them:
//!
//! ```toml
//! schema = 1
//!
//! [[rule]]
//! id = "budget.calls"
//! rule = "max_retries = N allows at most N + 1 calls"
//! checks = ["budget.total_calls", "budget.model"]
//!
//! [[rule]]
//! id = "time.tokio-clock"
//! rule = "Use tokio's clock"
//! graded = false
//! why = "Only visible through latencies, which observe.attempts already checks."
//! ```
//!
//! [`problems`] compares the three (prompt tags, `spec.toml`, the checks in `exercise.toml`,
//! which `grade verify` separately proves equal to the suite's own listing) and says what is
//! out of step. `grade verify` reports those problems, and a unit test below runs them over
//! every exercise in the checkout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::meta::Metadata;

/// The file name of an exercise's spec trace, beside `exercise.toml`.
pub const FILE: &str = "spec.toml";

/// An exercise's `spec.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Format version; 1.
    pub schema: u32,
    /// The rules, in prompt order.
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

/// One rule of the prompt.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, as tagged in the prompt (`criterion.short-name` by convention).
    pub id: String,
    /// The rule in a few words, for people reading the trace.
    pub rule: String,
    /// The checks that test it (empty only when `graded = false`).
    #[serde(default)]
    pub checks: Vec<String>,
    /// `false` for a rule no check can test; the prompt must say so too.
    #[serde(default = "graded_by_default")]
    pub graded: bool,
    /// Why an ungraded rule cannot be tested (required when `graded = false`).
    #[serde(default)]
    pub why: Option<String>,
}

fn graded_by_default() -> bool {
    true
}

/// Reads `dir/spec.toml`; `Err` with a message when it is missing or malformed.
pub fn load(dir: &Path) -> Result<Spec, String> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "no spec trace: cannot read {} ({error}); every rule of the prompt needs an id and its checks there",
            path.display()
        )
    })?;
    let spec: Spec =
        toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    if spec.schema != 1 {
        return Err(format!(
            "{}: schema {} is not supported (expected 1)",
            path.display(),
            spec.schema
        ));
    }
    Ok(spec)
}

/// A rule tag found in the prompt.
#[derive(Debug, PartialEq, Eq)]
pub struct Tag {
    /// The rule id.
    pub id: String,
    /// Whether the tag says `: not graded`.
    pub graded: bool,
}

/// Every rule tag in `prompt`: inline code spans of the form `` `[id]` `` or
/// `` `[id: not graded]` ``, where the id is made of letters, digits, `.`, `-` and `_`.
pub fn tags(prompt: &str) -> Vec<Tag> {
    let mut found = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find("`[") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("]`") else { break };
        let inner = &after[..end];
        let (id, graded) = match inner.strip_suffix(": not graded") {
            Some(id) => (id, false),
            None => (inner, true),
        };
        let is_id = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            && id.contains('.');
        if is_id {
            found.push(Tag {
                id: id.to_owned(),
                graded,
            });
            rest = &after[end + 2..];
        } else {
            // Not a tag (for example `[0, ceiling]` in code): look past the backtick only.
            rest = &rest[start + 1..];
        }
    }
    found
}

/// Everything out of step between the prompt, the trace and the metadata, one message each;
/// empty when the trace is complete.
pub fn problems(spec: &Spec, prompt: &str, meta: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    let checks: BTreeSet<&str> = meta.check_ids().collect();

    let mut rules: BTreeMap<&str, &Rule> = BTreeMap::new();
    for rule in &spec.rules {
        if rules.insert(&rule.id, rule).is_some() {
            problems.push(format!("spec.toml lists rule `{}` twice", rule.id));
        }
    }

    let tagged: Vec<Tag> = tags(prompt);
    let mut tagged_ids = BTreeSet::new();
    for tag in &tagged {
        tagged_ids.insert(tag.id.as_str());
        match rules.get(tag.id.as_str()) {
            None => problems.push(format!(
                "the prompt tags rule `{}`, which spec.toml does not list",
                tag.id
            )),
            Some(rule) if rule.graded != tag.graded => problems.push(if rule.graded {
                format!(
                    "the prompt says rule `{}` is not graded, but spec.toml grades it",
                    tag.id
                )
            } else {
                format!(
                    "spec.toml marks rule `{}` as not graded: tag it `[{}: not graded]` in the prompt",
                    tag.id, tag.id
                )
            }),
            Some(_) => {}
        }
    }

    let mut traced = BTreeSet::new();
    for rule in &spec.rules {
        if !tagged_ids.contains(rule.id.as_str()) {
            problems.push(format!(
                "rule `{}` ({}) is not tagged in the prompt: end its sentence with `[{}]`",
                rule.id, rule.rule, rule.id
            ));
        }
        if rule.graded && rule.checks.is_empty() {
            problems.push(format!(
                "rule `{}` ({}) has no check: add one, or rewrite the rule, or mark it `graded = false` with a `why`",
                rule.id, rule.rule
            ));
        }
        if !rule.graded {
            if rule.why.as_deref().is_none_or(|why| why.trim().is_empty()) {
                problems.push(format!(
                    "rule `{}` is not graded but says no `why`",
                    rule.id
                ));
            }
            if !rule.checks.is_empty() {
                problems.push(format!(
                    "rule `{}` is marked not graded but lists checks",
                    rule.id
                ));
            }
        }
        for check in &rule.checks {
            if checks.contains(check.as_str()) {
                traced.insert(check.as_str());
            } else {
                problems.push(format!(
                    "rule `{}` names check `{check}`, which exercise.toml does not list",
                    rule.id
                ));
            }
        }
    }
    for check in checks.difference(&traced) {
        problems.push(format!(
            "check `{check}` tests no rule of the prompt: add it to a rule in spec.toml (or say the rule in the prompt)"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"
schema = 1
title = "T"
summary = "S"
order = 1
time_budget_minutes = 30
timeout_secs = 10

[[criteria]]
id = "budget"
title = "Budget"
weight = 1
checks = ["budget.calls", "budget.model"]
"#;

    fn spec(text: &str) -> Spec {
        toml::from_str(text).unwrap()
    }

    fn meta() -> Metadata {
        Metadata::parse(META).unwrap()
    }

    const COMPLETE: &str = r#"
schema = 1
[[rule]]
id = "budget.calls"
rule = "N + 1 calls"
checks = ["budget.calls", "budget.model"]
[[rule]]
id = "time.clock"
rule = "tokio's clock"
graded = false
why = "invisible"
"#;

    const PROMPT: &str = "At most `N + 1` calls. `[budget.calls]`\n\
                          Use tokio's clock. `[time.clock: not graded]`\n\
                          Waits are in `[0, ceiling]`.";

    #[test]
    fn tags_are_found_and_code_that_looks_alike_is_not() {
        assert_eq!(
            tags(PROMPT),
            vec![
                Tag {
                    id: "budget.calls".into(),
                    graded: true
                },
                Tag {
                    id: "time.clock".into(),
                    graded: false
                },
            ]
        );
    }

    #[test]
    fn a_complete_trace_has_no_problems() {
        assert_eq!(
            problems(&spec(COMPLETE), PROMPT, &meta()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_check_that_tests_no_rule_is_a_problem() {
        let text = COMPLETE.replace(r#"["budget.calls", "budget.model"]"#, r#"["budget.calls"]"#);
        let found = problems(&spec(&text), PROMPT, &meta());
        assert_eq!(
            found,
            vec![
                "check `budget.model` tests no rule of the prompt: add it to a rule in spec.toml (or say the rule in the prompt)"
            ]
        );
    }

    #[test]
    fn a_rule_without_checks_is_a_problem() {
        let text = format!(
            "{COMPLETE}\n[[rule]]\nid = \"budget.last\"\nrule = \"the last call counts\"\n"
        );
        let prompt = format!("{PROMPT}\nThe last call counts. `[budget.last]`");
        let found = problems(&spec(&text), &prompt, &meta());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`budget.last` (the last call counts) has no check"));
    }

    #[test]
    fn untagged_unknown_and_mismatched_rules_are_problems() {
        let prompt = "At most `N + 1` calls. `[budget.calls: not graded]`\n`[budget.ghost]`";
        let found = problems(&spec(COMPLETE), prompt, &meta());
        assert!(
            found
                .iter()
                .any(|p| p.contains("says rule `budget.calls` is not graded"))
        );
        assert!(found.iter().any(|p| p.contains("tags rule `budget.ghost`")));
        assert!(
            found
                .iter()
                .any(|p| p.contains("`time.clock` (tokio's clock) is not tagged"))
        );
    }

    #[test]
    fn unknown_checks_and_ungraded_rules_without_why_are_problems() {
        let text = COMPLETE
            .replace(r#""budget.model"]"#, r#""budget.model", "budget.nope"]"#)
            .replace("why = \"invisible\"\n", "");
        let found = problems(&spec(&text), PROMPT, &meta());
        assert!(
            found
                .iter()
                .any(|p| p.contains("check `budget.nope`, which exercise.toml"))
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("`time.clock` is not graded but says no `why`"))
        );
    }

    /// The repository invariant: every exercise in this checkout has a complete trace.
    #[test]
    fn every_exercise_in_the_checkout_traces_its_prompt() {
        let exercises = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../exercises");
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&exercises).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(meta_text) = std::fs::read_to_string(dir.join("exercise.toml")) else {
                continue;
            };
            let meta = Metadata::parse(&meta_text).unwrap();
            let prompt = std::fs::read_to_string(dir.join("README.md")).unwrap();
            let slug = dir.file_name().unwrap().to_string_lossy().into_owned();
            match load(&dir) {
                Ok(spec) => all.extend(
                    problems(&spec, &prompt, &meta)
                        .into_iter()
                        .map(|p| format!("{slug}: {p}")),
                ),
                Err(problem) => all.push(format!("{slug}: {problem}")),
            }
        }
        assert!(
            all.is_empty(),
            "spec traces out of step:\n{}",
            all.join("\n")
        );
    }
}
