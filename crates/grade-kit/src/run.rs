//! The suite binary's `main`: list checks, run one check, or (by hand) run them all.
//!
//! Under the grader the suite is executed once per check with `--grade-run ID`; this module
//! runs that one check, turns a panic of candidate code into [`Verdict::Panicked`], writes the
//! verdict to the file the grader named and exits at once. Exiting at once matters: dropping a
//! tokio runtime waits for its blocking threads, and a candidate's stuck `spawn_blocking` must
//! not turn a finished check into a timeout.
//!
//! Run with no arguments (`cargo run -p <suite>`), the binary runs every check in a child
//! process of its own and prints one line per check: a convenience for suite authors, not a
//! substitute for the grader's isolation, limits and reports.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use grade_protocol::{
    CheckInfo, ENV_MEMORY_LIMIT, ENV_RESULT_FILE, LIST_FLAG, Listing, PROTOCOL_VERSION, RUN_FLAG,
    Verdict,
};

use crate::check::{Body, Check};

/// Set while a check runs on a paused clock, so deadlines know not to scale.
pub(crate) static CLOCK_PAUSED: AtomicBool = AtomicBool::new(false);

/// Set while a check's body runs: only its panics are recorded rather than printed.
static IN_CHECK: AtomicBool = AtomicBool::new(false);

/// Every panic so far: message, location and thread, recorded by the panic hook.
static PANICS: Mutex<Vec<PanicRecord>> = Mutex::new(Vec::new());

struct PanicRecord {
    message: String,
    location: Option<String>,
    thread: String,
}

/// Runs the suite: the entry point every suite's `main` calls. Never returns.
pub fn main(checks: Vec<Check>) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [flag] if *flag == LIST_FLAG => {
            let listing = Listing {
                protocol: PROTOCOL_VERSION,
                checks: checks.iter().map(|check| check.info.clone()).collect(),
            };
            println!(
                "{}",
                serde_json::to_string(&listing).expect("a listing serialises")
            );
            0
        }
        [flag, id] if *flag == RUN_FLAG => match checks.iter().find(|check| check.info.id == *id) {
            Some(check) => run_protocol(check),
            None => {
                eprintln!("no check with id `{id}` in this suite");
                2
            }
        },
        [] => run_all_by_hand(&checks),
        _ => {
            eprintln!(
                "usage: {LIST_FLAG} | {RUN_FLAG} <CHECK-ID> | (no arguments: run every check)\n\
                 This binary is an acceptance suite; grade it with `cargo grade <exercise>`."
            );
            2
        }
    };
    std::process::exit(code)
}

/// Runs one check for the grader and writes its verdict. Returns the exit code.
fn run_protocol(check: &Check) -> i32 {
    apply_memory_limit();
    let verdict = run_check(check);
    match std::env::var_os(ENV_RESULT_FILE) {
        Some(path) => {
            if let Err(error) = std::fs::write(&path, verdict.to_json()) {
                eprintln!(
                    "grade-kit: cannot write the verdict to {}: {error}",
                    Path::new(&path).display()
                );
                return 3;
            }
        }
        None => println!("{}", verdict.to_json()),
    }
    0
}

/// Runs a check's body, catching panics, and returns its verdict.
pub(crate) fn run_check(check: &Check) -> Verdict {
    install_panic_hook();
    IN_CHECK.store(true, Ordering::SeqCst);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match &check.body {
        Body::Sync(body) => body(),
        Body::Paused(body) => {
            CLOCK_PAUSED.store(true, Ordering::Relaxed);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .expect("a tokio runtime can be built");
            let result = runtime.block_on(body());
            // Never drop the runtime: see the module docs.
            std::mem::forget(runtime);
            result
        }
        Body::Tokio(body) => {
            CLOCK_PAUSED.store(false, Ordering::Relaxed);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime can be built");
            let result = runtime.block_on(body());
            std::mem::forget(runtime);
            result
        }
    }));
    IN_CHECK.store(false, Ordering::SeqCst);
    let mut panics = PANICS
        .lock()
        .map(|mut panics| std::mem::take(&mut *panics))
        .unwrap_or_default();
    let verdict = match outcome {
        Ok(Ok(())) => Verdict::Pass,
        Ok(Err(failure)) => Verdict::Fail(failure),
        Err(payload) => match panics.pop() {
            Some(PanicRecord {
                message, location, ..
            }) => Verdict::Panicked { message, location },
            None => Verdict::Panicked {
                message: payload_message(&*payload),
                location: None,
            },
        },
    };
    // Panics that did not end the check (in spawned tasks or threads) still tell the
    // candidate something: they go to stderr, which the report shows for failing checks.
    for PanicRecord {
        message,
        location,
        thread,
    } in panics
    {
        let at = location.map(|l| format!(" at {l}")).unwrap_or_default();
        eprintln!("note: thread '{thread}' panicked{at}: {message}");
    }
    verdict
}

/// Records every panic's message, location and thread instead of printing it: the payload
/// alone loses the location, and the default hook's text would only repeat, in the captured
/// output, what the report already says.
fn install_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // Outside a check (the suite's own code, or a unit test's assertion) panics print
            // as usual.
            if !IN_CHECK.load(Ordering::SeqCst) {
                return default_hook(info);
            }
            let record = PanicRecord {
                message: payload_message(info.payload()),
                location: info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
                thread: std::thread::current()
                    .name()
                    .unwrap_or("unnamed")
                    .to_owned(),
            };
            if let Ok(mut panics) = PANICS.lock() {
                panics.push(record);
            }
        }));
    });
}

