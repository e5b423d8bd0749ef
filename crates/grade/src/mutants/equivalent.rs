//! `tests/<exercise>/equivalent-mutants.toml`: the surviving mutants that no check can catch
//! because no behaviour changes, each with the reason why.
//!
//! A surviving mutant is either a missing check or a change nobody can observe (a
//! `saturating_add` that cannot saturate, a cap applied twice). The file is where the second
//! kind is written down, so that a sweep passes and a reviewer can judge each claim:
//!
//! ```toml
//! [[mutant]]
//! file = "src/policy.rs"               # relative to reference-solutions/<exercise>/
//! function = "Policy::ceiling"         # as cargo-mutants names it; omit outside any function
//! genre = "BinaryOperator"             # cargo-mutants' genre
//! replacement = "&&"                   # the text cargo-mutants puts in
//! context = "ceiling.is_zero() && self.factor"  # only when the above fit several mutants
//! why = "…"                            # mandatory: why no behaviour can change
//! ```
//!
//! An entry names a mutant by what it changes, not by line number: lines move with every edit
//! of the file above, and an entry must keep meaning the same mutant when they do. When two
//! mutants of one function make the same replacement (both `||` of one condition), `context`
//! says which: a fragment of the mutated line as it reads after the change, whitespace
//! squeezed. An entry that fits more than one mutant is *ambiguous* and explains none of them;
//! one that fits none (the code it described is gone) is *stale*. Both are reported, so the
//! file cannot quietly drift away from the code.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MutantsError;
use crate::mutants::apply::squeeze;

/// One explained mutant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The file, relative to the reference crate (`src/policy.rs`).
    pub file: String,
    /// The function, as cargo-mutants names it (`Policy::ceiling`); absent for a mutant
    /// outside any function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// cargo-mutants' genre (`FnValue`, `BinaryOperator`, …).
    pub genre: String,
    /// The replacement text.
    pub replacement: String,
    /// A fragment of the mutated line, to tell apart mutants that agree on everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Why no behaviour can change.
    pub why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default = "schema_one")]
    schema: u32,
    #[serde(default, rename = "mutant")]
    mutants: Vec<Entry>,
}

fn schema_one() -> u32 {
    1
}

/// The entries of one exercise's file.
#[derive(Debug, Clone)]
pub struct Equivalents {
    /// Where they were read from (whether or not the file exists).
    pub path: PathBuf,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

impl Equivalents {
    /// Reads `path`; a missing file has no entries.
    pub fn load(path: &Path) -> Result<Self, MutantsError> {
        let entries = match std::fs::read_to_string(path) {
            Ok(text) => parse(&text).map_err(|reason| MutantsError::Equivalents {
                path: path.to_owned(),
                reason,
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(MutantsError::Equivalents {
                    path: path.to_owned(),
                    reason: error.to_string(),
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }
}

/// Parses and validates the file's text.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let document: Document = toml::from_str(text).map_err(|e| e.to_string())?;
    if document.schema != 1 {
        return Err(format!(
            "schema {} is not supported (this grader reads schema 1)",
            document.schema
        ));
    }
    for (index, entry) in document.mutants.iter().enumerate() {
        let number = index + 1;
        if entry.why.trim().is_empty() {
            return Err(format!(
                "mutant #{number} ({} in {}) has an empty `why`: say why no behaviour can change, \
                 or add a check that catches it instead",
                entry.replacement, entry.file
            ));
        }
        if entry.file.trim().is_empty() || entry.genre.trim().is_empty() {
            return Err(format!("mutant #{number} needs a `file` and a `genre`"));
        }
    }
    Ok(document.mutants)
}

/// What an entry can see of a mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts<'a> {
    /// The file, relative to the reference crate.
    pub file: &'a str,
    /// The function, if any.
    pub function: Option<&'a str>,
    /// The genre.
    pub genre: &'a str,
    /// The replacement text.
    pub replacement: &'a str,
    /// The mutated line, whitespace squeezed (see [`crate::mutants::apply::mutated_line`]).
    pub line: &'a str,
}

impl Entry {
    /// Whether this entry describes the mutant.
    pub fn fits(&self, mutant: &Facts<'_>) -> bool {
        self.file == mutant.file
            && self.function.as_deref() == mutant.function
            && self.genre == mutant.genre
            && self.replacement == mutant.replacement
            && self
                .context
                .as_deref()
                .is_none_or(|context| mutant.line.contains(&squeeze(context)))
    }

    /// A one-line description for warnings: `&& in Policy::ceiling (src/policy.rs, BinaryOperator)`.
    pub fn describe(&self) -> String {
        let place = self.function.as_deref().unwrap_or("(outside any function)");
        let context = self
            .context
            .as_deref()
            .map(|c| format!(", context {c:?}"))
            .unwrap_or_default();
        format!(
            "{:?} in {place} ({}, {}{context})",
            self.replacement, self.file, self.genre
        )
    }
}

/// How a file's entries met a list of mutants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matching {
    /// For each mutant, the entry that explains it.
    pub explained_by: Vec<Option<usize>>,
    /// Entries that fit no mutant.
    pub stale: Vec<usize>,
    /// Entries that fit several mutants (which of them is meant cannot be told), with the
    /// indexes of those mutants.
    pub ambiguous: Vec<(usize, Vec<usize>)>,
}

/// Matches every entry against every mutant. Give it the *whole* list of the reference's
/// mutants, not a `--in-diff` subset, or entries of untouched code would look stale.
pub fn match_entries(entries: &[Entry], mutants: &[Facts<'_>]) -> Matching {
    let mut matching = Matching {
        explained_by: vec![None; mutants.len()],
        ..Matching::default()
    };
    for (index, entry) in entries.iter().enumerate() {
        let fits: Vec<usize> = mutants
            .iter()
            .enumerate()
            .filter(|(_, mutant)| entry.fits(mutant))
            .map(|(i, _)| i)
            .collect();
        match fits.as_slice() {
            [] => matching.stale.push(index),
            [one] => {
                matching.explained_by[*one].get_or_insert(index);
            }
            _ => matching.ambiguous.push((index, fits)),
        }
    }
    matching
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[mutant]]
file = "src/policy.rs"
function = "Policy::ceiling"
genre = "BinaryOperator"
replacement = "&&"
context = "ceiling.is_zero()   && self.factor"
why = "factor <= 1 already stops the loop when the ceiling is zero."

[[mutant]]
file = "src/lib.rs"
genre = "BinaryOperator"
replacement = "+"
why = "64 + 1024 and 64 * 1024 are both sizes no check can tell apart."
"#;

    fn facts<'a>(
        file: &'a str,
        function: Option<&'a str>,
        replacement: &'a str,
        line: &'a str,
    ) -> Facts<'a> {
        Facts {
            file,
            function,
            genre: "BinaryOperator",
            replacement,
            line,
        }
    }

