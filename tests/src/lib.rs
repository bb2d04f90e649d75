//! The project's test bed: guest programs that run against the **real**
//! DKMS-built DAHDI driver, booted under qemu, reported by plain `cargo test`.
//!
//! The machines we build on cannot load kernel modules, but they can build
//! DAHDI with the real DKMS for Debian's kernel and boot that kernel under
//! qemu in seconds.  This crate does exactly that, at two levels:
//!
//! * **Fast level** ([`GuestSuite`]): an initramfs with busybox, the DAHDI
//!   modules and the guest programs; boots in a few seconds, loads the
//!   modules with busybox's `insmod`, runs every guest test in its own
//!   process, and brings each result back over a second serial port.
//! * **Boot level** ([`debian`]): a Debian rootfs with systemd and udev on a
//!   disk image, for udev rules, systemd units and kernel hooks.
//!
//! # Adding a guest test
//!
//! A guest test is a plain function in a guest program (a binary in
//! `tests/src/bin/`).  Add the function and list it:
//!
//! ```ignore
//! fn pseudo_has_a_channel_number() {
//!     let fd = std::fs::File::open("/dev/dahdi/pseudo").unwrap();
//!     // ... assert! what the kernel must do ...
//! }
//!
//! fn main() {
//!     dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
//!         pseudo_has_a_channel_number,
//!     ]);
//! }
//! ```
//!
//! That is all: `cargo test` lists the program's tests on the host, boots the
//! VM once for the suite, and reports each guest test as its own pass or
//! failure (with the guest's output on failure).  The suites themselves are
//! declared in `tests/tests/vm_*.rs` with [`GuestSuite`]: which programs, which
//! modules to load first, which extra executables (dahdi-tools) and files.
//!
//! Suites run on each supported [`Platform`] (Debian 12 from the host,
//! Debian 13 from a cached trixie stage where its own DKMS built DAHDI), with
//! [`runner::run_suites_on_platforms`]; each test's name starts with the
//! platform, e.g. `debian13::driver::guest-driver::version_matches_module`.
//!
//! Nothing is ever skipped: if qemu, the kernel or the DAHDI modules are
//! missing, every VM test fails with a message saying what to install.
//!
//! Environment: `DAHDI_TEST_KERNEL` picks a kernel release (default: the
//! newest with DKMS-built DAHDI modules); `DAHDI_VM_ACCEL` = `tcg`, `kvm` or
//! `auto` (default: `auto`, which uses KVM only after a probe boot with it
//! succeeded on this machine, and TCG otherwise); `DAHDI_VM_SHOW_OUTPUT` set
//! prints what passing guest tests printed too (failing ones always are).

pub mod chroot;
pub mod cpio;
pub mod debian;
pub mod firmware;
pub mod guest;
pub mod initramfs;
pub mod kernel;
pub mod moddep;
pub mod platform;
pub mod provider;
pub mod qemu;
pub mod runner;
pub mod slots;
pub mod suite;
pub mod upgrade;

pub use kernel::KernelUnderTest;
pub use platform::Platform;
pub use qemu::Accel;
pub use suite::{GuestSuite, SuiteReport};

/// Why the harness could not run the guest at all.
#[derive(Debug)]
pub enum HarnessError {
    /// Something the host needs is missing or broken; the text says what to do.
    Setup(String),
}

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HarnessError::Setup(s) => write!(f, "VM test bed not ready: {s}"),
        }
    }
}

impl std::error::Error for HarnessError {}

/// Maps any error to a setup error that says what the harness was doing.
pub(crate) fn setup_err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> HarnessError + '_ {
    move |e| HarnessError::Setup(format!("{what}: {e}"))
}

/// Runs a host command that must succeed; on failure the error carries the
/// tail of what it printed.
pub(crate) fn run_checked(
    cmd: &mut std::process::Command,
    what: &str,
) -> Result<std::process::Output, HarnessError> {
    let out = cmd.output().map_err(|e| {
        HarnessError::Setup(format!(
            "{what}: cannot run {:?}: {e} (scripts/install.sh installs what the harness needs)",
            cmd.get_program()
        ))
    })?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        return Err(HarnessError::Setup(format!(
            "{what} failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    Ok(out)
}
