//! verify and ensure judge module files the same way: whatever ensure would refuse to hand
//! to the kernel, verify reports, with the same words; and neither reads more than it must.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use dahdi_loader::report::ExitCode;

fn run(f: &Fixture, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dahdi-loader"))
        .arg("--root")
        .arg(f.root())
        .args(["--running-kernel", "0.0.0-test"])
        .args(args)
        .args(if args[0] == "ensure" {
            &["--dkms", "/nonexistent/dkms"][..]
        } else {
            &[]
        })
        .output()
        .unwrap();
    code_and_text(&out)
}

fn chmod(p: &std::path::Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Both commands refuse, for the same reason.
fn both_refuse(f: &Fixture, why: &str) {
    let k = f.real.kernel.clone();
    let (code, text) = run(f, &["verify", &k]);
    assert_eq!(code, Some(ExitCode::Broken as i32), "verify: {text}");
    assert!(text.contains(why), "verify does not say {why:?}: {text}");
    let (code, text) = run(f, &["ensure", "--no-load", "-k", &k]);
    assert_eq!(code, Some(ExitCode::Broken as i32), "ensure: {text}");
    assert!(text.contains(why), "ensure does not say {why:?}: {text}");
}

#[test]
fn untrusted_files_and_directories_are_refused_by_both() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test changes file owners: run the test suite as root (scripts/test.sh does)"
    );
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    // Healthy first: both say yes.
    let (code, text) = run(&f, &["verify", &k]);
    assert_eq!(code, Some(0), "{text}");
    let dahdi = f.module("dahdi");

    chmod(&dahdi, 0o666);
    both_refuse(&f, "mode 666 lets group or others write it");
    chmod(&dahdi, 0o644);

    std::os::unix::fs::chown(&dahdi, Some(1000), None).unwrap();
    both_refuse(&f, "owned by uid 1000, not root");
    std::os::unix::fs::chown(&dahdi, Some(0), None).unwrap();

    let dir = f.kdir().join("updates/dkms");
    chmod(&dir, 0o777);
    both_refuse(&f, "lets group or others replace the files in it");
    chmod(&dir, 0o755);

    // updates/dkms as a symlink to a world-writable directory elsewhere.
    let elsewhere = f.path("/srv/stash");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    std::fs::rename(&dir, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    let (code, text) = run(&f, &["verify", &k]);
    assert_eq!(
        code,
        Some(0),
        "a symlink to a safe directory is fine: {text}"
    );
    chmod(&elsewhere, 0o777);
    both_refuse(&f, "srv/stash");
}

#[test]
fn a_huge_module_file_is_refused_unread() {
    let f = Fixture::installed();
    let k = f.real.kernel.clone();
    // 2 GiB, sparse: free on disk; it must be free in memory too.
    let dahdi = f.module("dahdi");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&dahdi)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let (code, text) = run(&f, &["verify", &k]);
    assert_eq!(code, Some(ExitCode::Broken as i32), "{text}");
    assert!(text.contains("2 GiB - 1"), "{text}");
    // The largest child so far (this verify) stayed small: the file was not read.
    // SAFETY: getrusage(2) fills the struct it is given.
    let max_kib = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut u), 0);
        u.ru_maxrss
    };
    assert!(max_kib < 512 * 1024, "a child used {max_kib} KiB");
}
