//! `grade watch`: re-grade the attempt on every save, show the report and the clock.
//!
//! One thread (this one) owns all decisions; everything else only sends it [`Input`]s over a
//! channel: the file watcher (notify's callback), the key reader, and each grading child's
//! reader threads. The loop waits on that channel with a timeout that is the nearest of the
//! debounce deadline, a grading's SIGKILL deadline and the next clock tick, so it reacts to
//! every input at once and never polls busily.
//!
//! A save while a grading runs cancels it (see [`child`](super::child)) and grades again as
//! soon as the cancelled child has exited, so at most one grading runs at a time and the
//! report shown is always that of the newest save. Reports of cancelled gradings are dropped.
//!
//! The status line below the report shows the clock, read from the state each second (the
//! grading child records passes, which stop the clock).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use anyhow::Result;
use notify::Watcher;

use super::args::WatchArgs;
use super::child::{ChildEvent, Finished, Grading};
use super::clock::{self, Note};
use super::debounce::{self, Debouncer};
use super::exercise_state;
use super::terminal::{Key, KeyMode, Screen};
use crate::error::{GradeError, PracticeError};
use crate::repo::{Exercise, Repo};
use crate::state::Store;

const DIM: Style = Style::new().dimmed();
const CYAN: Style = AnsiColor::Cyan.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();

/// How often the status line's clock is redrawn on a terminal.
const TICK: Duration = Duration::from_secs(1);

/// Everything the watch loop reacts to.
#[derive(Debug)]
pub enum Input {
    /// A relevant file changed (path relative to the exercise folder).
    Changed(PathBuf),
    /// The file watcher reported an error.
    WatchFailed(String),
    /// A key was pressed; `None` when input ended.
    Key(Option<Key>),
    /// A grading child said something.
    Child(ChildEvent),
}

/// What is going on, for the status line.
enum Phase {
    Grading { why: String },
    Idle,
}

/// Runs `grade watch`.
pub fn run(repo: &Repo, args: &WatchArgs, styled: bool) -> Result<i32> {
    let exercise = repo.exercise(&args.exercise)?;
    // Reject bad values here, once, rather than in every child.
    crate::app::settings(args.jobs, 1, args.timeout_scale, args.memory_limit)?;

    let (to_loop, inputs) = mpsc::channel();
    let _watcher = watch_files(&exercise.attempt_dir, args.poll, to_loop.clone())?;
    let key_mode = KeyMode::enable();
    super::terminal::spawn_reader(to_loop.clone(), key_mode.is_some(), Input::Key);

    let mut session = Session {
        repo,
        exercise: &exercise,
        args,
        styled,
        screen: Screen::new(),
        to_loop,
        generation: 0,
        grading: None,
        pending: Some("watch started".to_owned()),
        phase: Phase::Idle,
        notice: None,
    };
    let code = session.run(&inputs);
    session.shut_down(&inputs);
    session.screen.finish();
    drop(key_mode);
    Ok(code)
}

/// Watches `dir` recursively; relevant changes go to `to` as [`Input::Changed`].
fn watch_files(dir: &Path, poll: bool, to: Sender<Input>) -> Result<Box<dyn Watcher>> {
    let root = dir.to_path_buf();
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(event) if debounce::is_change(&event.kind) => {
            let relevant = event
                .paths
                .iter()
                .filter_map(|path| path.strip_prefix(&root).ok())
                .filter(|relative| debounce::is_relevant(relative));
            for relative in relevant {
                let _ = to.send(Input::Changed(relative.to_path_buf()));
            }
        }
        Ok(_) => {}
        Err(error) => {
            let _ = to.send(Input::WatchFailed(error.to_string()));
        }
    };
    let failed = |error: notify::Error| {
        GradeError::from(PracticeError::Watch {
            path: dir.to_path_buf(),
            reason: error.to_string(),
        })
    };
    let mut watcher: Box<dyn Watcher> = if poll {
        let config = notify::Config::default()
            .with_poll_interval(Duration::from_secs(1))
            .with_compare_contents(true);
        Box::new(notify::PollWatcher::new(handler, config).map_err(failed)?)
    } else {
        Box::new(
            notify::RecommendedWatcher::new(handler, notify::Config::default()).map_err(failed)?,
        )
    };
    watcher
        .watch(dir, notify::RecursiveMode::Recursive)
        .map_err(failed)?;
    Ok(watcher)
}

