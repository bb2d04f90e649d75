//! The process exit codes and their meanings, written once. Besides the library, the build
//! script compiles this file (for the man page's EXIT STATUS), so it uses nothing but std and
//! serde.

use serde::Serialize;

/// The process exit codes. Their meanings are written once, in [`EXIT_CODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[repr(i32)]
pub enum ExitCode {
    /// All good.
    Ok = 0,
    /// A DKMS build is needed.
    NeedsBuild = 1,
    /// Modules would not load, or the wrong copy would.
    Mismatch = 2,
    /// Damaged, failed, or unreadable.
    Broken = 3,
    /// DKMS cannot build DAHDI for a kernel.
    BuildFailed = 4,
    /// Bad command line or configuration.
    Usage = 64,
    /// Lock wait timed out.
    TempFail = 75,
}

/// Every exit code with its meaning: the one table `--help`, the README and the crate
/// documentation are checked against.
pub const EXIT_CODES: &[(ExitCode, &str)] = &[
    (
        ExitCode::Ok,
        "all good: DAHDI will load (or is loaded) on every kernel checked",
    ),
    (
        ExitCode::NeedsBuild,
        "needs build: modules are missing for a kernel; `dahdi-loader ensure -k KVER` fixes it (after installing linux-headers-KVER if the message says so)",
    ),
    (
        ExitCode::Mismatch,
        "mismatch: modules exist but would not load (vermagic, symbol CRCs, signature), or a stale copy would be loaded instead of the DKMS build",
    ),
    (
        ExitCode::Broken,
        "broken: damaged module files or DKMS registration, a failed build or load, or an I/O error",
    ),
    (
        ExitCode::BuildFailed,
        "build failed: DKMS tried to build DAHDI for a kernel and failed; DAHDI will not load on it until the source, the kernel or the compiler changes (the message quotes the compiler and names the kernels where DAHDI loads)",
    ),
    (
        ExitCode::Usage,
        "usage: bad command line or configuration (/etc/dahdi-loader/*.conf)",
    ),
    (
        ExitCode::TempFail,
        "another dahdi-loader held the lock too long; try again",
    ),
];

/// The exit-code table as `--help` prints it.
pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!("  {:<3} {meaning}\n", *code as i32));
    }
    s.push_str("With several kernels, the worst verdict decides.");
    s
}
