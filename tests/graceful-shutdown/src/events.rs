//! The pool's events file: one JSON object per line, written by the exercise's `pool.rs`.

use std::path::Path;

/// One event of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `open`, `acquire`, `release`, `close` or `refused`.
    pub kind: String,
    /// The connection's number (0 for events of the pool itself).
    pub conn: u64,
}

impl Event {
    /// `acquire #3`, `close`.
    pub fn label(&self) -> String {
        if self.conn == 0 {
            self.kind.clone()
        } else {
            format!("{} #{}", self.kind, self.conn)
        }
    }
}

/// The events recorded so far, in order; missing file or a half-written last line are skipped.
pub fn read(path: &Path) -> Vec<Event> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|value| {
            Some(Event {
                kind: value.get("event")?.as_str()?.to_owned(),
                conn: value.get("conn")?.as_u64()?,
            })
        })
        .collect()
}

/// How many connections are on loan after `events`.
pub fn in_use(events: &[Event]) -> usize {
    let acquired = events
        .iter()
        .filter(|event| event.kind == "acquire")
        .count();
    let released = events
        .iter()
        .filter(|event| event.kind == "release")
        .count();
    acquired.saturating_sub(released)
}
