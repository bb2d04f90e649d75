//! Running dahdi-tools (dahdi_cfg, dahdi_scan) and other programs in the
//! guest, to cross-check this crate against.

use std::collections::HashMap;
use std::process::Command;

/// dahdi_scan's ini output: span number -> key -> value.
pub(crate) fn dahdi_scan() -> HashMap<i32, HashMap<String, String>> {
    let out = Command::new("/usr/sbin/dahdi_scan")
        .output()
        .expect("run dahdi_scan");
    assert!(out.status.success(), "dahdi_scan failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("dahdi_scan:\n{text}");
    let mut spans = HashMap::new();
    let mut cur = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let n: i32 = n.parse().expect("span number");
            spans.insert(n, HashMap::new());
            cur = Some(n);
        } else if let (Some(n), Some((k, v))) = (cur, line.split_once('=')) {
            spans
                .get_mut(&n)
                .unwrap()
                .insert(k.to_owned(), v.to_owned());
        }
    }
    spans
}

/// Runs dahdi_cfg on `conf`; it must succeed.
pub(crate) fn dahdi_cfg(conf: &str) {
    std::fs::write("/tmp/system.conf", conf).unwrap();
    let out = Command::new("/usr/sbin/dahdi_cfg")
        .args(["-c", "/tmp/system.conf"])
        .output()
        .expect("run dahdi_cfg");
    assert!(
        out.status.success(),
        "dahdi_cfg {conf:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a program of the guest; its output and exit status.
pub(crate) fn run(program: &str, args: &[&str]) -> (String, String, std::process::ExitStatus) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status,
    )
}
