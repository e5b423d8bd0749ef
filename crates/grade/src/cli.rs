//! Command-line arguments. The doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cargo grade list                        every exercise, its budget and your last result
  cargo grade task-runner                 grade your attempt in exercises/task-runner
  cargo grade retry --check jitter        run only the checks of one criterion
  cargo grade retry --reference           grade the reference solution
  cargo grade retry --attempt ~/my-retry  grade an attempt crate stored elsewhere
  cargo grade retry --format json -o r.json
  cargo grade verify                      references pass, stubs fail, metadata is consistent";

/// Graded coding exercises for senior backend engineers.
///
/// Builds your attempt at an exercise, runs its acceptance suite (each check in its own
/// process, with a time limit and a memory cap) and prints a report with a score per
/// acceptance criterion.
#[derive(Debug, Parser)]
#[command(
    name = "grade",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = format!("{EXAMPLES}\n\n{}", crate::exit::HELP_TABLE),
)]
pub struct Cli {
    /// The exercise to grade (see `grade list`).
    #[arg(value_name = "EXERCISE", required = true)]
    pub exercise: Option<String>,

    #[command(flatten)]
    pub grade: GradeArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// When to use colours: `auto` respects NO_COLOR and whether output is a terminal.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every exercise with its time budget, number of checks and your last result.
    List,
    /// Check the exercises themselves: each reference scores 100%, each stub builds
    /// clippy-clean and fails every check, and the metadata matches the suite. CI runs this.
    Verify(VerifyArgs),
}

/// Options of `grade verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Exercises to verify (default: all).
    #[arg(value_name = "EXERCISE")]
    pub exercises: Vec<String>,

    /// Checks run at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Multiply every check's time limit by this factor (for slow machines).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub timeout_scale: f64,
}

/// Options for grading an exercise.
#[derive(Debug, Args)]
pub struct GradeArgs {
    /// Grade the reference solution instead of your attempt.
    #[arg(long, conflicts_with = "attempt")]
    pub reference: bool,

    /// Grade the attempt crate in DIR (a submission, a copy, a fixture) instead of
    /// exercises/<EXERCISE>. Nothing is written into DIR.
    #[arg(long, value_name = "DIR")]
    pub attempt: Option<PathBuf>,

    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Checks run at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Run only these checks: a check id (`order.matches_input`) or a criterion id (`order`).
    /// Repeat the flag for more.
    #[arg(long = "check", short = 'c', value_name = "ID")]
    pub checks: Vec<String>,

    /// Run each check N times and report those whose outcome varies as flaky.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,

    /// Multiply every check's time limit by this factor (for slow machines).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub timeout_scale: f64,

    /// Resident memory cap per check, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub memory_limit: u64,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: criteria, checks, failures with expected/actual, diffs and hints.
    Human,
    /// Versioned JSON (schema: crates/grade/schema/report.v1.json).
    Json,
    /// JUnit XML, for CI test reports.
    Junit,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_exercise_or_a_subcommand_is_required() {
        assert!(Cli::try_parse_from(["grade"]).is_err());
        assert!(Cli::try_parse_from(["grade", "list"]).is_ok());
        let cli =
            Cli::try_parse_from(["grade", "retry", "--check", "jitter", "-c", "cap"]).unwrap();
        assert_eq!(cli.exercise.as_deref(), Some("retry"));
        assert_eq!(cli.grade.checks, ["jitter", "cap"]);
    }

    #[test]
    fn reference_and_attempt_conflict() {
        assert!(Cli::try_parse_from(["grade", "retry", "--reference", "--attempt", "x"]).is_err());
    }
}
