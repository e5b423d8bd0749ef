//! Services provisioned by the grader (Redis, a Kafka-protocol broker), through the real
//! binary: `grade doctor`, the hidden `grade debug-services`, and every exercise that declares
//! `services = ["redis"]`.
//!
//! What must hold, whatever the run's end: no `redis-server` or broker the grader started
//! survives a normal end, a failure, or SIGTERM / Ctrl-C of the grader; with no Redis anywhere
//! the grader stops with exit code 4 and a message that says how to get one; a server the user
//! supplies keeps every key the run did not create.
//!
//! A server the grader started is found by its working directory: it is a fresh folder under
//! the grader's `TMPDIR`, which each test points at a folder of its own.
//!
//! These tests need `redis-server` and `redis-cli` (`.ci/run` installs them), and grade's own
//! Kafka broker (`crates/kafka-broker`: built by the first test that needs it, minutes on a cold
//! machine, then reused from the target directory). Without them they are skipped with a note,
//! except under CI, where skipping would hide a broken setup.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use predicates::prelude::*;

use crate::util::{grade, processes_matching, root};

/// Whether `program` is on PATH; panics under CI when it is not (CI installs it).
fn have(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is not on PATH; .ci/run should have installed it"
        );
        eprintln!("skipped: {program} is not on PATH");
    }
    found
}

fn have_redis() -> bool {
    have("redis-server") && have("redis-cli")
}

/// Live processes whose working directory is inside `dir`.
fn processes_in(dir: &Path) -> Vec<(u32, String)> {
    let dir = dir.canonicalize().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(&dir) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// Asserts nothing the grader started is left: no process in `tmp`, nothing in `tmp`.
fn assert_nothing_left(tmp: &Path, what: &str) {
    // A killed server may take a moment to be reaped by the grader's exit.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in(tmp).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let survivors = processes_in(tmp);
    assert!(survivors.is_empty(), "{what}: still running: {survivors:?}");
    let leftovers: Vec<_> = std::fs::read_dir(tmp).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "{what}: temporary files left behind: {leftovers:?}"
    );
}

/// A `PATH` with cargo and rustc but no `redis-server` and no `docker`.
fn path_without_redis() -> (tempfile::TempDir, std::ffi::OsString) {
    let empty = tempfile::tempdir().unwrap();
    let toolchain = Path::new(env!("CARGO")).parent().unwrap().to_owned();
    for program in ["redis-server", "docker"] {
        assert!(
            !toolchain.join(program).exists(),
            "{program} sits next to cargo; this test cannot hide it"
        );
    }
    let path = std::env::join_paths([empty.path().to_owned(), toolchain]).unwrap();
    (empty, path)
}

/// Sends one command to the Redis server on 127.0.0.1:`port`; the reply's first line, or a
/// bulk string's contents.
fn redis(port: u16, args: &[&str]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let line = line.trim_end().to_owned();
    match line.strip_prefix('$').map(|n| n.parse::<i64>().unwrap()) {
        Some(len) if len >= 0 => {
            let mut data = vec![0; len as usize + 2];
            reader.read_exact(&mut data).unwrap();
            String::from_utf8_lossy(&data[..len as usize]).into_owned()
        }
        _ => line,
    }
}

/// A Redis server that stands for the user's own: the machine's on 6379 when it answers,
/// else one started here (and killed when dropped).
struct UserRedis {
    port: u16,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl UserRedis {
    fn get() -> Self {
        if TcpStream::connect(("127.0.0.1", 6379)).is_ok() && redis(6379, &["PING"]) == "+PONG" {
            return Self {
                port: 6379,
                child: None,
                _dir: None,
            };
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the stand-in server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child: Some(child),
            _dir: Some(dir),
        }
    }
}

impl Drop for UserRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of `NAME=value` in `grade debug-services` output.
fn env_line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in:\n{stdout}"))
}

