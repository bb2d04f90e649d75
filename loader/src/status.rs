//! `status`: every kernel at once, as a table for people and JSON for programs.

use serde::Serialize;

use crate::error::Error;
use crate::names::{KernelRelease, ModuleName, PackageName, Version};
use crate::report::{ExitCode, Verdict};
use crate::system::System;
use crate::verify::{self, Checks, KernelReport};

/// The state of DAHDI across all kernels of a system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    /// The root that was read.
    pub root: String,
    /// The running kernel.
    pub running: Option<KernelRelease>,
    /// Whether /proc/modules could be read.
    pub loaded_known: bool,
    /// Every DKMS module that provides DAHDI, with its registered versions.
    pub providers: Vec<ProviderSummary>,
    /// dpkg packages that list DAHDI module files.
    pub packages: Vec<PackageProvider>,
    /// DAHDI module files nobody owns, by kernel.
    pub unowned: Vec<UnownedFiles>,
    /// DAHDI modules the loader checks.
    pub modules: Vec<ModuleName>,
    /// One report per kernel, oldest first.
    pub kernels: Vec<KernelReport>,
    /// The DAHDI cards found (PCI and USB devices a DAHDI driver claims), with names from
    /// udev's hardware database and whether their driver is loaded.
    pub cards: Vec<Card>,
    /// The next boot as GRUB and the boot guard decide it (nothing is written by
    /// `status`).
    pub boot: crate::bootguard::GuardReport,
    /// The worst verdict over all kernels.
    pub verdict: Verdict,
    /// The exit code `status` returns.
    pub exit_code: i32,
}

/// One DKMS provider of DAHDI.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSummary {
    /// The DKMS module (PACKAGE_NAME).
    pub module: PackageName,
    /// Its registered versions, oldest first.
    pub versions: Vec<Version>,
    /// The kernels it is installed for.
    pub installed_for: Vec<KernelRelease>,
}

/// A dpkg package that lists DAHDI module files (a per-kernel `dahdi-linux-modules-KVER`,
/// say), whether or not its kernel is still installed.
#[derive(Debug, Clone, Serialize)]
pub struct PackageProvider {
    /// The package as apt takes it.
    pub package: String,
    /// Its version.
    pub version: Option<String>,
    /// dpkg's state (`installed`, `config-files`, ...).
    pub state: String,
    /// How many DAHDI module files it lists.
    pub module_files: usize,
    /// The kernels (module directories) those files are for.
    pub kernels: Vec<String>,
}

/// A device a DAHDI driver claims, as the hardware table shows it: one per device and
/// driver.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// `pci` or `usb`.
    pub bus: String,
    /// Its address, the sysfs name (`0000:03:00.0`, `1-1:1.0`).
    pub address: String,
    /// `VENDOR:DEVICE` as lspci and lsusb write it (`d161:0220`), when the modalias has it.
    pub id: Option<String>,
    /// The vendor's name in udev's hardware database.
    pub vendor: Option<String>,
    /// The model's name there.
    pub model: Option<String>,
    /// The DAHDI module that drives it.
    pub driver: ModuleName,
    /// Whether that module is loaded, from /proc/modules (null when it cannot be known: no
    /// running kernel, or /proc/modules unreadable).
    pub loaded: Option<bool>,
}

/// The cards of the running kernel's report (the drivers of another kernel are not what
/// runs them); without one, of the newest kernel's, not knowing what is loaded.
fn cards(sys: &System, kernels: &[KernelReport]) -> Vec<Card> {
    let Some(k) = kernels
        .iter()
        .find(|k| k.kernel.running)
        .or_else(|| kernels.iter().rev().find(|k| !k.hardware.is_empty()))
    else {
        return Vec::new();
    };
    let aliases: Vec<&crate::names::Modalias> =
        k.hardware.iter().map(|m| &m.device.modalias).collect();
    let names = crate::hwdb::names(&aliases);
    k.hardware
        .iter()
        .zip(names)
        .map(|(m, n)| Card {
            bus: m.device.bus.clone(),
            address: m.device.sysname.clone(),
            id: crate::hw::ids(&m.device.modalias),
            vendor: n.vendor,
            model: n.model,
            driver: m.module.clone(),
            loaded: if k.kernel.running {
                sys.loaded.is_loaded(m.module.as_str())
            } else {
                None
            },
        })
        .collect()
}

/// DAHDI module files no package and no DKMS build put there (a manual `make install`).
#[derive(Debug, Clone, Serialize)]
pub struct UnownedFiles {
    /// The kernel.
    pub kernel: KernelRelease,
    /// The files.
    pub files: Vec<String>,
}

/// Verifies every kernel.
pub fn system_report(sys: &System, checks: Checks) -> Result<SystemReport, Error> {
    let mut kernels: Vec<KernelReport> = sys
        .kernels()?
        .iter()
        .map(|k| verify::verify_kernel(sys, k, checks))
        .collect();
    verify::name_kernels_that_load(&mut kernels);
    let verdict = kernels
        .iter()
        .map(|k| k.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    let names: std::collections::HashSet<ModuleName> = sys.module_names().into_iter().collect();
    let packages = match &sys.dpkg {
        Some(db) => crate::dpkg::OwnerIndex::build(&sys.root, db, &["/lib/modules"])?
            .packages_with_modules(&names)
            .into_iter()
            .map(|p| {
                let mut kernels: Vec<String> = p
                    .files
                    .iter()
                    .filter_map(|f| f.split('/').skip_while(|c| *c != "modules").nth(1))
                    .map(String::from)
                    .collect();
                kernels.sort();
                kernels.dedup();
                PackageProvider {
                    package: p.package.binary_package.clone(),
                    version: p.package.version.as_ref().map(|v| v.to_string()),
                    state: p.package.state.to_string(),
                    module_files: p.files.len(),
                    kernels,
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let unowned = kernels
        .iter()
        .filter_map(|k| {
            let files: Vec<String> = k
                .modules
                .iter()
                .filter(|m| m.owner == Some(crate::providers::Owner::Unowned))
                .filter_map(|m| Some(sys.root.system_path(m.path.as_ref()?)))
                .chain(k.modules.iter().flat_map(|m| {
                    m.other_copies
                        .iter()
                        .filter(|c| c.owner == Some(crate::providers::Owner::Unowned))
                        .map(|c| sys.root.system_path(&c.path))
                }))
                .collect();
            (!files.is_empty()).then(|| UnownedFiles {
                kernel: k.kernel.release.clone(),
                files,
            })
        })
        .collect();
    let boot = crate::bootguard::run(&sys.root, sys.config.boot_guard, false, |k| {
        kernels
            .iter()
            .find(|r| &r.kernel.release == k)
            .map(|r| r.verdict)
    })?;
    Ok(SystemReport {
        boot,
        packages,
        unowned,
        root: sys.root.dir().display().to_string(),
        running: sys.running.clone(),
        loaded_known: sys.loaded != crate::live::Loaded::Unknown,
        providers: sys
            .providers
            .dkms
            .iter()
            .map(|m| ProviderSummary {
                module: m.name.clone(),
                versions: m.versions.iter().map(|v| v.version.clone()).collect(),
                installed_for: sys
                    .kernels()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k| {
                        m.versions
                            .iter()
                            .any(|v| v.state_for(&k.release) == crate::dkms::State::Installed)
                    })
                    .map(|k| k.release)
                    .collect(),
            })
            .collect(),
        modules: sys.module_names(),
        cards: cards(sys, &kernels),
        kernels,
        verdict,
        exit_code: ExitCode::from(verdict) as i32,
    })
}
