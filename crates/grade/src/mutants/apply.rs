//! Applying a mutant to a copy of the reference solution, and the copies themselves.
//!
//! A mutant is applied the way cargo-mutants applies it: the text of its span is replaced by
//! `<replacement> /* ~ changed by cargo-mutants ~ */`, so the mutated file is exactly the one
//! its diff shows. After applying, every line the diff adds must be in the result; a listing
//! that no longer fits the source (someone edited the reference mid-run) is an error rather
//! than a mutant silently graded as something else.
//!
//! # Slots
//! Each worker of a sweep grades its mutants in one copy of the reference crate, a *slot*:
//! `.grade/mutants/<exercise>/<n>/`, reused from run to run, with `<n>.lock` held for as long
//! as the run uses it, so concurrent sweeps take different slots and nothing else writes there.
//! Why not a fresh temporary folder per mutant: cargo names a path crate's build artifacts
//! after its path, so every new folder would compile the attempt and the suite from scratch
//! (about ten seconds for a heavy suite instead of one or two) and leave another copy of them in
//! `target/grade` for good. A fixed folder inside the checkout also keeps one generated harness
//! per slot (`.grade/harness/`), which cargo then rebuilds incrementally.
//!
//! Between mutants the slot's file is written back to the reference's text; nothing else in
//! the slot changes, so cargo recompiles only the attempt and the suite.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{GradeError, MutantsError, io};
use crate::mutants::listing::{Mutant, Span};

/// What cargo-mutants writes after every replacement; kept so the mutated file is exactly the
/// one its diff shows (and a human reading a build error sees which code is mutated).
pub const MARKER: &str = "/* ~ changed by cargo-mutants ~ */";

/// `source` with the text of `span` replaced by `replacement`, or `None` when the span lies
/// outside the text.
///
/// Positions are cargo-mutants': 1-based lines and columns, columns counted in characters, the
/// end exclusive. A `\r` before a `\n` belongs to the line's last column, as in cargo-mutants.
pub fn replace_span(source: &str, span: &Span, replacement: &str) -> Option<String> {
    let start = offset(source, span.start.line, span.start.column)?;
    let end = offset(source, span.end.line, span.end.column)?;
    if end < start {
        return None;
    }
    let mut out = String::with_capacity(source.len() + replacement.len());
    out.push_str(&source[..start]);
    out.push_str(replacement);
    out.push_str(&source[end..]);
    Some(out)
}

/// The byte offset of a 1-based (line, column-in-chars) position; the position just after the
/// last character of a line (or of the text) is valid too.
fn offset(source: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 || column == 0 {
        return None;
    }
    let mut line_start = 0;
    for _ in 1..line {
        line_start += source[line_start..].find('\n')? + 1;
    }
    let rest = &source[line_start..];
    let line_text = rest.find('\n').map_or(rest, |end| &rest[..end]);
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let mut chars = line_text.char_indices().map(|(i, _)| i);
    let within = match column - 1 {
        0 => Some(0),
        n => chars
            .nth(n)
            .or((n == line_text.chars().count()).then_some(line_text.len())),
    }?;
    Some(line_start + within)
}

/// The file's text with `mutant` applied, as cargo-mutants would write it.
pub fn mutate(source: &str, mutant: &Mutant) -> Result<String, MutantsError> {
    let fail = |reason: String| MutantsError::Apply {
        mutant: mutant.name.clone(),
        reason,
    };
    let mutated = replace_span(
        source,
        &mutant.span,
        &format!("{} {MARKER}", mutant.replacement),
    )
    .ok_or_else(|| fail("its span lies outside the file: the listing is out of date".into()))?;
    if mutated == source {
        return Err(fail("the file did not change".into()));
    }
    // Every line the diff adds must now be in the file: a cheap proof that we mutated the code
    // cargo-mutants meant, not whatever moved into its line and column since it looked.
    for added in added_lines(&mutant.diff) {
        if !mutated.lines().any(|line| line == added) {
            return Err(fail(format!(
                "the result lacks the line the diff adds ({}): the reference changed since \
                 cargo-mutants listed it",
                added.trim()
            )));
        }
    }
    Ok(mutated)
}

