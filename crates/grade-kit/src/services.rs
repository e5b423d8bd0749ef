//! External services the grader provisions for a check (a real Redis, later Kafka or
//! PostgreSQL), as the check process sees them: connection details in the environment.
//!
//! Outside the grader (`cargo run -p <suite>` by hand) the defaults point at a server on its
//! standard local port, so a suite author can iterate against a locally running one.

use grade_protocol::{ENV_KEY_PREFIX, ENV_REDIS_URL};

/// The Redis server for this check: `GRADE_REDIS_URL`, else `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var(ENV_REDIS_URL).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The prefix every key of this check must start with: `GRADE_KEY_PREFIX`, else one made from
/// the process id (unique enough by hand).
pub fn key_prefix() -> String {
    std::env::var(ENV_KEY_PREFIX).unwrap_or_else(|_| format!("grade:dev-{}:", std::process::id()))
}
