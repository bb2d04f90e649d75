//! What the loader concludes, at the bottom of the crate: severities, verdicts, exit codes,
//! findings and their fixes. Nothing here reads the system; everything else builds on it.

use std::fmt;

use serde::Serialize;

pub use crate::exit_codes::{exit_codes_help, ExitCode, EXIT_CODES};
use crate::names::{KernelRelease, ModuleName};

/// How bad a finding is. The order matters: a kernel's verdict is its worst finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing, nothing to do.
    Info,
    /// Modules are missing: a DKMS build (maybe after installing headers) fixes it.
    NeedsBuild,
    /// Modules exist but would not load, or the wrong copy would.
    Mismatch,
    /// DKMS tried to build DAHDI for the kernel and failed: it will not load there until
    /// the source, the kernel or the compiler changes.
    BuildFailed,
    /// Damaged files or registration: needs a person.
    Broken,
}

impl Severity {
    /// The word shown before a finding in text output.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::NeedsBuild => "needs build",
            Severity::Mismatch => "mismatch",
            Severity::BuildFailed => "build failed",
            Severity::Broken => "broken",
        }
    }

    /// The verdict a finding of this severity gives its kernel.
    pub fn verdict(self) -> Verdict {
        match self {
            Severity::Info => Verdict::Ok,
            Severity::NeedsBuild => Verdict::NeedsBuild,
            Severity::Mismatch => Verdict::Mismatch,
            Severity::BuildFailed => Verdict::BuildFailed,
            Severity::Broken => Verdict::Broken,
        }
    }
}

/// The verdict for a kernel, mapped onto exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing to check: the running kernel cannot load modules at all (a container, or a
    /// kernel built without module support). Ordered below `Ok` so that any real kernel's
    /// verdict decides; exits 0.
    NotApplicable,
    /// DAHDI will load.
    Ok,
    /// Needs a build.
    NeedsBuild,
    /// Mismatch.
    Mismatch,
    /// DKMS cannot build DAHDI for the kernel.
    BuildFailed,
    /// Broken.
    Broken,
}

impl Verdict {
    /// The word shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NotApplicable => "n/a",
            Verdict::Ok => "ok",
            Verdict::NeedsBuild => "needs-build",
            Verdict::Mismatch => "mismatch",
            Verdict::BuildFailed => "build-failed",
            Verdict::Broken => "broken",
        }
    }

    /// The worst verdict of some findings (`Ok` when there are none).
    pub fn of(findings: &[Finding]) -> Verdict {
        findings
            .iter()
            .map(|f| f.severity.verdict())
            .max()
            .unwrap_or(Verdict::Ok)
    }
}

impl From<Verdict> for ExitCode {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::NotApplicable | Verdict::Ok => ExitCode::Ok,
            Verdict::NeedsBuild => ExitCode::NeedsBuild,
            Verdict::Mismatch => ExitCode::Mismatch,
            Verdict::BuildFailed => ExitCode::BuildFailed,
            Verdict::Broken => ExitCode::Broken,
        }
    }
}

/// What the operator should do about a finding. Each variant renders to the exact command
/// or sentence; code tells fixes apart by variant, never by comparing text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fix {
    /// Build DAHDI for the kernel with the loader.
    Ensure {
        /// The kernel.
        kernel: KernelRelease,
    },
    /// Install the kernel's headers, then build.
    InstallHeadersThenEnsure {
        /// The kernel.
        kernel: KernelRelease,
    },
    /// Install a package.
    InstallPackage {
        /// Debian package name.
        package: String,
    },
    /// Reinstall a package whose files are damaged.
    ReinstallPackage {
        /// Debian package name.
        package: String,
    },
    /// Purge a package (one that owns stale module files, such as a leftover
    /// `dahdi-linux-modules-KVER`); its maintainer scripts rebuild the module index.
    PurgePackage {
        /// The package as apt takes it (`name` or `name:arch`).
        package: String,
    },
    /// Rebuild the module index.
    Depmod {
        /// The kernel.
        kernel: KernelRelease,
    },
    /// Remove files that no package owns, then rebuild the index.
    RemoveFilesThenDepmod {
        /// The files, as system paths.
        paths: Vec<String>,
        /// The kernel whose index to rebuild.
        kernel: KernelRelease,
    },
    /// Enrol the DKMS signing certificate as a Machine Owner Key.
    EnrolKey {
        /// The certificate, as a system path.
        certificate: String,
    },
    /// Reload the modules (or reboot).
    Reload,
    /// Check a file's origin and fix its owner and mode.
    FixOwnership {
        /// The file or directory, as a system path.
        path: String,
    },
    /// DKMS cannot build DAHDI for the kernel: the operator's real options.
    BuildFailed {
        /// The kernel.
        kernel: KernelRelease,
        /// The failed attempt's make.log, as a system path.
        log: String,
        /// The installed kernels on which DAHDI does load (filled in once every kernel
        /// has been verified).
        loads_on: Vec<KernelRelease>,
        /// The DKMS module that failed.
        module: String,
    },
    /// Anything else, as a sentence.
    Manual {
        /// What to do.
        text: String,
    },
}

