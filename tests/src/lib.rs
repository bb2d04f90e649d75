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
//! A guest test is a plain function in a guest program, listed in the
//! program's `main`; the function's name is the test's name (the runner
//! selects and reports tests by it), and the list's order is the order the
//! tests run in, each in its own process:
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
//! failure (with the guest's output on failure).  Tones and levels are
//! measured with [`signal`], the same in every program.
//!
//! Guest programs come in two patterns:
//!
//! * **A program of this crate**, for tests of the driver and of the `dahdi`
//!   crate: a binary in `tests/src/bin/` (`[[bin]]` with `test = false` in
//!   `tests/Cargo.toml`), one file, or a folder `tests/src/bin/NAME/` whose
//!   `main.rs` holds the list and a module per area (`guest-dahdi`: pseudo
//!   channels, conferences, spans, dahdi_cfg, lsdahdi, and the fixtures and
//!   channel I/O they share). Add a test to the module of its area and its
//!   name to the list in `main.rs` (`guest_tests!` takes plain names: `use`
//!   them from their modules). Its suite is declared in
//!   `tests/tests/vm_*.rs` (`harness = false`) with [`GuestSuite`]: the
//!   programs (`env!("CARGO_BIN_EXE_NAME")`), which modules to load first,
//!   which extra executables (dahdi-tools) and files.
//! * **A self-hosting test binary of another crate**, when the tests need
//!   that crate's own programs (only its integration tests see them as
//!   `CARGO_BIN_EXE_*`): `loader/tests/vm_loader.rs` is both the host side
//!   and the guest program. Its `main` asks
//!   [`guest::is_guest_invocation`]: in the guest it runs
//!   [`guest::guest_main`] with its `guest_tests!` list; on the host it
//!   declares a [`GuestSuite`] whose program is itself
//!   (`std::env::current_exe()`) plus `dahdi-loader`, and hands it to
//!   [`runner::run_suites_as_tests`]. What several such binaries share (the
//!   suite, the facts computed on the host) is a module of that crate's
//!   tests (`loader/tests/vm/mod.rs`). Add a test to the binary and to its
//!   list.
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

pub mod archive;
pub mod chroot;
pub mod cpio;
pub mod debian;
pub mod firmware;
pub mod guest;
pub mod initramfs;
pub mod kernel;
pub mod moddep;
pub mod output;
pub mod platform;
pub mod provider;
pub mod qemu;
pub mod runner;
pub mod signal;
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
