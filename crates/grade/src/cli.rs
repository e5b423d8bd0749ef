//! Command-line arguments. The doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::practice::args::{
    CompletionsArgs, HintArgs, ProgressArgs, ResetArgs, SolutionArgs, StartArgs, WatchArgs,
};

const EXAMPLES: &str = "\
Examples:
  cargo grade list                        every exercise, its budget and your last result
  cargo grade task-runner                 grade your attempt in exercises/task-runner
  cargo grade retry --check jitter        run only the checks of one criterion
  cargo grade retry --reference           grade the reference solution
  cargo grade retry --attempt ~/my-retry  grade an attempt crate stored elsewhere
  cargo grade retry --format json -o r.json
  cargo grade verify                      references pass, stubs fail, metadata is consistent
  cargo grade doctor                      what this machine provides, what each exercise needs
  cargo grade mutants retry               mutation-test the retry suite (needs cargo-mutants)

Practising:
  cargo grade start retry                 print the prompt and start the clock
  cargo grade watch retry                 re-grade on every save, with the clock
  cargo grade hint retry                  one more hint each time
  cargo grade reset retry                 back up your attempt and restore the stub
  cargo grade solution retry              the reference solution, once you pass
  cargo grade progress --format json      your progress, for scripts";

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
    /// List every exercise with its time budget, number of checks, your progress (done within
    /// or over budget, in progress with the clock, not started), best time, hints used and
    /// last result.
    List,
    /// Check the exercises themselves: each reference scores 100%, each stub builds
    /// clippy-clean and fails every check, and the metadata matches the suite. CI runs this.
    Verify(VerifyArgs),
    /// Show what this machine provides (the Rust toolchain; each service and where it would
    /// come from: an address, a binary on PATH, grade's own Kafka broker, Docker) and what each
    /// exercise needs, with the fix for anything missing. Exits 0 when every exercise can be
    /// graded here, 4 otherwise.
    Doctor(DoctorArgs),
    /// For instructors: measure an exercise's acceptance suite by mutation testing.
    ///
    /// cargo-mutants lists small changes of the reference solution (an operator flipped, a
    /// function body replaced by a default value); each is applied to a private copy of the
    /// reference and graded like an attempt. A suite that deserves trust fails some check on
    /// every mutant that changes behaviour. Needs cargo-mutants (`cargo install cargo-mutants
    /// --locked`).
    Mutants(crate::mutants::args::MutantsArgs),
    /// Provision services, print the environment a check would get, run COMMAND in it (if
    /// any), then tear everything down. For the grader's own tests.
    #[command(hide = true)]
    DebugServices(DebugServicesArgs),
    /// Print an exercise's prompt, criteria and time budget, and start the clock.
    Start(StartArgs),
    /// Re-grade your attempt on every save, showing the report and the clock.
    Watch(WatchArgs),
    /// Reveal the next hint for an exercise (hints come in order of strength).
    Hint(HintArgs),
    /// Back up your attempt and restore the stub; or list and restore backups.
    Reset(ResetArgs),
    /// Show the reference solution (once your attempt passes, or with --force).
    Solution(SolutionArgs),
    /// Your progress on every exercise: clock, best time, hints (`--format json` for scripts).
    Progress(ProgressArgs),
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
}

/// Where services (Redis, …) come from.
#[derive(Debug, Clone, Default, Args)]
pub struct ServiceArgs {
    /// Use the Redis server at URL (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]) instead of
    /// starting a private one; only keys the run creates are deleted there. Without it:
    /// REDIS_URL, else `redis-server` from PATH, else Docker.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
}

/// Where a Kafka-protocol broker comes from. Apart from [`ServiceArgs`] so that only the
/// commands that pass it on take it (grading, verify, doctor); `watch` and `mutants` read
/// `KAFKA_BROKERS` from the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct KafkaArgs {
    /// Use the Kafka brokers at HOST:PORT[,HOST:PORT…] instead of starting a private one; the
    /// suites create uniquely named topics there and delete them. Without it: KAFKA_BROKERS,
    /// else `tansu` from PATH, else grade's own broker (built on first need, once: about 9
    /// minutes on 2 cores), else Docker.
    #[arg(long, value_name = "BROKERS")]
    pub kafka_brokers: Option<String>,
}

/// Options of `grade doctor`.
#[derive(Debug, Clone, Default, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub services: ServiceArgs,

    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// Options of the hidden `grade debug-services`.
#[derive(Debug, Args)]
pub struct DebugServicesArgs {
    /// Services to provision, named as in exercise.toml (`redis`, `kafka`).
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,

    #[command(flatten)]
    pub service: ServiceArgs,

    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// The command to run with a check's environment, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
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

    #[command(flatten)]
    pub services: ServiceArgs,

    #[command(flatten)]
    pub kafka: KafkaArgs,
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

    #[command(flatten)]
    pub services: ServiceArgs,

    #[command(flatten)]
    pub kafka: KafkaArgs,
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

    #[test]
    fn a_redis_url_goes_to_grading_verify_and_doctor() {
        let url = "redis://127.0.0.1:6379";
        let cli = Cli::try_parse_from(["grade", "retry", "--redis-url", url]).unwrap();
        assert_eq!(cli.grade.services.redis_url.as_deref(), Some(url));
        let cli = Cli::try_parse_from(["grade", "doctor", "--redis-url", url]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Doctor(ref a)) if a.services.redis_url.as_deref() == Some(url))
        );
        let cli = Cli::try_parse_from(["grade", "debug-services", "redis", "--", "sh", "-c", "x"]);
        assert!(
            matches!(cli.unwrap().command, Some(Command::DebugServices(ref a)) if a.command == ["sh", "-c", "x"])
        );
    }

    #[test]
    fn kafka_brokers_go_to_grading_verify_doctor_and_debug_services() {
        let brokers = "127.0.0.1:9092,127.0.0.1:9093";
        let cli = Cli::try_parse_from(["grade", "kafka-consumer", "--kafka-brokers", brokers]);
        assert_eq!(
            cli.unwrap().grade.kafka.kafka_brokers.as_deref(),
            Some(brokers)
        );
        let cli = Cli::try_parse_from(["grade", "verify", "--kafka-brokers", brokers]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Verify(ref a)) if a.kafka.kafka_brokers.as_deref() == Some(brokers))
        );
        let cli = Cli::try_parse_from(["grade", "doctor", "--kafka-brokers", brokers]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Doctor(ref a)) if a.kafka.kafka_brokers.as_deref() == Some(brokers))
        );
        let cli = Cli::try_parse_from([
            "grade",
            "debug-services",
            "kafka",
            "--kafka-brokers",
            brokers,
            "--",
            "true",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Some(Command::DebugServices(ref a)) if a.kafka.kafka_brokers.as_deref() == Some(brokers))
        );
    }
}
