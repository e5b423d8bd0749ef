//! The business logic that runs before an event's effect: the grader's processing hook.
//!
//! **Provided: do not change this file.** In a real service this is where validation, a fraud
//! check or a call to another service would go. Here the grader decides, per event, how long
//! [`process`] takes and whether it fails, through fields it adds to the payload:
//!
//! - `"hold_ms": N`: processing takes `N` milliseconds (a slow dependency);
//! - `"fail": "always"`: every attempt fails (a poison message);
//! - `"fail": N`: the first `N` attempts for this event id in this process fail, later ones
//!   succeed (a transient failure).
//!
//! Every call is written as one JSON line to the file named by the `GRADE_HOOK_EVENTS`
//! environment variable, when it is set, so the grader can see each attempt and when it
//! happened:
//!
//! ```text
//! {"at_us":1767225600000000,"id":"evt-1","attempt":1,"ok":false}
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::Event;

/// What the grader asked of one event (absent fields: instant success).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Plan {
    #[serde(default)]
    hold_ms: u64,
    #[serde(default)]
    fail: Option<Fail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Fail {
    Times(u32),
    Always(Always),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Always {
    Always,
}

/// Processing an event failed; it may succeed if you try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("processing event {id} failed (attempt {attempt})")]
pub struct ProcessingError {
    /// The event's id.
    pub id: String,
    /// Which attempt, in this process, failed (from 1).
    pub attempt: u32,
}

/// Runs the business logic for `event`: takes `hold_ms`, then succeeds or fails as planned.
/// Call it once per attempt.
pub async fn process(event: &Event) -> Result<(), ProcessingError> {
    let attempt = next_attempt(&event.id);
    if event.plan.hold_ms > 0 {
        tokio::time::sleep(Duration::from_millis(event.plan.hold_ms)).await;
    }
    let ok = match &event.plan.fail {
        None => true,
        Some(Fail::Always(Always::Always)) => false,
        Some(Fail::Times(times)) => attempt > *times,
    };
    record(&event.id, attempt, ok);
    if ok {
        Ok(())
    } else {
        Err(ProcessingError {
            id: event.id.clone(),
            attempt,
        })
    }
}

/// Counts attempts per event id, in this process.
fn next_attempt(id: &str) -> u32 {
    static ATTEMPTS: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    let mut attempts = ATTEMPTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let attempt = attempts.entry(id.to_owned()).or_insert(0);
    *attempt += 1;
    *attempt
}

/// Appends one line to the hook's events file, unbuffered, so a killed process loses nothing.
fn record(id: &str, attempt: u32, ok: bool) {
    static EVENTS: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    let events = EVENTS.get_or_init(|| {
        let path = std::env::var_os("GRADE_HOOK_EVENTS")?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        Some(Mutex::new(file))
    });
    if let Some(file) = events {
        let at_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let line = serde_json::json!({"at_us": at_us, "id": id, "attempt": attempt, "ok": ok});
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        // One write per line: lines from concurrent attempts never interleave.
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plans_decide_success_and_failure() {
        let transient =
            Event::parse(br#"{"id":"t","account":"a","amount_cents":1,"fail":2}"#).unwrap();
        assert!(process(&transient).await.is_err());
        assert!(process(&transient).await.is_err());
        assert!(process(&transient).await.is_ok());
        let poison =
            Event::parse(br#"{"id":"p","account":"a","amount_cents":1,"fail":"always"}"#).unwrap();
        for _ in 0..5 {
            assert!(process(&poison).await.is_err());
        }
        let plain = Event::parse(br#"{"id":"ok","account":"a","amount_cents":1}"#).unwrap();
        assert!(process(&plain).await.is_ok());
    }
}
