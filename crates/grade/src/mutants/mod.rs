//! `grade mutants <EXERCISE>`: a mutation-testing floor for an exercise's acceptance suite.
//!
//! The authors of a suite are the worst judges of it: their fixtures test the bugs they
//! thought of. Mutation testing asks the question the other way round: change the reference
//! solution in small mechanical ways (an operator flipped, a function body replaced by a
//! default) and demand that some check fails. A mutant that survives is either a missing check
//! or a change no behaviour can reveal, and the second kind is written down, with the reason,
//! in `tests/<exercise>/equivalent-mutants.toml`.
//!
//! How a sweep runs:
//! 1. cargo-mutants lists the reference's mutants ([`listing`]): all of them, and with
//!    `--in-diff` the subset in lines a diff touches. The whole list is needed either way, to
//!    tell which equivalents entries are stale.
//! 2. Each mutant is applied to a private copy of the reference ([`apply`]) and graded there
//!    by the grader's own machinery, after one baseline grading of the unmutated copy
//!    ([`sweep`]). The grading decides caught / survived / unviable; the equivalents file
//!    ([`equivalent`]) turns explained survivors into equivalents.
//! 3. Progress goes to stderr as each mutant finishes ([`ticker`]); the report ([`report`]) to
//!    stdout or `--output`, for people or as JSON.
//!
//! Exit code 0 when no mutant survived unexplained, 1 otherwise, 4 when the sweep cannot run
//! (cargo-mutants missing, the reference failing its own suite): see [`args`].

pub mod apply;
pub mod args;
pub mod equivalent;
pub mod listing;
pub mod report;
pub mod sweep;
pub mod ticker;

use std::collections::HashSet;
use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::cli::ColorChoice;
use crate::error::MutantsError;
use crate::exit;
use crate::repo::{Exercise, Repo};
use crate::services::Host;
use apply::Slot;
use args::{MutantsArgs, MutantsFormat};
use equivalent::{Entry, Equivalents, Facts, Matching, match_entries};
use listing::{ListRequest, Mutant};
use report::{Ambiguous, MutantResult, Status, SweepReport};
use sweep::{Graded, Job};

/// The equivalents file's name, in the exercise's suite folder.
pub const EQUIVALENTS_FILE: &str = "equivalent-mutants.toml";

/// A listed mutant, applied in memory.
struct Prepared {
    /// Its file relative to the reference crate.
    crate_file: String,
    /// The reference's text of that file.
    original: std::rc::Rc<str>,
    /// The file with the mutant applied.
    mutated: String,
    /// The mutated line, whitespace squeezed (what an entry's `context` is looked for in).
    line: String,
}

/// Runs `grade mutants`; returns the exit code.
pub fn run(repo: &Repo, args: &MutantsArgs, color: ColorChoice) -> Result<i32> {
    let exercise = repo.exercise(&args.exercise)?;
    if args.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    // Each grading runs its checks as `grade` would (one per core at most): `--jobs` here is
    // how many mutants are graded at once.
    let settings = crate::app::settings(None, 1, args.timeout_scale, 1024)?;
    let host = Host::current(args.services.redis_url.clone());
    let started = Instant::now();
    let mut ticker = ticker::Ticker::new(stderr_color(color));

    let tool = listing::tool_version()?;
    let reference = repo.display_path(&exercise.reference_dir);
    ticker.phase(&format!("listing the mutants of {reference} with {tool}…"));
    let request = ListRequest {
        root: repo.root(),
        reference_dir: &exercise.reference_dir,
        in_diff: None,
    };
    let all = listing::list(&request)?;
    let selected = match &args.in_diff {
        None => (0..all.len()).collect(),
        Some(path) => in_diff(&request, &all, path)?,
    };

    let equivalents = Equivalents::load(&exercise.suite_dir.join(EQUIVALENTS_FILE))?;
    let prepared = prepare(&exercise, repo, &all)?;
    let facts: Vec<Facts<'_>> = all
        .iter()
        .zip(&prepared)
        .map(|(mutant, prepared)| facts(mutant, prepared))
        .collect();
    let matching = match_entries(&equivalents.entries, &facts);
    let judge = Judge {
        all: &all,
        facts: &facts,
        matching: &matching,
        entries: &equivalents.entries,
        equivalents_file: repo.display_path(&equivalents.path),
    };

    let jobs: Vec<Job<'_>> = selected
        .iter()
        .map(|&index| Job {
            name: &all[index].name,
            file: &prepared[index].crate_file,
            mutated: &prepared[index].mutated,
            original: &prepared[index].original,
        })
        .collect();
    let (results, warnings) = if jobs.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let context = sweep::Context {
            repo,
            exercise: &exercise,
            settings,
            host: &host,
        };
        let base = repo.state_dir().join("mutants").join(&exercise.slug);
        grade_jobs(
            &context,
            &base,
            args.jobs,
            &jobs,
            &selected,
            &judge,
            &mut ticker,
        )?
    };
    drop(ticker);

    let report = SweepReport {
        exercise: exercise.slug.clone(),
        reference,
        equivalents_file: judge.equivalents_file.clone(),
        tool,
        in_diff: args.in_diff.as_ref().map(|p| p.display().to_string()),
        listed: all.len(),
        results,
        stale: matching
            .stale
            .iter()
            .map(|&i| equivalents.entries[i].clone())
            .collect(),
        ambiguous: matching
            .ambiguous
            .iter()
            .map(|(entry, mutants)| Ambiguous {
                entry: equivalents.entries[*entry].clone(),
                mutants: mutants.iter().map(|&m| all[m].name.clone()).collect(),
            })
            .collect(),
        warnings,
        duration: started.elapsed(),
    };
    let text = match args.format {
        MutantsFormat::Human => report::human(&report),
        MutantsFormat::Json => report::json(&report),
    };
    crate::app::write_report(&text, args.output.as_deref(), color)?;
    if args.output.is_some() && args.format == MutantsFormat::Json {
        // The report went to a file: say the verdict where a person (or a CI log) sees it.
        let counts = report.counts();
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{} mutants: {} caught, {} equivalent, {} survived, {} unviable",
            counts.total, counts.caught, counts.equivalent, counts.survived, counts.unviable
        );
    }
    Ok(if report.passed() {
        exit::SUCCESS
    } else {
        exit::CHECKS_FAILED
    })
}