    const FIRST_OR: &str =
        "if ceiling >= self.max_delay && ceiling.is_zero() || self.factor <= 1 {";
    const SECOND_OR: &str =
        "if ceiling >= self.max_delay || ceiling.is_zero() && self.factor <= 1 {";

    #[test]
    fn parses_entries_with_and_without_function_and_context() {
        let entries = parse(FILE).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].function.as_deref(), Some("Policy::ceiling"));
        assert_eq!(entries[1].function, None);
        assert_eq!(entries[1].context, None);
        assert_eq!(parse("").unwrap(), Vec::new());
        assert_eq!(parse("schema = 1\n").unwrap(), Vec::new());
    }

    #[test]
    fn why_is_mandatory_and_unknown_fields_are_refused() {
        let no_why = "[[mutant]]\nfile = \"a.rs\"\ngenre = \"FnValue\"\nreplacement = \"()\"\n";
        assert!(parse(no_why).unwrap_err().contains("why"));
        let empty_why = format!("{no_why}why = \"  \"\n");
        assert!(parse(&empty_why).unwrap_err().contains("empty `why`"));
        let line = format!("{no_why}why = \"x\"\nline = 46\n");
        assert!(parse(&line).unwrap_err().contains("line"));
        assert!(parse("schema = 2\n").unwrap_err().contains("schema 2"));
    }

    #[test]
    fn context_tells_apart_two_mutants_that_agree_on_everything_else() {
        let entries = parse(FILE).unwrap();
        let mutants = [
            facts("src/policy.rs", Some("Policy::ceiling"), "&&", FIRST_OR),
            facts("src/policy.rs", Some("Policy::ceiling"), "&&", SECOND_OR),
            facts(
                "src/lib.rs",
                None,
                "+",
                "const READ_CHUNK: usize = 64 + 1024;",
            ),
        ];
        let matching = match_entries(&entries, &mutants);
        assert_eq!(matching.explained_by, [None, Some(0), Some(1)]);
        assert!(matching.stale.is_empty() && matching.ambiguous.is_empty());
    }

    #[test]
    fn an_entry_fitting_several_mutants_explains_none() {
        let mut entries = parse(FILE).unwrap();
        entries[0].context = None;
        let mutants = [
            facts("src/policy.rs", Some("Policy::ceiling"), "&&", FIRST_OR),
            facts("src/policy.rs", Some("Policy::ceiling"), "&&", SECOND_OR),
        ];
        let matching = match_entries(&entries[..1], &mutants);
        assert_eq!(matching.explained_by, [None, None]);
        assert_eq!(matching.ambiguous, [(0, vec![0, 1])]);
    }

    #[test]
    fn an_entry_fitting_nothing_is_stale() {
        let entries = parse(FILE).unwrap();
        // The function was renamed, and the second entry's file has no such mutant.
        let mutants = [facts("src/policy.rs", Some("Policy::cap"), "&&", SECOND_OR)];
        let matching = match_entries(&entries, &mutants);
        assert_eq!(matching.explained_by, [None]);
        assert_eq!(matching.stale, [0, 1]);
    }

    #[test]
    fn genre_and_function_must_agree_too() {
        let entry = &parse(FILE).unwrap()[1];
        let mut mutant = facts("src/lib.rs", None, "+", "x");
        assert!(entry.fits(&mutant));
        mutant.genre = "FnValue";
        assert!(!entry.fits(&mutant));
        mutant.genre = "BinaryOperator";
        mutant.function = Some("read_chunk");
        assert!(!entry.fits(&mutant));
    }

    #[test]
    fn a_missing_file_has_no_entries() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = Equivalents::load(&dir.path().join("equivalent-mutants.toml")).unwrap();
        assert!(loaded.entries.is_empty());
        std::fs::write(dir.path().join("bad.toml"), "[[mutant]]\nfile = 3\n").unwrap();
        let error = Equivalents::load(&dir.path().join("bad.toml")).unwrap_err();
        assert!(error.to_string().contains("bad.toml"), "{error}");
    }
}
