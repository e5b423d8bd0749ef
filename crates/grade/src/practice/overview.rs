//! `grade list` and `grade progress`: every exercise with the candidate's standing on it.
//!
//! Each exercise is in exactly one [`Status`], decided from the state alone: the clock's
//! session when there is one (done within or over budget once it passed, in progress while
//! it runs), otherwise the last result of untimed grading. The human table and the JSON
//! document (`schema_version` 1, fields documented in the README's "Practising" section) are
//! two renderings of the same rows.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;

use super::args::ProgressFormat;
use super::clock::{self, Reading, format_clock};
use crate::cli::ColorChoice;
use crate::repo::{Exercise, Repo};
use crate::state::{BestRun, ExerciseState, LastResult, Store};

/// The JSON document's schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the candidate stands on one exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The timed session passed within its budget.
    DoneWithinBudget,
    /// The timed session passed, after its budget ran out.
    DoneOverBudget,
    /// A clock is running, or the attempt was graded (without a clock) and has not passed.
    InProgress,
    /// The attempt passed without a clock ever being started.
    DoneUntimed,
    /// Neither started nor graded.
    NotStarted,
}

impl Status {
    /// The stable machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DoneWithinBudget => "done_within_budget",
            Self::DoneOverBudget => "done_over_budget",
            Self::InProgress => "in_progress",
            Self::DoneUntimed => "done_untimed",
            Self::NotStarted => "not_started",
        }
    }

    /// Decides the status from what is remembered.
    pub fn of(state: &ExerciseState) -> Self {
        match (&state.session, &state.last) {
            (Some(session), _) => match session.passed_within_budget {
                Some(true) => Self::DoneWithinBudget,
                Some(false) => Self::DoneOverBudget,
                None => Self::InProgress,
            },
            (None, Some(last)) if last.status == "pass" => Self::DoneUntimed,
            (None, Some(_)) => Self::InProgress,
            (None, None) => Self::NotStarted,
        }
    }
}

/// One exercise's line.
struct Row<'a> {
    exercise: &'a Exercise,
    state: ExerciseState,
    status: Status,
    clock: Option<Reading>,
}

fn rows<'a>(exercises: &'a [Exercise], store: &Store, now: u64) -> Vec<Row<'a>> {
    let mut state = store.load();
    exercises
        .iter()
        .map(|exercise| {
            let entry = state.exercises.remove(&exercise.slug).unwrap_or_default();
            Row {
                exercise,
                status: Status::of(&entry),
                clock: entry.session.as_ref().map(|s| Reading::of(s, now)),
                state: entry,
            }
        })
        .collect()
}

/// `grade list`: the human table.
pub fn list(repo: &Repo, color: ColorChoice) -> Result<i32> {
    progress(repo, ProgressFormat::Human, color)
}

/// `grade progress`: the table or the JSON document.
pub fn progress(repo: &Repo, format: ProgressFormat, color: ColorChoice) -> Result<i32> {
    let exercises = repo.exercises()?;
    let store = Store::new(&repo.state_dir());
    let now = clock::now_unix();
    let rows = rows(&exercises, &store, now);
    let text = match format {
        ProgressFormat::Human => table(&rows),
        ProgressFormat::Json => json(&rows, now),
    };
    crate::app::write_report(&text, None, color)?;
    Ok(crate::exit::SUCCESS)
}

fn progress_text(row: &Row<'_>) -> String {
    let mut text = match (row.status, row.clock) {
        (Status::DoneWithinBudget, Some(clock)) => {
            format!("done within budget, {}", format_clock(clock.elapsed))
        }
        (Status::DoneOverBudget, Some(clock)) => {
            format!("done over budget, {}", format_clock(clock.elapsed))
        }
        (Status::InProgress, Some(clock)) => match clock.over() {
            None => format!(
                "in progress, {} of {}",
                format_clock(clock.elapsed),
                format_clock(clock.budget)
            ),
            Some(over) => format!("in progress, {} over", format_clock(over)),
        },
        (Status::InProgress, None) => "in progress, no clock".to_owned(),
        (Status::DoneUntimed, _) => "done, no clock".to_owned(),
        (Status::NotStarted, _) => "not started".to_owned(),
        (Status::DoneWithinBudget | Status::DoneOverBudget, None) => {
            unreachable!("a done status comes from a session")
        }
    };
    if row.state.solution_viewed_at_unix.is_some() {
        text.push('*');
    }
    text
}

fn last_text(last: Option<&LastResult>) -> String {
    last.map_or_else(
        || "not graded".to_owned(),
        |last| format!("{} {}/{} checks", last.status, last.passed, last.total),
    )
}