/// Grades `jobs` (mutants `selected` of the whole listing) after a baseline, `workers` at a
/// time, with a progress line per mutant; returns the verdicts in listing order and the
/// warnings about contradicted equivalents entries.
fn grade_jobs(
    context: &sweep::Context<'_>,
    base: &std::path::Path,
    workers: Option<usize>,
    jobs: &[Job<'_>],
    selected: &[usize],
    judge: &Judge<'_>,
    ticker: &mut ticker::Ticker,
) -> Result<(Vec<MutantResult>, Vec<String>)> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let workers = workers.unwrap_or(cores).clamp(1, jobs.len());
    let slots = (0..workers)
        .map(|_| Slot::acquire(base, &context.exercise.reference_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let count = format!("{} mutant{}", jobs.len(), plural(jobs.len()));
    ticker.phase(&format!(
        "grading the unmutated reference first: every check must pass ({count} to go)…"
    ));
    sweep::baseline(context, &slots[0])?;
    ticker.start(
        jobs.len(),
        &format!("mutants of {}", context.exercise.slug),
        &format!("grading {count}, {workers} at a time…"),
    );
    let mut verdicts: Vec<Option<(MutantResult, Option<String>)>> = vec![None; jobs.len()];
    let mut done = 0;
    sweep::sweep(context, &slots, jobs, |job, graded, took| {
        done += 1;
        let verdict = judge.verdict(selected[job], graded.clone(), took);
        ticker.finished(&report::progress_line(done, jobs.len(), &verdict.0));
        verdicts[job] = Some(verdict);
    })?;
    // `sweep` returns Ok only once every job has reported, so every verdict is there.
    let (results, warnings): (Vec<MutantResult>, Vec<Option<String>>) =
        verdicts.into_iter().flatten().unzip();
    Ok((results, warnings.into_iter().flatten().collect()))
}

/// Whether progress on stderr gets colour.
fn stderr_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Indexes into `all` of the mutants in lines the diff at `path` touches.
///
/// The diff is read here and handed to cargo-mutants as a private copy: `--in-diff
/// <(git diff …)` is a pipe, which can be read only once.
fn in_diff(
    request: &ListRequest<'_>,
    all: &[Mutant],
    path: &std::path::Path,
) -> Result<Vec<usize>> {
    let text = std::fs::read(path)
        .with_context(|| format!("--in-diff {}: cannot read it", path.display()))?;
    let mut copy = tempfile::Builder::new()
        .prefix("grade-in-diff-")
        .suffix(".diff")
        .tempfile()
        .context("cannot create a temporary file for the diff")?;
    copy.write_all(&text)
        .and_then(|()| copy.flush())
        .context("cannot write a temporary copy of the diff")?;
    let subset = listing::list(&ListRequest {
        in_diff: Some(copy.path()),
        ..request.clone()
    })?;
    // Both listings are of the same tree, so names (file, line, column, change) agree.
    let names: HashSet<&str> = subset.iter().map(|m| m.name.as_str()).collect();
    Ok((0..all.len())
        .filter(|&i| names.contains(all[i].name.as_str()))
        .collect())
}

/// Applies every mutant in memory, reading each file once.
fn prepare(exercise: &Exercise, repo: &Repo, all: &[Mutant]) -> Result<Vec<Prepared>> {
    let mut files: std::collections::HashMap<String, std::rc::Rc<str>> = Default::default();
    all.iter()
        .map(|mutant| {
            let path = repo.root().join(&mutant.file);
            let crate_file = path
                .strip_prefix(&exercise.reference_dir)
                .map_err(|_| MutantsError::BadListing {
                    reason: format!(
                        "`{}` is in {}, outside the reference {}",
                        mutant.name,
                        mutant.file,
                        repo.display_path(&exercise.reference_dir)
                    ),
                })?
                .to_string_lossy()
                .into_owned();
            let original = match files.get(&crate_file) {
                Some(text) => text.clone(),
                None => {
                    let text: std::rc::Rc<str> = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?
                        .into();
                    files.insert(crate_file.clone(), text.clone());
                    text
                }
            };
            let mutated = apply::mutate(&original, mutant)?;
            let line = apply::mutated_line(&original, mutant).unwrap_or_default();
            Ok(Prepared {
                crate_file,
                original,
                mutated,
                line,
            })
        })
        .collect()
}

fn facts<'a>(mutant: &'a Mutant, prepared: &'a Prepared) -> Facts<'a> {
    Facts {
        file: &prepared.crate_file,
        function: mutant.function_name(),
        genre: &mutant.genre,
        replacement: &mutant.replacement,
        line: &prepared.line,
    }
}

/// Turns gradings into verdicts, with what the equivalents file says about each mutant.
struct Judge<'a> {
    all: &'a [Mutant],
    facts: &'a [Facts<'a>],
    matching: &'a Matching,
    entries: &'a [Entry],
    equivalents_file: String,
}

