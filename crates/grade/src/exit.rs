//! The grader's exit codes: part of its interface, documented in `--help` and the README.
//!
//! They follow nextest's lead: each way a run can end has its own code, so scripts and CI can
//! tell "your attempt is wrong" from "your attempt does not build" from "the grader broke".

/// Every check that ran passed (and for `verify`: every exercise is consistent).
pub const SUCCESS: i32 = 0;
/// At least one check failed, timed out, crashed or ran out of memory.
pub const CHECKS_FAILED: i32 = 1;
/// The attempt (or the suite against it) did not compile.
pub const BUILD_FAILED: i32 = 2;
/// The suite ran, but no check was selected or declared.
pub const NO_CHECKS: i32 = 3;
/// The grader itself could not run: bad arguments, unknown exercise, missing toolchain, a
/// missing service (stopped before building), I/O.
pub const GRADER_ERROR: i32 = 4;
/// Interrupted by Ctrl-C or SIGTERM; everything it started has been stopped.
pub const INTERRUPTED: i32 = 130;

/// The exit-code table as it appears at the end of `--help`.
pub const HELP_TABLE: &str = "\
Exit codes:
  0    every check passed
  1    some check failed, timed out, crashed or ran out of memory
  2    the attempt did not build
  3    no checks ran
  4    the grader itself failed (bad arguments, unknown exercise, missing toolchain
       or a service the exercise needs)
  130  interrupted (Ctrl-C / SIGTERM); nothing is left running";