/// Every exercise whose metadata declares `services = ["redis", …]`.
fn redis_exercises() -> Vec<String> {
    let mut slugs: Vec<String> = std::fs::read_dir(root().join("exercises"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join("exercise.toml")).ok()?;
            let meta: toml::Value = toml::from_str(&text).ok()?;
            let services = meta.get("services")?.as_array()?;
            services
                .iter()
                .any(|s| s.as_str() == Some("redis"))
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    slugs.sort();
    if slugs.is_empty() {
        eprintln!(
            "note: no exercise declares services = [\"redis\"] yet; only debug-services is tested"
        );
    }
    slugs
}

/// Whether `grade doctor` output lists an exercise that cannot be graded.
fn doctor_blocks(stdout: &str) -> bool {
    stdout.lines().any(|line| {
        let line = line.trim_start();
        (line.starts_with("MISSING") && !line.contains(": no usable source"))
            || line.starts_with("BROKEN")
    })
}

#[test]
fn doctor_shows_the_toolchain_each_source_and_each_exercise() {
    let output = grade().arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for needed in [
        "Toolchain",
        "cargo ",
        "rustc ",
        "Services",
        "redis",
        "Docker:",
        "kafka",
        "brokers: ",
        "tansu:   ",
        "built:   ",
        "C tools: ",
        "Exercises",
        "task-runner",
    ] {
        assert!(
            stdout.contains(needed),
            "{needed:?} missing from:\n{stdout}"
        );
    }
    if have("redis-server") {
        assert!(stdout.contains("ok       redis: redis-server"), "{stdout}");
        for slug in redis_exercises() {
            assert!(stdout.contains(&format!("ok       {slug} ")), "{stdout}");
        }
    }
    // Exit 4 exactly when some exercise cannot be graded (an exercise being written may have
    // broken metadata for a while: `grade verify` is what holds that line).
    let expected = if doctor_blocks(&stdout) { 4 } else { 0 };
    assert_eq!(output.status.code(), Some(expected), "{stdout}");
}

#[test]
fn doctor_without_redis_names_the_fix_and_fails_if_an_exercise_needs_it() {
    let (_empty, path) = path_without_redis();
    let output = grade()
        .arg("doctor")
        .env("PATH", path)
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for needed in [
        "MISSING  redis: no usable source",
        "no `redis-server` on PATH",
        "Docker:  not available",
        "sudo apt-get install redis-server",
        "sudo dnf install redis",
        "brew install redis",
    ] {
        assert!(
            stdout.contains(needed),
            "{needed:?} missing from:\n{stdout}"
        );
    }
    for slug in redis_exercises() {
        assert!(
            stdout.contains(&format!("MISSING  {slug} "))
                || stdout.contains(&format!("BROKEN   {slug} ")),
            "{slug} should be listed as blocked:\n{stdout}"
        );
    }
    let expected = if doctor_blocks(&stdout) { 4 } else { 0 };
    assert_eq!(output.status.code(), Some(expected), "{stdout}");
}

#[test]
fn doctor_pings_an_explicit_url() {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    grade()
        .args(["doctor", "--redis-url", &url])
        .assert()
        .stdout(predicate::str::contains(format!(
            "{url} from --redis-url: does not answer"
        )))
        .stdout(predicate::str::contains("MISSING  redis"));
}

#[test]
fn no_redis_anywhere_stops_with_exit_4_and_says_how_to_get_one() {
    let (_empty, path) = path_without_redis();
    let mut commands = vec![(
        "debug-services".to_owned(),
        vec!["debug-services".to_owned(), "redis".to_owned()],
    )];
    for slug in redis_exercises() {
        commands.push((slug.clone(), vec![slug, "--format".into(), "json".into()]));
    }
    for (what, args) in commands {
        let started = Instant::now();
        let output = grade()
            .args(&args)
            .env("PATH", &path)
            .env_remove("REDIS_URL")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "{what}: {stderr}");
        for needed in [
            "needs a Redis server, and none is available",
            "no `redis-server` on PATH",
            "Docker cannot be used",
            "sudo apt-get install redis-server",
            "sudo dnf install redis",
            "brew install redis",
            "--redis-url",
        ] {
            assert!(
                stderr.contains(needed),
                "{what}: {needed:?} missing from:\n{stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(output.stdout.is_empty(), "{what}: a report was printed");
        // It stops before building: no compilation can fit in this.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_private_server_serves_the_command_then_disappears() {
    if !have_redis() {
        return;
    }
    for (script, code) in [
        // A normal end, using the server with the check's own key prefix.
        (
            r#"redis-cli -u "$GRADE_REDIS_URL" set "${GRADE_KEY_PREFIX}k" v | grep -q OK"#,
            0,
        ),
        // A failing end.
        ("exit 3", 3),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let output = grade()
            .env("TMPDIR", tmp.path())
            .env_remove("REDIS_URL")
            .args(["debug-services", "redis", "--", "sh", "-c", script])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{script}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("service redis binary redis-server"),
            "{stdout}"
        );
        let url = env_line(&stdout, "GRADE_REDIS_URL");
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        assert_ne!(port, 6379, "the grader must start its own server");
        assert!(env_line(&stdout, "GRADE_KEY_PREFIX").starts_with("grade:"));
        assert_nothing_left(tmp.path(), script);
        assert!(
            processes_matching(&format!("127.0.0.1:{port}")).is_empty(),
            "{script}: the server on port {port} survived"
        );
    }
}

/// Starts `grade` with `args` and `TMPDIR=tmp`, waits until a server it started runs, sends
/// `signal`, and checks that the grader exits 130 with nothing left behind.
fn interrupt_while_serving(args: &[&str], signal: Signal, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut grader = std::process::Command::new(assert_cmd::cargo::cargo_bin("grade"))
        .current_dir(root())
        .env("GRADE_ROOT", root())
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .env_remove("REDIS_URL")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !processes_in(tmp.path())
        .iter()
        .any(|(_, cmdline)| cmdline.contains("redis-server"))
    {
        assert!(Instant::now() < deadline, "{what}: no redis-server started");
        assert!(
            grader.try_wait().unwrap().is_none(),
            "{what}: the grader ended before its server started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the run get properly under way (the command or the build starts).
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(grader.id() as i32), signal).unwrap();
    let status = crate::util::wait_for_exit(&mut grader, Duration::from_secs(10), what);
    assert_eq!(status.code(), Some(130), "{what}");
    assert_nothing_left(tmp.path(), what);
}

#[test]
fn sigterm_or_ctrl_c_of_the_grader_stops_its_server() {
    if !have_redis() {
        return;
    }
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        interrupt_while_serving(
            &["debug-services", "redis", "--", "sleep", "86399.25"],
            signal,
            &format!("debug-services, {signal}"),
        );
        assert!(
            processes_matching("86399.25").is_empty(),
            "{signal}: the command outlived the grader"
        );
    }
}

#[test]
fn a_server_the_user_supplies_keeps_every_key_the_run_did_not_create() {
    if !have_redis() {
        return;
    }
    let user = UserRedis::get();
    let url = format!("redis://127.0.0.1:{}", user.port);
    let unique = format!("{}-{:?}", std::process::id(), Instant::now());
    let theirs = format!("user-data:{unique}");
    let other_run = format!("grade:another-run:{unique}");
    assert_eq!(redis(user.port, &["SET", &theirs, "keep"]), "+OK");
    assert_eq!(redis(user.port, &["SET", &other_run, "keep"]), "+OK");

    let script = r#"redis-cli -u "$GRADE_REDIS_URL" set "${GRADE_KEY_PREFIX}a" 1 >/dev/null &&
                    redis-cli -u "$GRADE_REDIS_URL" set "${GRADE_KEY_PREFIX}b" 2 >/dev/null"#;
    for by_env in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let mut command = grade();
        command
            .env("TMPDIR", tmp.path())
            .args(["debug-services", "redis"]);
        if by_env {
            command.env("REDIS_URL", &url);
        } else {
            command.env_remove("REDIS_URL").args(["--redis-url", &url]);
        }
        let output = command.args(["--", "sh", "-c", script]).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let origin = if by_env { "REDIS_URL" } else { "--redis-url" };
        assert!(
            stdout.contains("service redis url Redis") && stdout.contains(origin),
            "{stdout}"
        );
        let prefix = env_line(&stdout, "GRADE_KEY_PREFIX");
        for made in ["a", "b"] {
            assert_eq!(
                redis(user.port, &["EXISTS", &format!("{prefix}{made}")]),
                ":0",
                "the run's key {prefix}{made} was not deleted"
            );
        }
        assert_eq!(redis(user.port, &["GET", &theirs]), "keep");
        assert_eq!(redis(user.port, &["GET", &other_run]), "keep");
        // No private server was started for a run that was given one.
        assert_nothing_left(tmp.path(), origin);
    }
    redis(user.port, &["DEL", &theirs, &other_run]);
}

/// Grading a real Redis exercise: the report names the source, and the server is gone after a
/// passing run, a failing run, and SIGTERM mid-run.
#[test]
fn grading_a_redis_exercise_leaves_no_server_behind() {
    let slugs = redis_exercises();
    if slugs.is_empty() || !have_redis() {
        return;
    }
    let slug = &slugs[0];
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("crates/grade/schema/report.v1.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let stub = tempfile::tempdir().unwrap();
    crate::util::copy_crate(&root().join("exercises").join(slug), stub.path());
    let runs: [(&str, Vec<String>); 2] = [
        ("the reference", vec!["--reference".into()]),
        (
            "the stub (every check fails)",
            vec!["--attempt".into(), stub.path().display().to_string()],
        ),
    ];
    for (what, extra) in runs {
        let tmp = tempfile::tempdir().unwrap();
        let output = grade()
            .env("TMPDIR", tmp.path())
            .env_remove("REDIS_URL")
            .arg(slug)
            .args(&extra)
            .args(["--format", "json"])
            .output()
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
                panic!(
                    "{what}: no report ({e}):\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        assert!(
            matches!(output.status.code(), Some(0..=2)),
            "{what}: {report:#}"
        );
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{what}: not the schema: {errors:?}");
        assert_eq!(report["services"][0]["name"], "redis", "{what}: {report:#}");
        assert_eq!(
            report["services"][0]["source"], "binary",
            "{what}: {report:#}"
        );
        assert_nothing_left(tmp.path(), what);
    }
    interrupt_while_serving(
        &[slug, "--reference", "--format", "json"],
        Signal::SIGTERM,
        &format!("{slug}, SIGTERM"),
    );
}

/// The help lists `doctor`, `--redis-url` and `--kafka-brokers` but not the debugging
/// subcommand.
#[test]
fn help_shows_doctor_and_the_service_flags_but_hides_debug_services() {
    grade()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("doctor"))
        .stdout(predicate::str::contains("--redis-url"))
        .stdout(predicate::str::contains("--kafka-brokers"))
        .stdout(predicate::str::contains("debug-services").not());
}

/// Whether grade's own Kafka broker can be provided here (its package is in the checkout);
/// panics under CI when it is not.
fn have_kafka_broker() -> bool {
    let found = root().join("crates/kafka-broker/Cargo.toml").is_file();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "crates/kafka-broker is missing from the checkout"
        );
        eprintln!("skipped: no crates/kafka-broker in this checkout");
    }
    found
}

