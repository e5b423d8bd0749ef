//! Progress while grading: a spinner and a bar on a terminal, plain lines otherwise, nothing at
//! all when the report itself goes to stdout in a machine format.
//!
//! Progress always goes to stderr, so stdout carries the report and nothing else.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runner::{Event, Observer};

/// A progress display chosen for the current stderr.
pub enum Progress {
    /// Nothing is shown.
    Silent,
    /// One line per phase, for logs and pipes.
    Plain {
        /// What is being graded, for the first line.
        label: String,
    },
    /// A live spinner/bar on a terminal.
    Live {
        /// The current bar, if any.
        bar: Option<ProgressBar>,
        /// What is being graded.
        label: String,
    },
}

impl Progress {
    /// Picks the display: live on a terminal, plain lines elsewhere, silent when asked.
    pub fn new(label: String, silent: bool) -> Self {
        if silent {
            Self::Silent
        } else if std::io::stderr().is_terminal() {
            Self::Live { bar: None, label }
        } else {
            Self::Plain { label }
        }
    }

    fn finish_bar(bar: &mut Option<ProgressBar>) {
        if let Some(bar) = bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&mut self, event: Event<'_>) {
        match self {
            Self::Silent => {}
            Self::Plain { label } => match event {
                Event::BuildStarted => eprintln!("building {label}…"),
                Event::ChecksStarting { total } => {
                    eprintln!(
                        "running {total} check{}…",
                        if total == 1 { "" } else { "s" }
                    );
                }
                Event::Compiled(_)
                | Event::BuildFinished
                | Event::CheckStarted(_)
                | Event::CheckFinished(_) => {}
            },
            Self::Live { bar, label } => match event {
                Event::BuildStarted => {
                    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    spinner.set_style(
                        ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
                            .expect("valid template"),
                    );
                    spinner.set_prefix(format!("building {label}"));
                    spinner.enable_steady_tick(Duration::from_millis(100));
                    *bar = Some(spinner);
                }
                Event::Compiled(krate) => {
                    if let Some(bar) = bar {
                        bar.set_message(format!("compiled {krate}"));
                    }
                }
                Event::BuildFinished => Self::finish_bar(bar),
                Event::ChecksStarting { total } => {
                    Self::finish_bar(bar);
                    let checks = ProgressBar::with_draw_target(
                        Some(total as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    checks.set_style(
                        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                            .expect("valid template")
                            .progress_chars("=> "),
                    );
                    checks.set_prefix(format!("checking {label}"));
                    checks.enable_steady_tick(Duration::from_millis(100));
                    *bar = Some(checks);
                }
                Event::CheckStarted(id) => {
                    if let Some(bar) = bar {
                        bar.set_message(id.to_owned());
                    }
                }
                Event::CheckFinished(result) => {
                    if let Some(bar) = bar {
                        if !result.outcome.is_pass() {
                            bar.println(format!("  ✗ {} ({})", result.id, result.outcome.as_str()));
                        }
                        bar.inc(1);
                    }
                }
            },
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Self::Live { bar, .. } = self {
            Self::finish_bar(bar);
        }
    }
}
