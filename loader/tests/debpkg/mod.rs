//! Builds the loader's Debian package for a test, from the binary and generated files this
//! `cargo test --release` already built (cargo deb --no-build), as scripts/deb.sh packs them.

use std::path::{Path, PathBuf};
use std::process::Command;

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