impl Fix {
    /// A build by the loader cures the finding (what `ensure` acts on).
    pub fn is_build(&self) -> bool {
        matches!(
            self,
            Fix::Ensure { .. } | Fix::InstallHeadersThenEnsure { .. }
        )
    }

    /// A free-text fix.
    pub fn manual(text: impl Into<String>) -> Fix {
        Fix::Manual { text: text.into() }
    }
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::Ensure { kernel } => write!(f, "run dahdi-loader ensure -k {kernel}"),
            Fix::InstallHeadersThenEnsure { kernel } => write!(
                f,
                "install linux-headers-{kernel}, then run dahdi-loader ensure -k {kernel}"
            ),
            Fix::InstallPackage { package } => write!(f, "apt-get install {package}"),
            Fix::ReinstallPackage { package } => {
                write!(f, "reinstall the package: apt-get install --reinstall {package}")
            }
            Fix::PurgePackage { package } => write!(f, "apt purge {package}"),
            Fix::Depmod { kernel } => write!(f, "run depmod {kernel}"),
            Fix::RemoveFilesThenDepmod { paths, kernel } => write!(
                f,
                "remove {} (no package owns {}: a manual make install), then run depmod {kernel}",
                paths.join(" "),
                if paths.len() == 1 { "it" } else { "them" }
            ),
            Fix::EnrolKey { certificate } => write!(
                f,
                "run mokutil --import {certificate}, then reboot and enrol the key in MokManager"
            ),
            Fix::Reload => f.write_str(
                "reload it (rmmod the DAHDI modules, then dahdi-loader ensure) or reboot",
            ),
            Fix::FixOwnership { path } => write!(
                f,
                "check where {path} came from; if it is genuine, run chown root:root and chmod go-w on it"
            ),
            Fix::BuildFailed {
                kernel,
                log,
                loads_on,
                module,
            } => {
                match loads_on.as_slice() {
                    [] => write!(f, "no installed kernel loads DAHDI now; ")?,
                    good => write!(
                        f,
                        "keep booting a kernel where DAHDI loads ({}); ",
                        good.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    )?,
                }
                write!(
                    f,
                    "to let apt and dpkg finish (DKMS's failed hook leaves linux-image-{kernel} half-configured): apt-get remove linux-image-{kernel} linux-headers-{kernel}, and apt-mark hold the metapackage that brought it in until DAHDI builds for it; read {log} for the compiler's errors and report them to the provider of {module} (Debian's dahdi-dkms: reportbug dahdi-dkms; upstream DAHDI: https://github.com/asterisk/dahdi-linux/issues); when the source, the kernel or the compiler has changed, dahdi-loader ensure -k {kernel} --force tries again"
                )
            }
            Fix::Manual { text } => f.write_str(text),
        }
    }
}

