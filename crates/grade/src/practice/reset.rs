//! `grade reset`: put the stub back (or a backup), after backing up the current attempt.
//!
//! This is the only command that writes into `exercises/`, and it is built so that nothing a
//! candidate wrote is ever lost: the current attempt is copied to a new backup *before* any
//! file is changed, and a restore is itself a reset to the backup's files (so it backs up the
//! attempt it replaces too). When the attempt already equals the target nothing happens, not
//! even a backup. Replacing files needs a yes: a question on a terminal, `--yes` elsewhere.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};

use super::args::ResetArgs;
use super::backup::{Backups, utc_text};
use super::{clock, files, pristine};
use crate::cli::ColorChoice;
use crate::error::PracticeError;
use crate::repo::Repo;

/// Runs `grade reset`.
pub fn run(repo: &Repo, args: &ResetArgs, color: ColorChoice) -> Result<i32> {
    let exercise = repo.exercise(&args.exercise)?;
    let slug = &exercise.slug;
    let backups = Backups::new(&repo.state_dir(), slug);
    if args.list {
        let text = list(repo, &backups, slug)?;
        crate::app::write_report(&text, None, color)?;
        return Ok(crate::exit::SUCCESS);
    }

    let folder = repo.display_path(&exercise.attempt_dir);
    let (target, source) = match &args.restore {
        Some(id) => {
            let (info, files) = backups.load(id)?;
            (files, format!("backup {}", info.id))
        }
        None => {
            let rev = args.from.as_deref().unwrap_or("HEAD");
            let (files, label) = pristine::stub_files(repo.root(), slug, rev)?;
            (files, format!("the stub from git {label}"))
        }
    };
    let current = files::read_attempt(&exercise.attempt_dir)?;
    if current == target {
        println!("{folder} already matches {source}: nothing to do.");
        return Ok(crate::exit::SUCCESS);
    }

    let action = format!("replace your attempt in {folder} with {source}");
    if !args.yes && !confirm(&action)? {
        println!("Nothing changed.");
        return Ok(crate::exit::SUCCESS);
    }

    let reason = match &args.restore {
        Some(id) => format!("before restoring {id}"),
        None => "before reset".to_owned(),
    };
    let backup = backups
        .create(&current, &reason, clock::now_unix())
        .context("cannot back up your attempt; nothing was changed")?;
    let changes = files::apply(&exercise.attempt_dir, &target)
        .with_context(|| format!("cannot write {folder}; your attempt is backed up"))?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Backed up your attempt ({} files) to {}.",
        current.len(),
        repo.display_path(&backups.path(&backup.id))
    );
    let _ = writeln!(
        out,
        "{folder} is now {source}: {} file{} written, {} removed.",
        changes.written,
        if changes.written == 1 { "" } else { "s" },
        changes.removed
    );
    let _ = writeln!(
        out,
        "Undo with `cargo grade reset {slug} --restore {}`. The clock is unchanged \
         (`cargo grade start {slug} --restart` starts it again).",
        backup.id
    );
    crate::app::write_report(&out, None, color)?;
    Ok(crate::exit::SUCCESS)
}

/// The backups of an exercise as a table.
fn list(repo: &Repo, backups: &Backups, slug: &str) -> Result<String> {
    let all = backups.list()?;
    let mut out = String::new();
    if all.is_empty() {
        let _ = writeln!(out, "No backups of {slug} yet: `grade reset` makes one.");
        return Ok(out);
    }
    let width = all.iter().map(|b| b.id.len()).max().unwrap_or(2).max(2);
    let _ = writeln!(
        out,
        "{:<width$}  {:<23}  {:>5}  REASON",
        "ID", "CREATED", "FILES"
    );
    for backup in &all {
        let _ = writeln!(
            out,
            "{:<width$}  {:<23}  {:>5}  {}",
            backup.id,
            utc_text(backup.created_unix),
            backup.files.len(),
            backup.reason
        );
    }
    let _ = writeln!(
        out,
        "\nIn {}. Bring one back with `cargo grade reset {slug} --restore ID`.",
        repo.display_path(&repo.state_dir().join("backups").join(slug))
    );
    Ok(out)
}

/// Asks on the terminal; refuses (an error) when standard input is not one.
fn confirm(action: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(PracticeError::NotConfirmed {
            action: action.to_owned(),
        }
        .into());
    }
    let mut stderr = std::io::stderr();
    write!(
        stderr,
        "This will {action}. Your attempt is backed up first. Continue? [y/N] "
    )?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
