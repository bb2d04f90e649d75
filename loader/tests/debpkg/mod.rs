//! Builds the loader's Debian package for a test, from the binary and generated files this
//! `cargo test --release` already built (cargo deb --no-build), as scripts/deb.sh packs them.

// Shared by several test crates, each using a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dahdi_tests::chroot::{Chroot, Workspace};
use dahdi_tests::output::{tail, text};

/// Packs `dahdi-loader_VERSION_amd64.deb` into `out` and returns its path. Fails with what to
/// install when cargo-deb is missing: a test of the package never skips.
pub fn build(version: &str, out: &Path) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // The release binary this test run built is the one packed: cargo deb finds it in the
    // release profile directory, which is where CARGO_BIN_EXE points for `--release`.
    let bin = Path::new(env!("CARGO_BIN_EXE_dahdi-loader"));
    assert!(
        bin.parent().is_some_and(|d| d.ends_with("release")),
        "build the package from a release build: cargo test --release ({})",
        bin.display()
    );
    let result = Command::new("cargo")
        .current_dir(workspace)
        .args([
            "deb",
            "-p",
            "dahdi-loader",
            "--no-build",
            "--no-dbgsym",
            "--fast",
        ])
        .args(["--deb-version", version])
        .arg("--output")
        .arg(out)
        .output()
        .expect("cargo is on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        result.status.success(),
        "cargo deb failed (scripts/install.sh installs cargo-deb):\n{text}"
    );
    let deb = out.join(format!("dahdi-loader_{version}_amd64.deb"));
    assert!(
        deb.is_file(),
        "cargo deb wrote no {}:\n{text}",
        deb.display()
    );
    deb
}

/// The package versions the test installs, then upgrades to (same files, newer build).
pub const FIRST: &str = "0.1.0-1";
pub const NEWER: &str = "0.1.0-2";
/// Where the packages are put in the guest, for `apt-get install ./FILE` run there.
pub const DEB_DIR: &str = "/root/debs";

/// Builds both packages and puts them in the rootfs's DEB_DIR.
pub fn stage_packages(ws: &Workspace) {
    let out = tempfile::tempdir().unwrap();
    for version in [FIRST, NEWER] {
        let deb = build(version, out.path());
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&deb).unwrap();
        ws.write(&format!("{DEB_DIR}/{name}"), 0o644, &bytes)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// `apt-get install ./FILE` in DEB_DIR, as an operator installs a downloaded package.
pub fn apt_install_local(root: &Chroot, version: &str) -> String {
    let cmd = format!(
        "cd {DEB_DIR} && apt-get install -y -q --no-install-recommends ./dahdi-loader_{version}_amd64.deb"
    );
    let out = root
        .run(&["sh", "-c", &cmd])
        .unwrap_or_else(|e| panic!("{e}"));
    let apt = text(&out);
    assert!(out.status.success(), "{cmd}:\n{}", tail(&apt, 60));
    apt
}
