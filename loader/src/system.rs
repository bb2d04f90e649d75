//! A snapshot of a system root: everything that does not depend on the kernel being checked,
//! read once per command.

use crate::config::Config;
use crate::dkms;
use crate::error::Error;
use crate::hw;
use crate::kernel::{self, Kernel};
use crate::live::Loaded;
use crate::modindex::DepmodConfig;
use crate::names::{KernelRelease, ModuleName};
use crate::providers::Providers;
use crate::root::Root;
use crate::signing::SecureBoot;

/// The state of the system that does not depend on the kernel being checked.
#[derive(Debug, Clone)]
pub struct System {
    /// Where everything is read.
    pub root: Root,
    /// The running kernel's release.
    pub running: Option<KernelRelease>,
    /// Every DKMS module that provides DAHDI.
    pub providers: Providers,
    /// dpkg's database, when the root has one: who owns which module file.
    pub dpkg: Option<crate::dpkg::StatusDb>,
    /// `/etc/dahdi/modules` (dahdi-tools' list of modules to load), when there is one.
    pub dahdi_modules: Option<crate::modprobe::DahdiModules>,
    /// depmod.d.
    pub depmod: DepmodConfig,
    /// /etc/dahdi-loader.
    pub config: Config,
    /// /proc/modules.
    pub loaded: Loaded,
    /// Signature enforcement.
    pub secure: SecureBoot,
    /// PCI and USB devices with a modalias.
    pub devices: Vec<hw::Device>,
}

impl System {
    /// Reads the system under `root`. `running` overrides `uname -r` (tests, VM harness).
    pub fn load(root: Root, running: Option<KernelRelease>) -> Result<Self, Error> {
        let running = running.or_else(kernel::running_release);
        Ok(System {
            providers: Providers::read(&root)?,
            dpkg: crate::dpkg::StatusDb::load(&root)?,
            dahdi_modules: crate::modprobe::DahdiModules::load(&root)?,
            depmod: DepmodConfig::load(&root)?,
            config: Config::load(&root)?,
            loaded: Loaded::read(&root)?,
            secure: SecureBoot::read(&root)?,
            devices: hw::scan(&root)?,
            running,
            root,
        })
    }

    /// Every installed kernel (plus the running one).
    pub fn kernels(&self) -> Result<Vec<Kernel>, Error> {
        kernel::installed(&self.root, self.running.as_ref())
    }

    /// One kernel, which must exist under the root; the running kernel always does, even
    /// when nothing of it is installed there (its verification then says what it cannot
    /// check), as in [`kernels`](Self::kernels).
    pub fn kernel(&self, release: &KernelRelease) -> Result<Kernel, Error> {
        let running = self.running.as_ref() == Some(release);
        let k = kernel::describe(&self.root, release, running);
        if k.modules_dir.is_none() && k.image.is_none() && !running {
            return Err(Error::NoSuchKernel {
                kernel: release.to_string(),
                modules_dir: self.root.join(format!("/lib/modules/{release}")),
            });
        }
        Ok(k)
    }

    /// The Debian package a kernel came from, as dpkg's database tells:
    /// `linux-image-RELEASE` (or its `-unsigned` build) when installed or half-installed.
    pub fn kernel_package(&self, release: &KernelRelease) -> KernelPackage {
        use crate::dpkg::PackageState;
        let Some(db) = &self.dpkg else {
            return KernelPackage::Unknown;
        };
        for name in [
            format!("linux-image-{release}"),
            format!("linux-image-{release}-unsigned"),
        ] {
            let Ok(n) = crate::names::PackageName::new(&name) else {
                continue;
            };
            if db.get(&n).iter().any(|p| {
                !matches!(
                    p.state,
                    PackageState::NotInstalled | PackageState::ConfigFiles
                )
            }) {
                return KernelPackage::Debian(name);
            }
        }
        KernelPackage::None
    }

    /// The DKMS module the loader builds with for `kernel` (see
    /// [`Providers::managed_for`]).
    pub fn dkms_for(&self, kernel: &KernelRelease) -> Option<&dkms::Module> {
        self.providers.managed_for(kernel)
    }

    /// The DAHDI module names to check: what the DKMS providers build, or just `dahdi`
    /// without DKMS; plus configured additions.
    pub fn module_names(&self) -> Vec<ModuleName> {
        let mut names = self.providers.module_names();
        if names.is_empty() {
            names.push(ModuleName::new("dahdi").expect("a valid name"));
        }
        names.extend(self.config.add.iter().cloned());
        names.extend(
            self.dahdi_modules
                .iter()
                .flat_map(|d| d.modules.iter().cloned()),
        );
        names.sort();
        names.dedup();
        names
    }
}

/// Whether a kernel came from a Debian package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelPackage {
    /// This package (installed, or half-installed) holds it.
    Debian(String),
    /// dpkg has no package for it: built and installed by hand, or by another tool.
    None,
    /// The root has no dpkg database to ask.
    Unknown,
}
