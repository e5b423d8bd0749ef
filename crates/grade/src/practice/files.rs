//! The files of an attempt, as one value: read them, compare them, put a set of them in place.
//!
//! An attempt is everything under `exercises/<slug>/` except what belongs to the exercise
//! rather than to the candidate: `exercise.toml` (the metadata the grader reads), `README.md`
//! (the prompt), `spec.toml` (the prompt's spec trace) and `target/` (build output). Backups, the stub and restores all speak in
//! these terms, so "reset" and "restore" mean the same thing for every file: the attempt
//! becomes exactly the given set, files the candidate added included (they are in the backup
//! taken just before). Symbolic links are neither followed nor touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{GradeError, io};

/// An attempt's files: path relative to the exercise folder → contents.
pub type Files = BTreeMap<PathBuf, Vec<u8>>;

/// The top-level files of an exercise folder that belong to the exercise, not the attempt: the
/// metadata, the prompt and the prompt's spec trace.
pub const EXERCISE_FILES: [&str; 3] = ["exercise.toml", "README.md", crate::trace::FILE];

/// Whether `relative` (inside an exercise folder) belongs to the candidate's attempt.
pub fn is_attempt_path(relative: &Path) -> bool {
    let mut components = relative.components();
    let first = components.next().map(|c| c.as_os_str());
    let top_level_file = components.next().is_none();
    match first {
        None => false,
        Some(name) if name == "target" => false,
        Some(name) if top_level_file && EXERCISE_FILES.iter().any(|file| name == *file) => false,
        Some(_) => true,
    }
}

/// Relative paths of the regular files under `dir`, sorted.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>, GradeError> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let path = dir.join(&relative);
        for entry in std::fs::read_dir(&path).map_err(io("cannot read", &path))? {
            let entry = entry.map_err(io("cannot read", &path))?;
            let kind = entry.file_type().map_err(io("cannot read", entry.path()))?;
            let child = relative.join(entry.file_name());
            if kind.is_dir() {
                if is_attempt_path(&child) {
                    pending.push(child);
                }
            } else if kind.is_file() {
                found.push(child);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads the attempt in `dir`.
pub fn read_attempt(dir: &Path) -> Result<Files, GradeError> {
    let mut files = Files::new();
    for relative in walk(dir)?.into_iter().filter(|path| is_attempt_path(path)) {
        let path = dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(io("cannot read", &path))?;
        files.insert(relative, bytes);
    }
    Ok(files)
}

/// What [`apply`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Files written (new or with new contents).
    pub written: usize,
    /// Files removed because `files` did not have them.
    pub removed: usize,
}

/// Makes the attempt in `dir` exactly `files`: writes what differs, removes attempt files that
/// `files` lacks (and folders left empty by that). Never touches non-attempt paths.
pub fn apply(dir: &Path, files: &Files) -> Result<Changes, GradeError> {
    let mut changes = Changes::default();
    for relative in walk(dir)?
        .into_iter()
        .filter(|path| is_attempt_path(path) && !files.contains_key(path))
    {
        let path = dir.join(&relative);
        std::fs::remove_file(&path).map_err(io("cannot remove", &path))?;
        changes.removed += 1;
        // Remove folders this left empty, up to (not including) the exercise folder;
        // `remove_dir` refuses non-empty ones, which ends the climb.
        let mut parent = relative.parent();
        while let Some(folder) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if std::fs::remove_dir(dir.join(folder)).is_err() {
                break;
            }
            parent = folder.parent();
        }
    }
    for (relative, bytes) in files {
        let path = dir.join(relative);
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        }
        std::fs::write(&path, bytes).map_err(io("cannot write", &path))?;
        changes.written += 1;
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, relative: &str, text: &str) {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_attempt_excludes_metadata_prompt_and_build_output() {
        assert!(is_attempt_path(Path::new("src/lib.rs")));
        assert!(is_attempt_path(Path::new("Cargo.toml")));
        assert!(is_attempt_path(Path::new("src/README.md")));
        assert!(!is_attempt_path(Path::new("README.md")));
        assert!(!is_attempt_path(Path::new("exercise.toml")));
        assert!(!is_attempt_path(Path::new("spec.toml")));
        assert!(!is_attempt_path(Path::new("target/debug/x")));
    }

    #[test]
    fn apply_makes_the_attempt_exactly_the_given_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "exercise.toml", "meta");
        write(root, "README.md", "prompt");
        write(root, "target/x", "build");
        write(root, "src/lib.rs", "mine");
        write(root, "src/extra/deep.rs", "added by me");
        let before = read_attempt(root).unwrap();
        assert_eq!(before.len(), 2);

        let mut stub = Files::new();
        stub.insert("src/lib.rs".into(), b"stub".to_vec());
        stub.insert("Cargo.toml".into(), b"[package]".to_vec());
        let changes = apply(root, &stub).unwrap();
        assert_eq!(
            changes,
            Changes {
                written: 2,
                removed: 1
            }
        );
        assert_eq!(read_attempt(root).unwrap(), stub);
        assert!(!root.join("src/extra").exists(), "emptied folders go too");
        for untouched in ["exercise.toml", "README.md", "target/x"] {
            assert!(root.join(untouched).is_file(), "{untouched} must stay");
        }

        assert_eq!(apply(root, &before).unwrap().removed, 1);
        assert_eq!(read_attempt(root).unwrap(), before);
    }
}
