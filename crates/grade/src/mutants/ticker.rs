//! Progress of a sweep on stderr: a line per mutant as it finishes, under a live bar on a
//! terminal, plain lines otherwise (CI logs). stdout carries the report and nothing else.
//!
//! Lines are built with styles ([`super::report::progress_line`]) and stripped here unless
//! colour is wanted (a terminal without NO_COLOR, or `--color always`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
pub struct Ticker {
    bar: Option<ProgressBar>,
    color: bool,
}

impl Ticker {
    /// Plain lines until [`start`](Self::start); `color` says whether lines keep their styles.
    pub fn new(color: bool) -> Self {
        Self { bar: None, color }
    }

    /// Says what is happening before the grading starts (listing, the baseline): a spinner on a
    /// terminal, a plain line elsewhere.
    pub fn phase(&mut self, text: &str) {
        if !std::io::stderr().is_terminal() {
            eprintln!("{text}");
            return;
        }
        let spinner = self.bar.get_or_insert_with(|| {
            let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
                    .expect("valid template"),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        });
        spinner.set_message(text.to_owned());
    }

    /// Starts grading `total` mutants: a bar labelled `label` on a terminal, with `message`
    /// beside it; elsewhere `message` as a plain line.
    pub fn start(&mut self, total: usize, label: &str, message: &str) {
        if !std::io::stderr().is_terminal() {
            eprintln!("{message}");
            return;
        }
        if let Some(spinner) = self.bar.take() {
            spinner.finish_and_clear();
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_owned());
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    /// Prints a finished mutant's line and advances the bar.
    pub fn finished(&mut self, styled_line: &str) {
        let line = if self.color {
            styled_line.to_owned()
        } else {
            anstream::adapter::strip_str(styled_line).to_string()
        };
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