/// A stable name for each kind of finding, for programs reading `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// A module directory left over from a removed kernel.
    LeftoverKernel,
    /// The kernel has no module directory.
    NoModuleDir,
    /// The running kernel cannot load modules at all.
    NoModuleSupport,
    /// DAHDI is not registered with DKMS.
    DkmsNotRegistered,
    /// The DKMS registration is damaged.
    DkmsBroken,
    /// Two DKMS modules provide DAHDI for the same kernel.
    ProvidersConflict,
    /// A failed or unfinished DKMS build left its log.
    DkmsBuildLog,
    /// Nothing tells which vermagic the kernel expects.
    NoAbiSource,
    /// Module files are missing.
    ModulesMissing,
    /// A module file could not be read.
    Unreadable,
    /// A module file is not a usable kernel module.
    NotAModule,
    /// A module file someone other than root could have written.
    Untrusted,
    /// Another copy shadows the DKMS build.
    Shadowed,
    /// Two copies with the same depmod priority.
    Tie,
    /// Another copy exists but does not win.
    OtherCopy,
    /// modules.dep does not list the module.
    IndexMissing,
    /// modules.dep points at another copy than the files say.
    IndexStale,
    /// The module has no vermagic.
    NoVermagic,
    /// The module was built for another kernel.
    VermagicMismatch,
    /// The module was built for another release of a modversions kernel: its CRCs decide.
    VermagicRelease,
    /// The module was built with another `struct module`.
    StructModuleSize,
    /// The module is for another ELF machine.
    ElfMachine,
    /// The loaded module is not the file on disk.
    LoadedDiffers,
    /// A wanted module depends on something the kernel lacks.
    MissingDependency,
    /// An unwanted module depends on something the kernel lacks.
    UnusableModule,
    /// Imported symbol CRCs disagree with the kernel.
    CrcMismatch,
    /// Imported symbols nothing exports.
    UnknownSymbol,
    /// CRCs could not be checked.
    NoSymvers,
    /// Unsigned modules where signatures are enforced.
    Unsigned,
    /// The signing key is not trusted by the kernel.
    KeyNotTrusted,
    /// A signature the kernel refuses whatever its settings: malformed, or not made by
    /// the key it names.
    BadSignature,
    /// A signature of a kind the kernel cannot use (not PKCS#7, an unknown digest or key
    /// algorithm): taken as no signature.
    UnusableSignature,
    /// Signing summary.
    Signatures,
    /// DKMS tried to build DAHDI for the kernel and failed.
    BuildFailed,
    /// modprobe.d or the kernel command line keeps a module from loading.
    Blacklisted,
    /// modprobe.d has an install command the loader does not run.
    InstallCommand,
    /// A configuration line that could not be used.
    ConfigNote,
}

impl Code {
    /// Every code, in declaration order (README's "Finding codes" lists the same).
    pub const ALL: &'static [Code] = &[
        Code::LeftoverKernel,
        Code::NoModuleDir,
        Code::NoModuleSupport,
        Code::DkmsNotRegistered,
        Code::DkmsBroken,
        Code::ProvidersConflict,
        Code::DkmsBuildLog,
        Code::NoAbiSource,
        Code::ModulesMissing,
        Code::Unreadable,
        Code::NotAModule,
        Code::Untrusted,
        Code::Shadowed,
        Code::Tie,
        Code::OtherCopy,
        Code::IndexMissing,
        Code::IndexStale,
        Code::NoVermagic,
        Code::VermagicMismatch,
        Code::VermagicRelease,
        Code::StructModuleSize,
        Code::ElfMachine,
        Code::LoadedDiffers,
        Code::MissingDependency,
        Code::UnusableModule,
        Code::CrcMismatch,
        Code::UnknownSymbol,
        Code::NoSymvers,
        Code::Unsigned,
        Code::KeyNotTrusted,
        Code::BadSignature,
        Code::UnusableSignature,
        Code::Signatures,
        Code::BuildFailed,
        Code::Blacklisted,
        Code::InstallCommand,
        Code::ConfigNote,
    ];

    /// Its place in [`Code::ALL`]. The match has no wildcard, so a new variant does not
    /// compile until it is placed here, and the test below fails until `ALL` has it too.
    pub const fn index(self) -> usize {
        match self {
            Code::LeftoverKernel => 0,
            Code::NoModuleDir => 1,
            Code::NoModuleSupport => 2,
            Code::DkmsNotRegistered => 3,
            Code::DkmsBroken => 4,
            Code::ProvidersConflict => 5,
            Code::DkmsBuildLog => 6,
            Code::NoAbiSource => 7,
            Code::ModulesMissing => 8,
            Code::Unreadable => 9,
            Code::NotAModule => 10,
            Code::Untrusted => 11,
            Code::Shadowed => 12,
            Code::Tie => 13,
            Code::OtherCopy => 14,
            Code::IndexMissing => 15,
            Code::IndexStale => 16,
            Code::NoVermagic => 17,
            Code::VermagicMismatch => 18,
            Code::VermagicRelease => 19,
            Code::StructModuleSize => 20,
            Code::ElfMachine => 21,
            Code::LoadedDiffers => 22,
            Code::MissingDependency => 23,
            Code::UnusableModule => 24,
            Code::CrcMismatch => 25,
            Code::UnknownSymbol => 26,
            Code::NoSymvers => 27,
            Code::Unsigned => 28,
            Code::KeyNotTrusted => 29,
            Code::BadSignature => 30,
            Code::UnusableSignature => 31,
            Code::Signatures => 32,
            Code::BuildFailed => 33,
            Code::Blacklisted => 34,
            Code::InstallCommand => 35,
            Code::ConfigNote => 36,
        }
    }
}