/// Whether a Kafka broker on 127.0.0.1:`port` answers an ApiVersions v0 request (sent by
/// hand, so the test does not trust the grader's own probe).
fn answers_api_versions(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // size 13; ApiVersions (18) v0; correlation id 0x0e2e; client id "e2e"
    let request = [
        0, 0, 0, 13, 0, 18, 0, 0, 0, 0, 0x0e, 0x2e, 0, 3, b'e', b'2', b'e',
    ];
    let mut answer = [0; 10];
    stream.write_all(&request).is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer[4..8] == [0, 0, 0x0e, 0x2e]
        && answer[8..10] == [0, 0]
}

/// grade's own broker (or `tansu` from PATH), through `grade debug-services kafka`: the
/// command gets the broker's address, the broker answers, and nothing of it survives a normal
/// end, a failing command, or SIGTERM of the grader. One test, so that a cold machine builds
/// the broker once (the first run prints why it takes minutes).
#[test]
fn a_private_kafka_broker_answers_then_nothing_survives() {
    if !have_kafka_broker() {
        return;
    }
    for (script, code) in [(r#"echo "brokers=$GRADE_KAFKA_BROKERS""#, 0), ("exit 3", 3)] {
        let tmp = tempfile::tempdir().unwrap();
        let output = grade()
            .env("TMPDIR", tmp.path())
            .env_remove("KAFKA_BROKERS")
            .args(["debug-services", "kafka", "--", "sh", "-c", script])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{script}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("service kafka binary "), "{stdout}");
        assert!(stdout.contains(", started for this run"), "{stdout}");
        let brokers = env_line(&stdout, "GRADE_KAFKA_BROKERS");
        let port: u16 = brokers
            .strip_prefix("127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("{brokers} is not 127.0.0.1:PORT"));
        assert_ne!(port, 9092, "the grader must start its own broker");
        assert!(env_line(&stdout, "GRADE_KEY_PREFIX").starts_with("grade:"));
        if code == 0 {
            assert!(
                stdout.contains(&format!("brokers={brokers}\n")),
                "the command did not get the address: {stdout}"
            );
        }
        assert_nothing_left(tmp.path(), script);
        assert!(
            processes_matching(&format!("tcp://127.0.0.1:{port}")).is_empty(),
            "{script}: the broker on port {port} survived"
        );
        assert!(
            !answers_api_versions(port),
            "{script}: port {port} still answers"
        );
    }

    // SIGTERM while the command runs: the broker answers until then, and is gone after.
    let tmp = tempfile::tempdir().unwrap();
    let mut grader = std::process::Command::new(assert_cmd::cargo::cargo_bin("grade"))
        .current_dir(root())
        .env("GRADE_ROOT", root())
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .env_remove("KAFKA_BROKERS")
        .args(["debug-services", "kafka", "--", "sleep", "86398.25"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(grader.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("GRADE_KAFKA_BROKERS=127.0.0.1:")?
                .parse()
                .ok()
        })
        .expect("the grader printed no GRADE_KAFKA_BROKERS");
    assert!(answers_api_versions(port), "the broker does not answer");
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_matching("86398.25").is_empty() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(grader.id() as i32), Signal::SIGTERM).unwrap();
    let status = crate::util::wait_for_exit(&mut grader, Duration::from_secs(10), "SIGTERM");
    assert_eq!(status.code(), Some(130));
    assert_nothing_left(tmp.path(), "SIGTERM");
    assert!(
        processes_matching("86398.25").is_empty(),
        "the command outlived the grader"
    );
    assert!(
        !answers_api_versions(port),
        "the broker outlived the grader"
    );
}
