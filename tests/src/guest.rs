//! The guest side of the harness: what runs inside the VM.
//!
//! A guest program is an ordinary Rust binary whose `main` hands a table of
//! test functions to [`guest_main`].  Inside the VM the init script calls the
//! program with `--guest-run-all`; the program then runs every test in a child
//! process of its own (so a crash or hang in one test cannot take the others
//! with it), enforces a per-test timeout, and writes one JSON line per test to
//! the results port, which the host reads back.
//!
//! A test passes when its function returns normally; it fails when it panics
//! (use `assert!`, `assert_eq!`, `.expect(..)`) or exceeds its timeout.
//! Whatever it prints is captured and shown by the host when it fails.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One test that runs inside the guest.
#[derive(Debug, Clone, Copy)]
pub struct GuestTest {
    pub name: &'static str,
    pub run: fn(),
}

/// Declares a guest test table: `guest_tests![my_test, other_test]`.
#[macro_export]
macro_rules! guest_tests {
    ($($name:ident),* $(,)?) => {
        &[$($crate::guest::GuestTest { name: stringify!($name), run: $name }),*]
    };
}

/// What the guest reports for one test.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GuestResult {
    pub program: String,
    pub test: String,
    pub passed: bool,
    pub millis: u64,
    pub output: String,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Entry point of a guest program.
///
/// * `--guest-list`: print the test names, one a line (the host uses this to
///   know which results to expect, so nothing can be silently skipped);
/// * `--guest-run NAME`: run one test in this process;
/// * `--guest-run-all [--results PATH] [--only a,b] [--timeout SECS]`: run
///   each test in a child process and report a JSON line per test.
///
/// The flags are prefixed so that a host-side test binary can also be its
/// own guest program (see [`is_guest_invocation`]).
pub fn guest_main(tests: &[GuestTest]) {
    let args: Vec<String> = std::env::args().collect();
    let program = std::path::Path::new(&args[0])
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match args.get(1).map(String::as_str) {
        Some("--guest-list") => {
            for t in tests {
                println!("{}", t.name);
            }
        }
        Some("--guest-run") => {
            let name = args.get(2).expect("--guest-run needs a test name");
            let t = tests
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("no guest test named {name}"));
            (t.run)();
        }
        Some("--guest-run-all") => {
            let mut results_path = None;
            let mut only: Option<Vec<String>> = None;
            let mut timeout = DEFAULT_TIMEOUT;
            let mut it = args[2..].iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--results" => results_path = it.next().cloned(),
                    "--only" => only = it.next().map(|s| s.split(',').map(str::to_owned).collect()),
                    "--timeout" => {
                        timeout = Duration::from_secs(
                            it.next()
                                .and_then(|s| s.parse().ok())
                                .expect("--timeout SECS"),
                        )
                    }
                    other => panic!("unknown argument {other}"),
                }
            }
            let mut sink: Box<dyn Write> = match &results_path {
                Some(p) => Box::new(
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(p)
                        .unwrap_or_else(|e| panic!("open results port {p}: {e}")),
                ),
                None => Box::new(std::io::stdout()),
            };
            for t in tests {
                if only
                    .as_ref()
                    .is_some_and(|o| !o.iter().any(|n| n == t.name))
                {
                    continue;
                }
                let r = run_isolated(&program, t.name, timeout);
                let line = serde_json::to_string(&r).expect("serialize result");
                // One write per line, so results never interleave mid-line.
                sink.write_all(format!("{line}\n").as_bytes())
                    .expect("write result");
                sink.flush().ok();
            }
        }
        _ => {
            eprintln!("usage: {program} --guest-list | --guest-run NAME | --guest-run-all [--results PATH] [--only a,b] [--timeout SECS]");
            std::process::exit(64);
        }
    }
}

/// True when this process was started by the guest side of the harness
/// (inside the VM, or by the host to list tests), not by `cargo test`.
pub fn is_guest_invocation() -> bool {
    std::env::args().nth(1).is_some_and(|a| {
        matches!(
            a.as_str(),
            "--guest-list" | "--guest-run" | "--guest-run-all"
        )
    })
}

fn run_isolated(program: &str, name: &str, timeout: Duration) -> GuestResult {
    let start = Instant::now();
    let exe = std::env::current_exe().expect("current_exe");
    // stdout and stderr go to one pipe so the output keeps its real order.
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let writer2 = writer.try_clone().expect("dup pipe");
    let child = Command::new(exe)
        .args(["--guest-run", name])
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return GuestResult {
                program: program.to_owned(),
                test: name.to_owned(),
                passed: false,
                millis: 0,
                output: format!("could not start the test process: {e}"),
            }
        }
    };
    let collector = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        buf
    });
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let mut output = String::from_utf8_lossy(&collector.join().unwrap_or_default()).into_owned();
    let passed = !timed_out && status.is_some_and(|s| s.success());
    if timed_out {
        output.push_str(&format!(
            "\n[guest] test exceeded its timeout of {timeout:?} and was killed\n"
        ));
    } else if let Some(s) = status.filter(|s| !s.success()) {
        output.push_str(&format!("\n[guest] test process ended with {s}\n"));
    }
    GuestResult {
        program: program.to_owned(),
        test: name.to_owned(),
        passed,
        millis: start.elapsed().as_millis() as u64,
        output,
    }
}
