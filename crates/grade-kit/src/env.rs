//! What the grader tells a check process through its environment.

use std::path::PathBuf;
use std::time::Duration;

use grade_protocol::{ENV_SCRATCH_DIR, ENV_TIMEOUT_SCALE};

/// The grader's `--timeout-scale` (1.0 when run outside the grader).
pub fn timeout_scale() -> f64 {
    std::env::var(ENV_TIMEOUT_SCALE)
        .ok()
        .and_then(|value| value.parse::<f64>().ok())
        .filter(|scale| scale.is_finite() && *scale > 0.0)
        .unwrap_or(1.0)
}

/// `limit` stretched by [`timeout_scale`], for waits on real time.
pub fn scaled(limit: Duration) -> Duration {
    limit.mul_f64(timeout_scale())
}

/// A private scratch directory for this check, removed by the grader afterwards.
///
/// Outside the grader it falls back to the system temp directory.
pub fn scratch_dir() -> PathBuf {
    std::env::var_os(ENV_SCRATCH_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}