/// The message of a panic that was just caught inside a check (by a model-based check that
/// catches each scenario's panic itself): the recorded message with its location when the hook
/// saw it, else the payload's text. Taking the record keeps it out of the check's verdict.
pub(crate) fn take_panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let record = PANICS.lock().ok().and_then(|mut panics| panics.pop());
    match record {
        Some(PanicRecord {
            message,
            location: Some(location),
            ..
        }) => format!("{message} (at {location})"),
        Some(PanicRecord { message, .. }) => message,
        None => payload_message(payload),
    }
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panicked with a non-string payload".to_owned()
    }
}

/// Caps this process's address space as a backstop to the grader's resident-memory watch.
///
/// The grader samples resident memory from outside and kills the check's process group when
/// it passes the cap; sampling can lag a fast allocation loop, so a generous address-space
/// limit (four times the cap: runtimes reserve far more address space than they touch) makes a
/// runaway allocation fail fast. Only Linux enforces `RLIMIT_AS` usefully.
fn apply_memory_limit() {
    #[cfg(target_os = "linux")]
    if let Some(cap) = std::env::var(ENV_MEMORY_LIMIT)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        use nix::sys::resource::{Resource, setrlimit};
        let limit = cap.saturating_mul(4);
        if let Err(error) = setrlimit(Resource::RLIMIT_AS, limit, limit) {
            eprintln!("grade-kit: could not cap address space: {error}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = ENV_MEMORY_LIMIT;
}

/// Dev mode: every check in a child process of its own, one line each, 60 s apiece.
fn run_all_by_hand(checks: &[Check]) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("cannot find this executable: {error}");
            return 2;
        }
    };
    let scratch = std::env::temp_dir().join(format!("grade-kit-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let mut failed = 0;
    for CheckInfo { id, .. } in checks.iter().map(Check::info) {
        let result_file = scratch.join(format!("{id}.json"));
        let _ = std::fs::remove_file(&result_file);
        let started = Instant::now();
        let status = Command::new(&exe)
            .args([RUN_FLAG, id])
            .env(ENV_RESULT_FILE, &result_file)
            .spawn()
            .and_then(|mut child| wait_at_most(&mut child, Duration::from_secs(60)));
        let verdict = std::fs::read_to_string(&result_file)
            .ok()
            .and_then(|t| Verdict::from_json(&t).ok());
        let line = match (&verdict, status) {
            (Some(Verdict::Pass), _) => "PASS".to_owned(),
            (Some(Verdict::Fail(failure)), _) => format!("FAIL  {}", failure.message),
            (Some(Verdict::Panicked { message, .. }), _) => format!("PANIC {message}"),
            (None, Ok(Some(status))) => format!("DIED  {status}"),
            (None, Ok(None)) => "TIMEOUT after 60s".to_owned(),
            (None, Err(error)) => format!("ERROR {error}"),
        };
        if !matches!(verdict, Some(Verdict::Pass)) {
            failed += 1;
        }
        println!("{id:<40} {:>6.2}s  {line}", started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{} passed, {failed} failed", checks.len() - failed);
    i32::from(failed > 0)
}

fn wait_at_most(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill()?;
    child.wait()?;
    Ok(None)
}

/// In a suite each check has its process to itself; unit tests share one, so the tests that
/// run checks or panic take turns (the panic records and the clock flag are process-wide).
#[cfg(test)]
pub(crate) fn tests_serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE_CHECK_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_CHECK_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check, fail};

    use super::tests_serial as serial;

    #[test]
    #[allow(
        clippy::todo,
        reason = "a stub's todo!() is exactly what this test imitates"
    )]
    fn passing_failing_and_panicking_bodies_give_their_verdicts() {
        let _turn = serial();
        let pass = check("a.pass", "a", "passes").sync(|| Ok(()));
        assert_eq!(run_check(&pass), Verdict::Pass);

        let failing = check("a.fail", "a", "fails").sync(|| fail!("nope {}", 1));
        assert!(matches!(run_check(&failing), Verdict::Fail(f) if f.message == "nope 1"));

        let panicking = check("a.panic", "a", "panics").paused(|| async { todo!("write me") });
        match run_check(&panicking) {
            Verdict::Panicked { message, location } => {
                assert_eq!(message, "not yet implemented: write me");
                assert!(location.unwrap().contains("run.rs"));
            }
            other => panic!("expected a panic verdict, got {other:?}"),
        }
    }

    #[test]
    fn paused_checks_run_on_virtual_time() {
        let _turn = serial();
        let sleepy = check("t.sleep", "t", "sleeps an hour").paused(|| async {
            let start = std::time::Instant::now();
            tokio::time::sleep(Duration::from_secs(3600)).await;
            crate::ensure!(start.elapsed() < Duration::from_secs(5), "slept for real");
            Ok(())
        });
        assert_eq!(run_check(&sleepy), Verdict::Pass);
    }

    #[test]
    fn within_reports_a_deadline_in_virtual_time() {
        let _turn = serial();
        let stuck = check("t.stuck", "t", "never finishes").paused(|| async {
            crate::time::within(
                Duration::from_secs(5),
                "the runner",
                std::future::pending::<()>(),
            )
            .await?;
            Ok(())
        });
        match run_check(&stuck) {
            Verdict::Fail(failure) => {
                assert_eq!(failure.message, "the runner did not finish within 5s")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