/// Lines a unified diff adds (without the `+`), not counting the `+++` header.
fn added_lines(diff: &str) -> impl Iterator<Item = &str> {
    diff.lines()
        .filter(|line| !line.starts_with("+++"))
        .filter_map(|line| line.strip_prefix('+'))
}

/// The first line the mutant changes, as it reads after the change (without cargo-mutants'
/// marker) with runs of whitespace squeezed to one space: what an `equivalent-mutants.toml`
/// entry's `context` is looked for in.
///
/// A mutant that deletes (a match arm, say) leaves nothing to tell it apart: every deleted arm
/// of a `match` reads the same afterwards. For those the context is looked for in the first
/// line it deletes, as it read before.
pub fn mutated_line(source: &str, mutant: &Mutant) -> Option<String> {
    if mutant.replacement.trim().is_empty() {
        let line = source.lines().nth(mutant.span.start.line - 1)?;
        let column = line
            .char_indices()
            .nth(mutant.span.start.column - 1)
            .map_or(line.len(), |(at, _)| at);
        return Some(squeeze(&line[column..]));
    }
    let mutated = replace_span(source, &mutant.span, &mutant.replacement)?;
    let line = mutated.lines().nth(mutant.span.start.line - 1)?;
    Some(squeeze(line))
}

/// `text` trimmed, with every run of whitespace made one space.
pub fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One worker's private copy of the reference crate (see the module docs).
#[derive(Debug)]
pub struct Slot {
    dir: PathBuf,
    /// Held while this run uses the slot; released (and the slot free again) on drop.
    _lock: File,
}

impl Slot {
    /// Takes the first free slot under `base` and makes it a copy of `reference`.
    pub fn acquire(base: &Path, reference: &Path) -> Result<Self, GradeError> {
        std::fs::create_dir_all(base).map_err(io("cannot create", base))?;
        for index in 0.. {
            let lock_path = base.join(format!("{index}.lock"));
            let lock = File::create(&lock_path).map_err(io("cannot create", &lock_path))?;
            match lock.try_lock() {
                Ok(()) => {
                    let dir = base.join(index.to_string());
                    sync_tree(reference, &dir)?;
                    return Ok(Self { dir, _lock: lock });
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(error)) => {
                    return Err(io("cannot lock", &lock_path)(error));
                }
            }
        }
        unreachable!("some slot index is free")
    }

    /// The copy's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `text` to the copy's `relative` file.
    pub fn write(&self, relative: &str, text: &str) -> Result<(), GradeError> {
        let path = self.dir.join(relative);
        std::fs::write(&path, text).map_err(io("cannot write", path))
    }
}

