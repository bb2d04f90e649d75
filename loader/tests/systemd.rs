//! The binary as systemd runs it: every line it writes to the journal's stream carries the
//! syslog priority of what it says (`<3>` an error, `<4>` DAHDI will not load, `<5>` a
//! build, `<6>` progress and tables), and none when the stream is something else; under
//! `NOTIFY_SOCKET` it tells the service manager what it is doing and when it is ready.
//!
//! systemd's rules are taken from its documentation (systemd.exec(5) JOURNAL_STREAM,
//! sd-daemon(3) prefixes, sd_notify(3) messages); the "journal" here is a pipe whose device
//! and inode the test puts in JOURNAL_STREAM, and the service manager a datagram socket the
//! test binds.

mod common;

use std::io::{PipeWriter, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};

use common::fake_dkms::*;
use common::*;
use dahdi_loader::ExitCode;

/// `DEVICE:INODE` of a pipe, as systemd writes JOURNAL_STREAM for the socket it gives a
/// service.
fn stream_id(w: &PipeWriter) -> (u64, u64) {
    let fd: OwnedFd = w.try_clone().unwrap().into();
    let m = std::fs::File::from(fd).metadata().unwrap();
    (m.dev(), m.ino())
}

/// Runs `cmd` with stdout and stderr on one pipe, as systemd gives a service one stream
/// for both, JOURNAL_STREAM naming that pipe (`journal`) or another file (not `journal`).
/// Returns the exit code and the lines in the order written.
fn run_on_stream(mut cmd: Command, journal: bool) -> (Option<i32>, Vec<String>) {
    let (mut r, w) = std::io::pipe().unwrap();
    let (dev, ino) = stream_id(&w);
    let named = if journal { ino } else { ino + 1 };
    cmd.env("JOURNAL_STREAM", format!("{dev}:{named}"))
        .stdout(Stdio::from(w.try_clone().unwrap()))
        .stderr(Stdio::from(w));
    let mut child = cmd.spawn().unwrap();
    // The command holds the pipe's write ends until dropped: without this the read below
    // never sees the end.
    drop(cmd);
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    (status.code(), out.lines().map(String::from).collect())
}

/// The priority of a journal line (`<N>...`), if it has one.
fn priority(line: &str) -> Option<u8> {
    let b = line.as_bytes();
    (b.len() >= 3 && b[0] == b'<' && b[1].is_ascii_digit() && b[2] == b'>').then(|| b[1] - b'0')
}

/// The line with prefix `<p>` + `start`, or a panic showing everything.
fn line_at<'a>(lines: &'a [String], p: u8, start: &str) -> &'a str {
    let want = format!("<{p}>{start}");
    lines
        .iter()
        .find(|l| l.starts_with(&want))
        .unwrap_or_else(|| panic!("no line starting with {want:?} in:\n{}", lines.join("\n")))
}

