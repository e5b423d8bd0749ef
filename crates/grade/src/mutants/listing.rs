//! The mutants of a reference solution, as cargo-mutants lists them.
//!
//! grade does not generate mutants itself: cargo-mutants knows Rust's syntax and which
//! replacements type-check, and its list is the ecosystem's. We only ask it for the list
//! (`cargo mutants --list --json --diff -d <reference>`), which takes a fraction of a second
//! and builds nothing, and grade each mutant with the grader's own machinery.
//!
//! The JSON is an array of objects; the fields read here (cargo-mutants 25 and later, captured
//! from 27.1 in `testdata/`) are:
//!
//! ```text
//! name         "reference-solutions/retry/src/policy.rs:46:24: replace >= with < in Policy::ceiling"
//! package      "retry-reference"
//! file         "reference-solutions/retry/src/policy.rs"   (relative to the workspace root)
//! function     { function_name, return_type, span } or null (a mutant in a `const`)
//! span         { start: { line, column }, end: { line, column } }: 1-based, columns in chars,
//!              the end exclusive
//! replacement  "<"
//! genre        "FnValue" | "BinaryOperator" | "UnaryOperator" | "MatchArm" | …
//! diff         a unified diff of the change (with --diff)
//! ```
//!
//! An empty diff given to `--in-diff` makes cargo-mutants print nothing at all (not `[]`):
//! that reads as no mutants.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::error::MutantsError;
use crate::harness::cargo_program;

/// One mutant of the reference solution.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Mutant {
    /// cargo-mutants' name for it: file, line, column and the change, e.g.
    /// `…/policy.rs:46:24: replace >= with < in Policy::ceiling`. Unique within a listing.
    pub name: String,
    /// The file, relative to the workspace root, with forward slashes.
    pub file: String,
    /// The innermost function containing the change, if any.
    pub function: Option<Function>,
    /// The text replaced.
    pub span: Span,
    /// What replaces it.
    pub replacement: String,
    /// The kind of change (`FnValue`, `BinaryOperator`, …), kept as text so that a newer
    /// cargo-mutants with more genres still works.
    pub genre: String,
    /// The change as a unified diff (empty when listed without `--diff`).
    #[serde(default)]
    pub diff: String,
}

/// The function a mutant is in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Function {
    /// Its name with the enclosing `impl` or trait, e.g. `Policy::ceiling`.
    pub function_name: String,
}

/// A region of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Span {
    /// The first character replaced.
    pub start: LineColumn,
    /// The position just after the last character replaced.
    pub end: LineColumn,
}

/// A position in a source file: both 1-based, the column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct LineColumn {
    /// Line number.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

impl Mutant {
    /// The function name, or `None` for a mutant outside any function.
    pub fn function_name(&self) -> Option<&str> {
        self.function.as_ref().map(|f| f.function_name.as_str())
    }

    /// The change without the location: `replace >= with < in Policy::ceiling`.
    pub fn description(&self) -> &str {
        // The name is `<file>:<line>:<column>: <description>`; the file cannot contain ": ".
        self.name
            .split_once(": ")
            .map_or(self.name.as_str(), |(_, rest)| rest)
    }
}

/// Parses the output of `cargo mutants --list --json`.
pub fn parse(json: &str) -> Result<Vec<Mutant>, MutantsError> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(json).map_err(|e| MutantsError::BadListing {
        reason: e.to_string(),
    })
}

