//! The practice clock: what "now" is, how a session's clock reads, and the line every report
//! of the candidate's attempt carries ("28:14 of 45:00 used").
//!
//! The clock is not a running timer but two timestamps in `.grade/state.json`: when
//! `grade start` ran and, once the attempt passes, when it first passed. Reading it is
//! arithmetic on "now", so it survives restarts, reboots and closed terminals, and costs
//! nothing while nobody looks.
//!
//! "Now" comes from [`now_unix`], which honours `GRADE_NOW_UNIX` so that tests can pin time.
//! That variable is a testing hook, documented as such in the README: a candidate who sets it
//! only fools themselves.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::state::{BestRun, ExerciseState, Session};

/// Environment variable that pins "now" (seconds since the Unix epoch). For tests only.
pub const NOW_ENV: &str = "GRADE_NOW_UNIX";

/// The current time in seconds since the Unix epoch, or `GRADE_NOW_UNIX` when set.
pub fn now_unix() -> u64 {
    if let Some(pinned) = std::env::var(NOW_ENV)
        .ok()
        .and_then(|value| value.trim().parse().ok())
    {
        return pinned;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `m:ss` below an hour, `h:mm:ss` from then on: `0:07`, `28:14`, `1:02:03`.
pub fn format_clock(secs: u64) -> String {
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// A session's clock read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Seconds used: up to now, or up to the first pass once the attempt passed.
    pub elapsed: u64,
    /// The session's budget in seconds.
    pub budget: u64,
    /// Whether the clock stopped because the attempt passed.
    pub passed: bool,
}

impl Reading {
    /// Reads `session`'s clock at `now`. A clock whose start lies in the future (a changed
    /// system clock) reads zero rather than wrapping around.
    pub fn of(session: &Session, now: u64) -> Self {
        let end = session.passed_at_unix.unwrap_or(now);
        Self {
            elapsed: end.saturating_sub(session.started_at_unix),
            budget: session.budget_secs,
            passed: session.passed_at_unix.is_some(),
        }
    }

    /// Seconds past the budget, if any.
    pub fn over(&self) -> Option<u64> {
        (self.elapsed > self.budget).then(|| self.elapsed - self.budget)
    }

    /// For people: `28:14 of 45:00 used`, `52:10 used, 7:10 over the 45:00 budget`,
    /// `passed in 27:03, within the 45:00 budget`.
    pub fn describe(&self) -> String {
        let (elapsed, budget) = (format_clock(self.elapsed), format_clock(self.budget));
        match (self.passed, self.over()) {
            (false, None) => format!("{elapsed} of {budget} used"),
            (false, Some(over)) => format!(
                "{elapsed} used, {} over the {budget} budget",
                format_clock(over)
            ),
            (true, None) => format!("passed in {elapsed}, within the {budget} budget"),
            (true, Some(over)) => format!(
                "passed in {elapsed}, {} over the {budget} budget",
                format_clock(over)
            ),
        }
    }
}

/// A new session starting at `now` with a budget of `minutes`.
pub fn new_session(now: u64, minutes: u32) -> Session {
    Session {
        started_at_unix: now,
        budget_secs: u64::from(minutes) * 60,
        passed_at_unix: None,
        passed_within_budget: None,
    }
}

/// Records a passing grade (requested at `at`) of the candidate's attempt: the first pass of
/// a running session stops its clock, decides whether it was within budget, and may become
/// the exercise's best run. Later passes change nothing.
pub fn record_pass(state: &mut ExerciseState, at: u64) {
    let hints_used = state.hints_used;
    let solution_viewed = state.solution_viewed_at_unix.is_some();
    let Some(session) = state.session.as_mut() else {
        return;
    };
    if session.passed_at_unix.is_some() {
        return;
    }
    session.passed_at_unix = Some(at.max(session.started_at_unix));
    let reading = Reading::of(session, at);
    session.passed_within_budget = Some(reading.over().is_none());
    let run = BestRun {
        secs: reading.elapsed,
        within_budget: reading.over().is_none(),
        hints_used,
        solution_viewed,
        at_unix: at,
    };
    if state.best.as_ref().is_none_or(|best| run.secs < best.secs) {
        state.best = Some(run);
    }
}

/// The practice line of a report: the clock, hints used, whether the solution was viewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The clock, when a session was started.
    pub clock: Option<Reading>,
    /// Hints revealed.
    pub hints_used: u32,
    /// Hints the exercise has.
    pub hints_total: usize,
    /// Whether the solution was viewed before the attempt passed.
    pub solution_viewed: bool,
}

impl Note {
    /// The note for an exercise's state at `now`; `None` when there is nothing to say (no
    /// clock, no hint, no solution viewed), so reports of untimed grading look as before.
    pub fn of(state: &ExerciseState, hints_total: usize, now: u64) -> Option<Self> {
        let note = Self {
            clock: state.session.as_ref().map(|s| Reading::of(s, now)),
            hints_used: state.hints_used,
            hints_total,
            solution_viewed: state.solution_viewed_at_unix.is_some(),
        };
        (note.clock.is_some() || note.hints_used > 0 || note.solution_viewed).then_some(note)
    }

    /// Whether the clock is past the budget.
    pub fn is_over(&self) -> bool {
        self.clock.is_some_and(|c| c.over().is_some())
    }

    /// The line's text, without its label.
    pub fn text(&self) -> String {
        let mut parts = vec![
            self.clock
                .map_or_else(|| "not started".to_owned(), |c| c.describe()),
        ];
        if self.hints_used > 0 {
            parts.push(format!(
                "{} of {} hint{} used",
                self.hints_used,
                self.hints_total,
                if self.hints_total == 1 { "" } else { "s" }
            ));
        }
        if self.solution_viewed {
            parts.push("solution viewed".to_owned());
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_as_minutes_and_seconds() {
        assert_eq!(format_clock(0), "0:00");
        assert_eq!(format_clock(7), "0:07");
        assert_eq!(format_clock(28 * 60 + 14), "28:14");
        assert_eq!(format_clock(45 * 60), "45:00");
        assert_eq!(format_clock(3723), "1:02:03");
    }

    #[test]
    fn a_running_clock_says_how_far_over_it_is() {
        let session = new_session(1000, 45);
        assert_eq!(
            Reading::of(&session, 1000 + 28 * 60 + 14).describe(),
            "28:14 of 45:00 used"
        );
        assert_eq!(
            Reading::of(&session, 1000 + 52 * 60 + 10).describe(),
            "52:10 used, 7:10 over the 45:00 budget"
        );
        // A system clock set back never makes the clock negative.
        assert_eq!(Reading::of(&session, 10).elapsed, 0);
    }

    #[test]
    fn the_first_pass_stops_the_clock_and_sets_the_best_run() {
        let mut state = ExerciseState {
            session: Some(new_session(1000, 30)),
            hints_used: 1,
            ..ExerciseState::default()
        };
        record_pass(&mut state, 1000 + 20 * 60);
        record_pass(&mut state, 1000 + 50 * 60);
        let session = state.session.as_ref().unwrap();
        assert_eq!(session.passed_within_budget, Some(true));
        let reading = Reading::of(session, 99_999);
        assert_eq!(
            reading.describe(),
            "passed in 20:00, within the 30:00 budget"
        );
        assert_eq!(state.best.as_ref().unwrap().secs, 20 * 60);
        assert_eq!(state.best.as_ref().unwrap().hints_used, 1);

        // A slower session later keeps the best; a faster one replaces it.
        state.session = Some(new_session(5000, 30));
        record_pass(&mut state, 5000 + 40 * 60);
        assert_eq!(
            state.session.as_ref().unwrap().passed_within_budget,
            Some(false)
        );
        assert_eq!(state.best.as_ref().unwrap().secs, 20 * 60);
        state.session = Some(new_session(9000, 30));
        record_pass(&mut state, 9000 + 60);
        assert_eq!(state.best.as_ref().unwrap().secs, 60);
    }

    #[test]
    fn a_pass_without_a_session_records_nothing() {
        let mut state = ExerciseState::default();
        record_pass(&mut state, 1000);
        assert!(state.best.is_none());
    }

    #[test]
    fn the_note_mentions_only_what_happened() {
        assert_eq!(Note::of(&ExerciseState::default(), 3, 0), None);
        let mut state = ExerciseState {
            session: Some(new_session(0, 45)),
            ..ExerciseState::default()
        };
        assert_eq!(
            Note::of(&state, 3, 60).unwrap().text(),
            "1:00 of 45:00 used"
        );
        state.hints_used = 2;
        state.solution_viewed_at_unix = Some(30);
        let note = Note::of(&state, 3, 46 * 60).unwrap();
        assert_eq!(
            note.text(),
            "46:00 used, 1:00 over the 45:00 budget · 2 of 3 hints used · solution viewed"
        );
        assert!(note.is_over());
        state.session = None;
        assert_eq!(
            Note::of(&state, 3, 0).unwrap().text(),
            "not started · 2 of 3 hints used · solution viewed"
        );
    }
}