/// One problem or remark about a kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of finding.
    pub code: Code,
    /// How bad.
    pub severity: Severity,
    /// The modules concerned (none when it is about the kernel as a whole).
    pub modules: Vec<ModuleName>,
    /// What is wrong, as a sentence.
    pub message: String,
    /// What to do.
    pub fix: Option<Fix>,
}

impl Finding {
    /// A finding about the kernel as a whole.
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            modules: Vec::new(),
            message: message.into(),
            fix: None,
        }
    }

    /// About one module.
    pub fn module(mut self, m: &ModuleName) -> Self {
        self.modules = vec![m.clone()];
        self
    }

    /// About several modules.
    pub fn modules(mut self, m: impl IntoIterator<Item = ModuleName>) -> Self {
        self.modules = m.into_iter().collect();
        self
    }

    /// With a fix.
    pub fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// A DKMS build for this kernel would cure it (what `ensure` acts on).
    pub fn fixed_by_build(&self) -> bool {
        self.fix.as_ref().is_some_and(Fix::is_build)
    }
}

/// Names for a message: all of them up to six, else five and a count.
pub fn summarize<T: fmt::Display>(names: &[T]) -> String {
    let shown: Vec<String> = names.iter().take(6).map(ToString::to_string).collect();
    if names.len() <= 6 {
        shown.join(", ")
    } else {
        format!("{}, and {} more", shown[..5].join(", "), names.len() - 5)
    }
}

/// An error number as its C name (`EKEYREJECTED`), the way the kernel's documentation
/// and `strace` name it.
pub fn serialize_errno<S: serde::Serializer>(
    errno: &nix::errno::Errno,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{errno:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_is_worst_finding() {
        let f = |s| Finding::new(Code::NoSymvers, s, "");
        assert_eq!(Verdict::of(&[]), Verdict::Ok);
        assert_eq!(Verdict::of(&[f(Severity::Info)]), Verdict::Ok);
        assert_eq!(
            Verdict::of(&[f(Severity::Mismatch), f(Severity::NeedsBuild)]),
            Verdict::Mismatch
        );
        assert_eq!(
            Verdict::of(&[f(Severity::Broken), f(Severity::Info)]),
            Verdict::Broken
        );
    }

    #[test]
    fn exit_code_table_covers_every_code_once() {
        let codes: Vec<i32> = EXIT_CODES.iter().map(|(c, _)| *c as i32).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 64, 75]);
        let help = exit_codes_help();
        for (c, meaning) in EXIT_CODES {
            assert!(help.contains(&format!("{:<3} {meaning}", *c as i32)));
        }
    }

    #[test]
    fn build_fixes_are_told_apart_by_kind() {
        let k = KernelRelease::new("6.1.0-1-amd64").unwrap();
        assert!(Fix::Ensure { kernel: k.clone() }.is_build());
        assert!(Fix::InstallHeadersThenEnsure { kernel: k.clone() }.is_build());
        assert!(!Fix::Depmod { kernel: k.clone() }.is_build());
        // The same words as free text are not a build.
        assert!(!Fix::manual(Fix::Ensure { kernel: k }.to_string()).is_build());
    }

    #[test]
    fn every_code_is_in_all_once() {
        for (i, c) in Code::ALL.iter().enumerate() {
            assert_eq!(c.index(), i, "{c:?}");
        }
    }

    #[test]
    fn summaries() {
        assert_eq!(summarize(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..9).map(|i| format!("m{i}")).collect();
        assert_eq!(summarize(&many), "m0, m1, m2, m3, m4, and 4 more");
    }
}
