//! Timestamped backups of an attempt, in `.grade/backups/<slug>/<ID>/`.
//!
//! Each backup is a folder named by its UTC creation time (`20250314-093005`, with `-2`, `-3`
//! appended when two land in the same second) holding `backup.json` (when, why, which files)
//! and `files/` (the attempt's files, as they were). A backup is written under a `.partial`
//! name and renamed into place once complete, so a crash mid-copy never leaves something that
//! looks like a usable backup. Backups are never deleted by the grader.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::Files;
use crate::error::{GradeError, PracticeError, did_you_mean, io};

/// What `backup.json` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The backup's ID (its folder name); not stored in the file.
    #[serde(skip)]
    pub id: String,
    /// When it was taken, in seconds since the Unix epoch.
    pub created_unix: u64,
    /// Why: "before reset", "before restoring 20250314-093005".
    pub reason: String,
    /// The files it holds, relative to the exercise folder.
    pub files: Vec<PathBuf>,
}

/// The backups of one exercise.
pub struct Backups {
    dir: PathBuf,
    slug: String,
}

impl Backups {
    /// The backups of `slug` under the state folder `.grade/`.
    pub fn new(state_dir: &Path, slug: &str) -> Self {
        Self {
            dir: state_dir.join("backups").join(slug),
            slug: slug.to_owned(),
        }
    }

    /// The folder of backup `id`.
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Every complete backup, oldest first.
    pub fn list(&self) -> Result<Vec<BackupInfo>, GradeError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io("cannot read", &self.dir)(error)),
        };
        let mut backups = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Ok(id) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(entry.path().join("backup.json")) else {
                continue; // a `.partial` folder, or something that is not ours
            };
            if let Ok(mut info) = serde_json::from_str::<BackupInfo>(&text) {
                info.id = id;
                backups.push(info);
            }
        }
        backups.sort_by(|a, b| (a.created_unix, &a.id).cmp(&(b.created_unix, &b.id)));
        Ok(backups)
    }

    /// Backs up `files` at `now` for `reason`.
    pub fn create(&self, files: &Files, reason: &str, now: u64) -> Result<BackupInfo, GradeError> {
        std::fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        let stamp = timestamp_id(now);
        let id = (1..)
            .map(|n| {
                if n == 1 {
                    stamp.clone()
                } else {
                    format!("{stamp}-{n}")
                }
            })
            .find(|id| !self.dir.join(id).exists())
            .expect("some suffix is free");
        let partial = self.dir.join(format!("{id}.partial"));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(io("cannot remove", &partial))?;
        }
        for (relative, bytes) in files {
            let path = partial.join("files").join(relative);
            let parent = path.parent().expect("a file has a parent");
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
            std::fs::write(&path, bytes).map_err(io("cannot write", &path))?;
        }
        let info = BackupInfo {
            id: id.clone(),
            created_unix: now,
            reason: reason.to_owned(),
            files: files.keys().cloned().collect(),
        };
        std::fs::create_dir_all(&partial).map_err(io("cannot create", &partial))?;
        let manifest = partial.join("backup.json");
        let text = serde_json::to_string_pretty(&info).expect("a backup manifest serialises");
        std::fs::write(&manifest, text).map_err(io("cannot write", &manifest))?;
        let done = self.dir.join(&id);
        std::fs::rename(&partial, &done).map_err(io("cannot write", &done))?;
        Ok(info)
    }

    /// The files of backup `id`; an unknown ID is an error with the closest one suggested.
    pub fn load(&self, id: &str) -> Result<(BackupInfo, Files), GradeError> {
        let backups = self.list()?;
        let Some(info) = backups.iter().find(|b| b.id == id).cloned() else {
            return Err(PracticeError::UnknownBackup {
                exercise: self.slug.clone(),
                id: id.to_owned(),
                suggestion: did_you_mean(id, backups.iter().map(|b| b.id.as_str())),
            }
            .into());
        };
        let root = self.dir.join(id).join("files");
        let mut files = Files::new();
        for relative in &info.files {
            let path = root.join(relative);
            let bytes = std::fs::read(&path).map_err(io("cannot read", &path))?;
            files.insert(relative.clone(), bytes);
        }
        Ok((info, files))
    }
}

/// `YYYYMMDD-HHMMSS` in UTC for a Unix time.
pub fn timestamp_id(unix: u64) -> String {
    let (year, month, day, hour, minute, second) = utc(unix);
    format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}{second:02}")
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time.
pub fn utc_text(unix: u64) -> String {
    let (year, month, day, hour, minute, second) = utc(unix);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

/// Calendar date and time in UTC (Howard Hinnant's days-to-civil algorithm), so no date
/// library is needed for a timestamp.
fn utc(unix: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX);
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_times() {
        assert_eq!(timestamp_id(0), "19700101-000000");
        assert_eq!(timestamp_id(951_782_400), "20000229-000000");
        assert_eq!(timestamp_id(1_741_944_605), "20250314-093005");
        assert_eq!(utc_text(1_741_944_605), "2025-03-14 09:30:05 UTC");
    }

    #[test]
    fn backups_round_trip_and_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let backups = Backups::new(dir.path(), "retry");
        assert!(backups.list().unwrap().is_empty());
        let mut files = Files::new();
        files.insert("src/lib.rs".into(), b"attempt one".to_vec());
        let first = backups
            .create(&files, "before reset", 1_741_944_605)
            .unwrap();
        files.insert("src/lib.rs".into(), b"attempt two".to_vec());
        let second = backups
            .create(&files, "before reset", 1_741_944_605)
            .unwrap();
        assert_eq!(first.id, "20250314-093005");
        assert_eq!(second.id, "20250314-093005-2");
        let ids: Vec<String> = backups.list().unwrap().into_iter().map(|b| b.id).collect();
        assert_eq!(ids, [first.id.clone(), second.id.clone()]);
        assert_eq!(
            backups.load(&first.id).unwrap().1[Path::new("src/lib.rs")],
            b"attempt one"
        );

        let error = backups.load("20250314-093006").unwrap_err().to_string();
        assert!(error.contains("did you mean `20250314-093005`"), "{error}");
    }
}
