//! `grade hint`: the exercise's hints (`hints` in `exercise.toml`, gentlest first), one more
//! on each call.
//!
//! The count is recorded in the state before anything is printed, so a hint that was shown is
//! always counted; the reports and `grade list` show the count. Hints already revealed are
//! printed again above the new one, so the candidate never has to scroll back for them.

use std::fmt::Write as _;

use anstyle::Style;
use anyhow::{Context, Result};

use super::args::HintArgs;
use super::{markdown, text_width};
use crate::cli::ColorChoice;
use crate::repo::Repo;
use crate::state::Store;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

/// Runs `grade hint`.
pub fn run(repo: &Repo, args: &HintArgs, color: ColorChoice) -> Result<i32> {
    let exercise = repo.exercise(&args.exercise)?;
    let hints = &exercise.meta.hints;
    let slug = &exercise.slug;
    if hints.is_empty() {
        println!(
            "{slug} has no hints: its README.md and the failures in your report are the guide."
        );
        return Ok(crate::exit::SUCCESS);
    }
    let (shown, fresh) = Store::new(&repo.state_dir())
        .update(|state| {
            reveal(
                &mut state.exercises.entry(slug.clone()).or_default().hints_used,
                hints.len(),
            )
        })
        .context("cannot record the hint")?;
    let total = hints.len();
    let width = text_width();
    let mut out = String::new();
    for (index, hint) in hints.iter().take(shown).enumerate() {
        let newest = fresh && index + 1 == shown;
        let style = if newest { BOLD } else { DIM };
        let label = format!("Hint {} of {total}", index + 1);
        let _ = writeln!(out, "{style}{label}{style:#}");
        let _ = writeln!(out, "  {}\n", markdown::wrap_plain(hint, width, 2));
    }
    if shown < total {
        let _ = writeln!(
            out,
            "{shown} of {total} hints used. `cargo grade hint {slug}` again for a stronger one."
        );
    } else {
        let _ = writeln!(
            out,
            "That is every hint ({total} of {total} used). Still stuck? \
             `cargo grade solution {slug} --force` shows the reference solution \
             (your progress will say so)."
        );
    }
    crate::app::write_report(&out, None, color)?;
    Ok(crate::exit::SUCCESS)
}

/// Reveals one more of `total` hints; returns how many are now revealed and whether this call
/// revealed a new one.
fn reveal(used: &mut u32, total: usize) -> (usize, bool) {
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    let fresh = *used < total;
    if fresh {
        *used += 1;
    }
    ((*used).min(total) as usize, fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_reveals_one_more_until_none_are_left() {
        let mut used = 0;
        assert_eq!(reveal(&mut used, 2), (1, true));
        assert_eq!(reveal(&mut used, 2), (2, true));
        assert_eq!(reveal(&mut used, 2), (2, false));
        assert_eq!(used, 2);
    }
}