struct Session<'a> {
    repo: &'a Repo,
    exercise: &'a Exercise,
    args: &'a WatchArgs,
    styled: bool,
    screen: Screen,
    to_loop: Sender<Input>,
    generation: u64,
    grading: Option<Grading>,
    /// Why a grading is due, when one is.
    pending: Option<String>,
    phase: Phase,
    /// A passing remark for the status line (a watcher error, a failed spawn).
    notice: Option<String>,
}

impl Session<'_> {
    /// The loop; returns the exit code.
    fn run(&mut self, inputs: &mpsc::Receiver<Input>) -> i32 {
        let mut debouncer = Debouncer::new(debounce::QUIET, debounce::MAX_WAIT);
        let mut next_tick = Instant::now() + TICK;
        loop {
            if crate::interrupt::requested() {
                return crate::exit::INTERRUPTED;
            }
            if self.grading.is_none() {
                let due = self.pending.take();
                if let Some(why) = due {
                    self.start_grading(why);
                }
            }
            let now = Instant::now();
            let wake = [
                debouncer.deadline(),
                self.grading.as_ref().and_then(Grading::kill_deadline),
                Some(next_tick),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("the tick is always there");
            // Bounded, so an interrupt (noticed above) is never kept waiting long.
            let timeout = wake
                .saturating_duration_since(now)
                .min(Duration::from_millis(250));
            match inputs.recv_timeout(timeout) {
                Ok(Input::Changed(path)) => debouncer.event(path, Instant::now()),
                Ok(Input::Key(Some(Key::Quit))) => return crate::exit::SUCCESS,
                Ok(Input::Key(Some(Key::Regrade))) => self.request("re-grade requested".into()),
                Ok(Input::Key(None)) => {}
                Ok(Input::WatchFailed(error)) => {
                    self.notice = Some(format!("file watching failed ({error}); press r to grade"));
                    self.draw_status();
                }
                Ok(Input::Child(event)) => self.child_event(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return crate::exit::SUCCESS,
            }
            let now = Instant::now();
            if let Some(paths) = debouncer.fire(now) {
                self.request(describe_change(&paths));
            }
            if let Some(grading) = &mut self.grading {
                grading.enforce(now);
            }
            if now >= next_tick {
                next_tick = now + TICK;
                if self.screen.is_terminal() {
                    self.draw_status();
                }
            }
        }
    }

    /// A grading is due: cancel the running one (if any); the next starts when it has gone.
    fn request(&mut self, why: String) {
        if let Some(grading) = &mut self.grading {
            grading.cancel(Instant::now());
        }
        self.pending = Some(why);
    }

    fn start_grading(&mut self, why: String) {
        self.generation += 1;
        let command = self.command();
        match Grading::spawn(command, self.generation, self.to_loop.clone(), Input::Child) {
            Ok(grading) => {
                self.grading = Some(grading);
                self.phase = Phase::Grading { why };
                self.notice = None;
            }
            Err(error) => {
                self.phase = Phase::Idle;
                self.notice = Some(format!("cannot start grading: {error}"));
            }
        }
        self.draw_status();
    }

    fn child_event(&mut self, event: ChildEvent) {
        match event {
            ChildEvent::Progress { generation, line } => {
                let current = self
                    .grading
                    .as_ref()
                    .is_some_and(|g| g.generation == generation && !g.is_cancelled());
                if current && !line.trim().is_empty() {
                    self.notice = Some(line.trim().trim_end_matches('…').to_owned());
                    self.draw_status();
                }
            }
            ChildEvent::Finished { generation, result } => {
                let Some(grading) = &self.grading else { return };
                if grading.generation != generation {
                    return;
                }
                let superseded = grading.is_cancelled();
                self.grading = None;
                if superseded {
                    return; // its report is stale; the pending grading starts next
                }
                let why = match std::mem::replace(&mut self.phase, Phase::Idle) {
                    Phase::Grading { why } => why,
                    Phase::Idle => String::new(),
                };
                self.notice = None;
                self.show(&result, &why);
            }
        }
    }

    /// The child's command line: this very binary, grading the candidate's attempt.
    fn command(&self) -> Command {
        let mut command = Command::new(own_executable());
        command
            .arg(&self.exercise.slug)
            .args(["--color", if self.styled { "always" } else { "never" }])
            .args(["--timeout-scale", &self.args.timeout_scale.to_string()])
            .args(["--memory-limit", &self.args.memory_limit.to_string()])
            .env("GRADE_ROOT", self.repo.root());
        if let Some(jobs) = self.args.jobs {
            command.args(["--jobs", &jobs.to_string()]);
        }
        for check in &self.args.checks {
            command.args(["--check", check]);
        }
        if let Some(url) = &self.args.services.redis_url {
            command.args(["--redis-url", url]);
        }
        command
    }

    /// Shows a finished grading's report (or why there is none) and the status line.
    fn show(&mut self, result: &Finished, why: &str) {
        let mut text = if result.stdout.trim().is_empty() {
            format!(
                "grade {} printed no report (exit {}):\n{}\n",
                self.exercise.slug,
                result
                    .code
                    .map_or_else(|| "by a signal".to_owned(), |c| c.to_string()),
                result.stderr_tail
            )
        } else {
            result.stdout.clone()
        };
        let line = format!("graded in {:.1}s ({why})", result.duration.as_secs_f64());
        text.push_str(&format!("\n{}\n", self.paint(&line, DIM)));
        self.screen.show(&text);
        self.draw_status();
    }

    fn paint(&self, text: &str, style: Style) -> String {
        if self.styled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// The status line: what is happening, the clock, the keys.
    fn draw_status(&mut self) {
        let slug = &self.exercise.slug;
        let store = Store::new(&self.repo.state_dir());
        let state = exercise_state(&store, slug);
        let note = Note::of(&state, self.exercise.meta.hints.len(), clock::now_unix());
        let clock = match &note {
            Some(note) if note.clock.is_some() => {
                let style = if note.is_over() { YELLOW } else { Style::new() };
                self.paint(&format!("clock {}", note.text()), style)
            }
            _ => format!("no clock (`cargo grade start {slug}` starts one)"),
        };
        let activity = match (&self.phase, &self.notice) {
            (Phase::Grading { why }, Some(notice)) => {
                self.paint(&format!("⟳ grading ({why}): {notice}"), CYAN)
            }
            (Phase::Grading { why }, None) => self.paint(&format!("⟳ grading ({why})"), CYAN),
            (Phase::Idle, Some(notice)) => self.paint(notice, YELLOW),
            (Phase::Idle, None) => format!(
                "watching {}",
                self.repo.display_path(&self.exercise.attempt_dir)
            ),
        };
        let keys = self.paint("r: grade now · q: quit", DIM);
        let text = format!("{activity} · {clock} · {keys}");
        self.screen.status(&text);
    }

    /// Stops a running grading on the way out and waits (boundedly) for it to be gone.
    fn shut_down(&mut self, inputs: &mpsc::Receiver<Input>) {
        let Some(grading) = &mut self.grading else {
            return;
        };
        grading.cancel(Instant::now());
        let give_up = Instant::now() + super::child::GRACE + Duration::from_secs(2);
        while let Some(grading) = &mut self.grading {
            let now = Instant::now();
            if now >= give_up {
                break;
            }
            grading.enforce(now);
            match inputs.recv_timeout(Duration::from_millis(100)) {
                Ok(Input::Child(ChildEvent::Finished { generation, .. }))
                    if generation == grading.generation =>
                {
                    self.grading = None;
                }
                _ => {}
            }
        }
    }
}

/// This very binary. On Linux that is `/proc/self/exe`, which names the running file even
/// after it was deleted or replaced (a rebuild of grade while watch runs replaces it, and
/// `current_exe` then names a path that no longer exists): watch keeps grading with the
/// version it started as.
fn own_executable() -> PathBuf {
    let proc_self = Path::new("/proc/self/exe");
    if cfg!(target_os = "linux") && proc_self.exists() {
        return proc_self.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("grade"))
}

/// "src/lib.rs changed", "3 files changed".
fn describe_change(paths: &[PathBuf]) -> String {
    match paths {
        [one] => format!("{} changed", one.display()),
        many => format!("{} files changed", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_described_briefly() {
        assert_eq!(
            describe_change(&[PathBuf::from("src/lib.rs")]),
            "src/lib.rs changed"
        );
        assert_eq!(
            describe_change(&[PathBuf::from("a"), PathBuf::from("b")]),
            "2 files changed"
        );
    }
}
