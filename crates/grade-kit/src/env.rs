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

/// The path of one of the attempt's own binaries (`src/main.rs` is named after the package,
/// `src/bin/<name>.rs` after its file), for checks that run the attempt as a real process.
///
/// The grader builds the attempt's binaries with the suite and places them next to the suite
/// executable. By hand (`cargo run -p <suite>`), build them first with `cargo build -p
/// <exercise>`: they are then found in the same target folder.
pub fn attempt_bin(name: &str) -> Result<PathBuf, crate::Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| crate::Failure::new(format!("cannot locate the suite executable: {e}")))?;
    let path = exe.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(
            crate::Failure::new(format!("the attempt's binary `{name}` was not built"))
                .with_expected(path.display().to_string())
                .with_hint(
                    "keep the exercise's src/main.rs (or src/bin/) and its package name as given",
                ),
        )
    }
}
