//! Which file events matter to `grade watch`, and how a burst of them becomes one re-grade.
//!
//! One save is rarely one event: editors write a temporary file and rename it, touch a swap
//! file, write twice; `cargo fmt` rewrites every file. Grading on each would start and cancel
//! builds for nothing. The [`Debouncer`] waits until the events have been quiet for
//! [`QUIET`] (short enough that a save feels instant) and then fires once, with every path
//! that changed; a stream that never goes quiet still fires after [`MAX_WAIT`].
//!
//! Paths that cannot change the grade are ignored outright: build output, the exercise's
//! metadata and prompt, hidden files and the temporary files editors leave around.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::EventKind;
use notify::event::{AccessKind, AccessMode, ModifyKind};

use super::files::is_attempt_path;

/// How long events must be quiet before a re-grade starts.
pub const QUIET: Duration = Duration::from_millis(200);

/// The longest a re-grade waits for quiet after the first event of a burst.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// Whether an event of this kind can mean new contents. Reads, opens and metadata changes
/// (the grader's own build reads every file) cannot.
pub fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

/// Whether a change to `relative` (inside the exercise folder) should trigger a re-grade.
pub fn is_relevant(relative: &Path) -> bool {
    if !is_attempt_path(relative) {
        return false;
    }
    relative.components().all(|component| {
        let name = component.as_os_str().to_string_lossy();
        !is_hidden_or_temporary(&name)
    })
}

/// Hidden files and folders (`.git`, vim's `.lib.rs.swp`, emacs' `.#lib.rs`) and the other
/// temporaries editors write next to the file they save.
fn is_hidden_or_temporary(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913" // vim probes whether it may write in a folder with this file
        || name.contains("___jb_") // JetBrains' safe write
        || [".swp", ".swo", ".swx", ".tmp", ".bak", ".crswap", ".kate-swp"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// Folds a burst of relevant changes into one trigger.
#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    max_wait: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    changed: BTreeSet<PathBuf>,
}

impl Debouncer {
    /// A debouncer with the given quiet period and maximum wait.
    pub fn new(quiet: Duration, max_wait: Duration) -> Self {
        Self {
            quiet,
            max_wait,
            first: None,
            last: None,
            changed: BTreeSet::new(),
        }
    }

    /// Records a change to `path` at `at`.
    pub fn event(&mut self, path: PathBuf, at: Instant) {
        self.first.get_or_insert(at);
        self.last = Some(at);
        self.changed.insert(path);
    }

    /// When the pending burst fires, if one is pending.
    pub fn deadline(&self) -> Option<Instant> {
        Some((self.last? + self.quiet).min(self.first? + self.max_wait))
    }

    /// The changed paths, once the burst's deadline has passed at `now`.
    pub fn fire(&mut self, now: Instant) -> Option<Vec<PathBuf>> {
        if self.deadline()? > now {
            return None;
        }
        self.first = None;
        self.last = None;
        Some(std::mem::take(&mut self.changed).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind};

    #[test]
    fn source_changes_count_and_noise_does_not() {
        for path in [
            "src/lib.rs",
            "src/policy.rs",
            "Cargo.toml",
            "src/nested/x.rs",
        ] {
            assert!(is_relevant(Path::new(path)), "{path}");
        }
        for path in [
            "target/debug/x",
            "src/.lib.rs.swp",
            "src/lib.rs~",
            "src/.#lib.rs",
            "src/#lib.rs#",
            "src/4913",
            "src/lib.rs___jb_tmp___",
            ".git/index",
            "README.md",
            "exercise.toml",
        ] {
            assert!(!is_relevant(Path::new(path)), "{path}");
        }
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Content
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
    }

    #[test]
    fn a_burst_fires_once_after_it_goes_quiet() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut debouncer = Debouncer::new(ms(200), ms(1000));
        assert_eq!(debouncer.fire(start), None);
        debouncer.event("src/lib.rs".into(), start);
        debouncer.event("src/a.rs".into(), start + ms(150));
        debouncer.event("src/lib.rs".into(), start + ms(300));
        assert_eq!(debouncer.fire(start + ms(450)), None);
        assert_eq!(
            debouncer.fire(start + ms(500)),
            Some(vec![PathBuf::from("src/a.rs"), PathBuf::from("src/lib.rs")])
        );
        assert_eq!(debouncer.fire(start + ms(5000)), None);
    }

    #[test]
    fn a_stream_that_never_goes_quiet_still_fires() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut debouncer = Debouncer::new(ms(200), ms(1000));
        for step in 0..10 {
            debouncer.event("src/lib.rs".into(), start + ms(step * 100));
        }
        assert_eq!(debouncer.deadline(), Some(start + ms(1000)));
        assert!(debouncer.fire(start + ms(1000)).is_some());
    }
}
