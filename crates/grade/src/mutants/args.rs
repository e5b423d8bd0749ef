//! Arguments of `grade mutants`. The doc comments here, and the text after the options, are
//! its `--help`; the subcommand itself is declared in `cli.rs`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::ServiceArgs;

/// Options of `grade mutants`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each mutant ends as one of:
  caught      some check failed, timed out, crashed or ran out of memory: the suite noticed
  survived    every check passed: a missing check, or a change no behaviour can reveal
  equivalent  a survivor explained in tests/<EXERCISE>/equivalent-mutants.toml (with a `why`)
  unviable    the mutant did not build, so it says nothing about the suite

For each survivor, add a check that fails on it, or, if no behaviour can change, an entry:
  [[mutant]]
  file = \"src/policy.rs\"          # relative to reference-solutions/<EXERCISE>/
  function = \"Policy::ceiling\"    # as cargo-mutants names it
  genre = \"BinaryOperator\"
  replacement = \"&&\"
  context = \"ceiling.is_zero() && self.factor\"  # only if several mutants fit the rest
  why = \"the reason no input can tell this mutant from the reference\"
The report prints the entry to start from; README.md describes every field.

Examples:
  cargo grade mutants retry                      every mutant of the retry reference
  cargo grade mutants retry --format json -o tests/retry/mutants.json
                                                 a full sweep, recorded for CI
  cargo grade mutants retry --in-diff <(git diff main -- reference-solutions/retry)
                                                 only mutants in lines the diff touches

Exit codes:
  0    no mutant survived unexplained
  1    some mutant survived, and equivalent-mutants.toml does not explain it
  4    the sweep could not run: cargo-mutants is missing (cargo install cargo-mutants
       --locked), the reference fails its own suite, bad arguments
  130  interrupted (Ctrl-C / SIGTERM); nothing is left running")]
pub struct MutantsArgs {
    /// The exercise whose acceptance suite is measured (see `grade list`).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,

    /// Grade only the mutants in lines this unified diff touches (cargo-mutants' `--in-diff`),
    /// e.g. `<(git diff main -- reference-solutions/retry)`. Paths in the diff are relative to
    /// the checkout's root, as `git diff` writes them.
    #[arg(long, value_name = "FILE")]
    pub in_diff: Option<PathBuf>,

    /// Report format: `human`, or versioned `json` (what `tests/<EXERCISE>/mutants.json`
    /// records).
    #[arg(long, short = 'f', value_enum, default_value_t = MutantsFormat::Human)]
    pub format: MutantsFormat,

    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Mutants graded at once, each in its own copy of the reference (default: the number of
    /// cores). Builds take turns on the grader's build lock, so a second grading mostly
    /// overlaps one mutant's checks with the next one's build.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Multiply every check's time limit by this factor (for slow machines).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub timeout_scale: f64,

    #[command(flatten)]
    pub services: ServiceArgs,
}

/// Formats of the `grade mutants` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MutantsFormat {
    /// For people: counts, then each survivor's diff and what to do about it.
    Human,
    /// Versioned JSON (schema: crates/grade/schema/mutants.v1.json).
    Json,
}