impl Judge<'_> {
    /// The verdict on mutant `index` (of the whole listing), and a warning when its
    /// equivalents entry is contradicted by the grading.
    fn verdict(
        &self,
        index: usize,
        graded: Graded,
        duration: Duration,
    ) -> (MutantResult, Option<String>) {
        let mutant = &self.all[index];
        let entry = self.matching.explained_by[index].map(|e| &self.entries[e]);
        let mut result = MutantResult {
            mutant: mutant.clone(),
            status: Status::Caught,
            failing: Vec::new(),
            why: None,
            build_error: None,
            suggestion: None,
            duration,
        };
        let mut warning = None;
        match graded {
            Graded::Failed(checks) => {
                if let Some(entry) = entry {
                    warning = Some(format!(
                        "{}: entry {} says `{}` is equivalent, but {} caught it: remove the entry",
                        self.equivalents_file,
                        entry.describe(),
                        mutant.name,
                        checks.first().map_or("a check", |c| c.id.as_str())
                    ));
                }
                result.failing = checks;
            }
            Graded::Unviable(error) => {
                result.status = Status::Unviable;
                result.build_error = Some(error);
                if let Some(entry) = entry {
                    warning = Some(format!(
                        "{}: entry {} explains `{}`, which does not even build: remove the entry",
                        self.equivalents_file,
                        entry.describe(),
                        mutant.name
                    ));
                }
            }
            Graded::Passed => match entry {
                Some(entry) => {
                    result.status = Status::Equivalent;
                    result.why = Some(entry.why.clone());
                }
                None => {
                    result.status = Status::Survived;
                    result.suggestion = Some(self.suggestion(index));
                }
            },
        }
        (result, warning)
    }

    /// The entry that would explain mutant `index`, `why` left empty: `context` only when
    /// another mutant agrees with it on everything else.
    fn suggestion(&self, index: usize) -> Entry {
        let me = &self.facts[index];
        let twins = self
            .facts
            .iter()
            .filter(|other| {
                other.file == me.file
                    && other.function == me.function
                    && other.genre == me.genre
                    && other.replacement == me.replacement
            })
            .count();
        Entry {
            file: me.file.to_owned(),
            function: me.function.map(str::to_owned),
            genre: me.genre.to_owned(),
            replacement: me.replacement.to_owned(),
            context: (twins > 1).then(|| me.line.to_owned()),
            why: String::new(),
        }
    }
}
