//! The terminal during `grade watch`: single keys without Enter, a status line that updates
//! in place, and the terminal given back as it was.
//!
//! Key-at-a-time input only needs canonical mode and echo off; everything else stays as the
//! user had it. In particular output post-processing stays on (so reports print as they do
//! everywhere else) and so do signals (so Ctrl-C still raises SIGINT, which the grader's
//! handler turns into an orderly quit). The saved settings come back when [`KeyMode`] is
//! dropped, on every way out of `watch` including a panic.
//!
//! When standard input is not a terminal (a pipe, CI), keys are read as lines instead: an
//! empty line re-grades, `q` quits.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::Sender;

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Grade again now.
    Regrade,
    /// Leave watch mode.
    Quit,
}

/// Standard input switched to key-at-a-time mode; restored on drop.
pub struct KeyMode {
    saved: Termios,
}

impl KeyMode {
    /// Switches standard input to key-at-a-time mode; `None` when it is not a terminal (or
    /// cannot be switched), in which case keys are read as lines.
    pub fn enable() -> Option<Self> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut keys = saved.clone();
        keys.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &keys).ok()?;
        Some(Self { saved })
    }
}

impl Drop for KeyMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// What a key byte means: `q` (and Ctrl-D) quit; `r` and Enter re-grade.
pub fn key_of(byte: u8) -> Option<Key> {
    match byte {
        b'q' | b'Q' | 0x03 | 0x04 => Some(Key::Quit),
        b'r' | b'R' | b'\n' | b'\r' => Some(Key::Regrade),
        _ => None,
    }
}

/// Reads keys on a thread of its own and sends them, as `wrap(key)`, to `to`; sends
/// `wrap(None)` when input ends. With `single_keys`, bytes are keys; otherwise lines are.
pub fn spawn_reader<T: Send + 'static>(
    to: Sender<T>,
    single_keys: bool,
    wrap: impl Fn(Option<Key>) -> T + Send + 'static,
) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        if single_keys {
            let mut byte = [0u8];
            let mut input = stdin.lock();
            while let Ok(1) = input.read(&mut byte) {
                let Some(key) = key_of(byte[0]) else {
                    continue;
                };
                if to.send(wrap(Some(key))).is_err() {
                    return;
                }
            }
        } else {
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                let key = if matches!(line.trim(), "q" | "quit") {
                    Key::Quit
                } else {
                    Key::Regrade
                };
                if to.send(wrap(Some(key))).is_err() {
                    return;
                }
            }
        }
        let _ = to.send(wrap(None));
    });
}

/// Where watch draws: a terminal gets a cleared screen and a status line rewritten in place;
/// anything else gets plain appended text.
pub struct Screen {
    terminal: bool,
    status_shown: bool,
}

impl Screen {
    /// A screen for the current stdout.
    pub fn new() -> Self {
        Self {
            terminal: std::io::stdout().is_terminal(),
            status_shown: false,
        }
    }

    /// Whether stdout is a terminal.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Replaces what is shown with `text` (clearing the screen and its scrollback on a
    /// terminal, so an old report can never be mistaken for the new one).
    pub fn show(&mut self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if self.terminal {
            let _ = stdout.write_all(b"\x1b[H\x1b[2J\x1b[3J");
        } else {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
        self.status_shown = false;
    }

    /// Shows `text` as the status line: rewritten in place on a terminal (cut to its width,
    /// so it never wraps), a line of its own elsewhere.
    pub fn status(&mut self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if self.terminal {
            let width = console::Term::stdout()
                .size_checked()
                .map_or(80, |(_, columns)| usize::from(columns));
            let cut = console::truncate_str(text, width.saturating_sub(1), "…");
            let _ = write!(stdout, "\r\x1b[2K{cut}");
        } else {
            let _ = writeln!(stdout, "{text}");
        }
        let _ = stdout.flush();
        self.status_shown = true;
    }

    /// Ends the status line (on quitting), so the shell prompt starts on a line of its own.
    pub fn finish(&mut self) {
        if self.terminal && self.status_shown {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(b"\n");
            let _ = stdout.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(key_of(b'q'), Some(Key::Quit));
        assert_eq!(key_of(b'r'), Some(Key::Regrade));
        assert_eq!(key_of(b'\n'), Some(Key::Regrade));
        assert_eq!(key_of(b'x'), None);
    }
}