/// `cargo mutants --version`, e.g. `cargo-mutants 27.1.0`; [`MutantsError::ToolMissing`] when
/// it is not installed.
pub fn tool_version() -> Result<String, MutantsError> {
    let output = Command::new(cargo_program())
        .args(["mutants", "--version"])
        .output()
        .map_err(|e| MutantsError::ToolMissing {
            reason: format!("cannot run cargo: {e}"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && stdout.starts_with("cargo-mutants") {
        return Ok(stdout);
    }
    // Cargo says "no such command: `mutants`" for a subcommand it cannot find.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("no output");
    Err(MutantsError::ToolMissing {
        reason: format!("`cargo mutants --version`: {first}"),
    })
}

/// How to ask cargo-mutants for a reference's mutants.
#[derive(Debug, Clone)]
pub struct ListRequest<'a> {
    /// The checkout's root (cargo-mutants names files relative to the workspace root).
    pub root: &'a Path,
    /// The reference crate's folder.
    pub reference_dir: &'a Path,
    /// Only mutants in lines this diff touches.
    pub in_diff: Option<&'a Path>,
}

impl ListRequest<'_> {
    /// The arguments after `cargo`.
    fn args(&self) -> Vec<PathBuf> {
        let mut args: Vec<PathBuf> = ["mutants", "--list", "--json", "--diff", "--colors"]
            .iter()
            .map(PathBuf::from)
            .collect();
        args.push("never".into());
        args.push("--dir".into());
        args.push(self.reference_dir.to_owned());
        if let Some(diff) = self.in_diff {
            args.push("--in-diff".into());
            args.push(diff.to_owned());
        }
        args
    }
}

/// Runs `cargo mutants --list` as `request` says; returns the mutants in source order.
pub fn list(request: &ListRequest<'_>) -> Result<Vec<Mutant>, MutantsError> {
    let args = request.args();
    let command_line = std::iter::once("cargo".to_owned())
        .chain(args.iter().map(|a| a.display().to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new(cargo_program())
        .args(&args)
        .current_dir(request.root)
        .output()
        .map_err(|e| MutantsError::ListFailed {
            command: command_line.clone(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(MutantsError::ListFailed {
            command: command_line,
            reason: format!("{}\n{}", output.status, stderr.trim_end()),
        });
    }
    parse(&String::from_utf8_lossy(&output.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo mutants --list --json --diff -d reference-solutions/retry`, cargo-mutants 27.1.0.
    const RETRY: &str = include_str!("testdata/retry-list-cargo-mutants-27.json");

    #[test]
    fn parses_a_captured_listing() {
        let mutants = parse(RETRY).unwrap();
        assert_eq!(mutants.len(), 15);
        let ceiling: Vec<&Mutant> = mutants
            .iter()
            .filter(|m| m.function_name() == Some("Policy::ceiling"))
            .collect();
        assert_eq!(ceiling.len(), 5);
        let lt = ceiling
            .iter()
            .find(|m| m.replacement == "<")
            .expect("the >= mutant");
        assert_eq!(lt.genre, "BinaryOperator");
        assert_eq!(lt.file, "reference-solutions/retry/src/policy.rs");
        assert_eq!(
            lt.span,
            Span {
                start: LineColumn {
                    line: 46,
                    column: 24
                },
                end: LineColumn {
                    line: 46,
                    column: 26
                },
            }
        );
        assert_eq!(lt.description(), "replace >= with < in Policy::ceiling");
        assert!(
            lt.diff
                .contains("+            if ceiling < /* ~ changed by cargo-mutants ~ */")
        );
    }

    #[test]
    fn empty_output_is_no_mutants_and_garbage_is_an_error() {
        assert_eq!(parse("").unwrap(), Vec::new());
        assert_eq!(parse("[]\n").unwrap(), Vec::new());
        let error = parse("INFO Diff file is empty").unwrap_err();
        assert!(
            error.to_string().contains("cannot read the mutants"),
            "{error}"
        );
    }

    #[test]
    fn a_mutant_outside_any_function_has_no_function() {
        let json = r#"[{"name": "x/src/lib.rs:31:30: replace * with +", "package": "x",
            "file": "x/src/lib.rs", "function": null, "genre": "BinaryOperator",
            "replacement": "+", "span": {"start": {"line": 31, "column": 30},
            "end": {"line": 31, "column": 31}}}]"#;
        let mutants = parse(json).unwrap();
        assert_eq!(mutants[0].function_name(), None);
        assert_eq!(mutants[0].diff, "");
        assert_eq!(mutants[0].description(), "replace * with +");
    }

    #[test]
    fn passes_the_diff_through() {
        let request = ListRequest {
            root: Path::new("/repo"),
            reference_dir: Path::new("/repo/reference-solutions/retry"),
            in_diff: Some(Path::new("/tmp/change.diff")),
        };
        let args: Vec<String> = request
            .args()
            .iter()
            .map(|a| a.display().to_string())
            .collect();
        assert_eq!(
            args,
            [
                "mutants",
                "--list",
                "--json",
                "--diff",
                "--colors",
                "never",
                "--dir",
                "/repo/reference-solutions/retry",
                "--in-diff",
                "/tmp/change.diff"
            ]
        );
    }
}