/// Every line the loader wrote has a priority. What dkms and the programs it runs write
/// (here depmod, run by the stand-in's install) is theirs, and the journal files it at the
/// unit's default priority.
fn every_line_has_a_priority(lines: &[String]) {
    for l in lines {
        assert!(
            priority(l).is_some() || l.starts_with("depmod: "),
            "unprefixed line {l:?} in:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn journal_lines_carry_the_priority_of_what_they_say() {
    // A build (notice) and its result (notice: something was done).
    let f = Fixture::bare();
    f.depmod();
    let (k, v) = (f.real.kernel.clone(), f.real.version.clone());
    let fake = FakeDkms::new(&f.real.modules);
    let (code, lines) = run_on_stream(ensure_cmd(&f, &fake, "ok"), true);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    every_line_has_a_priority(&lines);
    line_at(
        &lines,
        5,
        &format!("dahdi-loader: building dahdi {v} for kernel {k} with DKMS"),
    );
    line_at(&lines, 6, "dahdi-loader: DKMS finished in ");
    line_at(
        &lines,
        5,
        &format!("kernel {k}: DAHDI verified (built with DKMS)"),
    );

    // A failed build: the error, make.log's tail and the fix are errors, every line.
    let f = Fixture::bare();
    f.depmod();
    let fake = FakeDkms::new(&f.real.modules);
    let (code, lines) = run_on_stream(ensure_cmd(&f, &fake, "fail"), true);
    assert_eq!(
        code,
        Some(ExitCode::BuildFailed as i32),
        "{}",
        lines.join("\n")
    );
    every_line_has_a_priority(&lines);
    line_at(&lines, 3, "dahdi-loader: ");
    line_at(&lines, 3, "--- last lines of make.log");
    let compiler = lines
        .iter()
        .find(|l| l.contains("fake compiler failure"))
        .unwrap();
    assert_eq!(priority(compiler), Some(3), "{compiler}");
    line_at(&lines, 5, "dahdi-loader: building dahdi");

    // A module that would not load: the table is information, the finding a warning.
    let f = Fixture::installed();
    patch_vermagic(&f.module("wcfxo"), &k, &other_release(&k));
    let status = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dahdi-loader"));
        c.arg("--root")
            .arg(f.root())
            .args(["--running-kernel", "0.0.0-test", "status"]);
        c
    };
    let (code, lines) = run_on_stream(status(), true);
    assert_eq!(
        code,
        Some(ExitCode::Mismatch as i32),
        "{}",
        lines.join("\n")
    );
    every_line_has_a_priority(&lines);
    line_at(&lines, 6, "KERNEL ");
    assert!(line_at(&lines, 4, "  [mismatch] ").contains("wcfxo"));

    // The same output on a stream that is not the journal's: no prefix anywhere.
    let (code, plain) = run_on_stream(status(), false);
    assert_eq!(code, Some(ExitCode::Mismatch as i32));
    assert!(plain.iter().any(|l| l.starts_with("KERNEL ")), "{plain:?}");
    assert!(
        plain.iter().any(|l| l.starts_with("  [mismatch] ")),
        "{plain:?}"
    );
    assert!(
        plain.iter().all(|l| priority(l).is_none()),
        "{}",
        plain.join("\n")
    );
    assert_eq!(plain.len(), lines.len());
}

/// Every datagram the loader sent to a socket standing in for systemd's, in order.
fn notifications(f: &Fixture, fake: &FakeDkms, mode: &str) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).unwrap();
    let out = ensure_cmd(f, fake, mode)
        .env("NOTIFY_SOCKET", &path)
        .output()
        .unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    (out.status.code(), got)
}

fn position(msgs: &[String], start: &str) -> usize {
    msgs.iter()
        .position(|m| m.starts_with(start))
        .unwrap_or_else(|| panic!("no message starting with {start:?} in {msgs:#?}"))
}

#[test]
fn notify_socket_hears_status_then_ready() {
    let f = Fixture::bare();
    f.depmod();
    // 90 minutes: the timeout extension is then past what 32 bits of microseconds hold.
    f.write("/etc/dahdi-loader/slow.conf", "build-timeout 90\n");
    let (k, v) = (f.real.kernel.clone(), f.real.version.clone());
    let fake = FakeDkms::new(&f.real.modules);
    let (code, msgs) = notifications(&f, &fake, "ok");
    assert_eq!(code, Some(0), "{msgs:#?}");
    let checking = position(&msgs, &format!("STATUS=checking DAHDI for kernel {k}\n"));
    let building = position(
        &msgs,
        &format!("STATUS=building dahdi {v} for kernel {k} with DKMS (may take minutes)\n"),
    );
    // The build's bound (90 min) and the 10 minutes after it, in microseconds.
    let extend = format!("EXTEND_TIMEOUT_USEC={}\n", (90 + 10) * 60 * 1_000_000u64);
    assert!(msgs[building].contains(&extend), "{msgs:#?}");
    let installing = position(
        &msgs,
        &format!("STATUS=the new build of dahdi {v} verifies; installing it for {k}\n"),
    );
    let ready: Vec<usize> = (0..msgs.len())
        .filter(|i| msgs[*i].lines().any(|l| l == "READY=1"))
        .collect();
    assert_eq!(ready, [msgs.len() - 1], "READY=1 once, last: {msgs:#?}");
    assert!(checking < building && building < installing && installing < ready[0]);
    assert!(
        msgs[ready[0]].contains(&format!(
            "STATUS=kernel {k}: DAHDI verified (built with DKMS)\n"
        )),
        "{msgs:#?}"
    );

    // A build that fails: never READY=1 (the exit status fails the unit), and the last
    // status says why.
    let f = Fixture::bare();
    f.depmod();
    let fake = FakeDkms::new(&f.real.modules);
    let (code, msgs) = notifications(&f, &fake, "fail");
    assert_eq!(code, Some(ExitCode::BuildFailed as i32), "{msgs:#?}");
    position(&msgs, "STATUS=building dahdi");
    assert!(
        !msgs.iter().any(|m| m.lines().any(|l| l == "READY=1")),
        "{msgs:#?}"
    );
    assert!(
        msgs.last().unwrap().starts_with("STATUS=failed: "),
        "{msgs:#?}"
    );
}
