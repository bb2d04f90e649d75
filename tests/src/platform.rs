//! The Debian releases the project supports, as the test bed boots them.
//!
//! * **Debian 12** (bookworm) is the host: its kernel and Debian's DAHDI 2.11
//!   built by the host's DKMS (`scripts/install.sh` installs them).
//! * **Debian 13** (trixie) is a cached stage: debootstrap trixie, then real
//!   `apt-get install` of the kernel, its headers, dkms, dahdi-dkms and dahdi
//!   in a chroot, so trixie's DKMS builds DAHDI 3.1 for trixie's kernel with
//!   trixie's compiler and installs the modules xz-compressed, as on a real
//!   Debian 13 system.
//!
//! Suites iterate [`Platform::ALL`]; each test's name starts with
//! [`Platform::id`].

use std::path::{Path, PathBuf};

use crate::chroot::{Stage, StageCache};
use crate::kernel::KernelUnderTest;
use crate::HarnessError;

/// A Debian release the guest suites run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Debian12,
    Debian13,
}

/// What the Debian 13 stage installs on top of debootstrap: the packages a
/// user installs for DAHDI (initramfs-tools named, so apt does not choose
/// another initramfs generator).
const TRIXIE_PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "linux-headers-amd64",
    "initramfs-tools",
    "dkms",
    "dahdi-dkms",
    "dahdi",
];

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Debian12, Platform::Debian13];

    /// The prefix of test names: `debian12`, `debian13`.
    pub fn id(self) -> &'static str {
        match self {
            Platform::Debian12 => "debian12",
            Platform::Debian13 => "debian13",
        }
    }

    /// The platform named by `id`.
    pub fn from_id(id: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.id() == id)
    }

    /// The root of the platform's system on the host: `/` for Debian 12, the
    /// stage's rootfs for Debian 13 (built on first use, cached afterwards
    /// under `cache_root`).
    pub fn system_root(self, cache_root: &Path) -> Result<PathBuf, HarnessError> {
        match self {
            Platform::Debian12 => Ok(PathBuf::from("/")),
            Platform::Debian13 => Ok(trixie_stage(cache_root)?.dir),
        }
    }

    /// The kernel the platform's suites boot, with its DKMS-built DAHDI.
    /// `DAHDI_TEST_KERNEL` picks one of the host's kernels for Debian 12.
    pub fn kernel(self, cache_root: &Path) -> Result<KernelUnderTest, HarnessError> {
        match self {
            Platform::Debian12 => KernelUnderTest::discover(),
            Platform::Debian13 => {
                let root = self.system_root(cache_root)?;
                KernelUnderTest::discover_in(&root, None).map_err(|e| {
                    HarnessError::Setup(format!(
                        "the Debian 13 stage under {} has no kernel with DAHDI modules ({e}); \
                         remove that stage directory to rebuild it",
                        root.display()
                    ))
                })
            }
        }
    }

    /// The directory holding `dahdi/user.h` of the platform's DAHDI.
    pub fn include_dir(self, cache_root: &Path) -> Result<PathBuf, HarnessError> {
        let root = self.system_root(cache_root)?;
        let src = root.join("usr/src");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&src)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("dahdi-"))
            .map(|e| e.path().join("include"))
            .filter(|inc| inc.join("dahdi/user.h").is_file())
            .collect();
        found.sort();
        found.pop().ok_or_else(|| {
            HarnessError::Setup(format!(
                "{}: no dahdi-*/include/dahdi/user.h; install dahdi-dkms (scripts/install.sh \
                 does on Debian 12)",
                src.display()
            ))
        })
    }
}

/// A shell check that DKMS really built dahdi.ko for the kernels `kernels` (a release or a
/// glob) names, with DKMS's status and the end of its make.log when it did not: DKMS can
/// leave a build "installed" that produced nothing.
pub fn dahdi_built_check(kernels: &str) -> String {
    format!(
        "ls /lib/modules/{kernels}/updates/dkms/dahdi.ko* || {{ dkms status; \
         tail -n 40 /var/lib/dkms/dahdi/*/build/make.log; exit 1; }}"
    )
}

/// The cached Debian 13 system with DAHDI built by its own DKMS.
pub fn trixie_stage(cache_root: &Path) -> Result<Stage, HarnessError> {
    let cache = StageCache::new(cache_root);
    let base = cache.trixie_base()?;
    let mut install: Vec<String> = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    install.extend(TRIXIE_PACKAGES.iter().map(|s| (*s).to_owned()));
    cache.derive(
        &base,
        "trixie-dahdi",
        &[
            vec!["apt-get".into(), "update".into(), "-q".into()],
            install,
            // DKMS can leave a build "installed" that produced nothing: the stage
            // is complete only if dahdi.ko is there for an installed kernel.
            vec!["sh".into(), "-c".into(), dahdi_built_check("*")],
        ],
    )
}