fn table(rows: &[Row<'_>]) -> String {
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|row| {
            let meta = &row.exercise.meta;
            let hints = if meta.hints.is_empty() {
                "-".to_owned()
            } else {
                format!("{}/{}", row.state.hints_used, meta.hints.len())
            };
            [
                row.exercise.slug.clone(),
                format!("{}m", meta.time_budget_minutes),
                meta.check_ids().count().to_string(),
                progress_text(row),
                row.state
                    .best
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |best| format_clock(best.secs)),
                hints,
                last_text(row.state.last.as_ref()),
                if meta.draft {
                    format!("{} (draft: suite not yet proven)", meta.title)
                } else {
                    meta.title.clone()
                },
            ]
        })
        .collect();
    let header = [
        "EXERCISE",
        "BUDGET",
        "CHECKS",
        "PROGRESS",
        "BEST",
        "HINTS",
        "LAST RESULT",
        "TITLE",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    // Numbers and times align right, words left; the title is last and never padded.
    let right = [false, true, true, false, true, true, false, false];
    let line = |row: &[String]| {
        let mut text = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let width = widths[i];
            if i + 1 == row.len() {
                text.push_str(cell);
            } else if right[i] {
                let _ = write!(text, "{cell:>width$}");
            } else {
                let _ = write!(text, "{cell:<width$}");
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let _ = writeln!(out, "{}", line(&header));
    for row in &cells {
        let _ = writeln!(out, "{}", line(row));
    }
    if rows
        .iter()
        .any(|row| row.state.solution_viewed_at_unix.is_some())
    {
        out.push_str("* the reference solution was viewed before the attempt passed\n");
    }
    out.push_str(
        "\nStart an exercise with `cargo grade start <EXERCISE>`: it prints the prompt and starts the clock.\n",
    );
    out
}

#[derive(Serialize)]
struct JsonProgress<'a> {
    schema_version: u32,
    now_unix: u64,
    exercises: Vec<JsonExercise<'a>>,
}

#[derive(Serialize)]
struct JsonExercise<'a> {
    exercise: &'a str,
    title: &'a str,
    budget_secs: u64,
    checks: usize,
    status: &'static str,
    clock: Option<JsonClock>,
    passed_within_budget: Option<bool>,
    best: Option<&'a BestRun>,
    hints_used: u32,
    hints_total: usize,
    solution_viewed: bool,
    last: Option<&'a LastResult>,
}

#[derive(Serialize)]
struct JsonClock {
    started_at_unix: u64,
    elapsed_secs: u64,
    budget_secs: u64,
    over_budget_secs: u64,
    stopped: bool,
}

fn json(rows: &[Row<'_>], now: u64) -> String {
    let document = JsonProgress {
        schema_version: SCHEMA_VERSION,
        now_unix: now,
        exercises: rows
            .iter()
            .map(|row| JsonExercise {
                exercise: &row.exercise.slug,
                title: &row.exercise.meta.title,
                budget_secs: u64::from(row.exercise.meta.time_budget_minutes) * 60,
                checks: row.exercise.meta.check_ids().count(),
                status: row.status.as_str(),
                clock: row
                    .state
                    .session
                    .as_ref()
                    .zip(row.clock)
                    .map(|(session, clock)| JsonClock {
                        started_at_unix: session.started_at_unix,
                        elapsed_secs: clock.elapsed,
                        budget_secs: clock.budget,
                        over_budget_secs: clock.over().unwrap_or(0),
                        stopped: clock.passed,
                    }),
                passed_within_budget: row
                    .state
                    .session
                    .as_ref()
                    .and_then(|s| s.passed_within_budget),
                best: row.state.best.as_ref(),
                hints_used: row.state.hints_used,
                hints_total: row.exercise.meta.hints.len(),
                solution_viewed: row.state.solution_viewed_at_unix.is_some(),
                last: row.state.last.as_ref(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&document).expect("progress serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::clock::new_session;

    #[test]
    fn the_status_follows_the_session_then_the_last_result() {
        let mut state = ExerciseState::default();
        assert_eq!(Status::of(&state), Status::NotStarted);
        state.last = Some(LastResult {
            status: "fail".into(),
            score: 0.0,
            max_score: 1.0,
            passed: 0,
            total: 1,
            at_unix: 0,
        });
        assert_eq!(Status::of(&state), Status::InProgress);
        state.last.as_mut().unwrap().status = "pass".into();
        assert_eq!(Status::of(&state), Status::DoneUntimed);
        state.session = Some(new_session(0, 30));
        assert_eq!(Status::of(&state), Status::InProgress);
        clock::record_pass(&mut state, 31 * 60);
        assert_eq!(Status::of(&state), Status::DoneOverBudget);
        state.session = Some(new_session(0, 30));
        clock::record_pass(&mut state, 60);
        assert_eq!(Status::of(&state), Status::DoneWithinBudget);
    }
}
