//! Memory measurement from inside a check process.
//!
//! Each check runs in a fresh process, so the process's peak resident set size is the peak of
//! that one check (plus the suite's small fixed overhead). That is what "bounded memory"
//! criteria are judged on.

/// The peak resident set size of this process so far, in bytes.
///
/// Uses `getrusage(RUSAGE_SELF)`, which reports kibibytes on Linux and bytes on macOS.
pub fn peak_rss_bytes() -> Option<u64> {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).ok()?;
    let max_rss = u64::try_from(usage.max_rss()).ok()?;
    Some(if cfg!(target_os = "macos") {
        max_rss
    } else {
        max_rss * 1024
    })
}

/// Formats a byte count for a report: `87.3 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_reported_and_plausible() {
        let peak = peak_rss_bytes().expect("getrusage works on unix");
        assert!(
            peak > 1024 * 1024,
            "a running test binary uses more than 1 MiB: {peak}"
        );
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100 * 1024 * 1024), "100.0 MiB");
    }
}
