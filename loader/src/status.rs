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
        kernels,
        verdict,
        exit_code: ExitCode::from(verdict) as i32,
    })
}