/// Makes `to` hold exactly the files of `from` (apart from `target/` and `Cargo.lock`), writing
/// only the files whose content differs so that cargo's fingerprints of unchanged files stay
/// valid from one run to the next.
pub fn sync_tree(from: &Path, to: &Path) -> Result<(), GradeError> {
    std::fs::create_dir_all(to).map_err(io("cannot create", to))?;
    let skip = |name: &std::ffi::OsStr| name == "target" || name == "Cargo.lock";
    let mut wanted = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(from).map_err(io("cannot read", from))? {
        let entry = entry.map_err(io("cannot read", from))?;
        let name = entry.file_name();
        if skip(&name) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        wanted.insert(name);
        let kind = entry.file_type().map_err(io("cannot read", &source))?;
        if kind.is_dir() {
            if target.is_file() {
                std::fs::remove_file(&target).map_err(io("cannot remove", &target))?;
            }
            sync_tree(&source, &target)?;
        } else {
            let text = std::fs::read(&source).map_err(io("cannot read", &source))?;
            if target.is_dir() {
                std::fs::remove_dir_all(&target).map_err(io("cannot remove", &target))?;
            }
            if std::fs::read(&target).ok().as_deref() != Some(text.as_slice()) {
                std::fs::write(&target, &text).map_err(io("cannot write", &target))?;
            }
        }
    }
    for entry in std::fs::read_dir(to).map_err(io("cannot read", to))? {
        let entry = entry.map_err(io("cannot read", to))?;
        let name = entry.file_name();
        if skip(&name) || wanted.contains(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io("cannot remove", &path))?;
        } else {
            std::fs::remove_file(&path).map_err(io("cannot remove", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutants::listing::{LineColumn, parse};

    fn span(start: (usize, usize), end: (usize, usize)) -> Span {
        Span {
            start: LineColumn {
                line: start.0,
                column: start.1,
            },
            end: LineColumn {
                line: end.0,
                column: end.1,
            },
        }
    }

    #[test]
    fn replaces_a_span_within_a_line() {
        let source = "fn f(a: u32) -> bool {\n    a >= 3\n}\n";
        let replaced = replace_span(source, &span((2, 7), (2, 9)), "<").unwrap();
        assert_eq!(replaced, "fn f(a: u32) -> bool {\n    a < 3\n}\n");
    }

    #[test]
    fn replaces_a_span_across_lines_and_counts_columns_in_characters() {
        let source = "fn f() -> &'static str {\n    let s = \"é→\";\n    s\n}\n";
        // Line 2 column 5 to line 3 column 6: the whole body, with a multi-byte literal.
        let replaced = replace_span(source, &span((2, 5), (3, 6)), "\"\"").unwrap();
        assert_eq!(replaced, "fn f() -> &'static str {\n    \"\"\n}\n");
        // Column 15 of line 2 is the `→`: `é` is one column, though two bytes.
        let replaced = replace_span(source, &span((2, 15), (2, 16)), "x").unwrap();
        assert_eq!(
            replaced,
            "fn f() -> &'static str {\n    let s = \"éx\";\n    s\n}\n"
        );
    }

    #[test]
    fn a_span_may_end_at_the_end_of_a_line_with_crlf() {
        let source = "a == b\r\nc\r\n";
        let replaced = replace_span(source, &span((1, 3), (1, 7)), "!= x").unwrap();
        assert_eq!(replaced, "a != x\r\nc\r\n");
    }

    #[test]
    fn a_span_outside_the_text_is_refused() {
        let source = "one\ntwo\n";
        assert_eq!(replace_span(source, &span((5, 1), (5, 2)), "x"), None);
        assert_eq!(replace_span(source, &span((1, 9), (1, 10)), "x"), None);
        assert_eq!(replace_span(source, &span((2, 2), (1, 1)), "x"), None);
    }

    /// The lines of policy.rs that the captured listing's `Policy::ceiling` mutants touch.
    const POLICY: &str = "\
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let mut ceiling = self.base;
        for _ in 0..retry {
            if ceiling >= self.max_delay || ceiling.is_zero() || self.factor <= 1 {
                break;
            }
        }
    }
";

    /// A source with the lines of [`POLICY`] at the line numbers of the captured listing.
    fn policy_source() -> String {
        format!("{}{POLICY}", "//\n".repeat(42))
    }

    fn captured(description: &str) -> Mutant {
        parse(include_str!("testdata/retry-list-cargo-mutants-27.json"))
            .unwrap()
            .into_iter()
            .find(|m| m.name.ends_with(description) && m.name.contains(":46:"))
            .unwrap_or_else(|| panic!("no mutant {description}"))
    }

    #[test]
    fn applies_a_captured_mutant_exactly_as_its_diff_shows() {
        let source = policy_source();
        let mutant = captured("replace >= with < in Policy::ceiling");
        let mutated = mutate(&source, &mutant).unwrap();
        assert!(mutated.contains(
            "if ceiling < /* ~ changed by cargo-mutants ~ */ self.max_delay || ceiling.is_zero()"
        ));
        assert_eq!(mutated.lines().count(), source.lines().count());
    }

    #[test]
    fn a_listing_that_no_longer_fits_the_source_is_an_error() {
        let source = policy_source().replace(">= self.max_delay", "> self.max_delay");
        let mutant = captured("replace >= with < in Policy::ceiling");
        let error = mutate(&source, &mutant).unwrap_err();
        assert!(error.to_string().contains("reference changed"), "{error}");
    }

    #[test]
    fn a_deletion_is_told_apart_by_the_line_it_deletes() {
        use crate::mutants::listing::{LineColumn, Span};
        let source =
            "match state {\n    State::Quoted => 1,\n    State::Plain => 2,\n    _ => 0,\n}\n";
        let arm = |line: usize, end: usize| Mutant {
            name: String::new(),
            file: "src/parser.rs".into(),
            function: None,
            span: Span {
                start: LineColumn { line, column: 5 },
                end: LineColumn { line, column: end },
            },
            replacement: String::new(),
            genre: "MatchArm".into(),
            diff: String::new(),
        };
        assert_eq!(
            mutated_line(source, &arm(2, 24)).unwrap(),
            "State::Quoted => 1,"
        );
        assert_eq!(
            mutated_line(source, &arm(3, 23)).unwrap(),
            "State::Plain => 2,"
        );
    }

    #[test]
    fn the_mutated_line_tells_apart_two_mutants_of_one_line() {
        let source = policy_source();
        let lines: Vec<String> = parse(include_str!("testdata/retry-list-cargo-mutants-27.json"))
            .unwrap()
            .iter()
            .filter(|m| m.replacement == "&&")
            .map(|m| mutated_line(&source, m).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "if ceiling >= self.max_delay || ceiling.is_zero() && self.factor <= 1 {",
                "if ceiling >= self.max_delay && ceiling.is_zero() || self.factor <= 1 {",
            ]
        );
    }

    #[test]
    fn sync_writes_only_what_differs_and_removes_the_rest() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("src")).unwrap();
        std::fs::write(from.path().join("Cargo.toml"), "[package]").unwrap();
        std::fs::write(from.path().join("src/lib.rs"), "fn a() {}").unwrap();
        std::fs::create_dir_all(from.path().join("target")).unwrap();
        std::fs::write(from.path().join("target/junk"), "x").unwrap();
        std::fs::create_dir_all(to.path().join("src")).unwrap();
        std::fs::write(to.path().join("src/lib.rs"), "fn a() {}").unwrap();
        std::fs::write(to.path().join("src/extra.rs"), "stale").unwrap();
        let before = std::fs::metadata(to.path().join("src/lib.rs"))
            .unwrap()
            .modified()
            .unwrap();

        sync_tree(from.path(), to.path()).unwrap();

        assert_eq!(
            std::fs::read_to_string(to.path().join("Cargo.toml")).unwrap(),
            "[package]"
        );
        assert!(!to.path().join("src/extra.rs").exists());
        assert!(!to.path().join("target").exists());
        let after = std::fs::metadata(to.path().join("src/lib.rs"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "an unchanged file is not rewritten");
    }

    #[test]
    fn two_slots_of_one_run_are_different_folders() {
        let base = tempfile::tempdir().unwrap();
        let reference = tempfile::tempdir().unwrap();
        std::fs::write(reference.path().join("Cargo.toml"), "[package]").unwrap();
        let first = Slot::acquire(base.path(), reference.path()).unwrap();
        let second = Slot::acquire(base.path(), reference.path()).unwrap();
        assert_ne!(first.dir(), second.dir());
        let first_dir = first.dir().to_owned();
        drop(first);
        let third = Slot::acquire(base.path(), reference.path()).unwrap();
        assert_eq!(third.dir(), first_dir, "a released slot is reused");
        assert!(third.dir().join("Cargo.toml").is_file());
    }
}
