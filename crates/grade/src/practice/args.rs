//! Arguments of the practice-loop subcommands. The doc comments here are their `--help`; the
//! subcommands themselves are declared in `cli.rs`.

use clap::{Args, ValueEnum};

/// Options of `grade start`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo grade start retry              print the prompt and start a 30-minute clock
  cargo grade start retry --restart    start the clock again from zero (hints count from zero)")]
pub struct StartArgs {
    /// The exercise to practise (see `grade list`).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,

    /// Start the clock again from zero even if it is running (or stopped by a pass). The
    /// hint count starts from zero too; a viewed solution stays recorded.
    #[arg(long)]
    pub restart: bool,
}

/// Options of `grade watch`.
#[derive(Debug, Args)]
#[command(after_help = "\
Keys:
  r, Enter   grade again now (for filesystems that send no change events)
  q, Ctrl-C  quit

Examples:
  cargo grade watch retry                  re-grade exercises/retry on every save
  cargo grade watch retry --check jitter   only the checks of one criterion
  cargo grade watch retry --poll           look for changes every second instead of waiting
                                           for events (network shares, some containers)")]
pub struct WatchArgs {
    /// The exercise to watch (your attempt in exercises/<EXERCISE>).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,

    /// Run only these checks: a check id or a criterion id. Repeat the flag for more.
    #[arg(long = "check", short = 'c', value_name = "ID")]
    pub checks: Vec<String>,

    /// Checks run at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Multiply every check's time limit by this factor (for slow machines).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub timeout_scale: f64,

    /// Resident memory cap per check, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub memory_limit: u64,

    /// Poll the attempt for changes every second instead of relying on file-system events.
    #[arg(long)]
    pub poll: bool,

    /// Where services come from, passed on to each grading.
    #[command(flatten)]
    pub services: crate::cli::ServiceArgs,
}

/// Options of `grade hint`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each call reveals one more hint (they get stronger) and shows the earlier ones again. The count
is recorded: reports and `grade list` show how many you used.

Examples:
  cargo grade hint retry")]
pub struct HintArgs {
    /// The exercise (see `grade list`).
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,
}

/// Options of `grade reset`.
#[derive(Debug, Args)]
#[command(after_help = "\
Your attempt is always copied to .grade/backups/<EXERCISE>/<ID>/ first: nothing you wrote is
lost. The stub is the files git tracks under exercises/<EXERCISE>/ at HEAD (or --from REV);
exercise.toml, spec.toml, README.md and target/ are left alone.

Examples:
  cargo grade reset retry                        back up your attempt, restore the stub (asks first)
  cargo grade reset retry --yes                  the same without asking (scripts)
  cargo grade reset retry --list                 your backups, oldest first
  cargo grade reset retry --restore 20250101-120000 --yes
  cargo grade reset retry --from origin/main     the stub as of another commit (if you committed
                                                 your attempt)")]
pub struct ResetArgs {
    /// The exercise whose attempt to reset.
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,

    /// Do not ask for confirmation. Required when standard input is not a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// List the backups of this exercise instead of resetting.
    #[arg(long, conflicts_with_all = ["restore", "yes", "from"])]
    pub list: bool,

    /// Bring back the backup ID (see --list) instead of the stub. The current attempt is
    /// backed up first.
    #[arg(long, value_name = "ID", conflicts_with = "from")]
    pub restore: Option<String>,

    /// The git revision whose stub to restore.
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,
}

/// Options of `grade solution`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cargo grade solution retry           after your attempt passed
  cargo grade solution retry --force   before that (recorded as viewed)")]
pub struct SolutionArgs {
    /// The exercise whose reference solution to show.
    #[arg(value_name = "EXERCISE")]
    pub exercise: String,

    /// Show it even though your attempt has not passed yet. Your progress (and every later
    /// report) then says that you viewed it.
    #[arg(long)]
    pub force: bool,
}

/// Options of `grade progress`.
#[derive(Debug, Args)]
#[command(after_help = "\
The JSON format (schema_version 1) is documented in README.md, section \"Practising\".

Examples:
  cargo grade progress                  the same table as `grade list`
  cargo grade progress --format json    for scripts")]
pub struct ProgressArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ProgressFormat::Human)]
    pub format: ProgressFormat,
}

/// Formats of `grade progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    /// A table, as `grade list` prints it.
    Human,
    /// Versioned JSON for scripts.
    Json,
}

/// Options of `grade completions`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  grade completions bash > ~/.local/share/bash-completion/completions/grade
  grade completions zsh > ~/.zfunc/_grade        (with fpath+=~/.zfunc in ~/.zshrc)
  grade completions fish > ~/.config/fish/completions/grade.fish")]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("grade").chain(args.iter().copied()))
    }

    #[test]
    fn practice_subcommands_parse() {
        let Some(Command::Start(start)) = parse(&["start", "retry", "--restart"]).unwrap().command
        else {
            panic!("start parses");
        };
        assert!(start.restart);
        let Some(Command::Watch(watch)) = parse(&["watch", "retry", "-c", "jitter", "--poll"])
            .unwrap()
            .command
        else {
            panic!("watch parses");
        };
        assert_eq!(watch.checks, ["jitter"]);
        assert!(watch.poll);
        assert!(parse(&["completions", "fish"]).is_ok());
        assert!(parse(&["progress", "--format", "json"]).is_ok());
        assert!(parse(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn reset_options_that_contradict_each_other_are_rejected() {
        assert!(parse(&["reset", "retry", "--list", "--yes"]).is_err());
        assert!(parse(&["reset", "retry", "--restore", "x", "--from", "HEAD"]).is_err());
        assert!(parse(&["reset", "retry", "--restore", "x", "--yes"]).is_ok());
    }
}
