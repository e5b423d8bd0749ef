//! Assertions that fail a check with a message for the candidate instead of panicking.
//!
//! Suites never use `assert!`: a panic is how *candidate* code crashes, and the report must be
//! able to tell "your code panicked" from "your code returned the wrong thing". These macros
//! `return Err(Failure)` from the enclosing check (or helper returning [`CheckResult`]), with the
//! expected and actual values rendered, and a unified diff for text.
//!
//! [`CheckResult`]: crate::CheckResult

use similar::TextDiff;

/// Fails the check with a formatted message: `fail!("saw {n} calls")`.
#[macro_export]
macro_rules! fail {
    (hint = $hint:expr, $($fmt:tt)+) => {
        return ::core::result::Result::Err(
            $crate::Failure::new(::std::format!($($fmt)+)).with_hint($hint),
        )
    };
    ($($fmt:tt)+) => {
        return ::core::result::Result::Err($crate::Failure::new(::std::format!($($fmt)+)))
    };
}

/// Fails the check unless `cond` holds: `ensure!(n <= limit, "{n} tasks ran at once")`.
///
/// An optional `hint = "…",` before the message attaches a hint.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, hint = $hint:expr, $($fmt:tt)+) => {
        if !$cond {
            $crate::fail!(hint = $hint, $($fmt)+);
        }
    };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $crate::fail!($($fmt)+);
        }
    };
}

/// Fails the check unless `actual == expected`, recording both (`{:#?}`-formatted).
///
/// `ensure_eq!(actual, expected, "message {}", args)`, optionally with `hint = "…",` before the
/// message. The order is actual first, expected second, as in the report.
#[macro_export]
macro_rules! ensure_eq {
    ($actual:expr, $expected:expr, hint = $hint:expr, $($fmt:tt)+) => {
        if let ::core::result::Result::Err(failure) =
            $crate::assert::compare(&$actual, &$expected, ::std::format!($($fmt)+))
        {
            return ::core::result::Result::Err(failure.with_hint($hint));
        }
    };
    ($actual:expr, $expected:expr, $($fmt:tt)+) => {
        $crate::assert::compare(&$actual, &$expected, ::std::format!($($fmt)+))?
    };
}

/// Fails the check unless two strings are equal, recording both and a line diff.
///
/// Same shape as [`ensure_eq!`]; use it wherever the values are text a person reads.
#[macro_export]
macro_rules! ensure_text_eq {
    ($actual:expr, $expected:expr, hint = $hint:expr, $($fmt:tt)+) => {
        if let ::core::result::Result::Err(failure) =
            $crate::assert::compare_text(&$actual, &$expected, ::std::format!($($fmt)+))
        {
            return ::core::result::Result::Err(failure.with_hint($hint));
        }
    };
    ($actual:expr, $expected:expr, $($fmt:tt)+) => {
        $crate::assert::compare_text(&$actual, &$expected, ::std::format!($($fmt)+))?
    };
}

/// The function behind [`ensure_eq!`]: `Ok` when equal, else a failure with both values.
pub fn compare<A, E>(actual: &A, expected: &E, message: String) -> crate::CheckResult
where
    A: PartialEq<E> + std::fmt::Debug + ?Sized,
    E: std::fmt::Debug + ?Sized,
{
    if actual == expected {
        return Ok(());
    }
    Err(crate::Failure::new(message)
        .with_expected(format!("{expected:#?}"))
        .with_actual(format!("{actual:#?}")))
}

/// The function behind [`ensure_text_eq!`]: `Ok` when equal, else both values and a diff.
pub fn compare_text(
    actual: &(impl AsRef<str> + ?Sized),
    expected: &(impl AsRef<str> + ?Sized),
    message: String,
) -> crate::CheckResult {
    let (actual, expected) = (actual.as_ref(), expected.as_ref());
    if actual == expected {
        return Ok(());
    }
    Err(crate::Failure::new(message)
        .with_expected(expected)
        .with_actual(actual)
        .with_diff(unified_diff(expected, actual)))
}

/// A unified line diff from `expected` to `actual`, headed `expected` / `actual`.
///
/// A missing final newline is its own difference and is shown as such, because in formats like
/// NDJSON it matters.
pub fn unified_diff(expected: &str, actual: &str) -> String {
    TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header("expected", "actual")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CheckResult;

    fn equal_numbers() -> CheckResult {
        ensure_eq!(4, 2 + 2, "sum");
        Ok(())
    }

    fn unequal_numbers() -> CheckResult {
        ensure_eq!(5, 2 + 2, hint = "add again", "sum of {} and {}", 2, 2);
        Ok(())
    }

    fn unequal_text() -> CheckResult {
        ensure_text_eq!("a\nB\nc\n", "a\nb\nc\n", "lines");
        Ok(())
    }

    fn condition(ok: bool) -> CheckResult {
        crate::ensure!(ok, hint = "try harder", "condition was {}", ok);
        Ok(())
    }

    #[test]
    fn ensure_eq_passes_when_equal() {
        assert_eq!(equal_numbers(), Ok(()));
    }

    #[test]
    fn ensure_eq_records_expected_actual_and_hint() {
        let failure = unequal_numbers().unwrap_err();
        assert_eq!(failure.message, "sum of 2 and 2");
        assert_eq!(failure.expected.as_deref(), Some("4"));
        assert_eq!(failure.actual.as_deref(), Some("5"));
        assert_eq!(failure.hint.as_deref(), Some("add again"));
    }

    #[test]
    fn ensure_text_eq_attaches_a_unified_diff() {
        let failure = unequal_text().unwrap_err();
        let diff = failure.diff.unwrap();
        assert!(diff.contains("--- expected"), "{diff}");
        assert!(diff.contains("-b\n+B\n"), "{diff}");
    }

    #[test]
    fn ensure_fails_only_when_false() {
        assert_eq!(condition(true), Ok(()));
        let failure = condition(false).unwrap_err();
        assert_eq!(failure.message, "condition was false");
        assert_eq!(failure.hint.as_deref(), Some("try harder"));
    }

    #[test]
    fn diff_marks_a_missing_final_newline() {
        let diff = unified_diff("a\n", "a");
        assert!(diff.contains("No newline at end of file"), "{diff}");
    }
}
