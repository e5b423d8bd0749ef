//! End-to-end tests: the real `grade` binary over the real exercises and fixture attempts.
//!
//! One integration binary (as ripgrep does) so the suite links once. Every test drives
//! `grade` as a user would, with `GRADE_ROOT` pointing at this checkout and `NO_COLOR` set,
//! and asserts on its exit code and its report.
//!
//! # Layout
//! - `util`: running the binary, reading fixtures, materialising fixture attempts.
//! - `cli`: arguments, errors and exit codes.
//! - `exercises`: every reference scores 100%, every stub fails (`grade verify`), and every
//!   fixture attempt fails exactly the checks it says it fails.
//! - `hostile`: attempts that loop, deadlock, abort, overflow, eat memory or leave children.
//! - `reports`: snapshots of the human and JUnit reports, JSON against its schema.
//! - `services`: Redis provisioned by the grader (`doctor`, teardown, a user's server).
//! - `mutants`: `grade mutants` with the real cargo-mutants: an `--in-diff` sweep of the retry
//!   reference, an empty diff, cargo-mutants missing.
//! - `practice`: the practice loop (`start` and the clock, `hint`, `reset` and backups,
//!   `solution`, `list` / `progress`, completions, `watch` in a pseudo-terminal), each test in a
//!   temporary copy of the checkout.

mod cli;
mod exercises;
mod hostile;
mod mutants;
mod practice;
mod reports;
mod services;
mod util;
