//! Errors: each one is a sentence that says what was wrong and what to do about it.

use std::path::{Path, PathBuf};

use crate::report::{ExitCode, Fix, Verdict};

/// Everything that can stop a loader command.
///
/// `Display` gives the problem; [`Error::fix`] gives the operator's next step when there is
/// one, so the CLI can print both and tests can check both.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What we were doing ("read", "open", "list").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// A name or path from the command line, a config file or udev was refused.
    #[error(transparent)]
    InvalidInput(#[from] crate::names::InvalidName),

    /// A module file that a non-root user could have written.
    #[error("refusing {}: {reason}", path.display())]
    UntrustedFile {
        /// The module file.
        path: PathBuf,
        /// Owner or mode problem.
        reason: String,
    },

    /// A module file that is not a usable kernel module.
    #[error("{} is not a usable kernel module: {reason}", path.display())]
    BadModule {
        /// The module file.
        path: PathBuf,
        /// What the ELF reader found.
        reason: String,
    },

    /// A syntax error in the loader's configuration.
    #[error("{}:{line}: {message}", path.display())]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },

    /// DAHDI is not registered with DKMS at all, so nothing can be built.
    #[error("dahdi is not registered with DKMS under {}", dkms_dir.display())]
    NoDkms {
        /// The DKMS tree that was searched.
        dkms_dir: PathBuf,
    },

    /// A build was needed but the kernel headers are missing.
    #[error("the headers of kernel {kernel} are not installed, so DAHDI cannot be built for it")]
    NoHeaders {
        /// Kernel release.
        kernel: String,
    },

    /// The kernel is not installed under the root.
    #[error("kernel {kernel} is not installed: there is no {}", modules_dir.display())]
    NoSuchKernel {
        /// Kernel release.
        kernel: String,
        /// The missing directory.
        modules_dir: PathBuf,
    },

    /// `dkms` failed or could not be started.
    #[error("building DAHDI {version} for kernel {kernel} failed: {detail}")]
    Build {
        /// Kernel release.
        kernel: String,
        /// DKMS version of dahdi.
        version: String,
        /// Exit status, or why dkms could not run.
        detail: String,
        /// The last lines of make.log, if one was found.
        log_tail: Option<String>,
        /// Where make.log is.
        log_path: Option<PathBuf>,
    },

    /// After a build, the result still does not verify.
    #[error("DAHDI for kernel {kernel} still does not verify after building it: {detail}")]
    BuildDidNotHelp {
        /// Kernel release.
        kernel: String,
        /// The first problem found.
        detail: String,
    },

    /// A module's vermagic does not match the running kernel; it was not offered to the kernel.
    #[error(
        "{module} ({}) was built for another kernel: its vermagic is {found:?} but the running kernel's is {expected:?}; it was not loaded",
        path.display()
    )]
    VermagicRefused {
        /// Module name.
        module: String,
        /// Module file.
        path: PathBuf,
        /// The module's vermagic.
        found: String,
        /// What the running kernel expects.
        expected: String,
    },

    /// `finit_module` failed.
    #[error("loading {module} from {} failed: {explanation} ({errno})", path.display())]
    Load {
        /// Module name.
        module: String,
        /// Module file.
        path: PathBuf,
        /// The errno name and text.
        errno: nix::errno::Errno,
        /// What the error means for a module load.
        explanation: String,
    },

    /// A module that must be loaded could not be found for the running kernel.
    #[error("module {module} is needed but no file for it exists for kernel {kernel}")]
    ModuleMissing {
        /// Module name.
        module: String,
        /// Kernel release.
        kernel: String,
    },

    /// A dkms the loader did not start ran for too long.
    #[error("a dkms run by someone else ({running}) was still running after {secs} s")]
    DkmsBusy {
        /// What runs, by pid and command line.
        running: String,
        /// How long we waited.
        secs: u64,
    },

    /// Another loader held the lock for too long.
    #[error("another dahdi-loader held {} for more than {secs} s", path.display())]
    LockTimeout {
        /// Lock file.
        path: PathBuf,
        /// How long we waited.
        secs: u64,
    },

    /// /dev/dahdi/ctl did not appear after loading.
    #[error("{} did not appear within {secs} s after loading dahdi", path.display())]
    DeviceTimeout {
        /// The device node waited for.
        path: PathBuf,
        /// How long we waited.
        secs: u64,
    },

    /// The running kernel cannot load modules at all (no module tree, no /proc/modules).
    #[error("the running kernel {kernel} cannot load modules here: there is no /lib/modules/{kernel} and no /proc/modules (a container, or a kernel without module support)")]
    ModulesUnsupported {
        /// Kernel release.
        kernel: String,
    },

    /// A kernel's verification found a problem that `ensure` cannot fix by building.
    #[error("DAHDI is not ready on kernel {kernel}: {message}")]
    NotReady {
        /// Kernel release.
        kernel: String,
        /// The verdict of the kernel.
        verdict: Verdict,
        /// The worst finding's message.
        message: String,
        /// The worst finding's fix.
        fix: Option<Box<Fix>>,
    },

    /// The loader's own state (its transaction journal) is damaged.
    #[error("{} is damaged: {reason}", path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Something on the command line is wrong.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Wraps an I/O error with the action and path it concerns.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit code this error maps to (see [`ExitCode`]).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::InvalidInput(_) | Error::Usage(_) | Error::Config { .. } => ExitCode::Usage,
            Error::NoHeaders { .. } => ExitCode::NeedsBuild,
            Error::VermagicRefused { .. } | Error::BuildDidNotHelp { .. } => ExitCode::Mismatch,
            Error::LockTimeout { .. } | Error::DkmsBusy { .. } => ExitCode::TempFail,
            Error::NotReady { verdict, .. } => ExitCode::from(*verdict),
            // DKMS ran and the compile failed (its make.log is there): the kernel's
            // verdict is "build failed".
            Error::Build {
                log_path: Some(_), ..
            } => ExitCode::BuildFailed,
            _ => ExitCode::Broken,
        }
    }

    /// What the operator should do, when the loader knows.
    pub fn fix(&self) -> Option<Fix> {
        let manual = |t: String| Some(Fix::manual(t));
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                manual("run dahdi-loader as root".into())
            }
            Error::UntrustedFile { path, .. } => Some(Fix::FixOwnership {
                path: path.display().to_string(),
            }),
            Error::BadModule { .. } => manual(
                "rebuild it with dahdi-loader ensure -k KERNEL (the kernel it belongs to)".into(),
            ),
            Error::Config { .. } => manual(
                "fix the line; the format is described in dahdi-loader --help (add, exclude, alias, dev-timeout)".into(),
            ),
            Error::NoDkms { .. } => Some(Fix::InstallPackage {
                package: "dahdi-dkms".into(),
            }),
            Error::NoHeaders { kernel } => manual(format!(
                "install linux-headers-{kernel}, then run dahdi-loader ensure -k {kernel}"
            )),
            Error::NoSuchKernel { kernel, .. } => manual(format!(
                "check the kernel release (ls /lib/modules), or install linux-image-{kernel}"
            )),
            Error::Build { log_path, .. } => manual(match log_path {
                Some(p) => format!("read {} for the compiler's errors", p.display()),
                None => "run the same dkms command by hand to see its errors".into(),
            }),
            Error::BuildDidNotHelp { kernel, .. } => manual(format!(
                "run dahdi-loader verify {kernel} for details; the DKMS build may target another kernel"
            )),
            Error::VermagicRefused { .. } => manual(
                "run dahdi-loader ensure to rebuild DAHDI for the running kernel (it needs the running kernel's headers)".into(),
            ),
            Error::Load { .. } => manual("see dmesg for the kernel's own message".into()),
            Error::ModuleMissing { kernel, .. } => manual(format!("run dahdi-loader ensure -k {kernel}")),
            Error::LockTimeout { .. } => manual(
                "wait for the other dahdi-loader (a DKMS build may be running) and try again".into(),
            ),
            Error::DkmsBusy { .. } => manual(
                "wait for that dkms to finish (DKMS takes no lock of its own), then run dahdi-loader ensure".into(),
            ),
            Error::DeviceTimeout { .. } => manual(
                "check dmesg for errors from dahdi, and that devtmpfs or udev is running".into(),
            ),
            Error::Io { .. } => None,
            Error::Usage(_) | Error::InvalidInput(_) => manual("see dahdi-loader --help".into()),
            Error::ModulesUnsupported { .. } => manual(
                "boot an installed kernel to load DAHDI; dahdi-loader ensure -k KVER builds for an installed kernel".into(),
            ),
            Error::NotReady { fix, .. } => fix.as_deref().cloned(),
            Error::BadState { path, .. } => manual(format!(
                "check that /var/lib/dkms and /lib/modules are as they should be (dahdi-loader verify --all), then remove {}",
                path.display()
            )),
        }
    }
}
