//! External services the grader provisions for a check (a real Redis, a Kafka-protocol
//! broker), as the check process sees them: connection details in the environment.
//!
//! Outside the grader (`cargo run -p <suite>` by hand) the defaults point at a server on its
//! standard local port, so a suite author can iterate against a locally running one.

use grade_protocol::{ENV_KAFKA_BROKERS, ENV_KEY_PREFIX, ENV_REDIS_URL};

/// The Redis server for this check: `GRADE_REDIS_URL`, else `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var(ENV_REDIS_URL).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The Kafka bootstrap servers for this check (`HOST:PORT[,HOST:PORT…]`, what a client's
/// `bootstrap.servers` takes): `GRADE_KAFKA_BROKERS`, else `127.0.0.1:9092`.
///
/// The broker may be shared with other checks, and with its owner: create topics named from
/// [`topic_prefix`] and delete them when the check ends.
pub fn kafka_brokers() -> String {
    std::env::var(ENV_KAFKA_BROKERS).unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// The prefix every key of this check must start with: `GRADE_KEY_PREFIX`, else one made from
/// the process id (unique enough by hand).
pub fn key_prefix() -> String {
    std::env::var(ENV_KEY_PREFIX).unwrap_or_else(|_| format!("grade:dev-{}:", std::process::id()))
}

/// The prefix every Kafka topic (and consumer group) of this check should start with: the
/// [`key_prefix`] with its `:` (not allowed in a topic name) turned into `.`, e.g.
/// `grade.4211-1a2b3c.offsets.commit.0.`. Every other character of it (letters, digits, `.`,
/// `_`, `-`) is allowed in a topic name.
pub fn topic_prefix() -> String {
    key_prefix().replace(':', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_prefixes_are_legal_topic_names() {
        let prefix = topic_prefix();
        assert!(prefix.starts_with("grade."), "{prefix}");
        assert!(
            prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{prefix}"
        );
    }
}
