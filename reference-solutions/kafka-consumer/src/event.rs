//! A payment event, as it travels on the topic.
//!
//! **Provided: do not change this file.** The grader produces events in this shape and reads
//! the `id` and `account` you store.
//!
//! ```json
//! {"id": "evt-5f1c", "account": "acct-17", "amount_cents": -1250}
//! ```
//!
//! The grader may add fields of its own (see `hook.rs`); they are not yours to read.

use serde::Deserialize;

use crate::hook::Plan;

/// One payment event: `amount_cents` is added to the balance of `account`, once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// Unique per event; a duplicate delivery carries the same id.
    pub id: String,
    /// The account whose balance changes; also the message key.
    pub account: String,
    /// Added to the balance (negative for a charge).
    pub amount_cents: i64,
    /// What the grader's processing hook does with this event.
    #[serde(default, flatten)]
    pub(crate) plan: Plan,
}

/// The payload is not an event, and never will be: dead-letter it at once.
#[derive(Debug, thiserror::Error)]
#[error("not a payment event: {0}")]
pub struct ParseError(#[from] serde_json::Error);

impl Event {
    /// Parses a message payload.
    pub fn parse(payload: &[u8]) -> Result<Self, ParseError> {
        let event: Self = serde_json::from_slice(payload)?;
        if event.id.is_empty() || event.account.is_empty() {
            return Err(ParseError(serde::de::Error::custom(
                "`id` and `account` must not be empty",
            )));
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_event_and_refuses_garbage() {
        let event = Event::parse(br#"{"id":"e1","account":"a","amount_cents":-5}"#).unwrap();
        assert_eq!(
            (
                event.id.as_str(),
                event.account.as_str(),
                event.amount_cents
            ),
            ("e1", "a", -5)
        );
        assert!(Event::parse(b"not json").is_err());
        assert!(Event::parse(br#"{"id":"","account":"a","amount_cents":1}"#).is_err());
    }
}
