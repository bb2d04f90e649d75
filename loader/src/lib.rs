//! dahdi-loader: DKMS-built DAHDI that matches every kernel, verified before reboot, loaded
//! at boot.
//!
//! DKMS says "installed" once a `.ko` file landed in the tree; it never checks that the
//! module would load. This crate checks, from files alone, what the kernel checks at load
//! time (vermagic, `struct module` size, symbol CRCs, dependencies, signatures) plus what
//! modprobe would pick (stale copies shadowing the DKMS build), for the running kernel and
//! every installed one. It can build with DKMS when something is missing and load the
//! modules in dependency order.
//!
//! Every function reads the system under a [`root::Root`] (`--root DIR` on the command
//! line), so the same code runs on the live system, on a copy of one in a test, and in a
//! VM's initramfs.
//!
//! # Modules
//!
//! | module | responsibility |
//! |---|---|
//! | [`kernel`] | installed kernels, running kernel, headers, expected vermagic |
//! | [`elf`] | reading a `.ko`: `.modinfo`, `__versions`, exports, signature |
//! | [`dkms`] | the DKMS tree of dahdi; parser for every `dkms status` format |
//! | [`modindex`] | which file modprobe picks; stale shadowing copies |
//! | [`loaded`] | `/proc/modules`, `/sys/module/NAME` |
//! | [`secure`] | signature enforcement, MOK enrolment |
//! | [`verify`] | all checks for one kernel, with verdict and fixes |
//! | [`hw`] | PCI/USB modaliases matched against module aliases |
//! | [`config`] | `/etc/dahdi-loader/*.conf` |
//! | [`lock`] | one flock so concurrent `ensure` runs do one build |
//! | [`build`] | running `dkms install` / `dkms remove` |
//! | [`load`] | `finit_module` in dependency order, errors explained |
//! | [`ensure`] | build if needed, then load and wait for `/dev/dahdi/ctl` |
//! | [`status`] | the whole system as a table or JSON |
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | all good: DAHDI will load (or is loaded) on every kernel checked |
//! | 1 | needs build: modules are missing for a kernel; `ensure -k KVER` fixes it (after installing headers if the message says so) |
//! | 2 | mismatch: modules exist but would not load, or a stale copy would be loaded instead of the DKMS build |
//! | 3 | broken: damaged files or DKMS registration, a failed build or load, or an I/O error |
//! | 64 | usage: bad command line or configuration file |
//! | 75 | temporary: another dahdi-loader held the lock too long; try again |
//!
//! With several kernels, the worst verdict decides.

pub mod build;
pub mod config;
pub mod dkms;
pub mod elf;
pub mod ensure;
pub mod error;
pub mod hw;
pub mod kernel;
pub mod load;
pub mod loaded;
pub mod lock;
pub mod modindex;
pub mod root;
pub mod secure;
pub mod status;
pub mod validate;
pub mod verify;

pub use error::Error;
pub use root::Root;

/// The process exit codes (see the crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    /// Bad command line or configuration.
    Usage = 64,
    /// Lock wait timed out.
    TempFail = 75,
}

impl From<verify::Verdict> for ExitCode {
    fn from(v: verify::Verdict) -> Self {
        match v {
            verify::Verdict::NotApplicable | verify::Verdict::Ok => ExitCode::Ok,
            verify::Verdict::NeedsBuild => ExitCode::NeedsBuild,
            verify::Verdict::Mismatch => ExitCode::Mismatch,
            verify::Verdict::Broken => ExitCode::Broken,
        }
    }
}

/// The exit-code table as printed by `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   all good: DAHDI will load (or is loaded) on every kernel checked
  1   needs build: modules missing for a kernel; run `dahdi-loader ensure -k KVER`
      (after installing linux-headers-KVER if the message says so)
  2   mismatch: modules exist but would not load (vermagic, symbol CRCs, signature),
      or a stale copy would be loaded instead of the DKMS build
  3   broken: damaged module files or DKMS registration, failed build or load, I/O error
  64  usage: bad command line or configuration (/etc/dahdi-loader/*.conf)
  75  another dahdi-loader held the lock too long; try again
With several kernels, the worst verdict decides.";
